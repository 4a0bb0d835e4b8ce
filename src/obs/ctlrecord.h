/*
 * ctlrecord.h - where the running master's control socket is, recorded in
 * a fixed place (/run/echod/control.where), so that `echod --status`
 * finds it whatever the configuration file now says: broken, changed but
 * not reloaded, or refused at a start that serves a stored configuration.
 */
#ifndef ECHOD_CTLRECORD_H
#define ECHOD_CTLRECORD_H

#include <stddef.h>

#define CTLRECORD_PATH	"/run/echod/control.where"
/* Another place for it: the integration tests' own echods use one each. */
#define CTLRECORD_ENV	"ECHOD_CONTROL_RECORD"

/* The record's path: CTLRECORD_ENV if set and absolute, else the fixed one. */
const char	*ctlrecord_path(void);
/*
 * Records sock (an absolute path) as the control socket of the running
 * master that read the file conf (NULL: the built-in configuration):
 * written beside the record under a temporary name, mode 0644, and
 * renamed over it.  As root, only in a directory no other user can
 * change (made, mode 0755, if missing).  0, or -1 with errno (EPERM: the
 * directory is another user's).
 */
int	 ctlrecord_write(const char *sock, const char *conf);
/* Removes the record if it still names sock (a later master's stays). */
void	 ctlrecord_clear(const char *sock);
/*
 * Reads the recorded socket path into out (outlen >= 108).  Never follows
 * a link; the file must be a regular file of root or of the directory's
 * owner, and hold two lines of printable ASCII: an absolute path that
 * fits an AF_UNIX address, then the file its master read, which must be
 * conf (NULL: none): another echod's socket is never the answer.  0, or -1
 * with errno: ENOENT (none, or another file's), EBADMSG (not a record), or
 * the open's own.
 */
int	 ctlrecord_read(char *out, size_t outlen, const char *conf);

#endif
