#!/bin/sh
# The LMDB wrapper: routing map rules, purge of a dead slot, reader check.
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/db-test"
