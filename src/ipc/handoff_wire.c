/*
 * handoff_wire.c - the wire format of a connection handed between processes,
 * and the channel messages that carry it.  A state memfd is a header and
 * one record per descriptor, in the descriptors' order:
 *
 *   header  u32 magic "EHO\1", u16 version, u16 header length, u32 count,
 *           u32 fixed record length
 *   record  u64 id, bytes, start_us, idle_ms; u32 pend_len; u16 flags;
 *           u8 peerlen, proxylen; 28 bytes peer; 28 bytes proxy;
 *           then pend_len bytes of unsent echo
 *
 * flags: 1 the client shut its side, 2 a balancer's own connection, 4 its
 * PROXY header is not complete (the bytes after the record are the part
 * read so far, not echo).  peer is the socket's; proxy the client its
 * PROXY header named, if it had one.
 *
 * Host byte order: it never leaves the machine.  The sender seals the memfd
 * (no write, grow or shrink), so the reader can map it and parse in place
 * without a copy and without the writer changing it underneath.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handoff_wire.h"
#include "util.h"

#define MAGIC		0x014f4845u	/* "EHO\1" */
#define ADDR_ROOM	28		/* sizeof(struct sockaddr_in6) */
#define HDR_LEN		16
#define REC_LEN		96
#define F_RDEOF		0x0001
#define F_BALANCER	0x0002	/* the balancer's own (PROXY LOCAL) */
#define F_PROXYIN	0x0004	/* inside its PROXY header */

_Static_assert(sizeof(struct sockaddr_in6) == ADDR_ROOM, "address room");

struct wire_hdr {
	uint32_t	magic;
	uint16_t	version, hdrlen;
	uint32_t	count, reclen;
};

struct wire_rec {
	uint64_t	id, bytes, start_us, idle_ms;
	uint32_t	pend_len;
	uint16_t	flags;
	uint8_t		peerlen, proxylen;
	uint8_t		peer[ADDR_ROOM], proxy[ADDR_ROOM];
};

_Static_assert(sizeof(struct wire_hdr) == HDR_LEN, "header layout");
_Static_assert(sizeof(struct wire_rec) == REC_LEN, "record layout");

size_t
handoff_encoded_len(const struct handoff_rec *v, size_t n)
{
	size_t len = HDR_LEN;

	for (size_t i = 0; i < n; i++)
		len += REC_LEN + v[i].pend_len;
	return len;
}

void
handoff_encode_buf(const struct handoff_rec *v, size_t n, void *buf)
{
	struct wire_hdr h = { .magic = MAGIC, .version = HANDOFF_VERSION,
	    .hdrlen = HDR_LEN, .count = (uint32_t)n, .reclen = REC_LEN };
	char *p = buf;

	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (size_t i = 0; i < n; i++) {
		struct wire_rec w = { .id = v[i].id, .bytes = v[i].bytes,
		    .start_us = v[i].start_us, .idle_ms = v[i].idle_ms,
		    .pend_len = v[i].pend_len,
		    .flags = (uint16_t)((v[i].rd_eof ? F_RDEOF : 0) |
		    (v[i].balancer ? F_BALANCER : 0) |
		    (v[i].proxyin ? F_PROXYIN : 0)),
		    .peerlen = (uint8_t)v[i].peerlen,
		    .proxylen = (uint8_t)v[i].proxylen };
		memcpy(w.peer, &v[i].peer, v[i].peerlen);
		memcpy(w.proxy, &v[i].proxy, v[i].proxylen);
		memcpy(p, &w, sizeof(w));
		p += sizeof(w);
		if (v[i].pend_len > 0)
			memcpy(p, v[i].pend, v[i].pend_len);
		p += v[i].pend_len;
	}
}

int
handoff_encode(const struct handoff_rec *v, size_t n)
{
	size_t len = handoff_encoded_len(v, n);
	char *buf;
	int fd, saved;

	if ((buf = malloc(len)) == NULL)
		return -1;
	handoff_encode_buf(v, n, buf);
	fd = memfd_create("echod-handoff", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		goto fail;
	if (write_all(fd, buf, len) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
	    F_SEAL_SEAL) == -1)
		goto fail;
	free(buf);
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(buf);
	errno = saved;
	return -1;
}

/* A socket address as a peer may be: IPv4 or IPv6, at its exact length. */
static bool
valid_addr(const uint8_t *raw, unsigned len)
{
	sa_family_t fam;

	if (len < sizeof(fam))
		return false;
	memcpy(&fam, raw, sizeof(fam));
	return (fam == AF_INET && len == sizeof(struct sockaddr_in)) ||
	    (fam == AF_INET6 && len == sizeof(struct sockaddr_in6));
}

/* The header: this format and version, with a count that matches expect
 * (HANDOFF_ANY: its own, within bounds).  The count, or -1 with *why. */
static long
decode_header(const void *buf, size_t len, size_t expect, const char **why)
{
	struct wire_hdr h;

	if (len < HDR_LEN) {
		*why = "state shorter than its header";
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != MAGIC) {
		*why = "state of unknown format";
		return -1;
	}
	if (h.version != HANDOFF_VERSION || h.hdrlen != HDR_LEN ||
	    h.reclen != REC_LEN) {
		*why = "state of another version";
		return -1;
	}
	if (expect == HANDOFF_ANY && h.count <= HANDOFF_MAX_CONNS)
		expect = h.count;
	if (h.count != expect || expect > HANDOFF_MAX_CONNS) {
		*why = "state and descriptors do not match in number";
		return -1;
	}
	return (long)expect;
}

/* Is w (its pend_len bytes following, room bytes left) a record a sender
 * could have made?  Else *why says what is wrong with it. */
static bool
valid_rec(const struct wire_rec *w, size_t room, const char **why)
{
	if (w->flags & ~(F_RDEOF | F_BALANCER | F_PROXYIN))
		*why = "state with unknown flags";
	else if (!valid_addr(w->peer, w->peerlen) ||
	    (w->proxylen != 0 && !valid_addr(w->proxy, w->proxylen)))
		*why = "state with an invalid address";
	else if (w->pend_len > HANDOFF_MAX_PEND || room < w->pend_len)
		*why = "state with an unsent length out of bounds";
	else if ((w->flags & F_RDEOF) && w->pend_len == 0)
		*why = "state of a finished connection";
	/* Inside its header: nothing of it judged, nothing echoed. */
	else if ((w->flags & F_PROXYIN) && ((w->flags & ~F_PROXYIN) ||
	    w->proxylen != 0 || w->pend_len >= HANDOFF_MAX_PROXYIN))
		*why = "state of an impossible PROXY header";
	else
		return true;
	return false;
}

/* The record a valid w says, its unsent bytes at pend (in place). */
static void
decode_rec(struct handoff_rec *r, const struct wire_rec *w, const char *pend)
{
	r->id = w->id;
	r->bytes = w->bytes;
	r->start_us = w->start_us;
	r->idle_ms = w->idle_ms;
	r->rd_eof = (w->flags & F_RDEOF) != 0;
	r->balancer = (w->flags & F_BALANCER) != 0;
	r->proxyin = (w->flags & F_PROXYIN) != 0;
	memcpy(&r->peer, w->peer, w->peerlen);
	r->peerlen = w->peerlen;
	memcpy(&r->proxy, w->proxy, w->proxylen);
	r->proxylen = w->proxylen;
	r->pend = w->pend_len ? pend : NULL;
	r->pend_len = w->pend_len;
}

int
handoff_decode_buf(const void *buf, size_t len, size_t expect,
    struct handoff_batch *b, const char **why)
{
	const char *p = buf, *end = p + len;
	long n;

	memset(b, 0, sizeof(*b));
	if ((n = decode_header(buf, len, expect, why)) == -1)
		return -1;
	if (n > 0 && (b->v = calloc((size_t)n, sizeof(*b->v))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	p += HDR_LEN;
	for (long i = 0; i < n; i++) {
		struct wire_rec w;

		if ((size_t)(end - p) < REC_LEN) {
			*why = "state cut short";
			goto bad;
		}
		memcpy(&w, p, sizeof(w));
		p += REC_LEN;
		if (!valid_rec(&w, (size_t)(end - p), why))
			goto bad;
		decode_rec(&b->v[i], &w, p);
		p += w.pend_len;
	}
	if (p != end) {
		*why = "state with trailing bytes";
		goto bad;
	}
	b->n = (size_t)n;
	return 0;
bad:
	free(b->v);
	b->v = NULL;
	return -1;
}

int
handoff_decode(int memfd, size_t expect, struct handoff_batch *b,
    const char **why)
{
	const int need = F_SEAL_WRITE | F_SEAL_SHRINK;
	struct stat st;
	void *map;
	int seals;

	memset(b, 0, sizeof(*b));
	if ((seals = fcntl(memfd, F_GET_SEALS)) == -1 || (seals & need) != need) {
		*why = "state not in a sealed memfd";
		return -1;
	}
	if (fstat(memfd, &st) == -1 || st.st_size < HDR_LEN ||
	    (uint64_t)st.st_size > HDR_LEN + (uint64_t)(expect == HANDOFF_ANY ?
	    HANDOFF_MAX_CONNS : expect) * (REC_LEN + HANDOFF_MAX_PEND)) {
		*why = "state of an impossible size";
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, memfd, 0);
	if (map == MAP_FAILED) {
		*why = "state cannot be mapped";
		return -1;
	}
	if (handoff_decode_buf(map, (size_t)st.st_size, expect, b, why) == -1) {
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	b->map = map;
	b->maplen = (size_t)st.st_size;
	return 0;
}

void
handoff_batch_free(struct handoff_batch *b)
{
	free(b->v);
	if (b->map)
		munmap(b->map, b->maplen);
	memset(b, 0, sizeof(*b));
}

int
handoff_check_socket(int fd, const char **why)
{
	int type = 0, dom = 0, acc = 1;
	socklen_t l1 = sizeof(type), l2 = sizeof(dom), l3 = sizeof(acc);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l2) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l3) == -1) {
		*why = "not a socket";
		return -1;
	}
	if (type != SOCK_STREAM || (dom != AF_INET && dom != AF_INET6) || acc) {
		*why = "not a TCP connection";
		return -1;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1) {
		*why = "not connected";
		return -1;
	}
	return 0;
}

int
handoff_send(int chan, char type, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
	} u;
	struct iovec iov = { .iov_base = &type, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > HANDOFF_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(chan, &msg, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int
handoff_recv(int chan, char *type, int *fds, size_t maxfds, size_t *nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
	} u;
	char data[16];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	bool extra = false;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[HANDOFF_MAX_FDS];
		memcpy(got, CMSG_DATA(c), k * sizeof(int));
		for (size_t i = 0; i < k; i++) {
			if (*nfds < maxfds)
				fds[(*nfds)++] = got[i];
			else {
				close(got[i]);
				extra = true;
			}
		}
	}
	*type = data[0];
	if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || n != 1 || extra) {
		for (size_t i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EPROTO;
		return -1;
	}
	return 1;
}

size_t
handoff_finish(int fd, const char *pend, size_t len, uint64_t deadline_ms)
{
	while (len > 0) {
		ssize_t w = send(fd, pend, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			pend += w;
			len -= (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			break;
		uint64_t now = now_coarse_ms();
		if (now >= deadline_ms)
			break;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		(void)poll(&p, 1, (int)(deadline_ms - now));
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	return len;
}
