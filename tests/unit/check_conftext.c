/* check_conftext.c - echod.conf as text (conftext.c): comments stripped
 * with the lines kept, what libconfuse would misread refused with its line,
 * keys counted, bytes escaped for a message. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conftext.h"
#include "suites.h"
#include "util.h"

START_TEST(test_strip_comments)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a = 1 # c\nb", "a = 1    \nb" },
		{ "# only\n", "      \n" },
		{ "a = \"x#y\" // z", "a = \"x#y\"     " },
		{ "u = 'q#'#c", "u = 'q#'  " },
		{ "s = \"a\\\"#\" #", "s = \"a\\\"#\"  " },
		{ "/* 1\n2 */x", "    \n    x" },
		{ "# it's\nx", "      \nx" },
		{ "/* \" */x", "       x" },
		{ "s = '${HOME}'", "s = '${HOME}'" },
		{ "s = \"\\${X}\"", "s = \"\\${X}\"" },
		/* escapes of bytes other than NUL are the parser's to judge */
		{ "s = \"\\x41\\101\\x\\8\"", "s = \"\\x41\\101\\x\\8\"" },
		{ "s = '\\0\\x00'", "s = '\\0\\x00'" },
	};
	struct conftext_error e;
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i].in);
		ck_assert_msg(conftext_strip(buf, &e) == 0, "%s", cases[i].in);
		ck_assert_str_eq(buf, cases[i].out);
	}
}
END_TEST

/* What does not end is reported where it began. */
START_TEST(test_strip_refuses)
{
	static const struct { const char *in; int line; const char *why; } cases[] = {
		{ "x /* open", 1, "unterminated comment" },
		{ "a = 1\n/* one\ntwo\n", 2, "unterminated comment" },
		{ "a = 1\n/*/\n", 2, "unterminated comment" },
		{ "s = \"abc\nd\n", 1, "unterminated string" },
		{ "\n\ns = 'x\\'\n", 3, "unterminated string" },
		{ "s = \"x\\", 1, "unterminated string" },
		{ "a = 1 /* \" */\nb = \"\n", 2, "unterminated string" },
		{ "\nx = ${HOME}", 2, "environment substitution" },
		{ "x = \"a\n${HOME}\"", 2, "environment substitution" },
		/* libconfuse makes these a NUL byte that silently cuts the value */
		{ "\nu = \"root\\0x\"", 2, "an escaped NUL byte" },
		{ "u = \"a\nroot\\000\"", 2, "an escaped NUL byte" },
		{ "u = \"root\\x00\"", 1, "an escaped NUL byte" },
		{ "u = \"root\\x0\"", 1, "an escaped NUL byte" },
		{ "u = \"\\00\"", 1, "an escaped NUL byte" },
	};
	struct conftext_error e;
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(buf, cases[i].in);
		ck_assert_msg(conftext_strip(buf, &e) == -1, "%s", cases[i].in);
		ck_assert_int_eq(e.line, cases[i].line);
		ck_assert_msg(strncmp(e.why, cases[i].why, strlen(cases[i].why)) == 0,
		    "%s: %s", cases[i].in, e.why);
	}
}
END_TEST

START_TEST(test_nul)
{
	struct conftext_error e;

	ck_assert_int_eq(conftext_check_nul("a\nb", 3, &e), 0);
	ck_assert_int_eq(conftext_check_nul("a\nb\n\0c", 6, &e), -1);
	ck_assert_int_eq(e.line, 3);
	ck_assert_int_eq(conftext_check_nul("\0", 1, &e), -1);
	ck_assert_int_eq(e.line, 1);
}
END_TEST

START_TEST(test_scan)
{
	struct conftext_key keys[] = { { .name = "workers" },
	    { .name = "listen_tcp" }, { .name = "deny" } };
	struct conftext_error e;

	ck_assert_int_eq(conftext_scan("workers = 1\nlisten_tcp = {\"a\",\n\"b\"}\n"
	    "workers=2 deny = {}\n\nlisten_tcp = {}\nworkers = 3\n", keys, 3, &e), 0);
	ck_assert_int_eq(keys[0].count, 3);
	ck_assert_int_eq(keys[0].first, 1);
	ck_assert_int_eq(keys[0].last, 7);
	ck_assert_int_eq(keys[1].count, 2);
	ck_assert_int_eq(keys[1].first, 2);
	ck_assert_int_eq(keys[1].last, 6);
	ck_assert_int_eq(keys[2].count, 1);
	ck_assert_int_eq(keys[2].last, 4);

	/* what looks like a key inside a string is not one */
	ck_assert_int_eq(conftext_scan("deny = {\"workers = 1\", 'x'}\n"
	    "user = \"a += b\"\n", keys, 3, &e), 0);
	ck_assert_int_eq(keys[0].count, 0);
	ck_assert_int_eq(keys[2].count, 1);

	ck_assert_int_eq(conftext_scan("workers = 1\n\nlisten_tcp += {\"x:7\"}\n",
	    keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 3);
	ck_assert_str_eq(e.key, "listen_tcp");
	ck_assert_ptr_nonnull(strstr(e.why, "+="));
	ck_assert_int_eq(conftext_scan("deny\n+= {}\n", keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 2);
	ck_assert_str_eq(e.key, "deny");

	/* the file ends inside a statement: where it began, not past the end */
	ck_assert_int_eq(conftext_scan("workers = 1\ndeny = {\"10.0.0.0/8\",\n"
	    "\n", keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 2);
	ck_assert_str_eq(e.key, "deny");
	ck_assert_str_eq(e.why, "unterminated list ({ without })");
	ck_assert_int_eq(conftext_scan("deny =\n\n{\n\"10.0.0.0/8\"", keys, 3,
	    &e), -1);
	ck_assert_int_eq(e.line, 3);
	/* a "}" forgotten, and the next statement begins inside the list:
	 * where the list began, not where the parser stumbles (or, closed by
	 * a later "}", nowhere) */
	ck_assert_int_eq(conftext_scan("workers = 1\nlisten_tcp = {\"a:7\"\n"
	    "deny = {}\nworkers = 2\n", keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 2);
	ck_assert_str_eq(e.key, "listen_tcp");
	ck_assert_str_eq(e.why, "unterminated list ({ without })");
	ck_assert_int_eq(conftext_scan("deny = {\"10.0.0.0/8\",\n\"::1\"\n"
	    "\nworkers = 2\n", keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 1);
	ck_assert_str_eq(e.key, "deny");
	ck_assert_int_eq(conftext_scan("\nworkers =\n\n", keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 2);
	ck_assert_str_eq(e.key, "workers");
	ck_assert_str_eq(e.why, "the file ends before the value");
	ck_assert_int_eq(conftext_scan("workers = 1\nworkers", keys, 3, &e), -1);
	ck_assert_int_eq(e.line, 2);
	/* an unknown key is the parser's: "no such option", at its line */
	ck_assert_int_eq(conftext_scan("wrokers = {\n", keys, 3, &e), 0);
	ck_assert_int_eq(conftext_scan("wrokers\n", keys, 3, &e), 0);

	/* not a statement: left to the parser, and never a hang */
	ck_assert_int_eq(conftext_scan("= = {", keys, 3, &e), 0);
	ck_assert_int_eq(conftext_scan("a = \"open", keys, 3, &e), 0);
	ck_assert_int_eq(conftext_scan("# x\n* ( ) + , workers", keys, 3, &e), 0);
}
END_TEST

START_TEST(test_escape)
{
	char out[64];

	conftext_escape("plain: \"x\" 'y'", out, sizeof(out));
	ck_assert_str_eq(out, "plain: \"x\" 'y'");
	conftext_escape("a\033[31mb\\\t\n\x7f\xc3\xa9", out, sizeof(out));
	ck_assert_str_eq(out, "a\\x1b[31mb\\\\\\x09\\x0a\\x7f\\xc3\\xa9");
	/* truncated, never in the middle of an escape */
	conftext_escape("ab\033", out, 6);
	ck_assert_str_eq(out, "ab");
	conftext_escape("abcdef", out, 4);
	ck_assert_str_eq(out, "abc");
}
END_TEST

Suite *
conftext_suite(void)
{
	Suite *s = suite_create("conftext");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, test_strip_comments);
	tcase_add_test(tc, test_strip_refuses);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_scan);
	tcase_add_test(tc, test_escape);
	suite_add_tcase(s, tc);
	return s;
}
