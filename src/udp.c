/* udp.c - RFC 862 over UDP: each datagram goes back to its source unchanged. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "source.h"
#include "udp.h"
#include "util.h"

/* Services above 1023 that answer UDP and would echo us back. */
static const uint16_t service_ports[] = { 1900, 3702, 5353, 5683, 11211 };

bool
udp_source_allowed(const struct sockaddr *sa)
{
	uint16_t port;

	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	else
		return false;
	if (port < 1024)
		return false;
	for (size_t i = 0; i < nitems(service_ports); i++)
		if (port == service_ports[i])
			return false;
	return true;
}

/* Allowed by the lists and within the source's rate? */
static bool
admit(const struct udp_policy *p, const struct sockaddr *from,
    struct udp_counters *cnt)
{
	const struct conf *c = p->conf;
	struct source_key k;

	if (c == NULL)
		return true;
	if (!acl_permits(c->allow, c->n_allow, c->deny, c->n_deny, from)) {
		cnt->denied++;
		return false;
	}
	/* 0 is "no limit" to the user, yet not to a loop between two servers */
	uint32_t rate = c->udp_rate_limit ? c->udp_rate_limit : UDP_CEILING_RATE;
	uint32_t burst = c->udp_rate_limit ? c->udp_rate_burst : UDP_CEILING_BURST;

	if (p->sources != NULL && source_key(from, &k) &&
	    !source_udp_allow(p->sources, &k, rate, burst, p->now_ms)) {
		cnt->limited++;
		return false;
	}
	return true;
}

int
udp_echo(int fd, char *buf, size_t buflen, const struct udp_policy *policy,
    struct udp_counters *cnt)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		union sockaddr_any from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;

		/* MSG_TRUNC: the datagram's real length, even if longer */
		n = recvfrom(fd, buf, buflen, MSG_DONTWAIT | MSG_TRUNC, &from.sa,
		    &fromlen);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			/* ICMP errors surface here; they are not ours to act on. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				continue;
			return -1;
		}
		if ((size_t)n > buflen) {
			cnt->truncated++;
			continue;
		}
		if (!udp_source_allowed(&from.sa)) {
			cnt->refused++;
			continue;
		}
		if (policy != NULL && !admit(policy, &from.sa, cnt))
			continue;
		if (sendto(fd, buf, (size_t)n, MSG_DONTWAIT, &from.sa, fromlen) == -1) {
			cnt->dropped++;
			continue;
		}
		cnt->echoed++;
		cnt->bytes += (uint64_t)n;
	}
	return 0;
}
