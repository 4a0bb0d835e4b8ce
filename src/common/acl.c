/* acl.c - CIDR lists.  Every address is compared as 128 bits, IPv4 mapped
 * into IPv6, so one list serves both families. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

static void
map4(const struct in_addr *a, uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a, 4);
}

int
acl_addr16(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		map4(&((const struct sockaddr_in *)sa)->sin_addr, out);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int
acl_parse(const char *s, struct cidr *out, const char **err)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct in_addr a4;
	struct in6_addr a6;
	long bits;
	bool v4;

	*err = NULL;
	if (strlen(s) >= sizeof(buf)) {
		*err = "not an address or prefix";
		return -1;
	}
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		v4 = true;
		map4(&a4, out->addr);
	} else if (inet_pton(AF_INET6, buf, &a6) == 1) {
		v4 = false;
		memcpy(out->addr, &a6, 16);
	} else {
		*err = "not an IPv4 or IPv6 address";
		return -1;
	}
	bits = v4 ? 32 : 128;
	if (slash != NULL) {
		if (*slash == '\0' || strspn(slash, "0123456789") != strlen(slash) ||
		    (bits = strtol(slash, &end, 10)) > (v4 ? 32 : 128)) {
			*err = v4 ? "prefix length must be 0..32" :
			    "prefix length must be 0..128";
			return -1;
		}
	}
	out->prefix = (unsigned)bits + (v4 ? 96 : 0);
	/* Host bits must be zero: "10.1.2.3/8" is almost always a typo. */
	for (unsigned i = out->prefix; i < 128; i++)
		if (out->addr[i / 8] & (0x80 >> (i % 8))) {
			*err = "address has bits set past the prefix length";
			return -1;
		}
	return 0;
}

static bool
match1(const struct cidr *c, const uint8_t a[16])
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (a[full] & mask);
}

bool
acl_match(const struct cidr *v, size_t n, const struct sockaddr *sa)
{
	uint8_t a[16];

	if (acl_addr16(sa, a) == -1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (match1(&v[i], a))
			return true;
	return false;
}

bool
acl_permits(const struct cidr *allow, size_t nallow,
    const struct cidr *deny, size_t ndeny, const struct sockaddr *sa)
{
	if (ndeny > 0 && acl_match(deny, ndeny, sa))
		return false;
	return nallow == 0 || acl_match(allow, nallow, sa);
}
