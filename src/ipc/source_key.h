/* source_key.h - the key a client address counts under in the per-source
 * tables (source.h makes it), and the size of the UDP table: what the
 * tables' headers and their private layout (source_map.h) share. */
#ifndef ECHOD_SOURCE_KEY_H
#define ECHOD_SOURCE_KEY_H

#include <stdint.h>

struct source_key {
	uint64_t	 id;		/* IPv4 address, or IPv6 /64 prefix */
	uint8_t		 v6;
};

#define SOURCE_UDP_ENTRIES	65536	/* UDP buckets, pool-wide */
#define SOURCE_UDP_PROBE	8	/* a source's window of buckets */

#endif
