/* acl.h - client address lists: allow and deny, as CIDR prefixes. */
#ifndef ECHOD_ACL_H
#define ECHOD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	uint8_t		 addr[16];	/* IPv4 as ::ffff:a.b.c.d */
	unsigned	 prefix;	/* over the 128 bits */
};

/* "10.0.0.0/8", "2001:db8::/32", or a bare address; 0 or -1 with err. */
int	acl_parse(const char *s, struct cidr *out, const char **err);
bool	acl_match(const struct cidr *v, size_t n, const struct sockaddr *sa);
/* A client may talk when it matches no deny entry and, if there is an
 * allow list, matches an entry of it. */
bool	acl_permits(const struct cidr *allow, size_t nallow,
	    const struct cidr *deny, size_t ndeny, const struct sockaddr *sa);
/* The address as 16 bytes (IPv4 mapped into IPv6); -1 if not IP. */
int	acl_addr16(const struct sockaddr *sa, uint8_t out[16]);

#endif
