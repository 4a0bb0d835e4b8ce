/* stresslib.c - see stresslib.h. */
#include "config.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stresslib.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

bool
bar(struct result *r, bool cond, const char *fmt, ...)
{
	va_list ap;

	if (!cond && r->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	return cond;
}

bool
sl_sanitizers(void)
{
#ifdef STRESS_SANITIZERS
	return true;
#else
	return false;
#endif
}

/* ---- load ---------------------------------------------------------------- */

static uint64_t
rnd(uint64_t *s)
{
	/* xorshift64*: the payloads only need to differ between clients */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
bind_src(int fd, uint32_t src, int sport)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)sport), .sin_addr.s_addr = htonl(src) };
	int one = 1;

	if (src == 0 && sport == 0)
		return 0;
	/* leave the port to connect(), or 10,000 clients run out of them */
	if (sport == 0)
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(fd, (struct sockaddr *)&in, sizeof(in));
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void
sl_load_init(struct sl_load *l, int family, int port, int n, int exchanges,
    size_t maxlen)
{
	memset(l, 0, sizeof(*l));
	l->family = family;
	l->port = port;
	l->n = n;
	l->exchanges = exchanges;
	l->maxlen = maxlen > SL_MAXLEN ? SL_MAXLEN : maxlen;
	l->c = calloc((size_t)n, sizeof(*l->c));
	l->pfd = calloc((size_t)n, sizeof(*l->pfd));
	l->rng = h_now_ms() * 0x9E3779B97F4A7C15ULL + (uint64_t)getpid();
	for (int i = 0; i < n; i++)
		l->c[i].fd = -1;
}

static void
next_exchange(struct sl_load *l, struct sl_client *c)
{
	c->len = 1 + (size_t)(rnd(&l->rng) % l->maxlen);
	for (size_t i = 0; i < c->len; i += 8) {
		uint64_t v = rnd(&l->rng);
		memcpy(c->out + i, &v, c->len - i < 8 ? c->len - i : 8);
	}
	c->sent = c->got = 0;
}

static void
client_connect(struct sl_load *l, struct sl_client *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = h_loopback(l->family, l->port, &ss);

	c->fd = socket(l->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return;
	if ((l->family == AF_INET && bind_src(c->fd, l->src, 0) == -1) ||
	    (connect(c->fd, (struct sockaddr *)&ss, sl) == -1 && errno != EINPROGRESS)) {
		l->failed_connects++;
		close(c->fd);
		c->fd = -1;
		return;
	}
	l->connects++;
	c->lport = local_port(c->fd);
	c->left = l->exchanges;
	next_exchange(l, c);
}

static void
client_broke(struct sl_load *l, struct sl_client *c, int err)
{
	/* refused before a byte went out: the service did not answer */
	if (err == ECONNREFUSED && c->sent == 0 && c->left == l->exchanges)
		l->failed_connects++;
	else {
		l->broken++;
		if (l->n_broken_port < SL_BROKEN_MAX)
			l->broken_port[l->n_broken_port++] = c->lport;
	}
	close(c->fd);
	c->fd = -1;
}

void
sl_load_run(struct sl_load *l, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;

	while (h_now_ms() < end) {
		for (int i = 0; i < l->n; i++) {
			struct sl_client *c = &l->c[i];
			if (c->fd == -1)
				client_connect(l, c);
			l->pfd[i].fd = c->fd;
			l->pfd[i].events = c->sent < c->len ? POLLOUT : POLLIN;
			l->pfd[i].revents = 0;
		}
		if (poll(l->pfd, (nfds_t)l->n, 10) <= 0)
			continue;
		for (int i = 0; i < l->n; i++) {
			struct sl_client *c = &l->c[i];
			ssize_t r;

			if (c->fd == -1 || l->pfd[i].revents == 0)
				continue;
			if (c->sent < c->len) {
				r = send(c->fd, c->out + c->sent, c->len - c->sent,
				    MSG_NOSIGNAL);
				if (r > 0) {
					c->sent += (size_t)r;
					continue;
				}
			} else {
				r = recv(c->fd, c->in + c->got, c->len - c->got, 0);
				if (r > 0) {
					c->got += (size_t)r;
					if (c->got < c->len)
						continue;
					if (memcmp(c->in, c->out, c->len) != 0)
						l->corrupt++;
					l->exchanged++;
					if (--c->left > 0) {
						next_exchange(l, c);
						continue;
					}
					close(c->fd);	/* done: reconnect next turn */
					c->fd = -1;
					continue;
				}
			}
			if (r == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			client_broke(l, c, r == 0 ? ECONNRESET : errno);
		}
	}
}

void
sl_load_free(struct sl_load *l)
{
	for (int i = 0; i < l->n; i++)
		if (l->c[i].fd != -1)
			close(l->c[i].fd);
	free(l->c);
	free(l->pfd);
	l->c = NULL;
	l->pfd = NULL;
}

/* ---- sockets ------------------------------------------------------------- */

int
sl_udp_from(uint32_t src, int sport)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd != -1 && bind_src(fd, src, sport) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
sl_udp_send(int fd, int family, int port, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = h_loopback(family, port, &ss);

	return sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) ==
	    (ssize_t)len ? 0 : -1;
}

int
sl_probe(int fd, const void *buf, size_t len, int timeout_ms)
{
	unsigned char got[4096];
	size_t n = 0;
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	if (len > sizeof(got) ||
	    send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return errno == EPIPE || errno == ECONNRESET ? 0 : -1;
	while (n < len && h_now_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		ssize_t r = recv(fd, got + n, len - n, MSG_DONTWAIT);
		if (r == 0 || (r == -1 && errno == ECONNRESET))
			return n == 0 ? 0 : -1;
		if (r > 0)
			n += (size_t)r;
	}
	return n == len && memcmp(got, buf, len) == 0 ? 1 : -1;
}

/* ---- /proc --------------------------------------------------------------- */

int
sl_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

bool
sl_proc_exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return access(path, F_OK) == 0;
}

size_t
sl_socket_inodes(pid_t pid, unsigned long *out, size_t max)
{
	char path[64], link[320], target[64];
	struct dirent *d;
	DIR *dir;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL && n < max) {
		ssize_t len;
		if (d->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, d->d_name);
		if ((len = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &out[n]) == 1)
			n++;
	}
	closedir(dir);
	return n;
}

/* The inode and remote port of every established TCP socket, asked of
 * sock_diag: /proc/net/tcp lists every TIME_WAIT too and takes 100s of ms. */
static size_t
established(int family, unsigned long *ino, uint16_t *port, size_t max)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	} q = {
		.nlh = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		    .idiag_states = (1 << TCP_ESTABLISHED) | (1 << TCP_CLOSE_WAIT) },
	};
	static char buf[65536];
	size_t n = 0;
	bool done = false;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd == -1)
		return 0;
	if (send(fd, &q, sizeof(q), 0) != (ssize_t)sizeof(q))
		done = true;
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len <= 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			struct inet_diag_msg *m = NLMSG_DATA(h);
			if (n < max) {
				ino[n] = m->idiag_inode;
				port[n++] = ntohs(m->id.idiag_dport);
			}
		}
	}
	close(fd);
	return n;
}

size_t
sl_peer_ports(pid_t pid, uint16_t *out, size_t max)
{
	static unsigned long ino[65536], eino[65536];
	static uint16_t eport[65536];
	size_t nino = sl_socket_inodes(pid, ino, 65536), n = 0, ne = 0;

	ne = established(AF_INET, eino, eport, 65536);
	ne += established(AF_INET6, eino + ne, eport + ne, 65536 - ne);
	for (size_t i = 0; i < ne && n < max; i++)
		for (size_t j = 0; j < nino; j++)
			if (eino[i] == ino[j]) {
				out[n++] = eport[i];
				break;
			}
	return n;
}

long
sl_pool_rss_kb(pid_t master)
{
	pid_t w[256];
	int n = h_workers(master, w, 256);
	long kb = h_rss_kb(master);

	for (int i = 0; i < n; i++)
		kb += h_rss_kb(w[i]);
	return kb;
}

int
sl_pool_fds(pid_t master)
{
	pid_t w[256];
	int n = h_workers(master, w, 256), fds = sl_fd_count(master);

	for (int i = 0; i < n; i++)
		fds += sl_fd_count(w[i]);
	return fds;
}

uint64_t
sl_pool_cpu_ms(pid_t master)
{
	pid_t w[256];
	int n = h_workers(master, w, 256);
	long t = h_cpu_ms(master);
	uint64_t ms = t > 0 ? (uint64_t)t : 0;

	for (int i = 0; i < n; i++)
		if ((t = h_cpu_ms(w[i])) > 0)
			ms += (uint64_t)t;
	return ms;
}

/* ---- echod --------------------------------------------------------------- */

static void
piped_read(struct sl_piped *p, size_t max)
{
	char buf[4096];
	int fd = open(p->e->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	while (max > 0) {
		ssize_t n = read(p->rfd, buf, max < sizeof(buf) ? max : sizeof(buf));
		if (n <= 0)
			break;
		(void)!write(fd, buf, (size_t)n);	/* keep it for h_wait_log */
		p->total += (size_t)n;
		max -= (size_t)n;
	}
	close(fd);
}

int
sl_start_piped(struct sl_piped *p, struct echod *e, const char *const argv[],
    size_t drain_bps, int timeout_ms)
{
	const char *args[64];
	int pfd[2];
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	memset(p, 0, sizeof(*p));
	p->e = e;
	p->drain_bps = drain_bps;
	h_argv(e, h_echod_path(), argv, args, 64);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	if ((e->pid = fork()) == 0) {
		dup2(pfd[1], STDERR_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(pfd[1]);
	p->rfd = pfd[0];
	fcntl(p->rfd, F_SETFL, O_NONBLOCK);
	while (h_now_ms() < end) {
		piped_read(p, SIZE_MAX);
		if (h_log_has(e, "ready: ")) {
			h_parse_ports(e);
			p->last_ms = h_now_ms();
			return 0;
		}
		h_tick();
	}
	return -1;
}

void
sl_piped_drain(struct sl_piped *p)
{
	uint64_t now = h_now_ms();
	size_t allowance = (size_t)((now - p->last_ms) * p->drain_bps / 1000);

	if (allowance == 0)
		return;
	p->last_ms = now;
	piped_read(p, allowance);
}

int
sl_log_count(struct echod *e, const char *needle)
{
	FILE *f = fopen(e->logpath, "r");
	char line[1024];
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

const char *
sl_log_tail(struct echod *e)
{
	static char last[256];
	char line[256];
	FILE *f = fopen(e->logpath, "r");

	last[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			snprintf(last, sizeof(last), "%s", line);
	if (f)
		fclose(f);
	last[strcspn(last, "\n")] = '\0';
	return last;
}

bool
sl_start(struct result *r, struct echod *e, const char *const argv[])
{
	if (h_start(e, argv, 10000) == 0)
		return true;
	return bar(r, false, "echod did not start: %s", sl_log_tail(e));
}
