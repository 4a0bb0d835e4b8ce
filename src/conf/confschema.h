/*
 * confschema.h - echod.conf's keys as libconfuse's schema: their defaults,
 * their ranges, and a check on each value (the rules of confparse.h and
 * acl.h) made while the parser still knows its line, so that every error
 * reads "FILE:LINE: key: reason".  conf.c reads the values out.
 */
#ifndef ECHOD_CONFSCHEMA_H
#define ECHOD_CONFSCHEMA_H

#include <stddef.h>

#include <confuse.h>

#define CONFSCHEMA_NKEYS	30

/* The name of key i, 0 <= i < CONFSCHEMA_NKEYS, in the schema's order. */
const char	*confschema_key(size_t i);
/*
 * A parser for the file path (NULL: the built-in defaults alone) that puts
 * its first error in err, "FILE:LINE: key: reason".  NULL: out of memory.
 * One at a time: free it before making the next.
 */
cfg_t		*confschema_new(const char *path, char *err, size_t errlen);
/* The file the next cfg_parse_buf() reads, for its messages. */
void		 confschema_set_path(const char *path);
void		 confschema_free(cfg_t *);

#endif
