/*
 * observe.c - the master's side of --status and the metrics: opening,
 * reloading and closing the control socket and the metrics sockets, and
 * the control socket's answer, a snapshot of the counters (stats.h)
 * rendered by render.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctlrecord.h"
#include "render.h"
#include "log.h"
#include "observe.h"
#include "stats.h"
#include "util.h"

static void
note_metrics(bool added, const struct listener *l)
{
	log_info("%s %s", added ? "metrics on" : "no more metrics on", l->name);
}

static void
status(void *arg, bool json, struct render_buf *out)
{
	struct observe *o = arg;
	const struct conf *c = o->conf;
	struct render_fallback fb = {
		.file = c->path ? c->path : "the file", .reason = c->fallback,
	};
	const struct render_fallback *fp = c->fallback != NULL ? &fb : NULL;

	if (stats_read(o->page, o->snap) == -1)
		render_buf_printf(out, "error: the counters are busy; try again\n");
	else if (json)
		(void)render_json(o->snap, fp, now_wall_ms(), out);
	else
		(void)render_text(o->snap, fp, now_wall_ms(), out);
}

/* Out of descriptors, the control socket rests (reqsrv.c): said once per
 * spell, and again when it answers. */
static void
control_starved(void *arg, int err, uint64_t rests)
{
	const struct control *c = arg;

	if (err != 0)
		log_warnx("control socket %s: accept: %s; trying again every "
		    "%d ms", c->path, strerror(err), REQSRV_REST_MS);
	else
		log_notice("control socket %s: accepting again, after %llu "
		    "tries", c->path, (unsigned long long)rests);
}

/* --status finds the socket through the record whatever the file says
 * later; without it, only through the file. */
static void
record_control(const char *path, const struct conf *c)
{
	if (ctlrecord_write(path, c->src.n > 0 ? c->src.v[0].name : NULL) == -1)
		log_warn("recording the control socket in %s", ctlrecord_path());
}

/* Where its directory cannot be made or another echod answers there, echod
 * runs without one: said once, never fatal. */
static void
open_control(struct observe *o, const struct conf *c)
{
	char err[CONF_ERRLEN];

	if (c->control_socket == NULL)
		return;
	if (control_open(&o->ctl, c->control_socket,
	    c->user != NULL ? &c->creds : NULL, err, sizeof(err)) == -1)
		log_warnx("%s; running without a control socket", err);
	else
		record_control(c->control_socket, c);
}

int
observe_open(struct observe *o, const struct conf *c,
    const struct chan_page *page, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->page = page;
	o->conf = c;
	control_init(&o->ctl, status, o);
	o->ctl.srv.starved = control_starved;
	metrics_init(&o->metrics);
	if ((o->snap = malloc(sizeof(*o->snap))) == NULL) {
		snprintf(err, errlen, "status snapshot: %s", strerror(errno));
		return -1;
	}
	if (metrics_reconcile(&o->metrics, c, note_metrics, err, errlen) == -1) {
		free(o->snap);
		o->snap = NULL;
		return -1;
	}
	open_control(o, c);
	return 0;
}

static bool
differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* The control socket is the user's: a new user's --status must reach it. */
static bool
owner_changed(const struct conf *old, const struct conf *c)
{
	if ((old->user == NULL) != (c->user == NULL))
		return true;
	return c->user != NULL && (old->creds.uid != c->creds.uid ||
	    old->creds.gid != c->creds.gid);
}

static void
reown_control(struct observe *o, const struct conf *c)
{
	char err[CONF_ERRLEN];

	if (control_reown(&o->ctl, c->user != NULL ? &c->creds : NULL, err,
	    sizeof(err)) == -1)
		log_warnx("%s; the old one stays", err);
}

int
observe_prepare(struct observe *o, const struct conf *old, const struct conf *c,
    struct observe_plan *p, char *err, size_t errlen)
{
	control_init(&p->ctl, status, o);
	p->move_ctl = differ(old->control_socket, c->control_socket);
	if (metrics_prepare(&o->metrics, c, &p->metrics, err, errlen) == -1)
		return -1;
	/* Unlike at start, a control socket that cannot be made fails the
	 * reload: the running one is kept rather than lost. */
	if (p->move_ctl && c->control_socket != NULL &&
	    control_open(&p->ctl, c->control_socket,
	    c->user != NULL ? &c->creds : NULL, err, errlen) == -1) {
		listen_abandon(&p->metrics);
		return -1;
	}
	return 0;
}

void
observe_commit(struct observe *o, const struct conf *old, const struct conf *c,
    struct observe_plan *p)
{
	size_t changed = metrics_commit(&o->metrics, &p->metrics, note_metrics);

	o->conf = c;	/* old is freed once we return */
	if (changed > 0 || differ(old->user, c->user) || differ(old->group, c->group))
		o->metrics.serial++;	/* the metrics process restarts */
	if (p->move_ctl) {
		control_move(&o->ctl, &p->ctl);
		if (o->ctl.fd != -1)
			record_control(o->ctl.path, c);
	}
	else if (owner_changed(old, c))
		reown_control(o, c);
}

void
observe_abandon(struct observe_plan *p)
{
	listen_abandon(&p->metrics);
	control_close(&p->ctl);
}

void
observe_stopping(struct observe *o)
{
	control_stopping(&o->ctl);
}

void
observe_stop(struct observe *o)
{
	observe_stopping(o);
	metrics_close(&o->metrics);
}

void
observe_close(struct observe *o)
{
	control_close(&o->ctl);
	metrics_close(&o->metrics);
	free(o->snap);
	o->snap = NULL;
}

size_t
observe_fds(const struct observe *o, int *out)
{
	size_t n = control_fds(&o->ctl, out);

	return n + metrics_fds(&o->metrics, out + n);
}

size_t
observe_pollfds(const struct observe *o, struct pollfd *pfd, size_t max)
{
	return control_pollfds(&o->ctl, pfd, max);
}

int
observe_next_timeout(const struct observe *o, uint64_t now_ms)
{
	return control_next_timeout(&o->ctl, now_ms);
}

void
observe_run(struct observe *o, uint64_t now_ms)
{
	control_run(&o->ctl, now_ms);
}
