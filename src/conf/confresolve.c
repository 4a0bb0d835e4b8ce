/*
 * confresolve.c - what the configuration names, looked up: the user and
 * group, the addresses echod will bind (the same question listen.c asks
 * before it binds), and the rule that the metrics process never runs as
 * root.  Each step of conf_read() after the files; errors read
 * "FILE:LINE: key: reason", with the file's bytes escaped.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "addr.h"
#include "conf.h"
#include "conftext.h"
#include "privdrop.h"
#include "util.h"

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
	    conf_at_file(c, strcmp(which, "group") == 0 ? c->at_group :
	    c->at_user),
	    strcmp(which, "group") == 0 ? c->at_group.line : c->at_user.line, which,
	    name, why);
	return -1;
}

int
conf_check_metrics_user(const struct conf *c, uid_t euid, char *err,
    size_t errlen)
{
	char who[160], name[128];

	/* not nobody either: any daemon that runs as nobody could signal it */
	if (c->n_metrics_listen == 0 || euid != 0 ||
	    (c->user != NULL && c->creds.uid != 0))
		return 0;
	if (c->user != NULL)
		conftext_escape(c->user, name, sizeof(name));
	snprintf(who, sizeof(who), c->user == NULL ? "user is unset" :
	    "user \"%s\" is root", c->user == NULL ? "" : name);
	snprintf(err, errlen, "%s:%d: metrics_listen: echod runs as root and "
	    "%s, so the metrics process would parse HTTP as root; set user to "
	    "one of echod's own (such as \"echod\")",
	    conf_at_file(c, c->at_metrics_listen), c->at_metrics_listen.line,
	    who);
	return -1;
}

/* Where a listen spec came from, for a message: "FILE:LINE: key" or "-l"
 * (-l sets the echo lists, never metrics_listen). */
static void
listen_origin(const struct conf *c, const char *key, struct conf_at at,
    char *out, size_t outlen)
{
	if (c->listen_cmdline && strcmp(key, "metrics_listen") != 0)
		snprintf(out, outlen, "-l");
	else
		snprintf(out, outlen, "%s:%d: %s", conf_at_file(c, at), at.line,
		    key);
}

int
conf_resolve_listen(const struct conf *c, bool activated, char *err,
    size_t errlen)
{
	const struct {
		const char	*key;
		char	*const	*v;
		size_t		 n;
		int		 socktype;
		struct conf_at	 at;
	} lists[] = {
		/* bound by echod under socket activation too (metrics.h) */
		{ "metrics_listen", c->metrics_listen, c->n_metrics_listen,
		    SOCK_STREAM, c->at_metrics_listen },
		{ "listen_tcp", c->listen_tcp, c->n_listen_tcp, SOCK_STREAM,
		    c->at_listen_tcp },
		{ "listen_udp", c->listen_udp, c->n_listen_udp, SOCK_DGRAM,
		    c->at_listen_udp },
	};
	/* systemd's sockets are bound already: the echo lists are ignored */
	size_t nlists = activated ? 1 : nitems(lists);

	for (size_t l = 0; l < nlists; l++) {
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
			listen_origin(c, lists[l].key, lists[l].at, where,
			    sizeof(where));
			conftext_escape(lists[l].v[i], spec, sizeof(spec));
			snprintf(err, errlen, "%s: \"%s\": %s", where, spec, why);
			return -1;
		}
	}
	return 0;
}
