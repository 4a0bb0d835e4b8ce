/*
 * confsrc.c - the configuration files as text, and their copy in a sealed
 * memfd.  A file is judged before it is opened (a device or a FIFO is never
 * opened), opened without blocking, judged again through the descriptor
 * and read through it, never by name again.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confsrc.h"
#include "util.h"

#define MAGIC		"echod-conf 1\n"
#define MAGIC_LEN	(sizeof(MAGIC) - 1)
#define MAX_NAME	4096

static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a file";
}

/* Not a regular file?  Then says so in err, with what it is instead. */
static bool
not_regular(const char *path, mode_t mode, char *err, size_t errlen)
{
	if (S_ISREG(mode))
		return false;
	snprintf(err, errlen, "%s: not a regular file (%s)", path, file_kind(mode));
	return true;
}

/*
 * The whole of a regular file, NUL-terminated, into f.  Opening a device
 * can act (a watchdog starts counting, a tape rewinds) and a FIFO would
 * hang a reload in open(): refused from stat(), then again from fstat(),
 * the name having maybe changed in between.  -1 with errno EINVAL or ENOMEM.
 */
static int
read_regular(const char *path, struct confsrc_file *f, char *err, size_t errlen)
{
	enum { MAX = CONFSRC_MAX_SIZE };
	struct stat st;
	char *buf = NULL;
	ssize_t r;
	int fd = -1, fail = EINVAL;

	if (stat(path, &st) == -1)
		goto sys;
	if (not_regular(path, st.st_mode, err, errlen))
		goto fail;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) == -1)
		goto sys;
	if (not_regular(path, st.st_mode, err, errlen))
		goto fail;
	if (st.st_size > MAX)
		goto big;
	if ((buf = malloc(MAX + 1)) == NULL || (f->name = strdup(path)) == NULL) {
		fail = ENOMEM;
		goto sys;
	}
	/* one byte more than the limit tells a file that grew past it */
	if ((r = read_full(fd, buf, MAX + 1)) == -1)
		goto sys;
	if ((size_t)r > MAX)
		goto big;
	close(fd);
	buf[r] = '\0';
	f->text = buf;
	f->len = (size_t)r;
	return 0;
big:
	snprintf(err, errlen, "%s: larger than 1 MiB", path);
	goto fail;
sys:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
fail:
	free(buf);
	free(f->name);
	f->name = NULL;
	if (fd != -1)
		close(fd);
	errno = fail;
	return -1;
}

static int
is_dropin(const struct dirent *d)
{
	size_t n = strlen(d->d_name), s = strlen(CONFSRC_SUFFIX);

	return d->d_name[0] != '.' && n > s &&
	    strcmp(d->d_name + n - s, CONFSRC_SUFFIX) == 0;
}

/* Byte order, whatever the locale: the order does not move with LANG. */
static int
by_bytes(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The drop-ins' names in path.d, sorted: how many (0: no directory), or
 * -1 with err. */
static int
list_dropins(const char *dir, struct dirent ***names, char *err, size_t errlen)
{
	struct stat st;
	int n;

	*names = NULL;
	if (stat(dir, &st) == -1 && errno == ENOENT)
		return 0;
	if ((n = scandir(dir, names, is_dropin, by_bytes)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		errno = errno == ENOMEM ? ENOMEM : EINVAL;
		return -1;
	}
	if (n >= CONFSRC_MAX_FILES) {
		for (int i = 0; i < n; i++)
			free((*names)[i]);
		free(*names);
		snprintf(err, errlen, "%s: more than %d files named *%s", dir,
		    CONFSRC_MAX_FILES - 1, CONFSRC_SUFFIX);
		errno = EINVAL;
		return -1;
	}
	return n;
}

int
confsrc_read(const char *path, struct confsrc *s, char *err, size_t errlen)
{
	char dir[MAX_NAME], file[MAX_NAME];
	struct dirent **names;
	int n, rc = 0;

	memset(s, 0, sizeof(*s));
	err[0] = '\0';
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", path, CONFSRC_DIR_SUFFIX) >=
	    sizeof(dir)) {
		snprintf(err, errlen, "%s: name too long", path);
		errno = EINVAL;
		return -1;
	}
	if ((n = list_dropins(dir, &names, err, errlen)) == -1)
		return -1;
	if ((s->v = calloc((size_t)n + 1, sizeof(*s->v))) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	} else if (read_regular(path, &s->v[s->n], err, errlen) == 0)
		s->n++;
	else
		rc = -1;
	for (int i = 0; i < n; i++) {
		if (rc == 0 && (size_t)snprintf(file, sizeof(file), "%s/%s", dir,
		    names[i]->d_name) < sizeof(file) &&
		    read_regular(file, &s->v[s->n], err, errlen) == 0)
			s->n++;
		else if (rc == 0) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s/%s: name too long", dir,
				    names[i]->d_name);
			rc = -1;
		}
		free(names[i]);
	}
	free(names);
	if (rc == -1) {
		int saved = errno;
		confsrc_free(s);
		errno = saved == ENOMEM ? ENOMEM : EINVAL;
	}
	return rc;
}

void
confsrc_free(struct confsrc *s)
{
	for (size_t i = 0; s->v != NULL && i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].text);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
add(struct confsrc *s, const char *name, size_t nlen, const char *text,
    size_t len)
{
	struct confsrc_file *f = &s->v[s->n];

	if ((f->name = strndup(name, nlen)) == NULL ||
	    (f->text = malloc(len + 1)) == NULL) {
		free(f->name);
		f->name = NULL;
		return -1;
	}
	memcpy(f->text, text, len);
	f->text[len] = '\0';
	f->len = len;
	s->n++;
	return 0;
}

int
confsrc_copy(const struct confsrc *from, struct confsrc *to)
{
	memset(to, 0, sizeof(*to));
	if ((to->v = calloc(from->n + 1, sizeof(*to->v))) == NULL)
		return -1;
	for (size_t i = 0; i < from->n; i++) {
		const struct confsrc_file *f = &from->v[i];
		if (add(to, f->name, strlen(f->name), f->text, f->len) == -1) {
			confsrc_free(to);
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

/* Host byte order: the memfd never leaves the machine. */
static int
put_u32(int fd, uint32_t v)
{
	return write_all(fd, &v, sizeof(v));
}

int
confsrc_to_memfd(const struct confsrc *s)
{
	int fd = memfd_create("echod-conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd == -1)
		return -1;
	if (write_all(fd, MAGIC, MAGIC_LEN) == -1 || put_u32(fd, (uint32_t)s->n))
		goto fail;
	for (size_t i = 0; i < s->n; i++) {
		size_t nl = strlen(s->v[i].name);
		if (put_u32(fd, (uint32_t)nl) == -1 ||
		    put_u32(fd, (uint32_t)s->v[i].len) == -1 ||
		    write_all(fd, s->v[i].name, nl) == -1 ||
		    write_all(fd, s->v[i].text, s->v[i].len) == -1)
			goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
	    F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

/* A name a message may show: absolute, printable, bounded. */
static bool
good_name(const char *p, uint32_t n)
{
	if (n == 0 || n >= MAX_NAME || p[0] != '/')
		return false;
	for (uint32_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static int
parse(const char *p, size_t size, struct confsrc *s, const char **why)
{
	size_t off = MAGIC_LEN + 4;
	uint32_t n, nl, tl;

	*why = "not echod's stored configuration";
	if (size < off || memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return -1;
	memcpy(&n, p + MAGIC_LEN, 4);
	if (n > CONFSRC_MAX_FILES) {
		*why = "more files than a configuration has";
		return -1;
	}
	if ((s->v = calloc((size_t)n + 1, sizeof(*s->v))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		*why = "cut short or malformed";
		if (size - off < 8)
			return -1;
		memcpy(&nl, p + off, 4);
		memcpy(&tl, p + off + 4, 4);
		off += 8;
		if (nl > size - off || tl > size - off - nl || tl > CONFSRC_MAX_SIZE)
			return -1;
		if (!good_name(p + off, nl)) {
			*why = "a file name that is not an absolute, printable path";
			return -1;
		}
		if (add(s, p + off, nl, p + off + nl, tl) == -1) {
			*why = "out of memory";
			return -1;
		}
		off += nl + tl;
	}
	if (off != size) {
		*why = "bytes after the last file";
		return -1;
	}
	return 0;
}

int
confsrc_from_memfd(int fd, struct confsrc *s, const char **why)
{
	const int need = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
	struct stat st;
	void *map;
	int seals, rc;

	memset(s, 0, sizeof(*s));
	if ((seals = fcntl(fd, F_GET_SEALS)) == -1 || (seals & need) != need) {
		*why = "not a sealed memfd";
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > (off_t)CONFSRC_MAX_FILES * (CONFSRC_MAX_SIZE + MAX_NAME + 8)) {
		*why = "of a size no configuration has";
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		*why = "cannot be mapped";
		return -1;
	}
	rc = parse(map, (size_t)st.st_size, s, why);
	munmap(map, (size_t)st.st_size);
	if (rc == -1)
		confsrc_free(s);
	return rc;
}
