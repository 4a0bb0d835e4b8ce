/*
 * listen.c - the listening sockets.  Binding is separate from serving:
 * workers get a list of descriptors and do not care where they came from.
 * Every socket here is non-blocking and close-on-exec, and is shared by
 * all workers (one socket per address, never SO_REUSEPORT).
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

#include "listen.h"
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
	v->fd = fd;
	v->proto = proto;
	v->passed = passed;
	snprintf(v->spec, sizeof(v->spec), "%s", spec);
	addr_format(sa, salen, v->name, sizeof(v->name));
	return 0;
}

static int
open_one(const struct addrinfo *ai, enum proto proto, int backlog)
{
	int fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/* So that 0.0.0.0:7 and [::]:7 can both be bound. */
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		goto fail;
	if (proto == PROTO_TCP && listen(fd, backlog) == -1)
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
listen_bind(struct listeners *ls, const char *spec, enum proto proto,
    int backlog, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	char host[256], port[32], name[ADDR_STRLEN];
	const char *why;
	size_t first = ls->n;
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
		bool dup = false;
		int fd;

		/* /etc/hosts may name one address twice. */
		addr_format(ai->ai_addr, ai->ai_addrlen, name, sizeof(name));
		for (size_t i = first; i < ls->n; i++)
			if (strcmp(ls->v[i].name, name) == 0)
				dup = true;
		if (dup)
			continue;
		if ((fd = open_one(ai, proto, backlog)) == -1) {
			snprintf(err, errlen, "listen %s (%s %s): %s", spec,
			    proto_name(proto), name, strerror(errno));
			goto fail;
		}
		if (push(ls, fd, proto, false, spec, ai->ai_addr, ai->ai_addrlen) == -1) {
			close(fd);
			snprintf(err, errlen, "listen %s: out of memory", spec);
			goto fail;
		}
		/* Port 0: name the port the kernel chose. */
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
			addr_format((struct sockaddr *)&ss, sslen,
			    ls->v[ls->n - 1].name, sizeof(ls->v[0].name));
	}
	freeaddrinfo(res);
	return 0;
fail:
	freeaddrinfo(res);
	while (ls->n > first)
		listen_remove(ls, ls->n - 1);
	return -1;
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

void
listen_remove(struct listeners *ls, size_t i)
{
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

int
listen_find(const struct listeners *ls, enum proto proto, const char *spec)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].proto == proto && !ls->v[i].passed &&
		    strcmp(ls->v[i].spec, spec) == 0)
			return (int)i;
	return -1;
}

static bool
listed(char **v, size_t n, const char *spec)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], spec) == 0)
			return true;
	return false;
}

int
listen_reconcile(struct listeners *ls, char **tcp, size_t ntcp,
    char **udp, size_t nudp, int backlog,
    void (*note)(bool added, const struct listener *), char *err, size_t errlen)
{
	struct listeners added = { 0 };
	const struct { enum proto p; char **v; size_t n; } want[] = {
		{ PROTO_TCP, tcp, ntcp }, { PROTO_UDP, udp, nudp },
	};

	/* Bind first: a failure must leave everything as it was. */
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		for (size_t i = 0; i < want[k].n; i++)
			if (listen_find(ls, want[k].p, want[k].v[i]) == -1 &&
			    listen_find(&added, want[k].p, want[k].v[i]) == -1 &&
			    listen_bind(&added, want[k].v[i], want[k].p, backlog,
			    err, errlen) == -1) {
				listen_close_all(&added);
				return -1;
			}
	for (size_t i = ls->n; i-- > 0;) {
		const struct listener *l = &ls->v[i];
		bool keep = l->passed || (l->proto == PROTO_TCP ?
		    listed(tcp, ntcp, l->spec) : listed(udp, nudp, l->spec));
		if (!keep) {
			note(false, l);
			listen_remove(ls, i);
		}
	}
	for (size_t i = 0; i < added.n; i++) {
		struct listener *v = realloc(ls->v, (ls->n + 1) * sizeof(*v));
		if (v == NULL) {	/* keep the rest; lose only this one */
			close(added.v[i].fd);
			continue;
		}
		ls->v = v;
		ls->v[ls->n++] = added.v[i];
		note(true, &added.v[i]);
	}
	free(added.v);
	return 0;
}
