/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Routing by the first bytes of a connection, read with MSG_PEEK and never
 * consumed (PLATFORM-NOTES: a TLS connection can change workers only before
 * its handshake): the SNI of a TLS ClientHello and whether it offers
 * HTTP/2, the Host of a plain HTTP request head, and the device id in a
 * host name.  Pure parsers of untrusted bytes over struct rf_buf, each
 * with a fuzz target.
 */
#ifndef RF_PEEK_H
#define RF_PEEK_H

#include <stddef.h>

/* The largest TLS record: 5 header bytes + 2^14 + 2048. */
#define RF_PEEK_TLS_MAX		(5 + 16384 + 2048)

/*
 * Looks for the server_name of a ClientHello in the first TLS record, and
 * whether its application_layer_protocol_negotiation offers "h2" (RFC
 * 7301: browsers do, agents and client tools never; route.c says why that
 * matters).  0: host (lowercased, NUL-terminated) is set.  RF_ERR_SHORT:
 * the record is not all there yet; *need is how many bytes the whole
 * record takes (5 + its length), or 5 if not even the record header is
 * there.  RF_ERR_NOTFOUND: a valid ClientHello without a host_name.
 * RF_ERR_PROTO: not a TLS handshake record with a ClientHello, a
 * malformed one (an ALPN extension included), or a name that is not a
 * DNS host name or does not fit hostlen.  A ClientHello split over
 * several records is RF_ERR_PROTO too (no browser or agent does that for
 * the first message's SNI).  *offers_h2 is 1 only on 0 and
 * RF_ERR_NOTFOUND, when the hello is valid and lists "h2"; else 0.
 */
int	rf_peek_tls_sni(const void *buf, size_t len, char *host,
	    size_t hostlen, int *offers_h2, size_t *need);

/* 1 if the bytes can only be a TLS handshake (0x16 0x03 ...). */
int	rf_peek_is_tls(const void *buf, size_t len);

/*
 * Finds the Host header of an HTTP/1.x request head.  0: host (without
 * port, lowercased) is set.  RF_ERR_SHORT: the head has not ended yet and
 * len < max.  RF_ERR_LIMIT: no end of head within max bytes.
 * RF_ERR_NOTFOUND: a complete head with no Host.  RF_ERR_PROTO: not an
 * HTTP/1.x request line, a header line without a colon, two Host headers,
 * or a host that is not a DNS name, IPv4 or [IPv6] literal.
 */
int	rf_peek_http_host(const void *buf, size_t len, size_t max,
	    char *host, size_t hostlen);

/*
 * The device id in "<id>.<domain>" (host without port, lowercased):
 * 1 and dev set when host is one label and a dot in front of domain and
 * the label is a valid device id (a-z 0-9 -, 1-63, no leading or trailing
 * -), else 0.
 */
int	rf_host_device(const char *host, const char *domain, char *dev,
	    size_t devlen);

#endif
