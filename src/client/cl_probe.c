/*
 * cl_probe.c - check_echo's probes and their verdict.  Each probe carries
 * its number and a tag of this run, so a late UDP echo of an earlier probe
 * is told from a wrong one, and an echo from another run is never counted.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cl_probe.h"
#include "util.h"

int
cl_probe_limit_parse(const char *s, struct cl_probe_limit *l, char *why,
    size_t whylen)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9') {
		snprintf(why, whylen, "want RTT,LOSS%% (e.g. 100,20%%)");
		return -1;
	}
	l->rtt_ms = strtod(s, &end);
	if (errno != 0 || *end != ',' || l->rtt_ms > 3600000) {
		snprintf(why, whylen, "want RTT,LOSS%% (e.g. 100,20%%): the "
		    "round trip in ms, 0..3600000, then a comma");
		return -1;
	}
	s = end + 1;
	if (*s < '0' || *s > '9') {
		snprintf(why, whylen, "want RTT,LOSS%% (e.g. 100,20%%)");
		return -1;
	}
	l->loss_pct = strtod(s, &end);
	if (*end == '%')
		end++;
	if (errno != 0 || *end != '\0' || l->loss_pct > 100) {
		snprintf(why, whylen, "want RTT,LOSS%% (e.g. 100,20%%): the "
		    "loss in %%, 0..100, last");
		return -1;
	}
	return 0;
}

/* Probe number seq of the run tagged tag, size bytes. */
static void
payload(char *buf, size_t size, unsigned tag, int seq)
{
	int n = snprintf(buf, size, "echo-probe %08x %06d ", tag, seq);

	for (size_t i = (size_t)n; i < size; i++)
		buf[i] = (char)('a' + (i + (size_t)seq) % 26);
	if (size > 0)
		buf[size - 1] = '\n';
}

static void
fail(struct cl_probe_result *r, const char *what, int err)
{
	if (r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "%s: %s", what, strerror(err));
}

/* Waits for POLLIN until the probe's or the run's deadline: 1, 0, -1. */
static int
wait_in(const struct cl_probe_opts *o, uint64_t probe_deadline,
    struct cl_probe_result *r)
{
	uint64_t d = probe_deadline;
	int rc;

	if (o->deadline_ns != 0 && o->deadline_ns < d)
		d = o->deadline_ns;
	rc = cl_wait(o->sock, POLLIN, d);
	if (rc == -1)
		fail(r, "poll", errno);
	else if (rc == 0 && d == o->deadline_ns)
		r->timed_out = true;
	return rc;
}

/* What became of one probe. */
enum outcome { ECHOED, LOST, STOP };

/* TCP: the whole probe back, in order; anything else ends the run. */
static enum outcome
stream_one(const struct cl_probe_opts *o, const char *out, char *in,
    uint64_t deadline, struct cl_probe_result *r)
{
	size_t got = 0;
	ssize_t n;

	if (write_all(o->sock, out, o->size) == -1) {
		fail(r, "send", errno);
		return STOP;
	}
	r->sent++;
	while (got < o->size) {
		int rc = wait_in(o, deadline, r);
		if (rc == 0 && !r->timed_out)
			snprintf(r->err, sizeof(r->err), "no echo of probe %d "
			    "within %d ms", r->sent, o->wait_ms);
		if (rc != 1)
			return STOP;	/* the stream is out of step now */
		n = recv(o->sock, in + got, o->size - got, MSG_DONTWAIT);
		if (n == 0) {
			snprintf(r->err, sizeof(r->err), "the server closed the "
			    "connection after %zu of %zu bytes", got, o->size);
			return STOP;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			fail(r, "receive", errno);
			return STOP;
		}
		if (n > 0)
			got += (size_t)n;
	}
	if (memcmp(in, out, o->size) != 0) {
		r->wrong = true;
		snprintf(r->err, sizeof(r->err), "the echo of probe %d differs "
		    "from what was sent", r->sent);
		return STOP;
	}
	return ECHOED;
}

/* A late echo of one of the probes before seq. */
static bool
late(const char *in, size_t n, size_t size, unsigned tag, int seq)
{
	char p[PROBE_MAX_SIZE];

	for (int s = 0; s < seq && n == size; s++) {
		payload(p, size, tag, s);
		if (memcmp(in, p, size) == 0)
			return true;
	}
	return false;
}

/* UDP: its echo, skipping late echoes of earlier probes.  A refusal or a
 * wrong echo ends the run; a lost probe does not. */
static enum outcome
dgram_one(const struct cl_probe_opts *o, const char *out, char *in,
    unsigned tag, int seq, uint64_t deadline, struct cl_probe_result *r)
{
	ssize_t n;

	if (send(o->sock, out, o->size, 0) != (ssize_t)o->size) {
		fail(r, "send", errno);
		return STOP;
	}
	r->sent++;
	for (;;) {
		int rc = wait_in(o, deadline, r);
		if (rc != 1)
			return rc == 0 && !r->timed_out ? LOST : STOP;
		n = recv(o->sock, in, o->size + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1) {
			fail(r, "receive", errno);
			return STOP;
		}
		if ((size_t)n == o->size && memcmp(in, out, o->size) == 0)
			return ECHOED;
		if (!late(in, (size_t)n, o->size, tag, seq))
			break;
	}
	r->wrong = true;
	snprintf(r->err, sizeof(r->err), "a datagram of %zd bytes came back "
	    "that no probe sent (probe %d was %zu bytes)", n, seq + 1, o->size);
	return STOP;
}

void
cl_probe_run(const struct cl_probe_opts *o, struct cl_probe_result *r)
{
	char *out = malloc(o->size), *in = malloc(o->size + 1);
	struct timespec ts;
	unsigned tag;

	memset(r, 0, sizeof(*r));
	if (out == NULL || in == NULL) {
		fail(r, "memory", errno);
		goto done;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	tag = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 12);
	for (int seq = 0; seq < o->count; seq++) {
		uint64_t t0 = now_nsec(), deadline = t0 +
		    (uint64_t)o->wait_ms * 1000000;
		enum outcome oc;

		if (o->deadline_ns != 0 && t0 >= o->deadline_ns) {
			r->timed_out = true;
			break;
		}
		payload(out, o->size, tag, seq);
		oc = o->udp ? dgram_one(o, out, in, tag, seq, deadline, r) :
		    stream_one(o, out, in, deadline, r);
		if (oc == ECHOED) {
			double ms = (double)(now_nsec() - t0) / 1e6;
			r->echoed++;
			r->rtt_sum_ms += ms;
			if (ms > r->rtt_max_ms)
				r->rtt_max_ms = ms;
		} else if (oc == STOP)
			break;
	}
done:
	free(out);
	free(in);
}

double
cl_probe_loss(const struct cl_probe_result *r, int count)
{
	return count <= 0 ? 100.0 :
	    100.0 * (double)(count - r->echoed) / (double)count;
}

static bool
over(const struct cl_probe_result *r, int count, const struct cl_probe_limit *l)
{
	double avg = r->echoed > 0 ? r->rtt_sum_ms / r->echoed : 0;

	return cl_probe_loss(r, count) > l->loss_pct ||
	    (r->echoed > 0 && avg > l->rtt_ms);
}

enum cl_probe_state
cl_probe_judge(const struct cl_probe_result *r, int count,
    const struct cl_probe_limit *warn, const struct cl_probe_limit *crit)
{
	if (r->wrong || r->echoed == 0 || over(r, count, crit))
		return PROBE_CRITICAL;
	if (over(r, count, warn))
		return PROBE_WARNING;
	return PROBE_OK;
}

static const char *const state_name[] = {
	[PROBE_OK] = "OK", [PROBE_WARNING] = "WARNING",
	[PROBE_CRITICAL] = "CRITICAL", [PROBE_UNKNOWN] = "UNKNOWN",
};

void
cl_probe_print(FILE *f, enum cl_probe_state st, const char *target,
    const struct cl_probe_opts *o, const struct cl_probe_result *r, int count,
    const struct cl_probe_limit *warn, const struct cl_probe_limit *crit)
{
	double loss = cl_probe_loss(r, count);

	fprintf(f, "ECHO %s - %s/%s: %d of %d echoed, loss %.0f%%", state_name[st],
	    target, o->udp ? "udp" : "tcp", r->echoed, count, loss);
	if (r->echoed > 0)
		fprintf(f, ", rtt avg %.3f ms, max %.3f ms",
		    r->rtt_sum_ms / r->echoed, r->rtt_max_ms);
	if (r->timed_out)
		fprintf(f, "; timed out");
	if (r->err[0] != '\0')
		fprintf(f, "; %s", r->err);
	fprintf(f, "|rtt=");
	if (r->echoed > 0)
		fprintf(f, "%.3fms", r->rtt_sum_ms / r->echoed);
	else
		fprintf(f, "U");
	fprintf(f, ";%g;%g;0 loss=%.0f%%;%g;%g;0;100\n", warn->rtt_ms,
	    crit->rtt_ms, loss, warn->loss_pct, crit->loss_pct);
}
