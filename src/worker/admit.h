/* admit.h - who may talk to echod: the allow and deny lists, then the
 * per-source limits (TCP connections, UDP rate), for both protocols. */
#ifndef ECHOD_ADMIT_H
#define ECHOD_ADMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * With udp_rate_limit = 0 each source is still held to this many datagrams
 * a second, in bursts of ADMIT_UDP_CEILING_BURST: far above what one source
 * of a benchmark gets (some 3,000/s each for 32 sources on two cores), and
 * well below the tens of thousands a second at which a datagram bounces
 * between two echo servers on one host or a LAN, which therefore stops
 * within a fraction of a second.  echod.conf(5) documents it.
 */
#define ADMIT_UDP_CEILING_RATE	5000
#define ADMIT_UDP_CEILING_BURST	1000

struct conf;
struct logbudget;
struct source_shared;

enum admit_proto {
	ADMIT_TCP,	/* a connection, counted until admit_release() */
	ADMIT_UDP,	/* a datagram, charged to its source's rate */
};

enum admit_verdict {
	ADMIT_OK,
	ADMIT_DENIED,		/* matches the deny list */
	ADMIT_NOT_ALLOWED,	/* an allow list is set and names it not */
	ADMIT_UNTRACKED,	/* TCP: a limit is set, and this worker's
				 * table has no room to count the source */
	ADMIT_SOURCE_LIMIT,	/* TCP: max_connections_per_source reached */
	ADMIT_RATE_LIMITED,	/* UDP: over the source's rate */
	ADMIT_CONN_RATE,	/* TCP: over tcp_rate_limit */
};

/* What decides, as one worker sees it now. */
struct admit_policy {
	const struct conf	*conf;		/* allow, deny, the limits */
	struct source_shared	*sources;	/* the pool-wide tables */
	int			 slot;		/* TCP: the table counted in */
	unsigned		 nslots;	/* TCP: slots summed, [0, nslots) */
	uint64_t		 now_ms;	/* the rates' clock */
	struct logbudget	*logs;		/* for the caller's lines; may be NULL */
};

/*
 * May the client at sa talk?  Its address is an argument, not the
 * socket's peer, so that a relay's header can name the real client.
 * A TCP client is counted in before the limit is looked at (of two workers
 * admitting the same source at once, at least one sees both); with a limit
 * set, one that cannot be counted is refused, never let past it uncounted.
 * On ADMIT_OK for TCP, *counted says whether it was counted: then
 * admit_release() when the connection closes.  counted may be NULL for UDP.
 */
enum admit_verdict admit_client(const struct admit_policy *, enum admit_proto,
	    const struct sockaddr *sa, bool *counted);
/* A counted TCP connection from sa has closed. */
void	admit_release(const struct admit_policy *, const struct sockaddr *sa);
/* The reason of a refusal, for a log line: "denied by deny", ... */
const char *admit_reason(enum admit_verdict);

#endif
