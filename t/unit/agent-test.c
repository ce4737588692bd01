/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the agent's pieces that work without a network: the
 * reflector-agent.yml loader (agent/agentconf.c) with its errors at
 * file:line:column and its dump, the reconnect backoff, the property
 * headers (checked with the reflector's own parser, rf_wt_property_parse),
 * the URL parser, and the send batch's framing (checked with the
 * reflector's frame decoder, rf_ws_frame_decode).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentconf.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "rfagent.h"
#include "tap.h"
#include "ws.h"
#include "wsclient.h"
#include "wt.h"

#define NAME	"agent.yml"

static char	errors[8192];

static void
collect(void *arg, const char *line)
{
	(void)arg;
	strncat(errors, line, sizeof(errors) - strlen(errors) - 2);
	strcat(errors, "\n");
}

static int
load(const char *yaml, struct rf_agentconf **out)
{
	errors[0] = '\0';
	return rf_agentconf_load_mem(yaml, strlen(yaml), NAME, out, collect,
	    NULL);
}

#define GOOD_HEAD \
	"reflector: https://reflector.example.net:8443/\n" \
	"devices:\n" \
	"  - id: dev1\n" \
	"    password: pw\n"

/* The YAML must fail with an error line that contains want. */
static void
bad(const char *yaml, const char *want, const char *name)
{
	struct rf_agentconf *ac;
	int r;

	r = load(yaml, &ac);
	ok(r == RF_ERR_CONFIG && ac == NULL, "%s: rejected", name);
	if (!ok(strstr(errors, want) != NULL, "%s: says '%s'", name, want))
		diag("errors were:\n%s", errors);
	rf_agentconf_free(ac);
}

static void
test_good(void)
{
	struct rf_agentconf *ac, *ac2;
	const struct rf_agent_device *d;
	char *dump = NULL, *dump2 = NULL;
	size_t len, len2;
	FILE *f;
	int r;

	r = load(GOOD_HEAD
	    "    group: lab\n"
	    "    ports: [http: 80, {ssh: 22}, 502, https: 443]\n"
	    "    properties: {name: \"Boiler \\\"A\\\"\", version: 1.2, "
	    "site: x}\n"
	    "  - id: dev2\n"
	    "    password: pw2\n"
	    "    target_host: 192.168.1.20\n"
	    "    https_target: yes\n"
	    "    ports:\n"
	    "      - http: 8443\n"
	    "proxy:\n"
	    "  url: http://proxy.example.net:3128\n"
	    "  username: u\n"
	    "  password: p\n"
	    "reconnect_max: 2m\n", &ac);
	if (!is_int(r, 0, "a full config loads"))
		diag("errors:\n%s", errors);
	if (ac == NULL)
		return;
	is_int((int)ac->s.ndevices, 2, "two devices");
	d = &ac->s.devices[0];
	is_str(d->group, "lab", "group");
	is_str(ac->s.devices[1].group, "default", "group defaults");
	is_str(d->target_host, "127.0.0.1", "target_host defaults");
	is_int((int)d->nports, 4, "four ports");
	is_str(d->ports[0].name, "http", "a named port");
	is_int(d->ports[2].port, 502, "a bare port");
	ok(d->ports[2].name == NULL, "a bare port has no name");
	is_int(d->ports[3].tls, 1, "the https port is TLS");
	is_int(d->ports[0].tls, 0, "the http port is not");
	is_int((int)d->nprops, 3, "three properties");
	is_str(d->props[0].value, "Boiler \"A\"", "a quoted property");
	is_str(d->props[1].value, "1.2", "a number property is text");
	is_int(ac->s.devices[1].https_target, 1, "https_target");
	is_int(ac->s.reconnect_max, 120, "reconnect_max in seconds");
	is_int(ac->s.keepalive, 60, "keepalive defaults to 60 s");

	f = open_memstream(&dump, &len);
	rf_agentconf_dump(ac, f);
	fclose(f);
	r = rf_agentconf_load_mem(dump, len, NAME, &ac2, collect, NULL);
	if (!is_int(r, 0, "the dump loads back"))
		diag("%s\nerrors:\n%s", dump, errors);
	if (ac2 != NULL) {
		f = open_memstream(&dump2, &len2);
		rf_agentconf_dump(ac2, f);
		fclose(f);
		ok(len == len2 && memcmp(dump, dump2, len) == 0,
		    "and dumps the same");
		ok(rf_agent_device_equal(&ac->s.devices[0],
		    &ac2->s.devices[0]), "device settings survive the dump");
		ok(!rf_agent_device_equal(&ac->s.devices[0],
		    &ac2->s.devices[1]), "two devices differ");
	}
	free(dump);
	free(dump2);
	rf_agentconf_free(ac2);
	rf_agentconf_free(ac);
}

static void
test_bad(void)
{
	bad("devices:\n  - id: a\n    password: p\n    ports: [80]\n",
	    NAME ": 'reflector' is required", "no reflector");
	bad("reflector: ftp://x/\n", NAME ":1:12: 'reflector' must be a URL "
	    "starting with https://", "bad URL scheme");
	bad("reflector: https://h:99999/\n", NAME ":1:12: 'reflector' must "
	    "be a URL with a port between 1 and 65535", "bad URL port");
	bad("reflector: https://h/\n", NAME ": 'devices' must list at least "
	    "one device", "no devices");
	bad(GOOD_HEAD "    ports: [http: 80, ssh: 0]\n", NAME ":5:28: "
	    "'devices.ports' port must be a number between 1 and 65535, "
	    "got '0'", "port 0");
	bad(GOOD_HEAD "    ports: [ftp: 21]\n", NAME ":5:13: 'devices.ports' "
	    "port name 'ftp' must be http, https, ssh", "unknown port name");
	bad(GOOD_HEAD "    ports: [80, http: 80]\n", NAME ":5:17: "
	    "'devices.ports' lists port 80 twice", "duplicate port");
	bad(GOOD_HEAD "    ports: 80\n", NAME ":5:12: 'devices.ports' must "
	    "be a list of ports", "ports not a list");
	bad(GOOD_HEAD, NAME ":3:5: this 'devices' entry has no 'ports'; it "
	    "is required", "missing ports");
	bad(GOOD_HEAD "    ports: [22]\n    properties: {targetHost: x}\n",
	    NAME ":6:18: 'devices.properties' cannot set 'targetHost'",
	    "reserved property");
	bad(GOOD_HEAD "    ports: [22]\n    properties: {\"a b\": x}\n",
	    NAME ":6:18: 'devices.properties' name 'a b' must be",
	    "bad property name");
	bad(GOOD_HEAD "    ports: [22]\n    pasword: x\n", NAME ":6:5: "
	    "unknown key 'pasword' in a 'devices' entry; did you mean "
	    "'password'?", "misspelt key");
	bad(GOOD_HEAD "    ports: [22]\n  - id: dev1\n    password: p\n"
	    "    ports: [22]\n", NAME ":6:9: 'devices' has two entries with "
	    "id 'dev1' (the first at line 3)", "duplicate device id");
	bad(GOOD_HEAD "    ports: [22]\nkeepalive: 1s\n", NAME ":6:12: "
	    "'keepalive' must be between 5 and 3600 seconds, got 1s",
	    "keepalive out of range");
	bad(GOOD_HEAD "    ports: [22]\nproxy:\n  url: https://p:1/\n",
	    NAME ":7:8: 'proxy.url' must be an http:// URL",
	    "proxy not http");
	bad(GOOD_HEAD "    ports: [22]\nproxy:\n  username: u\n",
	    NAME ":7:13: 'proxy.username' needs 'proxy.url'",
	    "proxy user without url");
	bad(GOOD_HEAD "    ports: [22]\nproxy:\n  url: http://p:1\n"
	    "  username: \"a:b\"\n", NAME ":8:13: 'proxy.username' must not "
	    "contain ':'", "proxy user with a colon");
	bad(GOOD_HEAD "    ports: [22]\nlog:\n  level: loud\n", NAME ":7:10: "
	    "'log.level' must be one of quiet", "bad log level");
	bad("- a\n", NAME ":1:1: the file must be a mapping of keys such as "
	    "'reflector:', not a list", "root not a mapping");
}

static void
test_backoff(void)
{
	unsigned int f, ms, prev = 0;
	int okay = 1;

	is_int((int)rf_agent_backoff_ms(1, 30, 0), 1000, "first delay 1 s");
	is_int((int)rf_agent_backoff_ms(1, 30, 1000), 1500,
	    "first delay at most 1.5 s");
	is_int((int)rf_agent_backoff_ms(2, 30, 0), 2000, "then 2 s");
	is_int((int)rf_agent_backoff_ms(5, 30, 0), 16000, "then 16 s");
	is_int((int)rf_agent_backoff_ms(6, 30, 0), 30000, "capped at 30 s");
	is_int((int)rf_agent_backoff_ms(6, 30, 1000), 45000,
	    "plus at most 50 % jitter");
	is_int((int)rf_agent_backoff_ms(4000000000U, 30, 500), 37500,
	    "no overflow after many failures");
	is_int((int)rf_agent_backoff_ms(3, 3, 0), 3000, "a small cap holds");
	for (f = 1; f < 100; f++) {
		ms = rf_agent_backoff_ms(f, 30, 0);
		if (ms < prev || ms > 30000)
			okay = 0;
		prev = ms;
	}
	ok(okay, "the delay never shrinks and never passes the cap");
}

/* Every header line must parse with the reflector's parser. */
static void
test_headers(void)
{
	struct rf_agentconf *ac;
	char buf[4096], name[64], value[1024], *line, *save, *end;
	int n, nlines = 0, okay = 1, seen_ports = 0, seen_http = 0;
	int seen_name = 0;

	if (load(GOOD_HEAD "    ports: [https: 443, ssh: 22, 502]\n"
	    "    properties: {name: \"Boiler \\\"A\\\" \\\\ room\", "
	    "version: \"2.0\"}\n", &ac) != 0) {
		ok(0, "the config for the headers loads");
		diag("%s", errors);
		return;
	}
	n = rf_agent_property_headers(&ac->s.devices[0], buf, sizeof(buf));
	ok(n > 0 && (size_t)n == strlen(buf), "headers are written");
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		nlines++;
		if ((end = strchr(line, '\r')) != NULL)
			*end = '\0';
		if (strncmp(line, "X-PTTH-Set-Property: ", 21) != 0 ||
		    rf_wt_property_parse(line + 21, name, sizeof(name), value,
		    sizeof(value)) != 0) {
			okay = 0;
			diag("does not parse: %s", line);
			continue;
		}
		if (strcmp(name, "targetPorts") == 0)
			seen_ports = strcmp(value, "443, 22, 502") == 0;
		if (strcmp(name, "httpPort") == 0)
			seen_http = strcmp(value, "443") == 0;
		if (strcmp(name, "name") == 0)
			seen_name = strcmp(value, "Boiler \"A\" \\ room") == 0;
	}
	ok(okay, "every header parses with rf_wt_property_parse");
	is_int(nlines, 6, "targetHost, targetPorts, httpPort, sshPort, name, "
	    "version");
	ok(seen_ports, "targetPorts lists the allow-list");
	ok(seen_http, "httpPort falls back to the https port");
	ok(seen_name, "quotes and backslashes survive");
	is_int(rf_agent_property_headers(&ac->s.devices[0], buf, 40),
	    RF_ERR_LIMIT, "a small buffer is RF_ERR_LIMIT");
	rf_agentconf_free(ac);
}

static void
test_url(void)
{
	struct rf_agent_url u;
	const char *why;

	is_int(rf_agent_parse_url("https://r.example.net/", &u, &why), 0,
	    "https URL");
	is_str(u.host, "r.example.net", "host");
	is_int(u.port, 443, "default port 443");
	is_str(u.path, "/", "path");
	is_int(rf_agent_parse_url("wss://[::1]:8443/x/y", &u, &why), 0,
	    "wss URL with IPv6");
	is_str(u.host, "::1", "IPv6 host");
	is_int(u.port, 8443, "port");
	is_str(u.path, "/x/y", "longer path");
	is_int(rf_agent_parse_url("http://h:8080", &u, &why), 0, "http URL");
	is_int(u.tls, 0, "http is not TLS");
	is_int(u.port, 8080, "http port");
	ok(rf_agent_parse_url("https://u:p@h/", &u, &why) != 0,
	    "credentials in the URL are refused");
	ok(rf_agent_parse_url("https://h:x/", &u, &why) != 0,
	    "a bad port is refused");
	ok(rf_agent_parse_url("h:443", &u, &why) != 0,
	    "no scheme is refused");
}

/* A pattern a message of length len at index i carries. */
static unsigned char
pat(size_t len, size_t i)
{
	return (unsigned char)(len * 31 + i * 7);
}

/* Messages of lengths lens through a batch, decoded as a server would. */
static void
batch_case(const size_t *lens, size_t n, const char *name)
{
	static unsigned char store[LWS_PRE + 300000];
	struct rf_wsc_batch b;
	struct rf_ws_frame f;
	struct rf_buf in;
	unsigned char *p;
	size_t i, j, room, added = 0, bad = 0;

	rf_wsc_batch_init(&b, store, sizeof(store));
	for (i = 0; i < n; i++) {
		if ((p = rf_wsc_batch_room(&b, lens[i], &room)) == NULL ||
		    room < lens[i])
			break;
		for (j = 0; j < lens[i]; j++)
			p[j] = pat(lens[i], j);
		if (rf_wsc_batch_add(&b, lens[i]) != 0)
			break;
		added++;
	}
	ok(added == n, "%s: every message fits", name);
	rf_buf_init(&in, sizeof(store));
	rf_buf_put(&in, b.buf, b.len);
	for (i = 0; i < added; i++) {
		if (rf_ws_frame_decode(&in, 1, 100000, &f) != 0 ||
		    !f.fin || f.opcode != RF_WS_BINARY || f.len != lens[i]) {
			bad++;
			break;
		}
		for (j = 0; j < f.len; j++)
			if (f.payload[j] != pat(lens[i], j)) {
				bad++;
				break;
			}
	}
	ok(bad == 0 && rf_buf_len(&in) == 0,
	    "%s: masked binary frames, back to the bytes, nothing after", name);
	rf_buf_free(&in);
}

static void
test_batch(void)
{
	static unsigned char store[LWS_PRE + 3000], big[LWS_PRE + 65536 + 14];
	const size_t mixed[] = { 0, 1, 125, 126, 2048, 65535, 65536, 70000,
	    100, 3 };
	const size_t stock[] = { 2048, 2048, 2048, 2048, 2048, 2048, 2048,
	    2048 };
	struct rf_wsc_batch b;
	unsigned char *p;
	size_t room, total = 0;
	int k = 0;

	batch_case(mixed, sizeof(mixed) / sizeof(mixed[0]),
	    "headers of 6, 8 and 14 bytes");
	batch_case(stock, sizeof(stock) / sizeof(stock[0]),
	    "2 KiB messages to a record");

	/* Messages cut to the room offered fill it exactly. */
	rf_wsc_batch_init(&b, store, sizeof(store));
	while ((p = rf_wsc_batch_room(&b, 100, &room)) != NULL && k < 10) {
		if (room > 1000)
			room = 1000;
		memset(p, 'x', room);
		rf_wsc_batch_add(&b, room);
		total += room;
		k++;
	}
	ok(k == 3 && total > 2800 && b.len <= 3000,
	    "a batch takes messages until less than min is left");
	ok(rf_wsc_batch_room(&b, 100, &room) == NULL && room == 0,
	    "no room offered beyond its storage");
	ok(rf_wsc_batch_add(&b, 10) != 0, "adding without room is refused");
	rf_wsc_batch_init(&b, store, sizeof(store));
	p = rf_wsc_batch_room(&b, 0, &room);
	ok(p != NULL && rf_wsc_batch_add(&b, room + 1) != 0,
	    "a message longer than its room is refused");

	/*
	 * A room just over 65535 bytes: a message filling it needs the
	 * 14-byte header, so that is what was left room for (this once
	 * overflowed the agent's batch by 6 bytes).
	 */
	for (total = 65535 - 8; total <= 65535 + 14; total++) {
		rf_wsc_batch_init(&b, big, LWS_PRE + total);
		if ((p = rf_wsc_batch_room(&b, 0, &room)) == NULL ||
		    (memset(p, 'y', room), rf_wsc_batch_add(&b, room)) != 0 ||
		    b.len > total)
			break;
	}
	ok(total > 65535 + 14, "a full room never overruns the batch "
	    "(storage of %zu)", total);
}

int
main(void)
{
	rf_log_init("agent-test");
	rf_log_set_level(RF_LOG_QUIET);
	test_good();
	test_bad();
	test_backoff();
	test_headers();
	test_url();
	test_batch();
	return done_testing();
}
