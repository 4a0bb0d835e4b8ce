/* conf.h - echod.conf: the schema, its rules, and the command line's overrides. */
#ifndef ECHOD_CONF_H
#define ECHOD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"

struct creds;

#define CONF_DEFAULT_PATH	SYSCONFDIR "/echod.conf"
#define CONF_MAX_WORKERS	1024
#define CONF_MAX_LISTEN		64
#define CONF_MAX_CIDRS		1024
#define CONF_ERRLEN		512
#define CONF_MAX_SIZE		(1024 * 1024)	/* bytes of the file, at most */
#define CONF_MAX_PATH		4088		/* the PID file's, with ".XXXXXX" */

struct conf {
	char	 *path;			/* the file read; NULL: built-in defaults */
	char	**listen_tcp;		/* "host:port" specs */
	size_t	  n_listen_tcp;
	char	**listen_udp;
	size_t	  n_listen_udp;
	int	  workers;		/* 0 means auto: one per online CPU */
	char	 *user;			/* NULL: do not switch */
	char	 *group;		/* NULL: the user's primary group */
	char	 *pidfile;		/* NULL: none */
	int	  backlog;
	size_t	  buffer_size;		/* per-connection unsent bytes, at most */
	int	  max_connections;	/* per worker */
	uint64_t  idle_timeout_ms;
	uint64_t  shutdown_timeout_ms;
	uint64_t  worker_timeout_ms;
	bool	  resolve_clients;
	bool	  log_connections;
	int	  log_level;		/* syslog priority */
	uint32_t  udp_rate_limit;	/* datagrams/s per source; 0: off */
	uint32_t  udp_rate_burst;
	uint32_t  max_connections_per_source;	/* pool-wide; 0: off */
	struct cidr *allow;		/* empty: everyone not denied */
	size_t	  n_allow;
	struct cidr *deny;
	size_t	  n_deny;
	/* Where the file sets these (the last time); 0: not in the file. */
	int	  line_listen;		/* listen_tcp or listen_udp */
	int	  line_listen_tcp;
	int	  line_listen_udp;
	bool	  listen_cmdline;	/* the lists are -l's, not the file's */
	int	  line_user;
	int	  line_group;
	/* "FILE:LINE: warning: ..." for what is accepted but suspect (a key
	 * set twice); the caller prints or logs them. */
	char	**warnings;
	size_t	  n_warnings;
};

/* What the command line sets; it wins over the file, across reloads too. */
struct conf_overrides {
	const char	 *listen[CONF_MAX_LISTEN];	/* -l: TCP and UDP */
	size_t		  n_listen;
	int		  workers;	/* -1: not given */
	const char	 *pidfile;
	bool		  debug;
};

/*
 * Reads path (NULL: built-in defaults only): a regular file, opened without
 * blocking.  On a bad file returns NULL and puts "FILE:LINE: key: reason"
 * in err, with the file's bytes escaped.
 */
struct conf	*conf_load(const char *path, char *err, size_t errlen);
void		 conf_free(struct conf *);
/*
 * Applies the command line, then checks what will run as a whole (it must
 * listen somewhere); -1 with a reason in err.
 */
int		 conf_override(struct conf *, const struct conf_overrides *,
		    char *err, size_t errlen);
/*
 * Looks every listen spec up as binding it will (getaddrinfo: host names,
 * service names, scope ids), without binding.  0, or -1 with "FILE:LINE:
 * listen_tcp: "spec": reason" (or "-l: ...") in err.  Not for socket
 * activation, where the lists are ignored.
 */
int		 conf_resolve_listen(const struct conf *, char *err, size_t errlen);
/*
 * The file to read: given (-c) if set, else dflt unless nothing at all is
 * there; NULL: the built-in defaults.  A dangling symlink or a path that
 * cannot be looked up is not "missing": it is read and its error reported.
 */
const char	*conf_choose(const char *given, const char *dflt);
/*
 * If user is set: looks user and group up and checks that this process can
 * switch to them, filling *out (may be NULL).  0, or -1 with "FILE:LINE:
 * user: "name": reason" in err.
 */
int		 conf_resolve_user(const struct conf *, struct creds *out,
		    char *err, size_t errlen);
/* The worker count to run: workers, or the online CPUs for auto. */
int		 conf_workers(const struct conf *);

/* The rules, pure: 0 or -1 with a reason (err points at a static string). */
int	conf_parse_size(const char *s, uint64_t *out, const char **err);
int	conf_parse_duration(const char *s, uint64_t *ms, const char **err);
int	conf_parse_workers(const char *s, int *out, const char **err);
int	conf_parse_log_level(const char *s, int *out, const char **err);
int	conf_check_listen(const char *spec, const char **err);
int	conf_check_pidfile(const char *path, const char **err);

#endif
