/* main.c - the command line; everything else is the master's. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "ctlclient.h"
#include "ctlrecord.h"
#include "fdstore.h"
#include "detach.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "title.h"
#include "util.h"

/* path, relative to the working directory, as an absolute path: in static
 * storage, since the master reads it on every reload until it exits. */
static const char *
absolute(const char *path)
{
	static char abs[4096 + CONF_MAX_PATH];
	char cwd[4096];

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return abs;
}

/*
 * Before the log is set up: a line on stderr, named, unless stderr is
 * journald's, which names us already ("echod[1]: echod: ..." otherwise).
 */
static void __attribute__((format(printf, 1, 2)))
stderr_linef(const char *fmt, ...)
{
	va_list ap;

	if (!log_stderr_is_journal())
		fputs("echod: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
stderr_line(const char *msg)
{
	stderr_linef("%s", msg);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: echod [-dfhtV] [-c file] [-l address]... [-p pidfile] [-w workers]\n"
	    "       echod -t --socket-activated [-c file]\n"
	    "       echod --status [--json | --health] [-c file]\n"
	    "  -c, --config FILE      configuration file (default %s)\n"
	    "  -d, --debug            log debug messages\n"
	    "  -f, --foreground       stay in the foreground, log to stderr\n"
	    "  -h, --help             show this help\n"
	    "      --health           with --status: exit 0 serving, 1 stopping\n"
	    "      --json             with --status: print JSON\n"
	    "  -l, --listen ADDRESS   listen on TCP and UDP at ADDRESS (repeatable)\n"
	    "  -p, --pidfile FILE     write the PID to FILE\n"
	    "      --socket-activated with -t: check as a start with sockets from systemd\n"
	    "      --status           ask the running echod for its workers and totals\n"
	    "  -t, --test-config      check the configuration and exit\n"
	    "  -V, --version          show the version\n"
	    "  -w, --workers N|auto   number of worker processes\n",
	    CONF_DEFAULT_PATH);
}

enum { OPT_STATUS = 256, OPT_JSON, OPT_ACTIVATED, OPT_HEALTH };
static bool	want_status, want_json, want_health; /* --status, --json, --health */
/* --socket-activated: the unit's ExecReload= runs -t without the sockets
 * its echod was given, yet must judge the file as that echod does. */
static bool	want_activated;

static const struct option longopts[] = {
	{ "config",	 required_argument, NULL, 'c' },
	{ "debug",	 no_argument,	    NULL, 'd' },
	{ "foreground",	 no_argument,	    NULL, 'f' },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ "listen",	 required_argument, NULL, 'l' },
	{ "pidfile",	 required_argument, NULL, 'p' },
	{ "status",	 no_argument,	    NULL, OPT_STATUS },
	{ "json",	 no_argument,	    NULL, OPT_JSON },
	{ "health",	 no_argument,	    NULL, OPT_HEALTH },
	{ "socket-activated", no_argument,  NULL, OPT_ACTIVATED },
	{ "test-config", no_argument,	    NULL, 't' },
	{ "version",	 no_argument,	    NULL, 'V' },
	{ "workers",	 required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 }
};

/* One request: status, in text or JSON, or health. */
static int
request_control(const char *socket, bool json, bool health)
{
	return health ? ctlclient_health(socket, stdout, stderr) :
	    ctlclient_status(socket, json, stdout, stderr);
}

/*
 * --status asks the socket the file names, or, where the file is refused
 * or nothing answers there, the one the running master recorded
 * (ctlrecord.h): the file may be broken or changed since it was read.  No
 * user or address is looked up: any user may ask, as far as the socket's
 * mode lets them.
 */
static int
ask_status(const char *path, bool json, bool health)
{
	char err[CONF_ERRLEN], rec[CONTROL_MAX_PATH];
	struct conf *c;
	int rc, bad;

	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		bad = errno == EINVAL ? EX_CONFIG : 1;
		stderr_line(err);
		if (ctlrecord_read(rec, sizeof(rec), path) == -1)
			return bad;
		stderr_linef("asking the running echod at %s, as %s records",
		    rec, ctlrecord_path());
		return request_control(rec, json, health);
	}
	/* The file's socket first (several echods may run, each with its
	 * own file), then the recorded one: what failed is said either way. */
	rc = request_control(c->control_socket, json, health);
	if (rc == EX_UNAVAILABLE && ctlrecord_read(rec, sizeof(rec), path) == 0 &&
	    (c->control_socket == NULL || strcmp(rec, c->control_socket) != 0)) {
		stderr_linef("asking the running echod at %s, as %s records",
		    rec, ctlrecord_path());
		rc = request_control(rec, json, health);
	}
	conf_free(c);
	return rc;
}

/* -l, -p and -w, checked as they are read: 0, or EX_USAGE said. */
static int
read_override(int ch, const char *arg, struct conf_overrides *ov)
{
	const char *why;

	switch (ch) {
	case 'l':
		if (conf_check_listen(arg, &why) == -1) {
			stderr_linef("-l %s: %s", arg, why);
			return EX_USAGE;
		}
		if (ov->n_listen == CONF_MAX_LISTEN) {
			stderr_linef("at most %d -l addresses",
			    CONF_MAX_LISTEN);
			return EX_USAGE;
		}
		ov->listen[ov->n_listen++] = arg;
		break;
	case 'p':
		if (conf_check_pidfile(arg, &why) == -1) {
			stderr_linef("-p %s: %s", arg, why);
			return EX_USAGE;
		}
		ov->pidfile = arg;
		break;
	case 'w':
		if (conf_parse_workers(arg, &ov->workers, &why) == -1) {
			stderr_linef("-w %s: %s", arg, why);
			return EX_USAGE;
		}
		break;
	}
	return 0;
}

/* Options that only go with others, and operands: -1 if none is amiss,
 * or EX_USAGE said. */
static int
check_cmdline(int argc, char **argv, bool test)
{
	if ((want_json || want_health) && !want_status) {
		stderr_linef("--%s goes with --status",
		    want_json ? "json" : "health");
		return EX_USAGE;
	}
	if (want_json && want_health) {
		stderr_linef("--json and --health: one or the other");
		return EX_USAGE;
	}
	if (want_activated && !test) {
		stderr_linef("--socket-activated goes with -t");
		return EX_USAGE;
	}
	if (optind < argc) {
		stderr_linef("unexpected argument: %s", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	return -1;
}

/*
 * Reads the command line into ov and opts, and -t into *test.  Returns -1
 * to go on, or the exit status: 0 after -h or -V, EX_USAGE said.
 */
static int
read_cmdline(int argc, char **argv, struct conf_overrides *ov,
    struct master_opts *opts, bool *test)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "c:dfhl:p:tVw:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opts->conf_path = optarg;
			break;
		case 'd':
			ov->debug = true;
			break;
		case 'f':
			opts->foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
		case 'p':
		case 'w':
			if (read_override(ch, optarg, ov) != 0)
				return EX_USAGE;
			break;
		case 't':
			*test = true;
			break;
		case OPT_STATUS:
			want_status = true;
			break;
		case OPT_JSON:
			want_json = true;
			break;
		case OPT_HEALTH:
			want_health = true;
			break;
		case OPT_ACTIVATED:
			want_activated = true;
			break;
		case 'V':
			printf("echod %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	return check_cmdline(argc, argv, *test);
}

/* Logging set up, detached unless -f: the master's from here on.  path is
 * the file read (NULL: the built-in defaults). */
static int
start(struct conf *conf, const struct master_opts *opts, const char *path)
{
	log_init(opts->foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG, "echod");
	log_setlevel(conf->log_level);
	if (!opts->foreground && detach_start("echod") == -1) {
		stderr_linef("detaching: %s", strerror(errno));
		conf_free(conf);
		return 1;
	}
	if (path == NULL)
		log_info("no %s: using the built-in configuration", CONF_DEFAULT_PATH);
	if (conf->fallback != NULL)
		log_warnx("%s; serving the last good configuration, stored by the "
		    "echod before this one, until %s is fixed and reloaded",
		    conf->fallback, path ? path : "the file");
	for (size_t i = 0; i < conf->n_warnings; i++)
		log_warnx("%s", conf->warnings[i]);
	return master_run(conf, opts);
}

static void
stderr_stored(const char *name, const char *why)
{
	stderr_linef("stored connection %s: %s", name, why);
}

/*
 * A start that fails before serving: connections the process before us
 * parked with systemd are flushed and shut down here, and removed from
 * the store (systemd would close its copies when the unit fails, but a
 * Restart= would keep them, unserved).
 */
static void
end_stored(void)
{
	struct fdstore_set s;

	if (fdstore_collect(&s, stderr_stored) == 0 && s.n > 0) {
		stderr_linef("ending %zu connection%s taken from "
		    "systemd's store", s.n, plural(s.n));
		fdstore_abandon(&s);
	} else
		fdstore_done(&s);
}

/*
 * The file is refused at a start: the last good configuration, if the
 * echod before us left one with systemd (a restart, not a stop and start),
 * serves instead, and says why.  NULL when there is none or it is refused
 * too.  Takes stored (closes it).
 */
static struct conf *
fallback(int stored, const char *path, const struct conf_overrides *ov,
    bool activated, const char *refused)
{
	char err[CONF_ERRLEN];
	struct confsrc src;
	struct conf *c;
	const char *why;
	int rc;

	if (stored == -1)
		return NULL;
	rc = confsrc_from_memfd(stored, &src, &why);
	close(stored);
	if (rc == -1) {
		stderr_linef("the stored configuration: %s; not used",
		    why);
		return NULL;
	}
	if (conf_read_src(&src, path, ov, activated, NULL, &c, err,
	    sizeof(err)) != CONF_OK) {
		stderr_linef("the stored configuration is refused too: "
		    "%s", err);
		return NULL;
	}
	if ((c->fallback = strdup(refused)) == NULL) {
		conf_free(c);
		return NULL;
	}
	stderr_linef("serving the last good configuration, which the "
	    "echod before this one stored; fix %s, then reload",
	    path ? path : "the file");
	return c;
}

int
main(int argc, char **argv)
{
	struct conf_overrides ov = { .workers = -1 };
	struct master_opts opts = { .overrides = &ov };
	char err[CONF_ERRLEN];
	const char *path;
	bool test = false, activated;
	struct conf *conf;
	enum conf_status st;
	int rc, stored;

	title_init(argc, argv);	/* first: it moves argv's strings */
	if ((rc = read_cmdline(argc, argv, &ov, &opts, &test)) != -1)
		return rc;
	/* A daemon chdir()s to /: a reload must still find a relative -c. */
	if (opts.conf_path != NULL && opts.conf_path[0] != '/') {
		const char *given = opts.conf_path;
		if ((opts.conf_path = absolute(given)) == NULL) {
			stderr_linef("-c %s: %s", given, strerror(errno));
			return EX_CONFIG;
		}
	}
	/* Without -c, a missing default file means the built-in defaults
	 * (checked again on each reload: see master_reload.c). */
	path = conf_choose(opts.conf_path, CONF_DEFAULT_PATH);
	if (want_status)
		return ask_status(path, want_json, want_health);
	/* -t judges what a start would: the user too, as this process, and
	 * the addresses echod binds (not the echo lists under socket
	 * activation: systemd's sockets are used instead) */
	activated = want_activated || listen_passed() > 0;
	stored = test ? -1 : fdstore_take_conf();
	if ((st = conf_read(path, &ov, activated, test ? stderr_line : NULL,
	    &conf, err, sizeof(err))) != CONF_OK) {
		stderr_line(err);
		if (st == CONF_INVALID &&
		    (conf = fallback(stored, path, &ov, activated, err)) != NULL)
			return start(conf, &opts, path);
		if (!test)
			end_stored();
		return st == CONF_INVALID ? EX_CONFIG : 1;
	}
	if (stored != -1)
		close(stored);
	if (test) {
		stderr_linef("configuration file %s test is successful",
		    path ? path : "(built-in defaults)");
		conf_free(conf);
		return 0;
	}
	return start(conf, &opts, path);
}
