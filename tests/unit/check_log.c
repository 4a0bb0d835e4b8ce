/*
 * check_log.c - logging never blocks: lines a full pipe as stderr cannot
 * take wait in a bounded queue, in order, until it can; what does not fit
 * there is dropped and counted exactly (from two threads at once, as a
 * worker's loop and its resolver thread do), and the count reported once
 * the pipe takes lines again.
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

#include <sys/wait.h>

#include "log.h"
#include "logq.h"
#include "util.h"
#include "suites.h"

#define BURST_LINES	200000UL	/* per thread, at most */
#define BURST_USEC	(10 * 1000000ULL)	/* and for at most this long */

static int rd = -1;		/* the read end of the pipe that is stderr */

static void discard(void);

static void
setup(void)
{
	rd = log_to_pipe();
	fcntl(rd, F_SETPIPE_SZ, 4096);	/* quicker to fill; the size is moot */
	log_setlevel(LOG_INFO);
	log_setprefix(NULL);
	/* lines and a count left by an earlier test (CK_FORK=no) */
	for (int i = 0; i < 100000 && log_pending(); i++) {
		log_flush();
		discard();
	}
	log_flush();
	discard();
}

static void
teardown(void)
{
	log_unpipe(rd);
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

static void
discard(void)
{
	char buf[4096];

	while (read(rd, buf, sizeof(buf)) > 0)
		;
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

/* Everything the log writes from now on, until nothing waits: the pipe
 * read as the log writes it (log_flush(), as a worker's loop calls it). */
static char *
collect(size_t *len)
{
	size_t cap = 4 << 20, n = 0;
	char *buf = malloc(cap + 1);

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < 1000000; i++) {
		ssize_t r = read(rd, buf + n, cap - n);

		if (r > 0) {
			n += (size_t)r;
			ck_assert_uint_lt(n, cap);
			continue;
		}
		if (!log_pending())
			break;
		log_flush();
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static unsigned long
count_lines(const char *buf)
{
	unsigned long n = 0;

	for (; *buf; buf++)
		n += *buf == '\n';
	return n;
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

/* The pid on each line is remembered, not asked for each time: a forked
 * child (a worker) still writes its own. */
START_TEST(test_child_writes_its_own_pid)
{
	char got[256], want[256];
	pid_t child;
	int st;

	log_info("parent");
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: parent\n", (long)getpid());
	ck_assert_str_eq(got, want);
	if ((child = fork()) == 0) {
		log_info("child");
		_exit(0);
	}
	ck_assert_int_ne(child, -1);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: child\n", (long)child);
	ck_assert_str_eq(got, want);
}
END_TEST

/*
 * log_batch(): the loop's info lines wait for the end of its turn
 * (log_flush()) and go out together, in order; a warning is not held back
 * and takes what was batched before it along; off writes what waits.
 */
START_TEST(test_batch_waits_for_the_turn)
{
	char got[4096], want[512];
	long pid = (long)getpid();

	log_batch(true);
	log_info("one");
	log_info("two");
	ck_assert(log_pending());
	ck_assert_uint_eq(drain(got, sizeof(got)), 0);	/* held */
	log_flush();
	ck_assert(!log_pending());
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: one\nechod[%ld]: two\n", pid,
	    pid);
	ck_assert_str_eq(got, want);

	log_info("three");
	log_warnx("four");			/* not held, and not first */
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: three\nechod[%ld]: four\n",
	    pid, pid);
	ck_assert_str_eq(got, want);

	log_info("five");
	log_batch(false);
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: five\n", pid);
	ck_assert_str_eq(got, want);
	log_info("six");			/* off: at once */
	drain(got, sizeof(got));
	snprintf(want, sizeof(want), "echod[%ld]: six\n", pid);
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
 * until the case's timeout) and leaves stderr's own file blocking; the
 * lines wait, and come out whole and in order once the pipe is read. */
START_TEST(test_full_pipe_queues_in_order)
{
	struct log_conn_fields f = { .proto = "tcp", .addr = "127.0.0.1",
	    .port = 7 };
	char want[256];
	size_t len;
	char *got, *p;

	fill_pipe();
	for (int i = 0; i < 1000; i++)
		log_info("line %d", i);
	log_warnx("a warning");
	log_conn(LOG_CONN_OPEN, &f, "tcp connected to %s port %u", f.addr, f.port);
	log_flush();	/* cannot write yet: the lines wait */
	ck_assert(log_pending());
	ck_assert_int_eq(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0);

	discard();	/* the junk that filled the pipe... */
	got = collect(&len);	/* ...and the lines that waited behind it */
	p = got;
	while (*p != '\0' && strncmp(p, "echod[", 6) != 0)
		p++;	/* the rest of the junk */
	for (int i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want), "echod[%ld]: line %d\n",
		    (long)getpid(), i);
		ck_assert_msg(strncmp(p, want, strlen(want)) == 0, "line %d: %.40s",
		    i, p);
		p += strlen(want);
	}
	snprintf(want, sizeof(want), "echod[%ld]: a warning\n"
	    "echod[%ld]: tcp connected to 127.0.0.1 port 7\n", (long)getpid(),
	    (long)getpid());
	ck_assert_str_eq(p, want);
	ck_assert(!log_pending());
	ck_assert_uint_eq(log_dropped_total(), 0);
	free(got);
}
END_TEST

/* Past the queue's bound, lines are dropped, counted exactly and reported
 * once the pipe takes lines again, after those that waited. */
START_TEST(test_full_queue_drops_and_counts)
{
	static char body[1001];
	char want[256];
	unsigned long fit, k = 2000, reported = 0;
	size_t len, reclen;
	char *got, *p;

	memset(body, 'b', sizeof(body) - 1);
	reclen = (size_t)snprintf(want, sizeof(want), "echod[%ld]: ",
	    (long)getpid()) + 1000 + 1;
	fit = LOGQ_BYTES / (reclen + 4);
	ck_assert_uint_gt(k, fit);
	fill_pipe();
	for (unsigned long i = 0; i < k; i++)
		log_info("%s", body);
	ck_assert_uint_eq(log_dropped_total(), k - fit);

	discard();
	got = collect(&len);	/* the lines that waited, then the count */
	ck_assert_ptr_nonnull(p = strstr(got, " log messages dropped\n"));
	ck_assert_str_eq(p, " log messages dropped\n");
	while (p > got && p[-1] != '\n')
		p--;
	ck_assert_int_eq(sscanf(p, "echod[%*d]: %lu log messages dropped",
	    &reported), 1);
	ck_assert_uint_eq(reported, k - fit);
	ck_assert_uint_eq(count_lines(got), fit + 1);

	log_flush();	/* reported once, then the count starts over */
	log_info("again");
	free(got);
	got = collect(&len);
	snprintf(want, sizeof(want), "echod[%ld]: again\n", (long)getpid());
	ck_assert_str_eq(got, want);
	free(got);
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

/* Two threads log into the full pipe at once: what the queue cannot hold
 * is lost, and the count says exactly how many (a plain ++ loses some of
 * its own updates): the lines that come out and the count add up. */
START_TEST(test_drop_count_two_threads)
{
	pthread_barrier_t go;
	pthread_t t[2];
	struct burst b[2];
	unsigned long reported = 0;

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
	size_t len;
	char *got = collect(&len), *p;
	/* the lines, then the count */
	unsigned long lines = count_lines(got) - 1;
	ck_assert_msg((p = strstr(got, " log messages dropped\n")) != NULL,
	    "no report: \"%.200s\"", got);
	while (p > got && p[-1] != '\n')
		p--;
	ck_assert_int_eq(sscanf(p, "echod[%*d]: %lu log messages dropped\n",
	    &reported), 1);
	free(got);
	ck_assert_msg(lines + reported == b[0].n + b[1].n, "%lu lines and %lu "
	    "reported lost of %lu + %lu", lines, reported, b[0].n, b[1].n);
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
	tcase_add_test(tc, test_child_writes_its_own_pid);
	tcase_add_test(tc, test_batch_waits_for_the_turn);
	tcase_add_test(tc, test_conn_line_is_the_callers);
	tcase_add_test(tc, test_full_pipe_queues_in_order);
	tcase_add_test(tc, test_full_queue_drops_and_counts);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 60);	/* 10 s at most, slower under TSan */
	tcase_add_test(tt, test_drop_count_two_threads);
	suite_add_tcase(s, tt);
	return s;
}
