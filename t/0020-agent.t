#!/bin/sh
# Unit tests of the agent library: its config loader, backoff, property
# headers and URL parser (t/unit/agent-test.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/agent-test"
