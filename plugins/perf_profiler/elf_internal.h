/* SPDX-License-Identifier: MIT */
/*
 * Internal to the ELF reader (elf_open.c, elf_file.c, elf_symbols.c,
 * elf_cache.c, debug_frame.c): opening files other users control, reading
 * them with pread within bounds, and section contents.
 *
 * Bounds on what one file can make the daemon read into memory at once
 * (whatever its size, which may be a sparse 4 GiB):
 *   - section headers: at most 0xff00 sections (no extended numbering, which
 *     only relocatable objects with huge section counts use), program
 *     headers: at most 0xffff, checked before libelf sizes its tables;
 *   - symbol and string tables: PP_SYMTAB_MAX each, while symbols load;
 *   - notes: PP_NOTES_MAX for all note sections (or segments) together;
 *   - .debug_frame: PP_DEBUG_FRAME_MAX, inflated or not, and its compressed
 *     bytes PP_DEFLATED_MAX of that (elf_file.c);
 *   - the .eh_frame copies of elf_cache.h (PP_COPY_MAX, PP_COPY_BUDGET).
 */
#ifndef SMCP_PP_ELF_INTERNAL_H
#define SMCP_PP_ELF_INTERNAL_H

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zlib.h>

#include "elf_cache.h"

/* node's .symtab and .strtab (2.6 and 7.5 MB) are the largest in a Debian
 * install; 128 MiB each is ~17 and ~50 times those */
#define PP_SYMTAB_MAX (128u << 20)
#define PP_NOTES_MAX (64u << 10)
#define PP_DEBUGLINK_MAX 4096u
#define PP_SHSTRTAB_MAX (1u << 20)
/*
 * The only large section ever inflated is .debug_frame (symbol tables are
 * not compressed: objcopy and ld compress .debug_* only), and it is needed
 * only for the functions .eh_frame does not cover. It holds about as much
 * as .eh_frame, whose largest in a Debian install is libLLVM-15's 5.2 MB; 32
 * MiB is 6 times that (about a million functions' FDEs) and inflates in
 * ~0.1 s. A section that claims more is refused before anything is
 * inflated; one whose stream yields more or less than it claims is refused
 * by libelf, which inflates into a buffer of exactly the claimed size.
 */
#define PP_DEBUG_FRAME_MAX (32u << 20)
/*
 * libelf reads a compressed section's bytes whole before inflating them, so
 * they are bounded too: no zlib stream of max bytes is longer than zlib's
 * compressBound(max) (max + 0.03 % + 13 bytes), plus the header before it.
 */
#define PP_DEFLATED_MAX(max) (sizeof(Elf64_Chdr) + compressBound(max))

/*
 * elf_open.c. Open a file for reading (O_RDONLY | O_NONBLOCK | O_NOCTTY |
 * O_CLOEXEC) only after checking, through an O_PATH descriptor, that it is
 * a regular file and, when want->have, the device and inode the kernel
 * reported for a mapping (the inode only when ino_only: map_files, which the
 * kernel resolves to the mapped file itself). base is opened following
 * symlinks (a magic link like /proc/PID/root or /proc/PID/map_files/..., or
 * a directory only root writes); rel (NULL: none) is then walked one
 * component at a time with O_NOFOLLOW. Returns the fd, its stat in *ret_st,
 * or -errno: -ELOOP (a symlink in rel), -ENXIO (not a regular file),
 * -ESTALE (another file than the one mapped), or open's.
 */
int pp_open_checked(const char *base, const char *rel, const struct pp_file_ident *want,
		    bool ino_only, struct stat *ret_st);

/* elf_file.c */
/* Read exactly len bytes at file offset off of e (the copies first, then the
 * file): 0, or -EIO when the file no longer holds them (e->truncated set),
 * -errno from pread. */
int pp_elf_read(struct pp_elf *e, uint64_t off, void *buf, size_t len);
/* libelf over e, without mapping it, after checking the ELF header's counts
 * (the bounds above): elf_end() it; NULL when not an x86_64 ELF64 file. */
Elf *pp_elf_begin(struct pp_elf *e);
/* Whether section ndx of elf may be read whole by libelf (elf_getdata,
 * elf_strptr): present, and at most max bytes, inflated (elf_strptr inflates
 * a compressed string table) or not. */
bool pp_elf_section_fits(Elf *elf, size_t ndx, uint64_t max);
/* The first section of elf named name, or zname when not NULL (*ret_legacy
 * says which; NULL: not asked), after checking the section name table
 * against PP_SHSTRTAB_MAX: 0, -ENOENT, -ENOEXEC. */
int pp_elf_find_section(Elf *elf, const char *name, const char *zname, Elf_Scn **ret_scn,
			GElf_Shdr *ret_sh, bool *ret_legacy);
/* File offset and size of the first section named name (not inflated). */
int pp_elf_section_range(struct pp_elf *e, const char *name, uint64_t *ret_off,
			 uint64_t *ret_len);

/* A section's contents, owned by the libelf handle that read them. */
struct pp_elf_section {
	Elf *elf;
	const unsigned char *p;
	size_t len;
};
/* The contents of section name (or its .zdebug_ form), inflated by libelf
 * when compressed, in *ret until pp_elf_section_free(): 0, -ENOENT, -EFBIG
 * (more than max bytes, refused before reading or inflating), -EBADMSG,
 * -ENOTSUP (not zlib), -EIO, -ENOEXEC. *ret is always safe to free. */
int pp_elf_section(struct pp_elf *e, const char *name, size_t max, struct pp_elf_section *ret);
void pp_elf_section_free(struct pp_elf_section *s);
int pp_elf_parse_image(struct pp_elf *e);

/* elf_symbols.c: the separate debug file of e, found and opened as its
 * symbols' is (build-id under debug_dir, then .gnu_debuglink), into dbg
 * (read it with pp_elf_read/pp_elf_begin; close with pp_elf_close_debug,
 * also after a failure): 0 or -ENOENT. */
int pp_elf_open_debug(struct pp_elf *e, const char *debug_dir, struct pp_elf *dbg);
void pp_elf_close_debug(struct pp_elf *dbg);

/* debug_frame.c */
int pp_debug_frame_convert(struct pp_elf *e, const unsigned char *df, size_t len);

#endif
