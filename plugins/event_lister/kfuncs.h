/* SPDX-License-Identifier: MIT */
/*
 * The list of probe-able kernel functions behind events://kprobe: tracefs
 * available_filter_functions when it can be read, else the text symbols of
 * /proc/kallsyms, minus the kprobe blacklist when debugfs shows it.
 */
#ifndef SMCP_EL_KFUNCS_H
#define SMCP_EL_KFUNCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "el_util.h"

enum kf_source {
	KF_SRC_NONE = 0,
	KF_SRC_FILTER_FUNCTIONS, /* tracefs available_filter_functions */
	KF_SRC_KALLSYMS,         /* /proc/kallsyms text symbols */
};

struct kf_module {
	char *name; /* "vmlinux" for the kernel image */
	uint32_t count;
};

struct kf_func {
	uint32_t name; /* offset into kf_list.names */
	uint32_t mod;  /* index into kf_list.mods */
};

struct kf_excluded {
	size_t blacklist;  /* named in the kprobe blacklist */
	size_t init_text;  /* in freed __init text (kallsyms addresses) */
	size_t sections;   /* in entry/noinstr/kprobes text, which kprobes refuse */
	size_t padding;    /* __pfx_ / __cfi_ padding symbols, never function entries */
	size_t not_functions; /* local labels (".L..."), BPF and ftrace trampolines */
	size_t invalid;    /* __ftrace_invalid_address__ placeholders */
	size_t duplicates; /* same name in the same module (static functions) */
};

struct kf_list {
	enum kf_source source;
	char source_note[384]; /* why this source, in words */
	struct strtab names;
	struct kf_func *fn;    /* sorted by name, then module */
	size_t n;
	struct kf_module *mods; /* sorted by name; vmlinux is one of them */
	size_t n_mods;
	struct kf_excluded ex;
	bool blacklist_used;
	char blacklist_note[256];
	bool addresses_known;   /* kallsyms showed real addresses */
	bool kprobe_events;     /* tracefs has kprobe_events */
	bool kprobes_built;     /* the kernel has register_kprobe */
};

/*
 * Build the list. root is the fs_root prefix; tracefs_dir the found tracefs
 * (with root) or NULL, and then no_tracefs says why. Returns 0, or -errno
 * with reason filled when neither source could be read.
 */
int el_kf_list_read(const char *root, const char *tracefs_dir, const char *no_tracefs,
		    struct kf_list *l, char *reason, size_t reason_len);
void el_kf_list_free(struct kf_list *l);

static inline const char *kf_name(const struct kf_list *l, size_t i)
{
	return strtab_str(&l->names, l->fn[i].name);
}

/* Index of a module by name, or -1. */
long el_kf_module_index(const struct kf_list *l, const char *name);

const char *el_kf_source_name(enum kf_source s);

#endif
