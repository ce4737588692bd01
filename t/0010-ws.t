#!/bin/sh
# Unit tests of the WebSocket framing (common/ws.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/ws-test"
