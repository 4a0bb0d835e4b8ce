/* cl_net.h - names to connected sockets, the way open_clientfd() does it. */
#ifndef ECHOD_CL_NET_H
#define ECHOD_CL_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

struct cl_target {
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			family;
	char			name[ADDR_STRLEN];	/* addr_format()'s */
};

/*
 * Resolves host and port (numeric or a service name) for socktype, limited
 * to family (AF_UNSPEC for any).  Fills at most max targets in
 * getaddrinfo's order; returns how many, or -1 with the reason in err.
 */
int	cl_resolve(const char *host, const char *port, int family, int socktype,
	    struct cl_target *t, int max, char *err, size_t errlen);

/*
 * A non-blocking, close-on-exec socket of socktype connecting to t.  For
 * TCP the connect is usually still in progress: wait for POLLOUT and call
 * cl_connect_result().  Returns the fd, or -1 with errno.
 */
int	cl_connect_start(const struct cl_target *t, int socktype);
/* 0 once the connect in progress on fd has succeeded, -1 with errno. */
int	cl_connect_result(int fd);

/*
 * Tries every target in order until one accepts a connection within
 * timeout_ms each (0: the kernel's own limit), as open_clientfd() does.
 * Returns a connected, blocking socket and sets *used to its index; or -1,
 * with every failure described in err and *timedout set if the last failure
 * was a timeout.
 */
int	cl_connect_any(const struct cl_target *t, int n, int socktype,
	    int timeout_ms, int *used, int *timedout, char *err, size_t errlen);

#endif
