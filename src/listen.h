/* listen.h - listening sockets: bound from the configuration or passed by systemd. */
#ifndef ECHOD_LISTEN_H
#define ECHOD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

enum proto { PROTO_TCP, PROTO_UDP };

struct listener {
	int		 fd;
	enum proto	 proto;
	bool		 passed;		/* from systemd; never closed on reload */
	char		 spec[ADDR_STRLEN];	/* as configured: "localhost:7007" */
	char		 name[ADDR_STRLEN];	/* as bound: "127.0.0.1:7007" */
};

struct listeners {
	struct listener	*v;
	size_t		 n;
};

const char	*proto_name(enum proto);

/*
 * Binds every address spec resolves to and appends them to ls.  On failure
 * binds nothing, closes what it opened and says which address and why in err.
 */
int	listen_bind(struct listeners *ls, const char *spec, enum proto proto,
	    int backlog, char *err, size_t errlen);
/*
 * Takes the sockets systemd passed (LISTEN_FDS).  Returns how many (0 when
 * none were passed), or -1 with err set for a socket echod cannot serve.
 */
int	listen_from_systemd(struct listeners *ls, char *err, size_t errlen);
/* Moves the listener at index i out of ls, closing its socket. */
void	listen_remove(struct listeners *ls, size_t i);
void	listen_close_all(struct listeners *ls);
/*
 * Makes ls listen on exactly these specs: binds the added ones, closes the
 * dropped ones (never a passed one), keeps the rest open.  If an added one
 * cannot be bound, changes nothing and says why in err.  note(true, l) and
 * note(false, l) are told of each listener added and closed.
 */
int	listen_reconcile(struct listeners *ls, char **tcp, size_t ntcp,
	    char **udp, size_t nudp, int backlog,
	    void (*note)(bool added, const struct listener *),
	    char *err, size_t errlen);
/* Index of the listener bound from (proto, spec), or -1. */
int	listen_find(const struct listeners *ls, enum proto proto, const char *spec);

#endif
