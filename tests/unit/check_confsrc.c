/* check_confsrc.c - the configuration's files as text: the main file and
 * its drop-ins in byte order, what is skipped and what is refused, the
 * drop-ins over the main file as conf_read() sees them, and the stored
 * copy in a sealed memfd, which is checked before it is believed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "confsrc.h"
#include "suites.h"

static char dir[64], main_path[128], dropins[160];

static void
put(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dropins, name);
	ck_assert_ptr_nonnull(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	FILE *f;

	strcpy(dir, "/tmp/echod-confsrc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/echod.conf", dir);
	snprintf(dropins, sizeof(dropins), "%s/echod.conf.d", dir);
	ck_assert_ptr_nonnull(f = fopen(main_path, "w"));
	fputs("workers = 3\nlisten_tcp = {\"127.0.0.1:7\", \"[::1]:7\"}\n", f);
	fclose(f);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
}

/* No directory: the main file alone. */
START_TEST(test_main_only)
{
	struct confsrc s;
	char err[256];

	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.v[0].name, main_path);
	confsrc_free(&s);
}
END_TEST

/* *.conf in byte order (not the locale's); dot files, other suffixes and
 * a bare ".conf" are left alone. */
START_TEST(test_dropin_order)
{
	static const char *const want[] = { "10-b.conf", "9-a.conf", "B.conf",
	    "a.conf" };
	struct confsrc s;
	char err[256], p[256];

	ck_assert_int_eq(mkdir(dropins, 0755), 0);
	put("a.conf", "");
	put("B.conf", "");
	put("9-a.conf", "");
	put("10-b.conf", "");
	put(".hidden.conf", "");
	put("x.conf.dpkg-old", "");
	put("notes.txt", "");
	put(".conf", "");
	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 5);
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", dropins, want[i]);
		ck_assert_str_eq(s.v[i + 1].name, p);
	}
	confsrc_free(&s);
}
END_TEST

/* A later file replaces a key's whole value, lists included; a key a
 * drop-in does not name keeps the main file's; errors name the drop-in. */
START_TEST(test_dropin_replaces)
{
	char err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct conf *c;

	ck_assert_int_eq(mkdir(dropins, 0755), 0);
	put("50-listen.conf", "# only loopback v4\nlisten_tcp = {\"127.0.0.2:7\"}\n");
	put("60-more.conf", "backlog = 77\n");
	ck_assert_ptr_nonnull(c = conf_load(main_path, err, sizeof(err)));
	ck_assert_int_eq(c->workers, 3);
	ck_assert_uint_eq(c->n_listen_tcp, 1);
	ck_assert_str_eq(c->listen_tcp[0], "127.0.0.2:7");
	ck_assert_int_eq(c->backlog, 77);
	ck_assert_int_eq(c->at_listen_tcp.line, 2);
	ck_assert(strstr(c->at_listen_tcp.file, "50-listen.conf") != NULL);
	conf_free(c);

	put("70-bad.conf", "\n\nworkers = lots\n");
	ck_assert_ptr_null(conf_load(main_path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s/70-bad.conf:3: workers: ", dropins);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

/* A key set twice in one file warns with that file; across files it is
 * the rule, not a warning. */
START_TEST(test_dropin_repeats)
{
	char err[CONF_ERRLEN];
	struct conf *c;

	ck_assert_int_eq(mkdir(dropins, 0755), 0);
	put("a.conf", "workers = 1\nworkers = 2\n");
	put("b.conf", "workers = 4\n");
	ck_assert_ptr_nonnull(c = conf_load(main_path, err, sizeof(err)));
	ck_assert_int_eq(c->workers, 4);
	ck_assert_uint_eq(c->n_warnings, 1);
	ck_assert_msg(strstr(c->warnings[0], "a.conf:2: warning: workers: set "
	    "twice") != NULL, "%s", c->warnings[0]);
	conf_free(c);
}
END_TEST

/* What is refused names the file and the reason. */
START_TEST(test_dropin_refused)
{
	struct confsrc s;
	char err[256], p[256];

	/* the directory's name taken by a file */
	FILE *f = fopen(dropins, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), -1);
	ck_assert(strstr(err, "echod.conf.d") != NULL);
	unlink(dropins);
	/* a directory named *.conf inside */
	ck_assert_int_eq(mkdir(dropins, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub.conf", dropins);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "sub.conf: not a regular file (a directory)"),
	    "%s", err);
	ck_assert_uint_eq(s.n, 0);
	rmdir(p);
	/* a FIFO is never opened */
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), -1);
	ck_assert(strstr(err, "(a FIFO)") != NULL);
	unlink(p);
	/* too many */
	for (int i = 0; i < CONFSRC_MAX_FILES; i++) {
		char n[32];
		snprintf(n, sizeof(n), "%03d.conf", i);
		put(n, "");
	}
	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 63 files") != NULL, "%s", err);
}
END_TEST

/* The stored copy: the same files back, byte for byte. */
START_TEST(test_memfd_round_trip)
{
	struct confsrc s, t;
	const char *why;
	char err[256];
	int fd;

	ck_assert_int_eq(mkdir(dropins, 0755), 0);
	put("a.conf", "backlog = 5\n\xff\x01 binary is kept as it is\n");
	ck_assert_int_eq(confsrc_read(main_path, &s, err, sizeof(err)), 0);
	ck_assert_int_ne(fd = confsrc_to_memfd(&s), -1);
	ck_assert_int_eq(confsrc_from_memfd(fd, &t, &why), 0);
	ck_assert_uint_eq(t.n, s.n);
	for (size_t i = 0; i < s.n; i++) {
		ck_assert_str_eq(t.v[i].name, s.v[i].name);
		ck_assert_uint_eq(t.v[i].len, s.v[i].len);
		ck_assert_mem_eq(t.v[i].text, s.v[i].text, s.v[i].len);
	}
	/* sealed: nobody changes it after */
	ck_assert_int_eq(write(fd, "x", 1), -1);
	close(fd);
	confsrc_free(&s);
	confsrc_free(&t);
}
END_TEST

/* A memfd in the store is believed only sealed and well formed. */
static int
memfd_of(const void *p, size_t n, bool seal)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	if (seal)
		fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
	return fd;
}

START_TEST(test_memfd_refused)
{
	static const char magic[] = "echod-conf 1\n";
	struct {
		const char	*what, *why;
		uint32_t	 n, nl, tl;
		const char	*name;
		bool		 seal;
		size_t		 cut;
	} c[] = {
		{ "unsealed", "not a sealed memfd", 1, 2, 0, "/x", false, 0 },
		{ "too many files", "more files", 65, 2, 0, "/x", true, 0 },
		{ "name past the end", "cut short", 1, 4000, 0, "/x", true, 0 },
		{ "text past the end", "cut short", 1, 2, 99, "/x", true, 0 },
		{ "relative name", "absolute", 1, 2, 0, "xy", true, 0 },
		{ "escape in name", "absolute", 1, 2, 0, "/\x1b", true, 0 },
		{ "cut header", "cut short", 1, 2, 0, "/x", true, 6 },
	};
	struct confsrc s;
	const char *why;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char buf[256];
		size_t n = 0;
		memcpy(buf, magic, strlen(magic));
		n = strlen(magic);
		memcpy(buf + n, &c[i].n, 4), n += 4;
		memcpy(buf + n, &c[i].nl, 4), n += 4;
		memcpy(buf + n, &c[i].tl, 4), n += 4;
		memcpy(buf + n, c[i].name, 2), n += 2;
		int fd = memfd_of(buf, n - c[i].cut, c[i].seal);
		ck_assert_msg(confsrc_from_memfd(fd, &s, &why) == -1, "%s",
		    c[i].what);
		ck_assert_msg(strstr(why, c[i].why) != NULL, "%s: %s", c[i].what,
		    why);
		ck_assert_uint_eq(s.n, 0);
		close(fd);
	}
	int fd = memfd_of("something else entirely", 24, true);
	ck_assert_int_eq(confsrc_from_memfd(fd, &s, &why), -1);
	close(fd);
}
END_TEST

Suite *
confsrc_suite(void)
{
	Suite *s = suite_create("confsrc");
	TCase *tc = tcase_create("files");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_main_only);
	tcase_add_test(tc, test_dropin_order);
	tcase_add_test(tc, test_dropin_replaces);
	tcase_add_test(tc, test_dropin_repeats);
	tcase_add_test(tc, test_dropin_refused);
	tcase_add_test(tc, test_memfd_round_trip);
	tcase_add_test(tc, test_memfd_refused);
	suite_add_tcase(s, tc);
	return s;
}
