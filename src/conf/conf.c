/*
 * conf.c - the configuration, and its one way in: conf_read(), which start
 * and reload both call, reads the file, puts the command line over it and
 * looks up what it names (the addresses, the user).  The file is read from
 * one descriptor opened without blocking and refused unless it is a regular
 * file; conftext.c checks the text; libconfuse parses it against
 * confschema.c, whose callbacks judge each value while the parser still
 * knows its line, so every error reads "FILE:LINE: key: reason", with the
 * file's bytes escaped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "confschema.h"
#include "confsrc.h"
#include "conftext.h"
#include "privdrop.h"
#include "util.h"

#define NKEYS	CONFSCHEMA_NKEYS

/*
 * One file's text, ready for libconfuse: a copy, without comments, checked;
 * where each key is set goes in keys[].  NULL with "FILE:LINE: reason" in
 * err, and errno ENOMEM or EINVAL.
 */
static char *
prepare_text(const struct confsrc_file *f, struct conftext_key *keys,
    char *err, size_t errlen)
{
	struct conftext_error e = { 0 };
	char *text;

	if ((text = malloc(f->len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(text, f->text, f->len);
	text[f->len] = '\0';
	/* A UTF-8 byte-order mark (Windows editors write one) is not text. */
	if (f->len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		memset(text, ' ', 3);
	if (conftext_check_nul(text, f->len, &e) == -1 ||
	    conftext_strip(text, &e) == -1 ||
	    conftext_scan(text, keys, NKEYS, &e) == -1) {
		snprintf(err, errlen, "%s:%d: %s%s%s", f->name, e.line, e.key,
		    e.key[0] != '\0' ? ": " : "", e.why);
		free(text);
		errno = EINVAL;
		return NULL;
	}
	return text;
}

/* Says which keys one file sets more than once: the last one wins. */
static int
note_repeats(struct conf *c, const char *file, const struct conftext_key *keys)
{
	char msg[CONF_ERRLEN];

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].count < 2)
			continue;
		if (keys[i].count == 2)
			snprintf(msg, sizeof(msg), "%s:%d: warning: %s: set twice "
			    "(lines %d and %d); line %d wins", file,
			    keys[i].last, keys[i].name, keys[i].first,
			    keys[i].last, keys[i].last);
		else
			snprintf(msg, sizeof(msg), "%s:%d: warning: %s: set %d "
			    "times (first on line %d); line %d wins", file,
			    keys[i].last, keys[i].name, keys[i].count,
			    keys[i].first, keys[i].last);
		if (c->n_warnings >= CONF_MAX_WARNINGS)
			break;
		if ((c->warnings[c->n_warnings] = strdup(msg)) == NULL)
			return -1;
		c->n_warnings++;
	}
	return 0;
}

/* Where each key was set last, over the files read so far. */
static void
note_origins(struct conf_at *at, const char *file,
    const struct conftext_key *keys)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].count > 0)
			at[i] = (struct conf_at){ file, keys[i].last };
}

static struct conf_at
key_at(const struct conf_at *at, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(confschema_key(i), name) == 0)
			return at[i];
	return (struct conf_at){ NULL, 0 };
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

/* *out: a copy of s, or NULL for NULL.  -1: out of memory. */
static int
copy_str(char **out, const char *s)
{
	*out = NULL;
	return s != NULL && (*out = strdup(s)) == NULL ? -1 : 0;
}

/* A string list: all of it, or nothing (NULL: out of memory). */
static char **
copy_list(cfg_t *cfg, const char *name, size_t *n)
{
	unsigned count = cfg_size(cfg, name);
	char **v = calloc(count + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (unsigned i = 0; i < count; i++) {
		if ((v[i] = strdup(cfg_getnstr(cfg, name, i))) == NULL) {
			free_list(v, i);
			return NULL;
		}
	}
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

/* Copies what libconfuse parsed into c.  -1: out of memory (conf_free()
 * takes what was copied). */
static int
copy_out(struct conf *c, cfg_t *cfg, const struct conf_at *at)
{
	const char *why;

	c->at_listen_tcp = key_at(at, "listen_tcp");
	c->at_listen_udp = key_at(at, "listen_udp");
	/* the one read last: a later file, or a later line of the same */
	c->at_listen = c->at_listen_udp.file == NULL ? c->at_listen_tcp :
	    c->at_listen_tcp.file == NULL ? c->at_listen_udp :
	    c->at_listen_tcp.file != c->at_listen_udp.file ?
	    (strcmp(c->at_listen_tcp.file, c->at_listen_udp.file) > 0 ?
	    c->at_listen_tcp : c->at_listen_udp) :
	    c->at_listen_tcp.line > c->at_listen_udp.line ?
	    c->at_listen_tcp : c->at_listen_udp;
	c->at_metrics_listen = key_at(at, "metrics_listen");
	c->at_user = key_at(at, "user");
	c->at_group = key_at(at, "group");
	c->workers = (int)cfg_getint(cfg, "workers");
	c->backlog = (int)cfg_getint(cfg, "backlog");
	c->buffer_size = (size_t)cfg_getint(cfg, "buffer_size");
	c->max_connections = (int)cfg_getint(cfg, "max_connections");
	c->idle_timeout_ms = (uint64_t)cfg_getint(cfg, "idle_timeout");
	c->shutdown_timeout_ms = (uint64_t)cfg_getint(cfg, "shutdown_timeout");
	c->stop_delay_ms = (uint64_t)cfg_getint(cfg, "stop_delay");
	c->worker_timeout_ms = (uint64_t)cfg_getint(cfg, "worker_timeout");
	c->resolve_clients = cfg_getbool(cfg, "resolve_clients");
	c->log_connections = (enum conf_logconn)cfg_getint(cfg, "log_connections");
	/* judged by the schema already */
	(void)conf_parse_log_level(cfg_getstr(cfg, "log_level"), &c->log_level,
	    &why);
	c->udp_rate_limit = (uint32_t)cfg_getint(cfg, "udp_rate_limit");
	c->udp_rate_burst = (uint32_t)cfg_getint(cfg, "udp_rate_burst");
	c->max_connections_per_source =
	    (uint32_t)cfg_getint(cfg, "max_connections_per_source");
	c->tcp_rate_limit = (uint32_t)cfg_getint(cfg, "tcp_rate_limit");
	c->tcp_rate_burst = (uint32_t)cfg_getint(cfg, "tcp_rate_burst");
	c->log_source_rate = (uint32_t)cfg_getint(cfg, "log_source_rate");
	c->log_source_burst = (uint32_t)cfg_getint(cfg, "log_source_burst");
	c->log_rate_limit = (uint32_t)cfg_getint(cfg, "log_rate_limit");
	c->proxy_timeout_ms = (uint64_t)cfg_getint(cfg, "proxy_timeout");
	if (copy_str(&c->user, cfg_getstr(cfg, "user")) == -1 ||
	    copy_str(&c->group, cfg_getstr(cfg, "group")) == -1 ||
	    copy_str(&c->pidfile, cfg_getstr(cfg, "pidfile")) == -1 ||
	    (c->listen_tcp = copy_list(cfg, "listen_tcp", &c->n_listen_tcp)) == NULL ||
	    (c->listen_udp = copy_list(cfg, "listen_udp", &c->n_listen_udp)) == NULL ||
	    (c->allow = copy_cidrs(cfg, "allow", &c->n_allow)) == NULL ||
	    (c->deny = copy_cidrs(cfg, "deny", &c->n_deny)) == NULL ||
	    (c->proxy_from = copy_cidrs(cfg, "proxy_from",
	    &c->n_proxy_from)) == NULL ||
	    (c->metrics_listen = copy_list(cfg, "metrics_listen",
	    &c->n_metrics_listen)) == NULL)
		return -1;
	/* "" turns it off */
	if (cfg_getstr(cfg, "control_socket")[0] != '\0' &&
	    copy_str(&c->control_socket, cfg_getstr(cfg, "control_socket")) == -1)
		return -1;
	return 0;
}

/* Each file over the last: a key a later file sets replaces its value
 * (a list, all of it).  0, or -1 with err and errno. */
static int
parse_files(struct conf *c, cfg_t *cfg, const struct confsrc *src,
    struct conf_at *at, char *err, size_t errlen)
{
	for (size_t f = 0; f < src->n; f++) {
		struct conftext_key keys[NKEYS];
		const char *name = src->v[f].name;
		char *text;
		int rc;

		for (size_t i = 0; i < NKEYS; i++)
			keys[i] = (struct conftext_key){ .name = confschema_key(i) };
		/* libconfuse 3.3 counts a comment's line twice; without
		 * comments its line numbers are right. */
		if ((text = prepare_text(&src->v[f], keys, err, errlen)) == NULL)
			return -1;
		confschema_set_path(name);
		rc = cfg_parse_buf(cfg, text);
		free(text);
		if (rc != CFG_SUCCESS) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s: parse error", name);
			errno = EINVAL;
			return -1;
		}
		note_origins(at, name, keys);
		if (note_repeats(c, name, keys) == -1) {
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

struct conf *
conf_parse(struct confsrc *src, const char *path, char *err, size_t errlen)
{
	struct conf_at at[NKEYS] = { { NULL, 0 } };
	struct conf *c = NULL;
	cfg_t *cfg;
	int fail = ENOMEM;	/* errno, if it fails */

	err[0] = '\0';
	if ((cfg = confschema_new(NULL, err, errlen)) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL ||
	    (c->warnings = calloc(CONF_MAX_WARNINGS + 1, sizeof(char *))) == NULL ||
	    copy_str(&c->path, path) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* the names at[] points to live as long as c */
	c->src = *src;
	memset(src, 0, sizeof(*src));
	if (parse_files(c, cfg, &c->src, at, err, errlen) == -1) {
		fail = errno;
		goto fail;
	}
	if (copy_out(c, cfg, at) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (c->group != NULL && c->user == NULL) {
		/* group applies only with user: alone it would be ignored */
		snprintf(err, errlen, "%s:%d: group: set without user: the "
		    "workers would keep the master's user and group",
		    conf_at_file(c, c->at_group), c->at_group.line);
		fail = EINVAL;
		goto fail;
	}
	confschema_free(cfg);
	return c;
fail:
	confschema_free(cfg);
	conf_free(c);
	confsrc_free(src);
	{
		/* the file's bytes, quoted in err, must not reach a terminal
		 * or the log as they are */
		char raw[CONF_ERRLEN];
		snprintf(raw, sizeof(raw), "%s", err);
		conftext_escape(raw, err, errlen);
	}
	errno = fail;
	return NULL;
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct confsrc src = { NULL, 0 };

	if (path != NULL && confsrc_read(path, &src, err, errlen) == -1) {
		int saved = errno;
		char raw[CONF_ERRLEN];
		snprintf(raw, sizeof(raw), "%s", err);
		conftext_escape(raw, err, errlen);
		errno = saved;
		return NULL;
	}
	return conf_parse(&src, path, err, errlen);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->fallback);
	confsrc_free(&c->src);
	free_list(c->listen_tcp, c->n_listen_tcp);
	free_list(c->listen_udp, c->n_listen_udp);
	free(c->user);
	free(c->group);
	free(c->pidfile);
	free(c->allow);
	free(c->deny);
	free(c->proxy_from);
	free(c->control_socket);
	free_list(c->metrics_listen, c->n_metrics_listen);
	free_list(c->warnings, c->n_warnings);
	free(c);
}

/* -l's addresses, as a list of the file's kind (NULL: out of memory). */
static char **
copy_specs(const struct conf_overrides *o)
{
	char **v = calloc(o->n_listen + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < o->n_listen; i++) {
		if ((v[i] = strdup(o->listen[i])) == NULL) {
			free_list(v, i);
			return NULL;
		}
	}
	return v;
}

int
conf_override(struct conf *c, const struct conf_overrides *o,
    char *err, size_t errlen)
{
	char **tcp = NULL, **udp = NULL, *pidfile = NULL;

	/* Judged on what will run: the lists are empty only if the file
	 * emptied both and no -l is given (socket activation or not: see
	 * echod.conf(5)). */
	if (o->n_listen == 0 && c->n_listen_tcp == 0 && c->n_listen_udp == 0) {
		snprintf(err, errlen, "%s:%d: listen_tcp and listen_udp are both "
		    "empty: echod would listen on nothing",
		    conf_at_file(c, c->at_listen), c->at_listen.line);
		errno = EINVAL;
		return -1;
	}
	/* Every copy first: on failure, c stays as it was. */
	if ((o->n_listen > 0 && ((tcp = copy_specs(o)) == NULL ||
	    (udp = copy_specs(o)) == NULL)) ||
	    copy_str(&pidfile, o->pidfile) == -1) {
		free_list(tcp, o->n_listen);
		free_list(udp, o->n_listen);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	if (tcp != NULL) {
		free_list(c->listen_tcp, c->n_listen_tcp);
		free_list(c->listen_udp, c->n_listen_udp);
		c->listen_tcp = tcp;
		c->listen_udp = udp;
		c->n_listen_tcp = c->n_listen_udp = o->n_listen;
		c->listen_cmdline = true;
	}
	if (pidfile != NULL) {
		free(c->pidfile);
		c->pidfile = pidfile;
	}
	if (o->workers >= 0)
		c->workers = o->workers;
	if (o->debug)
		c->log_level = LOG_DEBUG;
	return 0;
}


/* conf_read()'s steps after the files: warnings, the command line, the
 * names looked up. */
static enum conf_status
finish(struct conf *c, const struct conf_overrides *o, bool activated,
    void (*warn)(const char *), struct conf **out, char *err, size_t errlen)
{
	for (size_t i = 0; warn != NULL && i < c->n_warnings; i++)
		warn(c->warnings[i]);
	if (conf_override(c, o, err, errlen) == -1) {
		enum conf_status st = errno == ENOMEM ? CONF_FAILED : CONF_INVALID;
		conf_free(c);
		return st;
	}
	/* the addresses echod binds: not the echo ones systemd passes */
	if (conf_resolve_listen(c, activated, err, errlen) == -1 ||
	    conf_resolve_user(c, &c->creds, err, errlen) == -1 ||
	    conf_check_metrics_user(c, geteuid(), err, errlen) == -1) {
		conf_free(c);
		return CONF_INVALID;
	}
	*out = c;
	return CONF_OK;
}

enum conf_status
conf_read(const char *path, const struct conf_overrides *o, bool activated,
    void (*warn)(const char *), struct conf **out, char *err, size_t errlen)
{
	struct conf *c;

	*out = NULL;
	if ((c = conf_load(path, err, errlen)) == NULL)
		return errno == ENOMEM ? CONF_FAILED : CONF_INVALID;
	return finish(c, o, activated, warn, out, err, errlen);
}

enum conf_status
conf_read_src(struct confsrc *src, const char *path,
    const struct conf_overrides *o, bool activated, void (*warn)(const char *),
    struct conf **out, char *err, size_t errlen)
{
	struct conf *c;

	*out = NULL;
	if ((c = conf_parse(src, path, err, errlen)) == NULL)
		return errno == ENOMEM ? CONF_FAILED : CONF_INVALID;
	return finish(c, o, activated, warn, out, err, errlen);
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

const struct listen_spec *
conf_echo_listen(const struct conf *c, struct listen_spec *out)
{
	*out = (struct listen_spec){
		.tcp = c->listen_tcp, .n_tcp = c->n_listen_tcp,
		.udp = c->listen_udp, .n_udp = c->n_listen_udp,
		.backlog = c->backlog,
	};
	return out;
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
