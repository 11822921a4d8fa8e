/* SPDX-License-Identifier: MIT */
/*
 * Kernel symbols from /proc/kallsyms: core kernel text, modules (by their
 * [module] suffix) and JIT-compiled BPF programs (bpf_prog_<tag>_<name>,
 * listed under [bpf]).
 */
#ifndef SMCP_PP_KALLSYMS_H
#define SMCP_PP_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pp_util.h"

struct pp_ksym {
	uint64_t addr;
	uint32_t size; /* up to the next symbol; capped */
	char type;     /* t/T/w/W as kallsyms lists it */
	const char *name;
	const char *module; /* "[kernel.kallsyms]", "[ext4]", "[bpf]" ... */
};

struct pp_kallsyms {
	struct pp_ksym *syms; /* sorted by addr */
	size_t n;
	size_t n_modules_syms, n_bpf;
	bool restricted; /* every address read as 0: kptr_restrict or no privilege */
	uint64_t loaded_ns;
	struct pp_arena arena;
};

/* Load root/proc/kallsyms; 0 or -errno. On success the previous contents
 * are replaced. */
int pp_kallsyms_load(struct pp_kallsyms *ks, const char *root);
void pp_kallsyms_free(struct pp_kallsyms *ks);
/* Symbol containing addr (with *ret_off = addr - sym->addr), or NULL. */
const struct pp_ksym *pp_kallsyms_lookup(const struct pp_kallsyms *ks, uint64_t addr,
					 uint64_t *ret_off);

#endif
