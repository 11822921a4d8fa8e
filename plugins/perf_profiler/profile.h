/* SPDX-License-Identifier: MIT */
/*
 * The samples of one profile, aggregated as they arrive: each distinct
 * stack is stored once, and a sample only adds to the count of its
 * (stack, pid, tid, cpu, unwind method) bucket. Memory grows with distinct
 * stacks, not with time; past max_stacks new stacks are counted as dropped.
 *
 * A stack is leaf first: its kernel frames (leaf .. syscall entry) and then
 * its user frames (leaf .. main/_start). Frames other than the leaf hold
 * return address - 1, so they look up inside the calling instruction.
 */
#ifndef SMCP_PP_PROFILE_H
#define SMCP_PP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "procmap.h"

#define PP_MAX_FRAMES 255

enum pp_unwind_method {
	PP_UNW_KERNEL_ONLY = 0, /* no user part (kernel thread, or user excluded) */
	PP_UNW_DWARF,           /* user stack unwound with DWARF CFI */
	PP_UNW_FP,              /* user stack from the kernel's frame-pointer walk */
	PP_UNW_IP_ONLY,         /* only the sampled user IP survived */
	PP_UNW__N,
};

const char *pp_unwind_method_name(enum pp_unwind_method m);

struct pp_stack {
	uint32_t off;        /* into frames[] */
	uint16_t n_kernel, n_user;
};

struct pp_bucket {
	uint32_t stack;
	int32_t pid, tid;
	uint32_t cpu;
	uint8_t method;
	uint64_t count;
};

/* A kernel symbol the kernel announced while we sampled (PERF_RECORD_KSYMBOL:
 * BPF programs, trampolines), kept even after it was unregistered. */
struct pp_dynksym {
	uint64_t addr;
	uint32_t len;
	const char *name;
};

struct pp_profile {
	struct pp_procs procs;
	struct pp_dynksym *dksyms;
	size_t n_dksyms, cap_dksyms;
	struct pp_arena dk_names;
	uint64_t *frames;
	size_t n_frames, cap_frames;
	struct pp_stack *stacks;
	size_t n_stacks, cap_stacks, max_stacks;
	struct smcp_hashmap stack_index; /* stack ids, found by their frames */
	struct pp_bucket *buckets;
	size_t n_buckets, cap_buckets;
	struct smcp_hashmap bucket_index; /* bucket indexes, found by their key */

	uint64_t samples;          /* accepted into buckets */
	uint64_t dropped_samples;  /* stack table full or out of memory */
	uint64_t lost_samples;     /* PERF_RECORD_LOST: the ring overflowed */
	uint64_t lost_records, throttled, unthrottled;
	uint64_t by_method[PP_UNW__N];
	uint64_t dwarf_attempts, dwarf_failures;
	uint64_t truncated_stacks;
};

int pp_profile_init(struct pp_profile *p, const char *root, struct pp_elf_cache *cache,
		    size_t max_stacks);
void pp_profile_free(struct pp_profile *p);

/* Count one sample (weight usually 1). 0, or -ENOSPC when the stack table
 * is full (counted in dropped_samples), or -ENOMEM. */
int pp_profile_add(struct pp_profile *p, const uint64_t *kframes, unsigned int n_kernel,
		   const uint64_t *uframes, unsigned int n_user, int32_t pid, int32_t tid,
		   uint32_t cpu, enum pp_unwind_method method, uint64_t weight);

static inline const uint64_t *pp_stack_frames(const struct pp_profile *p, uint32_t id)
{
	return p->frames + p->stacks[id].off;
}

static inline unsigned int pp_stack_len(const struct pp_profile *p, uint32_t id)
{
	return p->stacks[id].n_kernel + p->stacks[id].n_user;
}

/* Remember a kernel symbol announced during the profile; 0 or -ENOMEM/-ENOSPC. */
int pp_profile_add_ksym(struct pp_profile *p, uint64_t addr, uint32_t len, const char *name);
/* The announced symbol containing addr (the latest registration), or NULL. */
const struct pp_dynksym *pp_profile_find_ksym(const struct pp_profile *p, uint64_t addr);

/* Bytes of heap the profile holds (stacks, buckets, process maps). */
size_t pp_profile_mem(const struct pp_profile *p);

#endif
