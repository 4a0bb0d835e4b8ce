/*
 * listen.c - the listening sockets.  Binding is separate from serving:
 * workers get a list of descriptors and do not care where they came from.
 * Every socket here is non-blocking and close-on-exec, and is shared by
 * all workers: one socket per address, and for UDP the shards of
 * shard.c beside it.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "listen.h"
#include "pktinfo.h"
#include "util.h"

const char *
proto_name(enum proto p)
{
	return p == PROTO_TCP ? "tcp" : "udp";
}

static int
push(struct listeners *ls, int fd, enum proto proto, bool passed,
    const char *spec, const struct sockaddr *sa, socklen_t salen)
{
	struct listener *v = realloc(ls->v, (ls->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	ls->v = v;
	v += ls->n++;
	memset(v, 0, sizeof(*v));
	v->fd = fd;
	v->proto = proto;
	v->passed = passed;
	snprintf(v->spec, sizeof(v->spec), "%s", spec);
	memcpy(&v->asked, sa, salen);
	v->asked_len = salen;
	/* Port 0: name the port the kernel chose. */
	v->bound_len = sizeof(v->bound);
	if (getsockname(fd, (struct sockaddr *)&v->bound, &v->bound_len) == -1) {
		memcpy(&v->bound, sa, salen);
		v->bound_len = salen;
	}
	addr_format((struct sockaddr *)&v->bound, v->bound_len, v->name,
	    sizeof(v->name));
	if (proto == PROTO_UDP) {
		int on = 0;
		socklen_t len = sizeof(on);
		v->reuseport = getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
		    &len) == 0 && on;
	}
	return 0;
}

/*
 * Whether no socket holds sa: a probe bound without SO_REUSEPORT conflicts
 * with any holder.  A UDP socket with the option would join a group of
 * another process of ours instead, and share its datagrams.  *ss gets the
 * address the probe got, so port 0 names the port the kernel chose.
 */
static int
probe_free(const struct sockaddr *sa, socklen_t salen,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	int probe, on = 1, rc = 0, saved;

	if ((probe = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if ((sa->sa_family == AF_INET6 && setsockopt(probe, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(probe, sa, salen) == -1 ||
	    getsockname(probe, (struct sockaddr *)ss, sslen) == -1)
		rc = -1;
	saved = errno;
	close(probe);
	errno = saved;
	return rc;
}

/* A listening socket at sa; join: a UDP one in the group of the socket
 * bound there already (shard.c), not one alone at a free address. */
static int
open_one(const struct sockaddr *sa, socklen_t salen, enum proto proto,
    int backlog, bool join)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd, on = 1;

	if (proto == PROTO_UDP && !join) {
		if (probe_free(sa, salen, &ss, &sslen) == -1)
			return -1;
	} else {
		memcpy(&ss, sa, salen);
		sslen = salen;
	}
	fd = socket(sa->sa_family, (proto == PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/*
	 * TCP: SO_REUSEADDR lets a restart bind past connections in TIME_WAIT.
	 * UDP: SO_REUSEPORT lets the workers' own sockets join this one's
	 * group (shard.h); on UDP, SO_REUSEADDR would let any process that set
	 * it share the port and get our datagrams.
	 */
	if (setsockopt(fd, SOL_SOCKET, proto == PROTO_TCP ? SO_REUSEADDR :
	    SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	/* So that 0.0.0.0:7 and [::]:7 can both be bound. */
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		goto fail;
	if (proto == PROTO_TCP && listen(fd, backlog) == -1)
		goto fail;
	/* A wildcard's echoes leave from the address each datagram came to. */
	if (proto == PROTO_UDP && pktinfo_enable(fd) == -1)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

int
listen_join(const struct listener *l)
{
	return open_one((const struct sockaddr *)&l->bound, l->bound_len,
	    PROTO_UDP, 0, true);
}

int
listen_from_systemd(struct listeners *ls, char *err, size_t errlen)
{
	char **names = NULL;
	int n, count = 0;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(err, errlen, "sockets from systemd: %s", strerror(-n));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *nm = names && names[i] ? names[i] : "unknown";
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		enum proto proto;

		if (fdstore_is_ours(nm))
			continue;	/* a parked connection: fdstore.c's */
		/* Told apart by kind, not by position. */
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
			proto = PROTO_TCP;
		else if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
			proto = PROTO_UDP;
		else {
			snprintf(err, errlen, "socket %d (%s) from systemd: neither a "
			    "listening stream socket nor a datagram socket", fd, nm);
			count = -1;
			break;
		}
		if (fd_set_nonblock(fd, 1) == -1 || fd_set_cloexec(fd) == -1 ||
		    getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
			snprintf(err, errlen, "socket %d (%s) from systemd: %s", fd, nm,
			    strerror(errno));
			count = -1;
			break;
		}
		/* Set here, once: the workers share this socket. */
		if (proto == PROTO_UDP && pktinfo_enable(fd) == -1) {
			snprintf(err, errlen, "socket %d (%s) from systemd: asking "
			    "for each datagram's destination (IP_PKTINFO): %s", fd,
			    nm, strerror(errno));
			count = -1;
			break;
		}
		if (push(ls, fd, proto, true, nm, (struct sockaddr *)&ss, sslen) == -1) {
			snprintf(err, errlen, "sockets from systemd: out of memory");
			count = -1;
			break;
		}
		count++;
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return count;
}

int
listen_passed(void)
{
	char **names = NULL;
	int n, count = 0;

	if ((n = sd_listen_fds_with_names(0, &names)) <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		/* a parked connection is not a listener (fdstore.c's) */
		if (names == NULL || names[i] == NULL || !fdstore_is_ours(names[i]))
			count++;
		if (names)
			free(names[i]);
	}
	free(names);
	return count;
}

void
listen_remove(struct listeners *ls, size_t i)
{
	for (size_t r = 0; r < ls->v[i].n_shard; r++)
		if (ls->v[i].shard[r] != -1)
			close(ls->v[i].shard[r]);
	free(ls->v[i].shard);
	close(ls->v[i].fd);
	memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(ls->v[0]));
	ls->n--;
}

void
listen_close_all(struct listeners *ls)
{
	while (ls->n > 0)
		listen_remove(ls, ls->n - 1);
	free(ls->v);
	ls->v = NULL;
}

/* Same family, address, port (and IPv6 scope): the spelling does not count. */
static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    x->sin6_scope_id == y->sin6_scope_id &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/*
 * The kernel keeps a scope id only for link-local addresses: [::1%1]:7 binds
 * [::1]:7, and getsockname() says so.  Dropped here too, or the respelling
 * would not match the socket bound from the other and would fail with
 * EADDRINUSE against it.
 */
static void
unscope(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6 && !IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) &&
	    !IN6_IS_ADDR_MC_LINKLOCAL(&s6->sin6_addr))
		s6->sin6_scope_id = 0;
}

/* One address a spec resolves to. */
struct want {
	enum proto		 proto;
	const char		*spec;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

struct wants {
	struct want	*v;
	size_t		 n;
};

/* Appends what spec resolves to, skipping addresses already wanted (a spec
 * listed twice, two spellings of one address, /etc/hosts naming one twice). */
static int
resolve(struct wants *w, const char *spec, enum proto proto, char *err,
    size_t errlen)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	char host[256], port[32];
	const char *why;
	int rc;

	if (addr_split(spec, host, sizeof(host), port, sizeof(port), &why) == -1) {
		snprintf(err, errlen, "listen %s: %s", spec, why);
		return -1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = proto == PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s (%s): %s", spec, proto_name(proto),
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct sockaddr_storage ss = { 0 };
		bool dup = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(ss))
			continue;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		unscope(&ss);
		for (size_t i = 0; i < w->n && !dup; i++)
			dup = w->v[i].proto == proto && same_addr(&w->v[i].ss, &ss);
		if (dup)
			continue;
		struct want *v = realloc(w->v, (w->n + 1) * sizeof(*v));
		if (v == NULL) {
			snprintf(err, errlen, "listen %s: out of memory", spec);
			freeaddrinfo(res);
			return -1;
		}
		w->v = v;
		w->v[w->n++] = (struct want){ proto, spec, ss, ai->ai_addrlen };
	}
	freeaddrinfo(res);
	return 0;
}

/* The listener in ls that serves w: bound from it (port 0 included) or bound
 * at it (a spec naming the port the kernel chose), or -1. */
static int
serving(const struct listeners *ls, const struct want *w)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct listener *l = &ls->v[i];
		if (!l->passed && l->proto == w->proto &&
		    (same_addr(&l->asked, &w->ss) || same_addr(&l->bound, &w->ss)))
			return (int)i;
	}
	return -1;
}

/* Each wanted address's socket: kept from ls, or bound into p->added. */
static int
bind_wanted(struct listeners *ls, const struct wants *want, int backlog,
    struct listen_plan *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < want->n; i++) {
		const struct want *w = &want->v[i];
		char name[ADDR_STRLEN];
		int fd, at;

		if ((at = serving(ls, w)) != -1) {
			p->keep[at] = true;
			continue;
		}
		if ((fd = open_one((const struct sockaddr *)&w->ss, w->len, w->proto,
		    backlog, false)) == -1) {
			addr_format((const struct sockaddr *)&w->ss, w->len, name,
			    sizeof(name));
			snprintf(err, errlen, "listen %s (%s %s): %s", w->spec,
			    proto_name(w->proto), name, strerror(errno));
			return -1;
		}
		if (push(&p->added, fd, w->proto, false, w->spec,
		    (const struct sockaddr *)&w->ss, w->len) == -1) {
			close(fd);
			snprintf(err, errlen, "listen %s: out of memory", w->spec);
			return -1;
		}
	}
	/* A kept socket takes the new spelling (the first spec naming it). */
	for (size_t i = want->n; i-- > 0;) {
		int at = serving(ls, &want->v[i]);
		if (at != -1)
			snprintf(p->spell[at], sizeof(p->spell[0]), "%s",
			    want->v[i].spec);
	}
	return 0;
}

int
listen_prepare(struct listeners *ls, const struct listen_spec *spec,
    struct listen_plan *p, char *err, size_t errlen)
{
	struct wants want = { 0 };
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->n_old = ls->n;
	for (size_t i = 0; i < spec->n_tcp; i++)
		if (resolve(&want, spec->tcp[i], PROTO_TCP, err, errlen) == -1)
			goto out;
	for (size_t i = 0; i < spec->n_udp; i++)
		if (resolve(&want, spec->udp[i], PROTO_UDP, err, errlen) == -1)
			goto out;
	if ((p->keep = calloc(ls->n + 1, sizeof(*p->keep))) == NULL ||
	    (p->spell = calloc(ls->n + 1, sizeof(*p->spell))) == NULL) {
		snprintf(err, errlen, "listen: out of memory");
		goto out;
	}
	if (bind_wanted(ls, &want, spec->backlog, p, err, errlen) == -1)
		goto out;
	/* Room for the added ones now: listen_commit() cannot fail. */
	if (p->added.n > 0) {
		struct listener *v = realloc(ls->v,
		    (ls->n + p->added.n) * sizeof(*v));
		if (v == NULL) {
			snprintf(err, errlen, "listen: out of memory");
			goto out;
		}
		ls->v = v;
	}
	rc = 0;
out:
	free(want.v);
	if (rc == -1)
		listen_abandon(p);
	return rc;
}

size_t
listen_commit(struct listeners *ls, struct listen_plan *p,
    void (*note)(bool added, const struct listener *))
{
	size_t changed = p->added.n;

	for (size_t i = p->n_old; i-- > 0;) {
		if (p->keep[i]) {
			memcpy(ls->v[i].spec, p->spell[i], sizeof(ls->v[i].spec));
			continue;
		}
		if (ls->v[i].passed)
			continue;
		note(false, &ls->v[i]);
		listen_remove(ls, i);
		changed++;
	}
	for (size_t i = 0; i < p->added.n; i++) {
		ls->v[ls->n++] = p->added.v[i];
		note(true, &p->added.v[i]);
	}
	p->added.n = 0;
	listen_abandon(p);
	return changed;
}

void
listen_abandon(struct listen_plan *p)
{
	listen_close_all(&p->added);
	free(p->keep);
	free(p->spell);
	p->keep = NULL;
	p->spell = NULL;
}

int
listen_reconcile(struct listeners *ls, const struct listen_spec *spec,
    void (*note)(bool added, const struct listener *), char *err, size_t errlen)
{
	struct listen_plan p;

	if (listen_prepare(ls, spec, &p, err, errlen) == -1)
		return -1;
	listen_commit(ls, &p, note);
	return 0;
}
