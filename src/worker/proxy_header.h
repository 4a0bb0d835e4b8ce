/*
 * proxy_header.h - the PROXY protocol header (HAProxy's doc/proxy-protocol.txt),
 * versions 1 (text) and 2 (binary), as a pure parser: given the bytes a
 * connection has sent so far, it says whether they are a whole header, the
 * start of one, or something that can never become one.  No I/O, no logging.
 */
#ifndef ECHOD_PROXY_HEADER_H
#define ECHOD_PROXY_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V1_MAX		107	/* a v1 line, CRLF included, at most */
#define PROXY_V2_FIXED		16	/* signature, version/command, family, length */
/*
 * A v2 header (16 bytes, the addresses, the TLVs), at most: room for the
 * largest address block (AF_UNIX, 216 bytes) and some 800 bytes of TLVs,
 * which is more than HAProxy sends without TLS details.  A longer one is
 * refused as soon as its length field arrives; it is also all that a
 * connection buffers while its header is incomplete.
 */
#define PROXY_MAX_HEADER	1024

enum proxy_status {
	PROXY_MORE,	/* so far a header's prefix: wait for more bytes */
	PROXY_DONE,	/* a whole header: see struct proxy_header */
	PROXY_INVALID,	/* can never become a header: why says how */
};

enum proxy_cmd {
	PROXY_CMD_LOCAL,	/* v2 LOCAL: the balancer's own connection */
	PROXY_CMD_PROXY,	/* relayed for a client */
};

struct proxy_header {
	int		 version;	/* 1 or 2 */
	enum proxy_cmd	 cmd;
	/*
	 * AF_INET or AF_INET6: src and dst hold the client's and the address
	 * it connected to.  AF_UNSPEC (v1 UNKNOWN, v2 LOCAL or UNSPEC) and
	 * AF_UNIX: no address; the connection is the balancer's own.
	 */
	int		 family;
	size_t		 len;		/* bytes of the header: consume them */
	struct sockaddr_storage src, dst;
	socklen_t	 addrlen;	/* of src and dst; 0 without address */
};

/*
 * Judges the first len bytes a connection sent.  Versions are told apart by
 * their first byte, and a prefix is refused as soon as no header can start
 * with it.  On PROXY_DONE, *h is filled and bytes past h->len are the
 * client's data; on PROXY_INVALID, *why (static) names the reason.
 */
enum proxy_status proxy_parse(const uint8_t *buf, size_t len,
		    struct proxy_header *h, const char **why);
/* true if the address in h is the client's (AF_INET or AF_INET6). */
bool		 proxy_has_address(const struct proxy_header *h);

#endif
