/* udp.h - datagram echo and its guards. */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UDP_MAX_DATAGRAM	65507	/* the largest UDP payload over IPv4 */
#define UDP_BATCH		64	/* datagrams per wake-up, for fairness */

struct conf;
struct source_shared;

struct udp_counters {
	uint64_t	echoed;		/* datagrams sent back */
	uint64_t	bytes;
	uint64_t	refused;	/* loop guard */
	uint64_t	denied;		/* allow/deny lists */
	uint64_t	limited;	/* over the source's rate */
	uint64_t	dropped;	/* could not send: UDP is lossy */
};

/* What decides whether a datagram gets an answer, besides the loop guard. */
struct udp_policy {
	const struct conf	*conf;		/* allow, deny, udp_rate_* */
	struct source_shared	*sources;	/* NULL: no rate limit */
	uint64_t		 now_ms;
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
int	udp_echo(int fd, char *buf, size_t buflen, const struct udp_policy *,
	    struct udp_counters *);

#endif
