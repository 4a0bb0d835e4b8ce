/* main.c - the command line; everything else is the master's. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "conf.h"
#include "detach.h"
#include "log.h"
#include "master.h"

/* path, relative to the working directory, as an absolute path (malloc'd). */
static char *
absolute(const char *path)
{
	char cwd[4096], *abs;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (asprintf(&abs, "%s/%s", cwd, path) == -1)
		return NULL;
	return abs;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: echod [-dfhtV] [-c file] [-l address]... [-p pidfile] [-w workers]\n"
	    "  -c, --config FILE      configuration file (default %s)\n"
	    "  -d, --debug            log debug messages\n"
	    "  -f, --foreground       stay in the foreground, log to stderr\n"
	    "  -h, --help             show this help\n"
	    "  -l, --listen ADDRESS   listen on TCP and UDP at ADDRESS (repeatable)\n"
	    "  -p, --pidfile FILE     write the PID to FILE\n"
	    "  -t, --test-config      check the configuration and exit\n"
	    "  -V, --version          show the version\n"
	    "  -w, --workers N|auto   number of worker processes\n",
	    CONF_DEFAULT_PATH);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	 required_argument, NULL, 'c' },
		{ "debug",	 no_argument,	    NULL, 'd' },
		{ "foreground",	 no_argument,	    NULL, 'f' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ "listen",	 required_argument, NULL, 'l' },
		{ "pidfile",	 required_argument, NULL, 'p' },
		{ "test-config", no_argument,	    NULL, 't' },
		{ "version",	 no_argument,	    NULL, 'V' },
		{ "workers",	 required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf_overrides ov = { .workers = -1 };
	struct master_opts opts = { .overrides = &ov };
	char err[CONF_ERRLEN];
	const char *why, *path = NULL;
	bool test = false;
	struct conf *conf;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:dfhl:p:tVw:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			ov.debug = true;
			break;
		case 'f':
			opts.foreground = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			if (conf_check_listen(optarg, &why) == -1) {
				fprintf(stderr, "echod: -l %s: %s\n", optarg, why);
				return EX_USAGE;
			}
			if (ov.n_listen == CONF_MAX_LISTEN) {
				fprintf(stderr, "echod: at most %d -l addresses\n",
				    CONF_MAX_LISTEN);
				return EX_USAGE;
			}
			ov.listen[ov.n_listen++] = optarg;
			break;
		case 'p':
			if (conf_check_pidfile(optarg, &why) == -1) {
				fprintf(stderr, "echod: -p %s: %s\n", optarg, why);
				return EX_USAGE;
			}
			ov.pidfile = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'V':
			printf("echod %s\n", PACKAGE_VERSION);
			return 0;
		case 'w':
			if (conf_parse_workers(optarg, &ov.workers, &why) == -1) {
				fprintf(stderr, "echod: -w %s: %s\n", optarg, why);
				return EX_USAGE;
			}
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "echod: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	/* A daemon chdir()s to /: a reload must still find a relative -c. */
	if (path != NULL && path[0] != '/') {
		const char *given = path;
		if ((path = absolute(given)) == NULL) {
			fprintf(stderr, "echod: -c %s: %s\n", given, strerror(errno));
			return EX_CONFIG;
		}
	}
	/* Without -c, a missing default file means the built-in defaults
	 * (checked again on each reload: see master.c). */
	opts.conf_path = path;
	path = conf_choose(path, CONF_DEFAULT_PATH);

	if ((conf = conf_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "echod: %s\n", err);
		return EX_CONFIG;
	}
	for (size_t i = 0; test && i < conf->n_warnings; i++)
		fprintf(stderr, "echod: %s\n", conf->warnings[i]);
	/* -t judges what a start would: the user too, as this process, and
	 * the addresses (ignored under socket activation) */
	if (conf_override(conf, &ov, err, sizeof(err)) == -1 ||
	    (sd_listen_fds(0) <= 0 &&
	    conf_resolve_listen(conf, err, sizeof(err)) == -1) ||
	    conf_resolve_user(conf, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "echod: %s\n", err);
		conf_free(conf);
		return EX_CONFIG;
	}
	if (test) {
		fprintf(stderr, "echod: configuration file %s test is successful\n",
		    path ? path : "(built-in defaults)");
		conf_free(conf);
		return 0;
	}

	log_init(opts.foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG, "echod");
	log_setlevel(conf->log_level);
	if (!opts.foreground && detach_start("echod") == -1) {
		fprintf(stderr, "echod: detaching: %s\n", strerror(errno));
		conf_free(conf);
		return 1;
	}
	if (path == NULL)
		log_info("no %s: using the built-in configuration", CONF_DEFAULT_PATH);
	for (size_t i = 0; i < conf->n_warnings; i++)
		log_warnx("%s", conf->warnings[i]);
	return master_run(conf, &opts);
}
