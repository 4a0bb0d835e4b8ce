/*
 * strbuf.h - appending text to a fixed buffer without printf, for the lines
 * written per connection.  The text is always NUL-terminated and truncated
 * as snprintf(3) truncates: what a buffer of cap bytes holds is the first
 * cap - 1 bytes of everything appended, whatever the pieces were.
 */
#ifndef ECHOD_STRBUF_H
#define ECHOD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char	*p;
	size_t	 len;		/* bytes held, never more than cap - 1 */
	size_t	 cap;		/* bytes of p, the NUL included */
	bool	 trunc;		/* something did not fit */
};

#define STRBUF_U64_MAX	20	/* digits of UINT64_MAX */

/* Over buf[cap], emptied; cap 0 holds nothing, not even the NUL. */
void	strbuf_init(struct strbuf *, char *buf, size_t cap);
void	strbuf_put_mem(struct strbuf *, const void *, size_t);
void	strbuf_put_str(struct strbuf *, const char *);
void	strbuf_put_char(struct strbuf *, char);
/* Decimal, as "%llu" writes it. */
void	strbuf_put_u64(struct strbuf *, uint64_t);
/* Decimal with at least width digits, zeros in front: "%0*llu". */
void	strbuf_put_u64_pad(struct strbuf *, uint64_t, unsigned width);

#endif
