/*
 * proxy_header.c - the PROXY protocol header parser (v1 text, v2 binary).  It is
 * called again with every read until it decides, so each step works on a
 * prefix: a field that has not ended yet is checked as far as it goes
 * (its characters, its length, leading zeros, its value so far), and the
 * first byte that cannot belong to a header makes the whole thing invalid.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy_header.h"

static const uint8_t v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* A step on a prefix: the field is whole, needs more bytes, or is wrong. */
enum step { OK, MORE, BAD };

struct cursor {
	const uint8_t	*p, *end;
	const char	*why;
};

static enum step
bad(struct cursor *c, const char *why)
{
	c->why = why;
	return BAD;
}

/* The literal s, or as much of it as there is. */
static enum step
expect(struct cursor *c, const char *s, const char *why)
{
	for (; *s != '\0'; s++, c->p++) {
		if (c->p == c->end)
			return MORE;
		if (*c->p != (uint8_t)*s)
			return bad(c, why);
	}
	return OK;
}

/*
 * The field up to the next space or CR: its characters from allowed, at
 * most max of them.  *len is its length; MORE if the buffer ends first.
 */
static enum step
field(struct cursor *c, const char *allowed, size_t max, size_t *len,
    const char *why)
{
	const uint8_t *s = c->p;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\r') {
		if (strchr(allowed, *c->p) == NULL || *c->p == '\0')
			return bad(c, why);
		if ((size_t)(++c->p - s) > max)
			return bad(c, why);
	}
	*len = (size_t)(c->p - s);
	if (c->p == c->end)
		return MORE;
	return *len == 0 ? bad(c, why) : OK;
}

/* Decimal, no leading zero, at most max: whole (complete) or a prefix. */
static enum step
number(const uint8_t *s, size_t n, unsigned max, unsigned *out, int complete)
{
	unsigned v = 0;

	if (n > 1 && s[0] == '0')
		return BAD;
	for (size_t i = 0; i < n; i++)
		if ((v = v * 10 + (unsigned)(s[i] - '0')) > max)
			return BAD;
	if (complete && n == 0)
		return BAD;
	*out = v;
	return OK;
}

/* Dotted quad, strictly (four numbers 0..255, no leading zeros). */
static enum step
ipv4(const uint8_t *s, size_t n, int complete, struct in_addr *out)
{
	uint8_t b[4];
	size_t start = 0, parts = 0;
	unsigned v;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (parts == 4)
			return BAD;	/* a fifth part */
		if (i == n && !complete) {
			if (number(s + start, i - start, 255, &v, 0) == BAD)
				return BAD;
			return OK;
		}
		if (number(s + start, i - start, 255, &v, 1) == BAD)
			return BAD;
		b[parts++] = (uint8_t)v;
		start = i + 1;
	}
	if (parts != 4)
		return BAD;
	memcpy(&out->s_addr, b, 4);
	return OK;
}

/*
 * Groups of up to 4 hex digits and colons; whole ones through inet_pton.
 * The specification has only hex groups, but a balancer that accepted an
 * IPv4 client on a dual-stack socket writes it as ::ffff:192.0.2.7, as
 * inet_ntop() does: that form is taken too.
 */
static enum step
ipv6(const uint8_t *s, size_t n, int complete, struct in6_addr *out)
{
	char text[INET6_ADDRSTRLEN];
	size_t digits = 0, colons = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':') {
			if (++colons > 2)
				return BAD;
			digits = 0;
		} else if (s[i] == '.') {
			colons = digits = 0;
		} else if (++digits > 4) {
			return BAD;
		} else {
			colons = 0;
		}
	}
	if (!complete)
		return OK;
	if (n >= sizeof(text))
		return BAD;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, out) == 1 ? OK : BAD;
}

/* One address or port of a TCP4/TCP6 line, and the space after it. */
static enum step
v1_addr(struct cursor *c, int family, struct sockaddr_storage *ss)
{
	const uint8_t *s = c->p;
	size_t n;
	enum step st;

	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		st = field(c, "0123456789.", 15, &n, "v1: bad IPv4 address");
		if (st != BAD && ipv4(s, n, st == OK, &in->sin_addr) == BAD)
			st = bad(c, "v1: bad IPv4 address");
		in->sin_family = AF_INET;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		st = field(c, "0123456789abcdefABCDEF:.", INET6_ADDRSTRLEN - 1, &n,
		    "v1: bad IPv6 address");
		if (st != BAD && ipv6(s, n, st == OK, &in6->sin6_addr) == BAD)
			st = bad(c, "v1: bad IPv6 address");
		in6->sin6_family = AF_INET6;
	}
	if (st != OK)
		return st;
	return expect(c, " ", "v1: expected one space after an address");
}

static enum step
v1_port(struct cursor *c, struct sockaddr_storage *ss, const char *after)
{
	const uint8_t *s = c->p;
	unsigned v;
	size_t n;
	enum step st = field(c, "0123456789", 5, &n, "v1: bad port");

	if (st != BAD && number(s, n, 65535, &v, st == OK) == BAD)
		st = bad(c, "v1: bad port");
	if (st != OK)
		return st;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)v);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)v);
	return expect(c, after, "v1: expected one space between the ports "
	    "and CRLF after them");
}

/* "UNKNOWN", then anything up to CRLF, ignored (a lone CR or LF is not). */
static enum step
v1_unknown(struct cursor *c)
{
	for (; c->p < c->end; c->p++) {
		if (*c->p == '\n')
			return bad(c, "v1: LF without CR");
		if (*c->p == '\r')
			return expect(c, "\r\n", "v1: CR without LF");
	}
	return MORE;
}

static enum step
v1(struct cursor *c, struct proxy_header *h)
{
	enum step st;
	int family;

	if ((st = expect(c, "PROXY ", "not a PROXY header")) != OK)
		return st;
	if (c->p == c->end)
		return MORE;
	h->version = 1;
	h->cmd = PROXY_CMD_PROXY;
	if (*c->p == 'U') {
		if ((st = expect(c, "UNKNOWN", "v1: protocol not TCP4, TCP6 "
		    "or UNKNOWN")) != OK)
			return st;
		if (c->p < c->end && *c->p != ' ' && *c->p != '\r')
			return bad(c, "v1: protocol not TCP4, TCP6 or UNKNOWN");
		h->family = AF_UNSPEC;
		return v1_unknown(c);
	}
	if ((st = expect(c, "TCP", "v1: protocol not TCP4, TCP6 or UNKNOWN")) != OK)
		return st;
	if (c->p == c->end)
		return MORE;
	if (*c->p != '4' && *c->p != '6')
		return bad(c, "v1: protocol not TCP4, TCP6 or UNKNOWN");
	family = *c->p++ == '4' ? AF_INET : AF_INET6;
	h->family = family;
	if ((st = expect(c, " ", "v1: expected one space after the "
	    "protocol")) != OK ||
	    (st = v1_addr(c, family, &h->src)) != OK ||
	    (st = v1_addr(c, family, &h->dst)) != OK ||
	    (st = v1_port(c, &h->src, " ")) != OK ||
	    (st = v1_port(c, &h->dst, "\r\n")) != OK)
		return st;
	h->addrlen = family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	return OK;
}

static enum step
v2_tlvs(struct cursor *c)
{
	while (c->p < c->end) {
		size_t n;

		if (c->end - c->p < 3)
			return bad(c, "v2: truncated TLV");
		n = (size_t)c->p[1] << 8 | c->p[2];
		if ((size_t)(c->end - c->p - 3) < n)
			return bad(c, "v2: TLV longer than the header");
		c->p += 3 + n;
	}
	return OK;
}

/* The address block and the TLVs: the whole header has arrived. */
static enum step
v2_body(struct cursor *c, struct proxy_header *h, unsigned fam, unsigned proto)
{
	static const size_t need[] = { 0, 12, 36, 216 };
	size_t len = (size_t)(c->end - c->p);
	const uint8_t *a = c->p;

	h->family = AF_UNSPEC;
	if (h->cmd == PROXY_CMD_LOCAL || fam == 0 || proto == 0)
		return OK;	/* no address to read: skip the block */
	if (len < need[fam])
		return bad(c, "v2: address block shorter than its family's");
	if (fam == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		h->family = AF_INET;
		h->addrlen = sizeof(*s);
	} else if (fam == 2) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		h->family = AF_INET6;
		h->addrlen = sizeof(*s);
	} else {
		h->family = AF_UNIX;
	}
	c->p += need[fam];
	return v2_tlvs(c);
}

static enum step
v2(struct cursor *c, struct proxy_header *h)
{
	const uint8_t *start = c->p;
	size_t have = (size_t)(c->end - c->p), len;
	unsigned fam, proto;

	if (memcmp(start, v2sig, have < 12 ? have : 12) != 0)
		return bad(c, "not a PROXY header");
	if (have < 13)
		return MORE;
	h->version = 2;
	if (start[12] >> 4 != 2)
		return bad(c, "v2: version not 2");
	if ((start[12] & 0xf) > 1)
		return bad(c, "v2: command not LOCAL or PROXY");
	h->cmd = (start[12] & 0xf) ? PROXY_CMD_PROXY : PROXY_CMD_LOCAL;
	if (have < 14)
		return MORE;
	fam = start[13] >> 4;
	proto = start[13] & 0xf;
	if (fam > 3)
		return bad(c, "v2: address family not UNSPEC, INET, INET6 or UNIX");
	if (proto > 2)
		return bad(c, "v2: protocol not UNSPEC, STREAM or DGRAM");
	if (have < PROXY_V2_FIXED)
		return MORE;
	len = (size_t)start[14] << 8 | start[15];
	if (PROXY_V2_FIXED + len > PROXY_MAX_HEADER)
		return bad(c, "v2: header longer than 1024 bytes");
	if (have < PROXY_V2_FIXED + len)
		return MORE;
	c->p = start + PROXY_V2_FIXED;
	c->end = c->p + len;
	if (v2_body(c, h, fam, proto) == BAD)
		return BAD;
	c->p = c->end;	/* whatever the block held, all of it is skipped */
	return OK;
}

enum proxy_status
proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	struct cursor c = { .p = buf, .end = buf + len, .why = NULL };
	enum step st;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return PROXY_MORE;
	if (buf[0] == v2sig[0]) {
		st = v2(&c, h);
	} else {
		if (c.end - c.p > PROXY_V1_MAX)
			c.end = c.p + PROXY_V1_MAX;
		st = v1(&c, h);
		if (st == MORE && len >= PROXY_V1_MAX)
			st = bad(&c, "v1: no CRLF in the first 107 bytes");
	}
	if (st == MORE)
		return PROXY_MORE;
	if (st == BAD) {
		*why = c.why;
		memset(h, 0, sizeof(*h));
		return PROXY_INVALID;
	}
	h->len = (size_t)(c.p - buf);
	return PROXY_DONE;
}

bool
proxy_has_address(const struct proxy_header *h)
{
	return h->addrlen != 0;
}
