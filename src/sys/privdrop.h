/* privdrop.h - switching a worker to the configured user and group. */
#ifndef ECHOD_PRIVDROP_H
#define ECHOD_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct creds {
	char	user[64];
	uid_t	uid;
	gid_t	gid;
};

/*
 * Looks user (and group, or the user's primary group) up and checks that
 * this process can switch to them: as root with CAP_SETUID and CAP_SETGID,
 * or without root when they are what it already runs as.  0, or -1 with the
 * reason in err and in *which the one at fault, "user" or "group".
 */
int	privdrop_resolve(const char *user, const char *group, struct creds *,
	    const char **which, char *err, size_t errlen);
/* initgroups, setgid, setuid, then proves root cannot come back. */
int	privdrop_apply(const struct creds *, char *err, size_t errlen);
/*
 * A child of the master (a worker, the metrics process) drops to creds
 * (NULL: stays as it is) and dies with the master: PR_SET_PDEATHSIG, set
 * after the uid change, which clears it.  0; 1 if the master died before
 * that (the child exits); -1 with the reason in err.
 */
int	privdrop_child(const struct creds *, pid_t master, char *err,
	    size_t errlen);

#endif
