/* check_pool.c - wait-status decoding, backoff, the give-up rule, the fork
 * helper with its order pipe, and the slot state machine. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool.h"
#include "suites.h"
#include "util.h"

static int
status_of(void (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return st;
}

static void exit3(void) { _exit(3); }
static void exit0(void) { _exit(0); }
static void segv(void) { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); }
static void killed(void) { raise(SIGKILL); }
static void termed(void) { signal(SIGTERM, SIG_DFL); raise(SIGTERM); }
static void aborted(void) { signal(SIGABRT, SIG_DFL); raise(SIGABRT); }

START_TEST(test_describe)
{
	char buf[128];

	pool_describe_status(status_of(exit3), buf, sizeof(buf));
	ck_assert_str_eq(buf, "exited with status 3");
	pool_describe_status(status_of(killed), buf, sizeof(buf));
	ck_assert_str_eq(buf, "killed by signal 9 (Killed)");
	pool_describe_status(status_of(segv), buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "killed by signal 11 (Segmentation fault)", 40) == 0,
	    "%s", buf);
}
END_TEST

START_TEST(test_is_crash)
{
	ck_assert(!pool_is_crash(status_of(exit0)));
	ck_assert(pool_is_crash(status_of(exit3)));
	ck_assert(pool_is_crash(status_of(segv)));
	ck_assert(pool_is_crash(status_of(aborted)));
	ck_assert(!pool_is_crash(status_of(killed)));
	ck_assert(!pool_is_crash(status_of(termed)));
	ck_assert(pool_is_external(status_of(killed)));
	ck_assert(pool_is_external(status_of(termed)));
	ck_assert(!pool_is_external(status_of(segv)));
	ck_assert(!pool_is_external(status_of(exit0)));
	ck_assert(!pool_is_external(status_of(exit3)));
}
END_TEST

START_TEST(test_backoff)
{
	uint64_t b = 0;
	const uint64_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };

	for (size_t i = 0; i < nitems(want); i++) {
		b = pool_next_backoff(b, 50);
		ck_assert_uint_eq(b, want[i]);
	}
	/* a worker that lived long enough starts the count again */
	ck_assert_uint_eq(pool_next_backoff(5000, POOL_EARLY_DEATH_MS), 0);
	ck_assert_uint_eq(pool_next_backoff(5000, POOL_EARLY_DEATH_MS - 1), 5000);
	ck_assert_uint_eq(pool_next_backoff(0, POOL_EARLY_DEATH_MS - 1), 100);
}
END_TEST

/* Killed from outside early: paced (a kill loop must not set the fork
 * rate), capped low (a kill now and then must not empty the pool); killed
 * by the master (hung): at once; a crash: the full backoff. */
START_TEST(test_respawn_delay)
{
	const uint64_t want[] = { 100, 200, 400, 500, 500 };
	int k = status_of(killed), c = status_of(segv);
	uint64_t b = 0;

	for (size_t i = 0; i < nitems(want); i++) {
		b = pool_respawn_delay(b, 50, k, false);
		ck_assert_uint_eq(b, want[i]);
	}
	ck_assert_uint_eq(pool_respawn_delay(0, 50, k, true), 0);
	ck_assert_uint_eq(pool_respawn_delay(400, 50, c, true), 0);
	ck_assert_uint_eq(pool_respawn_delay(b, POOL_EARLY_DEATH_MS, k, false), 0);
	ck_assert_uint_eq(pool_respawn_delay(1600, 50, c, false), 3200);
	ck_assert_uint_eq(pool_respawn_delay(0, 50, status_of(exit0), false), 100);
}
END_TEST

/* The cap lets the rule fire: K deaths of one slot fit inside W. */
START_TEST(test_backoff_cap_fits_window)
{
	uint64_t b = 0, t = 0;

	for (int i = 0; i < POOL_GIVEUP_COUNT - 1; i++) {
		b = pool_next_backoff(b, 0);
		t += b;
	}
	ck_assert_uint_lt(t, POOL_GIVEUP_WINDOW_MS);
}
END_TEST

START_TEST(test_crashwin)
{
	struct pool_crashwin w = { 0 };
	uint64_t t = 1000000;

	for (int i = 0; i < POOL_GIVEUP_COUNT - 1; i++)
		ck_assert(!pool_crashwin_add(&w, t + (uint64_t)i * 1000));
	ck_assert(pool_crashwin_add(&w, t + 5000));

	/* the same count spread wider than the window never fires */
	struct pool_crashwin v = { 0 };
	for (int i = 0; i < 3 * POOL_GIVEUP_COUNT; i++)
		ck_assert(!pool_crashwin_add(&v, t + (uint64_t)i *
		    (POOL_GIVEUP_WINDOW_MS / (POOL_GIVEUP_COUNT - 1) + 1)));
}
END_TEST

static int other_fd = -1;

/* The child reports, in its exit status, the order it read, or 100 if it
 * still holds another slot's pipe. */
static void
child(int slot, int cmd_fd, void *arg)
{
	char cmd;

	if (other_fd != -1 && fcntl(other_fd, F_GETFD) != -1)
		_exit(100);
	if (read(cmd_fd, &cmd, 1) != 1)
		_exit(101);
	_exit(cmd);
}

/* p initialised, with the child above in slot 0 spawned at now_ms. */
static pid_t
first_worker(struct pool *p, uint64_t now_ms)
{
	pid_t pid;

	other_fd = -1;
	ck_assert_int_eq(pool_init(p), 0);
	pid = pool_spawn(p, 0, 1, 0, now_ms, child, NULL);
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* The page's read-only mapping (the metrics process's) sees what the
 * master writes, and can never be made writable: not by mprotect(), not by
 * a new writable mapping of the memfd. */
START_TEST(test_page_readonly_for_good)
{
	static struct pool p;
	const struct chan_page *ro;

	ck_assert_int_eq(pool_init(&p), 0);
	ck_assert_ptr_nonnull(ro = pool_page_readonly(p.page_fd));
	atomic_store(&p.shared->stats[7].heartbeat_ms, 42);
	ck_assert_uint_eq(atomic_load(&ro->stats[7].heartbeat_ms), 42);
	ck_assert_int_eq(mprotect((void *)ro, sizeof(*ro), PROT_READ |
	    PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_ptr_eq(mmap(NULL, sizeof(*ro), PROT_READ | PROT_WRITE,
	    MAP_SHARED, p.page_fd, 0), MAP_FAILED);
	ck_assert_int_ne(fcntl(p.page_fd, F_GETFD) & FD_CLOEXEC, 0);
	munmap((void *)ro, sizeof(*ro));
	pool_free(&p);
	ck_assert_int_eq(p.page_fd, -1);
}
END_TEST

START_TEST(test_spawn_and_order)
{
	static struct pool p;
	int st;

	ck_assert_int_eq(pool_init(&p), 0);
	pid_t a = pool_spawn(&p, 0, 1, 0, 10, child, NULL);
	ck_assert_int_gt(a, 0);
	ck_assert_int_eq(p.slot[0].state, SLOT_RUNNING);
	ck_assert_int_eq(pool_find_pid(&p, a), 0);
	ck_assert_int_eq(pool_free_slot(&p), 1);

	other_fd = p.slot[0].cmd_fd;
	pid_t b = pool_spawn(&p, 1, 1, 1, 10, child, NULL);
	ck_assert_int_gt(b, 0);

	pool_order(&p, 0, CHAN_CMD_DRAIN);
	pool_order(&p, 1, CHAN_CMD_QUIT);
	ck_assert_int_eq(waitpid(a, &st, 0), a);
	ck_assert_int_eq(WEXITSTATUS(st), CHAN_CMD_DRAIN);
	ck_assert_int_eq(waitpid(b, &st, 0), b);
	ck_assert_msg(WEXITSTATUS(st) == CHAN_CMD_QUIT,
	    "second worker exited %d", WEXITSTATUS(st));
	ck_assert_uint_eq(atomic_load(&p.stats[0].heartbeat_ms), 10);
	pool_free(&p);
}
END_TEST

/* Ranks (the workers' UDP sockets, shard.h): the lowest free in the
 * generation; a slot waiting to respawn keeps its own; draining slots and
 * other generations hold none; a resize takes the highest away. */
START_TEST(test_ranks)
{
	static struct pool p;

	ck_assert_int_eq(pool_init(&p), 0);
	p.hw = 6;
	ck_assert_int_eq(pool_rank_for(&p, 0, 2), 0);
	ck_assert_int_eq(pool_highest_rank(&p, 2), -1);
	/* generation 1 draining in slots 0, 1 with ranks 0, 1 */
	p.slot[0] = (struct slot){ .state = SLOT_DRAINING, .generation = 1,
	    .rank = 0, .cmd_fd = -1 };
	p.slot[1] = (struct slot){ .state = SLOT_DRAINING, .generation = 1,
	    .rank = 1, .cmd_fd = -1 };
	/* generation 2: rank 1 in slot 2, rank 0 waiting in slot 4 */
	p.slot[2] = (struct slot){ .state = SLOT_RUNNING, .generation = 2,
	    .rank = 1, .cmd_fd = -1 };
	p.slot[4] = (struct slot){ .state = SLOT_WAITING, .generation = 2,
	    .rank = 0, .cmd_fd = -1 };
	ck_assert_int_eq(pool_rank_for(&p, 3, 2), 2);	/* a free slot */
	ck_assert_int_eq(pool_rank_for(&p, 4, 2), 0);	/* its respawn */
	ck_assert_int_eq(pool_rank_for(&p, 3, 1), 0);	/* 1 is draining */
	ck_assert_int_eq(pool_highest_rank(&p, 2), 2);	/* slot 2, rank 1 */
	p.slot[3] = (struct slot){ .state = SLOT_RUNNING, .generation = 2,
	    .rank = 2, .cmd_fd = -1 };
	ck_assert_int_eq(pool_highest_rank(&p, 2), 3);	/* slot 3, rank 2 */
	ck_assert_int_eq(pool_rank_for(&p, 5, 2), 3);
	/* a waiting slot of an older generation is not a respawn of this one */
	p.slot[4].generation = 1;
	ck_assert_int_eq(pool_rank_for(&p, 4, 2), 0);
	/* a fork that failed waits with the rank it was to have, not one
	 * left from an earlier life */
	p.slot[5].rank = 7;
	pool_spawn_failed(&p, 5, 2, pool_rank_for(&p, 5, 2), 100);
	ck_assert_int_eq(p.slot[5].rank, 0);
	ck_assert_int_eq(pool_rank_for(&p, 5, 2), 0);
	ck_assert_int_eq(pool_rank_for(&p, 4, 2), 3);
	pool_free(&p);
}
END_TEST

START_TEST(test_generations)
{
	static struct pool p;
	unsigned oldest;

	ck_assert_int_eq(pool_init(&p), 0);
	p.hw = 9;
	/* generation 9 serving in two slots, one waiting to respawn */
	p.slot[0] = (struct slot){ .state = SLOT_RUNNING, .generation = 9, .cmd_fd = -1 };
	p.slot[1] = (struct slot){ .state = SLOT_WAITING, .generation = 9, .cmd_fd = -1 };
	ck_assert_int_eq(pool_count_current(&p, 9), 2);
	ck_assert_int_eq(pool_count_alive(&p), 1);
	/* generations 5..8 draining: one too many, 5 goes */
	for (int g = 5; g <= 8; g++)
		p.slot[g] = (struct slot){ .state = SLOT_DRAINING, .generation = (unsigned)g,
		    .cmd_fd = -1 };
	ck_assert(pool_excess_generation(&p, &oldest));
	ck_assert_uint_eq(oldest, 5);
	p.slot[5].kill = SLOT_KILL_FINAL;	/* already being stopped: not counted */
	ck_assert(!pool_excess_generation(&p, &oldest));
	/* draining frees a waiting slot and marks a running one */
	pool_drain(&p, 1, 1000);
	ck_assert_int_eq(p.slot[1].state, SLOT_FREE);
	pool_drain(&p, 0, 1000);
	ck_assert_int_eq(p.slot[0].state, SLOT_DRAINING);
	ck_assert_uint_eq(p.slot[0].deadline_ms, 1000);
	ck_assert_int_eq(pool_count_current(&p, 9), 0);
	pool_free(&p);
}
END_TEST

/* One predicate says "alive", and counting uses it. */
START_TEST(test_alive)
{
	static struct pool p;
	const enum slot_state st[] = { SLOT_FREE, SLOT_RUNNING, SLOT_DRAINING,
	    SLOT_WAITING };
	const bool alive[] = { false, true, true, false };

	ck_assert_int_eq(pool_init(&p), 0);
	p.hw = (int)nitems(st);
	for (size_t i = 0; i < nitems(st); i++) {
		p.slot[i].state = st[i];
		ck_assert(pool_alive(&p.slot[i]) == alive[i]);
	}
	ck_assert_int_eq(pool_count_alive(&p), 2);
	pool_free(&p);
}
END_TEST

/* A worker that could not be forked: the slot waits the backoff of a
 * worker that died at once, and is counted below the high-water mark even
 * though no fork happened; freeing it forgets the backoff. */
START_TEST(test_spawn_failed)
{
	static struct pool p;

	ck_assert_int_eq(pool_init(&p), 0);
	ck_assert_uint_eq(pool_next_respawn(&p), UINT64_MAX);
	ck_assert_uint_eq(pool_spawn_failed(&p, 3, 7, 0, 1000), 100);
	ck_assert_int_eq(p.hw, 4);
	ck_assert_uint_eq(atomic_load(&p.shared->hw), 4);
	ck_assert_int_eq(p.slot[3].state, SLOT_WAITING);
	ck_assert(pool_current(&p.slot[3], 7));
	ck_assert_uint_eq(pool_next_respawn(&p), 1100);
	ck_assert_uint_eq(pool_spawn_failed(&p, 3, 7, 0, 1100), 200);
	ck_assert_uint_eq(pool_next_respawn(&p), 1300);
	ck_assert_int_eq(pool_count_current(&p, 7), 1);

	/* the bound is the master's own: a worker scribbling on the page
	 * moves nothing */
	atomic_store(&p.shared->hw, 100000);
	ck_assert_int_eq(pool_count_current(&p, 7), 1);
	ck_assert_int_eq(pool_free_slot(&p), 0);

	pool_drain(&p, 3, 5000);
	ck_assert_int_eq(p.slot[3].state, SLOT_FREE);
	ck_assert_uint_eq(p.slot[3].backoff_ms, 0);
	ck_assert_uint_eq(pool_next_respawn(&p), UINT64_MAX);
	pool_free(&p);
}
END_TEST

/* Reaped: the pipe closes, the published counters clear and the bytes are
 * kept; a death waits the respawn delay, a finish frees the slot. */
START_TEST(test_reaped)
{
	static struct pool p;
	int st;

	pid_t a = first_worker(&p, 1000);
	pid_t b = pool_spawn(&p, 1, 1, 1, 1000, child, NULL);
	ck_assert_int_gt(b, 0);
	ck_assert_int_eq(p.hw, 2);
	atomic_store(&p.stats[0].bytes, 500);
	atomic_store(&p.stats[0].connections, 3);
	atomic_store(&p.stats[0].serving, 1);
	atomic_store(&p.stats[0].armed, 1);
	atomic_store(&p.stats[1].bytes, 20);

	pool_order(&p, 0, 0);		/* exits 0: not a crash */
	ck_assert_int_eq(waitpid(a, &st, 0), a);
	ck_assert_uint_eq(pool_died(&p, 0, st, 1050), POOL_BACKOFF_MIN_MS);
	ck_assert_int_eq(p.slot[0].state, SLOT_WAITING);
	ck_assert_uint_eq(p.slot[0].respawn_at_ms, 1050 + POOL_BACKOFF_MIN_MS);
	ck_assert_int_eq(p.slot[0].cmd_fd, -1);
	ck_assert_uint_eq(atomic_load(&p.stats[0].bytes), 0);
	ck_assert_uint_eq(atomic_load(&p.stats[0].connections), 0);
	ck_assert_uint_eq(atomic_load(&p.stats[0].serving), 0);
	ck_assert_uint_eq(atomic_load(&p.stats[0].armed), 0);
	ck_assert_int_eq(pool_find_pid(&p, a), -1);

	pool_drain(&p, 1, 9000);
	ck_assert_int_eq(p.slot[1].state, SLOT_DRAINING);
	ck_assert_int_eq(waitpid(b, &st, 0), b);
	ck_assert_int_eq(WEXITSTATUS(st), CHAN_CMD_DRAIN);
	pool_finished(&p, 1, 0);
	ck_assert_int_eq(p.slot[1].state, SLOT_FREE);
	ck_assert_int_eq(p.slot[1].cmd_fd, -1);
	ck_assert_int_eq(pool_count_alive(&p), 0);
	pool_free(&p);
}
END_TEST

/* Quitting orders every live worker out at once and frees a waiting slot. */
START_TEST(test_quit)
{
	static struct pool p;
	int st;

	pid_t a = first_worker(&p, 10);
	pool_spawn_failed(&p, 1, 1, 1, 10);
	pool_quit(&p, 0, 777);
	pool_quit(&p, 1, 777);
	pool_quit(&p, 2, 777);
	ck_assert_int_eq(p.slot[0].state, SLOT_DRAINING);
	ck_assert_uint_eq(p.slot[0].deadline_ms, 777);
	ck_assert_int_eq(p.slot[1].state, SLOT_FREE);
	ck_assert_int_eq(p.slot[2].state, SLOT_FREE);
	ck_assert_int_eq(waitpid(a, &st, 0), a);
	ck_assert_int_eq(WEXITSTATUS(st), CHAN_CMD_QUIT);
	pool_finished(&p, 0, 0);
	pool_free(&p);
}
END_TEST

/* The master's kills are recorded as what was sent, and a death after one
 * is the master's doing: it respawns at once, not after a backoff. */
START_TEST(test_kill_states)
{
	static struct pool p;
	int st;

	pid_t a = first_worker(&p, 10);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_NONE);
	ck_assert(!pool_killed(&p.slot[0]));
	ck_assert_int_eq(pool_abort(&p, 0, 2000), 0);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_ABORT);
	ck_assert_uint_eq(p.slot[0].abort_at_ms, 2000);
	ck_assert(pool_killed(&p.slot[0]));
	ck_assert_int_eq(waitpid(a, &st, 0), a);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	ck_assert(pool_is_crash(st));	/* a crash, but the master's */
	ck_assert_uint_eq(pool_died(&p, 0, st, 2010), 0);
	ck_assert_uint_eq(pool_next_respawn(&p), 2010);

	pid_t b = pool_spawn(&p, 0, 1, 0, 2010, child, NULL);
	ck_assert_int_gt(b, 0);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_NONE);	/* a new worker */
	ck_assert_uint_eq(p.slot[0].abort_at_ms, 0);
	ck_assert_int_eq(pool_kill(&p, 0), 0);
	ck_assert_int_eq(p.slot[0].kill, SLOT_KILL_FINAL);
	ck_assert_int_eq(waitpid(b, &st, 0), b);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_eq(pool_died(&p, 0, st, 2020), 0);
	pool_free(&p);
}
END_TEST

Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_is_crash);
	tcase_add_test(tc, test_respawn_delay);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_backoff_cap_fits_window);
	tcase_add_test(tc, test_crashwin);
	tcase_add_test(tc, test_spawn_and_order);
	tcase_add_test(tc, test_page_readonly_for_good);
	tcase_add_test(tc, test_generations);
	tcase_add_test(tc, test_ranks);
	tcase_add_test(tc, test_alive);
	tcase_add_test(tc, test_spawn_failed);
	tcase_add_test(tc, test_reaped);
	tcase_add_test(tc, test_quit);
	tcase_add_test(tc, test_kill_states);
	suite_add_tcase(s, tc);
	return s;
}
