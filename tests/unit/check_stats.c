/* check_stats.c - the counters' page: label names, the master folding a
 * dead worker in, a reader that never sees a total go down while it does,
 * a reader that maps the page read-only, and one that takes no string or
 * bound from a page a worker scribbled on. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel.h"
#include "health.h"
#include "stats.h"
#include "suites.h"
#include "util.h"

static struct chan_page *
page_new(void)
{
	void *pg = mmap(NULL, sizeof(struct chan_page), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(pg, MAP_FAILED);
	return pg;
}

static struct stats_snapshot snap;

/* Every label has a name, distinct within its set; outside it, "unknown". */
START_TEST(test_names)
{
	struct { const char *(*name)(int); int n; } sets[] = {
		{ (const char *(*)(int))stats_close_name, STATS_CLOSE_COUNT },
		{ (const char *(*)(int))stats_proto_name, STATS_PROTO_COUNT },
		{ (const char *(*)(int))stats_refuse_name, STATS_REFUSE_COUNT },
		{ (const char *(*)(int))stats_drop_name, STATS_DROP_COUNT },
		{ (const char *(*)(int))stats_exit_name, STATS_EXIT_COUNT },
		{ (const char *(*)(int))stats_reload_name, STATS_RELOAD_COUNT },
		{ (const char *(*)(int))stats_wstate_name, STATS_WSTATE_COUNT },
	};

	for (size_t s = 0; s < nitems(sets); s++) {
		for (int i = 0; i < sets[s].n; i++) {
			const char *a = sets[s].name(i);
			ck_assert_ptr_nonnull(a);
			ck_assert_str_ne(a, "unknown");
			/* Prometheus label values and JSON keys: [a-z0-9_] */
			ck_assert_uint_eq(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_"),
			    strlen(a));
			for (int j = 0; j < i; j++)
				ck_assert_str_ne(a, sets[s].name(j));
		}
		ck_assert_str_eq(sets[s].name(sets[s].n), "unknown");
		ck_assert_str_eq(sets[s].name(-1), "unknown");
	}
	ck_assert_str_eq(stats_close_name(STATS_CLOSE_EOF), "eof");
	ck_assert_str_eq(stats_refuse_name(STATS_REFUSE_EMFILE), "emfile");
	ck_assert_str_eq(stats_exit_name(STATS_EXIT_KILLED), "killed_by_master");
}
END_TEST

/* A worker's counts, as its loop would publish them. */
static void
worker_counts(struct chan_page *pg, int slot, uint64_t accepted, uint64_t open)
{
	struct stats_counts c = { .accepted = accepted };

	c.closed[STATS_CLOSE_EOF] = accepted - open;
	c.bytes[STATS_PROTO_TCP] = accepted * 10;
	c.bytes[STATS_PROTO_UDP] = 3;
	c.datagrams = 1;
	c.refused[STATS_REFUSE_DENY] = 2;
	c.dropped[STATS_DROP_LOOP_GUARD] = 4;
	stats_publish(&pg->counters[slot], &c);
	atomic_store(&pg->stats[slot].connections, open);
	atomic_store(&pg->stats[slot].ready, 1);
}

/* A dead worker's counts move into the retired totals: the sums stay, its
 * open connections count as closed with it, and its slot starts again at
 * zero for the next worker. */
START_TEST(test_fold)
{
	struct chan_page *pg = page_new();
	struct stats_book b;

	stats_start(&b, pg, 1);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_int_eq(snap.master_pid, getpid());
	ck_assert_str_eq(snap.version, PACKAGE_VERSION);
	ck_assert_int_eq(snap.nworkers, 0);
	ck_assert_int_gt(snap.start_ms, 1500000000000LL);

	atomic_store(&pg->hw, 2);
	stats_worker_started(&b, pg, 0, 100, 1, false);
	stats_worker_started(&b, pg, 1, 101, 1, false);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_uint_eq(snap.workers[STATS_WSTATE_STARTING], 2);
	worker_counts(pg, 0, 5, 2);
	worker_counts(pg, 1, 7, 0);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_uint_eq(snap.workers[STATS_WSTATE_SERVING], 2);
	ck_assert_int_eq(snap.nworkers, 2);
	ck_assert_int_eq(snap.worker[0].pid, 100);
	ck_assert_uint_eq(snap.worker[0].open, 2);
	ck_assert_uint_eq(snap.worker[1].accepted, 7);
	ck_assert_uint_eq(snap.worker[1].bytes, 73);
	ck_assert_uint_eq(snap.totals.accepted, 12);
	ck_assert_uint_eq(snap.totals.open, 2);
	ck_assert_uint_eq(snap.totals.closed[STATS_CLOSE_EOF], 10);
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_TCP], 120);
	ck_assert_uint_eq(snap.totals.refused[STATS_REFUSE_DENY], 4);

	stats_worker_draining(pg, 1);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_uint_eq(snap.workers[STATS_WSTATE_DRAINING], 1);

	stats_worker_gone(&b, pg, 0, STATS_EXIT_SIGNAL);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_int_eq(snap.nworkers, 1);
	ck_assert_uint_eq(snap.totals.accepted, 12);
	ck_assert_uint_eq(snap.totals.open, 0);
	ck_assert_uint_eq(snap.totals.closed[STATS_CLOSE_EOF], 10);
	ck_assert_uint_eq(snap.totals.closed[STATS_CLOSE_WORKER_EXIT], 2);
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_TCP], 120);
	ck_assert_uint_eq(snap.totals.bytes[STATS_PROTO_UDP], 6);
	ck_assert_uint_eq(snap.totals.datagrams, 2);
	ck_assert_uint_eq(snap.totals.dropped[STATS_DROP_LOOP_GUARD], 8);
	ck_assert_uint_eq(snap.exits[STATS_EXIT_SIGNAL], 1);

	/* the next worker in slot 0 starts from zero; the totals stay */
	memset(&pg->stats[0], 0, sizeof(pg->stats[0]));	/* as pool_spawn() */
	stats_worker_started(&b, pg, 0, 102, 1, true);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_uint_eq(snap.respawns, 1);
	ck_assert_uint_eq(snap.worker[0].accepted, 0);
	ck_assert_uint_eq(snap.totals.accepted, 12);

	stats_reloaded(&b, pg, true, 2);
	stats_reloaded(&b, pg, false, 2);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_uint_eq(snap.generation, 2);
	ck_assert_uint_eq(snap.reloads[STATS_RELOAD_OK], 1);
	ck_assert_uint_eq(snap.reloads[STATS_RELOAD_FAILED], 1);

	/* the STATUS line is drawn from the same snapshot */
	char text[HEALTH_STATUS_LEN];
	snap.totals.full = 3;	/* what a worker at max_connections counts */
	health_status_text(&snap, false, text, sizeof(text));
	ck_assert_str_eq(text, "2 workers, 0 connections, 126 bytes echoed; "
	    "12 accepted, 2 datagrams, 4 refused, 8 dropped, 3 times full");
	munmap(pg, sizeof(*pg));
}
END_TEST

/* A page whose sequence a worker left odd (any worker can write the page):
 * the reader gives up with EAGAIN rather than spin for ever. */
START_TEST(test_stuck_sequence)
{
	struct chan_page *pg = page_new();
	struct stats_book b;

	stats_start(&b, pg, 1);
	atomic_store(&pg->master.seq, 7);
	errno = 0;
	ck_assert_int_eq(stats_read(pg, &snap), -1);
	ck_assert_int_eq(errno, EAGAIN);
	munmap(pg, sizeof(*pg));
}
END_TEST

/*
 * The master folding workers in while a reader reads: a worker in slot 0
 * counts up, dies (folded in), and the next one starts at zero, over and
 * over.  No snapshot may show a total lower than the one before, nor, with
 * no worker alive, accepted apart from open plus closed.  Bounded: READS
 * snapshots or 10 s, whichever comes first.
 */
enum { READS = 300000, PER_LIFE = 7 };
static atomic_bool reading_done;
static atomic_int folds;

static void *
folder(void *arg)
{
	struct chan_page *pg = arg;
	struct stats_book b;
	int i;

	stats_start(&b, pg, 1);
	atomic_store(&pg->hw, 1);
	for (i = 0; !atomic_load(&reading_done) && i < 100 * READS; i++) {
		stats_worker_started(&b, pg, 0, 1000 + i, 1, i > 0);
		for (uint64_t k = 1; k <= PER_LIFE; k++)
			worker_counts(pg, 0, k, k % 2);
		stats_worker_gone(&b, pg, 0, STATS_EXIT_CLEAN);
	}
	atomic_store(&folds, i);
	return NULL;
}

START_TEST(test_never_down_while_folding)
{
	struct chan_page *pg = page_new();
	uint64_t reads = 0, end = now_usec() + 10 * 1000000ULL;
	struct stats_counts last = { 0 };
	pthread_t t;

	atomic_store(&reading_done, false);
	ck_assert_int_eq(pthread_create(&t, NULL, folder, pg), 0);
	while (reads < READS && now_usec() < end) {
		if (stats_read(pg, &snap) == -1)
			continue;
		const struct stats_counts *c = &snap.totals;
		uint64_t closed = 0;
		for (int i = 0; i < STATS_CLOSE_COUNT; i++)
			closed += c->closed[i];
		ck_assert_msg(c->accepted >= last.accepted,
		    "accepted went down: %llu after %llu (read %llu)",
		    (unsigned long long)c->accepted,
		    (unsigned long long)last.accepted, (unsigned long long)reads);
		ck_assert_uint_ge(c->bytes[STATS_PROTO_TCP],
		    last.bytes[STATS_PROTO_TCP]);
		ck_assert_uint_ge(c->closed[STATS_CLOSE_EOF],
		    last.closed[STATS_CLOSE_EOF]);
		ck_assert_msg(c->accepted == c->open + closed || snap.nworkers == 1,
		    "accepted %llu, open %llu, closed %llu with no worker",
		    (unsigned long long)c->accepted, (unsigned long long)c->open,
		    (unsigned long long)closed);
		last = *c;
		reads++;
	}
	atomic_store(&reading_done, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_uint_eq(snap.totals.accepted, (uint64_t)atomic_load(&folds) * PER_LIFE);
	ck_assert_uint_eq(snap.exits[STATS_EXIT_CLEAN], (uint64_t)atomic_load(&folds));
	ck_assert_uint_gt(reads, 0);
	munmap(pg, sizeof(*pg));
}
END_TEST

/* stats_read() writes nothing: it works on a read-only mapping (of a
 * memfd here; the metrics server maps the master's page the same way). */
START_TEST(test_read_only_mapping)
{
	int fd = memfd_create("stats", MFD_CLOEXEC);
	struct stats_book b;

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ftruncate(fd, sizeof(struct chan_page)), 0);
	struct chan_page *rw = mmap(NULL, sizeof(*rw), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	const struct chan_page *ro = mmap(NULL, sizeof(*ro), PROT_READ,
	    MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(rw, MAP_FAILED);
	ck_assert_ptr_ne(ro, MAP_FAILED);
	close(fd);
	stats_start(&b, rw, 4);
	atomic_store(&rw->hw, 1);
	stats_worker_started(&b, rw, 0, 55, 4, false);
	worker_counts(rw, 0, 3, 1);
	ck_assert_int_eq(stats_read(ro, &snap), 0);
	ck_assert_uint_eq(snap.generation, 4);
	ck_assert_uint_eq(snap.totals.accepted, 3);
	ck_assert_int_eq(snap.worker[0].pid, 55);
	munmap(rw, sizeof(*rw));
	munmap((void *)ro, sizeof(*ro));
}
END_TEST

/* What a worker can write over the master's part of the page: a version
 * of any bytes, or with no NUL, shows as "invalid"; a high-water mark and
 * slot states past the table are no bounds. */
START_TEST(test_hostile_page)
{
	static const char *const bad[] = {
		"0.1\x1b[2J", "0.1\xff", "0.1\"} 1\n", "0.1 x", "0.1\\", "",
		"\xc2\x9b" "0",
	};
	struct chan_page *pg = page_new();
	struct stats_book b;

	stats_start(&b, pg, 1);
	for (size_t i = 0; i < nitems(bad); i++) {
		memset(pg->master.version, 0, sizeof(pg->master.version));
		memcpy(pg->master.version, bad[i], strlen(bad[i]));
		ck_assert_int_eq(stats_read(pg, &snap), 0);
		ck_assert_msg(strcmp(snap.version, "invalid") == 0, "%zu: %s", i,
		    snap.version);
	}
	memset(pg->master.version, '1', sizeof(pg->master.version));
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_str_eq(snap.version, "invalid");
	strcpy(pg->master.version, "1.2.3~rc1+dfsg-2_x");
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_str_eq(snap.version, "1.2.3~rc1+dfsg-2_x");

	atomic_store(&pg->hw, UINT32_MAX);
	for (int i = 0; i < CHAN_MAX_SLOTS; i++)
		atomic_store(&pg->master.slot[i].state, i == 7 ? 0xdeadbeef :
		    CHAN_SLOT_RUNNING);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_int_eq(snap.nworkers, CHAN_MAX_SLOTS - 1);
	ck_assert_uint_eq(snap.workers[STATS_WSTATE_STARTING], CHAN_MAX_SLOTS - 1);
	munmap(pg, sizeof(*pg));
}
END_TEST

/* The fallback flag: the master's word to the page, cleared by a reload
 * that succeeds (its file was read), and 0 or 1 whatever a worker wrote. */
START_TEST(test_fallback_flag)
{
	struct chan_page *pg = page_new();
	struct stats_book b;

	stats_start(&b, pg, 1);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert(!snap.fallback);
	stats_fallback(&b, pg, true);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert(snap.fallback);
	stats_reloaded(&b, pg, false, 2);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_msg(snap.fallback, "a failed reload kept the stored one");
	stats_reloaded(&b, pg, true, 3);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert(!snap.fallback);
	atomic_store(&pg->master.fallback, 0xdeadbeef);
	ck_assert_int_eq(stats_read(pg, &snap), 0);
	ck_assert_int_eq((int)snap.fallback, 1);
	munmap(pg, sizeof(*pg));
}
END_TEST

Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_fold);
	tcase_add_test(tc, test_stuck_sequence);
	tcase_add_test(tc, test_never_down_while_folding);
	tcase_add_test(tc, test_read_only_mapping);
	tcase_add_test(tc, test_hostile_page);
	tcase_add_test(tc, test_fallback_flag);
	suite_add_tcase(s, tc);
	return s;
}
