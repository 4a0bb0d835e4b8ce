/*
 * cl_args.c - the strict readers of echo-client's numeric arguments.
 * strtol() and getaddrinfo() are too kind for a command line: they skip
 * white space, take a sign, read hexadecimal, and getaddrinfo() turns
 * port 99999 into 34463.  Here a number is decimal digits and nothing
 * else, and every value is checked against its range before it is used.
 */
#include "config.h"

#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cl.h"
#include "cl_args.h"

static int
isdig(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads the digits at *s, advancing it; a value too large for 64 bits
 * becomes UINT64_MAX, which no range admits.  Returns how many digits
 * there were.
 */
static size_t
digits(const char **s, uint64_t *v)
{
	uint64_t d;
	size_t n = 0;

	*v = 0;
	for (; isdig(**s); (*s)++, n++) {
		d = (uint64_t)(**s - '0');
		*v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
	}
	return n;
}

/* a * b, or UINT64_MAX if that does not fit. */
static uint64_t
mul_sat(uint64_t a, uint64_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Why s, which is not a plain number, is not one. */
static int
not_number(const char *s, const char *end, char *why, size_t whylen)
{
	if (*s == '\0')
		snprintf(why, whylen, "empty");
	else if (*s == '-')
		snprintf(why, whylen, "negative");
	else if (end == s)
		snprintf(why, whylen, "not a number");
	else
		snprintf(why, whylen, "trailing garbage \"%.16s\" after the number",
		    end);
	return -1;
}

/* "1m", "64k" or the plain number, whichever is exact. */
static const char *
fmt_size(uint64_t v, char *buf, size_t buflen)
{
	if (v >= 1024 * 1024 && v % (1024 * 1024) == 0)
		snprintf(buf, buflen, "%" PRIu64 "m", v / (1024 * 1024));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(buf, buflen, "%" PRIu64 "k", v / 1024);
	else
		snprintf(buf, buflen, "%" PRIu64, v);
	return buf;
}

int
cl_arg_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v,
    char *why, size_t whylen)
{
	const char *p = s;
	uint64_t n;

	if (digits(&p, &n) == 0 || *p != '\0')
		return not_number(s, p, why, whylen);
	if (n < min || n > max) {
		snprintf(why, whylen, "out of range (%" PRIu64 "..%" PRIu64 ")",
		    min, max);
		return -1;
	}
	*v = n;
	return 0;
}

int
cl_arg_size(const char *s, uint64_t min, uint64_t max, uint64_t *v,
    char *why, size_t whylen)
{
	const char *p = s;
	char a[32], b[32];
	uint64_t n;

	if (digits(&p, &n) == 0)
		return not_number(s, p, why, whylen);
	if ((*p == 'k' || *p == 'K') && p[1] == '\0')
		n = mul_sat(n, 1024);
	else if ((*p == 'm' || *p == 'M') && p[1] == '\0')
		n = mul_sat(n, 1024 * 1024);
	else if (*p != '\0')
		return not_number(s, p, why, whylen);
	if (n < min || n > max) {
		snprintf(why, whylen, "out of range (%s..%s)",
		    fmt_size(min, a, sizeof(a)), fmt_size(max, b, sizeof(b)));
		return -1;
	}
	*v = n;
	return 0;
}

int
cl_arg_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ms,
    char *why, size_t whylen)
{
	const char *p = s;
	char a[32], b[32];
	uint64_t whole, frac_ns = 0, scale = 100000000, v;
	size_t nd;
	int nonzero;

	nd = digits(&p, &whole);
	nonzero = whole > 0;
	if (*p == '.') {
		/* Nanoseconds of a second are plenty; later digits only count
		 * as "not zero". */
		for (p++; isdig(*p); p++, nd++) {
			if (scale > 0)
				frac_ns += (uint64_t)(*p - '0') * scale;
			scale /= 10;
			nonzero |= *p != '0';
		}
	}
	if (nd == 0 || (*p != '\0' && strcmp(p, "s") != 0 && strcmp(p, "ms") != 0)) {
		if (*s == '\0' || *s == '-')
			return not_number(s, s, why, whylen);
		snprintf(why, whylen, "not a duration (write 10, 0.5, 2s or 250ms)");
		return -1;
	}
	if (strcmp(p, "ms") == 0)
		/* frac_ns is in units of 1e-9 of the unit: here, of a ms. */
		v = whole == UINT64_MAX ? whole : whole + (frac_ns >= 500000000);
	else if ((v = mul_sat(whole, 1000)) != UINT64_MAX)
		v += (frac_ns + 500000) / 1000000;
	if (nonzero && v == 0) {
		snprintf(why, whylen, "shorter than 1 ms");
		return -1;
	}
	if (v < min_ms || v > max_ms) {
		snprintf(why, whylen, "out of range (%s..%s)",
		    cl_fmt_ms(min_ms, a, sizeof(a)), cl_fmt_ms(max_ms, b, sizeof(b)));
		return -1;
	}
	*ms = v;
	return 0;
}

uint16_t
cl_echo_port(const char *proto)
{
	struct servent *se = getservbyname("echo", proto);

	return se ? ntohs((uint16_t)se->s_port) : 7;
}

int
cl_arg_port(const char *s, const char *proto, uint16_t *port, char *why,
    size_t whylen)
{
	struct servent *se;
	uint64_t v;

	/* A number, or something that was meant to be one. */
	if (*s == '\0' || isdig(*s) || strchr("+- \t", *s) != NULL)
		return cl_arg_uint(s, 1, 65535, &v, why, whylen) == -1 ? -1 :
		    (*port = (uint16_t)v, 0);
	se = getservbyname(s, proto);
	if (se == NULL || se->s_port == 0) {
		snprintf(why, whylen, "not a port number (1..65535) nor a "
		    "service known for %s", proto);
		return -1;
	}
	*port = ntohs((uint16_t)se->s_port);
	return 0;
}
