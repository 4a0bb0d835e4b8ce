/* listen.h - listening sockets: bound from the configuration or passed by systemd. */
#ifndef ECHOD_LISTEN_H
#define ECHOD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "addr.h"

enum proto { PROTO_TCP, PROTO_UDP };

struct listener {
	int		 fd;
	enum proto	 proto;
	bool		 passed;		/* from systemd; never closed on reload */
	char		 spec[ADDR_STRLEN];	/* as configured: "localhost:7007" */
	char		 name[ADDR_STRLEN];	/* as bound: "127.0.0.1:7007" */
	/* What a reload compares: the address asked for (port 0 for "any
	 * port") and the one bound.  Never the spelling. */
	struct sockaddr_storage asked, bound;
	socklen_t	 asked_len, bound_len;
	/* UDP: bound with SO_REUSEPORT, so it may have shards (shard.h):
	 * sockets of its group by worker rank, -1 where none. */
	bool		 reuseport;
	int		*shard;
	size_t		 n_shard;
};

struct listeners {
	struct listener	*v;
	size_t		 n;
};

const char	*proto_name(enum proto);

/*
 * What to listen on: "host:port" specs per protocol and the backlog of
 * their TCP sockets.  The caller builds it from its configuration (sys/
 * never reads struct conf); the specs are read, not kept.
 */
struct listen_spec {
	char *const	*tcp;
	size_t		 n_tcp;
	char *const	*udp;
	size_t		 n_udp;
	int		 backlog;
};

/*
 * Takes the sockets systemd passed (LISTEN_FDS).  Returns how many (0 when
 * none were passed), or -1 with err set for a socket echod cannot serve.
 */
int	listen_from_systemd(struct listeners *ls, char *err, size_t errlen);
/* How many listeners systemd passes (LISTEN_FDS, parked connections not
 * counted), leaving them for listen_from_systemd(): a start with any uses
 * them instead of listen_tcp and listen_udp. */
int	listen_passed(void);
/* A UDP socket bound where l is, in the SO_REUSEPORT group of l's socket
 * (a worker's own, shard.h): non-blocking, close-on-exec, with pktinfo.
 * -1 with errno. */
int	listen_join(const struct listener *l);
/* Moves the listener at index i out of ls, closing its sockets. */
void	listen_remove(struct listeners *ls, size_t i);
void	listen_close_all(struct listeners *ls);
/*
 * Makes ls listen on exactly the addresses want's specs resolve to, with
 * want's backlog: binds the added ones, closes the dropped
 * ones (never a passed one), keeps the rest open.  Addresses are matched by
 * protocol, family, address and port, so "localhost:7" keeps the socket of
 * "127.0.0.1:7"; a spec with port 0 keeps the socket it got before.  An
 * address listed twice is bound once.  If a spec does not resolve, an added
 * address cannot be bound or memory runs out, changes nothing and says why
 * in err.  note(true, l) and note(false, l) are told of each listener added
 * and closed.  listen_prepare() and listen_commit() in one.
 */
int	listen_reconcile(struct listeners *ls, const struct listen_spec *want,
	    void (*note)(bool added, const struct listener *),
	    char *err, size_t errlen);

/*
 * The same in two steps, so that a reload can bind everything it needs
 * (echo, metrics, control) before any of it takes effect.  A plan holds
 * the sockets bound for ls but not yet in it.
 */
struct listen_plan {
	struct listeners added;		/* bound, not yet serving */
	size_t		 n_old;		/* ls->n when prepared */
	bool		*keep;		/* per listener of ls: still wanted */
	char		(*spell)[ADDR_STRLEN];	/* its new spec, if kept */
};

/* Resolves and binds what want adds to ls, changing nothing ls serves; -1
 * with err (nothing left bound), as listen_reconcile() says. */
int	listen_prepare(struct listeners *ls, const struct listen_spec *spec,
	    struct listen_plan *p, char *err, size_t errlen);
/* Applies p to ls, which must not have changed since: cannot fail.
 * Returns how many listeners were added and closed. */
size_t	listen_commit(struct listeners *ls, struct listen_plan *p,
	    void (*note)(bool added, const struct listener *));
/* Closes what p bound, leaving ls as it was. */
void	listen_abandon(struct listen_plan *p);

#endif
