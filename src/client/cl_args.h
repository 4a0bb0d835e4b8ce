/*
 * cl_args.h - echo-client's numeric arguments, read strictly: digits and
 * the documented suffixes only, each within its range.  No sign, no
 * white space, no hexadecimal, no wrapping; a port of 99999 is an error,
 * not port 34463.
 */
#ifndef ECHOD_CL_ARGS_H
#define ECHOD_CL_ARGS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each returns 0 and stores the value, or -1 with the reason in why
 * ("out of range (1..65535)", "not a number", ...), which never repeats
 * the argument itself: the caller names it.
 */

/* Decimal digits, min..max. */
int	cl_arg_uint(const char *s, uint64_t min, uint64_t max, uint64_t *v,
	    char *why, size_t whylen);

/* Decimal digits with an optional k or m (KiB, MiB) suffix, min..max bytes. */
int	cl_arg_size(const char *s, uint64_t min, uint64_t max, uint64_t *v,
	    char *why, size_t whylen);

/*
 * Seconds, with an optional fraction, or with an "s" or "ms" suffix
 * ("10", "0.5", "2s", "250ms"), to milliseconds, min_ms..max_ms.  A value
 * that is not zero never becomes zero: under 1 ms is an error.
 */
int	cl_arg_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ms,
	    char *why, size_t whylen);

/*
 * A port to connect to: a number 1..65535 or the name of a service known
 * for proto ("tcp" or "udp").  Stores the number.
 */
/* The echo service's port for proto from the services database, or 7. */
uint16_t cl_echo_port(const char *proto);

int	cl_arg_port(const char *s, const char *proto, uint16_t *port,
	    char *why, size_t whylen);

#endif
