#!/bin/sh
# Unit tests of the WebTunnel frame codec (common/wt.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/wt-test"
