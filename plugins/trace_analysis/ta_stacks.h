/* SPDX-License-Identifier: MIT */
/*
 * Stack samples of a trace (Perfetto PerfSample packets and the interned
 * data of their sequence): the model ta_pb.c fills and the `samples`
 * analysis reads (ta_stacks.c).
 *
 * Interned ids are Perfetto's: per packet sequence, valid from the packet
 * that clears the sequence's incremental state to the next one that does.
 * Each is resolved to an index of our own tables when it is read, so an
 * analysis never sees an iid. What cannot be resolved (a sample whose
 * callstack was never interned on its sequence, a frame whose name was not)
 * is counted, not guessed.
 *
 * Memory: a sample is 24 bytes, a frame 16, a callstack 8 plus 4 a frame,
 * strings their bytes plus 4; the iid index 20 bytes an entry. Counted in
 * ta_trace_mem() and bounded by the trace's mem_limit like its events.
 */
#ifndef TA_STACKS_H
#define TA_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <schedmcp/hashmap.h>

#define TA_NONE UINT32_MAX

/* The kinds of interned data we keep (each its own iid space). */
enum ta_intern_kind {
	TA_IN_FUNCTION = 1,
	TA_IN_BUILD_ID,
	TA_IN_PATH,
	TA_IN_MAPPING,
	TA_IN_FRAME,
	TA_IN_CALLSTACK,
};

struct ta_sample {
	uint64_t ts;
	int32_t pid, tid;
	uint32_t stack; /* index in stacks, TA_NONE: unresolved */
	uint32_t cpu;
};

struct ta_sframe {
	uint32_t name;    /* string index, TA_NONE: no name */
	uint32_t mapping; /* index in maps, TA_NONE: none */
	uint64_t rel_pc;
};

struct ta_smap {
	uint32_t path, build_id; /* string indexes, TA_NONE */
};

struct ta_stack {
	uint32_t off, len; /* frame indexes in frame_ids[off..off+len), outermost first */
};

struct ta_stacks {
	struct ta_sample *s;
	size_t n_s, cap_s;
	struct ta_sframe *fr;
	size_t n_fr, cap_fr;
	struct ta_smap *maps;
	size_t n_maps, cap_maps;
	struct ta_stack *st;
	size_t n_st, cap_st;
	uint32_t *frame_ids;
	size_t n_ids, cap_ids;
	char *pool;           /* strings, NUL-terminated */
	size_t pool_len, pool_cap;
	uint32_t *str_off;    /* string i at pool + str_off[i] */
	size_t n_str, cap_str;
	struct smcp_hashmap iid; /* (kind, generation, iid) -> index */
	struct { uint32_t seq, gen; } seqs[64]; /* each sequence's generation */
	uint32_t n_seqs, next_gen;
	uint64_t lost_kernel;     /* PerfSample.kernel_records_lost, summed */
	uint64_t unresolved;      /* samples, frames, stacks naming what was not interned */
	uint64_t no_state;        /* packets of a sequence never cleared: ignored */
};

struct ta_trace;

/* The sequence seq starts a new generation of interned data. -ENOSPC past
 * 64 sequences (the packet's data is then ignored and counted). */
int ta_stacks_clear(struct ta_trace *t, uint32_t seq);
/* The generation of seq, or TA_NONE when it was never cleared. */
uint32_t ta_stacks_gen(const struct ta_trace *t, uint32_t seq);
/* Interned data of generation gen (from ta_stacks_gen). 0, -EFBIG (over
 * the trace's memory bound), -ENOMEM. An entry naming an iid not interned
 * is kept with that part missing (TA_NONE) and counted in unresolved. */
int ta_stacks_string(struct ta_trace *t, uint32_t gen, int kind, uint64_t iid, const uint8_t *s,
		     size_t n);
int ta_stacks_mapping(struct ta_trace *t, uint32_t gen, uint64_t iid, uint64_t build_iid,
		      uint64_t path_iid);
int ta_stacks_frame(struct ta_trace *t, uint32_t gen, uint64_t iid, uint64_t name_iid,
		    uint64_t mapping_iid, uint64_t rel_pc);
/* frame_iids as the packet lists them (outermost first), n at most 1024. */
int ta_stacks_callstack(struct ta_trace *t, uint32_t gen, uint64_t iid,
			const uint64_t *frame_iids, size_t n);
int ta_stacks_sample(struct ta_trace *t, uint32_t gen, uint64_t ts, uint32_t cpu, int32_t pid,
		     int32_t tid, uint64_t callstack_iid);

void ta_stacks_free(struct ta_stacks *s);
size_t ta_stacks_mem(const struct ta_stacks *s);
/* String i, "" for TA_NONE. */
const char *ta_stacks_str(const struct ta_stacks *s, uint32_t i);

#endif
