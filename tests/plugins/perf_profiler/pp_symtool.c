/* SPDX-License-Identifier: MIT */
/*
 * Test helper: symbolise addresses with the profiler's own code.
 *
 *   pp-symtool [--debug-dir DIR] elf FILE HEXADDR...
 *       link-time addresses of FILE: "ADDR NAME SOURCE" per address
 *       (NAME "-" when unresolved), then "cfi eh_table=N debug_frame=N"
 *   pp-symtool [--root DIR] kernel HEXADDR...
 *       kernel addresses through DIR/proc/kallsyms (default the live one):
 *       "ADDR NAME MODULE"
 *
 * Output on stdout (a test tool); errors on stderr with exit status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_cache.h"
#include "kallsyms.h"

static int do_elf(const char *debug_dir, const char *file, int n, char **addrs)
{
	struct pp_elf_cache c;
	struct pp_elf *e;
	int err;

	if (pp_elf_cache_init(&c, debug_dir, 16))
		return 1;
	err = pp_elf_get_file(&c, file, NULL, 0, &e);
	if (err) {
		fprintf(stderr, "pp-symtool: %s: %s\n", file, strerror(-err));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		uint64_t a = strtoull(addrs[i], NULL, 16);
		const struct pp_sym *s = pp_elf_symbol(e, debug_dir, a);

		printf("%llx %s %s\n", (unsigned long long)a, s ? s->name : "-",
		       pp_sym_source_name(e->sym_source));
	}
	pp_elf_load_debuginfo(e, debug_dir, NULL);
	printf("cfi eh_table=%llu debug_frame=%llu\n",
	       (unsigned long long)(e->have_eh_table ? e->eh_fde_count : 0),
	       (unsigned long long)e->dframe_fde_count);
	if (e->debug_path)
		printf("debug_file %s\n", e->debug_path);
	if (e->debug_note)
		printf("note %s\n", e->debug_note);
	pp_elf_put(&c, e);
	pp_elf_cache_fini(&c);
	return 0;
}

static int do_kernel(const char *root, int n, char **addrs)
{
	struct pp_kallsyms ks = { 0 };
	int err = pp_kallsyms_load(&ks, root);

	if (err) {
		fprintf(stderr, "pp-symtool: /proc/kallsyms: %s\n", strerror(-err));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		uint64_t a = strtoull(addrs[i], NULL, 16), off;
		const struct pp_ksym *k = pp_kallsyms_lookup(&ks, a, &off);

		printf("%llx %s %s\n", (unsigned long long)a, k ? k->name : "-",
		       k ? k->module : "-");
	}
	pp_kallsyms_free(&ks);
	return 0;
}

int main(int argc, char **argv)
{
	const char *debug_dir = "/usr/lib/debug", *root = "";
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "--debug-dir") == 0) {
		debug_dir = argv[2];
		i = 3;
	} else if (argc > 2 && strcmp(argv[1], "--root") == 0) {
		root = argv[2];
		i = 3;
	}
	if (argc - i >= 2 && strcmp(argv[i], "elf") == 0)
		return do_elf(debug_dir, argv[i + 1], argc - i - 2, argv + i + 2);
	if (argc - i >= 1 && strcmp(argv[i], "kernel") == 0)
		return do_kernel(root, argc - i - 1, argv + i + 1);
	fprintf(stderr, "usage: pp-symtool [--debug-dir DIR] elf FILE ADDR... | "
			"[--root DIR] kernel ADDR...\n");
	return 2;
}
