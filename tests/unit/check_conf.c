/* check_conf.c - the configuration as conf_read() makes it: the file as
 * libconfuse reads it (each value's rule is check_confparse.c's, the text's
 * check_conftext.c's), the command line over it, the names it holds looked
 * up, and what happens when memory runs out on the way. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "failalloc.h"
#include "privdrop.h"
#include "suites.h"

/* Writes len bytes to a temporary file and loads it. */
static struct conf *
load_bytes(const char *text, size_t len, char *path, char *err, size_t errlen)
{
	int fd;

	strcpy(path, "/tmp/echod-conf-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return conf_load(path, err, errlen);
}

static struct conf *
load_text(const char *text, char *path, char *err, size_t errlen)
{
	return load_bytes(text, strlen(text), path, err, errlen);
}

/* Loads len bytes; expects failure with exactly "PATH:" + want. */
static void
expect_error_bytes(const char *text, size_t len, const char *want)
{
	char path[64], err[CONF_ERRLEN], full[CONF_ERRLEN + 64];
	struct conf *c = load_bytes(text, len, path, err, sizeof(err));

	ck_assert_msg(c == NULL, "accepted: %s", text);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	ck_assert_str_eq(err, full);
	unlink(path);
}

/* Loads text; expects failure with exactly "PATH:" + want. */
static void
expect_error(const char *text, const char *want)
{
	char path[64], err[CONF_ERRLEN], full[CONF_ERRLEN + 64];
	struct conf *c = load_text(text, path, err, sizeof(err));

	ck_assert_msg(c == NULL, "accepted: %s", text);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	ck_assert_str_eq(err, full);
	unlink(path);
}

static void
expect_ok(const char *text)
{
	char path[64], err[CONF_ERRLEN];
	struct conf *c = load_text(text, path, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s: %s", text, err);
	conf_free(c);
	unlink(path);
}

START_TEST(test_file_errors)
{
	expect_error("# comment\n\nworkers = 0\n",
	    "3: workers: must be 1..1024 or auto, got \"0\"");
	expect_error("workers = 1025\n",
	    "1: workers: must be 1..1024 or auto, got \"1025\"");
	expect_error("backlog = 0\n", "1: backlog: must be 1..65535, got \"0\"");
	expect_error("backlog = 65536\n", "1: backlog: must be 1..65535, got \"65536\"");
	expect_error("buffer_size = 1023\n",
	    "1: buffer_size: must be 1k..16m, got \"1023\"");
	expect_error("buffer_size = 16385k\n",
	    "1: buffer_size: must be 1k..16m, got \"16385k\"");
	expect_error("buffer_size = 16kb\n",
	    "1: buffer_size: not a size (write 16384, 16k or 1m), got \"16kb\"");
	expect_error("max_connections = 0\n",
	    "1: max_connections: must be 1..1000000, got \"0\"");
	expect_error("idle_timeout = 999ms\n",
	    "1: idle_timeout: must be 1s..1d, got \"999ms\"");
	expect_error("idle_timeout = 86401\n",
	    "1: idle_timeout: must be 1s..1d, got \"86401\"");
	expect_error("shutdown_timeout = 3601s\n",
	    "1: shutdown_timeout: must be 0..1h, got \"3601s\"");
	expect_error("worker_timeout = 0\n",
	    "1: worker_timeout: must be 1s..1h, got \"0\"");
	expect_error("log_level = \"loud\"\n",
	    "1: log_level: must be err, warning, notice, info or debug, got \"loud\"");
	expect_error("\n\nlisten_tcp = {\"127.0.0.1:7\", \"[::1\"}\n",
	    "3: listen_tcp: \"[::1\": missing ']' after IPv6 address");
	expect_error("listen_udp = {\"127.0.0.1:99999\"}\n",
	    "1: listen_udp: \"127.0.0.1:99999\": port must be 0..65535");
	expect_error("user = \"\"\n",
	    "1: user: must not be empty (leave it unset instead)");
	expect_error("pidfile = \"run/echod.pid\"\n",
	    "1: pidfile: must be an absolute path, got \"run/echod.pid\"");
	expect_error("workers = 2\nwrokers = 3\n", "2: no such option 'wrokers'");
	expect_error("allow = {\"10.0.0.0/8\",\n \"10.1.2.3/8\"}\n",
	    "2: allow: \"10.1.2.3/8\": address has bits set past the prefix length");
	expect_error("deny = {\"fe80::/129\"}\n",
	    "1: deny: \"fe80::/129\": prefix length must be 0..128");
	expect_error("udp_rate_burst = 0\n",
	    "1: udp_rate_burst: must be 1..1000000, got \"0\"");
	expect_error("max_connections_per_source = 1000001\n",
	    "1: max_connections_per_source: must be 0..1000000, got \"1000001\"");
	expect_error("proxy_from = {\"127.0.0.1\",\n \"10.0.0.1/8\"}\n",
	    "2: proxy_from: \"10.0.0.1/8\": address has bits set past the prefix length");
	expect_error("proxy_from = {\"haproxy.example\"}\n",
	    "1: proxy_from: \"haproxy.example\": not an IPv4 or IPv6 address");
	expect_error("proxy_timeout = 99ms\n",
	    "1: proxy_timeout: must be 100ms..1h, got \"99ms\"");
	expect_error("proxy_timeout = 3601\n",
	    "1: proxy_timeout: must be 100ms..1h, got \"3601\"");
	expect_error("# one\n# two\n/* three\nfour */\nbacklog = 0 # five\n",
	    "5: backlog: must be 1..65535, got \"0\"");
}
END_TEST

/*
 * What libconfuse alone would read silently or wrongly: the rest of the
 * file swallowed, a NUL ending it, "+=" adding to the default, an error
 * one line past the end, a file's raw bytes in the message.
 */
/* An IPv4-mapped address can never be bound on echod's IPv6-only sockets:
 * refused by -t, with the fix, rather than "Invalid argument" at bind. */
START_TEST(test_listen_v4mapped)
{
	const char *err;

	ck_assert_int_eq(conf_check_listen("[::ffff:127.0.0.1]:7", &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "IPv4-mapped"));
	ck_assert_int_eq(conf_check_listen("[::FFFF:7f00:1]:7", &err), -1);
	ck_assert_int_eq(conf_check_listen("[0:0:0:0:0:ffff:127.0.0.1%1]:7", &err), -1);
	ck_assert_int_eq(conf_check_listen("[::1]:7", &err), 0);
	ck_assert_int_eq(conf_check_listen("[::127.0.0.1]:7", &err), 0);
	ck_assert_int_eq(conf_check_listen("[FE80::1%1]:7", &err), 0);
	ck_assert_int_eq(conf_check_listen("127.1:7", &err), 0);
	expect_error("\nlisten_udp = {\"[::ffff:10.0.0.1]:7\"}\n",
	    "2: listen_udp: \"[::ffff:10.0.0.1]:7\": an IPv4-mapped IPv6 address "
	    "cannot be bound (IPv6 sockets are IPv6-only): write the IPv4 address");
}
END_TEST

START_TEST(test_file_hostile_text)
{
	static const char nul[] = "workers = 2\nlisten_tcp = {}\0\ndeny = {}\n";

	expect_error("workers = 2\n/* stray\ndeny = {\"0.0.0.0/0\"}\n",
	    "2: unterminated comment (/* without */)");
	expect_error_bytes(nul, sizeof(nul) - 1,
	    "2: a NUL byte (this is not a text file)");
	expect_error("listen_tcp += {\"127.0.0.1:7\"}\n",
	    "1: listen_tcp: += is not supported: it would add to the built-in "
	    "default; write the whole list with =");
	expect_error("deny = {}\nallow += {}\n",
	    "2: allow: += is not supported: it would add to the built-in "
	    "default; write the whole list with =");
	expect_error("workers = 2\nuser = \"echod\n\nbacklog = 5\n",
	    "2: unterminated string (a quote that is never closed)");
	expect_error("workers = 2\n\"workers\n",
	    "2: unterminated string (a quote that is never closed)");
	expect_error("listen_tcp = {\"${LISTEN:-0.0.0.0:7}\"}\n",
	    "1: environment substitution (${...}) is not supported");
	expect_error("wrokers\033[2J = 3\n", "1: no such option 'wrokers\\x1b[2J'");
	expect_error("user = \"\\e[31mroot\"\n",
	    "1: user: \"\\x1b[31mroot\": control characters are not allowed");
	expect_error("listen_udp = {\"127.0.0.1\n:7\"}\n",
	    "2: listen_udp: \"127.0.0.1\\x0a:7\": control characters are not "
	    "allowed");
	expect_error("log_level = \"\xff\xfe\"\n", "1: log_level: must be err, "
	    "warning, notice, info or debug, got \"\\xff\\xfe\"");
}
END_TEST

/*
 * Second round of hostile text: a NUL byte written as an escape, a list or
 * a statement the file ends inside, CRLF line ends, a byte-order mark, a
 * group without a user, numbers past 64 bits, a PID file path too long.
 */
START_TEST(test_file_hostile_text_variants)
{
	char path[64], err[CONF_ERRLEN];
	struct conf *c;

	expect_error("workers = 1\nuser = \"nobody\\0evil\"\n",
	    "2: an escaped NUL byte (an octal or hex escape of 0) in a string: "
	    "it would end the value there");
	expect_error("deny = {\"10.0.0.0/8\\x00\", \"0.0.0.0/0\"}\n",
	    "1: an escaped NUL byte (an octal or hex escape of 0) in a string: "
	    "it would end the value there");
	expect_error("workers = 1\ndeny = {\"10.0.0.0/8\",\n\"10.1.0.0/16\"\n\n",
	    "2: deny: unterminated list ({ without })");
	expect_error("workers = 1\nlisten_tcp =\n", "2: listen_tcp: the file "
	    "ends before the value");
	expect_error("user = \"nobody\"\r\n\r\nbacklog = 0\r\n",
	    "3: backlog: must be 1..65535, got \"0\"");
	expect_error("\xef\xbb\xbfworkers = 1\nbacklog = 0\n",
	    "2: backlog: must be 1..65535, got \"0\"");
	expect_error("workers = 1\n\ngroup = \"nogroup\"\n", "3: group: set "
	    "without user: the workers would keep the master's user and group");
	expect_error("backlog = 99999999999999999999\n",
	    "1: backlog: must be 1..65535, got \"99999999999999999999\"");
	expect_error("buffer_size = 18446744073709551616\n",
	    "1: buffer_size: size too large, got \"18446744073709551616\"");
	expect_error("idle_timeout = 99999999999999999999ms\n",
	    "1: idle_timeout: duration too large, got \"99999999999999999999ms\"");

	/* CRLF: values and lines as with LF */
	c = load_text("workers = 3\r\nuser = \"nobody\"\r\nlisten_tcp = {\r\n"
	    "\"127.0.0.1:7\",\r\n\"[::1]:7\"}\r\nworkers = 2\r\n", path, err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->workers, 2);
	ck_assert_str_eq(c->user, "nobody");
	ck_assert_uint_eq(c->n_listen_tcp, 2);
	ck_assert_str_eq(c->listen_tcp[1], "[::1]:7");
	ck_assert_int_eq(c->at_user.line, 2);
	ck_assert_int_eq(c->at_listen_tcp.line, 3);
	conf_free(c);
	unlink(path);
	/* a byte-order mark is skipped, not read as part of the first key */
	c = load_text("\xef\xbb\xbfworkers = 3\n", path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->workers, 3);
	conf_free(c);
	unlink(path);
}
END_TEST

START_TEST(test_pidfile_length)
{
	char text[4200], path[64], err[CONF_ERRLEN];
	struct conf *c;
	int n;

	/* pidfile.c writes "PATH.XXXXXX" into 4096 bytes first */
	n = snprintf(text, sizeof(text), "pidfile = \"/");
	memset(text + n, 'a', CONF_MAX_PATH - 1);
	snprintf(text + n + CONF_MAX_PATH - 1, sizeof(text) - (size_t)n -
	    CONF_MAX_PATH + 1, "\"\n");
	c = load_text(text, path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(strlen(c->pidfile), CONF_MAX_PATH);
	conf_free(c);
	unlink(path);
	snprintf(text + n + CONF_MAX_PATH - 1, sizeof(text) - (size_t)n -
	    CONF_MAX_PATH + 1, "a\"\n");
	ck_assert_ptr_null(load_text(text, path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, ":1: pidfile: too long (at most 4088 "
	    "bytes), got \"/aaa"));
	unlink(path);
}
END_TEST

/* Every entry of allow and deny is parsed through acl_parse(): check_unit
 * links with --wrap=acl_parse, so a test counts the calls. */
static unsigned long acl_parses;

int	__real_acl_parse(const char *, struct cidr *, const char **);
int	__wrap_acl_parse(const char *, struct cidr *, const char **);

int
__wrap_acl_parse(const char *s, struct cidr *out, const char **err)
{
	acl_parses++;
	return __real_acl_parse(s, out, err);
}

/*
 * A list is judged entry by entry once, not whole after each entry: 1 MiB
 * of long lists took seconds of the master's time on a reload.  Counted,
 * not timed: a list of 1024 entries costs about 1024 parses (judging the
 * whole list after each entry cost half a million).
 */
START_TEST(test_long_lists_linear)
{
	size_t cap = 64 * 1024, n = 0;
	char *text = malloc(cap), path[64], err[CONF_ERRLEN];
	struct conf *c;

	ck_assert_ptr_nonnull(text);
	n += (size_t)snprintf(text + n, cap - n, "deny = {");
	for (int i = 0; i < 1024; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s\"10.%d.%d.0/24\"",
		    i ? "," : "", i / 256, i % 256);
	n += (size_t)snprintf(text + n, cap - n, "}\n");
	ck_assert_uint_lt(n, cap);
	acl_parses = 0;
	c = load_text(text, path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->n_deny, 1024);
	ck_assert_msg(acl_parses >= 1024 && acl_parses <= 3 * 1024,
	    "%lu parses for a list of 1024", acl_parses);
	conf_free(c);
	unlink(path);
	free(text);
}
END_TEST

/* Anything but a regular file is refused at once, without blocking. */
START_TEST(test_file_not_regular)
{
	char dir[] = "/tmp/echod-conf-XXXXXX", fifo[64], err[CONF_ERRLEN], want[128];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_null(conf_load(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file (a directory)", dir);
	ck_assert_str_eq(err, want);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_ptr_null(conf_load(fifo, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: not a regular file (a FIFO)", fifo);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(conf_load("/dev/null", err, sizeof(err)));
	ck_assert_str_eq(err, "/dev/null: not a regular file (a character device)");
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* Both lists empty listen nowhere: refused after the command line is
 * applied, since -l replaces them; one empty list is fine. */
/*
 * Not even opened: opening a device can act on it (a watchdog starts
 * counting, a tape rewinds).  inotify sees every open() of the node.
 */
START_TEST(test_file_not_regular_not_opened)
{
	char dir[] = "/tmp/echod-conf-XXXXXX", fifo[64], link[64], err[CONF_ERRLEN];
	char ev[sizeof(struct inotify_event) + 256];
	int in;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(symlink(fifo, link), 0);
	ck_assert_int_ne(in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), -1);
	ck_assert_int_ne(inotify_add_watch(in, fifo, IN_OPEN), -1);
	ck_assert_ptr_null(conf_load(fifo, err, sizeof(err)));
	ck_assert_ptr_null(conf_load(link, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a regular file (a FIFO)"));
	ck_assert_msg(read(in, ev, sizeof(ev)) == -1 && errno == EAGAIN,
	    "the FIFO was opened");
	close(in);
	unlink(link);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

START_TEST(test_listen_nowhere)
{
	struct conf_overrides none = { .workers = -1 };
	struct conf_overrides l = { .workers = -1, .n_listen = 1,
	    .listen = { "127.0.0.1:7" } };
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct conf *c;

	c = load_text("listen_tcp = {}\nworkers = 1\nlisten_udp = {}\n", path,
	    err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(conf_override(c, &none, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: listen_tcp and listen_udp are both "
	    "empty: echod would listen on nothing", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(conf_override(c, &l, err, sizeof(err)), 0);
	conf_free(c);
	unlink(path);

	c = load_text("listen_tcp = {}\n", path, err, sizeof(err));
	ck_assert_int_eq(conf_override(c, &none, err, sizeof(err)), 0);
	conf_free(c);
	unlink(path);
}
END_TEST

/* A key set twice is accepted, the last one winning, with a warning. */
START_TEST(test_repeats)
{
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct conf *c;

	c = load_text("workers = 1\n# x\nlisten_tcp = {\"127.0.0.1:1\",\n"
	    "\"127.0.0.1:2\"}\nworkers = 2\ndeny = {}\nworkers = 3\n"
	    "listen_tcp = {}\n", path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->workers, 3);
	ck_assert_uint_eq(c->n_listen_tcp, 0);
	ck_assert_uint_eq(c->n_warnings, 2);
	snprintf(want, sizeof(want), "%s:8: warning: listen_tcp: set twice "
	    "(lines 3 and 8); line 8 wins", path);
	ck_assert_str_eq(c->warnings[0], want);
	snprintf(want, sizeof(want), "%s:7: warning: workers: set 3 times "
	    "(first on line 1); line 7 wins", path);
	ck_assert_str_eq(c->warnings[1], want);
	conf_free(c);
	unlink(path);

	c = load_text("workers = 1\nbacklog = 5\n", path, err, sizeof(err));
	ck_assert_uint_eq(c->n_warnings, 0);
	conf_free(c);
	unlink(path);
}
END_TEST

/* user and group are looked up, with the line that names them. */
START_TEST(test_resolve_user)
{
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct creds cr;
	struct conf *c;

	c = load_text("workers = 1\nuser = \"nosuchuser-echod\"\n", path, err,
	    sizeof(err));
	ck_assert_int_eq(conf_resolve_user(c, &cr, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: user: \"nosuchuser-echod\": no such "
	    "user", path);
	ck_assert_str_eq(err, want);
	conf_free(c);
	unlink(path);

	c = load_text("group = \"nosuchgroup-echod\"\nuser = \"nobody\"\n", path,
	    err, sizeof(err));
	ck_assert_int_eq(conf_resolve_user(c, &cr, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: group: \"nosuchgroup-echod\": no such "
	    "group", path);
	ck_assert_str_eq(err, want);
	conf_free(c);
	unlink(path);

	c = load_text("workers = 1\n", path, err, sizeof(err));
	ck_assert_int_eq(conf_resolve_user(c, &cr, err, sizeof(err)), 0);
	conf_free(c);
	unlink(path);

	/* a numeric id is not looked up: the message says so */
	c = load_text("user = \"65534\"\n", path, err, sizeof(err));
	ck_assert_int_eq(conf_resolve_user(c, &cr, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: user: \"65534\": no such user "
	    "(write its name: a numeric id is not looked up)", path);
	ck_assert_str_eq(err, want);
	conf_free(c);
	unlink(path);

	/* a name struct creds cannot hold whole is refused, never cut */
	c = load_text("user = \"nobodynobodynobodynobodynobodynobodynobodynobody"
	    "nobodynobody1234\"\n", path, err, sizeof(err));
	ck_assert_int_eq(conf_resolve_user(c, &cr, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ": too long (at most 63 bytes)"));
	conf_free(c);
	unlink(path);
}
END_TEST

/* Each spec is looked up as binding will; no DNS here: a service name
 * and a scope are resolved locally. */
START_TEST(test_resolve_listen)
{
	struct conf_overrides l = { .workers = -1, .n_listen = 2,
	    .listen = { "127.0.0.1:0", "127.0.0.1:nosuchservice-echod" } };
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct conf *c;

	c = load_text("listen_tcp = {\"127.0.0.1:0\", \"[::1]:echo\"}\n\n"
	    "listen_udp = {\"127.0.0.1:0\",\n\"127.0.0.1:nosuchservice-echod\"}\n",
	    path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_resolve_listen(c, false, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: listen_udp: \"127.0.0.1:"
	    "nosuchservice-echod\": no such service (see /etc/services)", path);
	ck_assert_str_eq(err, want);
	conf_free(c);
	unlink(path);

	c = load_text("listen_tcp = {\"[fe80::1%nosuchif-echod]:7\"}\n", path,
	    err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_resolve_listen(c, false, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: listen_tcp: \"[fe80::1%%nosuchif-"
	    "echod]:7\": ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	conf_free(c);
	unlink(path);

	/* -l's specs are named as such */
	c = load_text("workers = 1\n", path, err, sizeof(err));
	ck_assert_int_eq(conf_resolve_listen(c, false, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_override(c, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_resolve_listen(c, false, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "-l: \"127.0.0.1:nosuchservice-echod\": no such "
	    "service (see /etc/services)");
	conf_free(c);
	unlink(path);
}
END_TEST

/* metrics_listen is looked up as listen_tcp is, under socket activation
 * too (echod binds it itself), where the echo lists are not. */
START_TEST(test_resolve_metrics_listen)
{
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct conf *c;

	c = load_text("listen_tcp = {\"127.0.0.1:nosuchservice-echod\"}\n"
	    "metrics_listen = {\"127.0.0.1:0\",\n\"127.0.0.1:nosuchservice-"
	    "echod\"}\n", path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	snprintf(want, sizeof(want), "%s:2: metrics_listen: \"127.0.0.1:"
	    "nosuchservice-echod\": no such service (see /etc/services)", path);
	ck_assert_int_eq(conf_resolve_listen(c, true, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(conf_resolve_listen(c, false, err, sizeof(err)), -1);
	conf_free(c);
	unlink(path);

	/* activated: a bad listen_tcp is not judged */
	c = load_text("listen_tcp = {\"127.0.0.1:nosuchservice-echod\"}\n",
	    path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_resolve_listen(c, true, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_resolve_listen(c, false, err, sizeof(err)), -1);
	conf_free(c);
	unlink(path);
}
END_TEST

/* Without -c, only a default file that is not there at all means the
 * built-in defaults: a dangling symlink is a broken file, not none. */
START_TEST(test_choose_path)
{
	char dir[] = "/tmp/echod-conf-XXXXXX", file[64], link[64];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/echod.conf", dir);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	ck_assert_ptr_null(conf_choose(NULL, file));
	ck_assert_str_eq(conf_choose("/etc/other.conf", file), "/etc/other.conf");
	ck_assert_int_eq(symlink(file, link), 0);
	ck_assert_str_eq(conf_choose(NULL, link), link);
	close(creat(file, 0600));
	ck_assert_str_eq(conf_choose(NULL, file), file);
	unlink(link);
	unlink(file);
	rmdir(dir);
}
END_TEST

START_TEST(test_file_edges_ok)
{
	expect_ok("workers = 1\nworkers = 1024\nworkers = auto\n");
	expect_ok("backlog = 1\nbacklog = 65535\n");
	expect_ok("buffer_size = 1k\nbuffer_size = 16m\n");
	expect_ok("max_connections = 1\nmax_connections = 1000000\n");
	expect_ok("idle_timeout = 1s\nidle_timeout = 1d\n");
	expect_ok("shutdown_timeout = 0\nshutdown_timeout = 1h\n");
	expect_ok("worker_timeout = 1s\nworker_timeout = 1h\n");
	expect_ok("resolve_clients = yes\nlog_connections = off\n");
	expect_ok("proxy_timeout = 100ms\nproxy_timeout = 1h\n");
	expect_ok("proxy_from = {\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"}\n");
	expect_ok("listen_tcp = {}\nlisten_udp = {\"*:7\", \"7\", \"localhost:echo\"}\n");
}
END_TEST

START_TEST(test_file_missing)
{
	char err[CONF_ERRLEN];

	ck_assert_ptr_null(conf_load("/nonexistent/echod.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/echod.conf: No such file or directory");
}
END_TEST

/* etc/echod.conf in the source tree: under $top_srcdir (make check and
 * check-valgrind set it), else beside the directory of this very program
 * (a build in the source tree), from wherever the runner was started. */
static void
shipped_conf(char *path, size_t size)
{
	const char *top = getenv("top_srcdir");
	char exe[2048], *slash;
	ssize_t n;

	if (top == NULL &&
	    (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(path, size, "%s/../etc/echod.conf", exe);
			return;
		}
	}
	snprintf(path, size, "%s/etc/echod.conf", top ? top : "..");
}

/* The shipped file states the defaults: loading it changes nothing. */
START_TEST(test_shipped_file_is_the_defaults)
{
	char path[4096], err[CONF_ERRLEN];
	struct conf *def, *file;

	shipped_conf(path, sizeof(path));
	def = conf_load(NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(def);
	file = conf_load(path, err, sizeof(err));
	ck_assert_msg(file != NULL, "%s", err);

	ck_assert_uint_eq(file->n_listen_tcp, def->n_listen_tcp);
	for (size_t i = 0; i < def->n_listen_tcp; i++)
		ck_assert_str_eq(file->listen_tcp[i], def->listen_tcp[i]);
	ck_assert_uint_eq(file->n_listen_udp, def->n_listen_udp);
	for (size_t i = 0; i < def->n_listen_udp; i++)
		ck_assert_str_eq(file->listen_udp[i], def->listen_udp[i]);
	ck_assert_int_eq(file->workers, def->workers);
	ck_assert_ptr_null(file->user);
	ck_assert_ptr_null(file->group);
	ck_assert_ptr_null(file->pidfile);
	ck_assert_int_eq(file->backlog, def->backlog);
	ck_assert_uint_eq(file->buffer_size, def->buffer_size);
	ck_assert_int_eq(file->max_connections, def->max_connections);
	ck_assert_uint_eq(file->idle_timeout_ms, def->idle_timeout_ms);
	ck_assert_uint_eq(file->shutdown_timeout_ms, def->shutdown_timeout_ms);
	ck_assert_uint_eq(file->worker_timeout_ms, def->worker_timeout_ms);
	ck_assert_int_eq(file->resolve_clients, def->resolve_clients);
	ck_assert_int_eq(file->log_connections, def->log_connections);
	ck_assert_int_eq(file->log_level, def->log_level);
	ck_assert_uint_eq(file->udp_rate_limit, def->udp_rate_limit);
	ck_assert_uint_eq(file->udp_rate_burst, def->udp_rate_burst);
	ck_assert_uint_eq(file->max_connections_per_source,
	    def->max_connections_per_source);
	ck_assert_uint_eq(file->n_allow, 0);
	ck_assert_uint_eq(file->n_deny, 0);
	ck_assert_uint_eq(file->n_proxy_from, 0);
	ck_assert_uint_eq(def->n_proxy_from, 0);
	ck_assert_uint_eq(file->proxy_timeout_ms, def->proxy_timeout_ms);
	ck_assert_uint_eq(def->proxy_timeout_ms, 5000);
	ck_assert_str_eq(file->control_socket, def->control_socket);
	ck_assert_uint_eq(file->n_metrics_listen, 0);
	ck_assert_uint_eq(def->udp_rate_limit, 100);
	ck_assert_uint_eq(def->udp_rate_burst, 200);

	/* and the documented values */
	ck_assert_int_eq(def->workers, 0);
	ck_assert_int_eq(def->backlog, 1024);
	ck_assert_uint_eq(def->buffer_size, 65536);
	ck_assert_uint_eq(def->idle_timeout_ms, 300000);
	ck_assert_uint_eq(def->shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(def->worker_timeout_ms, 10000);
	ck_assert_int_eq(def->log_connections, 1);
	ck_assert_int_eq(def->resolve_clients, 0);
	conf_free(def);
	conf_free(file);
}
END_TEST

START_TEST(test_overrides)
{
	struct conf_overrides ov = { .workers = 3, .pidfile = "/run/x.pid",
	    .debug = true, .n_listen = 2, .listen = { "127.0.0.1:1", "[::1]:2" } };
	char err[CONF_ERRLEN];
	struct conf *c = conf_load(NULL, err, sizeof(err));

	ck_assert_int_eq(conf_override(c, &ov, err, sizeof(err)), 0);
	ck_assert_int_eq(c->workers, 3);
	ck_assert_int_eq(conf_workers(c), 3);
	ck_assert_str_eq(c->pidfile, "/run/x.pid");
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_uint_eq(c->n_listen_tcp, 2);
	ck_assert_uint_eq(c->n_listen_udp, 2);
	ck_assert_str_eq(c->listen_tcp[1], "[::1]:2");
	ck_assert_str_eq(c->listen_udp[0], "127.0.0.1:1");
	conf_free(c);
}
END_TEST

/*
 * Memory running out at any allocation of a load: NULL with ENOMEM, and
 * nothing left allocated (a string list half copied included); a value
 * never quietly missing (the user dropped, say, and the workers kept root).
 */
START_TEST(test_load_out_of_memory)
{
	char path[64], err[CONF_ERRLEN];
	struct conf *c;
	int k;

	c = load_text("listen_tcp = {\"127.0.0.1:1\", \"127.0.0.1:2\", "
	    "\"[::1]:3\"}\nlisten_udp = {\"127.0.0.1:4\", \"[::1]:5\"}\n"
	    "user = \"nobody\"\ngroup = \"nogroup\"\npidfile = \"/run/e.pid\"\n"
	    "allow = {\"10.0.0.0/8\"}\ndeny = {\"10.1.0.0/16\"}\n"
	    "workers = 2\nworkers = 3\n", path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	conf_free(c);
	for (k = 1; k < 1000; k++) {
		failalloc_arm(k);
		c = conf_load(path, err, sizeof(err));
		int e = errno;
		failalloc_disarm();
		if (!failalloc_failed())
			break;
		ck_assert_msg(c == NULL, "allocation %d failed, yet the load "
		    "succeeded (user %s, pidfile %s, %zu warnings)", k,
		    c->user ? c->user : "(none)",
		    c->pidfile ? c->pidfile : "(none)", c->n_warnings);
		ck_assert_int_eq(e, ENOMEM);
		ck_assert_msg(strstr(err, "out of memory") != NULL ||
		    strstr(err, strerror(ENOMEM)) != NULL, "%d: %s", k, err);
		ck_assert_msg(failalloc_live() == 0, "allocation %d failed: "
		    "%zu blocks leaked", k, failalloc_live());
	}
	ck_assert_int_gt(k, 10);	/* every list entry had its turn */
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->user, "nobody");
	ck_assert_uint_eq(c->n_listen_tcp, 3);
	ck_assert_uint_eq(c->n_warnings, 1);
	failalloc_arm(0);
	conf_free(c);
	ck_assert_uint_eq(failalloc_live(), 0);
	failalloc_disarm();
	unlink(path);
}
END_TEST

/* The command line's copies: all of them, or the configuration unchanged
 * (never running without the -p PID file). */
START_TEST(test_override_out_of_memory)
{
	struct conf_overrides ov = { .workers = 3, .pidfile = "/run/x.pid",
	    .n_listen = 2, .listen = { "127.0.0.1:1", "[::1]:2" } };
	char err[CONF_ERRLEN];
	struct conf *c;
	int k, rc;

	for (k = 1; k < 100; k++) {
		c = conf_load(NULL, err, sizeof(err));
		ck_assert_ptr_nonnull(c);
		failalloc_arm(k);
		rc = conf_override(c, &ov, err, sizeof(err));
		int e = errno;
		failalloc_disarm();
		if (!failalloc_failed())
			break;
		ck_assert_msg(rc == -1, "allocation %d failed, yet -p became %s",
		    k, c->pidfile ? c->pidfile : "(none)");
		ck_assert_int_eq(e, ENOMEM);
		ck_assert_str_eq(err, "out of memory");
		ck_assert_uint_eq(failalloc_live(), 0);
		ck_assert_ptr_null(c->pidfile);
		ck_assert_int_eq(c->workers, 0);
		ck_assert(!c->listen_cmdline);
		ck_assert_str_eq(c->listen_tcp[0], "0.0.0.0:7");
		conf_free(c);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(c->pidfile, "/run/x.pid");
	ck_assert_str_eq(c->listen_udp[1], "[::1]:2");
	conf_free(c);
}
END_TEST

static char warned[4][CONF_ERRLEN];
static int nwarned;

static void
warn(const char *msg)
{
	if (nwarned < 4)
		snprintf(warned[nwarned++], sizeof(warned[0]), "%s", msg);
}

/* The one way in: a bad file or command line is CONF_INVALID, with the
 * file's warnings told before; what runs has its user looked up. */
START_TEST(test_read)
{
	struct conf_overrides none = { .workers = -1 };
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN], text[256];
	struct passwd *pw = getpwuid(geteuid());
	struct conf *c;

	c = load_text("workers = 0\n", path, err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_int_eq(conf_read(path, &none, false, warn, &c, err,
	    sizeof(err)), CONF_INVALID);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, ":1: workers: must be 1..1024 or auto"));
	unlink(path);

	nwarned = 0;
	c = load_text("workers = 1\nworkers = 2\nlisten_tcp = {}\n"
	    "listen_udp = {}\n", path, err, sizeof(err));
	conf_free(c);
	ck_assert_int_eq(conf_read(path, &none, false, warn, &c, err,
	    sizeof(err)), CONF_INVALID);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "echod would listen on nothing"));
	ck_assert_int_eq(nwarned, 1);
	snprintf(want, sizeof(want), "%s:2: warning: workers: set twice "
	    "(lines 1 and 2); line 2 wins", path);
	ck_assert_str_eq(warned[0], want);
	unlink(path);

	/* the user this process runs as can always be switched to */
	ck_assert_ptr_nonnull(pw);
	snprintf(text, sizeof(text), "listen_tcp = {\"127.0.0.1:0\"}\n"
	    "listen_udp = {}\nuser = \"%s\"\n", pw->pw_name);
	c = load_text(text, path, err, sizeof(err));
	conf_free(c);
	ck_assert_msg(conf_read(path, &none, false, NULL, &c, err,
	    sizeof(err)) == CONF_OK, "%s", err);
	ck_assert_uint_eq(c->creds.uid, geteuid());
	ck_assert_str_eq(c->creds.user, pw->pw_name);
	conf_free(c);

	/* under socket activation the addresses are not looked up */
	snprintf(text, sizeof(text), "listen_tcp = {\"127.0.0.1:nosuchservice-"
	    "echod\"}\n");
	c = load_text(text, path, err, sizeof(err));
	conf_free(c);
	ck_assert_int_eq(conf_read(path, &none, false, NULL, &c, err,
	    sizeof(err)), CONF_INVALID);
	ck_assert_int_eq(conf_read(path, &none, true, NULL, &c, err,
	    sizeof(err)), CONF_OK);
	conf_free(c);
	unlink(path);
}
END_TEST

/* No process holding root parses what the network sends: run by root,
 * metrics_listen needs a user that is not root; run by anyone else, or
 * without metrics, it needs none.  conf_read() (start, -t, reload) asks. */
START_TEST(test_metrics_user)
{
	struct conf_overrides none = { .workers = -1 };
	char path[64], err[CONF_ERRLEN], want[CONF_ERRLEN];
	struct conf *c;

	c = load_text("listen_udp = {}\n\nmetrics_listen = {\"127.0.0.1:9107\"}\n",
	    path, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(conf_check_metrics_user(c, 0, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: metrics_listen: echod runs as root "
	    "and user is unset, so the metrics process would parse HTTP as "
	    "root; set user to one of echod's own (such as \"echod\")", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(conf_check_metrics_user(c, 110, err, sizeof(err)), 0);
	/* a user of uid 0 by any name is root */
	c->user = strdup("toor");
	c->creds.uid = 0;
	ck_assert_int_eq(conf_check_metrics_user(c, 0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ": metrics_listen: echod runs as root and user "
	    "\"toor\" is root, so"), "%s", err);
	c->creds.uid = 65534;
	ck_assert_int_eq(conf_check_metrics_user(c, 0, err, sizeof(err)), 0);
	c->n_metrics_listen = 0;
	c->creds.uid = 0;
	ck_assert_int_eq(conf_check_metrics_user(c, 0, err, sizeof(err)), 0);
	c->n_metrics_listen = 1;	/* for conf_free() */
	conf_free(c);
	if (geteuid() == 0) {
		ck_assert_int_eq(conf_read(path, &none, false, NULL, &c, err,
		    sizeof(err)), CONF_INVALID);
		ck_assert_str_eq(err, want);
	} else
		ck_assert_msg(conf_read(path, &none, false, NULL, &c, err,
		    sizeof(err)) == CONF_OK, "%s", err);
	conf_free(c);
	unlink(path);
}
END_TEST

/* Out of memory is CONF_FAILED, told apart from a bad file (at start:
 * exit 1, not 78), and leaks nothing. */
START_TEST(test_read_out_of_memory)
{
	struct conf_overrides ov = { .workers = -1, .pidfile = "/run/x.pid" };
	char path[64], err[CONF_ERRLEN];
	enum conf_status st;
	struct conf *c;
	int k;

	c = load_text("listen_tcp = {\"127.0.0.1:0\"}\nlisten_udp = {}\n",
	    path, err, sizeof(err));
	conf_free(c);
	for (k = 1; k < 100; k++) {
		failalloc_arm(k);
		st = conf_read(path, &ov, false, NULL, &c, err, sizeof(err));
		failalloc_disarm();
		if (!failalloc_failed())
			break;
		ck_assert_msg(st == CONF_FAILED, "allocation %d: status %d: %s",
		    k, st, err);
		ck_assert_ptr_null(c);
		ck_assert_uint_eq(failalloc_live(), 0);
	}
	ck_assert_int_eq(st, CONF_OK);
	ck_assert_str_eq(c->pidfile, "/run/x.pid");
	conf_free(c);
	unlink(path);
}
END_TEST

Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("file");

	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_listen_v4mapped);
	tcase_add_test(tc, test_file_hostile_text);
	tcase_add_test(tc, test_file_hostile_text_variants);
	tcase_add_test(tc, test_pidfile_length);
	tcase_add_test(tc, test_long_lists_linear);
	tcase_add_test(tc, test_file_not_regular);
	tcase_add_test(tc, test_file_not_regular_not_opened);
	tcase_add_test(tc, test_resolve_listen);
	tcase_add_test(tc, test_resolve_metrics_listen);
	tcase_add_test(tc, test_choose_path);
	tcase_add_test(tc, test_listen_nowhere);
	tcase_add_test(tc, test_repeats);
	tcase_add_test(tc, test_resolve_user);
	tcase_add_test(tc, test_file_edges_ok);
	tcase_add_test(tc, test_file_missing);
	tcase_add_test(tc, test_shipped_file_is_the_defaults);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_load_out_of_memory);
	tcase_add_test(tc, test_override_out_of_memory);
	tcase_add_test(tc, test_read);
	tcase_add_test(tc, test_metrics_user);
	tcase_add_test(tc, test_read_out_of_memory);
	suite_add_tcase(s, tc);
	return s;
}
