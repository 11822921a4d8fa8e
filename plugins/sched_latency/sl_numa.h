/* SPDX-License-Identifier: MIT */
/*
 * NUMA memory locality: the parsers of /sys/devices/system/node/nodeN/numastat
 * and /proc/PID/numa_maps, and a bounded reader of such files (sl_numa.c
 * answers stats://numa and stats://numa/{pid} with them). Pure code apart
 * from sl_numa_read_file(); unit-tested on fixture text.
 */
#ifndef SL_NUMA_H
#define SL_NUMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_NUMA_MAX_NODES 64 /* nodes described; a node id at or above is ignored */

/* The counters of numastat, in this order (the kernel's names). */
enum {
	SLN_HIT,
	SLN_MISS,
	SLN_FOREIGN,
	SLN_INTERLEAVE_HIT,
	SLN_LOCAL,
	SLN_OTHER,
	SLN_N
};
extern const char *const sl_numastat_names[SLN_N];

/*
 * Parse numastat text ("numa_hit 123\n..."; len bytes, need not end in
 * NUL) into v. Unknown lines are skipped. Returns a bit mask of the
 * counters found (bit k: v[k] set); the others are left alone.
 */
unsigned sl_numastat_parse(const char *buf, size_t len, uint64_t v[SLN_N]);

/* One process's pages per node, summed over its mappings. */
struct sl_numa_maps {
	uint64_t pages[SL_NUMA_MAX_NODES]; /* N<node>=<pages>, in pages of the mapping */
	uint64_t kb[SL_NUMA_MAX_NODES];	   /* the same in KiB (kernelpagesize_kB) */
	uint64_t mappings;		   /* lines parsed */
	uint64_t skipped;		   /* lines too long to parse, or N beyond the array */
	uint64_t bytes;			   /* bytes fed */
	/* private: the line being assembled across feeds */
	char line[1024];
	size_t line_len;
	bool line_long;
};

void sl_numa_maps_init(struct sl_numa_maps *m);
/* Feed len bytes of numa_maps (any chunking); sl_numa_maps_end() after the
 * last one parses a final line without its newline. */
void sl_numa_maps_feed(struct sl_numa_maps *m, const char *buf, size_t len);
void sl_numa_maps_end(struct sl_numa_maps *m);

/*
 * Read path (a regular file under /proc or /sys, or a fixture's) into buf
 * (at most cap - 1 bytes, NUL-terminated), opened once with O_NOFOLLOW.
 * Returns the bytes read or -errno.
 */
ssize_t sl_numa_read_small(const char *path, char *buf, size_t cap);

/*
 * Stream path into m, reading at most max_bytes (a file can be long and
 * can shrink or grow while read: what was read is what counts). Sets
 * *truncated when max_bytes was reached. 0 or -errno from open/read.
 */
int sl_numa_maps_read(const char *path, struct sl_numa_maps *m, size_t max_bytes,
		      bool *truncated);

#endif
