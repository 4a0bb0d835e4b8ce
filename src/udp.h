/* udp.h - datagram echo and its guards. */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The largest UDP payload: 65535 - 8 over IPv6 (IPv4's is 65507). */
#define UDP_MAX_DATAGRAM	65527
#define UDP_BATCH		64	/* datagrams per wake-up, for fairness */

struct admit_policy;

struct udp_counters {
	uint64_t	echoed;		/* datagrams sent back */
	uint64_t	bytes;
	uint64_t	refused;	/* loop guard */
	uint64_t	denied;		/* allow/deny lists */
	uint64_t	limited;	/* over the source's rate */
	uint64_t	dropped;	/* could not send: UDP is lossy */
	uint64_t	truncated;	/* larger than the buffer: not echoed */
};

/*
 * The echo-loop guard (CVE-1999-0103): never answer a datagram from a
 * service port - ports below 1024 and port 0, and a few well-known UDP
 * services above - or the two services can bounce a packet forever.  Two
 * servers on other ports are stopped by the rate limit, or by its ceiling
 * (admit.h) when it is off.
 */
bool	udp_source_allowed(const struct sockaddr *);
/*
 * Echoes up to UDP_BATCH waiting datagrams from fd using buf (UDP_MAX_DATAGRAM
 * bytes hold any); a datagram larger than buflen is dropped, never echoed cut
 * short.  Each one passes the loop guard, then admission (admit.h) unless
 * the policy is NULL.  Returns 0, or -1 with errno on a socket error.
 */
int	udp_echo(int fd, char *buf, size_t buflen, const struct admit_policy *,
	    struct udp_counters *);

#endif
