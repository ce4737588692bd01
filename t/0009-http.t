#!/bin/sh
# Unit tests of the HTTP/1.1 head parser, chunked framing and head writer
# (common/http.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/http-test"
