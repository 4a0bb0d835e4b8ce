/*
 * admit.c - the one admission path, for TCP connections and UDP datagrams
 * alike: the allow and deny lists first, then the source's share of the
 * pool-wide tables in source.c (open connections for TCP, a token bucket
 * for UDP).  It decides and counts; it neither logs nor closes anything.
 */
#include "config.h"

#include "acl.h"
#include "admit.h"
#include "conf.h"
#include "source.h"
#include "source_tcp.h"
#include "source_udp.h"

static enum admit_verdict
admit_tcp(const struct admit_policy *p, const struct source_key *k,
    bool *counted)
{
	uint32_t limit = p->conf->max_connections_per_source;
	uint32_t rate = p->conf->tcp_rate_limit;
	uint64_t n;

	/* A refused connect costs an accept and a close, not a connection's
	 * echo, log line and bookkeeping: a flood from one source stays cheap. */
	if (rate != 0 && !source_rate_allow(p->sources, SOURCE_BUCKET_TCP, k,
	    source_interval(rate), p->conf->tcp_rate_burst, p->now_ms))
		return ADMIT_CONN_RATE;
	/* Count first, then look: of two workers admitting the same source
	 * at once, at least one sees both.  The table holds as many sources
	 * as this worker has descriptors, up to SOURCE_TCP_MAX. */
	*counted = source_tcp_add(p->sources, p->slot, k, +1) == 0;
	if (limit == 0)
		return ADMIT_OK;
	if (!*counted)
		return ADMIT_UNTRACKED;
	if (source_tcp_count(p->sources, k, p->nslots, &n) == -1 || n > limit) {
		source_tcp_add(p->sources, p->slot, k, -1);
		*counted = false;
		return ADMIT_SOURCE_LIMIT;
	}
	return ADMIT_OK;
}

static enum admit_verdict
admit_udp(const struct admit_policy *p, const struct source_key *k)
{
	const struct conf *c = p->conf;
	/* 0 is "no limit" to the user, yet not to a loop between two servers */
	uint32_t rate = c->udp_rate_limit ? c->udp_rate_limit : ADMIT_UDP_CEILING_RATE;
	uint32_t burst = c->udp_rate_limit ? c->udp_rate_burst : ADMIT_UDP_CEILING_BURST;

	if (!source_udp_allow(p->sources, k, rate, burst, p->now_ms))
		return ADMIT_RATE_LIMITED;
	return ADMIT_OK;
}

enum admit_verdict
admit_client(const struct admit_policy *p, enum admit_proto proto,
    const struct sockaddr *sa, bool *counted)
{
	const struct conf *c = p->conf;
	bool dummy;
	struct source_key k;

	if (counted == NULL)
		counted = &dummy;
	*counted = false;
	/* as acl_permits(), telling which list refused */
	if (c->n_deny > 0 && acl_match(c->deny, c->n_deny, sa))
		return ADMIT_DENIED;
	if (c->n_allow > 0 && !acl_match(c->allow, c->n_allow, sa))
		return ADMIT_NOT_ALLOWED;
	if (!source_key(sa, &k))
		return ADMIT_OK;	/* not IP: nothing to count it by */
	return proto == ADMIT_TCP ? admit_tcp(p, &k, counted) : admit_udp(p, &k);
}

void
admit_release(const struct admit_policy *p, const struct sockaddr *sa)
{
	struct source_key k;

	if (source_key(sa, &k))
		source_tcp_add(p->sources, p->slot, &k, -1);
}

const char *
admit_reason(enum admit_verdict v)
{
	switch (v) {
	case ADMIT_OK:
		return "admitted";
	case ADMIT_DENIED:
		return "denied by deny";
	case ADMIT_NOT_ALLOWED:
		return "not in allow";
	case ADMIT_UNTRACKED:
		return "too many distinct sources in this worker";
	case ADMIT_SOURCE_LIMIT:
		return "too many connections from this source";
	case ADMIT_RATE_LIMITED:
		return "over the source's rate";
	case ADMIT_CONN_RATE:
		return "over the source's connection rate";
	}
	return "refused";
}
