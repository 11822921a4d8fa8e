/* SPDX-License-Identifier: MIT */
/*
 * What tr_stacks.c (the events, their rings, the drain) and
 * tr_stacks_intern.c (callstacks, frames, names and mappings interned as
 * Perfetto InternedData) share: the state of a recording's samples and the
 * field numbers they write (Perfetto's, tests/traces/perfetto.proto).
 * Private to those two files.
 */
#ifndef TR_STACKS_INT_H
#define TR_STACKS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <schedmcp/hashmap.h>

#include "elf_cache.h"
#include "kallsyms.h"
#include "procmap.h"
#include "tr_stacks.h"

#define RING_PAGES 64			/* data pages per CPU ring (256 KiB) */
#define DRAIN_SAMPLES 8192		/* samples per drain call, unless all */
#define INTERN_BYTES (2u << 20)		/* new interned data per drain, at most */
#define INTERN_ROOM (64u << 10)		/* room a sample may need in it */
#define MAX_FRAMES 65536
#define MAX_NAMES 65536
#define MAX_STACKS 65536
#define MAX_STACK_IDS (1u << 20)	/* frame ids of all callstacks */
#define MAX_MAPPINGS 4096
#define KERNEL_MAPPING 1		/* iid of the kernel's mapping */

/* TracePacket */
#define TP_TIMESTAMP 8
#define TP_SEQ_ID 10
#define TP_INTERNED 12
#define TP_SEQ_FLAGS 13
#define TP_PERF_SAMPLE 66
#define SEQ_CLEARED 1
#define SEQ_NEEDS 2
/* PerfSample */
#define PS_CPU 1
#define PS_PID 2
#define PS_TID 3
#define PS_CALLSTACK 4
#define PS_LOST 17
/* InternedData */
#define ID_FUNCTION_NAMES 5
#define ID_FRAMES 6
#define ID_CALLSTACKS 7
#define ID_BUILD_IDS 16
#define ID_MAPPING_PATHS 17
#define ID_MAPPINGS 19
/* InternedString, Frame, Callstack, Mapping */
#define IS_IID 1
#define IS_STR 2
#define FR_IID 1
#define FR_NAME 2
#define FR_MAPPING 3
#define FR_REL_PC 4
#define CS_IID 1
#define CS_FRAMES 2
#define MP_IID 1
#define MP_BUILD_ID 2
#define MP_START_OFFSET 3
#define MP_START 4
#define MP_END 5
#define MP_LOAD_BIAS 6
#define MP_PATH 7
#define MP_EXACT_OFFSET 8

struct cpu_ring {
	int fd;
	void *base;
	size_t len;
};

struct sample {
	uint64_t ts, callstack;	/* callstack 0: a lost-records packet */
	uint32_t pid, tid, cpu, lost;
};

struct stack_probe {
	const uint64_t *ids;
	uint32_t n;
};

struct tr_stacks {
	struct cpu_ring *ring;
	uint32_t ncpus;
	size_t page, data_len;
	uint8_t *rec;		/* one record, copied when it wraps */
	struct sample *batch;
	uint32_t n_batch;
	uint32_t first_cpu;	/* the ring read first in the next round */
	uint8_t *scratch;	/* this drain's new interned data */
	struct tr_pb in;
	bool started, dead;

	struct pp_kallsyms ks;
	bool have_ks;
	struct pp_elf_cache cache;
	struct pp_procs procs;
	bool have_procs;

	struct smcp_hashmap frames;	/* pp frame value -> iid */
	struct smcp_hashmap names;	/* function name text -> iid */
	struct smcp_hashmap paths;	/* mapping path text -> iid */
	struct smcp_hashmap stacks;	/* index into st_* -> iid */
	uint32_t *st_off, *st_len;	/* callstack i: ids[st_off[i] .. +st_len[i]) */
	uint64_t *ids;
	uint32_t n_stacks, n_ids;
	uint32_t *mapping;	/* pp module id -> mapping iid, 0 not yet */
	uint64_t next_iid;	/* strings, frames, mappings, stacks share one counter */

	struct tr_stacks_snap st;
};

/* tr_stacks_intern.c */
bool tr_stacks_stack_equal(uint64_t stored, uint64_t key, void *ctx);
/* The callstack iid of a perf callchain (leaf first), writing what is new
 * into s->in; 0 at a cap. */
uint64_t tr_stacks_intern(struct tr_stacks *s, uint32_t pid, const uint64_t *ips, uint64_t nr);
/* What the sequence's first packet holds: the kernel's mapping. */
void tr_stacks_write_first(struct tr_stacks *s);
uint64_t tr_stacks_now_ns(void);

#endif
