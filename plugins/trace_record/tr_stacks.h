/* SPDX-License-Identifier: MIT */
/*
 * The profiler's stack samples in a recording (tr_stacks.c): one
 * perf_event per online CPU (software cpu-clock, frequency mode, callchains,
 * CLOCK_BOOTTIME sample times), each mmap'd ring read by the recording's
 * drain job and written as Perfetto PerfSample packets with their interned
 * callstacks, frames, function names and mappings on a packet sequence of
 * their own (TR_STACKS_SEQ). Kernel frames are named from /proc/kallsyms,
 * user frames get a mapping (path, build id) from /proc/PID/maps and a
 * rel_pc, and a name from the file's ELF symbols where it has them: both
 * through perf_profiler's core library (kallsyms.c, procmap.c, elf_*.c).
 *
 * Every table has a cap: a sample whose stack cannot be interned within it
 * is counted in dropped_cap, never written with a partial stack.
 */
#ifndef TR_STACKS_H
#define TR_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_pb.h"

#define TR_STACKS_SEQ 0x5354u	/* trusted_packet_sequence_id of the samples ("ST") */
#define TR_STACKS_MAX_HZ 1000
#define TR_STACKS_MAX_DEPTH 64	/* sample_max_stack */

/* What the loop shows (a copy taken when a job ends). */
struct tr_stacks_snap {
	uint32_t hz;		/* asked for; 0: off */
	bool sampling;		/* the events were opened */
	char why[200];		/* why there are no samples ("" when there are) */
	uint64_t samples;	/* PerfSample packets with a callstack written */
	uint64_t lost_kernel;	/* PERF_RECORD_LOST counts */
	uint64_t dropped_cap;	/* samples over a table's cap, or after the size cap */
	uint64_t callstacks, frames, names, mappings;	/* interned so far */
	uint64_t user_frames, user_named;	/* user frames interned; with a name */
};

struct tr_stacks;

/* Open the events of hz samples/s on each of ncpus CPUs and the tables;
 * root is the host's fs root for /proc. A failure to open the events
 * (no permission, no software events) is not an error: *ret works without
 * samples and its snapshot says why. 0 or -ENOMEM. */
int tr_stacks_open(struct tr_stacks **ret, uint32_t ncpus, uint32_t hz, const char *root);
/* Read the rings and write the samples into out (at most a bounded number
 * a call unless all); the first call writes the sequence's first packet.
 * Returns samples written. */
uint64_t tr_stacks_drain(struct tr_stacks *s, struct tr_out *out, bool all);
/* For tests: one perf record (header included, as the ring holds it) of
 * CPU cpu, as if read from its ring; written by the next drain. 0, -EINVAL
 * (malformed), -ENOSPC (drain first). */
int tr_stacks_inject(struct tr_stacks *s, const void *rec, size_t len, uint32_t cpu);
/* Stop sampling (the last drain follows). */
void tr_stacks_stop(struct tr_stacks *s);
/* After the last drain: close the events, free the tables; the counters
 * stay for tr_stacks_snap(). */
void tr_stacks_release(struct tr_stacks *s);
void tr_stacks_snap(const struct tr_stacks *s, struct tr_stacks_snap *ret);
void tr_stacks_free(struct tr_stacks *s);

#endif
