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
/*
 * With udp_rate_limit = 0 each source is still held to this many datagrams
 * a second, in bursts of UDP_CEILING_BURST: far above what one source of a
 * benchmark gets (some 3,000/s each for 32 sources on two cores), and well
 * below the tens of thousands a second at which a datagram bounces between
 * two echo servers on one host or a LAN, which therefore stops within a
 * fraction of a second.  echod.conf(5) documents it.
 */
#define UDP_CEILING_RATE	5000
#define UDP_CEILING_BURST	1000

struct conf;
struct source_shared;

struct udp_counters {
	uint64_t	echoed;		/* datagrams sent back */
	uint64_t	bytes;
	uint64_t	refused;	/* loop guard */
	uint64_t	denied;		/* allow/deny lists */
	uint64_t	limited;	/* over the source's rate */
	uint64_t	dropped;	/* could not send: UDP is lossy */
	uint64_t	truncated;	/* larger than the buffer: not echoed */
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
 * services above - or the two services can bounce a packet forever.  Two
 * servers on other ports are stopped by the rate limit, or by the ceiling
 * above when it is off.
 */
bool	udp_source_allowed(const struct sockaddr *);
/*
 * Echoes up to UDP_BATCH waiting datagrams from fd using buf (UDP_MAX_DATAGRAM
 * bytes hold any); a datagram larger than buflen is dropped, never echoed cut
 * short.  Returns 0, or -1 with errno on a socket error.
 */
int	udp_echo(int fd, char *buf, size_t buflen, const struct udp_policy *,
	    struct udp_counters *);

#endif
