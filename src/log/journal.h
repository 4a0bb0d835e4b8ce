/*
 * journal.h - one entry of journald's native protocol: "NAME=value" lines,
 * as log.c sends them in one datagram.  Values are one line: a newline in
 * one becomes a space (no binary-safe form is needed here).
 */
#ifndef ECHOD_JOURNAL_H
#define ECHOD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_ENTRY_MAX	4096

struct journal_entry {
	char	buf[JOURNAL_ENTRY_MAX];
	size_t	len;
};

/*
 * Appends a field.  What does not fit is cut as snprintf(3) would cut
 * "NAME=value" into what is left: a name that does not fit whole adds
 * nothing; a value is cut short, and the line still ends in a newline.
 */
void	journal_add_str(struct journal_entry *, const char *name, const char *value);
void	journal_add_u64(struct journal_entry *, const char *name, uint64_t value);

#endif
