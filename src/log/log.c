/*
 * log.c - logging in the OpenBSD daemons' style: log_warn appends strerror,
 * log_warnx does not, fatal exits.
 *
 * A daemon must never wait on its log: a slow journal or a full pipe would
 * stall every connection of the worker that writes.  So every output here
 * is non-blocking; what cannot be written at once waits in a bounded queue
 * (logq.h) that the event loop empties as the log takes it (log_pending(),
 * log_flush()), and only what does not fit there is dropped and counted:
 * the next line that gets through says how many were lost.
 *  - stderr: reopened through /proc/self/fd/2 with O_NONBLOCK, a private
 *    open file that leaves the terminal's or the pipe's own flags alone;
 *  - the journal (stderr is journald's stream: JOURNAL_STREAM): its native
 *    protocol on a non-blocking datagram socket, with structured fields
 *    (sd_journal_send(3) speaks the same protocol, but blocks when journald
 *    falls behind);
 *  - syslog (a detached daemon): a non-blocking datagram to /dev/log.
 * A worker's resolver thread logs too, so the queue is locked and the drop
 * counters atomic; the rest of the state is set before any second thread
 * starts.
 *
 * The leaf formats nothing of its callers': a connection's line is worded
 * by the caller, and log_conn() adds the journal fields.  What is written
 * per connection is copied, not printed (strbuf.h): printf was most of a
 * worker's user time with log_connections.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "logq.h"
#include "strbuf.h"
#include "util.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define SYSLOG_SOCKET	"/dev/log"
#define LINE_MAX_LEN	1024

static enum log_target	 target = LOG_TO_STDERR;
static int		 level = LOG_INFO;
static char		 prefix[32];
static size_t		 prefix_len;
static const char	*ident_name = "echod";
static int		 out_fd = STDERR_FILENO;
static bool		 out_is_socket;
static atomic_ulong	 dropped;	/* lines lost since the last report */
static atomic_ulong	 dropped_total;	/* lines lost since start */
static pthread_mutex_t	 qlock = PTHREAD_MUTEX_INITIALIZER;
static struct logq	 queue = { .cap = LOGQ_BYTES };
static atomic_size_t	 queued;	/* records in the queue: a hint, unlocked */
/*
 * Info and debug lines of the event loop's thread, while log_batch() is on:
 * written together when the loop's turn ends (log_flush()), one write for
 * many lines instead of one each, two per connection with log_connections.
 * At most PIPE_BUF bytes, which a pipe takes whole or not at all, so lines
 * of different workers still never interleave.  stderr only: the journal
 * and syslog take one datagram per entry.  Under qlock.
 */
static char		 batch[PIPE_BUF];
static size_t		 batch_len;
static bool		 batch_on;
static pthread_t	 batch_owner;
static atomic_size_t	 batched;	/* batch_len: a hint, unlocked */
/* Our pid, for every line: getpid() is a system call (glibc 2.25 on no
 * longer caches it), two per connection with log_connections. */
static _Atomic pid_t	 self;
/* "echod[1234]: ", which every stderr line starts with; set by log_init()
 * and in a new child, before any second thread can log. */
static char		 head[64];
static size_t		 head_len;

static long
my_pid(void)
{
	pid_t p = atomic_load_explicit(&self, memory_order_relaxed);

	if (p == 0) {
		p = getpid();
		atomic_store_explicit(&self, p, memory_order_relaxed);
	}
	return (long)p;
}

static void
set_head(void)
{
	int n = snprintf(head, sizeof(head), "%s[%ld]: ", ident_name, my_pid());

	head_len = n < 0 ? 0 : n >= (int)sizeof(head) ? sizeof(head) - 1 : (size_t)n;
}

/* A child starts with no lines of its parent's to write or to count, and
 * a pid of its own. */
static void
forked(void)
{
	atomic_store_explicit(&self, 0, memory_order_relaxed);
	set_head();
	pthread_mutex_init(&qlock, NULL);
	batch_len = 0;
	batch_on = false;
	atomic_store(&batched, 0);
	logq_clear(&queue);
	atomic_store(&queued, 0);
	atomic_store(&dropped, 0);
	atomic_store(&dropped_total, 0);
}

static void
lost(unsigned long n)
{
	atomic_fetch_add_explicit(&dropped, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&dropped_total, n, memory_order_relaxed);
}

/* True when fd 2 is the stream JOURNAL_STREAM names (dev:inode). */
bool
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

static int
udp_batch_to(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd == -1)
		return -1;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
log_init(enum log_target t, const char *ident)
{
	struct stat st;
	int fd;

	static bool once;

	if (!once && pthread_atfork(NULL, NULL, forked) == 0)
		once = true;
	ident_name = ident;
	set_head();
	/* Again (tests, which move stderr): what the last call opened goes. */
	if (out_fd != STDERR_FILENO && out_fd != -1)
		close(out_fd);
	out_fd = STDERR_FILENO;
	target = log_stderr_is_journal() ? LOG_TO_JOURNAL : t;
	switch (target) {
	case LOG_TO_JOURNAL:
		if ((fd = udp_batch_to(JOURNAL_SOCKET)) != -1) {
			out_fd = fd;
			break;
		}
		target = LOG_TO_STDERR;	/* no journal socket: its stream, then */
		/* FALLTHROUGH */
	case LOG_TO_STDERR:
		out_is_socket = fstat(STDERR_FILENO, &st) == 0 && S_ISSOCK(st.st_mode);
		if (!out_is_socket && (fd = open("/proc/self/fd/2",
		    O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC)) != -1)
			out_fd = fd;
		break;
	case LOG_TO_SYSLOG:
		out_fd = udp_batch_to(SYSLOG_SOCKET);	/* -1: nowhere to log */
		break;
	}
}

void	log_setlevel(int l) { level = l; }
int	log_getlevel(void) { return level; }
enum log_target log_gettarget(void) { return target; }

void
log_setprefix(const char *p)
{
	int n = snprintf(prefix, sizeof(prefix), "%s", p ? p : "");

	prefix_len = n < 0 ? 0 : n >= (int)sizeof(prefix) ? sizeof(prefix) - 1 : (size_t)n;
}

/* One write, never waiting.  A line is short of PIPE_BUF, so a pipe takes
 * it whole or not at all; a datagram socket likewise. */
static enum logq_emit
emit(const void *buf, size_t len)
{
	ssize_t n;

	if (out_fd == -1)
		return LOGQ_FAILED;
	if (out_is_socket || target != LOG_TO_STDERR)
		n = send(out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = write(out_fd, buf, len);
	if (n == (ssize_t)len)
		return LOGQ_SENT;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == ENOBUFS || errno == EINTR))
		return LOGQ_AGAIN;	/* the log is behind: queue it */
	return LOGQ_FAILED;
}

/* Writes what waits, in order; true when nothing does.  Under qlock. */
static bool
drain_locked(void)
{
	unsigned long failed = 0;
	bool empty = logq_drain(&queue, emit, &failed);

	if (failed > 0)
		lost(failed);
	atomic_store_explicit(&queued, queue.n, memory_order_relaxed);
	return empty;
}

/* The batch goes out now if nothing waits before it, else in the queue.
 * Under qlock. */
static void
batch_out_locked(void)
{
	enum logq_emit r = LOGQ_AGAIN;
	unsigned long lines = 0;

	if (batch_len == 0)
		return;
	if (drain_locked())
		r = emit(batch, batch_len);
	if (r == LOGQ_FAILED || (r == LOGQ_AGAIN &&
	    logq_push(&queue, batch, batch_len) == -1)) {
		for (size_t i = 0; i < batch_len; i++)
			lines += batch[i] == '\n';
		lost(lines);
	}
	batch_len = 0;
	atomic_store_explicit(&batched, 0, memory_order_relaxed);
	atomic_store_explicit(&queued, queue.n, memory_order_relaxed);
}

void
log_batch(bool on)
{
	pthread_mutex_lock(&qlock);
	if (!on)
		batch_out_locked();
	batch_on = on && target == LOG_TO_STDERR;
	batch_owner = pthread_self();
	pthread_mutex_unlock(&qlock);
}

/*
 * A record goes out now if nothing waits before it, else in the queue; an
 * info or debug line of the batching thread waits for the end of the turn.
 */
static void
deliver(const void *buf, size_t len, bool may_batch)
{
	enum logq_emit r = LOGQ_AGAIN;

	pthread_mutex_lock(&qlock);
	if (may_batch && batch_on && len <= sizeof(batch) &&
	    pthread_equal(pthread_self(), batch_owner)) {
		if (batch_len + len > sizeof(batch))
			batch_out_locked();
		memcpy(batch + batch_len, buf, len);
		batch_len += len;
		atomic_store_explicit(&batched, batch_len, memory_order_relaxed);
		pthread_mutex_unlock(&qlock);
		return;
	}
	batch_out_locked();	/* what was batched is older */
	if (drain_locked())
		r = emit(buf, len);
	if (r == LOGQ_FAILED || (r == LOGQ_AGAIN &&
	    logq_push(&queue, buf, len) == -1))
		lost(1);
	atomic_store_explicit(&queued, queue.n, memory_order_relaxed);
	pthread_mutex_unlock(&qlock);
}

bool
log_pending(void)
{
	return atomic_load_explicit(&queued, memory_order_relaxed) > 0 ||
	    atomic_load_explicit(&batched, memory_order_relaxed) > 0;
}

unsigned long
log_dropped_total(void)
{
	return atomic_load(&dropped_total);
}

/* The queue, then the report of what was dropped (not the batch). */
static void
flush_queue(void)
{
	char line[128];
	unsigned long lost;
	bool ok;
	int n;

	if (atomic_load_explicit(&queued, memory_order_relaxed) > 0) {
		pthread_mutex_lock(&qlock);
		ok = drain_locked();
		pthread_mutex_unlock(&qlock);
		if (!ok)
			return;		/* the report goes after what waits */
	}
	if (atomic_load_explicit(&dropped, memory_order_relaxed) == 0)
		return;
	/* Take the count whole, so that two threads never report the same
	 * lines, and give it back if the report does not go out either. */
	if ((lost = atomic_exchange(&dropped, 0)) == 0)
		return;
	if (target == LOG_TO_JOURNAL) {
		struct journal_entry j;

		j.len = 0;
		snprintf(line, sizeof(line), "%lu log messages dropped: the log "
		    "was not keeping up", lost);
		journal_add_str(&j, "MESSAGE", line);
		journal_add_u64(&j, "PRIORITY", LOG_WARNING);
		journal_add_str(&j, "SYSLOG_IDENTIFIER", ident_name);
		ok = emit(j.buf, j.len) == LOGQ_SENT;
	} else {
		if (target == LOG_TO_SYSLOG)
			n = snprintf(line, sizeof(line), "<%d>%s[%ld]: %lu log "
			    "messages dropped", LOG_DAEMON | LOG_WARNING,
			    ident_name, my_pid(), lost);
		else
			n = snprintf(line, sizeof(line), "%s[%ld]: %lu log messages "
			    "dropped\n", ident_name, my_pid(), lost);
		ok = emit(line, (size_t)n) == LOGQ_SENT;
	}
	if (!ok)
		atomic_fetch_add(&dropped, lost);
}

void
log_flush(void)
{
	if (atomic_load_explicit(&batched, memory_order_relaxed) > 0) {
		pthread_mutex_lock(&qlock);
		batch_out_locked();
		pthread_mutex_unlock(&qlock);
	}
	flush_queue();
}

void
log_drain(int timeout_ms)
{
	uint64_t end = now_coarse_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now;
		struct pollfd pfd = { .fd = out_fd, .events = POLLOUT };

		log_flush();
		if (!log_pending() || out_fd == -1 || (now = now_coarse_ms()) >= end)
			return;
		if (poll(&pfd, 1, (int)(end - now)) == -1 && errno != EINTR)
			return;
	}
}

static void
output(int pri, const char *msg, struct journal_entry *extra)
{
	char line[LINE_MAX_LEN + 100];
	struct strbuf sb;

	flush_queue();
	switch (target) {
	case LOG_TO_JOURNAL: {
		struct journal_entry j;

		j.len = 0;
		journal_add_str(&j, "MESSAGE", msg);
		journal_add_u64(&j, "PRIORITY", (uint64_t)pri);
		journal_add_str(&j, "SYSLOG_IDENTIFIER", ident_name);
		journal_add_u64(&j, "SYSLOG_PID", (uint64_t)my_pid());
		if (extra && j.len + extra->len <= sizeof(j.buf)) {
			memcpy(j.buf + j.len, extra->buf, extra->len);
			j.len += extra->len;
		}
		deliver(j.buf, j.len, pri >= LOG_INFO);
		break;
	}
	case LOG_TO_SYSLOG:	/* "<%d>%s[%ld]: %s" */
		strbuf_init(&sb, line, sizeof(line));
		strbuf_put_char(&sb, '<');
		strbuf_put_u64(&sb, (uint64_t)(LOG_DAEMON | pri));
		strbuf_put_char(&sb, '>');
		strbuf_put_str(&sb, ident_name);
		strbuf_put_char(&sb, '[');
		strbuf_put_u64(&sb, (uint64_t)my_pid());
		strbuf_put_mem(&sb, "]: ", 3);
		strbuf_put_str(&sb, msg);
		deliver(line, sb.len, pri >= LOG_INFO);
		break;
	default: {
		/* One write per line, so lines from workers never interleave.
		 * Copied, not printed: two lines per connection come here. */
		size_t len = strnlen(msg, LINE_MAX_LEN - 1);

		memcpy(line, head, head_len);
		memcpy(line + head_len, msg, len);
		line[head_len + len] = '\n';
		deliver(line, head_len + len + 1, pri >= LOG_INFO);
		break;
	}
	}
}

/* The prefix ("worker 3: "), then the caller's words. */
static void
compose(char *msg, size_t len, const char *fmt, va_list ap)
{
	size_t n = 0;

	if (prefix_len != 0) {	/* len is far longer than a prefix */
		memcpy(msg, prefix, prefix_len);
		memcpy(msg + prefix_len, ": ", 2);
		n = prefix_len + 2;
	}
	vsnprintf(msg + n, len - n, fmt, ap);
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[LINE_MAX_LEN];
	int saved = errno;
	size_t n;

	if (pri > level)
		return;
	compose(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	output(pri, msg, NULL);
	errno = saved;
}

#define LOGFUNC(name, pri, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(pri, fmt, ap, with_errno);			\
	va_end(ap);					\
}
LOGFUNC(log_warn, LOG_WARNING, 1)
LOGFUNC(log_warnx, LOG_WARNING, 0)
LOGFUNC(log_notice, LOG_NOTICE, 0)
LOGFUNC(log_info, LOG_INFO, 0)
LOGFUNC(log_debug, LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

/* A connection's line (prefixed) with its journal fields. */
static void
conn_output(enum log_conn_event ev, const struct log_conn_fields *f,
    const char *msg)
{
	struct journal_entry j;	/* not zeroed: 4 KiB per line */
	bool named = f->host != NULL && f->host[0] != '\0';

	j.len = 0;
	if (target == LOG_TO_JOURNAL) {
		journal_add_str(&j, "ECHOD_EVENT",
		    ev == LOG_CONN_OPEN ? "open" : "close");
		journal_add_str(&j, "CLIENT_PROTOCOL", f->proto);
		journal_add_str(&j, "CLIENT_ADDRESS", f->addr);
		journal_add_u64(&j, "CLIENT_PORT", f->port);
		if (named)
			journal_add_str(&j, "CLIENT_HOST", f->host);
		if (f->via != NULL) {
			journal_add_str(&j, "BALANCER_ADDRESS", f->via);
			journal_add_u64(&j, "BALANCER_PORT", f->via_port);
		}
		if (ev == LOG_CONN_CLOSE) {
			journal_add_u64(&j, "BYTES", f->bytes);
			journal_add_u64(&j, "DURATION_USEC", f->usec);
		}
	}
	output(LOG_INFO, msg, target == LOG_TO_JOURNAL ? &j : NULL);
}

void
log_conn(enum log_conn_event ev, const struct log_conn_fields *f,
    const char *fmt, ...)
{
	char msg[LINE_MAX_LEN];
	int saved = errno;
	va_list ap;

	if (LOG_INFO > level)
		return;
	va_start(ap, fmt);
	compose(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_output(ev, f, msg);
	errno = saved;
}

void
log_conn_text(enum log_conn_event ev, const struct log_conn_fields *f,
    const char *text)
{
	char msg[LINE_MAX_LEN];
	struct strbuf sb;
	int saved = errno;

	if (LOG_INFO > level)
		return;
	strbuf_init(&sb, msg, sizeof(msg));
	if (prefix_len != 0) {		/* as compose() */
		strbuf_put_mem(&sb, prefix, prefix_len);
		strbuf_put_mem(&sb, ": ", 2);
	}
	strbuf_put_str(&sb, text);
	conn_output(ev, f, msg);
	errno = saved;
}
