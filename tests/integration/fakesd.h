/* fakesd.h - a fake systemd for the handoff suites: the notify socket
 * echod reports to, and the descriptor store it parks connections in
 * (FDSTORE=1, FDNAME=, FDSTOREREMOVE=1), served as systemd 252 would. */
#ifndef ECHOD_TESTS_FAKESD_H
#define ECHOD_TESTS_FAKESD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

struct stored {
	char	 name[64];
	int	 fd;
};

struct fake {
	int		 fd;
	char		 path[128], env[160];
	struct stored	*v;
	size_t		 n, cap;
	char		 (*removed)[64];
	size_t		 nremoved, capremoved;
	size_t		 most_fds;	/* in one message */
	size_t		 messages_with_fds;
	char		 status[512];	/* the last STATUS= */
};

extern struct fake fk;		/* the one fake; fd -1 while closed */

/* Binds the notify socket in ed's scratch directory; fk.env names it. */
void	fake_open(const struct echod *ed);
void	fake_close(void);
/* Handles one message as systemd 252 would; false if none came. */
bool	fake_one(int timeout_ms);
/* Descriptors stored under names that begin with prefix. */
size_t	fake_count(const char *prefix);
/* Forgets what the store holds under name, as if never stored. */
void	fake_forget(const char *name);
/* How many descriptors the store holds under name now. */
size_t	fake_holds(const char *name);
/* Whether echod removed name from the store (FDSTOREREMOVE=1). */
bool	fake_removed(const char *name);
/* Serves the fake socket until pid exits; its wait status, or -1. */
int	fake_until_exit(pid_t pid, int timeout_ms);
/* Serves the fake socket until needle is in x's log. */
bool	fake_until_log(struct echod *x, const char *needle, int timeout_ms);
/*
 * Starts echod as systemd would after a restart: what the store holds at
 * 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, NOTIFY_SOCKET
 * the fake, and more_env (NULL or "NAME=value") added.
 */
pid_t	fake_spawn(struct echod *x, const char *const argv[], char *more_env);

#endif
