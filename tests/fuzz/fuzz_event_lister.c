/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the event_lister plugin's readers of what the kernel lists: finding
 * tracefs through /proc/mounts (escaped mount points), available_events
 * into the catalog, each event's format file (fields, types, offsets,
 * print fmt), and the kernel function list from available_filter_functions
 * or /proc/kallsyms with the kprobe blacklist. The plugin's tracefs.c,
 * kfuncs.c and el_util.c are compiled in; the files come from a fake root
 * written from the input (fstree.h).
 *
 * Input: fstree records. Parameter "@filter" is a client's list filter
 * (a PCRE2 regex), matched against every catalog and function name: it
 * must compile or say why, and matching must answer or give up with its
 * reason, never anything else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fstree.h"
#include "kfuncs.h"
#include "tracefs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FORMATS 16

/* el_filter_match keeps its contract: 1, 0, or -E2BIG with a reason. */
static void match(struct el_filter *flt, const char *name)
{
	int rc = el_filter_match(flt, name);

	if (rc != 0 && rc != 1 && !(rc == -E2BIG && flt->why[0]))
		abort();
}

static void read_formats(const struct tracefs *t, const struct ev_catalog *c,
			 struct el_filter *flt)
{
	size_t tried = 0;

	for (size_t i = 0; i < c->n; i++) {
		const char *full = ev_catalog_name(c, i), *ev = el_event_part(full);
		char sub[256];
		struct ev_format f;
		size_t sl = (size_t)(ev - 1 - full);

		match(flt, full);
		if (tried >= MAX_FORMATS || sl >= sizeof(sub))
			continue;
		memcpy(sub, full, sl);
		sub[sl] = '\0';
		(void)el_catalog_subsys(c, sub);
		tried++;
		if (el_format_read(t->dir, sub, ev, &f) == 0)
			el_format_free(&f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fstree tree;
	static bool ready;
	struct tracefs t;
	struct ev_catalog c;
	struct kf_list l;
	struct el_filter flt;
	char reason[512], err[1024];
	const char *pattern;

	if (!ready) {
		if (fstree_init(&tree, "smcp-fuzz-event_lister"))
			abort();
		ready = true;
	}
	(void)fstree_load(&tree, data, size);
	pattern = fstree_param(&tree, "filter");
	err[0] = '\0';
	if (el_filter_compile(&flt, pattern, err, sizeof(err))) {
		if (!err[0])
			abort(); /* a refused filter always says why */
		(void)el_filter_compile(&flt, NULL, err, sizeof(err));
	}
	/* may_mount = false: never mount anything from a fuzz input. A mount
	 * point with ".." would leave the fake root for the real tracefs:
	 * not what this input is about (and slow), so it is not read. */
	(void)tracefs_find(tree.root, false, &t);
	if (strstr(t.dir, ".."))
		t.found = false;
	if (t.found && el_catalog_read(t.dir, &c) == 0) {
		read_formats(&t, &c, &flt);
		el_catalog_free(&c);
	}
	if (el_kf_list_read(tree.root, t.found ? t.dir : NULL, t.reason, &l, reason,
			    sizeof(reason)) == 0) {
		for (size_t i = 0; i < l.n && i < 4096; i++)
			match(&flt, kf_name(&l, i));
		(void)el_kf_module_index(&l, "vmlinux");
		el_kf_list_free(&l);
	}
	el_filter_free(&flt);
	fstree_clear(&tree);
	return 0;
}
