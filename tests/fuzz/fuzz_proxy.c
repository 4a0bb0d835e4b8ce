/* fuzz_proxy.c - libFuzzer target: any bytes as what a balancer sent,
 * through the PROXY header parser at every length from 0 to all of it, as
 * a header split over many reads is.  Besides crashes, it checks that the
 * verdicts agree: a prefix judged invalid stays invalid, a whole header
 * stays whole with the same length, and none claims more than it got.
 * Built with clang by `make check-fuzz` (tests/fuzz/fuzz.am); the corpus
 * is in proxy-corpus/, the dictionary proxy.dict. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proxy_status first = PROXY_MORE;
	struct proxy_header h;
	size_t done_len = 0;
	uint8_t *copy;

	/* exactly size bytes on the heap: a read past them is caught */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	for (size_t k = 0; k <= size; k++) {
		const char *why = NULL;
		enum proxy_status st = proxy_parse(copy, k, &h, &why);

		if (st == PROXY_INVALID && (why == NULL || why[0] == '\0'))
			abort();	/* every refusal has a reason */
		if (st == PROXY_DONE && (h.len == 0 || h.len > k ||
		    h.len > PROXY_MAX_HEADER ||
		    (h.addrlen != 0) != (h.family == AF_INET ||
		    h.family == AF_INET6)))
			abort();
		if (first == PROXY_MORE) {
			first = st;
			done_len = st == PROXY_DONE ? h.len : 0;
		} else if (st != first || (st == PROXY_DONE && h.len != done_len)) {
			abort();	/* more bytes changed a verdict */
		}
		if (k > PROXY_MAX_HEADER && st == PROXY_MORE)
			abort();	/* waiting past what may be buffered */
	}
	free(copy);
	return 0;
}
