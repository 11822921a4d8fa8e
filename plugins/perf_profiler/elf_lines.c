/* SPDX-License-Identifier: MIT */
/*
 * Source lines of user frames, read with libdw from the image's own DWARF
 * or from its separate debug file. libdw is handed an Elf that libelf reads
 * with pread (pp_elf_begin: never mapped, so a file its owner truncates
 * reads short instead of raising SIGBUS) over a file this plugin found and
 * opened itself (elf_symbols.c, SECURITY.md): dwfl is not used, so nothing
 * is looked for by path, followed through a symlink or downloaded.
 *
 * What libdw would still open by path is refused before it can: a file
 * whose DWARF lives partly in a dwz supplementary file (.gnu_debugaltlink),
 * legacy .zdebug_ sections, and split units (DW_UT_skeleton, whose .dwo files libdw opens by name)
 * give no lines. Every DWARF section is bounded before dwarf_begin_elf,
 * which reads them all (inflating compressed ones): PP_DWARF_MAX each and
 * all together.
 */
#include "elf_internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <string.h>

#include "elf_lines.h"

/* the largest .debug_info in a Debian install (libLLVM-15's dbgsym) is
 * about 90 MB; a profile answer asks a few hundred addresses */
#define PP_DWARF_MAX (256u << 20)

/* Whether elf has DWARF line tables libdw may read without opening other
 * files, within the bounds above: 0, -ENOENT (none), -EFBIG, -ENOTSUP. */
static int check_dwarf(Elf *elf, const char **note)
{
	size_t shstrndx, n;
	uint64_t total = 0;
	bool have_line = false;
	GElf_Shdr lsh;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0 || elf_getshdrnum(elf, &n) != 0)
		return -ENOENT;
	/* the section names: pp_elf_find_section checks their table's size */
	if (pp_elf_find_section(elf, ".debug_line", NULL, NULL, &lsh, NULL) != 0)
		return -ENOENT;
	for (size_t i = 1; i < n; i++) {
		Elf_Scn *scn = elf_getscn(elf, i);
		GElf_Shdr sh;
		const char *name;

		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (strcmp(name, ".gnu_debugaltlink") == 0) {
			*note = "DWARF in a dwz supplementary file (not read)";
			return -ENOTSUP;
		}
		if (strncmp(name, ".zdebug_", 8) == 0) {
			/* libdw inflates these to a size in their own header */
			*note = "legacy .zdebug_ DWARF sections (not read)";
			return -ENOTSUP;
		}
		if (strncmp(name, ".debug_", 7) != 0 || sh.sh_type == SHT_NOBITS)
			continue;
		if (!pp_elf_section_fits(elf, i, PP_DWARF_MAX)) {
			*note = "a DWARF section is over the reader's bound (256 MiB): not read";
			return -EFBIG;
		}
		/* what libdw will hold: the inflated size (section_fits read it) */
		if (sh.sh_flags & SHF_COMPRESSED) {
			GElf_Chdr ch;

			if (!gelf_getchdr(scn, &ch))
				return -ENOEXEC;
			sh.sh_size = ch.ch_size;
		}
		total += sh.sh_size;
		have_line |= strstr(name, "debug_line") != NULL;
	}
	if (total > PP_DWARF_MAX) {
		*note = "DWARF over the reader's bound (256 MiB): not read";
		return -EFBIG;
	}
	return have_line ? 0 : -ENOENT;
}

static int try_open(struct pp_lines *l, struct pp_elf *f)
{
	int err;

	l->elf = pp_elf_begin(f);
	if (!l->elf)
		return -ENOEXEC;
	err = check_dwarf(l->elf, &l->note);
	if (!err) {
		l->dw = dwarf_begin_elf(l->elf, DWARF_C_READ, NULL);
		if (l->dw)
			return 0;
		err = -ENOEXEC;
	}
	elf_end(l->elf);
	l->elf = NULL;
	return err;
}

int pp_lines_open(struct pp_lines *l, struct pp_elf *e, const char *debug_dir)
{
	memset(l, 0, sizeof(*l));
	l->dbg.fd = -1;
	if (e->is_vdso || (!e->img && e->fd < 0))
		return -ENOENT;
	if (try_open(l, e) == 0)
		return 0;
	if (pp_elf_open_debug(e, debug_dir, &l->dbg) == 0 && try_open(l, &l->dbg) == 0)
		return 0;
	pp_elf_close_debug(&l->dbg);
	if (!l->note)
		l->note = "no DWARF line table (build with -g, or install its debug file)";
	return -ENOENT;
}

int pp_lines_find(struct pp_lines *l, uint64_t vaddr, const char **ret_file, int *ret_line)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	uint8_t unit_type;

	if (!l->dw)
		return -ENOENT;
	/*
	 * Units one at a time, not dwarf_addrdie: that goes through the units'
	 * ranges, which for a skeleton unit means opening its .dwo by name (as
	 * would asking dwarf_get_units for the subdie, left NULL here).
	 */
	while (dwarf_get_units(l->dw, cu, &cu, NULL, &unit_type, &cudie, NULL) == 0) {
		Dwarf_Line *line;
		const char *file;
		int lineno;

		if ((unit_type == DW_UT_compile || unit_type == DW_UT_partial) &&
		    dwarf_haspc(&cudie, vaddr) == 1 && (line = dwarf_getsrc_die(&cudie, vaddr)) &&
		    (file = dwarf_linesrc(line, NULL, NULL)) && dwarf_lineno(line, &lineno) == 0) {
			*ret_file = file;
			*ret_line = lineno;
			return 0;
		}
	}
	return -ENOENT;
}

void pp_lines_close(struct pp_lines *l)
{
	if (l->dw)
		dwarf_end(l->dw);
	if (l->elf)
		elf_end(l->elf);
	pp_elf_close_debug(&l->dbg);
	l->dw = NULL;
	l->elf = NULL;
}
