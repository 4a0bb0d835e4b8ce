/*
 * confparse.h - the rules for echod.conf's values, one value at a time: a
 * number, a size, a duration, the worker count, the log level, a listen
 * spec, the PID file's path.  Pure functions, no I/O: the file (through
 * confschema.c, at the value's line) and the command line (main.c) apply
 * the same ones.  Each returns 0, or -1 with *err pointing at a static
 * reason worded to follow "key: " or "-w 0: ".
 */
#ifndef ECHOD_CONFPARSE_H
#define ECHOD_CONFPARSE_H

#include <stdint.h>

#define CONF_MAX_WORKERS	1024
#define CONF_MAX_PATH		4088	/* the PID file's, with ".XXXXXX" */

/* Decimal digits only: "16384"; one past 64 bits reads as UINT64_MAX,
 * out of any key's range rather than "not a number". */
int	conf_parse_number(const char *s, uint64_t *out, const char **err);
/* Bytes: "16384", "16k", "1m", "2g" (powers of 1024). */
int	conf_parse_size(const char *s, uint64_t *out, const char **err);
/* Milliseconds: "10" (seconds), "250ms", "10s", "5m", "1h", "1d". */
int	conf_parse_duration(const char *s, uint64_t *ms, const char **err);
/* 1..CONF_MAX_WORKERS, or "auto" as 0. */
int	conf_parse_workers(const char *s, int *out, const char **err);
/* "err" .. "debug" as a syslog priority. */
int	conf_parse_log_level(const char *s, int *out, const char **err);
/* A listen spec that getaddrinfo() will read as meant; names are looked
 * up later (conf_resolve_listen()). */
int	conf_check_listen(const char *spec, const char **err);
/* An absolute path that fits pidfile.c's temporary name. */
int	conf_check_pidfile(const char *path, const char **err);

#endif
