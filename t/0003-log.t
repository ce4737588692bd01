#!/bin/sh
# Unit tests of logging (common/log.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/log-test"
