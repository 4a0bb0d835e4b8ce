/* pktinfo.c - IP_PKTINFO and IPV6_PKTINFO, read and written; see pktinfo.h. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "pktinfo.h"

/* Whether a socket bound here can get datagrams sent to many addresses. */
static bool
unspecified(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	/* [::ffff:0.0.0.0] takes IPv4 for every address, as 0.0.0.0 does */
	return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
	    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    s6->sin6_addr.s6_addr32[3] == htonl(INADDR_ANY));
}

int
pktinfo_enable(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), olen = sizeof(int);
	int on = 1, v6only = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (!unspecified(&ss))
		return 0;
	if (ss.ss_family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on,
		    sizeof(on)) == -1 ? -1 : 1;
	/*
	 * IP_FREEBIND: an IPv6 source must otherwise be an interface's
	 * address, and one the host answers for by a local route (AnyIP:
	 * "ip -6 route add local PREFIX dev lo") is refused.  The socket is
	 * bound already, and its sources are only ever addresses that a
	 * datagram was delivered to.  IPv4 takes those without it.
	 */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
	    sizeof(on)) == -1 ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on)) == -1 ||
	    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &olen) == -1)
		return -1;
	/*
	 * Dual-stack (a socket systemd passed): IPV6_PKTINFO gives an IPv4
	 * datagram's destination as ::ffff:a.b.c.d, which for a broadcast
	 * is no source; IP_PKTINFO adds the address to answer it from.
	 */
	if (!v6only &&
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) == -1)
		return -1;
	return 1;
}

/* An IPv6 destination (or an IPv4 one, mapped, on a dual-stack socket). */
static void
get6(const struct in6_pktinfo *in6, struct pktinfo *pi)
{
	if (IN6_IS_ADDR_V4MAPPED(&in6->ipi6_addr)) {
		pi->family = AF_INET;
		memcpy(&pi->addr.v4, &in6->ipi6_addr.s6_addr[12],
		    sizeof(pi->addr.v4));
		return;
	}
	pi->family = AF_INET6;
	pi->addr.v6 = in6->ipi6_addr;
	/* A link-local address means something on its link only: the kernel
	 * refuses it as a source without an interface. */
	if (IN6_IS_ADDR_LINKLOCAL(&in6->ipi6_addr))
		pi->ifindex = (unsigned)in6->ipi6_ifindex;
}

/* Whether cm holds size bytes of data, all inside m's control buffer. */
static bool
holds(const struct msghdr *m, const struct cmsghdr *cm, size_t size)
{
	const char *end = (const char *)m->msg_control + m->msg_controllen;

	return cm->cmsg_len >= CMSG_LEN(size) &&
	    (size_t)(end - (const char *)CMSG_DATA(cm)) >= size;
}

void
pktinfo_get(const struct msghdr *m, struct pktinfo *pi)
{
	bool have4 = false;

	memset(pi, 0, sizeof(*pi));
	if (m->msg_control == NULL || m->msg_controllen < sizeof(struct cmsghdr))
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR((struct msghdr *)m); cm != NULL;
	    cm = CMSG_NXTHDR((struct msghdr *)m, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    holds(m, cm, sizeof(struct in_pktinfo))) {
			struct in_pktinfo in;

			/*
			 * ipi_spec_dst: the destination, or for a broadcast
			 * the local address that answers it.  It is 0 for a
			 * datagram queued before the option was set (the one
			 * that made systemd start us): ipi_addr, the
			 * header's destination, is there for all.
			 */
			memcpy(&in, CMSG_DATA(cm), sizeof(in));
			if (in.ipi_spec_dst.s_addr == htonl(INADDR_ANY))
				in.ipi_spec_dst = in.ipi_addr;
			if (in.ipi_spec_dst.s_addr == htonl(INADDR_ANY))
				continue;
			memset(pi, 0, sizeof(*pi));
			pi->family = AF_INET;
			pi->addr.v4 = in.ipi_spec_dst;
			have4 = true;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO && !have4 &&
		    holds(m, cm, sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo in6;

			memcpy(&in6, CMSG_DATA(cm), sizeof(in6));
			get6(&in6, pi);
		}
	}
}

size_t
pktinfo_put(void *buf, sa_family_t to, const struct pktinfo *pi)
{
	struct cmsghdr *cm = buf;

	/* zeroed padding: udp_batch.c compares messages byte for byte */
	memset(buf, 0, PKTINFO_TX_SPACE);
	if (pi->family == AF_INET) {
		uint32_t a = ntohl(pi->addr.v4.s_addr);

		if (a == INADDR_ANY || a == INADDR_BROADCAST || IN_MULTICAST(a))
			return 0;
		if (to == AF_INET) {
			struct in_pktinfo in = { .ipi_spec_dst = pi->addr.v4 };

			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(in));
			memcpy(CMSG_DATA(cm), &in, sizeof(in));
			return CMSG_SPACE(sizeof(in));
		}
	} else if (pi->family != AF_INET6 ||
	    IN6_IS_ADDR_UNSPECIFIED(&pi->addr.v6) ||
	    IN6_IS_ADDR_MULTICAST(&pi->addr.v6))
		return 0;
	if (to != AF_INET6)
		return 0;

	struct in6_pktinfo in6 = { .ipi6_ifindex = pi->ifindex };

	if (pi->family == AF_INET) {	/* a dual-stack socket's IPv4 peer */
		in6.ipi6_addr.s6_addr[10] = 0xff;
		in6.ipi6_addr.s6_addr[11] = 0xff;
		memcpy(&in6.ipi6_addr.s6_addr[12], &pi->addr.v4, 4);
	} else
		in6.ipi6_addr = pi->addr.v6;
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(in6));
	memcpy(CMSG_DATA(cm), &in6, sizeof(in6));
	return CMSG_SPACE(sizeof(in6));
}
