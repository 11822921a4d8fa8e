/* SPDX-License-Identifier: MIT */
/*
 * ELF images of the files processes map, cached across profiles by build-id
 * (or by device, inode, size and mtime when a file has none).
 *
 * The files belong to whoever runs the profiled processes, and the daemon is
 * root, so they are opened as elf_open.c says (the mapped file itself, never
 * a symlink, a device or a FIFO a user put in its place) and never mapped: a
 * mapping of a file its owner then truncates faults (SIGBUS) on the next
 * read of a page it lost. An entry keeps the file open and reads it with
 * pread, so a file truncated later only reads short (what it no longer holds
 * is missing, and debug_note says why). .eh_frame_hdr and .eh_frame, which
 * unwinding reads for every frame, are copied to the heap when the file is
 * loaded (PP_COPY_MAX each, PP_COPY_BUDGET for the whole cache); every other
 * byte is read when asked for. A file deleted or replaced after it was
 * opened still symbolises: the open file is the one that was mapped.
 * Symbols are loaded lazily from .symtab and .dynsym, following the
 * build-id and .gnu_debuglink to a separate debug file (compressed sections
 * inflated with zlib) when the file itself is stripped.
 *
 * Unwind windows: each entry owns a slot; the window of slot s is the fake
 * address range PP_WIN_BASE + s * PP_WIN_SIZE, in which window offset v reads
 * the byte at link-time address v of the file. libunwind is handed addresses
 * in that window, so one copy of the unwind tables serves every process that
 * maps the file, whatever its load address (see unwind.c).
 */
#ifndef SMCP_PP_ELF_CACHE_H
#define SMCP_PP_ELF_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pp_util.h"

#define PP_WIN_BASE 0x4000000000000000ULL
#define PP_WIN_SHIFT 36
#define PP_WIN_SIZE (1ULL << PP_WIN_SHIFT)
#define PP_ELF_MAX_LOADS 16
#define PP_BUILD_ID_MAX 20

/*
 * Heap copies of .eh_frame_hdr and .eh_frame: at most PP_COPY_MAX each (the
 * largest in a Debian install, libLLVM-15's, are 0.8 and 5.2 MB), and
 * PP_COPY_BUDGET for all cached files together, so that many files with
 * huge (sparse) unwind sections cannot make the daemon hold them all; past
 * either, unwinding reads the file with pread instead (slower, same result).
 */
#define PP_COPY_MAX (32u << 20)
#define PP_COPY_BUDGET (256u << 20)
/* small reads elsewhere go through PP_PAGES pages of PP_PAGE_SIZE per file */
#define PP_PAGES 4
#define PP_PAGE_SIZE 4096u

struct pp_elf_load {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags;
};

/* A file range copied to the heap (unwinding reads it often). */
struct pp_elf_copy {
	uint64_t off; /* file offset of p[0] */
	size_t len;
	unsigned char *p;
};

struct pp_sym {
	uint64_t addr;
	uint64_t size;
	const char *name;
};

/* Where symbols came from, for the status resource and the results. */
enum pp_sym_source {
	PP_SYMS_NONE = 0,
	PP_SYMS_SYMTAB,   /* the file's own .symtab */
	PP_SYMS_DYNSYM,   /* only .dynsym: exported functions */
	PP_SYMS_BUILD_ID, /* DEBUG_DIR/.build-id/xx/yyyy.debug */
	PP_SYMS_DEBUGLINK,/* .gnu_debuglink target */
};

struct pp_elf {
	char *path;      /* the file opened (or "[vdso]") */
	uint8_t build_id[PP_BUILD_ID_MAX];
	uint8_t build_id_len;
	bool is_vdso;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;

	/* the image: an open file read with pread (fd), or for the vDSO a
	 * malloc'd copy (img, fd -1); img_len is the file's size when opened */
	int fd;
	unsigned char *img;
	size_t img_len;
	bool truncated; /* a read came up short: the file shrank since */
	struct pp_elf_copy copies[2]; /* .eh_frame_hdr, .eh_frame (or none) */
	size_t copy_bytes;
	/* pages last read outside the copies: libunwind reads the code at an
	 * IP (signal trampoline and PLT checks where CFI fails) and personality
	 * pointers a word at a time, often at the same few places */
	unsigned char *pages; /* PP_PAGES * PP_PAGE_SIZE, allocated on first use */
	uint64_t page_off[PP_PAGES];
	size_t page_len[PP_PAGES];
	uint16_t e_type;
	struct pp_elf_load loads[PP_ELF_MAX_LOADS];
	unsigned int n_loads;
	uint64_t min_vaddr, max_vaddr; /* span of the PT_LOAD segments */

	/* unwind tables, all as link-time addresses */
	bool have_eh_table;
	uint64_t eh_hdr_vaddr, eh_table_vaddr, eh_fde_count;
	uint64_t eh_hdr_off, eh_hdr_len; /* PT_GNU_EH_FRAME in the file */
	bool dframe_tried;
	unsigned char *dframe; /* .debug_frame converted to .eh_frame form + table */
	size_t dframe_len;
	uint64_t dframe_base;  /* window offset of dframe[0] */
	uint64_t dframe_table_off, dframe_fde_count;

	/* symbols, loaded on first lookup */
	bool syms_tried;
	enum pp_sym_source sym_source;
	char *debug_path; /* separate debug file used, if any */
	struct pp_sym *syms;
	size_t n_syms;
	struct pp_arena names;
	const char *debug_note; /* why symbols or CFI are missing, if they are */

	/* cache bookkeeping */
	uint32_t slot;
	uint32_t refs;
	uint64_t last_use;
	size_t mem_bytes; /* heap held (symbols, names, converted CFI, copies) */
};

struct pp_elf_cache_stats {
	uint64_t lookups, hits, loads, evictions, debug_files, failures;
};

struct pp_elf_cache {
	struct pp_elf **slots; /* index = window slot; NULL = free */
	size_t n_slots, n_entries, max_entries;
	struct pp_map64 by_key; /* key hash -> slot + 1 */
	uint64_t tick;
	char *debug_dir;        /* "/usr/lib/debug" */
	size_t copy_bytes;      /* held by the entries' copies, within PP_COPY_BUDGET */
	struct pp_elf_cache_stats st;
};

int pp_elf_cache_init(struct pp_elf_cache *c, const char *debug_dir, size_t max_entries);
void pp_elf_cache_fini(struct pp_elf_cache *c);

/*
 * What the kernel reported about a mapped file: its device and inode (MMAP2
 * records without build-id, /proc/PID/maps). A file opened on behalf of a
 * process must be that file.
 */
struct pp_file_ident {
	bool have; /* false: nothing reported (MMAP2 with build-id, a tool's file) */
	uint32_t dev_major, dev_minor;
	uint64_t ino;
};

/* A file to load: where a process maps it and what it must be. */
struct pp_elf_where {
	const char *path;     /* as the process names it: the entry's path */
	const char *root;     /* file system root for /proc ("" for the live one) */
	int32_t pid;          /* a process that maps it; 0: none (a file a tool names) */
	uint64_t start, end;  /* that mapping, for /proc/PID/map_files/START-END */
	struct pp_file_ident ident;
	const uint8_t *build_id; /* told by the kernel at map time, or NULL */
	size_t build_id_len;
};

/*
 * Get the ELF image of a mapped file. Tried in order, each opened as
 * elf_open.c says: /proc/PID/map_files/START-END (the mapped file itself,
 * while the process maps it), the path under /proc/PID/root (the process's
 * mount namespace), the path itself. A file whose build-id differs from the
 * one the kernel told (replaced since) is refused with -ESTALE. Takes a
 * reference; 0 or -errno of the most telling failure (-ENOENT; -ESTALE,
 * -ELOOP: a symlink now; -ENXIO: not a regular file; -ENOEXEC: not ELF
 * for this machine; -ENOMEM; pp_elf_strerror() says them for a reader).
 */
int pp_elf_get(struct pp_elf_cache *c, const struct pp_elf_where *w, struct pp_elf **ret);
/* A file a tool or test names by path (no process behind it). */
static inline int pp_elf_get_file(struct pp_elf_cache *c, const char *path,
				  const uint8_t *build_id, size_t build_id_len, struct pp_elf **ret)
{
	struct pp_elf_where w = { .path = path, .root = "", .build_id = build_id,
				  .build_id_len = build_id_len };

	return pp_elf_get(c, &w, ret);
}
/* Why a file could not be loaded, for the answers (err is pp_elf_get's). */
const char *pp_elf_strerror(int err);
/* The vDSO of this kernel, read from our own process. */
int pp_elf_get_vdso(struct pp_elf_cache *c, struct pp_elf **ret);
/* Drop a reference; unreferenced entries stay cached until evicted. */
void pp_elf_put(struct pp_elf_cache *c, struct pp_elf *e);
/* Drop every unreferenced entry (a cold cache for benchmarks). */
void pp_elf_cache_drop_unused(struct pp_elf_cache *c);

/* File offset -> link-time address, through the PT_LOAD segments. */
bool pp_elf_off_to_vaddr(const struct pp_elf *e, uint64_t off, uint64_t *ret);

/* Read len bytes at window offset woff (link-time address, or the converted
 * CFI above max_vaddr); bytes past the segment's end read as zero. Returns
 * false when nothing at all is there, or the file no longer holds it. */
bool pp_elf_window_read(struct pp_elf *e, uint64_t woff, void *buf, size_t len);

/* Symbol containing link-time address vaddr (loads symbols on first use). */
const struct pp_sym *pp_elf_symbol(struct pp_elf *e, const char *debug_dir, uint64_t vaddr);

/* Load symbols and the converted .debug_frame if not done yet. */
void pp_elf_load_debuginfo(struct pp_elf *e, const char *debug_dir, struct pp_elf_cache_stats *st);

const char *pp_sym_source_name(enum pp_sym_source s);

#endif
