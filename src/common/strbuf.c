/*
 * strbuf.c - a bounded appender.  glibc's printf costs most of what a
 * worker spends in user space per connection with log_connections (the
 * format parsing, a FILE set up per call, its own integer conversion);
 * these few primitives cover what the connection lines and the journal's
 * fields need, at the cost of a memcpy.
 */
#include "config.h"

#include <string.h>

#include "strbuf.h"

void
strbuf_init(struct strbuf *b, char *buf, size_t cap)
{
	b->p = buf;
	b->len = 0;
	b->cap = cap;
	b->trunc = false;
	if (cap > 0)
		buf[0] = '\0';
}

void
strbuf_put_mem(struct strbuf *b, const void *s, size_t n)
{
	size_t room = b->cap > b->len ? b->cap - b->len - 1 : 0;

	if (b->cap == 0) {
		b->trunc = b->trunc || n > 0;
		return;
	}
	if (n > room) {
		n = room;
		b->trunc = true;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
strbuf_put_str(struct strbuf *b, const char *s)
{
	strbuf_put_mem(b, s, strlen(s));
}

void
strbuf_put_char(struct strbuf *b, char c)
{
	strbuf_put_mem(b, &c, 1);
}

void
strbuf_put_u64_pad(struct strbuf *b, uint64_t v, unsigned width)
{
	char d[STRBUF_U64_MAX + 1];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (width > sizeof(d) - i) {
		if (i == 0) {	/* wider than a u64: the zeros one by one */
			strbuf_put_char(b, '0');
			width--;
			continue;
		}
		d[--i] = '0';
	}
	strbuf_put_mem(b, d + i, sizeof(d) - i);
}

void
strbuf_put_u64(struct strbuf *b, uint64_t v)
{
	strbuf_put_u64_pad(b, v, 1);
}
