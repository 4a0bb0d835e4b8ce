/* harness.h - running the real echod for integration tests: start it on
 * ephemeral loopback ports, read its log, find its workers, talk to it. */
#ifndef ECHOD_TESTS_HARNESS_H
#define ECHOD_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#define H_MAX_PORTS	8

struct echod {
	pid_t		 pid;
	char		 dir[64];	/* scratch directory: log, pid file, conf */
	char		 logpath[128];
	char		 pidfile[128];
	char		 confpath[128];
	char		 emptyconf[128];	/* -c given when the caller gives none */
	size_t		 mark;		/* log offset h_wait_log() searches from */
	int		 tcp4, tcp6, udp4, udp6;	/* first port of each kind */
	bool		 own_pgrp;
	long		 nofile;	/* if > 0: echod's descriptor limit */
	char *const	*envp;		/* if set: echod's environment */
	const char	*wrapper;	/* if set: run this, with argv, instead of echod */
};

/* Where a test runs; each gets a fresh scratch directory. */
void	h_init(struct echod *);
/* Writes FILE in the scratch directory (e.g. the config). */
void	h_write_conf(struct echod *, const char *text);
/*
 * Starts echod -f with argv (NULL-terminated, without the program name) and
 * waits up to timeout_ms for "ready: ".  Returns 0, or -1 (the log says why).
 */
int	h_start(struct echod *, const char *const argv[], int timeout_ms);
/*
 * What h_start_conf() writes into echod's file, in this order.  A key that
 * extra sets itself is left out, so that no key is set twice (echod warns).
 */
struct h_conf {
	const char	*tcp;		/* listen_tcp's list; NULL: 127.0.0.1:0 */
	const char	*udp;		/* listen_udp's list; NULL: none */
	int		 workers;	/* 0: no line (echod's default) */
	const char	*user;		/* NULL: no line */
	const char	*control;	/* control_socket; NULL: the scratch dir's */
	const char	*extra;		/* more lines, as they are */
	const char *const *args;	/* more arguments after -f -c FILE */
	int		 timeout_ms;	/* for "ready: "; 0: 10 s */
	bool		 nowait;	/* return at once: the caller waits */
};
/*
 * Writes that file as e->confpath and starts echod -f -c FILE with c->args;
 * waits for "ready: " unless c->nowait.  Returns 0, or -1 (the log says
 * why).  Every integration suite starts echod through it.
 */
int	h_start_conf(struct echod *, const struct h_conf *);
/*
 * h_start_conf() with workers on 127.0.0.1 (TCP and UDP) and -p with the
 * scratch directory's PID file; own_pgrp: in a process group of its own.
 * Returns 0, or -1 (no "ready: " or no TCP port: the log says why).
 */
int	h_start_pidfile(struct echod *, int workers, bool own_pgrp);
/* Starts echod and returns at once; the caller waits on what it expects.
 * With e->wrapper set, runs the wrapper with argv instead (argv names echod
 * itself where the wrapper needs it: see h_echod_path()). */
pid_t	h_spawn(struct echod *, const char *const argv[]);
/*
 * The command line h_spawn() runs: bin, argv, and "-c FILE" (an empty file
 * in the scratch directory) unless argv has -c or --config, so that a
 * system echod.conf never changes a test.  The -c goes last: a wrapper
 * (setpriv, prlimit, systemd-socket-activate) ends with echod's own argv.
 * out holds max entries, NULL-terminated; returns how many.
 */
size_t	h_argv(const struct echod *, const char *bin, const char *const argv[],
	    const char **out, size_t max);
/* Waits for needle in the log past the mark; moves the mark past it. */
bool	h_wait_log(struct echod *, const char *needle, int timeout_ms);
bool	h_log_has(struct echod *, const char *needle);	/* anywhere */
/* The log's size now, and whether needle is in it past that offset: what
 * an action logged, for a test that wants some line not to be there. */
size_t	h_log_size(const struct echod *);
bool	h_log_since(const struct echod *, size_t off, const char *needle);
/* The log can be read and has no needle (since off): what a test asserts
 * when a line must be absent.  A missing log is not "absent". */
bool	h_log_lacks(struct echod *, const char *needle);
bool	h_log_lacks_since(const struct echod *, size_t off, const char *needle);
/* The number after needle on the log's last line that has it; 0: none. */
long	h_log_last(const struct echod *, const char *needle);
/* Sends sig and waits for the exit; returns the wait status, or -1. */
int	h_stop(struct echod *, int sig, int timeout_ms);
int	h_wait_exit(pid_t pid, int timeout_ms);	/* wait status, or -1 */
/* h_spawn(), and echod's exit status within 5 s; -1: killed by a signal,
 * or still running (h_cleanup() kills it). */
int	h_run_status(struct echod *, const char *const argv[]);
/* Parses "listening on tcp 127.0.0.1:N" lines into the port fields. */
void	h_parse_ports(struct echod *);
void	h_cleanup(struct echod *);
const char *h_echod_path(void);
/*
 * "LD_PRELOAD=.../tests/stress/crashshim.so" for an echod's environment
 * (static storage), or NULL when the shim is not built; *path is where it
 * was looked for, either way.
 */
const char *h_crashshim_preload(const char **path);

/* The master's children, from /proc; returns how many. */
int	h_workers(pid_t master, pid_t *out, int max);
bool	h_pid_alive(pid_t pid);
/* Whether p is among the n pids of v (a generation of workers). */
bool	h_contains_pid(const pid_t *v, int n, pid_t p);
/* Waits until e's master has exactly n children; whether it came to that. */
bool	h_wait_workers(const struct echod *e, int n, int timeout_ms);
long	h_rss_kb(pid_t pid);
/* User plus system CPU time of a process, in milliseconds; -1 if gone. */
long	h_cpu_ms(pid_t pid);
/* The number after field ("Uid:", "Gid:": the real id) in
 * /proc/PID/status; -1 if pid or the field is not there. */
long	h_status_field(pid_t pid, const char *field);
/*
 * pid's /proc/PID/cmdline as ps -o args shows it: NULs as spaces, the
 * trailing ones cut (title.c pads short titles).  Returns 0, or -1 with
 * errno (ENOENT: an empty command line, as a zombie's).
 */
int	h_cmdline(pid_t pid, char *buf, size_t len);

/*
 * As uid and gid (a child that drops to them), sends sig to each of pids
 * three ways: kill(), a sigqueue() that claims to come from claimed (the
 * master), and F_SETSIG on a pipe (which can choose the si_code).  Returns
 * how many sends were refused, or -1 if the child could not run.
 */
int	h_signal_as(uid_t uid, gid_t gid, pid_t claimed, const pid_t *pids,
	    int n, int sig);
/*
 * Runs echod with argv (without the program name) as uid and gid
 * ((uid_t)-1: as we are), with env ("NAME=value") added if not NULL; its
 * output in cap (NULL: /dev/null).  The binary is opened first, as we are,
 * and run by descriptor: the build tree may be one the user cannot enter
 * (mktemp -d is 0700).  Returns the exit status, or -1.
 */
struct h_capture {
	char	 out[8192];
	char	 err[8192];
};
int	h_exec_as(const struct echod *, uid_t, gid_t, const char *const argv[],
	    const char *env, struct h_capture *cap);
/* No signal pending for pid any more (handled or ignored), or it is gone. */
bool	h_settled(pid_t pid);

/* 127.0.0.1:port or [::1]:port; returns the address's length. */
socklen_t h_loopback(int family, int port, struct sockaddr_storage *);
/* addr (dotted IPv4, e.g. a 127.x.y.z source) and port, as a sockaddr. */
struct sockaddr_in h_v4(const char *addr, int port);
int	h_connect(int family, int port, int timeout_ms);	/* blocking fd */
/* The same from the IPv4 source src (127.x.y.z, host order; 0: any). */
int	h_connect_from(int family, uint32_t src, int port, int timeout_ms);
/* Sends buf and reads the same amount back, concurrently; 0 if it matches. */
int	h_echo(int fd, const void *buf, size_t len, int timeout_ms);
/* One datagram out and its echo back; the echoed length, or -1. */
ssize_t	h_udp_echo(int family, int port, const void *buf, size_t len, int timeout_ms);
void	h_random(void *buf, size_t len);
uint64_t h_now_ms(void);
/* The interval at which a wait re-checks its condition (10 ms). */
void	h_tick(void);
/*
 * A notify socket as systemd listens on one: a datagram socket bound at
 * e's scratch directory's "notify" (type: SOCK_CLOEXEC and any of
 * SOCK_NONBLOCK), and env set to its "NOTIFY_SOCKET=" variable.  The
 * descriptor, or -1 with errno.
 */
int	h_notify_socket(const struct echod *, int type, char *env, size_t envlen);

#endif

/* A free TCP port on 127.0.0.1 right now (bound, then released). */
int	h_free_port(void);

