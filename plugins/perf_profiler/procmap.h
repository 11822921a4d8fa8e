/* SPDX-License-Identifier: MIT */
/*
 * What the profiler knows about the processes it sampled: command names and
 * executable mappings, kept from the moment of sampling (MMAP2/COMM/FORK
 * records, or /proc/PID/maps the first time a process shows up), so a
 * process that exits before the results are read still symbolises.
 *
 * Mapped files are "modules" of the profile, numbered 1..PP_MOD_MAX. A
 * user frame is stored as (module, file offset), which no longer depends on
 * the process or its load address; a kernel frame as (PP_MOD_KERNEL,
 * address); an address in no file mapping (JIT code, a process we could not
 * read) as (PP_MOD_UNKNOWN, address).
 */
#ifndef SMCP_PP_PROCMAP_H
#define SMCP_PP_PROCMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf_cache.h"
#include "pp_util.h"

#define PP_MOD_KERNEL 0
#define PP_MOD_UNKNOWN 0xffff
#define PP_MOD_MAX 0xfffe
#define PP_FRAME_ADDR_MASK 0xffffffffffffULL

static inline uint64_t pp_frame_make(uint16_t mod, uint64_t addr)
{
	return (uint64_t)mod << 48 | (addr & PP_FRAME_ADDR_MASK);
}

static inline uint16_t pp_frame_mod(uint64_t f)
{
	return (uint16_t)(f >> 48);
}

/* The address of a frame: file offset, or the kernel/unknown address. */
static inline uint64_t pp_frame_addr(uint64_t f)
{
	uint64_t a = f & PP_FRAME_ADDR_MASK;

	/* kernel addresses are sign-extended from bit 47 */
	if (pp_frame_mod(f) == PP_MOD_KERNEL && (a >> 47))
		a |= ~PP_FRAME_ADDR_MASK;
	return a;
}

struct pp_module {
	char *path;
	uint8_t build_id[PP_BUILD_ID_MAX];
	uint8_t build_id_len;
	struct pp_file_ident ident; /* what the kernel said the mapped file is */
	int32_t pid;      /* a process that mapped it ... */
	uint64_t start, end; /* ... there: /proc/PID/map_files/START-END, PID/root */
	bool is_vdso;
	bool tried;
	int load_err;     /* why elf is NULL once tried */
	struct pp_elf *elf; /* a cache reference, held while the profile lives */
};

struct pp_map {
	uint64_t start, end, pgoff;
	uint16_t module;
};

struct pp_proc {
	int32_t pid;
	char comm[16];
	struct pp_map *maps; /* sorted by start, non-overlapping */
	uint32_t n_maps, cap_maps;
	uint32_t gen;        /* bumped when code at an address may have changed (exec, remap) */
	bool maps_read;      /* /proc/PID/maps read (or the process is gone) */
	uint64_t last_read_ns;
	uint32_t n_reads;
};

struct pp_procs {
	struct pp_proc *v;
	size_t n, cap, max_procs;
	struct smcp_hashmap by_pid; /* pid -> index into v */
	struct pp_module *mods; /* index = module id; [0] unused (kernel) */
	size_t n_mods, cap_mods;
	struct smcp_hashmap mod_index; /* module ids, found by path, build id, inode */
	const char *root;       /* fs root for /proc reads */
	struct pp_elf_cache *cache;
	uint64_t procs_dropped, maps_reads, maps_read_failures, modules_dropped;
};

int pp_procs_init(struct pp_procs *ps, const char *root, struct pp_elf_cache *cache);
void pp_procs_free(struct pp_procs *ps);

/* The record of pid, created empty when create is set; NULL when absent
 * or when the table is full (counted in procs_dropped). */
struct pp_proc *pp_proc_get(struct pp_procs *ps, int32_t pid, bool create);
void pp_proc_set_comm(struct pp_proc *p, const char *comm);
/* A new executable mapping (MMAP2 or a maps line). path may be "[vdso]"
 * or anonymous ("" / "//anon"); build_id may be NULL; ident is the device
 * and inode the kernel reported (NULL or !have: none). */
int pp_proc_add_map(struct pp_procs *ps, struct pp_proc *p, uint64_t start, uint64_t len,
		    uint64_t pgoff, const char *path, const uint8_t *build_id, size_t build_id_len,
		    const struct pp_file_ident *ident);
/* exec(): the old image's mappings go. */
void pp_proc_exec(struct pp_proc *p);
/* fork(): the child starts with the parent's mappings. */
int pp_proc_fork(struct pp_procs *ps, int32_t parent, int32_t child);
/* Read /proc/PID/maps and /proc/PID/comm: again at most 100 ms later, the
 * interval doubling each time, 16 times in all. 0 or -errno (-EAGAIN: too
 * soon; -ESRCH: the process is gone). */
int pp_proc_read(struct pp_procs *ps, struct pp_proc *p, uint64_t now_ns);
const struct pp_map *pp_proc_find_map(const struct pp_proc *p, uint64_t addr);
/* Frame of a user address in p: (module, file offset), or unknown. */
uint64_t pp_proc_frame(const struct pp_proc *p, uint64_t addr);
/* The ELF image of module id, loaded on first use (NULL if it cannot be). */
struct pp_elf *pp_module_elf(struct pp_procs *ps, uint16_t mod);
/* The same for the module of map m of process p, which has just been seen
 * running there: a first load opens the file through p's mapping
 * (/proc/PID/map_files), rather than that of the process that mapped the
 * file first, which may be gone. */
struct pp_elf *pp_map_elf(struct pp_procs *ps, const struct pp_proc *p, const struct pp_map *m);

#endif
