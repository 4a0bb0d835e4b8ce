/*
 * check_metrics_sup.c - the master's decisions about the metrics process:
 * the backoff after a death of its own, none after one it asked for or
 * killed, heartbeats heard, a hung one sent SIGABRT then SIGKILL (on a
 * real child), a reload's restart (the channel closed) and when the next
 * start is due.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health.h"
#include "metrics.h"
#include "metrics_sup.h"
#include "suites.h"

static struct metrics_sup ms;
static struct metrics socks;
static int other = -1;		/* the process's end of the channel */

/* As metrics_sup_respawn() leaves it, without the fork: pid and a
 * channel. */
static void
spawned(pid_t pid, uint64_t now_ms)
{
	int sv[2];

	metrics_sup_restart(&ms);
	close(other);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	ms.chan = sv[0];
	other = sv[1];
	ms.pid = pid;
	ms.kill = SLOT_KILL_NONE;
	ms.started_ms = ms.heard_ms = now_ms;
}

static void
setup(void)
{
	metrics_sup_init(&ms);
	memset(&socks, 0, sizeof(socks));
	other = -1;
	spawned(4242, 1000);
}

static void
teardown(void)
{
	metrics_sup_restart(&ms);
	close(other);
}

/* Has the master's end closed (EOF on the process's)? */
static bool
chan_closed(void)
{
	char c;

	return recv(other, &c, 1, MSG_DONTWAIT) == 0;
}

START_TEST(test_backoff)
{
	ck_assert_uint_eq(metrics_sup_backoff(0, 50), 100);
	ck_assert_uint_eq(metrics_sup_backoff(100, 50), 200);
	ck_assert_uint_eq(metrics_sup_backoff(4000, 50), 5000);
	ck_assert_uint_eq(metrics_sup_backoff(5000, 50), 5000);
	/* lived long: the workers' rule says none, the floor is 100 ms */
	ck_assert_uint_eq(metrics_sup_backoff(2000, 60000), 100);
}
END_TEST

START_TEST(test_reaped)
{
	ck_assert(!metrics_sup_reaped(&ms, 4343, W_EXITCODE(1, 0), 1500));
	ck_assert_int_eq(ms.pid, 4242);
	ck_assert(!chan_closed());
	/* its own death, 500 ms after its start: 100 ms, then doubling */
	ck_assert(metrics_sup_reaped(&ms, 4242, W_EXITCODE(1, 0), 1500));
	ck_assert_int_eq(ms.pid, 0);
	ck_assert(chan_closed());
	ck_assert_uint_eq(ms.respawn_at_ms, 1600);
	spawned(4243, 1600);
	ck_assert(metrics_sup_reaped(&ms, 4243, W_EXITCODE(1, 0), 1700));
	ck_assert_uint_eq(ms.respawn_at_ms, 1900);
	/* killed by the master: at once, and the backoff starts over */
	spawned(4244, 1900);
	ms.kill = SLOT_KILL_FINAL;
	ck_assert(metrics_sup_reaped(&ms, 4244, SIGKILL, 2000));
	ck_assert_uint_eq(ms.respawn_at_ms, 2000);
	ck_assert_uint_eq(ms.backoff_ms, 0);
	ck_assert(!metrics_sup_reaped(&ms, 0, 0, 2000));	/* none */
}
END_TEST

START_TEST(test_hung_killed)
{
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* never left behind by a failed test */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGABRT, SIG_IGN);	/* so that SIGKILL must follow */
		for (;;)
			pause();
	}
	spawned(pid, 1000);
	metrics_sup_check(&ms, 1000, 1900);
	ck_assert_int_eq(ms.kill, SLOT_KILL_NONE);
	/* a heartbeat read: heard again, not hung */
	ck_assert_int_eq(send(other, "h", 1, 0), 1);
	metrics_sup_check(&ms, 1000, 2500);
	ck_assert_uint_eq(ms.heard_ms, 2500);
	metrics_sup_check(&ms, 1000, 3400);
	ck_assert_int_eq(ms.kill, SLOT_KILL_NONE);
	/* none for over timeout_ms: SIGABRT, then SIGKILL after the grace */
	metrics_sup_check(&ms, 1000, 3600);
	ck_assert_int_eq(ms.kill, SLOT_KILL_ABORT);
	metrics_sup_check(&ms, 1000, 3600 + HEALTH_ABORT_GRACE_MS - 1);
	ck_assert_int_eq(ms.kill, SLOT_KILL_ABORT);
	metrics_sup_check(&ms, 1000, 3600 + HEALTH_ABORT_GRACE_MS);
	ck_assert_int_eq(ms.kill, SLOT_KILL_FINAL);

	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert(metrics_sup_reaped(&ms, pid, status, 5000));
	ck_assert_uint_eq(ms.respawn_at_ms, 5000);
}
END_TEST

START_TEST(test_sync_and_due)
{
	socks.serial = ms.serial;
	metrics_sup_sync(&ms, &socks);
	ck_assert(!chan_closed());
	/* a reload changed its sockets or user: told to end */
	socks.serial++;
	metrics_sup_sync(&ms, &socks);
	ck_assert(chan_closed());
	ck_assert_int_eq(ms.chan, -1);

	/* no sockets: no process, ever; else when the backoff is over */
	ms.pid = 0;
	ms.respawn_at_ms = 7000;
	ck_assert_uint_eq(metrics_sup_next_respawn(&ms, &socks), UINT64_MAX);
	socks.ls.n = 1;
	ck_assert_uint_eq(metrics_sup_next_respawn(&ms, &socks), 7000);
	ms.pid = 4242;
	ck_assert_uint_eq(metrics_sup_next_respawn(&ms, &socks), UINT64_MAX);
	socks.ls.n = 0;
}
END_TEST

Suite *
metrics_sup_suite(void)
{
	Suite *s = suite_create("metrics_sup");
	TCase *tc = tcase_create("metrics_sup");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_reaped);
	tcase_add_test(tc, test_hung_killed);
	tcase_add_test(tc, test_sync_and_due);
	suite_add_tcase(s, tc);
	return s;
}
