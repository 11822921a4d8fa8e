/* SPDX-License-Identifier: MIT */
#include "aggregate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#define KEY_KERNEL_UNKNOWN 1
#define KEY_ANON_UNKNOWN 2

static const char unknown[] = "[unknown]";

static int new_row(struct pp_agg *a, uint64_t key, const char *name, const char *module,
		   uint16_t mod, bool kernel, bool resolved, uint32_t *ret)
{
	uint64_t *v = pp_map64_get(&a->row_by_key, key);
	struct pp_symrow *r;
	bool isnew;

	if (v) {
		*ret = (uint32_t)*v;
		return 0;
	}
	if (smcp_array_grow(&a->rows, &a->cap_rows, a->n_rows, sizeof(*a->rows), 256))
		return -ENOMEM;
	v = pp_map64_put(&a->row_by_key, key, &isnew);
	if (!v)
		return -ENOMEM;
	r = &a->rows[a->n_rows];
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->module = module;
	r->mod = mod;
	r->kernel = kernel;
	r->resolved = resolved;
	*v = a->n_rows;
	*ret = (uint32_t)a->n_rows++;
	return 0;
}

static int symbolise(struct pp_agg *a, uint64_t frame, uint32_t *ret)
{
	uint16_t mod = pp_frame_mod(frame);
	uint64_t addr = pp_frame_addr(frame), off, vaddr;
	struct pp_module *m;
	struct pp_elf *e;
	const struct pp_sym *s;

	a->frames_symbolised++;
	if (mod == PP_MOD_KERNEL) {
		const struct pp_dynksym *d = pp_profile_find_ksym(a->prof, addr);
		const struct pp_ksym *k;

		if (d) {
			a->frames_resolved++;
			return new_row(a, (uint64_t)(uintptr_t)d, d->name,
				       strncmp(d->name, "bpf_", 4) == 0 ? "[bpf]" : "[kernel.ksymbol]",
				       mod, true, true, ret);
		}
		k = a->ks ? pp_kallsyms_lookup(a->ks, addr, &off) : NULL;
		if (!k) {
			a->kernel_unresolved++;
			return new_row(a, KEY_KERNEL_UNKNOWN, unknown, "[kernel.kallsyms]", mod, true,
				       false, ret);
		}
		a->frames_resolved++;
		return new_row(a, (uint64_t)(uintptr_t)k, k->name, k->module, mod, true, true, ret);
	}
	if (mod == PP_MOD_UNKNOWN || mod >= a->prof->procs.n_mods)
		return new_row(a, KEY_ANON_UNKNOWN, unknown, unknown, PP_MOD_UNKNOWN, false, false,
			       ret);
	m = &a->prof->procs.mods[mod];
	e = pp_module_elf(&a->prof->procs, mod);
	s = e && pp_elf_off_to_vaddr(e, addr, &vaddr) ? pp_elf_symbol(e, a->debug_dir, vaddr) : NULL;
	if (!s)
		/* one [unknown] row per file: which file is still worth knowing */
		return new_row(a, pp_hash_bytes(m->path, strlen(m->path), 3), unknown,
			       pp_basename(m->path), mod, false, false, ret);
	a->frames_resolved++;
	return new_row(a, (uint64_t)(uintptr_t)s, s->name, pp_basename(m->path), mod, false, true,
		       ret);
}

static int cmp_rows(const void *x, const void *y, void *ctx)
{
	const struct pp_symrow *rows = ctx, *a = &rows[*(const uint32_t *)x],
			       *b = &rows[*(const uint32_t *)y];

	if (a->self != b->self)
		return a->self > b->self ? -1 : 1;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_stacks(const void *x, const void *y)
{
	const struct pp_agg_stack *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static int cmp_groups(const void *x, const void *y)
{
	const struct pp_agg_group *a = x, *b = y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

static const char *comm_of(struct pp_profile *p, int32_t pid)
{
	struct pp_proc *pr = pp_proc_get(&p->procs, pid, false);

	if (pid == 0)
		return "swapper";
	return pr && pr->comm[0] ? pr->comm : NULL;
}

/* Accumulate per (key, comm) counts in an array + map. */
struct counter {
	struct pp_map64 idx;
	void *v;
	size_t n, cap, elem;
};

static void *count_slot(struct counter *c, uint64_t key, bool *isnew)
{
	uint64_t *i = pp_map64_put(&c->idx, key, isnew);

	if (!i)
		return NULL;
	if (*isnew) {
		if (smcp_array_grow(&c->v, &c->cap, c->n, c->elem, 64))
			return NULL;
		*i = c->n++;
		memset((char *)c->v + *i * c->elem, 0, c->elem);
	}
	return (char *)c->v + *i * c->elem;
}

int pp_agg_build(struct pp_agg *a, struct pp_profile *p, const struct pp_kallsyms *ks,
		 const char *debug_dir, enum pp_group g, int32_t pid_filter)
{
	struct counter sc = { .elem = sizeof(struct pp_agg_stack) };
	struct counter gc = { .elem = sizeof(struct pp_agg_group) };
	uint32_t gen = 0;
	int err = 0;

	memset(a, 0, sizeof(*a));
	a->prof = p;
	a->ks = ks;
	a->debug_dir = debug_dir;
	a->group = g;
	a->pid_filter = pid_filter;
	a->frame_rows = malloc((p->n_frames ? p->n_frames : 1) * sizeof(*a->frame_rows));
	if (!a->frame_rows)
		return -ENOMEM;
	/* symbolise each distinct frame value once */
	for (size_t i = 0; i < p->n_frames; i++) {
		uint64_t *v = pp_map64_get(&a->row_by_frame, p->frames[i]);
		uint32_t row;
		bool isnew;

		if (v) {
			a->frame_rows[i] = (uint32_t)*v;
			continue;
		}
		err = symbolise(a, p->frames[i], &row);
		if (err)
			goto out;
		v = pp_map64_put(&a->row_by_frame, p->frames[i], &isnew);
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		*v = row;
		a->frame_rows[i] = row;
	}
	for (size_t b = 0; b < p->n_buckets; b++) {
		const struct pp_bucket *bk = &p->buckets[b];
		const struct pp_stack *st = &p->stacks[bk->stack];
		unsigned int n = st->n_kernel + st->n_user;
		bool isnew;

		if (pid_filter >= 0 && bk->pid != pid_filter)
			continue;
		a->total += bk->count;
		if (!n)
			continue;
		gen++;
		a->rows[a->frame_rows[st->off]].self += bk->count;
		for (unsigned int i = 0; i < n; i++) {
			struct pp_symrow *r = &a->rows[a->frame_rows[st->off + i]];

			if (r->mark != gen) {
				r->mark = gen;
				r->total += bk->count;
			}
		}
		if (g == PP_GROUP_STACK) {
			const char *comm = comm_of(p, bk->pid);
			uint64_t key = (uint64_t)bk->stack << 32 |
				       (comm ? (uint32_t)pp_hash_bytes(comm, strlen(comm), 0) : 0);
			struct pp_agg_stack *s = count_slot(&sc, key, &isnew);

			if (!s) {
				err = -ENOMEM;
				goto out;
			}
			s->stack = bk->stack;
			s->comm = comm;
			s->count += bk->count;
		} else if (g == PP_GROUP_PROCESS || g == PP_GROUP_CPU) {
			int64_t key = g == PP_GROUP_PROCESS ? bk->pid : (int64_t)bk->cpu;
			struct pp_agg_group *gr = count_slot(&gc, (uint64_t)key, &isnew);
			uint64_t *pc;

			if (!gr) {
				err = -ENOMEM;
				goto out;
			}
			gr->key = key;
			if (g == PP_GROUP_PROCESS)
				gr->comm = comm_of(p, bk->pid);
			gr->count += bk->count;
			pc = pp_map64_put(&a->group_row,
					  (uint64_t)(uint32_t)key << 32 | a->frame_rows[st->off],
					  &isnew);
			if (!pc) {
				err = -ENOMEM;
				goto out;
			}
			*pc += bk->count;
		}
	}
	a->sym_order = malloc((a->n_rows ? a->n_rows : 1) * sizeof(*a->sym_order));
	if (!a->sym_order) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < a->n_rows; i++)
		if (a->rows[i].total)
			a->sym_order[a->n_sym_order++] = (uint32_t)i;
	qsort_r(a->sym_order, a->n_sym_order, sizeof(*a->sym_order), cmp_rows, a->rows);
	a->stacks = sc.v;
	a->n_stacks = sc.n;
	sc.v = NULL;
	if (a->n_stacks > 1) /* qsort(NULL, 0) is undefined */
		qsort(a->stacks, a->n_stacks, sizeof(*a->stacks), cmp_stacks);
	a->groups = gc.v;
	a->n_groups = gc.n;
	gc.v = NULL;
	if (a->n_groups > 1)
		qsort(a->groups, a->n_groups, sizeof(*a->groups), cmp_groups);
out:
	free(sc.v);
	free(gc.v);
	pp_map64_free(&sc.idx);
	pp_map64_free(&gc.idx);
	return err;
}

void pp_agg_free(struct pp_agg *a)
{
	if (!a)
		return;
	free(a->rows);
	free(a->frame_rows);
	free(a->sym_order);
	free(a->stacks);
	free(a->groups);
	pp_map64_free(&a->row_by_key);
	pp_map64_free(&a->row_by_frame);
	pp_map64_free(&a->group_row);
	memset(a, 0, sizeof(*a));
}

/* Keep the max largest (count, id) pairs, sorted descending. */
static void top_insert(uint32_t *ids, uint64_t *counts, size_t *n, size_t max, uint32_t id,
		       uint64_t count)
{
	size_t i = *n;

	if (*n == max && (max == 0 || counts[max - 1] >= count))
		return;
	if (*n < max)
		(*n)++;
	else
		i = max - 1;
	while (i > 0 && counts[i - 1] < count) {
		ids[i] = ids[i - 1];
		counts[i] = counts[i - 1];
		i--;
	}
	ids[i] = id;
	counts[i] = count;
}

/*
 * Both below give what asking for each group or row on its own would (the
 * same candidates offered to top_insert in the same order, so ties fall
 * the same way), in one pass instead of one per row: a page of 500 rows
 * over a million buckets is a second of work otherwise.
 */
int pp_agg_groups_top(const struct pp_agg *a, const struct pp_agg_group *groups, size_t n,
		      size_t max, uint32_t *rows, uint64_t *counts, size_t *ret_n)
{
	const struct smcp_hashmap_entry *g;
	struct pp_map64 slot = { 0 };
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t *v = pp_map64_put(&slot, (uint32_t)groups[i].key, NULL);

		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		*v = i;
		ret_n[i] = 0;
	}
	smcp_hashmap_for_each(&a->group_row.m, g) {
		uint64_t *v = pp_map64_get(&slot, (uint32_t)(g->key >> 32));

		if (v)
			top_insert(rows + *v * max, counts + *v * max, &ret_n[*v], max,
				   (uint32_t)g->key, g->value);
	}
out:
	pp_map64_free(&slot);
	return err;
}

int pp_agg_rows_stacks(const struct pp_agg *a, const uint32_t *rows, size_t n, size_t max,
		       uint32_t *stacks, uint64_t *counts, size_t *ret_n)
{
	const struct pp_profile *p = a->prof;
	struct pp_map64 slot = { 0 }, *per = calloc(n ? n : 1, sizeof(*per));
	int err = 0;

	if (!per)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint64_t *v = pp_map64_put(&slot, rows[i], NULL);

		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		*v = i;
		ret_n[i] = 0;
	}
	for (size_t b = 0; b < p->n_buckets; b++) {
		const struct pp_bucket *bk = &p->buckets[b];
		const struct pp_stack *st = &p->stacks[bk->stack];
		uint64_t *v, *c;

		if (a->pid_filter >= 0 && bk->pid != a->pid_filter)
			continue;
		if (!(st->n_kernel + st->n_user) ||
		    !(v = pp_map64_get(&slot, a->frame_rows[st->off])))
			continue;
		c = pp_map64_put(&per[*v], bk->stack, NULL);
		if (c)
			*c += bk->count;
	}
	for (size_t r = 0; r < n; r++) {
		const struct smcp_hashmap_entry *e;

		smcp_hashmap_for_each(&per[r].m, e)
			top_insert(stacks + r * max, counts + r * max, &ret_n[r], max,
				   (uint32_t)e->key, e->value);
	}
out:
	for (size_t r = 0; r < n; r++)
		pp_map64_free(&per[r]);
	free(per);
	pp_map64_free(&slot);
	return err;
}

static uint32_t tree_child(struct pp_tree *t, uint32_t parent, uint32_t row)
{
	uint64_t key = (uint64_t)parent << 32 | row, *v = pp_map64_get(&t->idx, key);
	struct pp_tree_node *nd;
	bool isnew;

	if (v)
		return (uint32_t)*v;
	if (t->n >= t->max_nodes ||
	    smcp_array_grow(&t->nodes, &t->cap, t->n, sizeof(*t->nodes), 64))
		return PP_TREE_NONE;
	v = pp_map64_put(&t->idx, key, &isnew);
	if (!v)
		return PP_TREE_NONE;
	nd = &t->nodes[t->n];
	memset(nd, 0, sizeof(*nd));
	nd->row = row;
	nd->parent = parent;
	nd->first_child = nd->next_sibling = PP_TREE_NONE;
	nd->depth = (uint16_t)(parent == PP_TREE_NONE ? 0 : t->nodes[parent].depth + 1);
	*v = t->n;
	return (uint32_t)t->n++;
}

/* Boyer-Moore majority vote: the frame most of the node's samples had,
 * whenever one had more than half, in constant space. */
static void tree_vote(struct pp_tree_node *nd, uint64_t frame, uint64_t count)
{
	nd->count += count;
	if (nd->frame == frame) {
		nd->votes += count;
	} else if (nd->votes <= count) {
		nd->frame = frame;
		nd->votes = count - nd->votes;
	} else {
		nd->votes -= count;
	}
}

static int cmp_tree(const void *x, const void *y, void *ctx)
{
	const struct pp_tree_node *n = ctx, *a = &n[*(const uint32_t *)x],
				  *b = &n[*(const uint32_t *)y];

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

/* Link each node's children in descending count order. */
static int tree_link(struct pp_tree *t)
{
	uint32_t *order = malloc((t->n ? t->n : 1) * sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, t->n, sizeof(*order), cmp_tree, t->nodes);
	/* prepend from the smallest: each list ends up largest first */
	for (size_t i = t->n; i-- > 0;) {
		struct pp_tree_node *nd = &t->nodes[order[i]];

		if (nd->parent == PP_TREE_NONE)
			continue;
		nd->next_sibling = t->nodes[nd->parent].first_child;
		t->nodes[nd->parent].first_child = order[i];
	}
	free(order);
	return 0;
}

int pp_agg_tree(const struct pp_agg *a, const char *symbol, bool callers, unsigned int max_depth,
		size_t max_nodes, struct pp_tree *t)
{
	const struct pp_profile *p = a->prof;
	bool *match = calloc(a->n_rows ? a->n_rows : 1, sizeof(*match));
	uint32_t root_row = 0;
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->max_depth = max_depth;
	t->max_nodes = max_nodes < 1 ? 1 : max_nodes;
	if (!match)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_rows; i++) {
		if (strcmp(a->rows[i].name, symbol) != 0 || !a->rows[i].total)
			continue;
		match[i] = true;
		if (!t->n_matches++ || a->rows[i].total > a->rows[root_row].total)
			root_row = (uint32_t)i;
	}
	if (!t->n_matches)
		goto out;
	if (tree_child(t, PP_TREE_NONE, root_row) != 0) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t b = 0; b < p->n_buckets; b++) {
		const struct pp_bucket *bk = &p->buckets[b];
		const struct pp_stack *st = &p->stacks[bk->stack];
		unsigned int n = st->n_kernel + st->n_user, at = n, end;
		uint32_t node = 0;

		if (a->pid_filter >= 0 && bk->pid != a->pid_filter)
			continue;
		/* stacks are leaf first: callers lie at higher indexes */
		for (unsigned int i = 0; i < n; i++) {
			unsigned int k = callers ? i : n - 1 - i;

			if (match[a->frame_rows[st->off + k]]) {
				at = k;
				break;
			}
		}
		if (at == n)
			continue;
		tree_vote(&t->nodes[0], p->frames[st->off + at], bk->count);
		end = callers ? (n - at - 1 < max_depth ? n : at + max_depth + 1) :
				(at < max_depth ? 0 : at - max_depth);
		for (unsigned int k = at; callers ? ++k < end : k-- > end;) {
			uint32_t c = tree_child(t, node, a->frame_rows[st->off + k]);

			if (c == PP_TREE_NONE) {
				t->cut += bk->count;
				break;
			}
			tree_vote(&t->nodes[c], p->frames[st->off + k], bk->count);
			node = c;
		}
	}
	err = tree_link(t);
out:
	free(match);
	return err;
}

void pp_tree_free(struct pp_tree *t)
{
	if (!t)
		return;
	free(t->nodes);
	pp_map64_free(&t->idx);
	memset(t, 0, sizeof(*t));
}

uint32_t pp_agg_frame_row(const struct pp_agg *a, uint32_t stack, unsigned int i)
{
	return a->frame_rows[a->prof->stacks[stack].off + i];
}

size_t pp_agg_folded(const struct pp_agg *a, uint32_t stack, const char *comm, char *buf,
		     size_t len)
{
	const struct pp_stack *st = &a->prof->stacks[stack];
	size_t need = 0;
	int n;

#define EMIT(...)                                                                      \
	do {                                                                           \
		n = snprintf(buf + (need < len ? need : len), need < len ? len - need : 0, \
			     __VA_ARGS__);                                             \
		need += n > 0 ? (size_t)n : 0;                                         \
	} while (0)
	if (len)
		buf[0] = '\0';
	if (comm)
		EMIT("%s", comm);
	/* root first: user frames from the outermost, then kernel frames */
	for (unsigned int i = st->n_user; i-- > 0;) {
		const struct pp_symrow *r = &a->rows[a->frame_rows[st->off + st->n_kernel + i]];

		EMIT("%s%s", need ? ";" : "", r->name);
	}
	for (unsigned int i = st->n_kernel; i-- > 0;) {
		const struct pp_symrow *r = &a->rows[a->frame_rows[st->off + i]];

		EMIT("%s%s_[k]", need ? ";" : "", r->name);
	}
#undef EMIT
	return need;
}
