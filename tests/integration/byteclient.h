/* byteclient.h - TCP clients that check every byte echod echoes back
 * against what they sent (a xorshift pattern), for the handoff suites:
 * connections that must live through reloads and restarts byte-exact. */
#ifndef ECHOD_TESTS_BYTECLIENT_H
#define ECHOD_TESTS_BYTECLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cl {
	int		 fd;
	uint8_t		*sent;		/* every byte sent, for the check */
	size_t		 nsent, cap, nrecv;
	uint32_t	 x;		/* the pattern's state */
	bool		 eof;
};

/* Connects to 127.0.0.1:port (rcvbuf: SO_RCVBUF if > 0); fails the test
 * if it cannot. */
void	cl_open(struct cl *, int port, int rcvbuf);
void	cl_close(struct cl *);
/* Sends up to len more bytes, as many as the socket takes now. */
size_t	cl_send(struct cl *, size_t len);
/* Reads what is there and checks it against what was sent; false on a
 * wrong byte or more bytes than sent. */
bool	cl_recv(struct cl *);
/* One round trip of len bytes, within timeout_ms. */
bool	cl_pingpong(struct cl *, size_t len, int timeout_ms);
/* Writes without reading until echod stops taking bytes: then it holds an
 * unsent echo.  Bounded in bytes and time. */
void	cl_stall(struct cl *);
/* Half-closes, reads to the end: every byte exactly once, in order. */
void	cl_finish(struct cl *, const char *what, int timeout_ms);

#endif
