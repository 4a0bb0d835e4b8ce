/*
 * check_control.c - the control socket's file (0600, a live one kept, a
 * stale one replaced, a file that is no socket refused, a directory that
 * cannot be made said), its requests through reqsrv.c (a line in, the
 * answer and EOF out; at most max_clients, the rest closed at once;
 * oversized and slow clients dropped), the client's exit 69, its guard
 * against an answer with terminal escapes, and the configuration keys.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "ctlclient.h"
#include "privdrop.h"
#include "suites.h"
#include "unitlib.h"
#include "util.h"

static char dir[32], path[64];
static struct control c;

static void
fake_status(void *arg, bool json, struct render_buf *out)
{
	(void)arg;
	render_buf_printf(out, json ? "{\"ok\": 1}\n" : "fine\n");
}

static void
setup(void)
{
	strcpy(dir, "/tmp/echod-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/run/control", dir);
	control_init(&c, fake_status, NULL);
}

static void
teardown(void)
{
	char cmd[128];

	control_close(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* Runs the server until fd has an answer and EOF (or 2 s); the answer. */
static const char *
exchange(int fd, const char *req)
{
	static char buf[256];
	size_t n = 0;
	uint64_t end = now_coarse_ms() + 2000;

	if (req)
		ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	buf[0] = '\0';
	while (now_coarse_ms() < end) {
		control_run(&c, now_coarse_ms());
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r == 0)
			break;
		if (r > 0)
			n += (size_t)r;
		else
			poll(NULL, 0, 5);
	}
	buf[n] = '\0';
	return buf;
}

START_TEST(test_open_mode_and_requests)
{
	char err[256];
	struct stat st;
	int fd;

	ck_assert_int_eq(control_open(&c, path, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_ge(fd = u_connect_unix(path), 0);
	ck_assert_str_eq(exchange(fd, "status\n"), "fine\n");
	close(fd);
	ck_assert_int_ge(fd = u_connect_unix(path), 0);
	ck_assert_str_eq(exchange(fd, "status json\r\n"), "{\"ok\": 1}\n");
	close(fd);
	ck_assert_int_ge(fd = u_connect_unix(path), 0);
	ck_assert_str_eq(exchange(fd, "stop\n"),
	    "error: unknown request (try \"status\")\n");
	close(fd);
	/* oversized: no answer, closed */
	ck_assert_int_ge(fd = u_connect_unix(path), 0);
	ck_assert_str_eq(exchange(fd, "status status status status status status "
	    "status status status status\n"), "");
	close(fd);
	control_close(&c);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* max_clients silent clients hold every place; the next is closed at once,
 * the silent ones at their deadline. */
START_TEST(test_bounded_clients)
{
	int slow[CONTROL_MAX_CLIENTS], extra;
	char err[256];

	ck_assert_int_eq(control_open(&c, path, NULL, err, sizeof(err)), 0);
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		ck_assert_int_ge(slow[i] = u_connect_unix(path), 0);
	uint64_t t0 = now_coarse_ms();
	control_run(&c, t0);
	ck_assert_int_eq(reqsrv_busy(&c.srv), CONTROL_MAX_CLIENTS);
	ck_assert_int_ge(extra = u_connect_unix(path), 0);
	control_run(&c, t0 + 1);
	ck_assert_uint_eq(c.srv.turned_away, 1);
	ck_assert_str_eq(exchange(extra, NULL), "");
	close(extra);
	ck_assert_int_eq(control_next_timeout(&c, t0 + 1), CONTROL_TIMEOUT_MS - 1);
	control_run(&c, t0 + CONTROL_TIMEOUT_MS - 1);
	ck_assert_int_eq(reqsrv_busy(&c.srv), CONTROL_MAX_CLIENTS);
	control_run(&c, t0 + CONTROL_TIMEOUT_MS);
	ck_assert_int_eq(reqsrv_busy(&c.srv), 0);
	ck_assert_uint_eq(c.srv.timed_out, CONTROL_MAX_CLIENTS);
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		close(slow[i]);
}
END_TEST

START_TEST(test_live_kept_stale_replaced)
{
	struct control c2;
	char err[256];
	struct stat st1, st2;

	ck_assert_int_eq(control_open(&c, path, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st1), 0);
	control_init(&c2, fake_status, NULL);
	ck_assert_int_eq(control_open(&c2, path, NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_msg(strstr(err, path) && strstr(err, "another process answers there"),
	    "%s", err);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert(st1.st_ino == st2.st_ino);
	/* the first closes without unlinking (killed): stale, replaced */
	close(c.fd);
	c.fd = -1;
	reqsrv_free(&c.srv);
	ck_assert_int_eq(control_open(&c2, path, NULL, err, sizeof(err)), 0);
	int fd = u_connect_unix(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	control_close(&c2);
}
END_TEST

START_TEST(test_not_a_socket)
{
	char err[256];

	char run[128];

	snprintf(run, sizeof(run), "%s/run", dir);
	ck_assert_int_eq(mkdir(run, 0755), 0);
	FILE *f = fopen(path, "w");
	fclose(f);
	ck_assert_int_eq(control_open(&c, path, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exists and is not a socket"), "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

/* Its directory's parent missing: said, with the directory's name. */
START_TEST(test_no_directory)
{
	char deep[160], err[256];

	snprintf(deep, sizeof(deep), "%s/no/such/control", dir);
	ck_assert_int_eq(control_open(&c, deep, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot make directory") &&
	    strstr(err, "/no/such"), "%s", err);
}
END_TEST

/*
 * As root, a name on the way that another user can change: without an
 * owner to make it as, refused, naming the directory, and nothing made.
 * With one, the owner makes it in its own directory: its file, 0600.
 */
START_TEST(test_others_names)
{
	struct creds nobody = { .user = "nobody" };
	const struct passwd *pw;
	char u[96], sub[128], p1[160], p2[160], err[256];
	struct stat st;
	int fd;

	if (geteuid() != 0)
		skip_test("needs root, to make a directory another user owns");
	if ((pw = getpwnam("nobody")) == NULL)
		skip_test("needs the user nobody");
	nobody.uid = pw->pw_uid;
	nobody.gid = pw->pw_gid;
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(u, sizeof(u), "%s/u", dir);
	snprintf(sub, sizeof(sub), "%s/sub", u);
	ck_assert_int_eq(mkdir(u, 0755), 0);
	ck_assert_int_eq(chown(u, nobody.uid, nobody.gid), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(p1, sizeof(p1), "%s/control", sub);
	ck_assert_int_eq(control_open(&c, p1, NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_msg(strstr(err, u) && strstr(err, "can be changed by a user "
	    "other than root"), "%s", err);
	ck_assert_int_eq(access(p1, F_OK), -1);

	snprintf(p2, sizeof(p2), "%s/control", u);
	ck_assert_msg(control_open(&c, p2, &nobody, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(lstat(p2, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_uid, nobody.uid);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_ne(fd = u_connect_unix(p2), -1);
	ck_assert_str_eq(exchange(fd, "status\n"), "fine\n");
	close(fd);
	control_close(&c);
	ck_assert_int_eq(access(p2, F_OK), -1);
}
END_TEST

START_TEST(test_client_unavailable)
{
	char out[64] = "", err[256] = "";
	FILE *fo = fmemopen(out, sizeof(out), "w"), *fe = fmemopen(err, sizeof(err), "w");

	ck_assert_int_eq(ctlclient_status(path, false, fo, fe), EX_UNAVAILABLE);
	fclose(fo);
	fclose(fe);
	ck_assert_msg(strstr(err, "no echod answers at ") && strstr(err, path), "%s", err);
}
END_TEST

/* Answers no echod of ours sends: terminal escapes, bytes past ASCII. */
static const struct {
	bool		 json;
	const char	*answer, *out, *err;
} hostile[] = {
	{ false, "echod 1.0\x1b[2J\xc2\x9b\tok\r\n",
	    "echod 1.0\\x1b[2J\\xc2\\x9b\tok\\x0d\n", "" },
	{ true, "{\"v\": \"\x1b]0;x\x07\xff\"}\n",
	    "{\"v\": \"\\x1b]0;x\\x07\\xff\"}\n", "" },
	{ false, "error: \x1b[31mbusy\n", "", "echod: error: \\x1b[31mbusy\n" },
};
static atomic_int answer;

static void
hostile_status(void *arg, bool json, struct render_buf *out)
{
	(void)arg;
	(void)json;
	render_buf_printf(out, "%s", hostile[atomic_load(&answer)].answer);
}

static atomic_bool serving;

/* The control socket's server, as the master's loop runs it. */
static void *
serve(void *arg)
{
	struct pollfd pfd[1 + CONTROL_MAX_CLIENTS];

	(void)arg;
	while (atomic_load(&serving)) {
		size_t n = control_pollfds(&c, pfd, nitems(pfd));
		(void)poll(pfd, n, 20);
		control_run(&c, now_coarse_ms());
	}
	return NULL;
}

/* What the client prints is printable ASCII, newlines and tabs: any other
 * byte shows as \xNN, in the status as in an error. */
START_TEST(test_client_escapes)
{
	char out[256], err[256];
	pthread_t t;

	control_init(&c, hostile_status, NULL);
	ck_assert_int_eq(control_open(&c, path, NULL, err, sizeof(err)), 0);
	atomic_store(&serving, true);
	ck_assert_int_eq(pthread_create(&t, NULL, serve, NULL), 0);
	for (int i = 0; i < (int)nitems(hostile); i++) {
		memset(out, 0, sizeof(out));
		memset(err, 0, sizeof(err));
		atomic_store(&answer, i);
		FILE *fo = fmemopen(out, sizeof(out), "w");
		FILE *fe = fmemopen(err, sizeof(err), "w");
		int rc = ctlclient_status(path, hostile[i].json, fo, fe);
		fclose(fo);
		fclose(fe);
		ck_assert_int_eq(rc, hostile[i].err[0] ? 1 : 0);
		ck_assert_str_eq(out, hostile[i].out);
		ck_assert_str_eq(err, hostile[i].err);
	}
	atomic_store(&serving, false);
	pthread_join(t, NULL);
}
END_TEST

static int
health(char *out, size_t outlen)
{
	char err[256];
	pthread_t t;
	int rc;

	memset(out, 0, outlen);
	FILE *fo = fmemopen(out, outlen, "w"), *fe = fmemopen(err, sizeof(err), "w");
	atomic_store(&serving, true);
	ck_assert_int_eq(pthread_create(&t, NULL, serve, NULL), 0);
	rc = ctlclient_health(path, fo, fe);
	atomic_store(&serving, false);
	pthread_join(t, NULL);
	fclose(fo);
	fclose(fe);
	return rc;
}

/* "health": serving (0) until control_stopping(), stopping (1) after it;
 * 69 once the socket is gone. */
START_TEST(test_health)
{
	char out[64], err[256];

	ck_assert_int_eq(control_open(&c, path, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(health(out, sizeof(out)), 0);
	ck_assert_str_eq(out, "serving\n");
	control_stopping(&c);
	ck_assert_int_eq(health(out, sizeof(out)), 1);
	ck_assert_str_eq(out, "stopping\n");
	control_close(&c);
	ck_assert_int_eq(health(out, sizeof(out)), EX_UNAVAILABLE);
}
END_TEST

static const char *
load(const char *text, char *err, size_t errlen, struct conf **out)
{
	char file[128];

	snprintf(file, sizeof(file), "%s/echod.conf", dir);
	FILE *f = fopen(file, "w");
	fputs(text, f);
	fclose(f);
	*out = conf_load(file, err, errlen);
	return *out ? NULL : err;
}

START_TEST(test_conf_keys)
{
	char err[CONF_ERRLEN];
	struct conf *cf;

	ck_assert_ptr_null(load("", err, sizeof(err), &cf));
	ck_assert_str_eq(cf->control_socket, CONF_DEFAULT_CONTROL);
	ck_assert_uint_eq(cf->n_metrics_listen, 0);
	conf_free(cf);
	ck_assert_ptr_null(load("control_socket = \"\"\nmetrics_listen = "
	    "{\"127.0.0.1:9100\", \"[::1]:9100\"}\n", err, sizeof(err), &cf));
	ck_assert_ptr_null(cf->control_socket);
	ck_assert_uint_eq(cf->n_metrics_listen, 2);
	conf_free(cf);
	ck_assert_ptr_nonnull(load("\ncontrol_socket = \"run/control\"\n", err,
	    sizeof(err), &cf));
	ck_assert_msg(strstr(err, "echod.conf:2: control_socket: must be an absolute path"),
	    "%s", err);
	ck_assert_ptr_nonnull(load("control_socket = \"/run/xxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxx\"\n", err, sizeof(err), &cf));
	ck_assert_msg(strstr(err, ":1: control_socket: at most 107 bytes"), "%s", err);
	ck_assert_ptr_nonnull(load("metrics_listen = {\"127.0.0.1\"}\n", err,
	    sizeof(err), &cf));
	ck_assert_msg(strstr(err, ":1: metrics_listen: \"127.0.0.1\""), "%s", err);
	ck_assert_ptr_nonnull(load("metrics_listen = {\"a:1\", \"a:2\", \"a:3\", \"a:4\", "
	    "\"a:5\", \"a:6\", \"a:7\", \"a:8\", \"a:9\"}\n", err, sizeof(err), &cf));
	ck_assert_msg(strstr(err, "metrics_listen: at most 8 addresses"), "%s", err);
}
END_TEST

Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("socket");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_mode_and_requests);
	tcase_add_test(tc, test_bounded_clients);
	tcase_add_test(tc, test_live_kept_stale_replaced);
	tcase_add_test(tc, test_not_a_socket);
	tcase_add_test(tc, test_no_directory);
	tcase_add_test(tc, test_others_names);
	tcase_add_test(tc, test_client_unavailable);
	tcase_add_test(tc, test_client_escapes);
	tcase_add_test(tc, test_health);
	tcase_add_test(tc, test_conf_keys);
	suite_add_tcase(s, tc);
	return s;
}
