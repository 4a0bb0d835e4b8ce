/*
 * shard.c - a UDP socket of its own for each worker (shard.h says why).
 * The master opens and closes the shards; each worker keeps its own and
 * the listener's socket, and closes the rest.
 *
 * The group's sockets are numbered by the kernel in the order they joined,
 * and closing one moves the last into its place.  The listener's socket
 * joined first, so it is always 0, and the shards are 1 to the count open;
 * so the program needs only that count, not which socket is where.  A
 * copy still open in a worker after the master closed its own (a worker
 * that has not yet drained) stays in the group a little longer, above the
 * count, and gets nothing new.
 */
#include "config.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shard.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF	51
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF		68
#endif

/*
 * The program: a hash of the source address and port, modulo n, plus 1.
 * Offsets are from the network header (SKF_NET_OFF); a load past the
 * packet ends the program with 0, the listener's own socket, which every
 * worker reads.
 */
#define LD_NET(size, off) \
	BPF_STMT(BPF_LD | (size) | BPF_ABS, (uint32_t)(SKF_NET_OFF + (off)))

static int
steer_prog(int family, uint32_t n, struct sock_filter *f)
{
	int k = 0;

	if (family == AF_INET) {
		/* X = the IPv4 header's length; A = source port, then
		 * address XOR port */
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH,
		    (uint32_t)SKF_NET_OFF);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_IND,
		    (uint32_t)SKF_NET_OFF);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
		f[k++] = (struct sock_filter)LD_NET(BPF_W, 12);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	} else {
		/* the last two words of the source address, and the port past
		 * the fixed header */
		f[k++] = (struct sock_filter)LD_NET(BPF_H, 40);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
		f[k++] = (struct sock_filter)LD_NET(BPF_W, 16);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
		f[k++] = (struct sock_filter)LD_NET(BPF_W, 20);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	}
	/* fold the high half in, so that a modulus sees every bit */
	f[k++] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	return k;
}

size_t
shard_count(const struct listener *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n_shard; i++)
		n += l->shard[i] != -1;
	return n;
}

/* Steers the group over the shards open; with none, takes the program off
 * and the listener's socket gets everything, as it did alone. */
static int
steer(const struct listener *l)
{
	struct sock_filter f[16];
	struct sock_fprog prog = { .filter = f };
	size_t n = shard_count(l);
	int off = 0;

	if (n == 0) {
		if (setsockopt(l->fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &off,
		    sizeof(off)) == -1 && errno != ENOENT)
			return -1;
		return 0;
	}
	prog.len = (unsigned short)steer_prog(l->bound.ss_family, (uint32_t)n, f);
	return setsockopt(l->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog));
}

bool
shard_able(const struct listener *l)
{
	return l->proto == PROTO_UDP && l->reuseport &&
	    (l->bound.ss_family == AF_INET || l->bound.ss_family == AF_INET6);
}

int
shard_open(struct listener *l, size_t rank)
{
	int fd, saved;

	if (!shard_able(l)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (rank < l->n_shard && l->shard[rank] != -1)
		return 0;
	if (rank >= l->n_shard) {
		int *v = realloc(l->shard, (rank + 1) * sizeof(*v));
		if (v == NULL)
			return -1;
		for (size_t i = l->n_shard; i <= rank; i++)
			v[i] = -1;
		l->shard = v;
		l->n_shard = rank + 1;
	}
	if ((fd = listen_join(l)) == -1)
		return -1;
	l->shard[rank] = fd;
	if (steer(l) == -1) {
		saved = errno;
		l->shard[rank] = -1;
		close(fd);
		(void)steer(l);
		errno = saved;
		return -1;
	}
	return 0;
}

void
shard_close(struct listener *l, size_t rank)
{
	if (rank >= l->n_shard || l->shard[rank] == -1)
		return;
	close(l->shard[rank]);
	l->shard[rank] = -1;
	(void)steer(l);	/* fewer: it only ever took a count that worked */
}

void
shard_trim(struct listener *l, size_t n)
{
	for (size_t i = l->n_shard; i-- > n;)
		shard_close(l, i);
}

void
shard_give_up(struct listener *l)
{
	shard_trim(l, 0);
	l->reuseport = false;
}

int
shard_fd(const struct listener *l, size_t rank)
{
	return rank < l->n_shard ? l->shard[rank] : -1;
}

void
shard_close_others(const struct listeners *ls, size_t keep)
{
	for (size_t i = 0; i < ls->n; i++)
		for (size_t r = 0; r < ls->v[i].n_shard; r++)
			if (r != keep && ls->v[i].shard[r] != -1)
				close(ls->v[i].shard[r]);
}
