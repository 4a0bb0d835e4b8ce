/* conflimits.h - the configuration's limits and defaults, and its
 * enumerations: what the schema (confschema.c) and the reader (conf.c)
 * both need, so that neither includes the other's header. */
#ifndef ECHOD_CONFLIMITS_H
#define ECHOD_CONFLIMITS_H

#define CONF_DEFAULT_PATH	SYSCONFDIR "/echod.conf"
#define CONF_MAX_LISTEN		64
#define CONF_MAX_METRICS_LISTEN	8
#define CONF_DEFAULT_CONTROL	"/run/echod/control"	/* the unit's RuntimeDirectory= */
#define CONF_MAX_SOCKPATH	108	/* sun_path, its NUL included */
#define CONF_MAX_CIDRS		1024
#define CONF_ERRLEN		512
#define CONF_MAX_SIZE		(1024 * 1024)	/* bytes of the file, at most */

/* log_connections: which of a connection's lines are written. */
enum conf_logconn {
	CONF_LOGCONN_NONE,		/* "none" (or false) */
	CONF_LOGCONN_CLOSE,		/* "close" (or true): one line, at the end */
	CONF_LOGCONN_BOTH,		/* "both": "connected" too */
};

#endif
