/* harness.c - see harness.h.  Every wait has a deadline; none is a sleep
 * standing in for a condition: the loops poll the condition itself. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define POLL_MS	10	/* how often a wait re-checks its condition */

uint64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

void
h_tick(void)
{
	pause_ms(POLL_MS);
}

void
h_init(struct echod *e)
{
	int fd;

	memset(e, 0, sizeof(*e));
	strcpy(e->dir, "/tmp/echod-test-XXXXXX");
	if (mkdtemp(e->dir) == NULL)
		abort();
	chmod(e->dir, 0755);
	snprintf(e->logpath, sizeof(e->logpath), "%s/echod.log", e->dir);
	snprintf(e->pidfile, sizeof(e->pidfile), "%s/echod.pid", e->dir);
	snprintf(e->confpath, sizeof(e->confpath), "%s/echod.conf", e->dir);
	snprintf(e->emptyconf, sizeof(e->emptyconf), "%s/empty.conf", e->dir);
	fd = open(e->emptyconf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		abort();
	close(fd);
	e->pid = -1;
}

void
h_write_conf(struct echod *e, const char *text)
{
	char tmp[160];
	FILE *f;

	/* atomically, as an editor would, so a reload never reads half */
	snprintf(tmp, sizeof(tmp), "%s.new", e->confpath);
	f = fopen(tmp, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	rename(tmp, e->confpath);
}

const char *
h_echod_path(void)
{
	const char *bin = getenv("ECHOD");

	return bin ? bin : "../src/echod";
}

const char *
h_crashshim_preload(const char **path)
{
	static char shim[512], preload[600];
	const char *top = getenv("top_builddir");

	snprintf(shim, sizeof(shim), "%s/tests/stress/crashshim.so", top ? top : "..");
	*path = shim;
	if (access(shim, R_OK) == -1)
		return NULL;
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim);
	return preload;
}

static bool
has_config(const char *const argv[])
{
	for (size_t i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0 ||
		    strncmp(argv[i], "--config=", 9) == 0)
			return true;
	return false;
}

size_t
h_argv(const struct echod *e, const char *bin, const char *const argv[],
    const char **out, size_t max)
{
	size_t n = 0;

	if (max < 4)
		abort();
	out[n++] = bin;
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (n >= max - 3)
			abort();	/* a test's own mistake: say so at once */
		out[n++] = argv[i];
	}
	if (!has_config(argv)) {
		out[n++] = "-c";
		out[n++] = e->emptyconf;
	}
	out[n] = NULL;
	return n;
}

/* echod's control record in the scratch directory, never the host's
 * /run/echod (ctlrecord.h), whatever environment the test gives. */
static void
spawn_exec(const struct echod *e, const char *bin, const char **args)
{
	static char rec[160];
	const char *env[64];
	size_t n = 0;

	snprintf(rec, sizeof(rec), "ECHOD_CONTROL_RECORD=%s/control.where", e->dir);
	if (e->envp == NULL) {
		putenv(rec);
		execvp(bin, (char *const *)args);
		return;
	}
	for (; e->envp[n] != NULL && n < nitems(env) - 2; n++)
		env[n] = e->envp[n];
	env[n++] = rec;
	env[n] = NULL;
	execvpe(bin, (char *const *)args, (char *const *)env);
}

pid_t
h_spawn(struct echod *e, const char *const argv[])
{
	const char *bin = e->wrapper ? e->wrapper : h_echod_path();
	const char *args[64];
	pid_t pid;

	h_argv(e, bin, argv, args, 64);
	if ((pid = fork()) == 0) {
		int fd = open(e->logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd == -1)
			_exit(127);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
		if (e->own_pgrp)
			setpgid(0, 0);
		if (e->nofile > 0) {
			struct rlimit rl = { (rlim_t)e->nofile, (rlim_t)e->nofile };
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		spawn_exec(e, bin, args);
		_exit(127);
	}
	e->pid = pid;
	return pid;
}

static char *
read_log(const struct echod *e, size_t *len)
{
	FILE *f = fopen(e->logpath, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	*len = 0;
	if (f == NULL)
		return NULL;
	do {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

bool
h_log_has(struct echod *e, const char *needle)
{
	return h_log_since(e, 0, needle);
}

size_t
h_log_size(const struct echod *e)
{
	struct stat st;

	return stat(e->logpath, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Whether needle is in the log past off: 1 it is, 0 it is not, -1 the
 * log cannot be read (which is neither). */
static int
log_find(const struct echod *e, size_t off, const char *needle)
{
	size_t len;
	char *log = read_log(e, &len);
	int found = log == NULL ? -1 :
	    off <= len && strstr(log + off, needle) != NULL;

	free(log);
	return found;
}

bool
h_log_since(const struct echod *e, size_t off, const char *needle)
{
	return log_find(e, off, needle) == 1;
}

bool
h_log_lacks_since(const struct echod *e, size_t off, const char *needle)
{
	return log_find(e, off, needle) == 0;
}

bool
h_log_lacks(struct echod *e, const char *needle)
{
	return h_log_lacks_since(e, 0, needle);
}

bool
h_wait_log(struct echod *e, const char *needle, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	do {
		size_t len;
		char *log = read_log(e, &len), *p;

		if (log && e->mark <= len && (p = strstr(log + e->mark, needle))) {
			e->mark = (size_t)(p - log) + strlen(needle);
			free(log);
			return true;
		}
		free(log);
		pause_ms(POLL_MS);
	} while (h_now_ms() < end);
	return false;
}

long
h_log_last(const struct echod *e, const char *needle)
{
	FILE *f = fopen(e->logpath, "re");
	char line[1024];
	const char *p;
	long v = 0;

	while (f && fgets(line, sizeof(line), f))
		if ((p = strstr(line, needle)) != NULL)
			v = atol(p + strlen(needle));
	if (f)
		fclose(f);
	return v;
}

void
h_parse_ports(struct echod *e)
{
	static const struct { const char *prefix; size_t off; } kinds[] = {
		{ "listening on tcp 127.0.0.1:", offsetof(struct echod, tcp4) },
		{ "listening on tcp [::1]:", offsetof(struct echod, tcp6) },
		{ "listening on udp 127.0.0.1:", offsetof(struct echod, udp4) },
		{ "listening on udp [::1]:", offsetof(struct echod, udp6) },
	};
	size_t len;
	char *log = read_log(e, &len);

	for (size_t k = 0; log && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char *p = strstr(log, kinds[k].prefix);
		int *port = (int *)((char *)e + kinds[k].off);
		if (p != NULL && *port == 0)
			*port = atoi(p + strlen(kinds[k].prefix));
	}
	free(log);
}

int
h_start(struct echod *e, const char *const argv[], int timeout_ms)
{
	h_spawn(e, argv);
	if (!h_wait_log(e, "ready: ", timeout_ms))
		return -1;
	h_parse_ports(e);
	return 0;
}

/* Does text set key: a line that starts with it, then a blank or '='? */
static bool
sets_key(const char *text, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		p += strspn(p, " \t");
		if (strncmp(p, key, len) == 0 && strchr(" \t=", p[len]) != NULL)
			return true;
	}
	return false;
}

/* "key = value\n" into f, unless extra sets the key itself. */
static void
conf_line(FILE *f, const char *extra, const char *key, const char *fmt,
    const char *value)
{
	if (value == NULL || sets_key(extra, key))
		return;
	fprintf(f, "%s = ", key);
	fprintf(f, fmt, value);
	fputc('\n', f);
}

int
h_start_conf(struct echod *e, const struct h_conf *c)
{
	const char *extra = c->extra ? c->extra : "", *argv[32];
	char workers[16], ctl[PATH_MAX], *text = NULL;
	size_t len = 0, n = 0;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		abort();
	snprintf(workers, sizeof(workers), "%d", c->workers);
	conf_line(f, extra, "listen_tcp", "{%s}",
	    c->tcp ? c->tcp : "\"127.0.0.1:0\"");
	conf_line(f, extra, "listen_udp", "{%s}", c->udp ? c->udp : "");
	conf_line(f, extra, "workers", "%s", c->workers ? workers : NULL);
	conf_line(f, extra, "user", "\"%s\"", c->user);
	/* never the host's /run/echod/control: two runs at once would meet */
	snprintf(ctl, sizeof(ctl), "%s/control", e->dir);
	conf_line(f, extra, "control_socket", "\"%s\"",
	    c->control ? c->control : ctl);
	fputs(extra, f);
	if (fclose(f) != 0)
		abort();
	h_write_conf(e, text);
	free(text);
	argv[n++] = "-f";
	argv[n++] = "-c";
	argv[n++] = e->confpath;
	for (size_t i = 0; c->args != NULL && c->args[i] != NULL; i++) {
		if (n >= nitems(argv) - 1)
			abort();	/* a test's own mistake: say so at once */
		argv[n++] = c->args[i];
	}
	argv[n] = NULL;
	if (c->nowait) {
		h_spawn(e, argv);
		return 0;
	}
	return h_start(e, argv, c->timeout_ms ? c->timeout_ms : 10000);
}

int
h_start_pidfile(struct echod *e, int workers, bool own_pgrp)
{
	const char *const args[] = { "-p", e->pidfile, NULL };

	e->own_pgrp = own_pgrp;
	if (h_start_conf(e, &(struct h_conf){ .workers = workers,
	    .udp = "\"127.0.0.1:0\"", .args = args }) == -1)
		return -1;
	return e->tcp4 > 0 ? 0 : -1;
}

void
h_cleanup(struct echod *e)
{
	char cmd[128];

	if (e->pid > 0) {
		pid_t w[64];
		int n = h_workers(e->pid, w, 64);
		kill(e->pid, SIGKILL);
		for (int i = 0; i < n; i++)
			kill(w[i], SIGKILL);
		h_wait_exit(e->pid, 2000);
		e->pid = -1;
	}
	if (getenv("ECHOD_KEEP_LOGS") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		(void)!system(cmd);
	}
}

struct sockaddr_in
h_v4(const char *addr, int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, addr, &in.sin_addr);
	return in;
}

socklen_t
h_loopback(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_addr = in6addr_loopback;
		return sizeof(*in6);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*in);
}

int
h_connect_from(int family, uint32_t src, int port, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(family, port, &ss);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(src) };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* the port is left to connect(), or thousands of clients run out */
	if (family == AF_INET && src != 0 &&
	    (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)),
	    bind(fd, (struct sockaddr *)&in, sizeof(in)) == -1)) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
h_connect(int family, int port, int timeout_ms)
{
	return h_connect_from(family, 0, port, timeout_ms);
}

int
h_echo(int fd, const void *buf, size_t len, int timeout_ms)
{
	unsigned char *got = malloc(len ? len : 1);
	size_t sent = 0, recvd = 0;
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int rc = -1;

	while (recvd < len && h_now_ms() < end) {
		struct pollfd pfd = { .fd = fd,
		    .events = POLLIN | (sent < len ? POLLOUT : 0) };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && sent < len) {
			ssize_t n = send(fd, (const char *)buf + sent, len - sent,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n == -1 && errno != EAGAIN)
				goto out;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, got + recvd, len - recvd, MSG_DONTWAIT);
			if (n == 0 || (n == -1 && errno != EAGAIN))
				goto out;
			if (n > 0)
				recvd += (size_t)n;
		}
	}
	if (recvd == len && memcmp(got, buf, len) == 0)
		rc = 0;
out:
	free(got);
	return rc;
}

ssize_t
h_udp_echo(int family, int port, const void *buf, size_t len, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t sl = h_loopback(family, port, &ss);
	static char got[70000];
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n = -1;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (fd == -1)
		return -1;
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) == (ssize_t)len &&
	    poll(&pfd, 1, timeout_ms) == 1) {
		n = recv(fd, got, sizeof(got), 0);
		if (n != (ssize_t)len || memcmp(got, buf, len) != 0)
			n = -1;
	}
	close(fd);
	return n;
}

void
h_random(void *buf, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	while (fd != -1 && got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (fd != -1)
		close(fd);
}

int
h_notify_socket(const struct echod *e, int type, char *env, size_t envlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(un.sun_path, sizeof(un.sun_path), "%s/notify",
	    e->dir) >= sizeof(un.sun_path) || (size_t)snprintf(env, envlen,
	    "NOTIFY_SOCKET=%s", un.sun_path) >= envlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | type, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&un, sizeof(un)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
h_free_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&in, &len) == 0)
		port = ntohs(in.sin_port);
	close(fd);
	return port;
}
