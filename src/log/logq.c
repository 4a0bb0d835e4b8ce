/* logq.c - a FIFO of log records in one buffer, compacted when the tail
 * reaches its end; see logq.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logq.h"

void
logq_init(struct logq *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap;
}

void
logq_clear(struct logq *q)
{
	q->head = q->tail = q->n = 0;
}

int
logq_push(struct logq *q, const void *rec, size_t len)
{
	uint32_t l = (uint32_t)len;
	size_t need = sizeof(l) + len;

	if (need > q->cap - (q->tail - q->head)) {
		errno = ENOBUFS;
		return -1;
	}
	if (q->buf == NULL && (q->buf = malloc(q->cap)) == NULL)
		return -1;
	if (q->cap - q->tail < need) {
		memmove(q->buf, q->buf + q->head, q->tail - q->head);
		q->tail -= q->head;
		q->head = 0;
	}
	memcpy(q->buf + q->tail, &l, sizeof(l));
	memcpy(q->buf + q->tail + sizeof(l), rec, len);
	q->tail += need;
	q->n++;
	return 0;
}

bool
logq_drain(struct logq *q, enum logq_emit (*emit)(const void *, size_t),
    unsigned long *failed)
{
	while (q->n > 0) {
		uint32_t l;

		memcpy(&l, q->buf + q->head, sizeof(l));
		switch (emit(q->buf + q->head + sizeof(l), l)) {
		case LOGQ_AGAIN:
			return false;
		case LOGQ_FAILED:
			(*failed)++;
			break;
		case LOGQ_SENT:
			break;
		}
		q->head += sizeof(l) + l;
		q->n--;
	}
	q->head = q->tail = 0;
	return true;
}
