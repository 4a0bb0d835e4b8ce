/*
 * control.h - the control socket: an AF_UNIX stream socket in the master's
 * loop that answers `echod --status`.  One request per connection, a line:
 * "status" (the text), "status json" or "health"; the reply, then EOF.  Bounded as
 * reqsrv.h says, so no client can delay the master.
 */
#ifndef ECHOD_CONTROL_H
#define ECHOD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "reqsrv.h"

#define CONTROL_MAX_CLIENTS	8
#define CONTROL_MAX_REQUEST	64
#define CONTROL_TIMEOUT_MS	2000
#define CONTROL_MAX_PATH	108	/* sun_path */
#define CONTROL_HELPER_MS	2000	/* the child that makes it as user */

struct creds;
struct stat;

struct control {
	int		 fd;		/* -1: none */
	char		 path[CONTROL_MAX_PATH];
	dev_t		 dev;		/* the socket file made, so that only */
	ino_t		 ino;		/* ours is ever unlinked */
	struct reqsrv	 srv;
	/* the reply to "status" (json false) or "status json" */
	void		(*status)(void *arg, bool json, struct render_buf *out);
	void		*arg;
	bool		 stopping;	/* "health" answers "stopping" */
};

void	control_init(struct control *c,
	    void (*status)(void *, bool, struct render_buf *), void *arg);
/* From now on "health" answers "stopping" instead of "serving": a routing
 * daemon's check withdraws the host before the drain (echod(8)). */
void	control_stopping(struct control *c);
/*
 * Makes the socket at path (mode 0600, owned by owner if given), making
 * its directory (0755) if that is missing.  A socket some process answers
 * on is never replaced: -1 with errno EADDRINUSE; one nobody answers on is.
 * As root, no name another user can change is followed: where only root
 * can change each name on the way, root makes it and gives it to owner;
 * elsewhere a child process that switched to owner for good makes it, and
 * without an owner it is not made (EPERM).
 * -1 with errno and what failed in err ("control socket PATH: ...").
 */
int	control_open(struct control *c, const char *path, const struct creds *owner,
	    char *err, size_t errlen);
/*
 * Gives the socket to a new owner (a reload changed user): a new one is
 * made beside it as control_open() makes it, and renamed over it.  As
 * not root, nothing to do.  0, or -1 with what failed in err: the old
 * socket stays.
 */
int	control_reown(struct control *c, const struct creds *owner, char *err,
	    size_t errlen);
/* Closes it, unlinking the file if it is still the one made. */
void	control_close(struct control *c);
/* Closes c, then moves from's socket and clients into it; from is left
 * closed.  A reload opens the new socket aside, then moves it in. */
void	control_move(struct control *c, struct control *from);
/* Its descriptors (the socket and its clients'), for children to close:
 * appends to out (room for 1 + CONTROL_MAX_CLIENTS), returns how many. */
size_t	control_fds(const struct control *c, int *out);
/* For the master's poll: see reqsrv.h. */
size_t	control_pollfds(const struct control *c, struct pollfd *pfd, size_t max);
int	control_next_timeout(const struct control *c, uint64_t now_ms);
void	control_run(struct control *c, uint64_t now_ms);

/* control_file.c: the file.  Makes the socket at path as control_open()
 * says (replace: bound beside it, then renamed over it); the listening
 * socket, and the file's st_dev and st_ino in st. */
int	control_file_make(const char *path, const struct creds *owner,
	    bool replace, struct stat *st, char *err, size_t errlen);
/* Unlinks path if it is still the file dev/ino. */
void	control_file_unlink(const char *path, dev_t dev, ino_t ino);


#endif
