/*
 * conf.c - the configuration file.  It is read from one descriptor opened
 * without blocking and refused unless it is a regular file; conftext.c
 * checks the text; libconfuse parses; our rules judge each value while the
 * parser still knows its line, so every error reads "FILE:LINE: key:
 * reason", with the file's bytes escaped.  The rules are pure functions.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <confuse.h>

#include "addr.h"
#include "conf.h"
#include "conftext.h"
#include "privdrop.h"
#include "util.h"

/* Ranges, as the messages and echod.conf(5) state them. */
#define BUFFER_MIN	1024
#define BUFFER_MAX	(16 * 1024 * 1024)
#define BACKLOG_MAX	65535
#define MAXCONN_MAX	1000000
#define MS_S		1000ULL
#define MS_DAY		(86400 * MS_S)

static const struct level {
	const char	*name;
	int		 pri;
} levels[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

/*
 * Splits "16k" into 16 and "k"; -1 if there is no leading number, 1 (and
 * UINT64_MAX) if it does not fit in 64 bits: too large, not "not a number".
 */
static int
split_number(const char *s, uint64_t *num, const char **unit)
{
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	*num = errno == ERANGE ? UINT64_MAX : v;
	*unit = end;
	return errno == ERANGE;
}

struct unit {
	const char	*name;
	uint64_t	 mul;
};

/* A number with one of units after it; the errors are the caller's words. */
static int
parse_scaled(const char *s, const struct unit *units, size_t nunits,
    uint64_t *out, const char **err, const char *what, const char *too_large)
{
	uint64_t n;
	const char *unit;
	int rc;

	*err = what;
	if ((rc = split_number(s, &n, &unit)) == -1)
		return -1;
	for (size_t i = 0; i < nunits; i++) {
		if (strcmp(unit, units[i].name) != 0)
			continue;
		if (rc == 1 || n > UINT64_MAX / units[i].mul) {
			*err = too_large;
			return -1;
		}
		*out = n * units[i].mul;
		*err = NULL;
		return 0;
	}
	return -1;
}

int
conf_parse_size(const char *s, uint64_t *out, const char **err)
{
	static const struct unit units[] = {
		{ "", 1 }, { "k", 1024 }, { "K", 1024 }, { "m", 1024 * 1024 },
		{ "M", 1024 * 1024 }, { "g", 1024ULL * 1024 * 1024 },
		{ "G", 1024ULL * 1024 * 1024 },
	};

	return parse_scaled(s, units, nitems(units), out, err,
	    "not a size (write 16384, 16k or 1m)", "size too large");
}

int
conf_parse_duration(const char *s, uint64_t *ms, const char **err)
{
	static const struct unit units[] = {
		{ "", MS_S }, { "ms", 1 }, { "s", MS_S }, { "m", 60 * MS_S },
		{ "h", 3600 * MS_S }, { "d", MS_DAY },
	};

	return parse_scaled(s, units, nitems(units), ms, err,
	    "not a duration (write 10, 10s, 250ms, 5m or 1h)", "duration too large");
}

int
conf_parse_workers(const char *s, int *out, const char **err)
{
	uint64_t n;
	const char *unit;

	*err = "must be 1..1024 or auto";
	if (s != NULL && strcmp(s, "auto") == 0) {
		*out = 0;
		*err = NULL;
		return 0;
	}
	if (split_number(s, &n, &unit) == -1 || *unit != '\0' ||
	    n < 1 || n > CONF_MAX_WORKERS)
		return -1;
	*out = (int)n;
	*err = NULL;
	return 0;
}

int
conf_parse_log_level(const char *s, int *out, const char **err)
{
	for (size_t i = 0; i < nitems(levels); i++) {
		if (s != NULL && strcmp(s, levels[i].name) == 0) {
			*out = levels[i].pri;
			*err = NULL;
			return 0;
		}
	}
	*err = "must be err, warning, notice, info or debug";
	return -1;
}

/*
 * Past addr_split(): what getaddrinfo() would take but not mean ("+7" is
 * port 7, "[127.0.0.1]" an IPv4 address) or would only refuse at start
 * ("7 ", "-1", "a b").  A name is looked up by conf_resolve_listen().
 */
int
conf_check_listen(const char *spec, const char **err)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
	char host[256], port[32], *pct;
	struct in6_addr a6;

	if (addr_split(spec, host, sizeof(host), port, sizeof(port), err) == -1)
		return -1;
	if (isdigit((unsigned char)port[0]) ?
	    strspn(port, "0123456789") != strlen(port) :
	    !isalpha((unsigned char)port[0]) ||
	    strspn(port, name_chars) != strlen(port)) {
		*err = "port must be a number 0..65535 or a service name";
		return -1;
	}
	if (spec[0] == '[') {
		if ((pct = strchr(host, '%')) != NULL)
			*pct = '\0';	/* a scope: "[fe80::1%eth0]:7" */
		if (inet_pton(AF_INET6, host, &a6) != 1 ||
		    (pct != NULL && pct[1] == '\0')) {
			*err = "brackets must hold an IPv6 address";
			return -1;
		}
		/* IPv6 sockets are IPV6_V6ONLY here: bind() would say EINVAL */
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			*err = "an IPv4-mapped IPv6 address cannot be bound (IPv6 "
			    "sockets are IPv6-only): write the IPv4 address";
			return -1;
		}
	} else if (strspn(host, name_chars) != strlen(host) ||
	    host[0] == '-' || host[0] == '.') {
		*err = "not a host name or an IPv4 address";
		return -1;
	}
	return 0;
}

int
conf_check_pidfile(const char *path, const char **err)
{
	if (path[0] != '/') {
		*err = "must be an absolute path";
		return -1;
	}
	if (strlen(path) > CONF_MAX_PATH) {
		*err = "too long (at most 4088 bytes)";
		return -1;
	}
	return 0;
}

/* ---- libconfuse glue ------------------------------------------------- */

static char		*errbuf;	/* where the current conf_load() puts its error */
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
	{ "worker_timeout", MS_S, 3600 * MS_S, "1s..1h", conf_parse_duration },
	{ "udp_rate_limit", 0, 1000000, "0..1000000", NULL },
	{ "udp_rate_burst", 1, 1000000, "1..1000000", NULL },
	{ "max_connections_per_source", 0, 1000000, "0..1000000", NULL },
};

static int
parse_plain(const char *s, uint64_t *out, const char **err)
{
	const char *unit;

	*err = "not a number";
	if (split_number(s, out, &unit) == -1 || *unit != '\0')
		return -1;
	*err = NULL;
	return 0;
}

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
	if ((r->parse ? r->parse : parse_plain)(value, &v, &err) == -1) {
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

#define DEFAULT_LISTEN	"{\"0.0.0.0:7\", \"[::]:7\"}"

static cfg_opt_t opts[] = {
	CFG_STR_LIST("listen_tcp", DEFAULT_LISTEN, CFGF_NONE),
	CFG_STR_LIST("listen_udp", DEFAULT_LISTEN, CFGF_NONE),
	CFG_INT_CB("workers", 0, CFGF_NONE, cb_workers),
	CFG_STR("user", NULL, CFGF_NONE),
	CFG_STR("group", NULL, CFGF_NONE),
	CFG_STR("pidfile", NULL, CFGF_NONE),
	CFG_INT_CB("backlog", 1024, CFGF_NONE, cb_range),
	CFG_INT_CB("buffer_size", 16 * 1024, CFGF_NONE, cb_range),
	CFG_INT_CB("max_connections", 8192, CFGF_NONE, cb_range),
	CFG_INT_CB("idle_timeout", 300 * 1000, CFGF_NONE, cb_range),
	CFG_INT_CB("shutdown_timeout", 10 * 1000, CFGF_NONE, cb_range),
	CFG_INT_CB("worker_timeout", 10 * 1000, CFGF_NONE, cb_range),
	CFG_BOOL("resolve_clients", cfg_false, CFGF_NONE),
	CFG_BOOL("log_connections", cfg_true, CFGF_NONE),
	CFG_STR("log_level", "info", CFGF_NONE),
	CFG_INT_CB("udp_rate_limit", 100, CFGF_NONE, cb_range),
	CFG_INT_CB("udp_rate_burst", 200, CFGF_NONE, cb_range),
	CFG_INT_CB("max_connections_per_source", 0, CFGF_NONE, cb_range),
	CFG_STR_LIST("allow", "{}", CFGF_NONE),
	CFG_STR_LIST("deny", "{}", CFGF_NONE),
	CFG_END()
};
#define NKEYS	(nitems(opts) - 1)

static cfg_t *
schema(void)
{
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		return NULL;
	cfg_set_error_function(cfg, on_error);
	cfg_set_validate_func(cfg, "listen_tcp", cb_listen);
	cfg_set_validate_func(cfg, "listen_udp", cb_listen);
	cfg_set_validate_func(cfg, "log_level", cb_log_level);
	cfg_set_validate_func(cfg, "user", cb_name);
	cfg_set_validate_func(cfg, "group", cb_name);
	cfg_set_validate_func(cfg, "pidfile", cb_pidfile);
	cfg_set_validate_func(cfg, "allow", cb_cidrs);
	cfg_set_validate_func(cfg, "deny", cb_cidrs);
	return cfg;
}

static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a file";
}

/*
 * The whole of a regular file, NUL-terminated, its length in *len.  What is
 * not a regular file is refused before it is opened: opening a device can
 * act (a watchdog starts counting, a tape rewinds) and a FIFO would hang a
 * reload in open().  Then opened without blocking, judged again through the
 * descriptor (the name may have changed meanwhile) and read through it,
 * never by name again.  NULL with "FILE: reason" in err.
 */
static char *
read_regular(const char *path, size_t *len, char *err, size_t errlen)
{
	enum { MAX = CONF_MAX_SIZE };
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd = -1;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(st.st_mode));
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(st.st_mode));
		goto fail;
	}
	if (st.st_size > MAX) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		goto fail;
	}
	if ((buf = malloc(MAX + 1)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, MAX + 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		if ((n += (size_t)r) > MAX) {
			snprintf(err, errlen, "%s: larger than 1 MiB", path);
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/*
 * The file's text, ready for libconfuse: read, without comments, checked;
 * where each key is set goes in keys[].  NULL with "FILE:LINE: reason".
 */
static char *
load_text(const char *path, struct conftext_key *keys, char *err,
    size_t errlen)
{
	struct conftext_error e = { 0 };
	size_t len;
	char *text;

	if ((text = read_regular(path, &len, err, errlen)) == NULL)
		return NULL;
	/* A UTF-8 byte-order mark (Windows editors write one) is not text. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		memset(text, ' ', 3);
	if (conftext_check_nul(text, len, &e) == -1 ||
	    conftext_strip(text, &e) == -1 ||
	    conftext_scan(text, keys, NKEYS, &e) == -1) {
		snprintf(err, errlen, "%s:%d: %s%s%s", path, e.line, e.key,
		    e.key[0] != '\0' ? ": " : "", e.why);
		free(text);
		return NULL;
	}
	return text;
}

/* Says which keys the file sets more than once: the last one wins. */
static int
note_repeats(struct conf *c, const struct conftext_key *keys)
{
	char msg[CONF_ERRLEN];

	if ((c->warnings = calloc(NKEYS, sizeof(char *))) == NULL)
		return -1;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].count < 2)
			continue;
		if (keys[i].count == 2)
			snprintf(msg, sizeof(msg), "%s:%d: warning: %s: set twice "
			    "(lines %d and %d); line %d wins", c->path,
			    keys[i].last, keys[i].name, keys[i].first,
			    keys[i].last, keys[i].last);
		else
			snprintf(msg, sizeof(msg), "%s:%d: warning: %s: set %d "
			    "times (first on line %d); line %d wins", c->path,
			    keys[i].last, keys[i].name, keys[i].count,
			    keys[i].first, keys[i].last);
		if ((c->warnings[c->n_warnings] = strdup(msg)) == NULL)
			return -1;
		c->n_warnings++;
	}
	return 0;
}

static int
key_line(const struct conftext_key *keys, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return keys[i].last;
	return 0;
}

static char *
xstrdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char **
copy_list(cfg_t *cfg, const char *name, size_t *n)
{
	unsigned count = cfg_size(cfg, name);
	char **v = calloc(count + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (unsigned i = 0; i < count; i++)
		if ((v[i] = strdup(cfg_getnstr(cfg, name, i))) == NULL)
			return NULL;	/* conf_free() takes what was copied */
	*n = count;
	return v;
}

/* Already validated: parse each entry of a CIDR list. */
static struct cidr *
copy_cidrs(cfg_t *cfg, const char *name, size_t *n)
{
	unsigned count = cfg_size(cfg, name);
	struct cidr *v = calloc(count + 1, sizeof(*v));
	const char *err;

	if (v == NULL)
		return NULL;
	for (unsigned i = 0; i < count; i++)
		(void)acl_parse(cfg_getnstr(cfg, name, i), &v[i], &err);
	*n = count;
	return v;
}

static void
free_list(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conftext_key keys[NKEYS];
	struct conf *c = NULL;
	char *text = NULL;
	cfg_t *cfg;
	int rc;

	err[0] = '\0';
	errbuf = err;
	errbuflen = errlen;
	errpath = path;
	for (size_t i = 0; i < NKEYS; i++)
		keys[i] = (struct conftext_key){ .name = opts[i].name };
	if ((cfg = schema()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* libconfuse 3.3 counts a comment's line twice; without comments
	 * its line numbers are right. */
	if (path != NULL &&
	    (text = load_text(path, keys, err, errlen)) == NULL)
		goto done;
	rc = text ? cfg_parse_buf(cfg, text) : CFG_SUCCESS;
	if (rc != CFG_SUCCESS) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: parse error", path);
		goto done;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	c->line_listen_tcp = key_line(keys, "listen_tcp");
	c->line_listen_udp = key_line(keys, "listen_udp");
	c->line_listen = c->line_listen_tcp > c->line_listen_udp ?
	    c->line_listen_tcp : c->line_listen_udp;
	c->line_user = key_line(keys, "user");
	c->line_group = key_line(keys, "group");
	c->path = xstrdup_or_null(path);
	c->listen_tcp = copy_list(cfg, "listen_tcp", &c->n_listen_tcp);
	c->listen_udp = copy_list(cfg, "listen_udp", &c->n_listen_udp);
	c->workers = (int)cfg_getint(cfg, "workers");
	c->user = xstrdup_or_null(cfg_getstr(cfg, "user"));
	c->group = xstrdup_or_null(cfg_getstr(cfg, "group"));
	c->pidfile = xstrdup_or_null(cfg_getstr(cfg, "pidfile"));
	c->backlog = (int)cfg_getint(cfg, "backlog");
	c->buffer_size = (size_t)cfg_getint(cfg, "buffer_size");
	c->max_connections = (int)cfg_getint(cfg, "max_connections");
	c->idle_timeout_ms = (uint64_t)cfg_getint(cfg, "idle_timeout");
	c->shutdown_timeout_ms = (uint64_t)cfg_getint(cfg, "shutdown_timeout");
	c->worker_timeout_ms = (uint64_t)cfg_getint(cfg, "worker_timeout");
	c->resolve_clients = cfg_getbool(cfg, "resolve_clients");
	c->log_connections = cfg_getbool(cfg, "log_connections");
	{
		const char *e;
		(void)conf_parse_log_level(cfg_getstr(cfg, "log_level"), &c->log_level, &e);
	}
	c->udp_rate_limit = (uint32_t)cfg_getint(cfg, "udp_rate_limit");
	c->udp_rate_burst = (uint32_t)cfg_getint(cfg, "udp_rate_burst");
	c->max_connections_per_source =
	    (uint32_t)cfg_getint(cfg, "max_connections_per_source");
	c->allow = copy_cidrs(cfg, "allow", &c->n_allow);
	c->deny = copy_cidrs(cfg, "deny", &c->n_deny);
	if (c->listen_tcp == NULL || c->listen_udp == NULL ||
	    c->allow == NULL || c->deny == NULL ||
	    (path && c->path == NULL) || note_repeats(c, keys) == -1) {
		snprintf(err, errlen, "out of memory");
		conf_free(c);
		c = NULL;
	} else if (c->group != NULL && c->user == NULL) {
		/* group applies only with user: alone it would be ignored */
		snprintf(err, errlen, "%s:%d: group: set without user: the "
		    "workers would keep the master's user and group", path,
		    c->line_group);
		conf_free(c);
		c = NULL;
	}
done:
	if (cfg)
		cfg_free(cfg);
	free(text);
	errbuf = NULL;
	errpath = NULL;
	if (c == NULL) {
		/* the file's bytes, quoted in err, must not reach a terminal
		 * or the log as they are */
		char raw[CONF_ERRLEN];
		snprintf(raw, sizeof(raw), "%s", err);
		conftext_escape(raw, err, errlen);
	}
	return c;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free_list(c->listen_tcp, c->n_listen_tcp);
	free_list(c->listen_udp, c->n_listen_udp);
	free(c->user);
	free(c->group);
	free(c->pidfile);
	free(c->allow);
	free(c->deny);
	free_list(c->warnings, c->n_warnings);
	free(c);
}

int
conf_override(struct conf *c, const struct conf_overrides *o,
    char *err, size_t errlen)
{
	const char *why;

	if (o->n_listen > 0) {
		char **tcp = calloc(o->n_listen + 1, sizeof(char *));
		char **udp = calloc(o->n_listen + 1, sizeof(char *));
		if (tcp == NULL || udp == NULL) {
			free(tcp);
			free(udp);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < o->n_listen; i++) {
			if (conf_check_listen(o->listen[i], &why) == -1) {
				snprintf(err, errlen, "-l %s: %s", o->listen[i], why);
				free_list(tcp, i);
				free_list(udp, i);
				return -1;
			}
			if ((tcp[i] = strdup(o->listen[i])) == NULL ||
			    (udp[i] = strdup(o->listen[i])) == NULL) {
				snprintf(err, errlen, "out of memory");
				free_list(tcp, i + 1);
				free_list(udp, i + 1);
				return -1;
			}
		}
		free_list(c->listen_tcp, c->n_listen_tcp);
		free_list(c->listen_udp, c->n_listen_udp);
		c->listen_tcp = tcp;
		c->listen_udp = udp;
		c->n_listen_tcp = c->n_listen_udp = o->n_listen;
		c->listen_cmdline = true;
	}
	if (o->workers >= 0)
		c->workers = o->workers;
	if (o->pidfile != NULL) {
		free(c->pidfile);
		c->pidfile = strdup(o->pidfile);
	}
	if (o->debug)
		c->log_level = LOG_DEBUG;
	/* Checked on what will run, after -l: the lists are empty only if
	 * the file emptied both (socket activation or not: see echod.conf(5)). */
	if (c->n_listen_tcp == 0 && c->n_listen_udp == 0) {
		snprintf(err, errlen, "%s:%d: listen_tcp and listen_udp are both "
		    "empty: echod would listen on nothing",
		    c->path ? c->path : "(built-in)", c->line_listen);
		return -1;
	}
	return 0;
}

int
conf_resolve_user(const struct conf *c, struct creds *out, char *err,
    size_t errlen)
{
	char why[CONF_ERRLEN], name[128];
	const char *which, *v;
	struct creds scratch;

	if (c->user == NULL)
		return 0;
	if (strlen(c->user) >= sizeof(scratch.user)) {
		/* struct creds keeps the name for initgroups(): never cut it */
		which = "user";
		snprintf(why, sizeof(why), "too long (at most %zu bytes)",
		    sizeof(scratch.user) - 1);
	} else if (privdrop_resolve(c->user, c->group, out ? out : &scratch,
	    &which, why, sizeof(why)) == 0)
		return 0;
	v = strcmp(which, "group") == 0 ? c->group : c->user;
	if (strspn(v, "0123456789") == strlen(v) && strncmp(why, "no such", 7) == 0)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " (write "
		    "its name: a numeric id is not looked up)");
	conftext_escape(v, name, sizeof(name));
	snprintf(err, errlen, "%s:%d: %s: \"%s\": %s",
	    c->path ? c->path : "(built-in)",
	    strcmp(which, "group") == 0 ? c->line_group : c->line_user, which,
	    name, why);
	return -1;
}

/* Where a listen spec came from, for a message: "FILE:LINE: key" or "-l". */
static void
listen_origin(const struct conf *c, const char *key, int line, char *out,
    size_t outlen)
{
	if (c->listen_cmdline)
		snprintf(out, outlen, "-l");
	else
		snprintf(out, outlen, "%s:%d: %s", c->path ? c->path : "(built-in)",
		    line, key);
}

int
conf_resolve_listen(const struct conf *c, char *err, size_t errlen)
{
	const struct {
		const char	*key;
		char	*const	*v;
		size_t		 n;
		int		 socktype, line;
	} lists[] = {
		{ "listen_tcp", c->listen_tcp, c->n_listen_tcp, SOCK_STREAM,
		    c->line_listen_tcp },
		{ "listen_udp", c->listen_udp, c->n_listen_udp, SOCK_DGRAM,
		    c->line_listen_udp },
	};

	for (size_t l = 0; l < nitems(lists); l++) {
		for (size_t i = 0; i < lists[l].n; i++) {
			/* the same question listen.c asks before it binds */
			struct addrinfo hints = { .ai_family = AF_UNSPEC,
			    .ai_socktype = lists[l].socktype, .ai_flags = AI_PASSIVE };
			struct addrinfo *res;
			char host[256], port[32], where[CONF_ERRLEN], spec[300];
			const char *why;
			int rc;

			if (addr_split(lists[l].v[i], host, sizeof(host), port,
			    sizeof(port), &why) == -1)
				rc = 0;	/* conf_check_listen() said so already */
			else if ((rc = getaddrinfo(host[0] ? host : NULL, port,
			    &hints, &res)) == 0) {
				freeaddrinfo(res);
				continue;
			}
			if (rc == EAI_SERVICE)
				why = "no such service (see /etc/services)";
			else if (rc == EAI_SYSTEM)
				why = strerror(errno);
			else if (rc != 0)
				why = gai_strerror(rc);
			listen_origin(c, lists[l].key, lists[l].line, where,
			    sizeof(where));
			conftext_escape(lists[l].v[i], spec, sizeof(spec));
			snprintf(err, errlen, "%s: \"%s\": %s", where, spec, why);
			return -1;
		}
	}
	return 0;
}

const char *
conf_choose(const char *given, const char *dflt)
{
	struct stat st;

	if (given != NULL)
		return given;
	if (lstat(dflt, &st) == -1 && errno == ENOENT)
		return NULL;
	return dflt;
}

int
conf_workers(const struct conf *c)
{
	long n;

	if (c->workers > 0)
		return c->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > CONF_MAX_WORKERS ? CONF_MAX_WORKERS : (int)n;
}
