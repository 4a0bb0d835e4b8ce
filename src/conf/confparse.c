/*
 * confparse.c - the rules for echod.conf's values, pure: what a number, a
 * size, a duration, a worker count, a log level, a listen spec and the PID
 * file's path may look like.  The ranges of each key are the schema's
 * (confschema.c); these only read the value.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "addr.h"
#include "confparse.h"
#include "util.h"

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

int
conf_parse_number(const char *s, uint64_t *out, const char **err)
{
	const char *unit;

	*err = "not a number";
	if (split_number(s, out, &unit) == -1 || *unit != '\0')
		return -1;
	*err = NULL;
	return 0;
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
