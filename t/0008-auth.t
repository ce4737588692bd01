#!/bin/sh
# Password and secret hashes, users, devices, patterns and sessions
# (server/auth.c).
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/auth-test"
