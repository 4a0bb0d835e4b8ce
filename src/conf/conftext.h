/*
 * conftext.h - echod.conf as text, before libconfuse reads it: what that
 * parser would hide or misread (a NUL byte, a comment or a string that does
 * not end, "+=", a key set twice), and file bytes made safe for a message.
 * Pure functions: no I/O, no logging.
 */
#ifndef ECHOD_CONFTEXT_H
#define ECHOD_CONFTEXT_H

#include <stddef.h>

/* Where the text is wrong, and why (why is a static string). */
struct conftext_error {
	int		 line;
	const char	*why;
	char		 key[64];	/* the key concerned, or "" */
};

/* Where the file sets one key. */
struct conftext_key {
	const char	*name;		/* in: a key of the schema */
	int		 count;		/* out: how often it is set */
	int		 first, last;	/* out: the lines of the first and last */
};

/* -1 if the len bytes of text hold a NUL byte, with its line. */
int	conftext_check_nul(const char *text, size_t len, struct conftext_error *);
/*
 * Blanks out #, // and slash-star comments outside quotes, keeping the
 * newlines so that line numbers stay right.  -1, leaving text half done,
 * at a comment or a quoted string that does not end (the line where it
 * began), an environment substitution "${" (which libconfuse expands) or
 * an escape that makes a NUL byte ("\0", "\x00": it would cut the value).
 */
int	conftext_strip(char *text, struct conftext_error *);
/*
 * Reads the statements of stripped text and counts, in keys[], where each
 * key named there is set; a key not in keys[] is left to the parser.  -1 at
 * "+=", which would add to the built-in default rather than replace it, and
 * where the text ends inside a statement of a key in keys[] (a list never
 * closed: the line of its "{").  Stops quietly at what is not a statement:
 * the parser reports that.
 */
int	conftext_scan(const char *text, struct conftext_key *keys, size_t nkeys,
	    struct conftext_error *);
/*
 * Copies s into out (NUL-terminated, truncated to outlen), with a backslash
 * and every byte that is not printable ASCII written as \\ and \xHH.
 */
void	conftext_escape(const char *s, char *out, size_t outlen);

#endif
