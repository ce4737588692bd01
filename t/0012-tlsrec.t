#!/bin/sh
# Unit tests of the TLS 1.3 record layer (common/tlsrec.c) against OpenSSL.
exec "${RF_BUILD:-$(dirname "$0")/..}/t/unit/tlsrec-test"
