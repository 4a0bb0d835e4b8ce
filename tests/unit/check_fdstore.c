/*
 * check_fdstore.c - what of fdstore.c runs without systemd: the names a
 * connection and its state are stored under and their parse (bad names
 * refused), which passed names are ours, $FDSTORE, and a start's
 * collection from LISTEN_FDS/LISTEN_FDNAMES as sd_listen_fds(3) reads them
 * (set up here with real descriptors at 3...): the good connection taken
 * with its state, each bad entry refused with its reason and its number
 * kept for listen_from_systemd().
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fdstore.h"
#include "handoff_wire.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

START_TEST(test_names)
{
	char name[FDSTORE_NAME_MAX];
	uint64_t id = 0;

	ck_assert_int_eq(fdstore_name(name, sizeof(name), FDSTORE_CONN_PREFIX,
	    0x1234abcd00000001ULL), 24);
	ck_assert_str_eq(name, "echod-c-1234abcd00000001");
	ck_assert(fdstore_parse_id(name, &id));
	ck_assert_uint_eq(id, 0x1234abcd00000001ULL);
	/* the longest: a whole 64-bit id fits */
	ck_assert_int_lt(fdstore_name(name, sizeof(name), FDSTORE_STATE_PREFIX,
	    UINT64_MAX), FDSTORE_NAME_MAX);
	ck_assert_str_eq(name, "echod-s-ffffffffffffffff");
	ck_assert(fdstore_parse_id("echod-c-ffffffffffffffff", &id));
	ck_assert_uint_eq(id, UINT64_MAX);
}
END_TEST

START_TEST(test_bad_names_refused)
{
	static const char *const bad[] = {
		"echod-c-",			/* no id */
		"echod-c-0",			/* 0 is no id */
		"echod-c-10000000000000000",	/* past 64 bits */
		"echod-c-12z",			/* junk after it */
		"echod-c--1",			/* a sign: not what we write */
		"echod-c-+1",
		"echod-c- 1",			/* nor a space */
		"echod-c-0x1",			/* nor 0x */
		"echod-s-1",			/* a state's name */
		"echod-c",			/* shorter than the prefix */
		"",
	};
	uint64_t id;

	for (size_t i = 0; i < nitems(bad); i++)
		ck_assert_msg(!fdstore_parse_id(bad[i], &id), "\"%s\" taken",
		    bad[i]);
}
END_TEST

START_TEST(test_ours)
{
	ck_assert(fdstore_is_ours("echod-c-1"));
	ck_assert(fdstore_is_ours("echod-s-1"));
	ck_assert(fdstore_is_ours(FDSTORE_CONF_NAME));
	ck_assert(!fdstore_is_ours("echod-conf2"));
	ck_assert(!fdstore_is_ours("echod.socket"));
	ck_assert(!fdstore_is_ours("echod-"));
	ck_assert(!fdstore_is_ours(NULL));
}
END_TEST

START_TEST(test_max)
{
	static const struct { const char *v; size_t want; } t[] = {
		{ "12", 12 }, { "0", 0 }, { "1048576", 1048576 },
		{ "1048577", 0 }, { "-1", 0 }, { " 5", 0 }, { "5x", 0 },
		{ "", 0 }, { "99999999999999999999999", 0 },
	};

	setenv("NOTIFY_SOCKET", "/nonexistent", 1);
	for (size_t i = 0; i < nitems(t); i++) {
		setenv("FDSTORE", t[i].v, 1);
		ck_assert_msg(fdstore_max() == t[i].want, "FDSTORE=%s: %zu",
		    t[i].v, fdstore_max());
	}
	unsetenv("NOTIFY_SOCKET");	/* not under systemd: no store */
	ck_assert_uint_eq(fdstore_max(), 0);
	unsetenv("FDSTORE");
}
END_TEST

/* A memfd that is not a sealed state: what decode must refuse. */
static int
junk_memfd(void)
{
	int fd = memfd_create("junk", MFD_CLOEXEC);

	ck_assert_int_eq(write(fd, "not a state", 11), 11);
	return fd;
}

#define NPASSED	7
static const char *names =
    "echod-s-1:echod-c-10:echod-c-11:echod-c-12:echod-c-zz:echod-s-2:echod.socket";
static char warned[8][96];
static int nwarned;

static void
warn(const char *name, const char *why)
{
	if (nwarned < 8)
		snprintf(warned[nwarned++], sizeof(warned[0]), "%s: %s", name,
		    why);
}

/* Puts fds at 3.. as systemd passes them, with the environment that says
 * so; what was at those numbers (Check's own) goes to saved. */
static void
pass(const int *fds, int *saved)
{
	int high[NPASSED];
	char v[32];

	for (int i = 0; i < NPASSED; i++) {
		high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 300);
		close(fds[i]);
	}
	for (int i = 0; i < NPASSED; i++) {
		saved[i] = fcntl(3 + i, F_DUPFD_CLOEXEC, 200);
		close(3 + i);
	}
	for (int i = 0; i < NPASSED; i++) {
		ck_assert_int_eq(dup2(high[i], 3 + i), 3 + i);
		close(high[i]);
	}
	snprintf(v, sizeof(v), "%ld", (long)getpid());
	setenv("LISTEN_PID", v, 1);
	snprintf(v, sizeof(v), "%d", NPASSED);
	setenv("LISTEN_FDS", v, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

static void
unpass(const int *saved)
{
	for (int i = 0; i < NPASSED; i++) {
		if (saved[i] != -1) {
			dup2(saved[i], 3 + i);
			close(saved[i]);
		} else
			close(3 + i);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

START_TEST(test_collect)
{
	const struct sockaddr_in peer = { .sin_family = AF_INET,
	    .sin_port = htons(4000), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct handoff_rec recs[2] = {
		{ .id = 0x10, .bytes = 4242, .peer.in = peer,
		    .peerlen = sizeof(peer) },
		{ .id = 0x11, .bytes = 7, .peer.in = peer,
		    .peerlen = sizeof(peer) },
	};
	int fds[NPASSED], saved[NPASSED], peers[2], p[2];
	struct fdstore_set s;
	struct stat st;

	if (!test_forked())
		skip_test("moves the runner's own descriptors");
	unsetenv("NOTIFY_SOCKET");	/* FDSTOREREMOVE goes nowhere */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fds[0] = handoff_encode(recs, 2);
	ck_assert_int_ne(fds[0], -1);
	fds[1] = u_tcp_pair(&peers[0], NULL, NULL);	/* 10: served */
	fds[2] = p[0];				/* 11: a pipe */
	fds[3] = u_tcp_pair(&peers[1], NULL, NULL);	/* 12: no state */
	fds[4] = dup(p[1]);			/* zz: no id */
	fds[5] = junk_memfd();			/* a state that is none */
	fds[6] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	close(p[1]);
	pass(fds, saved);
	nwarned = 0;
	int rc = fdstore_collect(&s, warn);
	size_t n = s.n, nstates = s.nstates;
	struct fdstore_conn got = n > 0 ? s.v[0] : (struct fdstore_conn){ 0 };
	bool kept = fstat(3 + 6, &st) == 0 && S_ISSOCK(st.st_mode);
	fdstore_done(&s);
	unpass(saved);

	ck_assert_int_eq(rc, 0);
	ck_assert_msg(n == 1, "%zu taken; %d warned: %s, %s, %s, %s, %s", n,
	    nwarned, warned[0], warned[1], warned[2], warned[3], warned[4]);
	ck_assert_str_eq(got.name, "echod-c-10");
	ck_assert_int_eq(got.fd, 4);
	ck_assert_uint_eq(got.rec.id, 0x10);
	ck_assert_uint_eq(got.rec.bytes, 4242);
	ck_assert_uint_eq(nstates, 2);
	ck_assert_msg(kept, "a listener's number was touched");
	ck_assert_int_eq(nwarned, 4);
	ck_assert_msg(strstr(warned[0], "echod-s-2: ") == warned[0], "%s",
	    warned[0]);
	ck_assert_str_eq(warned[1], "echod-c-11: not a socket");
	ck_assert_str_eq(warned[2], "echod-c-12: no state stored with it");
	ck_assert_str_eq(warned[3], "echod-c-zz: no state stored with it");
	close(peers[0]);
	close(peers[1]);
}
END_TEST

Suite *
fdstore_suite(void)
{
	Suite *s = suite_create("fdstore");
	TCase *tc = tcase_create("fdstore");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_bad_names_refused);
	tcase_add_test(tc, test_ours);
	tcase_add_test(tc, test_max);
	tcase_add_test(tc, test_collect);
	suite_add_tcase(s, tc);
	return s;
}
