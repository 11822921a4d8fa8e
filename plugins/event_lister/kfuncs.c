/* SPDX-License-Identifier: MIT */
/* Probe-able kernel functions: available_filter_functions or kallsyms. */
#include "kfuncs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <schedmcp/array.h>
#include <schedmcp/plugin.h> /* SMCP_COUNT */

#define BLACKLIST_MAX (8u << 20)
#define MAX_FUNCS (4u << 20) /* far above any real kernel; bounds memory */

struct raw_sym {
	uint64_t addr;
	uint32_t name;
	uint32_t mod;
};

struct builder {
	struct kf_list *l;
	struct raw_sym *sym;
	size_t n, cap;
	size_t mods_cap;
	uint32_t last_mod;
	/* kallsyms section markers (0: not seen) */
	uint64_t init_lo, init_hi;
	uint64_t sec_lo[5], sec_hi[5];
};

/* Text ranges the kernel never lets a kprobe into, by their marker names. */
static const char *const sec_start[5] = { "__entry_text_start", "__irqentry_text_start",
					  "__softirqentry_text_start", "__kprobes_text_start",
					  "__noinstr_text_start" };
static const char *const sec_end[5] = { "__entry_text_end", "__irqentry_text_end",
					"__softirqentry_text_end", "__kprobes_text_end",
					"__noinstr_text_end" };

const char *el_kf_source_name(enum kf_source s)
{
	static const char *const names[] = {
		[KF_SRC_NONE] = "none",
		[KF_SRC_FILTER_FUNCTIONS] = "available_filter_functions",
		[KF_SRC_KALLSYMS] = "kallsyms",
	};

	return (size_t)s < SMCP_COUNT(names) ? names[s] : "none";
}

static int module_id(struct builder *b, const char *name, size_t len, uint32_t *ret)
{
	struct kf_list *l = b->l;

	if (b->last_mod < l->n_mods && strlen(l->mods[b->last_mod].name) == len &&
	    strncmp(l->mods[b->last_mod].name, name, len) == 0) {
		*ret = b->last_mod;
		return 0;
	}
	for (size_t i = 0; i < l->n_mods; i++) {
		if (strlen(l->mods[i].name) == len && strncmp(l->mods[i].name, name, len) == 0) {
			*ret = b->last_mod = (uint32_t)i;
			return 0;
		}
	}
	if (smcp_array_grow(&l->mods, &b->mods_cap, l->n_mods, sizeof(*l->mods), 32))
		return -ENOMEM;
	l->mods[l->n_mods].name = strndup(name, len);
	if (!l->mods[l->n_mods].name)
		return -ENOMEM;
	l->mods[l->n_mods].count = 0;
	*ret = b->last_mod = (uint32_t)l->n_mods++;
	return 0;
}

static int add_sym(struct builder *b, uint64_t addr, const char *name, size_t len,
		   const char *mod, size_t mod_len)
{
	struct raw_sym *s;
	int err;

	if (b->n == MAX_FUNCS)
		return -E2BIG;
	if (smcp_array_grow(&b->sym, &b->cap, b->n, sizeof(*b->sym), 65536))
		return -ENOMEM;
	s = &b->sym[b->n];
	s->addr = addr;
	err = module_id(b, mod ? mod : "vmlinux", mod ? mod_len : 7, &s->mod);
	if (!err)
		err = el_strtab_add(&b->l->names, name, len, &s->name);
	if (!err)
		b->n++;
	return err;
}

/* The module of a symbol line: the name inside "[...]" somewhere in s (the
 * rest of the line after the symbol; NULL when there is none), its length in
 * *ret_len. NULL for no module. */
static const char *module_of(const char *s, size_t *ret_len)
{
	const char *mod = s ? strchr(s, '[') : NULL, *end = mod ? strchr(mod, ']') : NULL;

	if (!end)
		return NULL;
	*ret_len = (size_t)(end - mod - 1);
	return mod + 1;
}

/* "name" or "name [module]" */
static int parse_filter_functions(struct builder *b, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0;

	while (!err && (len = getline(&line, &cap, f)) > 0) {
		const char *sp, *mod;
		size_t nl, ml = 0;

		while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
			line[--len] = '\0';
		if (!len)
			continue;
		sp = strchr(line, ' ');
		nl = sp ? (size_t)(sp - line) : (size_t)len;
		mod = module_of(sp, &ml);
		if (strncmp(line, "__ftrace_invalid_address__", 26) == 0) {
			b->l->ex.invalid++;
			continue;
		}
		err = add_sym(b, 0, line, nl, mod, ml);
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	return err;
}

static void note_marker(struct builder *b, const char *name, uint64_t addr)
{
	if (strcmp(name, "_sinittext") == 0)
		b->init_lo = addr;
	else if (strcmp(name, "_einittext") == 0)
		b->init_hi = addr;
	for (int i = 0; i < 5; i++) {
		if (strcmp(name, sec_start[i]) == 0)
			b->sec_lo[i] = addr;
		else if (strcmp(name, sec_end[i]) == 0)
			b->sec_hi[i] = addr;
	}
}

static bool is_marker(const char *name)
{
	static const char *const other[] = { "_stext", "_etext", "_sinittext", "_einittext",
					     "_text", "__init_begin", "__init_end" };

	for (int i = 0; i < 5; i++)
		if (strcmp(name, sec_start[i]) == 0 || strcmp(name, sec_end[i]) == 0)
			return true;
	for (size_t i = 0; i < SMCP_COUNT(other); i++)
		if (strcmp(name, other[i]) == 0)
			return true;
	return false;
}

/* "ffffffff81000000 T name" or "... t name\t[module]" */
static int parse_kallsyms(struct builder *b, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0;

	while (!err && (len = getline(&line, &cap, f)) > 0) {
		char *end, *name, *tab;
		const char *mod;
		uint64_t addr;
		size_t nl, ml = 0;
		char type;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		addr = strtoull(line, &end, 16);
		if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		type = end[1];
		if (type != 't' && type != 'T')
			continue;
		name = end + 3;
		tab = strpbrk(name, "\t ");
		nl = tab ? (size_t)(tab - name) : strlen(name);
		mod = module_of(tab, &ml);
		if (addr)
			b->l->addresses_known = true;
		if (!mod) {
			char tmp[64];

			if (nl < sizeof(tmp)) {
				memcpy(tmp, name, nl);
				tmp[nl] = '\0';
				note_marker(b, tmp, addr);
				if (is_marker(tmp))
					continue;
			}
		}
		if (strncmp(name, "__pfx_", 6) == 0 || strncmp(name, "__cfi_", 6) == 0) {
			b->l->ex.padding++;
			continue;
		}
		/* ".slowpath" labels, BPF JIT images ([bpf]) and ftrace/kprobe
		 * trampolines ([__builtin__ftrace]) are text but not functions */
		if (name[0] == '.' || (mod && ((ml == 3 && strncmp(mod, "bpf", 3) == 0) ||
					       strncmp(mod, "__builtin__", 11) == 0))) {
			b->l->ex.not_functions++;
			continue;
		}
		err = add_sym(b, addr, name, nl, mod, ml);
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	return err;
}

/* Drop core-kernel symbols inside ranges kprobes refuse. */
static void apply_sections(struct builder *b, uint32_t vmlinux)
{
	size_t w = 0;

	if (!b->l->addresses_known)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct raw_sym *s = &b->sym[i];
		bool drop = false;

		if (s->mod == vmlinux) {
			if (b->init_lo && b->init_hi && s->addr >= b->init_lo &&
			    s->addr < b->init_hi) {
				b->l->ex.init_text++;
				drop = true;
			}
			for (int k = 0; k < 5 && !drop; k++) {
				if (b->sec_lo[k] && b->sec_hi[k] && s->addr >= b->sec_lo[k] &&
				    s->addr < b->sec_hi[k]) {
					b->l->ex.sections++;
					drop = true;
				}
			}
		}
		if (!drop)
			b->sym[w++] = *s;
	}
	b->n = w;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * debugfs kprobes/blacklist lines: "0xADDR-0xADDR\tsymbol[ [module]]".
 * Returns a sorted array of names (strings point into *buf).
 */
static int read_blacklist(const char *root, char **buf, char ***ret, size_t *ret_n,
			  char *note, size_t note_len)
{
	char path[PATH_MAX], **names = NULL;
	size_t len, n = 0, cap = 0;
	int err;

	err = el_path(path, sizeof(path), root, "/sys/kernel/debug/kprobes/blacklist");
	if (!err)
		err = smcp_slurp(NULL, path, BLACKLIST_MAX, buf, &len);
	if (err) {
		snprintf(note, note_len,
			 "kprobe blacklist not applied: %s/sys/kernel/debug/kprobes/blacklist: %s%s",
			 root, strerror(-err),
			 err == -ENOENT ? " (debugfs not mounted, or a kernel without kprobes)"
					: "");
		return err;
	}
	for (char *line = *buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		char *sym;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		sym = strpbrk(line, "\t ");
		if (!sym)
			continue;
		while (*sym == '\t' || *sym == ' ')
			sym++;
		sym[strcspn(sym, " \t[")] = '\0';
		if (!*sym)
			continue;
		if (smcp_array_grow(&names, &cap, n, sizeof(*names), 1024)) {
			free(names);
			return -ENOMEM;
		}
		names[n++] = sym;
	}
	if (n > 1) /* names is NULL when none was found */
		qsort(names, n, sizeof(*names), cmp_cstr);
	*ret = names;
	*ret_n = n;
	snprintf(note, note_len, "kprobe blacklist applied (%zu entries)", n);
	return 0;
}

static void apply_blacklist(struct builder *b, const char *root)
{
	char *buf = NULL, **names = NULL;
	size_t n = 0, w = 0;

	if (read_blacklist(root, &buf, &names, &n, b->l->blacklist_note,
			   sizeof(b->l->blacklist_note))) {
		free(buf);
		return;
	}
	b->l->blacklist_used = true;
	for (size_t i = 0; i < b->n; i++) {
		const char *name = strtab_str(&b->l->names, b->sym[i].name);

		if (n && bsearch(&name, names, n, sizeof(*names), cmp_cstr)) { /* names may be NULL */
			b->l->ex.blacklist++;
			continue;
		}
		b->sym[w++] = b->sym[i];
	}
	b->n = w;
	free(names);
	free(buf);
}

static int cmp_sym(const void *a, const void *b, void *arg)
{
	const struct builder *bl = arg;
	const struct raw_sym *x = a, *y = b;
	int c = strcmp(strtab_str(&bl->l->names, x->name), strtab_str(&bl->l->names, y->name));

	if (c)
		return c;
	return strcmp(bl->l->mods[x->mod].name, bl->l->mods[y->mod].name);
}

static int cmp_mod(const void *a, const void *b)
{
	return strcmp(((const struct kf_module *)a)->name, ((const struct kf_module *)b)->name);
}

/* Sort, drop duplicates, count per module, and sort modules by name. */
static int finish(struct builder *b)
{
	struct kf_list *l = b->l;
	uint32_t *remap;
	struct kf_module *sorted;

	if (b->n > 1) /* b->sym is NULL when kallsyms had no kfunc */
		qsort_r(b->sym, b->n, sizeof(*b->sym), cmp_sym, b);
	l->fn = malloc((b->n ? b->n : 1) * sizeof(*l->fn));
	remap = calloc(l->n_mods ? l->n_mods : 1, sizeof(*remap));
	sorted = malloc((l->n_mods ? l->n_mods : 1) * sizeof(*sorted));
	if (!l->fn || !remap || !sorted) {
		free(remap);
		free(sorted);
		return -ENOMEM;
	}
	if (l->n_mods) /* l->mods is NULL without modules: no memcpy/qsort of NULL */
		memcpy(sorted, l->mods, l->n_mods * sizeof(*sorted));
	if (l->n_mods > 1)
		qsort(sorted, l->n_mods, sizeof(*sorted), cmp_mod);
	for (size_t i = 0; i < l->n_mods; i++)
		for (size_t k = 0; k < l->n_mods; k++)
			if (sorted[k].name == l->mods[i].name)
				remap[i] = (uint32_t)k;
	free(l->mods);
	l->mods = sorted;
	for (size_t i = 0; i < b->n; i++) {
		if (i && b->sym[i - 1].mod == b->sym[i].mod &&
		    strcmp(strtab_str(&l->names, b->sym[i - 1].name),
			   strtab_str(&l->names, b->sym[i].name)) == 0) {
			l->ex.duplicates++;
			continue;
		}
		l->fn[l->n].name = b->sym[i].name;
		l->fn[l->n].mod = remap[b->sym[i].mod];
		l->mods[l->fn[l->n].mod].count++;
		l->n++;
	}
	free(remap);
	return 0;
}

/* A name searched for among l->fn, whose names are offsets into l->names. */
struct fn_key {
	const struct kf_list *l;
	const char *name;
};

static int cmp_fn_name(const void *key, const void *fn)
{
	const struct fn_key *k = key;

	return strcmp(k->name, strtab_str(&k->l->names, ((const struct kf_func *)fn)->name));
}

static bool has_function(const struct kf_list *l, const char *name)
{
	const struct fn_key k = { l, name };

	return l->n && bsearch(&k, l->fn, l->n, sizeof(*l->fn), cmp_fn_name);
}

int el_kf_list_read(const char *root, const char *tracefs_dir, const char *no_tracefs,
		    struct kf_list *l, char *reason, size_t reason_len)
{
	struct builder b = { .l = l, .last_mod = UINT32_MAX };
	char path[PATH_MAX], why[384];
	FILE *f = NULL;
	struct stat st;
	uint32_t vmlinux;
	int err = 0;

	memset(l, 0, sizeof(*l));
	snprintf(why, sizeof(why), "%s", no_tracefs && *no_tracefs ? no_tracefs : "tracefs not found");
	if (tracefs_dir && !el_path(path, sizeof(path), tracefs_dir, "/available_filter_functions")) {
		f = fopen(path, "re");
		if (f) {
			l->source = KF_SRC_FILTER_FUNCTIONS;
			snprintf(l->source_note, sizeof(l->source_note),
				 "tracefs available_filter_functions (functions ftrace can "
				 "attach to; kprobes can attach to these by name)");
			err = parse_filter_functions(&b, f);
			fclose(f);
		} else {
			snprintf(why, sizeof(why), "available_filter_functions: %s",
				 strerror(errno));
		}
	}
	if (l->source == KF_SRC_NONE) {
		err = el_path(path, sizeof(path), root, "/proc/kallsyms");
		f = err ? NULL : fopen(path, "re");
		if (!f) {
			err = err ? err : -errno;
			snprintf(reason, reason_len,
				 "no list of kernel functions: %s, and %s/proc/kallsyms: %s", why,
				 root, strerror(-err));
			el_kf_list_free(l);
			return err;
		}
		l->source = KF_SRC_KALLSYMS;
		err = parse_kallsyms(&b, f);
		fclose(f);
		snprintf(l->source_note, sizeof(l->source_note),
			 "/proc/kallsyms text symbols (fallback: %s)%s", why,
			 l->addresses_known ? "; init text and the entry, irqentry, softirqentry, "
					      "kprobes and noinstr sections removed by address"
					    : "; addresses are hidden (kptr_restrict), so section "
					      "ranges could not be removed");
	}
	if (!err && module_id(&b, "vmlinux", 7, &vmlinux) == 0) {
		if (l->source == KF_SRC_KALLSYMS)
			apply_sections(&b, vmlinux);
		apply_blacklist(&b, root);
		err = finish(&b);
	}
	free(b.sym);
	if (err) {
		snprintf(reason, reason_len, "reading the %s function list failed: %s",
			 el_kf_source_name(l->source), strerror(-err));
		el_kf_list_free(l);
		return err;
	}
	/* stat, not access(): tracefs is searchable by root alone, and by this
	 * daemon as its own account only through CAP_DAC_READ_SEARCH, which
	 * access() leaves out (it checks the real uid without capabilities) */
	if (tracefs_dir && !el_path(path, sizeof(path), tracefs_dir, "/kprobe_events"))
		l->kprobe_events = stat(path, &st) == 0;
	l->kprobes_built = has_function(l, "register_kprobe");
	return 0;
}

void el_kf_list_free(struct kf_list *l)
{
	for (size_t i = 0; i < l->n_mods; i++)
		free(l->mods[i].name);
	free(l->mods);
	free(l->fn);
	el_strtab_free(&l->names);
	memset(l, 0, sizeof(*l));
}

static int cmp_module_name(const void *key, const void *mod)
{
	return strcmp(*(const char *const *)key, ((const struct kf_module *)mod)->name);
}

long el_kf_module_index(const struct kf_list *l, const char *name)
{
	const struct kf_module *m = l->n_mods ? bsearch(&name, l->mods, l->n_mods, sizeof(*l->mods),
							 cmp_module_name)
					      : NULL;

	return m ? m - l->mods : -1;
}
