/* udp.c - RFC 862 over UDP: each datagram goes back to its source unchanged. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <syslog.h>

#include "addr.h"
#include "admit.h"
#include "udp_batch.h"
#include "log.h"
#include "logbudget.h"
#include "udp.h"
#include "util.h"

/* Services above 1023 that answer UDP and would echo us back. */
static const uint16_t service_ports[] = { 1900, 3702, 5353, 5683, 11211 };

bool
udp_counted(const struct udp_counters *c)
{
	return c->echoed + c->refused + c->denied + c->limited + c->dropped +
	    c->truncated > 0;
}

void
udp_log_counters(const struct udp_counters *c)
{
	log_info("udp: %llu datagrams echoed (%llu bytes), %llu refused by the "
	    "loop guard, %llu denied, %llu over the rate, %llu dropped, "
	    "%llu too large", (unsigned long long)c->echoed,
	    (unsigned long long)c->bytes, (unsigned long long)c->refused,
	    (unsigned long long)c->denied, (unsigned long long)c->limited,
	    (unsigned long long)c->dropped, (unsigned long long)c->truncated);
}

bool
udp_source_allowed(const struct sockaddr *sa)
{
	uint16_t port;

	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	else
		return false;
	if (port < 1024)
		return false;
	for (size_t i = 0; i < nitems(service_ports); i++)
		if (port == service_ports[i])
			return false;
	return true;
}

/* A denied datagram's line, within its source's log budget: without one
 * a sender spoofing many sources could write the log full. */
static void
log_denied(const struct admit_policy *p, const struct sockaddr *from,
    enum admit_verdict v)
{
	socklen_t len = from->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	char host[64];
	unsigned port;

	if (log_getlevel() < LOG_INFO ||
	    !logbudget_take(p->logs, LOGBUDGET_DATAGRAM, from, len, p->now_ms))
		return;
	addr_host_port(from, len, host, sizeof(host), &port);
	log_info("udp denied %s port %u: %s", host, port, admit_reason(v));
}

/* Judges datagram i of the batch, and queues its echo if it passes. */
static void
judge(struct udp_batch *b, unsigned i, const struct admit_policy *policy,
    struct udp_counters *cnt)
{
	const struct sockaddr *from = udp_batch_from(b, i);
	enum admit_verdict v;

	if (!udp_batch_whole(b, i)) {
		cnt->truncated++;
		return;
	}
	if (!udp_source_allowed(from)) {
		cnt->refused++;
		return;
	}
	if (policy != NULL &&
	    (v = admit_client(policy, ADMIT_UDP, from, NULL)) != ADMIT_OK) {
		if (v == ADMIT_DENIED || v == ADMIT_NOT_ALLOWED) {
			cnt->denied++;
			log_denied(policy, from, v);
		} else
			cnt->limited++;
		return;
	}
	udp_batch_queue(b, i);
}

int
udp_echo(int in, int out, struct udp_batch *b,
    const struct admit_policy *policy, struct udp_counters *cnt)
{
	int rounds = 0, errs = 0;

	while (rounds < UDP_ROUNDS) {
		struct udp_batch_sent r;
		int n = udp_batch_recv(in, b);

		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			/* ICMP errors surface here; they are not ours to act
			 * on.  Bounded: each costs a call, not a datagram. */
			if ((errno == EINTR || errno == ECONNREFUSED ||
			    errno == EHOSTUNREACH || errno == ENETUNREACH) &&
			    ++errs < UDP_BATCH)
				continue;
			return errno == EINTR ? 0 : -1;
		}
		for (unsigned i = 0; i < (unsigned)n; i++)
			judge(b, i, policy, cnt);
		r = udp_batch_send(out, b);
		cnt->echoed += r.sent;
		cnt->bytes += r.bytes;
		cnt->dropped += r.dropped;
		rounds++;
		/* A batch that came short emptied the queue: no call to
		 * hear EAGAIN, epoll says when there is more. */
		if ((unsigned)n < b->cap)
			return 0;
	}
	return 1;
}
