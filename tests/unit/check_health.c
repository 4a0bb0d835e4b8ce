/* check_health.c - the master's judgement of its workers: hung and overdue
 * workers killed in steps, a generation up, READY=1 said once per
 * generation. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health.h"
#include "pool.h"
#include "stats.h"
#include "suites.h"

/* A worker that takes no orders: it reads them until the pipe's EOF. */
static void
deaf(int slot, int cmd_fd, void *arg)
{
	char c;

	(void)slot;
	(void)arg;
	while (read(cmd_fd, &c, 1) == 1)
		continue;
	_exit(0);
}

/* No heartbeat past the timeout: SIGABRT, and SIGKILL only after the grace
 * period, once; a worker that ignores SIGABRT dies of the SIGKILL. */
START_TEST(test_hung_abort_then_kill)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	static struct pool p;
	int st;

	/* The child inherits the SIG_IGN; this process gets its own
	 * disposition back at once, for it runs the next tests too when
	 * CK_FORK=no (a later worker that ignored SIGABRT would never die of
	 * the master's abort, and its test would wait for it for ever). */
	ck_assert_int_eq(sigaction(SIGABRT, &ign, &old), 0);
	ck_assert_int_eq(pool_init(&p), 0);
	pid_t pid = pool_spawn(&p, 0, 1, 0, 1000, deaf, NULL);
	ck_assert_int_eq(sigaction(SIGABRT, &old, NULL), 0);
	ck_assert_int_gt(pid, 0);

	health_check(&p, 3000, 4000);		/* heartbeat 3 s old: fine */
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_NONE);
	health_check(&p, 3000, 4001);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_ABORT);
	ck_assert_uint_eq(p.slot[0].abort_at_ms, 4001);
	health_check(&p, 3000, 4001 + HEALTH_ABORT_GRACE_MS - 1);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_ABORT);
	ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);	/* SIGABRT ignored */
	health_check(&p, 3000, 4001 + HEALTH_ABORT_GRACE_MS);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_FINAL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* not reaped by the pool yet: still alive to it, and left alone */
	health_check(&p, 3000, 60000);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_FINAL);
	ck_assert_uint_eq(pool_died(&p, 0, st, 60000), 0);
	pool_free(&p);
}
END_TEST

/* A draining worker past its deadline is killed at once. */
START_TEST(test_overdue_drain)
{
	static struct pool p;
	int st;

	ck_assert_int_eq(pool_init(&p), 0);
	pid_t pid = pool_spawn(&p, 0, 1, 0, 1000, deaf, NULL);
	ck_assert_int_gt(pid, 0);
	pool_drain(&p, 0, 2000);
	health_check(&p, 60000, 1999);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_NONE);
	health_check(&p, 60000, 2000);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_FINAL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	pool_finished(&p, 0, 0);
	pool_free(&p);
}
END_TEST

static void
running(struct pool *p, int i, unsigned generation, uint64_t hb)
{
	p->slot[i] = (struct slot){ .state = SLOT_RUNNING,
	    .generation = generation, .cmd_fd = -1 };
	atomic_store(&p->stats[i].ready, 1);
	atomic_store(&p->stats[i].heartbeat_ms, hb);
	if (p->hw < i + 1)
		p->hw = i + 1;
}

START_TEST(test_up)
{
	static struct pool p;

	ck_assert_int_eq(pool_init(&p), 0);
	running(&p, 0, 2, 10000);
	running(&p, 1, 2, 10000);
	running(&p, 2, 1, 0);		/* the old generation does not count */
	p.slot[2].state = SLOT_DRAINING;
	ck_assert(health_up(&p, 2, 2, 0, 20000));
	ck_assert(!health_up(&p, 2, 3, 0, 20000));	/* one short */
	ck_assert(health_up(&p, 2, 2, 2000, 12000));
	ck_assert(!health_up(&p, 2, 2, 2000, 12001));	/* a stale heartbeat */
	atomic_store(&p.stats[1].ready, 0);
	ck_assert(!health_up(&p, 2, 2, 0, 20000));	/* not set up yet */
	atomic_store(&p.stats[1].ready, 1);
	p.slot[1].state = SLOT_WAITING;
	ck_assert(!health_up(&p, 2, 2, 0, 20000));	/* waiting to respawn */

	ck_assert_uint_eq(health_fresh_ms(1000), HEALTH_FRESH_MIN_MS);
	ck_assert_uint_eq(health_fresh_ms(4000), 2000);
	ck_assert_uint_eq(health_fresh_ms(60000), HEALTH_FRESH_MAX_MS);
	pool_free(&p);
}
END_TEST

/* READY=1 once a generation is up, again for the next one; never while
 * stopping. */
START_TEST(test_ready_once_per_generation)
{
	static struct pool p;
	struct health h;
	struct health_goal g = { .generation = 1, .target = 1,
	    .worker_timeout_ms = 10000 };

	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(pool_init(&p), 0);
	health_report(&h, &p, &g, 1000);
	ck_assert(!h.ready && !h.started);
	running(&p, 0, 1, 1000);
	health_report(&h, &p, &g, 1000);
	ck_assert(h.ready && h.started);

	health_new_generation(&h);
	g.generation = 2;
	ck_assert(!h.ready && h.started);
	running(&p, 1, 2, 1000);
	g.stopping = true;
	health_report(&h, &p, &g, 1000);
	ck_assert(!h.ready);
	g.stopping = false;
	health_report(&h, &p, &g, 1000);
	ck_assert(h.ready);
	pool_free(&p);
}
END_TEST

/* systemd's STATUS line: a count of one is singular, any other plural. */
START_TEST(test_status_text_plural)
{
	static struct stats_snapshot s;	/* too big for the stack */
	char text[HEALTH_STATUS_LEN];

	memset(&s, 0, sizeof(s));
	s.nworkers = 1;
	s.totals.open = 1;
	s.totals.bytes[STATS_PROTO_TCP] = 1;
	s.totals.datagrams = 1;
	s.totals.full = 1;
	health_status_text(&s, false, text, sizeof(text));
	ck_assert_str_eq(text, "1 worker, 1 connection, 1 byte echoed; "
	    "0 accepted, 1 datagram, 0 refused, 0 dropped, 1 time full");
	s.nworkers = 2;
	s.totals.open = 0;
	s.totals.datagrams = 3;
	s.totals.full = 2;
	health_status_text(&s, true, text, sizeof(text));
	ck_assert_str_eq(text, "stopping: 2 workers, 0 connections, 1 byte "
	    "echoed; 0 accepted, 3 datagrams, 0 refused, 0 dropped, 2 times full");
}
END_TEST

Suite *
health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");

	tcase_add_test(tc, test_hung_abort_then_kill);
	tcase_add_test(tc, test_overdue_drain);
	tcase_add_test(tc, test_up);
	tcase_add_test(tc, test_ready_once_per_generation);
	tcase_add_test(tc, test_status_text_plural);
	suite_add_tcase(s, tc);
	return s;
}
