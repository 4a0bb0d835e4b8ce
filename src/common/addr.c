/* addr.c - parsing "host:port" specs; formatting socket addresses. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "strbuf.h"

static int
copy(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int
valid_port(const char *p, const char **err)
{
	if (*p == '\0') {
		*err = "missing port";
		return -1;
	}
	/* A service name ("echo") is fine: getaddrinfo will judge it. */
	if (strspn(p, "0123456789") == strlen(p)) {
		if (strlen(p) > 5 || strtol(p, NULL, 10) > 65535) {
			*err = "port must be 0..65535";
			return -1;
		}
	}
	return 0;
}

int
addr_split(const char *spec, char *host, size_t hostlen,
    char *port, size_t portlen, const char **err)
{
	const char *colon, *p;

	*err = NULL;
	if (spec == NULL || *spec == '\0') {
		*err = "empty address";
		return -1;
	}
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL) {
			*err = "missing ']' after IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*err = "expected ':port' after ']'";
			return -1;
		}
		if (close == spec + 1) {
			*err = "empty IPv6 address";
			return -1;
		}
		if (copy(host, hostlen, spec + 1, (size_t)(close - spec - 1)) == -1) {
			*err = "host name too long";
			return -1;
		}
		p = close + 2;
	} else if ((colon = strrchr(spec, ':')) == NULL) {
		host[0] = '\0';		/* a bare port: every address */
		p = spec;
	} else {
		if (strchr(spec, ':') != colon) {
			*err = "IPv6 addresses must be written in brackets, as [::1]:7";
			return -1;
		}
		if (colon == spec) {
			*err = "missing host before ':'";
			return -1;
		}
		if (copy(host, hostlen, spec, (size_t)(colon - spec)) == -1) {
			*err = "host name too long";
			return -1;
		}
		if (strcmp(host, "*") == 0)
			host[0] = '\0';
		p = colon + 1;
	}
	if (valid_port(p, err) == -1)
		return -1;
	if (copy(port, portlen, p, strlen(p)) == -1) {
		*err = "port too long";
		return -1;
	}
	return 0;
}

/* inet_ntop(AF_INET), which glibc writes with sprintf(); -1 when host
 * cannot hold it, as inet_ntop fails then. */
static int
ipv4_text(const struct in_addr *a, char *host, size_t hostlen)
{
	const unsigned char *b = (const unsigned char *)&a->s_addr;
	char text[INET_ADDRSTRLEN];
	struct strbuf sb;

	strbuf_init(&sb, text, sizeof(text));
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			strbuf_put_char(&sb, '.');
		strbuf_put_u64(&sb, b[i]);
	}
	if (sb.len >= hostlen)
		return -1;
	memcpy(host, text, sb.len + 1);
	return 0;
}

/*
 * As getnameinfo(NI_NUMERICHOST | NI_NUMERICSERV) would write them, the
 * short way: it is called per connection with log_connections, and
 * getnameinfo() prints the port only to have it read back.  A scoped IPv6
 * address ("fe80::1%eth0") still goes the long way.
 */
void
addr_host_port(const struct sockaddr *sa, socklen_t len,
    char *host, size_t hostlen, unsigned *port)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
	char serv[NI_MAXSERV];

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(*in) &&
	    ipv4_text(&in->sin_addr, host, hostlen) == 0) {
		*port = ntohs(in->sin_port);
		return;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(*in6) &&
	    in6->sin6_scope_id == 0 &&
	    inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)hostlen) != NULL) {
		*port = ntohs(in6->sin6_port);
		return;
	}
	if (getnameinfo(sa, len, host, (socklen_t)hostlen, serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, hostlen, "?");
		*port = 0;
		return;
	}
	*port = (unsigned)strtoul(serv, NULL, 10);
}

void
addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
	char host[NI_MAXHOST];
	unsigned port;

	addr_host_port(sa, len, host, sizeof(host), &port);
	if (sa->sa_family == AF_INET6)
		snprintf(buf, buflen, "[%s]:%u", host, port);
	else
		snprintf(buf, buflen, "%s:%u", host, port);
}

bool
addr_same_host(const struct sockaddr *peer, const struct sockaddr *local)
{
	/* ::ffff:127.0.0.0/104: where acl_addr16() puts 127/8 */
	static const uint8_t loop4[13] = { [10] = 0xff, [11] = 0xff, [12] = 127 };
	uint8_t p[16], l[16];

	if (acl_addr16(peer, p) == -1)
		return false;
	if (memcmp(p, loop4, sizeof(loop4)) == 0 ||
	    memcmp(p, in6addr_loopback.s6_addr, sizeof(p)) == 0)
		return true;
	return acl_addr16(local, l) == 0 && memcmp(p, l, sizeof(p)) == 0;
}
