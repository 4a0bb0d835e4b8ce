/* udp.h - datagram echo and its guards. */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UDP_MAX_DATAGRAM	65507	/* the largest UDP payload over IPv4 */
#define UDP_BATCH		64	/* datagrams per wake-up, for fairness */

struct udp_counters {
	uint64_t	echoed;		/* datagrams sent back */
	uint64_t	bytes;
	uint64_t	refused;	/* loop guard */
	uint64_t	dropped;	/* could not send: UDP is lossy */
};

/*
 * The echo-loop guard (CVE-1999-0103): never answer a datagram from a
 * service port - ports below 1024 and port 0, and a few well-known UDP
 * services above - or the two services can bounce a packet forever.
 */
bool	udp_source_allowed(const struct sockaddr *);
/*
 * Echoes up to UDP_BATCH waiting datagrams from fd using buf (at least
 * UDP_MAX_DATAGRAM + 1 bytes).  Returns 0, or -1 with errno on a socket error.
 */
int	udp_echo(int fd, char *buf, size_t buflen, struct udp_counters *);

#endif
