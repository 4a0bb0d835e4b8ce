/* fuzz_conf.c - libFuzzer target: any bytes as echod.conf, through the
 * parser and every validator, then freed.  Built with clang by
 * `make check-fuzz` (tests/fuzz/fuzz.am); the corpus is in corpus/, the
 * inputs that once broke something in regressions/. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "confparse.h"
#include "conftext.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[] = "/tmp/fuzz_conf.XXXXXX";
static int fd = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONF_ERRLEN], *s;
	struct conf *c;
	uint64_t u;
	int i;
	const char *why;

	if (fd == -1) {
		if ((fd = mkstemp(path)) == -1)
			abort();
		unlink(path);	/* the name lives on through /proc */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if ((c = conf_load(path, err, sizeof(err))) != NULL) {
		(void)conf_workers(c);
		conf_free(c);
	}

	/* the pure rules, on the same bytes as one string */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)conf_parse_number(s, &u, &why);
	(void)conf_parse_size(s, &u, &why);
	(void)conf_parse_duration(s, &u, &why);
	(void)conf_parse_workers(s, &i, &why);
	(void)conf_parse_log_level(s, &i, &why);
	(void)conf_check_listen(s, &why);
	(void)conf_check_pidfile(s, &why);
	{
		struct conftext_key keys[] = { { .name = "workers" },
		    { .name = "listen_tcp" } };
		struct conftext_error e;
		char out[64];

		(void)conftext_check_nul((const char *)data, size, &e);
		conftext_escape(s, out, sizeof(out));
		/* the scanner must survive text that was not stripped */
		(void)conftext_scan(s, keys, 2, &e);
		if (conftext_strip(s, &e) == 0)
			(void)conftext_scan(s, keys, 2, &e);
	}
	free(s);
	return 0;
}
