#!/bin/sh
# Unit tests of the ClientHello SNI and HTTP Host peeking (common/peek.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/peek-test"
