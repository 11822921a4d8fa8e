/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the perf profiler's ELF reading: any process on the machine can map
 * a file it wrote, and the root daemon then opens and parses it to
 * symbolise a profile. The plugin's elf_cache.c (open, cache), elf_file.c
 * (program headers, build-id notes through libdw, .eh_frame_hdr, sections,
 * compressed sections inflated by libelf), elf_symbols.c (.symtab/.dynsym,
 * debuglink, demangling) and debug_frame.c (.debug_frame rewritten for
 * libunwind) and elf_lines.c (source lines through libdw) are compiled in,
 * and libelf and libdw linked: what they do with a hostile file is fuzzed
 * with them.
 *
 * Input: the whole file. It is written to a private directory and looked
 * up through a fresh cache, as a profile would; then symbols at every
 * symbol's address (and inside it), source lines at the first 64, and the
 * unwind window at the places
 * libunwind reads first.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_cache.h"
#include "elf_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[128], file[160];

static void cleanup(void)
{
	(void)unlink(file);
	(void)rmdir(dir);
}

static bool setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (dir[0])
		return true;
	snprintf(dir, sizeof(dir), "%s/smcp-fuzz-elf-XXXXXX", base);
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return false;
	}
	snprintf(file, sizeof(file), "%s/image", dir);
	atexit(cleanup);
	return true;
}

static bool write_image(const uint8_t *data, size_t size)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return false;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	return off == size;
}

static void window(struct pp_elf *e, uint64_t woff)
{
	uint8_t buf[16];

	(void)pp_elf_window_read(e, woff, buf, sizeof(buf));
}

/* Source lines (elf_lines.c, libdw over our own fd) at the first n
 * symbols, as a symbol answer asks them. */
static void lines(struct pp_elf *e, size_t n)
{
	struct pp_lines l;
	const char *f;
	int line;

	if (pp_lines_open(&l, e, dir) == 0) {
		for (size_t i = 0; i < n; i++) {
			(void)pp_lines_find(&l, e->syms[i].addr, &f, &line);
			(void)pp_lines_find(&l, e->syms[i].addr + e->syms[i].size / 2, &f, &line);
		}
		(void)pp_lines_find(&l, e->min_vaddr, &f, &line);
	}
	pp_lines_close(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_elf_cache c;
	struct pp_elf *e = NULL, *again = NULL;
	uint64_t v;

	if (!setup() || !write_image(data, size))
		return 0;
	/* debug files are looked for in the (empty) private directory */
	if (pp_elf_cache_init(&c, dir, 4))
		return 0;
	if (pp_elf_get_file(&c, file, NULL, 0, &e) == 0) {
		size_t n;

		pp_elf_load_debuginfo(e, dir, &c.st);
		n = e->n_syms < 64 ? e->n_syms : 64;
		for (size_t i = 0; i < n; i++) {
			uint64_t a = e->syms[i].addr, sz = e->syms[i].size;

			(void)pp_elf_symbol(e, dir, a);
			(void)pp_elf_symbol(e, dir, a + sz / 2);
			(void)pp_elf_symbol(e, dir, a + sz);
		}
		(void)pp_elf_symbol(e, dir, e->min_vaddr);
		(void)pp_elf_symbol(e, dir, e->max_vaddr - 1);
		lines(e, n);
		for (unsigned int i = 0; i < e->n_loads; i++) {
			window(e, e->loads[i].vaddr);
			window(e, e->loads[i].vaddr + e->loads[i].filesz - 1);
			if (pp_elf_off_to_vaddr(e, e->loads[i].off, &v))
				window(e, v);
		}
		if (e->have_eh_table) {
			window(e, e->eh_hdr_vaddr);
			window(e, e->eh_table_vaddr);
			window(e, e->eh_table_vaddr + 8 * (e->eh_fde_count - 1));
		}
		if (e->dframe) {
			window(e, e->dframe_base);
			window(e, e->dframe_base + e->dframe_table_off);
			window(e, e->dframe_base + e->dframe_len - 1);
		}
		/* a second lookup is a cache hit, by file or by build-id */
		if (pp_elf_get_file(&c, file, e->build_id, e->build_id_len, &again) == 0)
			pp_elf_put(&c, again);
		pp_elf_put(&c, e);
	}
	pp_elf_cache_fini(&c);
	return 0;
}
