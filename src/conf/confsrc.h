/*
 * confsrc.h - the configuration's sources as text: the main file, then
 * its drop-ins (FILE.d/NAME.conf, in byte order of their names), each read
 * whole from one descriptor; and the same set in a sealed memfd, which the
 * master keeps in systemd's descriptor store (fdstore.h) as the last good
 * configuration.
 * No parsing (conf.c), no logging.
 */
#ifndef ECHOD_CONFSRC_H
#define ECHOD_CONFSRC_H

#include <stddef.h>

#define CONFSRC_MAX_FILES	64		/* the main file and its drop-ins */
#define CONFSRC_MAX_SIZE	(1024 * 1024)	/* bytes of one file */
#define CONFSRC_DIR_SUFFIX	".d"
#define CONFSRC_SUFFIX		".conf"

struct confsrc_file {
	char	*name;		/* the path it was read from */
	char	*text;		/* NUL-terminated; may hold NUL bytes before len */
	size_t	 len;
};

struct confsrc {
	struct confsrc_file	*v;
	size_t			 n;
};

/*
 * Reads path, then every regular file named *.conf (not starting with a
 * dot) in path.d, if that directory exists.  0, or -1 with "FILE: reason"
 * in err and errno EINVAL (a file or the directory) or ENOMEM; s is then
 * empty.
 */
int	confsrc_read(const char *path, struct confsrc *s, char *err,
	    size_t errlen);
void	confsrc_free(struct confsrc *);
/* A copy; 0, or -1 (ENOMEM). */
int	confsrc_copy(const struct confsrc *from, struct confsrc *to);

/* s in a new sealed memfd (close-on-exec); its descriptor, or -1 with errno. */
int	confsrc_to_memfd(const struct confsrc *s);
/*
 * What a memfd from confsrc_to_memfd() holds, checked: sealed, within
 * CONFSRC_MAX_FILES files of CONFSRC_MAX_SIZE, names that are absolute
 * paths without control bytes.  0, or -1 with a static reason in *why.
 */
int	confsrc_from_memfd(int fd, struct confsrc *s, const char **why);

#endif
