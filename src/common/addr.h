/* addr.h - listen addresses as operators write them, and as logs show them. */
#ifndef ECHOD_ADDR_H
#define ECHOD_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ADDR_STRLEN	(256 + 8)	/* "[host]:port" */

/* A peer's address, IPv4 or IPv6, with room for either: what accept(),
 * recvmmsg() and the handoff's records fill in. */
union sockaddr_any {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

/*
 * Splits "host:port", "[v6]:port", "*:port" or a bare port into host and
 * port.  host is "" for the wildcard ("*" or a bare port).  Returns 0, or -1
 * with a reason in err.
 */
int	addr_split(const char *spec, char *host, size_t hostlen,
	    char *port, size_t portlen, const char **err);

/* "127.0.0.1:7", "[::1]:7"; numeric, never resolves. */
void	addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);
/* The numeric host part and the port, for logs and journal fields. */
void	addr_host_port(const struct sockaddr *sa, socklen_t len,
	    char *host, size_t hostlen, unsigned *port);

/*
 * Whether a peer is on this host, judged from the connection's two ends:
 * a loopback address (127/8, ::1, and their IPv4-mapped forms), or the
 * same address as the local end.  Ports are not compared.
 */
bool	addr_same_host(const struct sockaddr *peer, const struct sockaddr *local);

#endif
