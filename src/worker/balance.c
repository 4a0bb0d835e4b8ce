/*
 * balance.c - the fair share between workers.  EPOLLEXCLUSIVE wakes
 * whichever worker waits first, which tends to pile connections on a few;
 * a worker well above the average of its serving peers steps back while
 * another one still accepts.  Pure: the worker gathers the numbers.
 */
#include "config.h"

#include "balance.h"

void
balance_init(struct balance *b, uint64_t own_load)
{
	*b = (struct balance){ .total = own_load, .workers = 1,
	    .own_load = own_load };
}

void
balance_add_peer(struct balance *b, uint64_t connections, bool armed)
{
	b->total += connections;
	b->workers++;
	b->other_armed |= armed;
}

bool
balance_over_share(const struct balance *b, bool out)
{
	if (b->workers < 2 || !b->other_armed)
		return false;
	/* own_load > pct% of the average, plus slack; in integers */
	unsigned pct = out ? BALANCE_LOW : BALANCE_HIGH;
	unsigned slack = out ? BALANCE_SLACK / 2 : BALANCE_SLACK;
	return b->own_load * b->workers * 100 >
	    b->total * pct + (uint64_t)slack * b->workers * 100;
}

uint64_t
balance_recheck_ms(uint64_t prev_ms, bool was_out)
{
	if (!was_out)
		return BALANCE_RECHECK_MS;
	return prev_ms * 2 > BALANCE_RECHECK_MAX_MS ? BALANCE_RECHECK_MAX_MS :
	    prev_ms * 2;
}
