#!/bin/sh
# Unit tests of the shared-cache rules (server/cache.c): what may be
# stored, how long it is fresh, what a request allows.
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/cache-test"
