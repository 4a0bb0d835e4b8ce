/*
 * cl_net.c - from a host and a port to a connected socket.  Every address
 * getaddrinfo() returns is tried in its order, IPv6 and IPv4 alike, as the
 * textbook's open_clientfd() does; here each try also has a deadline.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "cl.h"
#include "cl_net.h"
#include "util.h"

int
cl_resolve(const char *host, const char *port, int family, int socktype,
    struct cl_target *t, int max, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int rc, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_ADDRCONFIG;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY || rc == EAI_NODATA) {
		/* AI_ADDRCONFIG hides ::1 on hosts with only loopback IPv6. */
		hints.ai_flags = 0;
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s port %s: %s", host, port,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(t[n].ss))
			continue;
		memcpy(&t[n].ss, ai->ai_addr, ai->ai_addrlen);
		t[n].len = ai->ai_addrlen;
		t[n].family = ai->ai_family;
		addr_format(ai->ai_addr, ai->ai_addrlen, t[n].name,
		    sizeof(t[n].name));
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(err, errlen, "%s port %s: no usable address", host, port);
		return -1;
	}
	return n;
}

int
cl_connect_start(const struct cl_target *t, int socktype)
{
	int fd;

	fd = socket(t->family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) == -1 &&
	    errno != EINPROGRESS) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
cl_connect_result(int fd)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/* Waits for the connect on fd; 0, or -1 with errno (ETIMEDOUT on timeout). */
static int
connect_wait(int fd, int timeout_ms)
{
	int rc = cl_wait(fd, POLLOUT, cl_deadline(timeout_ms));

	if (rc == -1)
		return -1;
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return cl_connect_result(fd);
}

int
cl_connect_any(const struct cl_target *t, int n, int socktype, int timeout_ms,
    int *used, int *timedout, char *err, size_t errlen)
{
	size_t off = 0;
	int i, fd;

	*timedout = 0;
	err[0] = '\0';
	for (i = 0; i < n; i++) {
		fd = cl_connect_start(&t[i], socktype);
		if (fd != -1 && socktype == SOCK_STREAM && connect_wait(fd, timeout_ms) == -1) {
			int saved = errno;
			close(fd);
			fd = -1;
			errno = saved;
		}
		if (fd != -1) {
			if (fd_set_nonblock(fd, 0) == -1) {
				close(fd);
				return -1;
			}
			*used = i;
			return fd;
		}
		*timedout = errno == ETIMEDOUT;
		if (off < errlen) {
			int w = snprintf(err + off, errlen - off, "%s%s: %s",
			    off ? "; " : "", t[i].name,
			    *timedout ? "connection timed out" : strerror(errno));
			off += w > 0 ? (size_t)w : 0;
		}
	}
	return -1;
}
