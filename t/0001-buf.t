#!/bin/sh
# Unit tests of the bounded buffer (common/buf.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/buf-test"
