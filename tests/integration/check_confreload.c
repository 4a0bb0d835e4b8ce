/* check_confreload.c - beside check_config.c: reloads with the real
 * binary (good, broken, under load, with command-line overrides), draining
 * generations bounded, and SIGTTIN/SIGTTOU. */
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
	ck_assert(h_wait_workers(&e, 1, 2000));
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
	ck_assert(h_wait_workers(&e, 3, 5000));
}
END_TEST

START_TEST(test_reload_broken_keeps_serving)
{
	int p1 = h_free_port(), p2 = h_free_port();
	pid_t before[8], after[8];

	conf_with(2, p1, p2);
	const char *const argv[] = { "-f", "-c", e.confpath, NULL };
	ck_assert_int_eq(h_start(&e, argv, 10000), 0);
	ck_assert(h_wait_workers(&e, 2, 2000));
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
	ck_assert(h_wait_workers(&e, 1, 2000));
	snprintf(text, sizeof(text), "workers = 4\nlisten_tcp = {\"127.0.0.1:%d\"}\n"
	    "listen_udp = {}\npidfile = \"%s\"\n", p_file2, file_pid2);
	h_write_conf(&e, text);
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 1 worker", 5000));
	ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));
	ck_assert(h_wait_workers(&e, 1, 5000));
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

	const struct h_conf hc = {
	    .extra = "workers = 1\nshutdown_timeout = 1h\n"
	    "listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n" };
	ck_assert_int_eq(h_start_conf(&e, &hc), 0);
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
	ck_assert(h_log_lacks(&e, "generations draining"));
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
	ck_assert(h_wait_workers(&e, 1, 2000));
	kill(e.pid, SIGTTIN);
	ck_assert(h_wait_log(&e, "workers: 1 -> 2", 5000));
	ck_assert(h_wait_workers(&e, 2, 5000));
	kill(e.pid, SIGTTIN);
	ck_assert(h_wait_log(&e, "workers: 2 -> 3", 5000));
	ck_assert(h_wait_workers(&e, 3, 5000));
	kill(e.pid, SIGTTOU);
	ck_assert(h_wait_log(&e, "workers: 3 -> 2", 5000));
	ck_assert(h_wait_workers(&e, 2, 5000));
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
	ck_assert(h_log_lacks(&e, "workers: 2 -> 1"));

	/* until the next reload: back to what -w says */
	kill(e.pid, SIGHUP);
	ck_assert(h_wait_log(&e, "configuration reloaded: generation 2, 1 worker", 5000));
	ck_assert(h_wait_log(&e, "ready: 1 worker", 5000));
	ck_assert(h_wait_workers(&e, 1, 5000));
}
END_TEST

Suite *
confreload_suite(void)
{
	Suite *s = suite_create("config-reload");
	TCase *tc = tcase_create("config-reload");

	tcase_set_timeout(tc, 90);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reload_workers_and_listeners);
	tcase_add_test(tc, test_reload_broken_keeps_serving);
	tcase_add_test(tc, test_reloads_under_load);
	tcase_add_test(tc, test_overrides_survive_reload);
	tcase_add_test(tc, test_draining_generations_bounded);
	tcase_add_test(tc, test_ttin_ttou);
	suite_add_tcase(s, tc);
	return s;
}
