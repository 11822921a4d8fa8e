/* SPDX-License-Identifier: MIT */
/*
 * Source file and line of an address of a cached ELF image (elf_lines.c):
 * opened for one answer and closed after it, so no DWARF stays in memory
 * between answers.
 */
#ifndef SMCP_PP_ELF_LINES_H
#define SMCP_PP_ELF_LINES_H

#include <libelf.h>
#include <stdint.h>

#include "elf_cache.h"

struct Dwarf;

struct pp_lines {
	struct Dwarf *dw;
	Elf *elf;
	struct pp_elf dbg; /* the separate debug file when the lines are there */
	const char *note;  /* why there are none, when there are none (static) */
};

/* The line tables of e (its own DWARF, else its debug file under debug_dir
 * or by .gnu_debuglink): 0, or -ENOENT with l->note saying why. Close l
 * either way. */
int pp_lines_open(struct pp_lines *l, struct pp_elf *e, const char *debug_dir);
/* File and line of link-time address vaddr: 0 with *ret_file owned by l
 * (valid until pp_lines_close), or -ENOENT. */
int pp_lines_find(struct pp_lines *l, uint64_t vaddr, const char **ret_file, int *ret_line);
void pp_lines_close(struct pp_lines *l);

#endif
