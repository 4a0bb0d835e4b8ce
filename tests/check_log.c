/*
 * check_log.c - logging never blocks: a full pipe as stderr drops lines,
 * counts them exactly (from two threads at once, as a worker's loop and its
 * resolver thread do) and reports the count once the pipe takes lines again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "suites.h"

#define BURST_LINES	200000UL	/* per thread, at most */
#define BURST_USEC	(10 * 1000000ULL)	/* and for at most this long */

static int rd = -1;		/* the read end of the pipe that is stderr */
static int saved_stderr = -1;

/* stderr becomes a pipe, blocking as a shell's pipe is, and the log
 * writes to it. */
static void
setup(void)
{
	int p[2];

	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(dup2(p[1], STDERR_FILENO), -1);
	close(p[1]);
	rd = p[0];
	ck_assert_int_eq(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
	fcntl(rd, F_SETPIPE_SZ, 4096);	/* quicker to fill; the size is moot */
	log_init(LOG_TO_STDERR, "echod");
	log_setlevel(LOG_INFO);
	log_setprefix(NULL);
	log_flush();	/* a count left by an earlier test (CK_FORK=no) */
}

static void
teardown(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(rd);
}

/* Fills the pipe through a non-blocking file of its own, leaving stderr's
 * open file (and its blocking flag) alone. */
static void
fill_pipe(void)
{
	static char junk[4096];
	int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	while (write(fd, junk, 1) == 1)
		;
	ck_assert_int_eq(errno, EAGAIN);
	close(fd);
}

/* Everything waiting in the pipe, as a string. */
static size_t
drain(char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(rd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

static void
discard(void)
{
	char buf[4096];

	while (read(rd, buf, sizeof(buf)) > 0)
		;
}

START_TEST(test_plain_line)
{
	char got[256], want[256];

	log_setprefix("worker 3");
	log_info("started with %d connections", 0);
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: worker 3: started with 0 "
	    "connections\n", (long)getpid());
	ck_assert_str_eq(got, want);
}
END_TEST

/* The caller words the line; log_conn() prefixes it and nothing more. */
START_TEST(test_conn_line_is_the_callers)
{
	struct log_conn_fields f = { .proto = "tcp", .addr = "192.0.2.7",
	    .port = 4000, .bytes = 5, .usec = 1500000 };
	char got[256], want[256];

	log_setprefix("worker 1");
	log_conn(LOG_CONN_CLOSE, &f, "tcp closed %s port %u: said %s", f.addr,
	    f.port, "goodbye");
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: worker 1: tcp closed 192.0.2.7 "
	    "port 4000: said goodbye\n", (long)getpid());
	ck_assert_str_eq(got, want);

	log_setlevel(LOG_NOTICE);	/* connection lines are LOG_INFO */
	log_conn(LOG_CONN_OPEN, &f, "tcp connected to %s", f.addr);
	ck_assert_uint_eq(drain(got, sizeof(got)), 0);
}
END_TEST

/* A full pipe never blocks the caller (a blocking write would hang here
 * until the case's timeout), leaves stderr's own file blocking, and the
 * lines lost are counted and reported before the next line. */
START_TEST(test_full_pipe_drops_and_counts)
{
	struct log_conn_fields f = { .proto = "tcp", .addr = "127.0.0.1",
	    .port = 7 };
	char got[256], want[256];

	fill_pipe();
	for (int i = 0; i < 1000; i++)
		log_info("line %d", i);
	log_warnx("a warning");
	log_conn(LOG_CONN_OPEN, &f, "tcp connected to %s port %u", f.addr, f.port);
	log_flush();	/* cannot report yet: the count is kept */
	ck_assert_int_eq(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0);

	discard();
	log_info("after");
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: 1002 log messages dropped\n"
	    "echod[%ld]: after\n", (long)getpid(), (long)getpid());
	ck_assert_str_eq(got, want);

	log_flush();	/* reported once, then the count starts over */
	log_info("again");
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: again\n", (long)getpid());
	ck_assert_str_eq(got, want);
}
END_TEST

struct burst {
	pthread_barrier_t	*go;
	bool			 conn;	/* log_conn() as the resolver, else log_info() */
	uint64_t		 deadline_us;
	unsigned long		 n;	/* lines logged */
};

static void *
burst(void *arg)
{
	struct burst *b = arg;
	struct log_conn_fields f = { .proto = "tcp", .addr = "127.0.0.1",
	    .port = 7, .host = "localhost" };

	pthread_barrier_wait(b->go);
	for (b->n = 0; b->n < BURST_LINES; b->n++) {
		if (b->n % 1024 == 0 && now_usec() > b->deadline_us)
			break;
		if (b->conn)
			log_conn(LOG_CONN_OPEN, &f, "tcp connected to %s (%s) port %u",
			    f.host, f.addr, f.port);
		else
			log_info("line %lu", b->n);
	}
	return NULL;
}

/* Two threads log into the full pipe at once: every line is lost, and the
 * count says exactly how many (a plain ++ loses some of its own updates). */
START_TEST(test_drop_count_two_threads)
{
	pthread_barrier_t go;
	pthread_t t[2];
	struct burst b[2];
	unsigned long reported = 0;
	char got[256];

	fill_pipe();
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		b[i] = (struct burst){ .go = &go, .conn = i == 1,
		    .deadline_us = now_usec() + BURST_USEC };
		ck_assert_int_eq(pthread_create(&t[i], NULL, burst, &b[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);

	discard();
	log_flush();
	drain(got, sizeof(got));
	ck_assert_msg(sscanf(got, "echod[%*d]: %lu log messages dropped\n",
	    &reported) == 1, "no report: \"%s\"", got);
	ck_assert_msg(reported == b[0].n + b[1].n, "reported %lu of %lu + %lu "
	    "lost", reported, b[0].n, b[1].n);
}
END_TEST

Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("output");
	TCase *tt = tcase_create("threads");

	/* a write that blocks shows as this case's timeout */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_plain_line);
	tcase_add_test(tc, test_conn_line_is_the_callers);
	tcase_add_test(tc, test_full_pipe_drops_and_counts);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 60);	/* 10 s at most, slower under TSan */
	tcase_add_test(tt, test_drop_count_two_threads);
	suite_add_tcase(s, tt);
	return s;
}
