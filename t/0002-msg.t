#!/bin/sh
# Unit tests of the internal message channel (common/msg.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/msg-test"
