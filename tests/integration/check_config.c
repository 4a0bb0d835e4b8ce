/* check_config.c - configuration and life cycle with the real binary:
 * -t, refused starts, hostile files (a FIFO, text libconfuse misreads, no
 * listener, an unknown or impossible user, a key set twice), and the
 * workers' user.  Reloads are in check_confreload.c, daemon mode in
 * check_daemon.c. */
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

static void setup(void) { h_init(&e); }

static void teardown(void) { h_cleanup(&e); }

START_TEST(test_t_good)
{
	h_write_conf(&e, "workers = 2\nbuffer_size = 32k\n");
	const char *const argv[] = { "-t", "-c", e.confpath, NULL };
	char want[256];

	ck_assert_int_eq(h_run_status(&e, argv), 0);
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

	ck_assert_int_eq(h_run_status(&e, argv), 78);
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
	ck_assert_int_eq(h_run_status(&e, argv), 78);
	ck_assert(h_log_has(&e, ":3: max_connections: not a number, got \"lots\""));
	ck_assert(h_log_lacks(&e, "listening"));
	ck_assert_int_eq(h_connect(AF_INET, port, 1000), -1);
}
END_TEST

START_TEST(test_usage_errors)
{
	const char *const a1[] = { "--no-such-option", NULL };
	const char *const a2[] = { "-w", "0", NULL };
	const char *const a3[] = { "-l", "[::1", NULL };
	const char *const a4[] = { "-c", "/nonexistent/echod.conf", "-t", NULL };

	ck_assert_int_eq(h_run_status(&e, a1), 64);
	ck_assert(h_log_has(&e, "usage: echod"));
	ck_assert_int_eq(h_run_status(&e, a2), 64);
	ck_assert(h_log_has(&e, "-w 0: must be 1..1024 or auto"));
	ck_assert_int_eq(h_run_status(&e, a3), 64);
	ck_assert_int_eq(h_run_status(&e, a4), 78);
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
	ck_assert_int_eq(h_run_status(&e, a1), 78);
	ck_assert(log_has_at(e.confpath, ": not a regular file (a FIFO)"));
	ck_assert_int_eq(h_run_status(&e, a2), 78);
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

	const struct h_conf hc = {
	    .extra = "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
	ck_assert(h_wait_workers(&e, 1, 2000));
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
		ck_assert_int_eq(h_run_status(&e, argv), 78);
		ck_assert_msg(log_has_at(e.confpath, cases[i].want), "no \"%s\"",
		    cases[i].want);
	}
	FILE *f = fopen(e.confpath, "w");
	ck_assert_int_eq(fwrite(nul, 1, sizeof(nul) - 1, f), sizeof(nul) - 1);
	fclose(f);
	ck_assert_int_eq(h_run_status(&e, argv), 78);
	ck_assert(log_has_at(e.confpath, ":3: a NUL byte (this is not a text file)"));
	ck_assert_msg(h_log_lacks(&e, "\033"), "a raw escape byte reached the log");
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
		ck_assert_int_eq(h_run_status(&e, argv), 78);
		ck_assert_msg(log_has_at(e.confpath, cases[i].want), "no \"%s\"",
		    cases[i].want);
	}
	ck_assert_msg(h_log_lacks(&e, "\033"), "a raw escape byte reached the log");
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
	ck_assert_int_eq(h_run_status(&e, t), 78);
	ck_assert_msg(log_has_at(e.confpath, what), "no \"%s\"", what);
	ck_assert_int_eq(h_run_status(&e, start), 78);
	ck_assert(h_log_lacks(&e, "listening"));
	ck_assert_int_eq(h_connect(AF_INET, port, 1000), -1);
	ck_assert_int_eq(h_run_status(&e, tl), 78);
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
	ck_assert_int_eq(h_run_status(&e, t), 78);
	ck_assert(log_has_at(e.confpath, what));
	ck_assert_int_eq(h_run_status(&e, tl), 0);
	ck_assert_int_eq(h_run_status(&e, start), 78);

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
		return h_run_status(&e, direct);
	e.wrapper = "setpriv";
	rc = h_run_status(&e, as_nobody);
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
	ck_assert_int_eq(h_run_status(&e, t), 78);
	ck_assert(log_has_at(e.confpath, ":3: user: \"nosuchuser-echod\": no such user"));
	ck_assert_int_eq(h_run_status(&e, start), 78);
	h_write_conf(&e, "user = \"nobody\"\n\ngroup = \"nosuchgroup-echod\"\n");
	ck_assert_int_eq(h_run_status(&e, t), 78);
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
		ck_assert_int_eq(h_run_status(&e, nocap), 78);
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
	ck_assert_int_eq(h_run_status(&e, t), 0);
	ck_assert(log_has_at(e.confpath, what));
	ck_assert(h_log_has(&e, "test is successful"));

	ck_assert_int_eq(h_start(&e, start, 10000), 0);
	ck_assert(log_has_at(e.confpath, what));
	ck_assert(h_wait_workers(&e, 2, 5000));
	h_write_conf(&e, "workers = 1\nlisten_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\n\nworkers = 3\n");
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, ":5: warning: workers: set twice (lines 1 and "
	    "5); line 5 wins", 5000));
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 3 workers",
	    5000));
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
		ck_assert_int_eq(h_run_status(&e, argv), 78);
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
	tcase_add_test(tc, test_listen_nowhere);
	tcase_add_test(tc, test_t_user);
	tcase_add_test(tc, test_repeated_key_warned);
	tcase_add_test(tc, test_workers_run_as_user);
	suite_add_tcase(s, tc);
	return s;
}
