/* check_master_slots.c - the master's decisions on the slot table: what a
 * reaped worker's slot becomes (freed, waiting its backoff, respawned at
 * once), the give-up rule, the respawn that waits for a backoff, and the
 * descriptors a forked worker closes.  The workers are small children
 * forked into a struct master set up by hand, as check_pool.c does. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "master_slots.h"
#include "master_state.h"
#include "metrics.h"
#include "source_tcp.h"
#include "suites.h"

static struct master m;

static void
setup_master(bool started)
{
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(pool_init(&m.pool), 0);
	handoff_master_init(&m.handoff, &m.pool);
	ck_assert_ptr_nonnull(m.sources = source_init(POOL_MAX_SLOTS,
	    source_tcp_capacity(64)));
	m.health.started = started;
	m.generation = 1;
	m.target = 1;
	m.now_ms = 1000000;
	m.sigfd = m.pidfd = -1;
	/* as observe_open() leaves them with nothing to serve */
	control_init(&m.obs.ctl, NULL, NULL);
	metrics_init(&m.obs.metrics);
}

static void
teardown_master(void)
{
	pool_free(&m.pool);
	free(m.close_fds);
}

/* A worker: exits with *arg at once, or (arg NULL) on its first order. */
static void
child(int slot, int cmd_fd, void *arg)
{
	char cmd;

	(void)slot;
	if (arg != NULL)
		_exit(*(const int *)arg);
	if (read(cmd_fd, &cmd, 1) != 1)
		_exit(101);
	_exit(0);
}

/* A worker that never ends by itself. */
static void
sleeper(int slot, int cmd_fd, void *arg)
{
	(void)slot, (void)cmd_fd, (void)arg;
	for (;;)
		pause();
}

/* Until pid has ended, left for master_reap() to collect. */
static void
wait_dead(pid_t pid)
{
	siginfo_t si;

	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
}

static pid_t
spawn_into(int i, void (*fn)(int, int, void *), void *arg)
{
	pid_t pid = pool_spawn(&m.pool, i, m.generation,
	    pool_rank_for(&m.pool, i, m.generation), m.now_ms, fn, arg);

	ck_assert_int_gt(pid, 0);
	return pid;
}

/* A worker that crashes at once waits a doubling backoff; the fifth such
 * death inside the window makes the master give up and exit 1. */
START_TEST(test_early_deaths_give_up)
{
	const uint64_t backoff[] = { 100, 200, 400, 800 };
	int code = 3;

	setup_master(true);
	for (int k = 0; k < POOL_GIVEUP_COUNT; k++) {
		wait_dead(spawn_into(0, child, &code));
		m.now_ms += 50;
		master_reap(&m);
		ck_assert_int_eq(m.pool.slot[0].state, SLOT_WAITING);
		if (k == POOL_GIVEUP_COUNT - 1)
			break;
		ck_assert(!m.sig_stop);
		ck_assert_uint_eq(m.pool.slot[0].respawn_at_ms,
		    m.now_ms + backoff[k]);
	}
	ck_assert(m.sig_stop);
	ck_assert_int_eq(m.exit_code, 1);
	ck_assert_msg(strstr(m.gave_up, "5 workers died within 10s of "
	    "starting in the last 30s") != NULL, "%s", m.gave_up);
	teardown_master();
}
END_TEST

/* A clean exit counts toward the rule only before the first "ready". */
START_TEST(test_clean_exit_counts_before_ready)
{
	int code = 0;

	setup_master(true);
	wait_dead(spawn_into(0, child, &code));
	master_reap(&m);
	ck_assert_uint_eq(m.crashes.n, 0);
	ck_assert_int_eq(m.pool.slot[0].state, SLOT_WAITING);
	teardown_master();

	setup_master(false);
	wait_dead(spawn_into(0, child, &code));
	master_reap(&m);
	ck_assert_uint_eq(m.crashes.n, 1);
	ck_assert(!m.sig_stop);
	teardown_master();
}
END_TEST

/* A drained worker's slot is freed, whatever its exit: no respawn, and
 * no count toward the rule. */
START_TEST(test_drained_is_freed)
{
	setup_master(true);
	pid_t pid = spawn_into(0, child, NULL);

	master_drain_slot(&m, 0, 1000);
	ck_assert_int_eq(m.pool.slot[0].state, SLOT_DRAINING);
	ck_assert_uint_eq(m.pool.slot[0].deadline_ms,
	    m.now_ms + 1000 + DRAIN_GRACE_MS);
	wait_dead(pid);
	master_reap(&m);
	ck_assert_int_eq(m.pool.slot[0].state, SLOT_FREE);
	ck_assert_int_eq(m.pool.slot[0].cmd_fd, -1);
	ck_assert_uint_eq(m.crashes.n, 0);
	ck_assert_int_eq(pool_count_alive(&m.pool), 0);
	teardown_master();
}
END_TEST

/* The master's own kill (a hung worker): back at once, not counted. */
START_TEST(test_killed_by_master_at_once)
{
	setup_master(true);
	pid_t pid = spawn_into(0, sleeper, NULL);

	master_kill_slot(&m, 0);
	wait_dead(pid);
	m.now_ms += 20;
	master_reap(&m);
	ck_assert_int_eq(m.pool.slot[0].state, SLOT_WAITING);
	ck_assert_uint_eq(m.pool.slot[0].respawn_at_ms, m.now_ms);
	ck_assert_uint_eq(m.crashes.n, 0);
	teardown_master();
}
END_TEST

/* A slot waiting its backoff is not forked before respawn_at, and a
 * waiting slot of the generation counts toward the target. */
START_TEST(test_respawn_waits_backoff)
{
	struct conf c = { 0 };

	setup_master(true);
	m.conf = &c;
	ck_assert_uint_eq(pool_spawn_failed(&m.pool, 0, m.generation, 0,
	    m.now_ms), 100);
	m.now_ms += 99;
	master_respawn(&m);
	ck_assert_int_eq(m.pool.slot[0].state, SLOT_WAITING);
	ck_assert_int_eq(m.pool.slot[0].pid, 0);
	ck_assert_int_eq(pool_free_slot(&m.pool), 1);
	teardown_master();
}
END_TEST

/* A forked worker closes the master's own descriptors; one closed since
 * leaves the list, so the child never closes a number reused for it. */
START_TEST(test_close_fds)
{
	struct conf c = { 0 };
	int n = 0;

	setup_master(true);
	m.conf = &c;
	m.sigfd = 100;
	m.pidfd = 101;
	master_prepare_workers(&m);
	for (const int *p = m.close_fds; *p != -1; p++)
		n++;
	ck_assert_int_ge(n, 3);
	ck_assert_int_eq(m.close_fds[0], 100);
	ck_assert_int_eq(m.close_fds[1], 101);
	master_forget_fd(&m, 100);
	ck_assert_int_eq(m.close_fds[0], 101);
	for (const int *p = m.close_fds; *p != -1; p++)
		ck_assert_int_ne(*p, 100);
	teardown_master();
}
END_TEST

Suite *
master_slots_suite(void)
{
	Suite *s = suite_create("master_slots");
	TCase *tc = tcase_create("master_slots");

	tcase_add_test(tc, test_early_deaths_give_up);
	tcase_add_test(tc, test_clean_exit_counts_before_ready);
	tcase_add_test(tc, test_drained_is_freed);
	tcase_add_test(tc, test_killed_by_master_at_once);
	tcase_add_test(tc, test_respawn_waits_backoff);
	tcase_add_test(tc, test_close_fds);
	suite_add_tcase(s, tc);
	return s;
}
