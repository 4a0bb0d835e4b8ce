/*
 * udp_batch.h - datagrams in batches: one recvmmsg(2) fills a slot per datagram,
 * and one sendmmsg(2) sends back the ones chosen, in the order they came.
 * It moves datagrams; what is echoed and why is udp.c's.
 */
#ifndef ECHOD_UDP_BATCH_H
#define ECHOD_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

/*
 * The system calls, replaceable so that a test can make a send stop
 * part-way through a batch.  Both return what recvmmsg(2)/sendmmsg(2) do.
 */
struct udp_batch_ops {
	int	(*recv)(int fd, struct mmsghdr *, unsigned n, int flags);
	int	(*send)(int fd, struct mmsghdr *, unsigned n, int flags);
};
extern const struct udp_batch_ops udp_batch_sys;

struct udp_batch {
	const struct udp_batch_ops	*ops;
	unsigned		 cap;		/* slots */
	size_t			 slotlen;	/* a slot holds this much */
	unsigned		 n;		/* received by the last udp_batch_recv() */
	unsigned		 ntx;		/* queued by udp_batch_queue() */
	char			*buf;		/* cap * slotlen, touched as used */
	union sockaddr_any	*from;
	struct iovec		*iov;		/* the slots, then the echoes */
	struct mmsghdr		*rx, *tx;
	/* each datagram's destination (pktinfo.h), and each echo's source */
	char			*rctl;		/* PKTINFO_RX_SPACE per slot */
	char			*tctl;		/* PKTINFO_TX_SPACE per echo */
	/* GSO: runs of echoes to one destination as one message */
	bool			 gso;		/* try it (off after a refusal) */
	struct mmsghdr		*gtx;		/* the messages... */
	unsigned		*gcount;	/* ...and the echoes in each */
	char			*gcmsg;		/* UDP_SEGMENT, source, per message */
};

/* Echoes of one length to one destination, next to each other in a batch,
 * go out as one UDP_SEGMENT message (GSO) of at most this many, when each
 * is at most UDP_BATCH_GSO_MAX_SEG bytes (below any path's MTU). */
#define UDP_BATCH_GSO_MAX_RUN	64
#define UDP_BATCH_GSO_MAX_SEG	1200

/* Slots for cap datagrams of up to slotlen bytes.  The memory is mapped,
 * not touched: a slot's pages are only paid for once a datagram fills
 * them.  -1 with errno. */
int	udp_batch_init(struct udp_batch *, unsigned cap, size_t slotlen);
void	udp_batch_free(struct udp_batch *);

/*
 * Receives up to cap waiting datagrams without waiting (MSG_TRUNC: a
 * datagram's real length, even past its slot), and forgets what was
 * queued.  Returns how many (>= 1), or -1 with errno (EAGAIN: none).
 */
int	udp_batch_recv(int fd, struct udp_batch *);
/* Datagram i of the last udp_batch_recv(): its bytes, its length (which may
 * exceed the slot: udp_batch_whole() is then false), its source. */
char	*udp_batch_data(const struct udp_batch *, unsigned i);
size_t	 udp_batch_len(const struct udp_batch *, unsigned i);
bool	 udp_batch_whole(const struct udp_batch *, unsigned i);
const struct sockaddr *udp_batch_from(const struct udp_batch *, unsigned i);

/* Queues datagram i (which must be whole) to go back to its source, from
 * the address it was sent to when the socket tells it (pktinfo.h). */
void	udp_batch_queue(struct udp_batch *, unsigned i);

struct udp_batch_sent {
	unsigned	sent;		/* datagrams the kernel took */
	uint64_t	bytes;		/* their bytes */
	unsigned	dropped;	/* queued, not sent */
	int		error;		/* the first errno of a drop, or 0 */
};
/*
 * Sends what was queued, in order, in as few sendmmsg(2) calls as the
 * kernel allows.  When one stops part-way, the datagram it stopped at is
 * dropped alone if the error is that datagram's (its destination), and
 * with all that follow if the socket itself is full (EAGAIN, ENOBUFS,
 * ENOMEM); the rest go on in order.  sent + dropped is always what was
 * queued; a signal interrupting a call retries it.  With b->gso, runs (one
 * destination, source address and length) go out as GSO messages, all of
 * a run or none; a kernel or device that refuses GSO turns it off for the
 * batch, and the run goes out one by one.
 */
struct udp_batch_sent udp_batch_send(int fd, struct udp_batch *);

#endif
