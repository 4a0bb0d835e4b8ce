/*
 * pktinfo.h - the address a datagram was sent to, so that its echo leaves
 * from that address.  A socket bound to 0.0.0.0 or [::] serves every
 * address of the host; without this the kernel picks the echo's source by
 * route, and a client that sent to a secondary address, a VIP or an
 * anycast address gets a reply from another one, which a connected socket,
 * a NAT or a firewall drops.
 */
#ifndef ECHOD_PKTINFO_H
#define ECHOD_PKTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Room for what a socket of pktinfo_enable() gets per datagram: an
 * IPV6_PKTINFO and an IP_PKTINFO, and slack for an option systemd set. */
#define PKTINFO_RX_SPACE	128
/* Room for the one message pktinfo_put() writes. */
#define PKTINFO_TX_SPACE	CMSG_SPACE(sizeof(struct in6_pktinfo))

/* Where a datagram came in; family 0 when the kernel did not say. */
struct pktinfo {
	sa_family_t	family;
	unsigned	ifindex;	/* IPv6 link-local only (see pktinfo.c) */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} addr;
};

/*
 * Asks the kernel for each datagram's destination on a UDP socket bound
 * to the unspecified address (0.0.0.0, [::], dual-stack or not); a socket
 * bound to one address needs nothing, as its echoes leave from it.
 * Returns 1 if asked, 0 if not needed, -1 with errno.
 */
int	pktinfo_enable(int fd);
/* What a received message's control data says (untrusted lengths). */
void	pktinfo_get(const struct msghdr *, struct pktinfo *);
/*
 * Writes into buf (PKTINFO_TX_SPACE bytes) the control message that sends
 * a datagram to a peer of family to from pi's address, with interface
 * index 0 so that the route still chooses the way out.  Returns its
 * length, or 0 when the kernel should choose (nothing known, a multicast
 * or broadcast destination, which is no source).
 */
size_t	pktinfo_put(void *buf, sa_family_t to, const struct pktinfo *pi);

#endif
