/* SPDX-License-Identifier: MIT */
/*
 * User-stack unwinding from what a sample captured: the user registers
 * (PERF_SAMPLE_REGS_USER) and a copy of the top of the user stack
 * (PERF_SAMPLE_STACK_USER), walked with libunwind's DWARF CFI unwinder
 * through a remote address space whose accessors read the copied stack, the
 * registers, and the unwind tables of the mapped files (elf_cache.h).
 */
#ifndef SMCP_PP_UNWIND_H
#define SMCP_PP_UNWIND_H

#include <stdint.h>

#include "procmap.h"

/* x86_64 user registers we sample: AX..SS (0-11) and R8..R15 (16-23). */
#define PP_REGS_MASK 0xff0fffULL

struct pp_unwinder;

/* 0 or -ENOMEM. */
int pp_unwinder_new(struct pp_unwinder **ret);
void pp_unwinder_free(struct pp_unwinder *u);
/* Forget cached unwind rules (a new profile: process records are new). */
void pp_unwinder_reset(struct pp_unwinder *u);

struct pp_uregs {
	const uint64_t *regs; /* packed in mask bit order */
	uint64_t mask;
	const uint8_t *stack; /* copy of [sp, sp + stack_len) */
	uint64_t stack_len;
};

/*
 * Unwind the user stack of process p. Writes up to max instruction
 * pointers (the sampled one first, then return addresses) and returns how
 * many, 0 if unwinding could not even start.
 */
int pp_unwind_user(struct pp_unwinder *u, struct pp_procs *ps, struct pp_proc *p,
		   const struct pp_uregs *r, uint64_t *ips, int max);

#endif
