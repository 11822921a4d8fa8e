/* SPDX-License-Identifier: MIT */
/*
 * A minimal reader of perf.data files (file mode, "PERFILE2"): the first
 * event attribute and the data section's records, which have the same
 * layout as in a perf ring buffer.
 */
#ifndef SMCP_BENCH_PERFDATA_H
#define SMCP_BENCH_PERFDATA_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

struct perfdata {
	unsigned char *map;
	size_t len;
	struct perf_event_attr attr; /* of the first event */
	const unsigned char *data;   /* records */
	size_t data_len;
	unsigned int n_attrs;
};

/* 0 or -errno (-EINVAL: not a perf.data file we understand; err says why). */
int perfdata_open(struct perfdata *pd, const char *path, char *err, size_t err_len);
void perfdata_close(struct perfdata *pd);

/* Next record at *off (advanced past it), or NULL at the end. */
const struct perf_event_header *perfdata_next(const struct perfdata *pd, size_t *off);

#endif
