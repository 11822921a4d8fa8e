/* SPDX-License-Identifier: MIT */
#include "kallsyms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>
#include <schedmcp/search.h>

/* kallsyms is ~10 MB on a distribution kernel with many modules */
#define KALLSYMS_MAX_BYTES (256u << 20)
/* a gap this large is not one function (e.g. the end of .text) */
#define KSYM_MAX_SIZE (1u << 20)

static bool ksym_weak(char type)
{
	return type == 'w' || type == 'W';
}

/* At one address, perf's preference among aliases ('T' is global text). */
static int cmp_ksym(const void *a, const void *b)
{
	const struct pp_ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return pp_alias_cmp(ksym_weak(x->type), x->type == 'T', x->name, ksym_weak(y->type),
			    y->type == 'T', y->name);
}

static bool is_text_type(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

void pp_kallsyms_free(struct pp_kallsyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	pp_arena_free(&ks->arena);
	memset(ks, 0, sizeof(*ks));
}

int pp_kallsyms_load(struct pp_kallsyms *ks, const char *root)
{
	struct pp_kallsyms n = { 0 };
	char *buf = NULL, *line, *next;
	const char *kernel_mod;
	size_t len, cap = 0, nonzero = 0;
	int err;

	err = smcp_slurp(root, "/proc/kallsyms", KALLSYMS_MAX_BYTES, &buf, &len);
	if (err)
		return err;
	kernel_mod = pp_arena_strdup(&n.arena, "[kernel.kallsyms]");
	if (!kernel_mod) {
		err = -ENOMEM;
		goto out;
	}
	for (line = buf; line && *line; line = next) {
		char *end, *name, *mod;
		unsigned long long addr;
		char type;

		/* memchr within what is left: strchr would be allowed to scan
		 * the whole remaining buffer on every line (ASan's
		 * strict_string_checks does), quadratic in a 10 MB file */
		next = memchr(line, '\n', len - (size_t)(line - buf));
		if (next)
			*next++ = '\0';
		addr = strtoull(line, &end, 16);
		if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		type = end[1];
		if (!is_text_type(type))
			continue;
		name = end + 3;
		mod = strchr(name, '\t');
		if (mod)
			*mod++ = '\0';
		err = smcp_array_grow(&n.syms, &cap, n.n, sizeof(*n.syms), 65536);
		if (err)
			goto out;
		n.syms[n.n].addr = addr;
		n.syms[n.n].size = 0;
		n.syms[n.n].type = type;
		n.syms[n.n].name = pp_arena_strdup(&n.arena, name);
		if (mod) {
			/* modules repeat their name on every line: intern the last one */
			if (n.n && n.syms[n.n - 1].module != kernel_mod &&
			    strcmp(n.syms[n.n - 1].module, mod) == 0)
				n.syms[n.n].module = n.syms[n.n - 1].module;
			else
				n.syms[n.n].module = pp_arena_strdup(&n.arena, mod);
			n.n_modules_syms++;
			if (strcmp(mod, "[bpf]") == 0)
				n.n_bpf++;
		} else {
			n.syms[n.n].module = kernel_mod;
		}
		if (!n.syms[n.n].name || !n.syms[n.n].module) {
			err = -ENOMEM;
			goto out;
		}
		if (addr)
			nonzero++;
		n.n++;
	}
	n.restricted = n.n > 0 && nonzero == 0;
	if (n.n) /* never qsort(NULL, 0): an empty or unreadable kallsyms */
		qsort(n.syms, n.n, sizeof(*n.syms), cmp_ksym);
	/* size: distance to the next different address */
	for (size_t i = n.n, nx = n.n; i-- > 0;) {
		uint64_t gap = nx < n.n ? n.syms[nx].addr - n.syms[i].addr : 4096;

		n.syms[i].size = gap > KSYM_MAX_SIZE ? KSYM_MAX_SIZE : (uint32_t)gap;
		if (i > 0 && n.syms[i - 1].addr != n.syms[i].addr)
			nx = i;
	}
	pp_kallsyms_free(ks);
	*ks = n;
	memset(&n, 0, sizeof(n));
out:
	free(buf);
	pp_kallsyms_free(&n);
	return err;
}

static int cmp_ksym_addr(const void *addr, const void *sym)
{
	uint64_t a = *(const uint64_t *)addr, start = ((const struct pp_ksym *)sym)->addr;

	return a < start ? -1 : a > start;
}

const struct pp_ksym *pp_kallsyms_lookup(const struct pp_kallsyms *ks, uint64_t addr,
					 uint64_t *ret_off)
{
	size_t lo;

	if (ks->restricted || !ks->n)
		return NULL;
	/* the last symbol with sym.addr <= addr */
	lo = smcp_upper_bound(&addr, ks->syms, ks->n, sizeof(*ks->syms), cmp_ksym_addr);
	if (!lo)
		return NULL;
	lo--;
	/* several names at one address: the sort put the preferred one first */
	while (lo > 0 && ks->syms[lo - 1].addr == ks->syms[lo].addr)
		lo--;
	if (addr - ks->syms[lo].addr >= ks->syms[lo].size)
		return NULL;
	if (ret_off)
		*ret_off = addr - ks->syms[lo].addr;
	return &ks->syms[lo];
}
