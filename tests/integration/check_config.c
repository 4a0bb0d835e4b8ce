/* check_config.c - configuration and life cycle with the real binary:
 * -t, refused starts, hostile files (a FIFO, text libconfuse misreads, no
 * listener, an unknown or impossible user, a key set twice), reloads (good,
 * broken, under load), SIGTTIN/SIGTTOU, daemon mode and its PID file, and
 * the workers' user. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "stresslib.h"
#include "suites.h"

static struct echod e;

static long pidfile_pid(void);
static bool wait_workers(int n, int timeout_ms);

static void setup(void) { h_init(&e); }

static void
teardown(void)
{
	long pid = pidfile_pid();

	/* a daemon a failed test left behind */
	if (pid > 1)
		kill((pid_t)pid, SIGKILL);
	h_cleanup(&e);
}

static int
run_status(const char *const argv[])
{
	h_spawn(&e, argv);
	int st = h_wait_exit(e.pid, 5000);
	if (st != -1)	/* one that hangs is killed by teardown() */
		e.pid = -1;
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_t_good)
{
	h_write_conf(&e, "workers = 2\nbuffer_size = 32k\n");
	const char *const argv[] = { "-t", "-c", e.confpath, NULL };
	char want[256];

	ck_assert_int_eq(run_status(argv), 0);
	snprintf(want, sizeof(want), "configuration file %s test is successful",
	    e.confpath);
	ck_assert(h_log_has(&e, want));
}
END_TEST

START_TEST(test_t_bad)
{
	h_write_conf(&e, "workers = 2\n\nworkers = 0\n");
	const char *const argv[] = { "--test-config", "--config", e.confpath, NULL };
	char want[256];

	ck_assert_int_eq(run_status(argv), 78);
	snprintf(want, sizeof(want), "%s:3: workers: must be 1..1024 or auto, got \"0\"",
	    e.confpath);
	ck_assert_msg(h_log_has(&e, want), "no \"%s\"", want);
}
END_TEST

/* A bad file refuses the start with 78, and nothing is bound. */
START_TEST(test_bad_config_binds_nothing)
{
	char conf[256];
	int port = h_free_port();

	snprintf(conf, sizeof(conf), "listen_tcp = {\"127.0.0.1:%d\"}\n"
	    "listen_udp = {}\nmax_connections = lots\n", port);
	h_write_conf(&e, conf);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(run_status(argv), 78);
	ck_assert(h_log_has(&e, ":3: max_connections: not a number, got \"lots\""));
	ck_assert(!h_log_has(&e, "listening"));
	ck_assert_int_eq(h_connect(AF_INET, port, 1000), -1);
}
END_TEST

START_TEST(test_usage_errors)
{
	const char *const a1[] = { "--no-such-option", NULL };
	const char *const a2[] = { "-w", "0", NULL };
	const char *const a3[] = { "-l", "[::1", NULL };
	const char *const a4[] = { "-c", "/nonexistent/echod.conf", "-t", NULL };

	ck_assert_int_eq(run_status(a1), 64);
	ck_assert(h_log_has(&e, "usage: echod"));
	ck_assert_int_eq(run_status(a2), 64);
	ck_assert(h_log_has(&e, "-w 0: must be 1..1024 or auto"));
	ck_assert_int_eq(run_status(a3), 64);
	ck_assert_int_eq(run_status(a4), 78);
	ck_assert(h_log_has(&e, "/nonexistent/echod.conf: No such file or directory"));
}
END_TEST

/* "FILE" + what, in the log */
static bool
log_has_at(const char *path, const char *what)
{
	char want[512];

	snprintf(want, sizeof(want), "%s%s", path, what);
	return h_log_has(&e, want);
}

/*
 * A FIFO as the configuration is refused at once (it hung -t in open()),
 * and so is a directory, each saying what it is.
 */
START_TEST(test_t_not_a_regular_file)
{
	const char *const a1[] = { "-t", "-c", e.confpath, NULL };
	const char *const a2[] = { "-t", "-c", e.dir, NULL };

	ck_assert_int_eq(mkfifo(e.confpath, 0600), 0);
	ck_assert_int_eq(run_status(a1), 78);
	ck_assert(log_has_at(e.confpath, ": not a regular file (a FIFO)"));
	ck_assert_int_eq(run_status(a2), 78);
	ck_assert(log_has_at(e.dir, ": not a regular file (a directory)"));
}
END_TEST

/*
 * The configuration replaced by a FIFO, then SIGHUP: the master does not
 * block in open(); it says why, keeps serving, replaces a dead worker and
 * stops promptly on SIGTERM.
 */
START_TEST(test_reload_onto_fifo)
{
	pid_t before, after;
	char want[256];

	h_write_conf(&e, "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert(wait_workers(1, 2000));
	ck_assert_int_eq(unlink(e.confpath), 0);
	ck_assert_int_eq(mkfifo(e.confpath, 0600), 0);
	kill(e.pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: %s: not a regular file "
	    "(a FIFO); the running configuration stays", e.confpath);
	ck_assert_msg(h_wait_log(&e, want, 5000), "no \"%s\"", want);

	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(fd, "still", 5, 2000), 0);
	close(fd);
	ck_assert_int_eq(h_workers(e.pid, &before, 1), 1);
	kill(before, SIGKILL);
	uint64_t end = h_now_ms() + 5000;
	while (!(h_workers(e.pid, &after, 1) == 1 && after != before) &&
	    h_now_ms() < end)
		h_tick();
	ck_assert_msg(after != before, "the dead worker was not replaced");
	int st = h_stop(&e, SIGTERM, 5000);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGTERM: status %d", st);
}
END_TEST

/* Text libconfuse would misread: -t refuses it with FILE:LINE, and quotes
 * the file's bytes escaped. */
START_TEST(test_t_hostile_text)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "workers = 2\n/* stray\ndeny = {\"0.0.0.0/0\"}\n",
		    ":2: unterminated comment (/* without */)" },
		{ "listen_tcp += {\"127.0.0.1:7\"}\n",
		    ":1: listen_tcp: += is not supported" },
		{ "workers = 2\n\nuser = \"echod\n",
		    ":3: unterminated string (a quote that is never closed)" },
		{ "workers = 2\nlog_level = \"\033[2J\"\n",
		    ":2: log_level: must be err, warning, notice, info or debug, "
		    "got \"\\x1b[2J\"" },
	};
	static const char nul[] = "workers = 2\n\nlisten_tcp = {}\0\ndeny = {}\n";
	const char *const argv[] = { "-t", "-c", e.confpath, NULL };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_write_conf(&e, cases[i].text);
		ck_assert_int_eq(run_status(argv), 78);
		ck_assert_msg(log_has_at(e.confpath, cases[i].want), "no \"%s\"",
		    cases[i].want);
	}
	FILE *f = fopen(e.confpath, "w");
	ck_assert_int_eq(fwrite(nul, 1, sizeof(nul) - 1, f), sizeof(nul) - 1);
	fclose(f);
	ck_assert_int_eq(run_status(argv), 78);
	ck_assert(log_has_at(e.confpath, ":3: a NUL byte (this is not a text file)"));
	ck_assert_msg(!h_log_has(&e, "\033"), "a raw escape byte reached the log");
}
END_TEST

/* Second round: what libconfuse would cut or misplace, and a group that
 * would be ignored.  -t says FILE:LINE and exits 78; nothing raw in the log. */
START_TEST(test_t_hostile_variants)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "workers = 1\nuser = \"nobody\\0\033[2J\"\n",
		    ":2: an escaped NUL byte (an octal or hex escape of 0) in a "
		    "string: it would end the value there" },
		{ "workers = 1\ndeny = {\"10.0.0.0/8\",\n\"0.0.0.0/0\"\n",
		    ":2: deny: unterminated list ({ without })" },
		/* a later list's "}" would close it */
		{ "workers = 1\nallow = {\"10.0.0.0/8\"\ndeny = {}\n",
		    ":2: allow: unterminated list ({ without })" },
		{ "workers = 1\n\ngroup = \"nogroup\"\n",
		    ":3: group: set without user" },
		{ "\xef\xbb\xbfworkers = 1\r\nbacklog = 0\r\n",
		    ":2: backlog: must be 1..65535, got \"0\"" },
	};
	const char *const argv[] = { "-t", "-c", e.confpath, NULL };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_write_conf(&e, cases[i].text);
		ck_assert_int_eq(run_status(argv), 78);
		ck_assert_msg(log_has_at(e.confpath, cases[i].want), "no \"%s\"",
		    cases[i].want);
	}
	ck_assert_msg(!h_log_has(&e, "\033"), "a raw escape byte reached the log");
}
END_TEST

/*
 * A listen address that cannot be looked up (an unknown service name) is
 * the file's error: -t refuses it with FILE:LINE (it passed, and the start
 * then failed with exit 1), the start exits 78 binding nothing, and a
 * reload to it keeps the running configuration, saying where.
 */
START_TEST(test_listen_unresolvable)
{
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const start[] = { "-f", "-c", e.confpath, NULL };
	const char *const tl[] = { "-t", "-l", "127.0.0.1:nosuchservice-echod",
	    NULL };
	const char *const what = ":3: listen_udp: \"127.0.0.1:nosuchservice-"
	    "echod\": no such service (see /etc/services)";
	char text[256], want[512];
	int port = h_free_port();

	snprintf(text, sizeof(text), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {\"127.0.0.1:nosuchservice-echod\"}\n", port);
	h_write_conf(&e, text);
	ck_assert_int_eq(run_status(t), 78);
	ck_assert_msg(log_has_at(e.confpath, what), "no \"%s\"", what);
	ck_assert_int_eq(run_status(start), 78);
	ck_assert(!h_log_has(&e, "listening"));
	ck_assert_int_eq(h_connect(AF_INET, port, 1000), -1);
	ck_assert_int_eq(run_status(tl), 78);
	ck_assert(h_log_has(&e, "-l: \"127.0.0.1:nosuchservice-echod\": no such "
	    "service"));

	h_write_conf(&e, "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n");
	ck_assert_int_eq(h_start(&e, start, 10000), 0);
	h_write_conf(&e, text);
	kill(e.pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: %s%s; the running "
	    "configuration stays", e.confpath, what);
	ck_assert_msg(h_wait_log(&e, want, 5000), "no \"%s\"", want);
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(fd, "still", 5, 2000), 0);
	close(fd);
}
END_TEST

/*
 * A daemon chdir()s to /: with a relative -c its reloads read another
 * file (or none).  The path is made absolute at start, so a reload reads
 * the file the start read.
 */
START_TEST(test_daemon_relative_config_reload)
{
	char cwd[4096], text[256];
	const char *const argv[] = { "-c", "echod.conf", "-p", e.pidfile, NULL };
	int port = h_free_port();
	long pid;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(e.dir), 0);
	snprintf(text, sizeof(text), "workers = 1\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\n", port);
	h_write_conf(&e, text);
	ck_assert_int_eq(run_status(argv), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	pid = pidfile_pid();
	ck_assert_int_gt(pid, 1);
	snprintf(text, sizeof(text), "workers = 2\nlisten_tcp = {\"127.0.0.1:%d\"}"
	    "\nlisten_udp = {}\n", port);
	h_write_conf(&e, text);
	kill((pid_t)pid, SIGHUP);
	pid_t w[8];
	uint64_t end = h_now_ms() + 5000;
	while (h_workers((pid_t)pid, w, 8) != 2 && h_now_ms() < end)
		h_tick();
	ck_assert_msg(h_workers((pid_t)pid, w, 8) == 2,
	    "the reload did not read the file the start read");
	int fd = h_connect(AF_INET, port, 2000);
	ck_assert_int_eq(h_echo(fd, "daemon", 6, 2000), 0);
	close(fd);
}
END_TEST

/*
 * A daemon closes its start-up report pipe once ready; a worker forked
 * later closed that descriptor number too, which by then was its own order
 * pipe: it exited at once, and a reload or SIGTTIN ended in "giving up".
 */
START_TEST(test_daemon_forks_after_ready)
{
	char spec[64];
	const char *const argv[] = { "-w", "1", "-l", spec, "-p", e.pidfile, NULL };
	int port = h_free_port();
	pid_t w[8];
	long pid;

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	ck_assert_int_eq(run_status(argv), 0);
	pid = pidfile_pid();
	ck_assert_int_gt(pid, 1);
	kill((pid_t)pid, SIGTTIN);
	uint64_t end = h_now_ms() + 5000;
	while (h_workers((pid_t)pid, w, 8) != 2 && h_now_ms() < end)
		h_tick();
	/* stable at 2: the new one was not replaced in a crash loop */
	for (int i = 0; i < 50 && h_pid_alive(w[0]) && h_pid_alive(w[1]); i++)
		h_tick();
	ck_assert_msg(h_pid_alive(w[0]) && h_pid_alive(w[1]) &&
	    h_workers((pid_t)pid, w, 8) == 2, "a worker forked after ready died");
	int fd = h_connect(AF_INET, port, 2000);
	ck_assert_int_eq(h_echo(fd, "daemon", 6, 2000), 0);
	close(fd);
}
END_TEST

/*
 * Both listen lists empty: refused by -t, at start, and on reload (the
 * running configuration stays); -l gives the start something to listen on.
 */
START_TEST(test_listen_nowhere)
{
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const tl[] = { "-t", "-c", e.confpath, "-l", "127.0.0.1:0", NULL };
	const char *const start[] = { "-f", "-c", e.confpath, NULL };
	const char *const what = ":3: listen_tcp and listen_udp are both empty: "
	    "echod would listen on nothing";
	char want[512];

	h_write_conf(&e, "listen_tcp = {}\nworkers = 1\nlisten_udp = {}\n");
	ck_assert_int_eq(run_status(t), 78);
	ck_assert(log_has_at(e.confpath, what));
	ck_assert_int_eq(run_status(tl), 0);
	ck_assert_int_eq(run_status(start), 78);

	h_write_conf(&e, "listen_tcp = {\"127.0.0.1:0\"}\nworkers = 1\n"
	    "listen_udp = {}\n");
	ck_assert_int_eq(h_start(&e, start, 10000), 0);
	h_write_conf(&e, "listen_tcp = {}\nworkers = 1\nlisten_udp = {}\n");
	kill(e.pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: %s%s; the running "
	    "configuration stays", e.confpath, what);
	ck_assert_msg(h_wait_log(&e, want, 5000), "no \"%s\"", want);
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_msg(fd != -1, "the listener was closed");
	ck_assert_int_eq(h_echo(fd, "still", 5, 2000), 0);
	close(fd);
}
END_TEST

/* Runs echod -t as nobody (when we are root) or as ourselves. */
static int
t_unprivileged(void)
{
	const char *const direct[] = { "-t", "-c", e.confpath, NULL };
	const char *const as_nobody[] = { "--reuid=nobody", "--regid=nogroup",
	    "--clear-groups", h_echod_path(), "-t", "-c", e.confpath, NULL };
	int rc;

	if (geteuid() != 0)
		return run_status(direct);
	e.wrapper = "setpriv";
	rc = run_status(as_nobody);
	e.wrapper = NULL;
	return rc;
}

/*
 * -t looks user and group up (an unknown user failed only at start, with
 * exit 1), and says when the user cannot work at all: not root, or root
 * without CAP_SETUID.  Switching to the user echod already is stays valid,
 * as under the shipped unit (User=_echod, user = "_echod").
 */
START_TEST(test_t_user)
{
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const start[] = { "-f", "-c", e.confpath, NULL };
	struct passwd *self = getpwuid(geteuid() == 0 ? 65534 : geteuid());
	char text[256];

	h_write_conf(&e, "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n"
	    "user = \"nosuchuser-echod\"\n");
	ck_assert_int_eq(run_status(t), 78);
	ck_assert(log_has_at(e.confpath, ":3: user: \"nosuchuser-echod\": no such user"));
	ck_assert_int_eq(run_status(start), 78);
	h_write_conf(&e, "user = \"nobody\"\n\ngroup = \"nosuchgroup-echod\"\n");
	ck_assert_int_eq(run_status(t), 78);
	ck_assert(log_has_at(e.confpath, ":3: group: \"nosuchgroup-echod\": no "
	    "such group"));

	/* not root: only the user it runs as */
	ck_assert_ptr_nonnull(self);
	h_write_conf(&e, "workers = 1\nuser = \"root\"\n");
	ck_assert_int_eq(t_unprivileged(), 78);
	ck_assert(log_has_at(e.confpath, ":2: user: \"root\": switching users "
	    "needs root, and echod runs as uid"));
	snprintf(text, sizeof(text), "workers = 1\nuser = \"%s\"\n", self->pw_name);
	h_write_conf(&e, text);
	ck_assert_int_eq(t_unprivileged(), 0);

	/* root without CAP_SETUID (a bounding set without it) */
	if (geteuid() == 0) {
		const char *const nocap[] = { "--bounding-set=-setuid,-setgid",
		    h_echod_path(), "-t", "-c", e.confpath, NULL };
		h_write_conf(&e, "user = \"nobody\"\n");
		e.wrapper = "setpriv";
		ck_assert_int_eq(run_status(nocap), 78);
		e.wrapper = NULL;
		ck_assert(log_has_at(e.confpath, ":1: user: \"nobody\": switching "
		    "users needs CAP_SETUID and CAP_SETGID, which echod does not "
		    "have"));
	}
}
END_TEST

/* A key set twice: accepted, the last one wins, and -t, the start and a
 * reload all say so with both lines. */
START_TEST(test_repeated_key_warned)
{
	const char *const t[] = { "-t", "-c", e.confpath, NULL };
	const char *const start[] = { "-f", "-c", e.confpath, NULL };
	const char *const what = ":4: warning: workers: set twice (lines 1 and 4); "
	    "line 4 wins";

	h_write_conf(&e, "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\nworkers = 2\n");
	ck_assert_int_eq(run_status(t), 0);
	ck_assert(log_has_at(e.confpath, what));
	ck_assert(h_log_has(&e, "test is successful"));

	ck_assert_int_eq(h_start(&e, start, 10000), 0);
	ck_assert(log_has_at(e.confpath, what));
	ck_assert(wait_workers(2, 5000));
	h_write_conf(&e, "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n\nworkers = 3\n");
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, ":5: warning: workers: set twice (lines 1 and "
	    "5); line 5 wins", 5000));
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 3 workers",
	    5000));
}
END_TEST

static int
count_workers(void)
{
	pid_t w[64];

	return h_workers(e.pid, w, 64);
}

static bool
wait_workers(int n, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	while (count_workers() != n && h_now_ms() < end)
		h_tick();
	return count_workers() == n;
}

static void
conf_with(int workers, int p1, int p2)
{
	char text[512];

	snprintf(text, sizeof(text),
	    "workers = %d\nlisten_tcp = {\"127.0.0.1:%d\", \"127.0.0.1:%d\"}\n"
	    "listen_udp = {}\nshutdown_timeout = 20s\n", workers, p1, p2);
	h_write_conf(&e, text);
}

/*
 * Reload with other workers and another listen list: the new address
 * answers, the removed one refuses, the kept one never refuses, and a
 * connection open across the reload keeps being served.
 */
START_TEST(test_reload_workers_and_listeners)
{
	int p1 = h_free_port(), p2 = h_free_port(), p3 = h_free_port();
	int open_fd, fd;

	conf_with(1, p1, p2);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert(wait_workers(1, 2000));
	open_fd = h_connect(AF_INET, p1, 2000);
	ck_assert_int_eq(h_echo(open_fd, "before", 6, 2000), 0);

	conf_with(3, p1, p3);
	kill(e.pid, SIGHUP);
	/* p1 keeps answering while the generations change (echod(8): a
	 * listener still wanted stays open): from the start of the reload
	 * until the new generation is ready, at least one client tries it */
	ck_assert(h_wait_log(&e, "reloading ", 5000));
	uint64_t end = h_now_ms() + 10000;
	int tries = 0;
	do {
		fd = h_connect(AF_INET, p1, 2000);
		ck_assert_msg(fd != -1, "p1 refused during reload: %s", strerror(errno));
		ck_assert_int_eq(h_echo(fd, "during", 6, 2000), 0);
		close(fd);
		tries++;
	} while (!h_log_has(&e, "ready: 3 workers") && h_now_ms() < end);
	fprintf(stderr, "# reload: %d clients of the kept address served while "
	    "the generations changed\n", tries);
	ck_assert_msg(tries >= 1, "p1 was not tried during the reload");
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 3 workers",
	    5000));
	ck_assert(h_wait_log(&e, "ready: 3 workers", 5000));

	fd = h_connect(AF_INET, p3, 2000);
	ck_assert_msg(fd != -1, "the added address does not answer");
	ck_assert_int_eq(h_echo(fd, "new", 3, 2000), 0);
	close(fd);
	ck_assert_int_eq(h_connect(AF_INET, p2, 1000), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	fd = h_connect(AF_INET, p1, 2000);
	ck_assert_int_eq(h_echo(fd, "kept", 4, 2000), 0);
	close(fd);

	/* the old worker drains: it still serves the connection it holds */
	ck_assert_int_eq(h_echo(open_fd, "after", 5, 2000), 0);
	close(open_fd);
	ck_assert(wait_workers(3, 5000));
}
END_TEST

START_TEST(test_reload_broken_keeps_serving)
{
	int p1 = h_free_port(), p2 = h_free_port();
	pid_t before[8], after[8];

	conf_with(2, p1, p2);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert(wait_workers(2, 2000));
	h_workers(e.pid, before, 8);

	h_write_conf(&e, "workers = 4\nbacklog = -3\n");
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "reload failed: ", 5000));
	ck_assert(h_wait_log(&e, ":2: backlog: not a number, got \"-3\"; the running "
	    "configuration stays", 1));
	ck_assert_int_eq(h_workers(e.pid, after, 8), 2);
	ck_assert_int_eq(memcmp(before, after, 2 * sizeof(pid_t)), 0);
	int fd = h_connect(AF_INET, p2, 2000);
	ck_assert_int_eq(h_echo(fd, "still", 5, 2000), 0);
	close(fd);

	/* a reload that cannot bind an added address also keeps everything */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	bind(s, (struct sockaddr *)&in, sizeof(in));
	listen(s, 1);
	getsockname(s, (struct sockaddr *)&in, &len);
	conf_with(2, p1, ntohs(in.sin_port));
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "Address already in use; the running configuration "
	    "stays", 5000));
	fd = h_connect(AF_INET, p2, 2000);
	ck_assert_msg(fd != -1, "the old listener was closed by a failed reload");
	ck_assert_int_eq(h_echo(fd, "still", 5, 2000), 0);
	close(fd);
	close(s);
}
END_TEST

START_TEST(test_reloads_under_load)
{
	struct sl_load l;
	char done[64];
	int sent = 0;

	h_write_conf(&e, "workers = 2\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\nshutdown_timeout = 60s\nlog_connections = false\n"
	    "tcp_rate_limit = 0\n");	/* thousands of connects a second */
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	sl_load_init(&l, AF_INET, e.tcp4, 100, 5, 1024);
	uint64_t end = h_now_ms() + 40000;
	/* one SIGHUP every 150 ms or so, each once the previous one is done
	 * (signals of one kind coalesce while pending) */
	while (sent < 20 && h_now_ms() < end) {
		sl_load_run(&l, 150);
		snprintf(done, sizeof(done), "configuration reloaded: generation %d,",
		    sent + 1);
		if (sent == 0 || h_log_has(&e, done)) {
			kill(e.pid, SIGHUP);
			sent++;
		}
	}
	sl_load_run(&l, 300);
	ck_assert_int_eq(sent, 20);
	ck_assert_msg(l.failed_connects == 0 && l.broken == 0 && l.corrupt == 0,
	    "%llu connects, %llu exchanges: %llu failed connects, %llu broken, "
	    "%llu corrupt", (unsigned long long)l.connects,
	    (unsigned long long)l.exchanged, (unsigned long long)l.failed_connects,
	    (unsigned long long)l.broken, (unsigned long long)l.corrupt);
	ck_assert_uint_gt(l.exchanged, 1000);
	ck_assert(h_wait_log(&e, "generation 21", 5000));
	sl_load_free(&l);
}
END_TEST

/* What the command line says wins over the file, across reloads too:
 * -w, -l and -p against a file that says otherwise before and after. */
START_TEST(test_overrides_survive_reload)
{
	int p_file = h_free_port(), p_cli = h_free_port(), p_file2 = h_free_port();
	char text[512], spec[64], file_pid[160], file_pid2[160];

	snprintf(file_pid, sizeof(file_pid), "%s/file.pid", e.dir);
	snprintf(file_pid2, sizeof(file_pid2), "%s/file2.pid", e.dir);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", p_cli);
	snprintf(text, sizeof(text), "workers = 3\nlisten_tcp = {\"127.0.0.1:%d\"}\n"
	    "listen_udp = {}\npidfile = \"%s\"\n", p_file, file_pid);
	h_write_conf(&e, text);
	const char *const argv[] = { "-f", "-c", e.confpath, "-w", "1", "-l", spec,
	    "-p", e.pidfile, NULL };

	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert(wait_workers(1, 2000));
	snprintf(text, sizeof(text), "workers = 4\nlisten_tcp = {\"127.0.0.1:%d\"}\n"
	    "listen_udp = {}\npidfile = \"%s\"\n", p_file2, file_pid2);
	h_write_conf(&e, text);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 1 worker", 5000));
	ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));
	ck_assert(wait_workers(1, 5000));
	/* -l: still the only address; neither of the file's is bound */
	int fd = h_connect(AF_INET, p_cli, 2000);
	ck_assert_msg(fd != -1, "the -l address stopped answering after a reload");
	ck_assert_int_eq(h_echo(fd, "cli", 3, 2000), 0);
	close(fd);
	ck_assert_int_eq(h_connect(AF_INET, p_file, 1000), -1);
	ck_assert_int_eq(h_connect(AF_INET, p_file2, 1000), -1);
	/* -p: the PID file is the command line's, and the stop removes it,
	 * not the file's (the reload's configuration is the one that stops) */
	ck_assert_int_eq(access(file_pid, F_OK), -1);
	ck_assert_int_eq(access(file_pid2, F_OK), -1);
	ck_assert_int_eq(access(e.pidfile, F_OK), 0);
	int st = h_stop(&e, SIGTERM, 10000);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "0x%x", st);
	ck_assert_msg(access(e.pidfile, F_OK) == -1, "the -p PID file was left "
	    "behind after a reload");
	ck_assert_int_eq(access(file_pid2, F_OK), -1);
}
END_TEST

/* Issue 16: a reload hands the old generation's connections to the new
 * one, so no generation is left draining and none is cut, however many
 * reloads come (the bound of POOL_MAX_DRAINING draining generations only
 * applies to workers that cannot hand over). */
START_TEST(test_draining_generations_bounded)
{
	int fd[6];
	pid_t w[64];

	h_write_conf(&e, "workers = 1\nshutdown_timeout = 1h\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	for (int g = 0; g < 6; g++) {
		/* a connection held open in each generation */
		fd[g] = h_connect(AF_INET, e.tcp4, 2000);
		ck_assert_int_eq(h_echo(fd[g], "hold", 4, 2000), 0);
		kill(e.pid, SIGHUP);
		ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));
	}
	/* only the current worker: every older one handed over and left
	 * (within seconds; the bound is for ASan on a loaded machine) */
	uint64_t end = h_now_ms() + 20000;
	while (h_workers(e.pid, w, 64) != 1 && h_now_ms() < end)
		h_tick();
	ck_assert_int_eq(h_workers(e.pid, w, 64), 1);
	ck_assert(!h_log_has(&e, "generations draining"));
	/* every held connection is still served, by the one worker */
	for (int g = 0; g < 6; g++) {
		ck_assert_int_eq(h_echo(fd[g], "kept", 4, 2000), 0);
		close(fd[g]);
	}
}
END_TEST

/* README, echod(8): one worker more / fewer, until the next reload. */
START_TEST(test_ttin_ttou)
{
	const char *const argv[] = { "-f", "-w", "1", "-l", "127.0.0.1:0", NULL };
	pid_t w[8];

	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert(wait_workers(1, 2000));
	kill(e.pid, SIGTTIN);
	ck_assert(h_wait_log(&e, "workers: 1 -> 2", 5000));
	ck_assert(wait_workers(2, 5000));
	kill(e.pid, SIGTTIN);
	ck_assert(h_wait_log(&e, "workers: 2 -> 3", 5000));
	ck_assert(wait_workers(3, 5000));
	kill(e.pid, SIGTTOU);
	ck_assert(h_wait_log(&e, "workers: 3 -> 2", 5000));
	ck_assert(wait_workers(2, 5000));
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(fd, "x", 1, 2000), 0);
	close(fd);

	/* it lasts: a worker that dies is replaced up to 2, not to -w's 1 */
	ck_assert_int_eq(h_workers(e.pid, w, 8), 2);
	pid_t victim = w[0];
	kill(victim, SIGKILL);
	ck_assert(h_wait_log(&e, "killed by signal 9", 5000));
	int live = 0;
	for (uint64_t end = h_now_ms() + 5000; h_now_ms() < end && live != 2; h_tick()) {
		int n = h_workers(e.pid, w, 8);
		live = 0;
		for (int i = 0; i < n; i++)
			live += w[i] != victim && h_pid_alive(w[i]);
	}
	ck_assert_msg(live == 2, "%d workers after one died, not 2", live);
	ck_assert(!h_log_has(&e, "workers: 2 -> 1"));

	/* until the next reload: back to what -w says */
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 1 worker", 5000));
	ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));
	ck_assert(wait_workers(1, 5000));
}
END_TEST

static long
pidfile_pid(void)
{
	char buf[32] = { 0 };
	int fd = open(e.pidfile, O_RDONLY);

	if (fd == -1)
		return -1;
	(void)!read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return strtol(buf, NULL, 10);
}

static pid_t
lock_holder(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(e.pidfile, O_RDWR);

	if (fd == -1)
		return -1;
	fcntl(fd, F_GETLK, &fl);
	close(fd);
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

START_TEST(test_daemon_mode)
{
	char spec[64];
	int port = h_free_port();
	long pid;

	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	/* a stale file first: it is taken over */
	FILE *f = fopen(e.pidfile, "w");
	fputs("999999\n", f);
	fclose(f);

	const char *const argv[] = { "-w", "1", "-l", spec, "-p", e.pidfile, NULL };
	/* the parent returns 0 only once the daemon listens */
	ck_assert_int_eq(run_status(argv), 0);
	int fd = h_connect(AF_INET, port, 2000);
	ck_assert_msg(fd != -1, "exited 0 but does not listen");
	ck_assert_int_eq(h_echo(fd, "daemon", 6, 2000), 0);
	close(fd);
	pid = pidfile_pid();
	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(lock_holder(), pid);
	/* detached: a session of its own, not ours, and not its leader */
	ck_assert_int_ne(getsid((pid_t)pid), getsid(0));
	ck_assert_int_ne(getsid((pid_t)pid), pid);

	/* a second instance on the same PID file is refused, with the reason */
	ck_assert_int_eq(run_status(argv), 1);
	ck_assert(h_log_has(&e, "already locked by pid"));

	kill((pid_t)pid, SIGTERM);
	uint64_t end = h_now_ms() + 5000;
	while (access(e.pidfile, F_OK) == 0 && h_now_ms() < end)
		h_tick();
	ck_assert_msg(access(e.pidfile, F_OK) == -1, "PID file left behind");
}
END_TEST

START_TEST(test_daemon_failure_is_reported)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), port;
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	char spec[64];

	bind(s, (struct sockaddr *)&in, sizeof(in));
	listen(s, 1);
	getsockname(s, (struct sockaddr *)&in, &len);
	port = ntohs(in.sin_port);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	const char *const argv[] = { "-w", "1", "-l", spec, NULL };
	ck_assert_int_eq(run_status(argv), 1);
	ck_assert(h_log_has(&e, "Address already in use"));
	close(s);
}
END_TEST

static bool
ids_are(pid_t pid, const char *field, long want)
{
	char path[64], line[256], key[16];
	long a, b, c, d;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	snprintf(key, sizeof(key), "%s:", field);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 &&
		    sscanf(line + strlen(key), "%ld %ld %ld %ld", &a, &b, &c, &d) == 4)
			ok = a == want && b == want && c == want && d == want;
	fclose(f);
	return ok;
}

/* The Groups: of pid are exactly pw's groups (initgroups()), in any order. */
static bool
groups_are(pid_t pid, const struct passwd *pw, char *got, size_t gotlen)
{
	gid_t want[64];
	int nwant = 64, n = 0;
	char path[64], line[1024];
	bool match = false;
	FILE *f;

	got[0] = '\0';
	if (getgrouplist(pw->pw_name, pw->pw_gid, want, &nwant) == -1)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		snprintf(got, gotlen, "%.200s", line);
		match = true;
		for (char *p = line + 7, *end;; p = end) {
			long g = strtol(p, &end, 10);
			if (end == p)
				break;
			bool known = false;
			for (int i = 0; i < nwant && !known; i++)
				known = (long)want[i] == g;
			match &= known;
			n++;
		}
	}
	fclose(f);
	return match && n == nwant;
}

START_TEST(test_workers_run_as_user)
{
	struct passwd *pw = getpwnam("nobody");
	pid_t w[4];

	ck_assert_ptr_nonnull(pw);
	h_write_conf(&e, "user = \"nobody\"\nworkers = 2\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n");
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	if (geteuid() != 0) {
		/* without root, switching is refused with the reason */
		ck_assert_int_eq(run_status(argv), 78);
		ck_assert(h_log_has(&e, "switching users needs root"));
		return;
	}
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert_int_eq(h_workers(e.pid, w, 4), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(ids_are(w[i], "Uid", (long)pw->pw_uid), "worker uid");
		ck_assert_msg(ids_are(w[i], "Gid", (long)pw->pw_gid), "worker gid");
		/* and none of root's supplementary groups */
		char got[256];
		ck_assert_msg(groups_are(w[i], pw, got, sizeof(got)),
		    "worker groups: %s", got);
	}
	ck_assert(ids_are(e.pid, "Uid", 0));	/* the master keeps root */
	int fd = h_connect(AF_INET, e.tcp4, 2000);
	ck_assert_int_eq(h_echo(fd, "nobody", 6, 2000), 0);
	close(fd);
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_t_good);
	tcase_add_test(tc, test_t_bad);
	tcase_add_test(tc, test_bad_config_binds_nothing);
	tcase_add_test(tc, test_usage_errors);
	tcase_add_test(tc, test_t_not_a_regular_file);
	tcase_add_test(tc, test_reload_onto_fifo);
	tcase_add_test(tc, test_t_hostile_text);
	tcase_add_test(tc, test_t_hostile_variants);
	tcase_add_test(tc, test_listen_unresolvable);
	tcase_add_test(tc, test_daemon_relative_config_reload);
	tcase_add_test(tc, test_daemon_forks_after_ready);
	tcase_add_test(tc, test_listen_nowhere);
	tcase_add_test(tc, test_t_user);
	tcase_add_test(tc, test_repeated_key_warned);
	tcase_add_test(tc, test_reload_workers_and_listeners);
	tcase_add_test(tc, test_reload_broken_keeps_serving);
	tcase_add_test(tc, test_reloads_under_load);
	tcase_add_test(tc, test_overrides_survive_reload);
	tcase_add_test(tc, test_draining_generations_bounded);
	tcase_add_test(tc, test_ttin_ttou);
	tcase_add_test(tc, test_daemon_mode);
	tcase_add_test(tc, test_daemon_failure_is_reported);
	tcase_add_test(tc, test_workers_run_as_user);
	suite_add_tcase(s, tc);
	return s;
}
