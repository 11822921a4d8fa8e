/* SPDX-License-Identifier: MIT */
/*
 * perf_event records -> profile. One record at a time, from a live ring
 * buffer (sampling.c) or from a perf.data file (the benchmark): side-band
 * records (MMAP2, COMM, FORK, LOST, THROTTLE) update the process table and
 * counters; a SAMPLE's kernel callchain and user stack become frames, the
 * user part unwound with DWARF when registers and stack bytes came with it,
 * else taken from the kernel's frame-pointer walk.
 */
#ifndef SMCP_PP_INGEST_H
#define SMCP_PP_INGEST_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>

#include "profile.h"
#include "unwind.h"

struct pp_sample_fmt {
	uint64_t sample_type;
	uint64_t regs_user_mask;
	uint64_t read_format;
	bool sample_id_all; /* side-band records end with the sample_id fields */
};

struct pp_sample {
	uint64_t ip, time, period;
	int32_t pid, tid;
	uint32_t cpu;
	uint16_t misc;
	uint64_t nr;
	const uint64_t *chain;
	uint64_t regs_abi;
	const uint64_t *regs;
	uint64_t stack_size, stack_dyn;
	const uint8_t *stack;
};

struct pp_ingest {
	struct pp_profile *prof;
	struct pp_unwinder *unw; /* NULL: never unwind with DWARF */
	struct pp_sample_fmt fmt;
	uint64_t max_samples;    /* 0: no limit */
	bool limit_reached;
	bool read_proc;          /* live: read /proc/PID/maps for processes seen first in a sample */
	uint64_t now_ns;         /* for rate-limiting /proc reads */
	uint64_t bad_records;
	uint64_t frames[2][PP_MAX_FRAMES + 1];
	uint64_t ips[PP_MAX_FRAMES + 1];
};

/* Parse a PERF_RECORD_SAMPLE of len bytes; 0 or -EINVAL when malformed. */
int pp_parse_sample(const struct pp_sample_fmt *f, const void *rec, size_t len,
		    struct pp_sample *s);

/*
 * Timestamp of a record (0 when it has none). Records from several rings
 * are handled in time order, as perf does: a sample on one CPU then finds
 * the mmap made on another before it, and a sample taken before an exec is
 * resolved against the image it ran, not the one exec brought.
 */
uint64_t pp_record_time(const struct pp_sample_fmt *f, const struct perf_event_header *h);

/* Handle one complete record (header included, h->size bytes). */
void pp_ingest_record(struct pp_ingest *in, const struct perf_event_header *h);

#endif
