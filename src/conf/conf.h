/*
 * conf.h - the configuration: what echod runs with, read in one place
 * (conf_read(), for start and reload alike) from echod.conf and the command
 * line's overrides.  The rules for each value are confparse.h's, the keys
 * confschema.h's.
 */
#ifndef ECHOD_CONF_H
#define ECHOD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "acl.h"
#include "confparse.h"
#include "conflimits.h"
#include "confsrc.h"
#include "listen.h"
#include "privdrop.h"

/* Where a key was set: a file of the configuration and a line; file NULL
 * and line 0: not set in any file. */
struct conf_at {
	const char	*file;		/* points into the conf's src */
	int		 line;
};

#define CONF_MAX_WARNINGS	64

struct conf {
	char	 *path;			/* the main file; NULL: built-in defaults */
	struct confsrc src;		/* the text of every file read */
	char	 *fallback;		/* set: path was refused for this reason,
					 * and src is the last good one, stored */
	char	**listen_tcp;		/* "host:port" specs */
	size_t	  n_listen_tcp;
	char	**listen_udp;
	size_t	  n_listen_udp;
	int	  workers;		/* 0 means auto: one per online CPU */
	char	 *user;			/* NULL: do not switch */
	char	 *group;		/* NULL: the user's primary group */
	struct creds creds;		/* user and group looked up, if user */
	char	 *pidfile;		/* NULL: none */
	int	  backlog;
	size_t	  buffer_size;		/* per-connection unsent bytes, at most */
	int	  max_connections;	/* per worker */
	uint64_t  idle_timeout_ms;
	uint64_t  shutdown_timeout_ms;
	uint64_t  stop_delay_ms;	/* graceful stop: fail health checks first */
	uint64_t  worker_timeout_ms;
	bool	  resolve_clients;
	enum conf_logconn log_connections;
	int	  log_level;		/* syslog priority */
	uint32_t  udp_rate_limit;	/* datagrams/s per source; 0: off */
	uint32_t  udp_rate_burst;
	uint32_t  max_connections_per_source;	/* pool-wide; 0: off */
	uint32_t  tcp_rate_limit;	/* new connections/s per source; 0: off */
	uint32_t  tcp_rate_burst;
	uint32_t  log_source_rate;	/* log lines/s per source; 0: off */
	uint32_t  log_source_burst;
	uint32_t  log_rate_limit;	/* log lines/s of the pool; 0: off */
	struct cidr *allow;		/* empty: everyone not denied */
	size_t	  n_allow;
	struct cidr *deny;
	size_t	  n_deny;
	struct cidr *proxy_from;	/* balancers: a PROXY header first */
	size_t	  n_proxy_from;
	uint64_t  proxy_timeout_ms;	/* for that header to arrive */
	char	 *control_socket;	/* NULL: none */
	char	**metrics_listen;	/* "host:port" specs; may be empty */
	size_t	  n_metrics_listen;
	/* Where the files set these (the last time). */
	struct conf_at at_listen;	/* listen_tcp or listen_udp */
	struct conf_at at_listen_tcp;
	struct conf_at at_listen_udp;
	bool	  listen_cmdline;	/* the lists are -l's, not the file's */
	struct conf_at at_metrics_listen;
	struct conf_at at_user;
	struct conf_at at_group;
	/* "FILE:LINE: warning: ..." for what is accepted but suspect (a key
	 * set twice); the caller prints or logs them. */
	char	**warnings;
	size_t	  n_warnings;
};

/*
 * What the command line sets; it wins over the file, across reloads too.
 * Each value is checked once, as the command line is read (confparse.h).
 */
struct conf_overrides {
	const char	 *listen[CONF_MAX_LISTEN];	/* -l: TCP and UDP */
	size_t		  n_listen;
	int		  workers;	/* -1: not given */
	const char	 *pidfile;
	bool		  debug;
};

enum conf_status {
	CONF_OK,
	CONF_INVALID,	/* the file or the command line is wrong: err says where */
	CONF_FAILED,	/* it could not be judged: out of memory */
};

/*
 * The one way in, for start and reload alike: reads path (NULL: the
 * built-in defaults) and its drop-ins (path.d/NAME.conf, confsrc.h),
 * puts the command line o over it, looks the listen specs up (not
 * listen_tcp and listen_udp if activated: those sockets come from
 * systemd), and looks the
 * user up into creds.  warn (may be NULL) is told each of the file's
 * warnings as soon as it is read, even if a later step fails.  *out is the
 * configuration on CONF_OK, NULL otherwise, with the reason in err.
 */
enum conf_status conf_read(const char *path, const struct conf_overrides *o,
		    bool activated, void (*warn)(const char *), struct conf **out,
		    char *err, size_t errlen);
/*
 * The same from text read before: the last good configuration, which the
 * master stores with systemd (confsrc.h), for a start whose file is
 * refused.  Takes src (emptied either way); path is the main file's name.
 */
enum conf_status conf_read_src(struct confsrc *src, const char *path,
		    const struct conf_overrides *o, bool activated,
		    void (*warn)(const char *), struct conf **out, char *err,
		    size_t errlen);
void		 conf_free(struct conf *);
/* Where at was set, for a message: its file, or the main file's name.
 * Inline, so that confresolve.c (which conf.c calls) never needs conf.c. */
static inline const char *
conf_at_file(const struct conf *c, struct conf_at at)
{
	return at.file != NULL ? at.file : c->path != NULL ? c->path :
	    "(built-in)";
}
/*
 * The file to read: given (-c) if set, else dflt unless nothing at all is
 * there; NULL: the built-in defaults.  A dangling symlink or a path that
 * cannot be looked up is not "missing": it is read and its error reported.
 */
const char	*conf_choose(const char *given, const char *dflt);
/* The worker count to run: workers, or the online CPUs for auto. */
int		 conf_workers(const struct conf *);
/* The echo listeners c asks for (listen_tcp, listen_udp, backlog), for
 * listen_reconcile(): fills out, which points into c, and returns it. */
const struct listen_spec *conf_echo_listen(const struct conf *c,
		    struct listen_spec *out);

/* conf_read()'s steps, each on its own for the tests. */
/*
 * Reads path (NULL: built-in defaults only): a regular file, opened without
 * blocking.  On a bad file returns NULL and puts "FILE:LINE: key: reason"
 * in err, with the file's bytes escaped; errno is EINVAL, or ENOMEM when
 * memory ran out.
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
/* conf_load() of text read already; takes src (emptied either way). */
struct conf	*conf_parse(struct confsrc *src, const char *path, char *err,
		    size_t errlen);
/*
 * Applies the command line, after checking what will run as a whole (it
 * must listen somewhere); -1 with a reason in err and errno EINVAL or
 * ENOMEM, leaving the configuration as it was.
 */
int		 conf_override(struct conf *, const struct conf_overrides *,
		    char *err, size_t errlen);
/*
 * Looks every address echod will bind up as binding it will (getaddrinfo:
 * host names, service names, scope ids), without binding: metrics_listen
 * always, listen_tcp and listen_udp unless activated (systemd passes those
 * sockets and the lists are ignored).  0, or -1 with "FILE:LINE:
 * listen_tcp: "spec": reason" (or "-l: ...") in err.
 */
int		 conf_resolve_listen(const struct conf *, bool activated,
		    char *err, size_t errlen);
/*
 * If user is set: looks user and group up and checks that this process can
 * switch to them, filling *out (may be NULL).  0, or -1 with "FILE:LINE:
 * user: "name": reason" in err.
 */
int		 conf_resolve_user(const struct conf *, struct creds *out,
		    char *err, size_t errlen);
/*
 * The metrics process parses HTTP, which no process holding root does: run
 * by euid 0, metrics_listen needs a user that is not root (c's creds
 * resolved).  0, or -1 with "FILE:LINE: metrics_listen: reason" in err.
 */
int		 conf_check_metrics_user(const struct conf *, uid_t euid,
		    char *err, size_t errlen);

#endif
