/* udp_batch.c - recvmmsg(2) and sendmmsg(2) over fixed slots; see udp_batch.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/mman.h>

#include "udp_batch.h"
#include "pktinfo.h"

#define EINTR_RETRIES	8	/* then the call's datagrams count as dropped */
#define GSO_CMSG_SPACE	CMSG_SPACE(sizeof(uint16_t))
#define GMSG_SPACE	(GSO_CMSG_SPACE + PKTINFO_TX_SPACE)

static int
sys_recv(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	return recvmmsg(fd, v, n, flags, NULL);
}

static int
sys_send(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	return sendmmsg(fd, v, n, flags);
}

const struct udp_batch_ops udp_batch_sys = { sys_recv, sys_send };

int
udp_batch_init(struct udp_batch *b, unsigned cap, size_t slotlen)
{
	size_t len = (size_t)cap * slotlen;
	void *p;

	memset(b, 0, sizeof(*b));
	b->ops = &udp_batch_sys;
	b->cap = cap;
	b->slotlen = slotlen;
	b->buf = NULL;
	/* mapped, so that slots never filled past their first page stay
	 * unbacked: 64-byte datagrams cost a page per slot, not 64 KiB */
	if ((p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return -1;
	b->buf = p;
	if ((b->from = calloc(cap, sizeof(*b->from))) == NULL ||
	    (b->iov = calloc(2 * (size_t)cap, sizeof(*b->iov))) == NULL ||
	    (b->rx = calloc(cap, sizeof(*b->rx))) == NULL ||
	    (b->tx = calloc(cap, sizeof(*b->tx))) == NULL ||
	    (b->gtx = calloc(cap, sizeof(*b->gtx))) == NULL ||
	    (b->gcount = calloc(cap, sizeof(*b->gcount))) == NULL ||
	    (b->rctl = calloc(cap, PKTINFO_RX_SPACE)) == NULL ||
	    (b->tctl = calloc(cap, PKTINFO_TX_SPACE)) == NULL ||
	    (b->gcmsg = calloc(cap, GMSG_SPACE)) == NULL) {
		int saved = errno;
		udp_batch_free(b);
		errno = saved;
		return -1;
	}
	for (unsigned i = 0; i < cap; i++) {
		b->iov[i].iov_base = b->buf + (size_t)i * slotlen;
		b->iov[i].iov_len = slotlen;
		b->rx[i].msg_hdr.msg_name = &b->from[i];
		b->rx[i].msg_hdr.msg_iov = &b->iov[i];
		b->rx[i].msg_hdr.msg_iovlen = 1;
		b->rx[i].msg_hdr.msg_control = b->rctl +
		    (size_t)i * PKTINFO_RX_SPACE;
		b->tx[i].msg_hdr.msg_iov = &b->iov[cap + i];
		b->tx[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

void
udp_batch_free(struct udp_batch *b)
{
	if (b->buf != NULL)
		munmap(b->buf, (size_t)b->cap * b->slotlen);
	free(b->from);
	free(b->iov);
	free(b->rx);
	free(b->tx);
	free(b->gtx);
	free(b->gcount);
	free(b->rctl);
	free(b->tctl);
	free(b->gcmsg);
	memset(b, 0, sizeof(*b));
}

int
udp_batch_recv(int fd, struct udp_batch *b)
{
	int n;

	b->n = b->ntx = 0;
	for (unsigned i = 0; i < b->cap; i++) {
		b->rx[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
		b->rx[i].msg_hdr.msg_controllen = PKTINFO_RX_SPACE;
		b->rx[i].msg_hdr.msg_flags = 0;
		b->rx[i].msg_len = 0;
	}
	if ((n = b->ops->recv(fd, b->rx, b->cap, MSG_DONTWAIT | MSG_TRUNC)) == -1)
		return -1;
	if (n == 0) {		/* not from a datagram socket; be safe */
		errno = EAGAIN;
		return -1;
	}
	b->n = (unsigned)n;
	return n;
}

char *
udp_batch_data(const struct udp_batch *b, unsigned i)
{
	return b->buf + (size_t)i * b->slotlen;
}

size_t
udp_batch_len(const struct udp_batch *b, unsigned i)
{
	return b->rx[i].msg_len;
}

bool
udp_batch_whole(const struct udp_batch *b, unsigned i)
{
	return !(b->rx[i].msg_hdr.msg_flags & MSG_TRUNC) &&
	    b->rx[i].msg_len <= b->slotlen;
}

const struct sockaddr *
udp_batch_from(const struct udp_batch *b, unsigned i)
{
	return &b->from[i].sa;
}

void
udp_batch_queue(struct udp_batch *b, unsigned i)
{
	struct mmsghdr *m = &b->tx[b->ntx];
	char *c = b->tctl + (size_t)b->ntx * PKTINFO_TX_SPACE;
	struct pktinfo pi;
	size_t clen;

	/* Parsed here, for the echoes only: no cost for what is refused. */
	pktinfo_get(&b->rx[i].msg_hdr, &pi);
	clen = pktinfo_put(c, b->from[i].sa.sa_family, &pi);
	m->msg_hdr.msg_control = clen > 0 ? c : NULL;
	m->msg_hdr.msg_controllen = clen;
	m->msg_hdr.msg_name = &b->from[i];
	m->msg_hdr.msg_namelen = b->rx[i].msg_hdr.msg_namelen;
	m->msg_hdr.msg_iov->iov_base = udp_batch_data(b, i);
	m->msg_hdr.msg_iov->iov_len = b->rx[i].msg_len;
	m->msg_hdr.msg_flags = 0;
	m->msg_len = 0;
	b->ntx++;
}

/* The socket, not the datagram's destination, cannot take more now. */
static bool
socket_full(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS ||
	    err == ENOMEM;
}

/* Sends tx[k..ntx) one message each, from k; see udp_batch_send(). */
static void
send_plain(int fd, struct udp_batch *b, unsigned k, struct udp_batch_sent *r)
{
	unsigned intr = 0;

	while (k < b->ntx) {
		int n = b->ops->send(fd, b->tx + k, b->ntx - k, MSG_DONTWAIT);

		if (n > 0) {
			for (unsigned i = k; i < k + (unsigned)n; i++)
				r->bytes += b->tx[i].msg_hdr.msg_iov->iov_len;
			r->sent += (unsigned)n;
			k += (unsigned)n;
			continue;
		}
		if (n == -1 && errno == EINTR && ++intr <= EINTR_RETRIES)
			continue;
		if (n == 0)
			errno = EIO;	/* no progress and no reason: drop it */
		if (r->error == 0)
			r->error = errno;
		if (socket_full(errno)) {
			r->dropped += b->ntx - k;
			return;
		}
		r->dropped++;		/* this one's destination: skip it */
		k++;
	}
}

/* One destination, one length, and one source: a GSO message has one. */
static bool
same_run(const struct mmsghdr *a, const struct mmsghdr *m)
{
	return a->msg_hdr.msg_namelen == m->msg_hdr.msg_namelen &&
	    a->msg_hdr.msg_iov->iov_len == m->msg_hdr.msg_iov->iov_len &&
	    a->msg_hdr.msg_controllen == m->msg_hdr.msg_controllen &&
	    memcmp(a->msg_hdr.msg_name, m->msg_hdr.msg_name,
	    m->msg_hdr.msg_namelen) == 0 &&
	    (m->msg_hdr.msg_controllen == 0 ||
	    memcmp(a->msg_hdr.msg_control, m->msg_hdr.msg_control,
	    m->msg_hdr.msg_controllen) == 0);
}

/* Groups tx into gtx: a run of one is tx's own message, a longer one a
 * GSO message over the run's iovecs.  Returns the number of messages. */
static unsigned
group(struct udp_batch *b)
{
	unsigned n = 0;

	for (unsigned i = 0, j; i < b->ntx; i = j, n++) {
		struct mmsghdr *m = &b->gtx[n];
		size_t seg = b->tx[i].msg_hdr.msg_iov->iov_len;

		for (j = i + 1; j < b->ntx && j - i < UDP_BATCH_GSO_MAX_RUN &&
		    seg <= UDP_BATCH_GSO_MAX_SEG && same_run(&b->tx[i], &b->tx[j]); j++)
			;
		*m = b->tx[i];
		b->gcount[n] = j - i;
		if (j - i > 1) {
			char *c = b->gcmsg + (size_t)n * GMSG_SPACE;
			struct cmsghdr *cm = (struct cmsghdr *)(void *)c;
			uint16_t gso = (uint16_t)seg;

			/* tx's iovecs are one array: the run's are adjacent */
			m->msg_hdr.msg_iovlen = j - i;
			m->msg_hdr.msg_control = c;
			m->msg_hdr.msg_controllen = GSO_CMSG_SPACE +
			    b->tx[i].msg_hdr.msg_controllen;
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
			/* the run's source, the same for all (same_run) */
			if (b->tx[i].msg_hdr.msg_controllen > 0)
				memcpy(c + GSO_CMSG_SPACE,
				    b->tx[i].msg_hdr.msg_control,
				    b->tx[i].msg_hdr.msg_controllen);
		}
	}
	return n;
}

/* The kernel or the device does not do GSO (or not for this size). */
static bool
gso_refused(int err)
{
	return err == EINVAL || err == EOPNOTSUPP || err == ENOPROTOOPT ||
	    err == EIO || err == EMSGSIZE;
}

/*
 * Sends in GSO runs; returns the first echo not yet sent nor dropped: ntx
 * when done, less if GSO was refused (then b->gso is off).
 */
static unsigned
send_gso(int fd, struct udp_batch *b, struct udp_batch_sent *r)
{
	unsigned nmsg = group(b), m = 0, k = 0, intr = 0;

	while (m < nmsg) {
		int n = b->ops->send(fd, b->gtx + m, nmsg - m, MSG_DONTWAIT);

		if (n > 0) {
			for (unsigned i = m; i < m + (unsigned)n; i++) {
				r->sent += b->gcount[i];
				r->bytes += (uint64_t)b->gcount[i] *
				    b->gtx[i].msg_hdr.msg_iov->iov_len;
				k += b->gcount[i];
			}
			m += (unsigned)n;
			continue;
		}
		if (n == -1 && errno == EINTR && ++intr <= EINTR_RETRIES)
			continue;
		if (n == 0)
			errno = EIO;
		if (b->gcount[m] > 1 && gso_refused(errno)) {
			b->gso = false;
			return k;	/* the rest go one by one */
		}
		if (r->error == 0)
			r->error = errno;
		if (socket_full(errno)) {
			r->dropped += b->ntx - k;
			return b->ntx;
		}
		r->dropped += b->gcount[m];
		k += b->gcount[m];
		m++;
	}
	return k;
}

struct udp_batch_sent
udp_batch_send(int fd, struct udp_batch *b)
{
	struct udp_batch_sent r = { 0, 0, 0, 0 };
	unsigned k = 0;

	if (b->gso)
		k = send_gso(fd, b, &r);
	send_plain(fd, b, k, &r);
	b->ntx = 0;
	return r;
}
