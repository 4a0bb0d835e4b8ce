/*
 * handoff_master.c - the master moves connections: it never serves them, it checks
 * them, passes them on, or ends them gracefully when nobody can take them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff_wire.h"
#include "log.h"
#include "handoff_master.h"
#include "restartjob.h"
#include "util.h"

#define END_MS		500	/* flushing connections nobody could take */

void
handoff_master_init(struct handoff_master *r, struct pool *p)
{
	memset(r, 0, sizeof(*r));
	r->pool = p;
}

static bool
is_target(const struct handoff_master *r, int i, unsigned generation)
{
	const struct slot *s = &r->pool->slot[i];

	return s->state == SLOT_RUNNING && s->generation == generation &&
	    s->cmd_fd != -1 && atomic_load(&r->pool->stats[i].ready);
}

bool
handoff_master_can_take(const struct handoff_master *r, unsigned generation)
{
	for (int i = 0; i < r->pool->hw; i++)
		if (is_target(r, i, generation))
			return true;
	return false;
}

/* One adopt message to slot i: its share of v/fds.  0, or -1 with errno. */
static int
send_adopt(struct handoff_master *r, int i, const struct handoff_rec *v,
    const int *fds, size_t n)
{
	int all[HANDOFF_MAX_FDS], rc;

	if ((all[0] = handoff_encode(v, n)) == -1)
		return -1;
	memcpy(all + 1, fds, n * sizeof(int));
	rc = handoff_send(r->pool->slot[i].cmd_fd, HANDOFF_MSG_ADOPT, all, n + 1);
	close(all[0]);
	return rc;
}

/*
 * Deals v/fds (n <= HANDOFF_MAX_CONNS) round robin over the ready workers
 * of generation, one message per worker; a worker that cannot take its
 * share passes it to the next.  What nobody takes is ended gracefully.
 * Closes the master's copies.  Returns how many were given.
 */
static size_t
distribute(struct handoff_master *r, unsigned generation, const struct handoff_rec *v,
    const int *fds, size_t n)
{
	struct handoff_rec share[HANDOFF_MAX_CONNS];
	int sfds[HANDOFF_MAX_CONNS], targets[POOL_MAX_SLOTS];
	bool *done = calloc(n ? n : 1, sizeof(*done));
	size_t given = 0, nt = 0;

	for (int i = 0; i < r->pool->hw; i++)
		if (is_target(r, i, generation))
			targets[nt++] = i;
	for (size_t t = 0; t < nt && done != NULL && given < n; t++) {
		/* The first target this round is the cursor's; each takes
		 * every nt-th of what is left. */
		size_t left = 0;
		for (size_t k = 0; k < n; k++)
			left += !done[k];
		size_t want = (left + (nt - t) - 1) / (nt - t), m = 0;
		int slot = targets[(r->cursor + t) % nt];
		for (size_t k = 0; k < n && m < want; k++) {
			if (done[k])
				continue;
			share[m] = v[k];
			sfds[m++] = fds[k];
			done[k] = true;
		}
		if (send_adopt(r, slot, share, sfds, m) == 0) {
			given += m;
			continue;
		}
		log_warn("giving %zu connection%s to worker %d", m, plural(m),
		    slot);
		for (size_t k = 0, j = 0; k < n && j < m; k++)	/* back */
			if (done[k] && fds[k] == sfds[j]) {
				done[k] = false;
				j++;
			}
	}
	r->cursor++;
	uint64_t deadline = now_coarse_ms() + END_MS;
	for (size_t k = 0; k < n; k++) {
		if (done == NULL || !done[k]) {
			handoff_finish(fds[k], v[k].pend, handoff_owed(&v[k]),
			    deadline);
			r->ended++;
		} else
			close(fds[k]);
	}
	free(done);
	r->moved += given;
	return given;
}

/* Parking: into the store, as many as it has room for; the rest ended. */
static void
park(struct handoff_master *r, int i, struct handoff_rec *v, const int *fds, size_t n)
{
	size_t k = fdstore_put(v, fds, n);
	uint64_t deadline = now_coarse_ms() + END_MS;

	if (k < n)
		log_warnx("descriptor store full (FDSTORE=%zu): ending %zu "
		    "connections of worker %d", fdstore_max(), n - k, i);
	for (size_t j = 0; j < n; j++) {
		if (j < k)
			close(fds[j]);
		else
			handoff_finish(fds[j], v[j].pend, handoff_owed(&v[j]),
			    deadline);
	}
	r->parked += k;
	r->ended += n - k;
	uint64_t unsent = 0;
	for (size_t j = 0; j < k; j++)
		unsent += handoff_owed(&v[j]);
	log_info("worker %d: %zu connection%s (%llu byte%s unsent) parked "
	    "with systemd", i, k, plural(k), (unsigned long long)unsent,
	    plural(unsent));
}

/* To the ready workers of generation, said in one line. */
static void
pass_on(struct handoff_master *r, int from, unsigned generation,
    const struct handoff_batch *b, const int *fds)
{
	uint64_t unsent = 0;

	for (size_t k = 0; k < b->n; k++)
		unsent += handoff_owed(&b->v[k]);
	size_t given = distribute(r, generation, b->v, fds, b->n);
	log_info("worker %d: %zu connection%s (%llu byte%s unsent) handed to "
	    "generation %u", from, given, plural(given),
	    (unsigned long long)unsent, plural(unsent), generation);
}

/*
 * No worker of generation is ready yet (reloads faster than workers start):
 * the master keeps the batch, and its descriptors, until one is, at most
 * hold_ms.  An old worker is never refused for being early.  0, or -1
 * (ENOMEM): nothing was taken.
 */
static int
hold(struct handoff_master *r, int from, unsigned generation, struct handoff_batch *b,
    const int *fds)
{
	struct handoff_master_held *h;

	h = reallocarray(r->held, r->nheld + 1, sizeof(*r->held));
	if (h == NULL)
		return -1;
	r->held = h;
	h = &r->held[r->nheld++];
	h->b = *b;
	memcpy(h->fds, fds, b->n * sizeof(int));
	h->from = from;
	h->since_ms = now_coarse_ms();
	h->until_ms = h->since_ms + r->hold_ms;
	memset(b, 0, sizeof(*b));	/* the held copy owns the mapping */
	log_info("worker %d: %zu connection%s held until a worker of "
	    "generation %u is ready", from, h->b.n, plural(h->b.n), generation);
	return 0;
}

/* A batch from slot i's worker: checked, then passed on, held or refused. */
static void
on_batch(struct handoff_master *r, int i, unsigned generation, int *fds, size_t nfds)
{
	const struct slot *s = &r->pool->slot[i];
	struct handoff_batch b;
	const char *why = NULL;
	char answer = HANDOFF_MSG_REFUSED;
	size_t n = nfds > 0 ? nfds - 1 : 0;

	if (nfds < 2)
		why = "a batch without connections";
	for (size_t k = 1; k < nfds && why == NULL; k++)
		(void)handoff_check_socket(fds[k], &why);
	if (why == NULL && handoff_decode(fds[0], n, &b, &why) == 0) {
		answer = HANDOFF_MSG_ACCEPTED;
		if (r->parking)
			park(r, i, b.v, fds + 1, n);
		else if (handoff_master_can_take(r, generation))
			pass_on(r, i, generation, &b, fds + 1);
		else if (hold(r, i, generation, &b, fds + 1) == -1) {
			why = "out of memory";
			answer = HANDOFF_MSG_REFUSED;
		}
		handoff_batch_free(&b);
	}
	if (answer == HANDOFF_MSG_REFUSED) {
		log_warnx("worker %d (pid %ld): handoff refused: %s; it drains",
		    i, (long)s->pid, why);
		for (size_t k = 1; k < nfds; k++)
			close(fds[k]);
		pool_handoff_mark(r->pool, i, SLOT_HANDOFF_NONE);
	}
	if (nfds > 0)
		close(fds[0]);
	if (handoff_send(s->cmd_fd, answer, NULL, 0) == -1)
		log_warn("answering worker %d", i);
}

/* The clients' idle clocks ran while the master held them: the new
 * worker times each from its client's last traffic, not from the give. */
static void
age_held(struct handoff_master_held *h, uint64_t now)
{
	for (size_t j = 0; j < h->b.n; j++)
		h->b.v[j].idle_ms += now - h->since_ms;
	h->since_ms = now;
}

/* Held batch k leaves the list (its descriptors are the caller's now). */
static void
unhold(struct handoff_master *r, size_t k)
{
	handoff_batch_free(&r->held[k].b);
	r->held[k] = r->held[--r->nheld];
	if (r->nheld == 0) {
		free(r->held);
		r->held = NULL;
	}
}

/* Held batch k, given to nobody: its echo sent (bounded), then shut. */
static void
end_held(struct handoff_master *r, size_t k, const char *why)
{
	struct handoff_master_held *h = &r->held[k];
	uint64_t deadline = now_coarse_ms() + END_MS;

	log_warnx("worker %d: ending %zu connection%s held for a new "
	    "generation: %s", h->from, h->b.n, plural(h->b.n), why);
	for (size_t j = 0; j < h->b.n; j++)
		handoff_finish(h->fds[j], h->b.v[j].pend,
		    handoff_owed(&h->b.v[j]), deadline);
	r->ended += h->b.n;
	unhold(r, k);
}

/* The held batches to generation, once a worker of it is ready; those
 * held too long are ended. */
static void
tick_held(struct handoff_master *r, unsigned generation)
{
	bool ready = handoff_master_can_take(r, generation);
	uint64_t now = now_coarse_ms();

	for (size_t k = r->nheld; k-- > 0;) {
		struct handoff_master_held *h = &r->held[k];
		if (ready) {
			age_held(h, now);
			pass_on(r, h->from, generation, &h->b, h->fds);
			unhold(r, k);
		} else if (now >= h->until_ms)
			end_held(r, k, "no worker ready within shutdown_timeout");
	}
}

void
handoff_master_release_held(struct handoff_master *r)
{
	while (r->nheld > 0) {
		struct handoff_master_held *h = &r->held[r->nheld - 1];
		if (!r->parking) {
			end_held(r, r->nheld - 1, "stopping");
			continue;
		}
		age_held(h, now_coarse_ms());
		park(r, h->from, h->b.v, h->fds, h->b.n);
		unhold(r, r->nheld - 1);
	}
}

/*
 * A worker that says what it was not asked (any message but a batch after
 * a handoff order) is broken or no longer ours: one line, then SIGKILL,
 * and what else it sent is dropped unheard.  Otherwise one unprivileged
 * process could fill the log with a line per message and, sending faster
 * than the master reads, keep it in this loop for ever.
 */
static void
misbehaved(struct handoff_master *r, int i, char type)
{
	const struct slot *s = &r->pool->slot[i];

	log_warnx("worker %d (pid %ld): %s (0x%02x) on its channel; killing it",
	    i, (long)s->pid, type == HANDOFF_MSG_BATCH ?
	    "connections it was not asked to hand over" : "an unknown message",
	    (unsigned char)type);
	if (pool_kill(r->pool, i) == -1)
		log_warn("killing worker %d", i);
}

void
handoff_master_on_channel(struct handoff_master *r, int i, unsigned generation)
{
	for (int k = 0; k < HANDOFF_MASTER_MSGS_PER_TURN; k++) {
		const struct slot *s = &r->pool->slot[i];
		int fds[HANDOFF_MAX_FDS];
		size_t nfds;
		char type;

		if (s->cmd_fd == -1 ||
		    handoff_recv(s->cmd_fd, &type, fds, nitems(fds), &nfds) != 1)
			return;	/* EOF and errors: the reaper sees it die */
		if (!pool_killed(s) && type == HANDOFF_MSG_BATCH &&
		    s->handoff == SLOT_HANDOFF_ORDERED) {
			on_batch(r, i, generation, fds, nfds);
			continue;
		}
		for (size_t j = 0; j < nfds; j++)
			close(fds[j]);
		if (!pool_killed(s))
			misbehaved(r, i, type);
	}
}

void
handoff_master_tick(struct handoff_master *r, unsigned generation, uint64_t deadline_ms)
{
	tick_held(r, generation);
	if (!handoff_master_can_take(r, generation))
		return;
	for (int i = 0; i < r->pool->hw; i++)
		if (r->pool->slot[i].handoff == SLOT_HANDOFF_WANTED &&
		    r->pool->slot[i].state == SLOT_DRAINING)
			pool_handoff(r->pool, i, deadline_ms);
	if (r->stored.n == 0 && r->stored.nstates == 0)
		return;
	/* From the store: in batches, then out of the store. */
	struct fdstore_set *s = &r->stored;
	size_t given = 0;
	for (size_t k = 0; k < s->n; k += HANDOFF_MAX_CONNS) {
		struct handoff_rec v[HANDOFF_MAX_CONNS];
		int fds[HANDOFF_MAX_CONNS];
		size_t m = s->n - k < HANDOFF_MAX_CONNS ? s->n - k : HANDOFF_MAX_CONNS;
		for (size_t j = 0; j < m; j++) {
			v[j] = s->v[k + j].rec;
			fds[j] = s->v[k + j].fd;
		}
		given += distribute(r, generation, v, fds, m);
	}
	if (s->n > 0)
		log_info("%zu connection%s taken from systemd's store, %zu "
		    "given to generation %u", s->n, plural(s->n), given,
		    generation);
	fdstore_done(s);
}

bool
handoff_master_should_park(void)
{
	char why[256];
	int pending;

	if (fdstore_max() < 2)
		return false;
	pending = restartjob_pending(why, sizeof(why));
	if (pending == -1)
		log_warnx("is a restart pending? cannot tell (%s): stopping "
		    "gracefully", why);
	else
		log_info("%s: %s", why, pending ? "parking connections with "
		    "systemd for the restart" : "stopping gracefully");
	return pending == 1;
}

void
handoff_master_abandon(struct handoff_master *r)
{
	handoff_master_release_held(r);
	if (r->stored.n == 0 && r->stored.nstates == 0)
		return;
	if (r->stored.n > 0)
		log_warnx("ending %zu connection%s taken from systemd's store",
		    r->stored.n, plural(r->stored.n));
	r->ended += r->stored.n;
	fdstore_abandon(&r->stored);
}
