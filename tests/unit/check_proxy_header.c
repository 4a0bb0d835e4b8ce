/* check_proxy.c - the PROXY protocol parser against the specification's
 * examples (HAProxy's doc/proxy-protocol.txt): v1 and v2, each family and
 * command, TLVs, every split of a header, and refusals at the first byte
 * that cannot belong to a header. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxy_header.h"
#include "suites.h"

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* A v2 header: signature, ver_cmd, fam, then body (blen bytes). */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body, size_t blen)
{
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

static void
host_port(const struct sockaddr_storage *ss, char *buf, size_t len,
    unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)len);
		*port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
		*port = ntohs(in6->sin6_port);
	} else {
		snprintf(buf, len, "none");
		*port = 0;
	}
}

/*
 * buf[0, len) is a whole header of hlen bytes (then data): every shorter
 * prefix waits for more, the whole is DONE with hlen consumed and the
 * client src:sport, whatever follows it.
 */
static void
expect_done(const uint8_t *buf, size_t len, size_t hlen, int family,
    enum proxy_cmd cmd, const char *src, unsigned sport)
{
	struct proxy_header h;
	const char *why = NULL;
	char addr[64];
	unsigned port;

	for (size_t k = 0; k < hlen; k++)
		ck_assert_msg(proxy_parse(buf, k, &h, &why) == PROXY_MORE,
		    "prefix of %zu bytes of %zu: %s", k, hlen, why ? why : "done");
	for (size_t k = hlen; k <= len; k++) {
		ck_assert_msg(proxy_parse(buf, k, &h, &why) == PROXY_DONE,
		    "%zu bytes: %s", k, why ? why : "more");
		ck_assert_uint_eq(h.len, hlen);
	}
	ck_assert_int_eq(h.family, family);
	ck_assert_int_eq(h.cmd, cmd);
	ck_assert_int_eq(proxy_has_address(&h), src != NULL);
	if (src == NULL)
		return;
	host_port(&h.src, addr, sizeof(addr), &port);
	ck_assert_str_eq(addr, src);
	ck_assert_uint_eq(port, sport);
}

static void
expect_done_str(const char *s, size_t hlen, int family, const char *src,
    unsigned sport)
{
	expect_done((const uint8_t *)s, strlen(s), hlen, family,
	    PROXY_CMD_PROXY, src, sport);
}

/*
 * buf is refused from its first `at` bytes on, with reason why, and
 * every shorter prefix waits for more: refused as early as it can be.
 */
static void
expect_invalid(const uint8_t *buf, size_t len, size_t at, const char *reason)
{
	struct proxy_header h;
	const char *why = NULL;

	for (size_t k = 0; k < at; k++)
		ck_assert_msg(proxy_parse(buf, k, &h, &why) == PROXY_MORE,
		    "%.*s: %zu bytes: not MORE (%s)", (int)at, (const char *)buf, k,
		    why ? why : "done");
	for (size_t k = at; k <= len; k++) {
		why = NULL;
		ck_assert_msg(proxy_parse(buf, k, &h, &why) == PROXY_INVALID,
		    "%.*s: %zu bytes not refused", (int)len, (const char *)buf, k);
		ck_assert_msg(why != NULL && strstr(why, reason) != NULL,
		    "%.*s: reason \"%s\", expected \"%s\"", (int)len,
		    (const char *)buf, why ? why : "", reason);
	}
}

static void
expect_invalid_str(const char *s, size_t at, const char *reason)
{
	expect_invalid((const uint8_t *)s, strlen(s), at, reason);
}

START_TEST(test_v1_examples)
{
	/* the specification's own example, with the request after it */
	static const char http[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 "
	    "443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
	static const char max4[] = "PROXY TCP4 255.255.255.255 "
	    "255.255.255.255 65535 65535\r\n";
	static const char max6[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:"
	    "ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char worst[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:"
	    "ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	expect_done_str(http, 47, AF_INET, "192.168.0.1", 56324);
	expect_done_str(max4, 56, AF_INET, "255.255.255.255", 65535);
	ck_assert_uint_eq(strlen(max6), 104);
	expect_done_str(max6, 104, AF_INET6,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	ck_assert_uint_eq(strlen(worst), PROXY_V1_MAX);
	expect_done_str(worst, PROXY_V1_MAX, AF_UNSPEC, NULL, 0);
	expect_done_str("PROXY UNKNOWN\r\nhello", 15, AF_UNSPEC, NULL, 0);
	expect_done_str("PROXY TCP6 2001:db8::7 ::1 0 7\r\n", 32, AF_INET6,
	    "2001:db8::7", 0);
	expect_done_str("PROXY TCP4 0.0.0.0 10.0.0.1 1 2\r\n\r\n", 33,
	    AF_INET, "0.0.0.0", 1);
	expect_done_str("PROXY TCP6 ABCD::1 ::1 80 80\r\n", 30, AF_INET6,
	    "abcd::1", 80);
	/* an IPv4 client of a dual-stack balancer, as inet_ntop() writes it */
	expect_done_str("PROXY TCP6 ::ffff:192.0.2.7 ::ffff:10.0.0.1 1 7\r\n",
	    49, AF_INET6, "::ffff:192.0.2.7", 1);
}
END_TEST

START_TEST(test_v1_refused)
{
	static const struct { const char *s; size_t at; const char *why; } c[] = {
		{ "GET / HTTP/1.0\r\n", 1, "not a PROXY header" },
		{ "PROXYTCP4", 6, "not a PROXY header" },
		{ "proxy TCP4", 1, "not a PROXY header" },
		{ "PROXY TCP5 ", 10, "protocol" },
		{ "PROXY UDP4 ", 8, "protocol" },
		{ "PROXY UNKNOWNX\r\n", 14, "protocol" },
		{ "PROXY TCP4  1.2.3.4", 12, "IPv4" },
		{ "PROXY TCP4 256.1.1.1 ", 14, "IPv4" },
		{ "PROXY TCP4 01.2.3.4 ", 13, "IPv4" },
		{ "PROXY TCP4 1.2.3 1.2.3.4 1 1\r\n", 17, "IPv4" },
		{ "PROXY TCP4 1.2.3.4.5 ", 19, "IPv4" },
		{ "PROXY TCP4 1..2.3 ", 14, "IPv4" },
		{ "PROXY TCP4 ::1 ", 12, "IPv4" },
		{ "PROXY TCP4 1.2.3.4\t", 19, "IPv4" },
		{ "PROXY TCP6 1.2.3.4 ", 19, "IPv6" },
		{ "PROXY TCP6 1:::2 ", 15, "IPv6" },
		{ "PROXY TCP6 12345::1 ", 16, "IPv6" },
		{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 1\r\n", 29, "IPv6" },
		{ "PROXY TCP6 ::g ", 14, "IPv6" },
		{ "PROXY TCP6 ::ffff:1.2.3.4.5 ", 28, "IPv6" },
		{ "PROXY TCP6 ::ffff:1.2.3 ", 24, "IPv6" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n", 32, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 1\r\n", 29, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 1\r\n", 28, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1a 1\r\n", 29, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 123456 1\r\n", 33, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  1\r\n", 30, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 1\n", 31, "port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 1 \r\n", 31, "CRLF" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 1\rX", 32, "CRLF" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 29, "space between" },
		{ "PROXY UNKNOWN junk\n", 19, "LF without CR" },
		{ "PROXY UNKNOWN junk\rX", 20, "CR without LF" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		expect_invalid_str(c[i].s, c[i].at, c[i].why);
}
END_TEST

START_TEST(test_v1_too_long)
{
	char line[200];

	/* UNKNOWN ignores what it carries, but not past 107 bytes */
	memset(line, 'a', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	expect_invalid((uint8_t *)line, sizeof(line), PROXY_V1_MAX, "107");
	/* 106 bytes and its CRLF's CR: one more byte cannot be the LF */
	memcpy(line + 105, "\r\n", 2);
	expect_done((uint8_t *)line, 150, 107, AF_UNSPEC, PROXY_CMD_PROXY,
	    NULL, 0);
	memcpy(line + 105, "a\r\n", 3);
	expect_invalid((uint8_t *)line, 150, PROXY_V1_MAX, "107");
}
END_TEST

START_TEST(test_v2_families)
{
	uint8_t buf[1200], body[600];
	size_t n;

	/* TCP over IPv4: 192.0.2.7:4000 -> 198.51.100.1:7, then data */
	memcpy(body, (uint8_t[]){ 192, 0, 2, 7, 198, 51, 100, 1, 0x0f, 0xa0,
	    0, 7 }, 12);
	n = v2(buf, 0x21, 0x11, body, 12);
	memcpy(buf + n, "data", 4);
	expect_done(buf, n + 4, 28, AF_INET, PROXY_CMD_PROXY, "192.0.2.7", 4000);

	/* TCP over IPv6 */
	memset(body, 0, 36);
	inet_pton(AF_INET6, "2001:db8::7", body);
	inet_pton(AF_INET6, "2001:db8::1", body + 16);
	body[32] = 0xff; body[33] = 0xff; body[35] = 7;
	n = v2(buf, 0x21, 0x21, body, 36);
	expect_done(buf, n, 52, AF_INET6, PROXY_CMD_PROXY, "2001:db8::7", 65535);

	/* UDP over IPv4 says where a datagram came from: still an address */
	memcpy(body, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0, 7 }, 12);
	n = v2(buf, 0x21, 0x12, body, 12);
	expect_done(buf, n, 28, AF_INET, PROXY_CMD_PROXY, "10.0.0.1", 53);

	/* UNIX: no address of ours; the balancer's connection */
	memset(body, 'x', 216);
	n = v2(buf, 0x21, 0x31, body, 216);
	expect_done(buf, n, 232, AF_UNIX, PROXY_CMD_PROXY, NULL, 0);

	/* UNSPEC, no block, and one that carries bytes to skip */
	n = v2(buf, 0x21, 0x00, NULL, 0);
	expect_done(buf, n, 16, AF_UNSPEC, PROXY_CMD_PROXY, NULL, 0);
	n = v2(buf, 0x21, 0x00, "\x01\x02\x03\x04\x05", 5);
	expect_done(buf, n, 21, AF_UNSPEC, PROXY_CMD_PROXY, NULL, 0);
	/* INET with an UNSPEC protocol: the address is ignored */
	memcpy(body, (uint8_t[]){ 192, 0, 2, 7, 198, 51, 100, 1, 0, 1, 0, 7 }, 12);
	n = v2(buf, 0x21, 0x10, body, 12);
	expect_done(buf, n, 28, AF_UNSPEC, PROXY_CMD_PROXY, NULL, 0);
}
END_TEST

START_TEST(test_v2_local)
{
	uint8_t buf[128], body[12] = { 192, 0, 2, 7, 198, 51, 100, 1, 0, 1, 0, 7 };
	size_t n;

	/* HAProxy's health check: LOCAL, UNSPEC, no block */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	memcpy(buf + n, "ping", 4);
	expect_done(buf, n + 4, 16, AF_UNSPEC, PROXY_CMD_LOCAL, NULL, 0);
	/* a LOCAL with an address: skipped, never believed */
	n = v2(buf, 0x20, 0x11, body, 12);
	expect_done(buf, n, 28, AF_UNSPEC, PROXY_CMD_LOCAL, NULL, 0);
	/* even one too short for its family: LOCAL reads no address */
	n = v2(buf, 0x20, 0x21, body, 12);
	expect_done(buf, n, 28, AF_UNSPEC, PROXY_CMD_LOCAL, NULL, 0);
}
END_TEST

START_TEST(test_v2_tlvs)
{
	uint8_t buf[1200], body[1100];
	size_t n, b = 0;

	memcpy(body, (uint8_t[]){ 192, 0, 2, 7, 198, 51, 100, 1, 0x0f, 0xa0,
	    0, 7 }, 12);
	b = 12;
	/* ALPN "h2", CRC32C, NOOP empty, UNIQUE_ID, an unknown type */
	memcpy(body + b, "\x01\x00\x02h2", 5); b += 5;
	memcpy(body + b, "\x03\x00\x04\x01\x02\x03\x04", 7); b += 7;
	memcpy(body + b, "\x04\x00\x00", 3); b += 3;
	memcpy(body + b, "\x05\x00\x03" "abc", 6); b += 6;
	memcpy(body + b, "\xe0\x00\x01" "z", 4); b += 4;
	n = v2(buf, 0x21, 0x11, body, b);
	memcpy(buf + n, "\x03\x00\x04", 3);	/* data that looks like a TLV */
	expect_done(buf, n + 3, 16 + b, AF_INET, PROXY_CMD_PROXY, "192.0.2.7",
	    4000);

	/* a TLV that runs past the header's end; one cut inside its own
	 * type and length */
	memcpy(body + 12, "\x05\x00\x09" "abc", 6);
	n = v2(buf, 0x21, 0x11, body, 18);
	expect_invalid(buf, n + 20, n, "TLV longer than the header");
	memcpy(body + 12, "\x05\x00", 2);
	n = v2(buf, 0x21, 0x11, body, 14);
	expect_invalid(buf, n, n, "truncated TLV");

	/* the longest accepted header, all padding */
	memset(body + 12, 0, sizeof(body) - 12);
	body[12] = 0x04;
	body[13] = (PROXY_MAX_HEADER - 16 - 12 - 3) >> 8;
	body[14] = (PROXY_MAX_HEADER - 16 - 12 - 3) & 0xff;
	n = v2(buf, 0x21, 0x11, body, PROXY_MAX_HEADER - 16);
	expect_done(buf, n, PROXY_MAX_HEADER, AF_INET, PROXY_CMD_PROXY,
	    "192.0.2.7", 4000);
}
END_TEST

START_TEST(test_v2_refused)
{
	uint8_t buf[128], body[36] = { 0 };
	size_t n;

	/* the signature, wrong at each of its bytes in turn */
	for (size_t i = 1; i < 12; i++) {
		n = v2(buf, 0x21, 0x11, body, 12);
		buf[i] ^= 0x40;
		expect_invalid(buf, n, i + 1, "not a PROXY header");
	}
	n = v2(buf, 0x11, 0x11, body, 12);
	expect_invalid(buf, n, 13, "version not 2");
	n = v2(buf, 0x31, 0x11, body, 12);
	expect_invalid(buf, n, 13, "version not 2");
	n = v2(buf, 0x22, 0x11, body, 12);
	expect_invalid(buf, n, 13, "command");
	n = v2(buf, 0x21, 0x41, body, 12);
	expect_invalid(buf, n, 14, "address family");
	n = v2(buf, 0x21, 0x13, body, 12);
	expect_invalid(buf, n, 14, "protocol");
	/* shorter than its family's block */
	n = v2(buf, 0x21, 0x11, body, 11);
	expect_invalid(buf, n, n, "shorter");
	n = v2(buf, 0x21, 0x21, body, 12);
	expect_invalid(buf, n, n, "shorter");
	n = v2(buf, 0x21, 0x31, body, 36);
	expect_invalid(buf, n, n, "shorter");
	/* oversized: refused on its length field, before the rest */
	n = v2(buf, 0x21, 0x11, body, 12);
	buf[14] = (PROXY_MAX_HEADER - 15) >> 8;
	buf[15] = (PROXY_MAX_HEADER - 15) & 0xff;
	expect_invalid(buf, n, 16, "longer than 1024");
	buf[14] = buf[15] = 0xff;
	expect_invalid(buf, n, 16, "longer than 1024");
}
END_TEST

/* Whatever the bytes, a prefix of something refused is never DONE and
 * what is DONE never claims more than it was given. */
START_TEST(test_any_bytes)
{
	uint8_t buf[PROXY_MAX_HEADER + 64];
	struct proxy_header h;
	const char *why;
	unsigned seed = 12345;

	for (int round = 0; round < 20000; round++) {
		size_t len = (seed = seed * 1103515245 + 12345) % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)((seed = seed * 1103515245 + 12345) >> 16);
		if (round % 3 == 0 && len >= 16)
			memcpy(buf, sig, 12), buf[12] = 0x21, buf[14] = 0;
		if (round % 3 == 1 && len >= 6)
			memcpy(buf, "PROXY ", 6);
		enum proxy_status st = proxy_parse(buf, len, &h, &why);
		if (st == PROXY_DONE)
			ck_assert_uint_le(h.len, len);
	}
}
END_TEST

Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy_header");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_v1_examples);
	tcase_add_test(tc, test_v1_refused);
	tcase_add_test(tc, test_v1_too_long);
	tcase_add_test(tc, test_v2_families);
	tcase_add_test(tc, test_v2_local);
	tcase_add_test(tc, test_v2_tlvs);
	tcase_add_test(tc, test_v2_refused);
	tcase_add_test(tc, test_any_bytes);
	suite_add_tcase(s, tc);
	return s;
}
