/*
 * check_journal.c - a journal entry's fields are what log.c's printf-based
 * jadd() wrote before them, byte for byte: the old function is kept here,
 * word for word, as the reference, and both fill entries side by side,
 * up to and past the entry's end.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "suites.h"
#include "util.h"

/* log.c's jadd() before journal.c, unchanged but for the struct's name */
static void
jadd(struct journal_entry *j, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->len >= sizeof(j->buf))
		return;
	n = snprintf(j->buf + j->len, sizeof(j->buf) - j->len, "%s=", name);
	if (n < 0 || (size_t)n >= sizeof(j->buf) - j->len)
		return;
	char *v = j->buf + j->len + n;
	va_start(ap, fmt);
	int m = vsnprintf(v, sizeof(j->buf) - j->len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t vlen = strnlen(v, sizeof(j->buf) - j->len - (size_t)n);
	for (size_t i = 0; i < vlen; i++)
		if (v[i] == '\n')
			v[i] = ' ';
	j->len += (size_t)n + vlen;
	if (j->len < sizeof(j->buf))
		j->buf[j->len++] = '\n';
}

static struct journal_entry got, want;

static void
same(const char *what)
{
	ck_assert_msg(got.len == want.len, "%s: %zu bytes, not %zu", what,
	    got.len, want.len);
	ck_assert_msg(memcmp(got.buf, want.buf, got.len) == 0,
	    "%s: the bytes differ", what);
}

static void
add_str(const char *name, const char *value)
{
	journal_add_str(&got, name, value);
	jadd(&want, name, "%s", value);
	same(name);
}

static void
add_u64(const char *name, uint64_t value)
{
	journal_add_u64(&got, name, value);
	jadd(&want, name, "%llu", (unsigned long long)value);
	same(name);
}

/* A connection's fields, as log_conn() adds them. */
START_TEST(test_fields_as_printf)
{
	got.len = want.len = 0;
	add_str("MESSAGE", "worker 0: tcp closed 127.0.0.1 port 4000: 5 bytes "
	    "echoed in 0.001s");
	add_u64("PRIORITY", 6);
	add_str("SYSLOG_IDENTIFIER", "echod");
	add_u64("SYSLOG_PID", 4194304);
	add_str("ECHOD_EVENT", "close");
	add_str("CLIENT_PROTOCOL", "tcp");
	add_str("CLIENT_ADDRESS", "::ffff:192.0.2.7");
	add_u64("CLIENT_PORT", 0);
	add_u64("BALANCER_PORT", 65535);
	add_str("CLIENT_HOST", "");
	add_str("CLIENT_HOST", "two\nlines\n");	/* newlines become spaces */
	add_u64("BYTES", 0);
	add_u64("BYTES", UINT64_MAX);
	add_u64("DURATION_USEC", 999);
}
END_TEST

/*
 * Near the end of the entry: a name that does not fit adds nothing, a
 * value is cut and still ends the line, a full entry takes nothing more;
 * for every length the entry already has in the last hundred bytes.
 */
START_TEST(test_cut_as_printf)
{
	char value[200];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (size_t fill = sizeof(got.buf) - 100; fill <= sizeof(got.buf); fill++) {
		memset(got.buf, 'x', sizeof(got.buf));
		memset(want.buf, 'x', sizeof(want.buf));
		got.len = want.len = fill;
		add_str("CLIENT_HOST", value);
		add_u64("BYTES", UINT64_MAX);
		add_str("A", "b");
		add_u64("P", 7);
	}
	/* (the old one wrote a cut name past the entry's length: not sent,
	 * but the bytes before each case must be the same) */
	for (size_t fill = sizeof(got.buf) - 30; fill <= sizeof(got.buf); fill++) {
		memset(got.buf, 'x', sizeof(got.buf));
		memset(want.buf, 'x', sizeof(want.buf));
		got.len = want.len = fill;
		add_u64("DURATION_USEC", 1234567890123ULL);
		got.len = want.len = fill;
		add_str("ECHOD_EVENT", "open");
	}
}
END_TEST

Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_add_test(tc, test_fields_as_printf);
	tcase_add_test(tc, test_cut_as_printf);
	suite_add_tcase(s, tc);
	return s;
}
