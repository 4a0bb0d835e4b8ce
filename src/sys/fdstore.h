/*
 * fdstore.h - connections parked in systemd's file descriptor store across
 * a restart (FileDescriptorStoreMax=, sd_pid_notify_with_fds(3)), and
 * taken back on start (sd_listen_fds_with_names(3)).
 *
 * Each connection's socket is stored under its own name, "echod-c-<id>"
 * (FDSTOREREMOVE removes by name, so one name per connection), and the
 * state of up to HANDOFF_MAX_CONNS of them (handoff_wire.h) in a sealed memfd
 * beside them, "echod-s-<id>", whose records carry the ids.  systemd does
 * not acknowledge FDSTORE=1: echod stores at most $FDSTORE descriptors
 * (the unit sets it to FileDescriptorStoreMax=, as systemd 254 does
 * itself), memfds included.
 */
#ifndef ECHOD_FDSTORE_H
#define ECHOD_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handoff_wire.h"

#define FDSTORE_CONN_PREFIX	"echod-c-"
#define FDSTORE_STATE_PREFIX	"echod-s-"
/* The last good configuration (confsrc.h), kept there while echod runs:
 * a restart whose file is refused serves with it instead of exiting. */
#define FDSTORE_CONF_NAME	"echod-conf"

/* A stored name holds at most this much, NUL included. */
#define FDSTORE_NAME_MAX	40

/* The name of connection or state id: prefix and id in hex.  Returns what
 * snprintf() does. */
int	fdstore_name(char *out, size_t outlen, const char *prefix, uint64_t id);
/* The id of a connection's name (FDSTORE_CONN_PREFIX, then hex): false
 * for none, 0, junk after it or one past 64 bits. */
bool	fdstore_parse_id(const char *name, uint64_t *id);

/* $FDSTORE, or 0 when unset, invalid, or without NOTIFY_SOCKET. */
size_t	fdstore_max(void);
/* Descriptors stored by this process so far. */
size_t	fdstore_used(void);
/* Is a name passed by systemd one of ours (a connection, its state or the
 * configuration), not a listener? */
bool	fdstore_is_ours(const char *name);

/*
 * Stores the first k of v/fds (v's ids are set), k as many as $FDSTORE
 * leaves room for with their state; returns k.  The caller still owns
 * every descriptor (systemd holds copies of the k stored).
 */
size_t	fdstore_put(struct handoff_rec *v, const int *fds, size_t n);
/* Waits (bounded) until systemd has read everything sent so far, so that
 * it still knows us as its main process when it does.  0, or -1. */
int	fdstore_sync(void);
/* FDSTOREREMOVE=1 for a name. */
void	fdstore_remove(const char *name);
/*
 * Keeps memfd as the stored configuration, in place of the one before.
 * 0, or -1 (no store, or systemd did not take it).  The caller keeps fd.
 */
int	fdstore_keep_conf(int memfd);
/*
 * The stored configuration systemd passed (LISTEN_FDS), as a descriptor
 * of our own; its passed number is released.  -1 with errno ENOENT when
 * there is none.
 */
int	fdstore_take_conf(void);

/* What a start found in the store. */
struct fdstore_conn {
	int			 fd;
	char			 name[FDSTORE_NAME_MAX];
	struct handoff_rec	 rec;		/* pend points into a state map */
};

struct fdstore_set {
	struct fdstore_conn	*v;
	size_t			 n;
	struct handoff_batch	*states;
	char			(*state_names)[FDSTORE_NAME_MAX];
	size_t			 nstates;
};

/*
 * Collects the stored connections among the descriptors systemd passed
 * (LISTEN_FDS, left set for listen_from_systemd()).  A connection without
 * a valid state, or a state that does not parse, is logged through warn,
 * ended and removed from the store.  0, or -1 (out of memory).
 */
int	fdstore_collect(struct fdstore_set *,
	    void (*warn)(const char *name, const char *why));
/* The connections have been handed on (their descriptors are no longer
 * ours): removes every name from the store and frees the set. */
void	fdstore_done(struct fdstore_set *);
/* The process cannot serve them (a refused configuration): flushes each
 * one's unsent echo (bounded), shuts it down, then fdstore_done(). */
void	fdstore_abandon(struct fdstore_set *);

#endif
