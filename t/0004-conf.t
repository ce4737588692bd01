#!/bin/sh
# Unit tests of the reflector.yml loader (common/conf.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/conf-test"
