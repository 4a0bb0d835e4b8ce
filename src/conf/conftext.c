/*
 * conftext.c - echod.conf as text, before libconfuse parses it.  libconfuse
 * 3.3 reads a buffer up to its first NUL, lets a comment or a string that
 * never ends swallow the rest of the file (and stay in that state for the
 * next parse), expands ${VAR} from the environment, and makes "+=" append to
 * the built-in default.  These passes refuse all that, each with the line;
 * their lexing follows libconfuse's lexer.l so that both agree on lines.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conftext.h"

static void
fail(struct conftext_error *e, int line, const char *why, const char *key,
    size_t keylen)
{
	e->line = line;
	e->why = why;
	if (keylen >= sizeof(e->key))
		keylen = sizeof(e->key) - 1;
	memcpy(e->key, key, keylen);
	e->key[keylen] = '\0';
}

int
conftext_check_nul(const char *text, size_t len, struct conftext_error *e)
{
	const char *nul = memchr(text, '\0', len);
	int line = 1;

	if (nul == NULL)
		return 0;
	for (const char *p = text; p < nul; p++)
		line += *p == '\n';
	fail(e, line, "a NUL byte (this is not a text file)", "", 0);
	return -1;
}

#define ENV_SUBST "environment substitution (${...}) is not supported"
#define ESC_NUL "an escaped NUL byte (an octal or hex escape of 0) in a " \
	"string: it would end the value there"

static int
digit(char c, int base)
{
	if (c >= '0' && c <= (base == 8 ? '7' : '9'))
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Whether the escape at p (a backslash in a double-quoted string) makes a
 * NUL byte: "\0".."\000" or "\x0", "\x00", as lexer.l reads octal (up to
 * three digits) and hex (up to two).  libconfuse keeps values as C strings,
 * so such a byte would silently cut the value short.
 */
static bool
escaped_nul(const char *p)
{
	int base = 8, max = 3, v = 0, i, d;

	p++;
	if (*p == 'x') {
		base = 16;
		max = 2;
		p++;
	}
	for (i = 0; i < max && (d = digit(p[i], base)) != -1; i++)
		v = v * base + d;
	return i > 0 && v == 0;
}

/*
 * p at an opening quote: returns the byte past the closing one, counting
 * lines; NULL with the reason in e if the string never ends, or if it is
 * double-quoted and holds "${".  A backslash always takes the next byte,
 * as in libconfuse (\", \', \\, \n, a line continuation...).
 */
static const char *
skip_string(const char *p, int *line, struct conftext_error *e)
{
	const char q = *p++;
	const int start = *line;

	for (; *p != '\0'; p++) {
		if (*p == '\\') {
			if (p[1] == '\0')
				break;
			if (q == '"' && escaped_nul(p)) {
				fail(e, *line, ESC_NUL, "", 0);
				return NULL;
			}
			p++;
		} else if (*p == q) {
			return p + 1;
		} else if (q == '"' && p[0] == '$' && p[1] == '{') {
			fail(e, *line, ENV_SUBST, "", 0);
			return NULL;
		}
		if (*p == '\n')
			(*line)++;
	}
	fail(e, start, "unterminated string (a quote that is never closed)", "", 0);
	return NULL;
}

int
conftext_strip(char *p, struct conftext_error *e)
{
	int line = 1;

	while (*p != '\0') {
		if (*p == '"' || *p == '\'') {
			const char *end = skip_string(p, &line, e);
			if (end == NULL)
				return -1;
			p += end - p;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				*p++ = ' ';
		} else if (p[0] == '/' && p[1] == '*') {
			const int start = line;
			char *end = strstr(p + 2, "*/");
			if (end == NULL) {
				fail(e, start, "unterminated comment (/* without */)",
				    "", 0);
				return -1;
			}
			for (end += 2; p < end; p++)
				if (*p == '\n')
					line++;
				else
					*p = ' ';
		} else if (p[0] == '$' && p[1] == '{') {
			fail(e, line, ENV_SUBST, "", 0);
			return -1;
		} else {
			line += *p++ == '\n';
		}
	}
	return 0;
}

enum tok { T_END, T_STR, T_EQ, T_APPEND, T_OPEN, T_CLOSE, T_OTHER };

struct lexer {
	const char	*p;
	int		 line;
	const char	*tok;		/* a T_STR's text, without quotes */
	size_t		 len;
};

/* A byte of an unquoted string, as lexer.l has it. */
static bool
unquoted(char c)
{
	return c != '\0' && strchr(" #\"'\t\n\r={}()+,*", c) == NULL;
}

static enum tok
next(struct lexer *l)
{
	struct conftext_error ignored;

	for (;;) {
		const char c = *l->p;

		l->tok = l->p;
		switch (c) {
		case '\0':
			return T_END;
		case '\n':
			l->line++;
			l->p++;
			continue;
		case '+':
			if (l->p[1] == '=') {
				l->p += 2;
				return T_APPEND;
			}
			l->p++;		/* libconfuse drops a lone '+' */
			continue;
		case '=':
			l->p++;
			return T_EQ;
		case '{':
			l->p++;
			return T_OPEN;
		case '}':
			l->p++;
			return T_CLOSE;
		case ',': case '(': case ')':
			l->p++;
			return T_OTHER;
		case '"': case '\'':
			if ((l->p = skip_string(l->p, &l->line, &ignored)) == NULL)
				return T_END;
			l->tok++;
			l->len = (size_t)(l->p - 1 - l->tok);
			return T_STR;
		default:
			if (!unquoted(c)) {	/* blanks, and bytes dropped */
				l->p++;
				continue;
			}
			while (unquoted(*l->p))
				l->p++;
			l->len = (size_t)(l->p - l->tok);
			return T_STR;
		}
	}
}

static struct conftext_key *
find_key(struct conftext_key *keys, size_t nkeys, const char *name, size_t len)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

static void
count_key(struct conftext_key *keys, size_t nkeys, const char *name,
    size_t len, int line)
{
	struct conftext_key *k = find_key(keys, nkeys, name, len);

	if (k == NULL)
		return;
	if (k->count++ == 0)
		k->first = line;
	k->last = line;
}

/* Where conftext_scan() stands in a statement: "key = value" or
 * "key = { values }". */
struct scan {
	enum { S_KEY, S_OP, S_VALUE, S_LIST } state;
	const char	*key;
	size_t		 keylen;
	int		 keyline, listline;
};

/*
 * The file ends inside a statement of a known key: libconfuse would say
 * "premature end of file" one line past the end; say where the statement
 * began.  So too where a list's "}" is missing and the next statement
 * ("key =" or "key = {") begins inside it: libconfuse would name a later
 * line, or none if a later "}" closes it.  An unknown key is the parser's
 * to report ("no such option"), at its own line.  -1 with e, or 0.
 */
static int
cut_short(const struct scan *sc, enum tok t, struct conftext_key *keys,
    size_t nkeys, struct conftext_error *e)
{
	if (t == T_END && (sc->state == S_OP || sc->state == S_VALUE) &&
	    find_key(keys, nkeys, sc->key, sc->keylen) != NULL) {
		fail(e, sc->keyline, "the file ends before the value", sc->key,
		    sc->keylen);
		return -1;
	}
	if (sc->state == S_LIST && t != T_STR && t != T_OTHER && t != T_CLOSE &&
	    find_key(keys, nkeys, sc->key, sc->keylen) != NULL) {
		fail(e, sc->listline, "unterminated list ({ without })", sc->key,
		    sc->keylen);
		return -1;
	}
	return 0;
}

int
conftext_scan(const char *text, struct conftext_key *keys, size_t nkeys,
    struct conftext_error *e)
{
	struct lexer l = { .p = text, .line = 1 };
	struct scan sc = { .state = S_KEY };

	for (size_t i = 0; i < nkeys; i++)
		keys[i].count = keys[i].first = keys[i].last = 0;
	for (;;) {
		enum tok t = next(&l);

		if (cut_short(&sc, t, keys, nkeys, e) == -1)
			return -1;
		if (t == T_END)
			return 0;
		switch (sc.state) {
		case S_KEY:
			if (t != T_STR)
				return 0;
			sc.key = l.tok;
			sc.keylen = l.len;
			sc.keyline = l.line;
			sc.state = S_OP;
			break;
		case S_OP:
			if (t == T_APPEND) {
				fail(e, l.line, "+= is not supported: it would add to "
				    "the built-in default; write the whole list "
				    "with =", sc.key, sc.keylen);
				return -1;
			}
			if (t != T_EQ)
				return 0;
			count_key(keys, nkeys, sc.key, sc.keylen, sc.keyline);
			sc.state = S_VALUE;
			break;
		case S_VALUE:
			if (t == T_OPEN) {
				sc.listline = l.line;
				sc.state = S_LIST;
			} else if (t == T_STR)
				sc.state = S_KEY;
			else
				return 0;
			break;
		case S_LIST:
			if (t == T_CLOSE)
				sc.state = S_KEY;
			break;
		}
	}
}

void
conftext_escape(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	for (; *s != '\0'; s++) {
		const unsigned char c = (unsigned char)*s;
		char buf[8];
		int k;

		if (c == '\\')
			k = snprintf(buf, sizeof(buf), "\\\\");
		else if (c < 0x20 || c >= 0x7f)
			k = snprintf(buf, sizeof(buf), "\\x%02x", c);
		else
			k = snprintf(buf, sizeof(buf), "%c", c);
		if (n + (size_t)k >= outlen)
			break;
		memcpy(out + n, buf, (size_t)k);
		n += (size_t)k;
	}
	out[n] = '\0';
}
