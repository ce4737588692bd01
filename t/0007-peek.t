#!/bin/sh
# Unit tests of the peeking in common/peek.c: a ClientHello's SNI and
# whether it offers h2 in ALPN, and the Host of an HTTP request head.
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/peek-test"
