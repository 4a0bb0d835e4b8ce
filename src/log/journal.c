/*
 * journal.c - the fields of a journal entry, copied rather than printed:
 * up to ten per connection line under systemd, where a snprintf() and a
 * vsnprintf() each were most of a worker's user time.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "journal.h"
#include "strbuf.h"

/* "NAME=", and v over the room for its value; false (nothing added) when
 * the name does not fit. */
static bool
name_eq(struct journal_entry *j, const char *name, struct strbuf *v)
{
	size_t n = strlen(name), room;

	if (j->len >= sizeof(j->buf))
		return false;
	room = sizeof(j->buf) - j->len;
	if (n + 1 >= room)
		return false;
	memcpy(j->buf + j->len, name, n);
	j->buf[j->len + n] = '=';
	j->len += n + 1;
	strbuf_init(v, j->buf + j->len, room - n - 1);
	return true;
}

/* The value as far as it fit, its newlines made spaces, then the line's
 * own newline. */
static void
value_nl(struct journal_entry *j, const struct strbuf *v)
{
	char *nl = v->p, *end = v->p + v->len;

	while ((nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL)
		*nl++ = ' ';
	j->len += v->len;
	if (j->len < sizeof(j->buf))
		j->buf[j->len++] = '\n';
}

void
journal_add_str(struct journal_entry *j, const char *name, const char *value)
{
	struct strbuf v;

	if (!name_eq(j, name, &v))
		return;
	strbuf_put_str(&v, value);
	value_nl(j, &v);
}

void
journal_add_u64(struct journal_entry *j, const char *name, uint64_t value)
{
	struct strbuf v;

	if (!name_eq(j, name, &v))
		return;
	strbuf_put_u64(&v, value);
	value_nl(j, &v);
}
