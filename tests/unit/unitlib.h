/* unitlib.h - what several unit suites need and each used to write for
 * itself: a client of a Unix socket, a socket address from text, and a
 * TCP connection over loopback. */
#ifndef ECHOD_UNITLIB_H
#define ECHOD_UNITLIB_H

#include <stdint.h>
#include <sys/socket.h>

/* A non-blocking stream connection to the Unix socket at path; -1 if
 * nothing accepts there. */
int	u_connect_unix(const char *path);
/* ss as the literal IPv4 or IPv6 address addr, port port (host order);
 * the test fails if addr is neither. */
struct sockaddr *u_sockaddr(struct sockaddr_storage *ss, const char *addr,
	    uint16_t port);
/* A connected TCP pair over 127.0.0.1, both ends blocking: returns the
 * accepted end, with the client's in *client; peer and peerlen as
 * accept() fills them (both NULL: not asked). */
int	u_tcp_pair(int *client, struct sockaddr *peer, socklen_t *peerlen);

#endif
