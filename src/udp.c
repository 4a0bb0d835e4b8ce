/* udp.c - RFC 862 over UDP: each datagram goes back to its source unchanged. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "admit.h"
#include "conn.h"
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

int
udp_echo(int fd, char *buf, size_t buflen, const struct admit_policy *policy,
    struct udp_counters *cnt)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		union sockaddr_any from;
		socklen_t fromlen = sizeof(from);
		enum admit_verdict v;
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
		if (policy != NULL && (v = admit_client(policy, ADMIT_UDP,
		    &from.sa, NULL)) != ADMIT_OK) {
			if (v == ADMIT_DENIED)
				cnt->denied++;
			else
				cnt->limited++;
			continue;
		}
		if (sendto(fd, buf, (size_t)n, MSG_DONTWAIT, &from.sa, fromlen) == -1) {
			cnt->dropped++;
			continue;
		}
		cnt->echoed++;
		cnt->bytes += (uint64_t)n;
	}
	return 0;
}
