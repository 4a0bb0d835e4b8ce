/*
 * fdstore.c - parking connections with systemd across a restart, and
 * taking them back.  Only the master speaks to systemd (NotifyAccess=main):
 * workers hand their connections to it first (handoff_wire.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "util.h"

#define SYNC_USEC	(5 * 1000 * 1000)
#define ABANDON_MS	1000	/* flushing what a failed start cannot serve */

static size_t	 used;
static uint32_t	 seq;
static bool	 conf_counted;	/* the stored configuration is in used */

size_t
fdstore_max(void)
{
	const char *s = getenv("FDSTORE");
	unsigned long long v;
	char *end;

	if (s == NULL || getenv("NOTIFY_SOCKET") == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1024 * 1024)
		return 0;
	return (size_t)v;
}

size_t	fdstore_used(void) { return used; }

bool
fdstore_is_ours(const char *name)
{
	return name != NULL && (strcmp(name, FDSTORE_CONF_NAME) == 0 ||
	    strncmp(name, FDSTORE_CONN_PREFIX, strlen(FDSTORE_CONN_PREFIX)) == 0 ||
	    strncmp(name, FDSTORE_STATE_PREFIX, strlen(FDSTORE_STATE_PREFIX)) == 0);
}

int
fdstore_name(char *out, size_t outlen, const char *prefix, uint64_t id)
{
	return snprintf(out, outlen, "%s%llx", prefix, (unsigned long long)id);
}

static int
store(const char *prefix, uint64_t id, int fd)
{
	char msg[80], name[FDSTORE_NAME_MAX];

	fdstore_name(name, sizeof(name), prefix, id);
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	return sd_pid_notify_with_fds(0, 0, msg, &fd, 1) > 0 ? 0 : -1;
}

size_t
fdstore_put(struct handoff_rec *v, const int *fds, size_t n)
{
	size_t max = fdstore_max(), room = max > used ? max - used : 0, k;
	int memfd;

	if (room < 2 || n == 0)
		return 0;
	k = n < room - 1 ? n : room - 1;
	for (size_t i = 0; i < k; i++)
		v[i].id = (uint64_t)getpid() << 32 | ++seq;
	/* The state first: a socket stored without it would be ended on the
	 * next start, never served with bytes missing. */
	if ((memfd = handoff_encode(v, k)) == -1)
		return 0;
	if (store(FDSTORE_STATE_PREFIX, v[0].id, memfd) == -1) {
		close(memfd);
		return 0;
	}
	close(memfd);
	used++;
	for (size_t i = 0; i < k; i++) {
		if (store(FDSTORE_CONN_PREFIX, v[i].id, fds[i]) == -1)
			return i;
		used++;
	}
	return k;
}

int
fdstore_sync(void)
{
	return sd_notify_barrier(0, SYNC_USEC) >= 0 ? 0 : -1;
}

void
fdstore_remove(const char *name)
{
	char msg[80];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)sd_notify(0, msg);
}

int
fdstore_keep_conf(int memfd)
{
	char msg[80];

	if (fdstore_max() < 1 || (!conf_counted && used >= fdstore_max()))
		return -1;
	fdstore_remove(FDSTORE_CONF_NAME);
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", FDSTORE_CONF_NAME);
	if (sd_pid_notify_with_fds(0, 0, msg, &memfd, 1) <= 0)
		return -1;
	if (!conf_counted)
		used++;
	conf_counted = true;
	return 0;
}

/* The record of id among the states, or NULL. */
static const struct handoff_rec *
find(const struct fdstore_set *s, uint64_t id)
{
	for (size_t i = 0; i < s->nstates; i++)
		for (size_t j = 0; j < s->states[i].n; j++)
			if (s->states[i].v[j].id == id)
				return &s->states[i].v[j];
	return NULL;
}

/* Only what fdstore_name() writes: strtoull() alone would also take a
 * sign, spaces or "0x" (and "-1" as UINT64_MAX). */
bool
fdstore_parse_id(const char *name, uint64_t *id)
{
	const size_t cp = strlen(FDSTORE_CONN_PREFIX);
	const char *hex = name + cp;
	char *end;

	if (strncmp(name, FDSTORE_CONN_PREFIX, cp) != 0 || *hex == '\0' ||
	    strspn(hex, "0123456789abcdefABCDEF") != strlen(hex))
		return false;
	errno = 0;
	*id = strtoull(hex, &end, 16);
	return errno == 0 && *end == '\0' && *id != 0;
}

/*
 * Closes a passed descriptor without freeing its number: sd_listen_fds()
 * after us walks every number up to LISTEN_FDS and would fail on a gap.
 */
static void
release(int fd)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null == -1 || dup3(null, fd, O_CLOEXEC) == -1)
		close(fd);
	if (null != -1)
		close(null);
}

/* The states first, then each socket matched to its record. */
static int
collect(struct fdstore_set *s, char **names, int n,
    void (*warn)(const char *, const char *))
{
	const size_t cp = strlen(FDSTORE_CONN_PREFIX), sp = strlen(FDSTORE_STATE_PREFIX);

	if ((s->v = calloc((size_t)n, sizeof(*s->v))) == NULL ||
	    (s->states = calloc((size_t)n, sizeof(*s->states))) == NULL ||
	    (s->state_names = calloc((size_t)n, sizeof(*s->state_names))) == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *why;

		if (names[i] == NULL || strncmp(names[i], FDSTORE_STATE_PREFIX, sp))
			continue;
		snprintf(s->state_names[s->nstates], sizeof(s->state_names[0]),
		    "%s", names[i]);
		if (handoff_decode(fd, HANDOFF_ANY, &s->states[s->nstates],
		    &why) == -1) {
			warn(names[i], why);
			memset(&s->states[s->nstates], 0, sizeof(s->states[0]));
		}
		s->nstates++;
		release(fd);
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const struct handoff_rec *r;
		const char *why = "no state stored with it";
		uint64_t id;

		if (names[i] == NULL || strncmp(names[i], FDSTORE_CONN_PREFIX, cp))
			continue;
		fd_set_cloexec(fd);
		if (!fdstore_parse_id(names[i], &id) || (r = find(s, id)) == NULL ||
		    handoff_check_socket(fd, &why) == -1 ||
		    fd_set_nonblock(fd, 1) == -1) {
			warn(names[i], why);
			shutdown(fd, SHUT_WR);
			release(fd);
			fdstore_remove(names[i]);
			continue;
		}
		struct fdstore_conn *c = &s->v[s->n++];
		c->fd = fd;
		snprintf(c->name, sizeof(c->name), "%s", names[i]);
		c->rec = *r;
	}
	return 0;
}

int
fdstore_take_conf(void)
{
	char **names = NULL;
	int n, fd = -1;

	/* Not unset: listen_from_systemd() reads the same after us. */
	if ((n = sd_listen_fds_with_names(0, &names)) <= 0)
		n = 0;
	for (int i = 0; i < n; i++) {
		if (fd == -1 && names[i] != NULL &&
		    strcmp(names[i], FDSTORE_CONF_NAME) == 0) {
			fd = fcntl(SD_LISTEN_FDS_START + i, F_DUPFD_CLOEXEC, 3);
			release(SD_LISTEN_FDS_START + i);
			if (fd != -1 && !conf_counted) {
				used++;	/* it stays in the store */
				conf_counted = true;
			}
		}
		free(names[i]);
	}
	free(names);
	if (fd == -1)
		errno = ENOENT;
	return fd;
}

int
fdstore_collect(struct fdstore_set *s, void (*warn)(const char *, const char *))
{
	char **names = NULL;
	int n, rc = 0;

	memset(s, 0, sizeof(*s));
	/* Not unset: listen_from_systemd() reads the same after us. */
	if ((n = sd_listen_fds_with_names(0, &names)) <= 0)
		return 0;
	for (int i = 0; i < n && names; i++)
		if (fdstore_is_ours(names[i])) {
			rc = collect(s, names, n, warn);
			break;
		}
	for (int i = 0; i < n && names; i++)
		free(names[i]);
	free(names);
	return rc;
}

void
fdstore_done(struct fdstore_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		fdstore_remove(s->v[i].name);
	for (size_t i = 0; i < s->nstates; i++) {
		fdstore_remove(s->state_names[i]);
		handoff_batch_free(&s->states[i]);
	}
	free(s->v);
	free(s->states);
	free(s->state_names);
	memset(s, 0, sizeof(*s));
}

void
fdstore_abandon(struct fdstore_set *s)
{
	uint64_t deadline = now_coarse_ms() + ABANDON_MS;

	for (size_t i = 0; i < s->n; i++)
		handoff_finish(s->v[i].fd, s->v[i].rec.pend,
		    handoff_owed(&s->v[i].rec), deadline);
	fdstore_done(s);
}
