/*
 * confschema.c - echod.conf's keys for libconfuse: each key's default and
 * range, and a callback that judges each value by its rule (confparse.c,
 * acl.c) as the parser reads it, while it still knows the line.  A value
 * holding a control character is refused whatever the key.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "conflimits.h"
#include "confparse.h"
#include "confschema.h"
#include "util.h"

/* Ranges, as the messages and echod.conf(5) state them. */
#define BUFFER_MIN	1024
#define BUFFER_MAX	(16 * 1024 * 1024)
#define BACKLOG_MAX	65535
#define MAXCONN_MAX	1000000
#define MS_S		1000ULL
#define MS_DAY		(86400 * MS_S)

static char		*errbuf;	/* where the current parser puts its error */
static size_t		 errbuflen;
static const char	*errpath;	/* the file being parsed */

static void
on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[CONF_ERRLEN];

	if (errbuf == NULL || errbuf[0] != '\0')	/* keep the first error */
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errpath != NULL && cfg != NULL && cfg->line > 0)
		snprintf(errbuf, errbuflen, "%s:%d: %s", errpath, cfg->line, msg);
	else if (errpath != NULL)
		snprintf(errbuf, errbuflen, "%s: %s", errpath, msg);
	else
		snprintf(errbuf, errbuflen, "%s", msg);
}

/* Range of an integer-like key (a number past 64 bits is out of it), for its parse callback and its message. */
static const struct range {
	const char	*name;
	uint64_t	 min, max;
	const char	*text;
	int		(*parse)(const char *, uint64_t *, const char **);
} ranges[] = {
	{ "backlog", 1, BACKLOG_MAX, "1..65535", NULL },
	{ "max_connections", 1, MAXCONN_MAX, "1..1000000", NULL },
	{ "buffer_size", BUFFER_MIN, BUFFER_MAX, "1k..16m", conf_parse_size },
	{ "idle_timeout", MS_S, MS_DAY, "1s..1d", conf_parse_duration },
	{ "shutdown_timeout", 0, 3600 * MS_S, "0..1h", conf_parse_duration },
	{ "stop_delay", 0, 600 * MS_S, "0..10m", conf_parse_duration },
	{ "worker_timeout", MS_S, 3600 * MS_S, "1s..1h", conf_parse_duration },
	{ "udp_rate_limit", 0, 1000000, "0..1000000", NULL },
	{ "udp_rate_burst", 1, 1000000, "1..1000000", NULL },
	{ "max_connections_per_source", 0, 1000000, "0..1000000", NULL },
	{ "tcp_rate_limit", 0, 1000000, "0..1000000", NULL },
	{ "tcp_rate_burst", 1, 1000000, "1..1000000", NULL },
	{ "log_source_rate", 0, 1000000, "0..1000000", NULL },
	{ "log_source_burst", 1, 1000000, "1..1000000", NULL },
	{ "log_rate_limit", 0, 1000000, "0..1000000", NULL },
	{ "proxy_timeout", 100, 3600 * MS_S, "100ms..1h", conf_parse_duration },
};

static int
cb_range(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const struct range *r = NULL;
	const char *err;
	uint64_t v;

	for (size_t i = 0; i < nitems(ranges); i++)
		if (strcmp(ranges[i].name, opt->name) == 0)
			r = &ranges[i];
	if (r == NULL)
		return -1;
	if ((r->parse ? r->parse : conf_parse_number)(value, &v, &err) == -1) {
		cfg_error(cfg, "%s: %s, got \"%s\"", opt->name, err, value);
		return -1;
	}
	if (v < r->min || v > r->max) {
		cfg_error(cfg, "%s: must be %s, got \"%s\"", opt->name, r->text, value);
		return -1;
	}
	*(long *)result = (long)v;
	return 0;
}

static int
cb_workers(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const char *err;
	int n;

	if (conf_parse_workers(value, &n, &err) == -1) {
		cfg_error(cfg, "%s: %s, got \"%s\"", opt->name, err, value);
		return -1;
	}
	*(long *)result = n;
	return 0;
}

/* close, both or none; a boolean still reads as it did before there were
 * three (true: the one line a connection now gets). */
static int
cb_log_connections(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct { const char *word; enum conf_logconn v; } w[] = {
		{ "close", CONF_LOGCONN_CLOSE }, { "both", CONF_LOGCONN_BOTH },
		{ "none", CONF_LOGCONN_NONE }, { "true", CONF_LOGCONN_CLOSE },
		{ "yes", CONF_LOGCONN_CLOSE }, { "on", CONF_LOGCONN_CLOSE },
		{ "false", CONF_LOGCONN_NONE }, { "no", CONF_LOGCONN_NONE },
		{ "off", CONF_LOGCONN_NONE },
	};

	for (size_t i = 0; i < nitems(w); i++)
		if (strcmp(value, w[i].word) == 0) {
			*(long *)result = w[i].v;
			return 0;
		}
	cfg_error(cfg, "%s: must be close, both or none, got \"%s\"",
	    opt->name, value);
	return -1;
}

static int
cb_log_level(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *err, *v = cfg_opt_getnstr(opt, 0);
	int pri;

	if (conf_parse_log_level(v, &pri, &err) == -1) {
		cfg_error(cfg, "%s: %s, got \"%s\"", opt->name, err, v ? v : "");
		return -1;
	}
	return 0;
}

/*
 * A value with a control character (a raw one, or one written as \e, \n,
 * \x1b...) is refused: nothing echod takes can hold one, and a name or an
 * address that did would reach the log as it is.
 */
static int
control_char(cfg_t *cfg, cfg_opt_t *opt, const char *v)
{
	for (const char *p = v; p != NULL && *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_error(cfg, "%s: \"%s\": control characters are not allowed",
			    opt->name, v);
			return -1;
		}
	}
	return 0;
}

/*
 * The list callbacks judge only the newest entry: libconfuse calls them
 * after each value it adds (and at the closing brace), so every entry is
 * judged once, at its own line.  Judging the whole list each time made a
 * 1 MiB file of long lists cost seconds of the master's time on a reload.
 */
static int
cb_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	const char *err, *spec;

	if (n > CONF_MAX_LISTEN) {
		cfg_error(cfg, "%s: at most %d addresses", opt->name, CONF_MAX_LISTEN);
		return -1;
	}
	if (n == 0)
		return 0;
	spec = cfg_opt_getnstr(opt, n - 1);
	if (control_char(cfg, opt, spec) == -1)
		return -1;
	if (conf_check_listen(spec, &err) == -1) {
		cfg_error(cfg, "%s: \"%s\": %s", opt->name, spec ? spec : "", err);
		return -1;
	}
	return 0;
}

static int
cb_cidrs(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct cidr c;
	const char *err, *v;

	if (n > CONF_MAX_CIDRS) {
		cfg_error(cfg, "%s: at most %d entries", opt->name, CONF_MAX_CIDRS);
		return -1;
	}
	if (n == 0)
		return 0;
	v = cfg_opt_getnstr(opt, n - 1);
	if (control_char(cfg, opt, v) == -1)
		return -1;
	if (acl_parse(v ? v : "", &c, &err) == -1) {
		cfg_error(cfg, "%s: \"%s\": %s", opt->name, v ? v : "", err);
		return -1;
	}
	return 0;
}

static int
cb_name(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (control_char(cfg, opt, v) == -1)
		return -1;
	if (v != NULL && v[0] == '\0') {
		cfg_error(cfg, "%s: must not be empty (leave it unset instead)", opt->name);
		return -1;
	}
	return 0;
}

static int
cb_pidfile(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *err, *v = cfg_opt_getnstr(opt, 0);

	if (cb_name(cfg, opt) == -1)
		return -1;
	if (v != NULL && conf_check_pidfile(v, &err) == -1) {
		cfg_error(cfg, "%s: %s, got \"%.64s%s\"", opt->name, err, v,
		    strlen(v) > 64 ? "..." : "");
		return -1;
	}
	return 0;
}

static int
cb_metrics_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_size(opt) > CONF_MAX_METRICS_LISTEN) {
		cfg_error(cfg, "%s: at most %d addresses", opt->name,
		    CONF_MAX_METRICS_LISTEN);
		return -1;
	}
	return cb_listen(cfg, opt);
}

/* An absolute path that fits a socket address; "" turns it off. */
static int
cb_control_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (control_char(cfg, opt, v) == -1)
		return -1;
	if (v == NULL || v[0] == '\0')
		return 0;
	if (v[0] != '/') {
		cfg_error(cfg, "%s: must be an absolute path (or \"\" for none), "
		    "got \"%.64s%s\"", opt->name, v, strlen(v) > 64 ? "..." : "");
		return -1;
	}
	if (strlen(v) >= CONF_MAX_SOCKPATH) {
		cfg_error(cfg, "%s: at most %d bytes (a socket address), got "
		    "\"%.64s...\"", opt->name, CONF_MAX_SOCKPATH - 1, v);
		return -1;
	}
	return 0;
}

#define DEFAULT_LISTEN	"{\"0.0.0.0:7\", \"[::]:7\"}"

static cfg_opt_t opts[] = {
	CFG_STR_LIST("listen_tcp", DEFAULT_LISTEN, CFGF_NONE),
	CFG_STR_LIST("listen_udp", DEFAULT_LISTEN, CFGF_NONE),
	CFG_INT_CB("workers", 0, CFGF_NONE, cb_workers),
	CFG_STR("user", NULL, CFGF_NONE),
	CFG_STR("group", NULL, CFGF_NONE),
	CFG_STR("pidfile", NULL, CFGF_NONE),
	CFG_INT_CB("backlog", 1024, CFGF_NONE, cb_range),
	CFG_INT_CB("buffer_size", 64 * 1024, CFGF_NONE, cb_range),
	CFG_INT_CB("max_connections", 8192, CFGF_NONE, cb_range),
	CFG_INT_CB("idle_timeout", 300 * 1000, CFGF_NONE, cb_range),
	CFG_INT_CB("shutdown_timeout", 10 * 1000, CFGF_NONE, cb_range),
	CFG_INT_CB("stop_delay", 0, CFGF_NONE, cb_range),
	CFG_INT_CB("worker_timeout", 10 * 1000, CFGF_NONE, cb_range),
	CFG_BOOL("resolve_clients", cfg_false, CFGF_NONE),
	CFG_INT_CB("log_connections", CONF_LOGCONN_CLOSE, CFGF_NONE,
	    cb_log_connections),
	CFG_STR("log_level", "info", CFGF_NONE),
	CFG_INT_CB("udp_rate_limit", 100, CFGF_NONE, cb_range),
	CFG_INT_CB("udp_rate_burst", 200, CFGF_NONE, cb_range),
	CFG_INT_CB("max_connections_per_source", 0, CFGF_NONE, cb_range),
	CFG_INT_CB("tcp_rate_limit", 2000, CFGF_NONE, cb_range),
	CFG_INT_CB("tcp_rate_burst", 4000, CFGF_NONE, cb_range),
	CFG_INT_CB("log_source_rate", 10, CFGF_NONE, cb_range),
	CFG_INT_CB("log_source_burst", 100, CFGF_NONE, cb_range),
	CFG_INT_CB("log_rate_limit", 200, CFGF_NONE, cb_range),
	CFG_STR_LIST("allow", "{}", CFGF_NONE),
	CFG_STR_LIST("deny", "{}", CFGF_NONE),
	CFG_STR_LIST("proxy_from", "{}", CFGF_NONE),
	CFG_INT_CB("proxy_timeout", 5 * 1000, CFGF_NONE, cb_range),
	CFG_STR("control_socket", CONF_DEFAULT_CONTROL, CFGF_NONE),
	CFG_STR_LIST("metrics_listen", "{}", CFGF_NONE),
	CFG_END()
};

cfg_t *
confschema_new(const char *path, char *err, size_t errlen)
{
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		return NULL;
	errbuf = err;
	errbuflen = errlen;
	errpath = path;
	cfg_set_error_function(cfg, on_error);
	cfg_set_validate_func(cfg, "listen_tcp", cb_listen);
	cfg_set_validate_func(cfg, "listen_udp", cb_listen);
	cfg_set_validate_func(cfg, "log_level", cb_log_level);
	cfg_set_validate_func(cfg, "user", cb_name);
	cfg_set_validate_func(cfg, "group", cb_name);
	cfg_set_validate_func(cfg, "pidfile", cb_pidfile);
	cfg_set_validate_func(cfg, "allow", cb_cidrs);
	cfg_set_validate_func(cfg, "deny", cb_cidrs);
	cfg_set_validate_func(cfg, "proxy_from", cb_cidrs);
	cfg_set_validate_func(cfg, "control_socket", cb_control_socket);
	cfg_set_validate_func(cfg, "metrics_listen", cb_metrics_listen);
	return cfg;
}

_Static_assert(nitems(opts) - 1 == CONFSCHEMA_NKEYS, "CONFSCHEMA_NKEYS");

const char *
confschema_key(size_t i)
{
	return i < CONFSCHEMA_NKEYS ? opts[i].name : NULL;
}

void
confschema_set_path(const char *path)
{
	errpath = path;
}

void
confschema_free(cfg_t *cfg)
{
	if (cfg != NULL)
		cfg_free(cfg);
	errbuf = NULL;
	errpath = NULL;
}
