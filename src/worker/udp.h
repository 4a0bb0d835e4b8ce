/* udp.h - datagram echo and its guards. */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The largest UDP payload: 65535 - 8 over IPv6 (IPv4's is 65507). */
#define UDP_MAX_DATAGRAM	65527
#define UDP_BATCH		64	/* datagrams per recvmmsg(2) */
#define UDP_ROUNDS		4	/* full batches per wake-up, for fairness */

struct admit_policy;
struct udp_batch;

struct udp_counters {
	uint64_t	echoed;		/* datagrams sent back */
	uint64_t	bytes;
	uint64_t	refused;	/* loop guard */
	uint64_t	denied;		/* allow/deny lists */
	uint64_t	limited;	/* over the source's rate */
	uint64_t	dropped;	/* could not send: UDP is lossy */
	uint64_t	truncated;	/* larger than the buffer: not echoed */
};

/* Whether anything was counted; the counters as one log line. */
bool	udp_counted(const struct udp_counters *);
void	udp_log_counters(const struct udp_counters *);

/*
 * The echo-loop guard (CVE-1999-0103): never answer a datagram from a
 * service port - ports below 1024 and port 0, and a few well-known UDP
 * services above - or the two services can bounce a packet forever.  Two
 * servers on other ports are stopped by the rate limit, or by its ceiling
 * (admit.h) when it is off.
 */
bool	udp_source_allowed(const struct sockaddr *);
/*
 * Echoes the datagrams waiting on in, from out (a socket bound where in is:
 * the address's own, see shard.h; or in itself), a batch (udp_batch.h) at
 * a time, up to UDP_ROUNDS batches while they come full; a datagram larger
 * than the batch's slots (UDP_MAX_DATAGRAM bytes hold any) is dropped,
 * never echoed cut short.  Each one passes the loop guard, then admission (admit.h)
 * unless the policy is NULL; the echoes go back in the order the datagrams
 * came, and each one the kernel does not take counts as dropped.
 * Returns 0 when the queue was emptied, 1 when datagrams may be left after
 * UDP_ROUNDS full batches, or -1 with errno on a socket error.
 */
int	udp_echo(int in, int out, struct udp_batch *,
	    const struct admit_policy *, struct udp_counters *);

#endif
