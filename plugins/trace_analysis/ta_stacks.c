/* SPDX-License-Identifier: MIT */
/* Stack samples of a trace: the model (ta_stacks.h) and the `samples`
 * analysis (ta_an.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#include "ta.h"
#include "ta_an.h"
#include "ta_stacks.h"

#define IID_BITS 40
#define GEN_BITS 20
#define MAX_ENTRIES (1u << 24) /* of each table; the memory bound comes first */

static struct ta_stacks *get(struct ta_trace *t)
{
	if (!t->stacks) {
		t->stacks = calloc(1, sizeof(*t->stacks));
		if (t->stacks)
			smcp_hashmap_init(&t->stacks->iid, NULL, NULL, NULL, 4 * (size_t)MAX_ENTRIES);
	}
	return t->stacks;
}

static bool fits(const struct ta_trace *t, size_t add)
{
	return !t->mem_limit || ta_trace_mem(t) + add <= t->mem_limit;
}

/* Grow an array by one under the trace's bound. */
static int grow(struct ta_trace *t, void *arrp, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	if (n >= MAX_ENTRIES || !fits(t, (*cap ? *cap : 64) * size))
		return -EFBIG;
	return smcp_array_grow(arrp, cap, n, size, 64);
}

static bool key_of(uint32_t gen, int kind, uint64_t iid, uint64_t *ret)
{
	if (!iid || iid >> IID_BITS || gen >> GEN_BITS)
		return false;
	*ret = (uint64_t)kind << (IID_BITS + GEN_BITS) | (uint64_t)gen << IID_BITS | iid;
	return true;
}

/* The index of (gen, kind, iid), TA_NONE when not interned. */
static uint32_t lookup(const struct ta_stacks *s, uint32_t gen, int kind, uint64_t iid)
{
	const struct smcp_hashmap_entry *e;
	uint64_t key;

	if (!key_of(gen, kind, iid, &key) || !(e = smcp_hashmap_find(&s->iid, key)))
		return TA_NONE;
	return (uint32_t)e->value;
}

/* Resolve iid, counting one that should be there and is not. */
static uint32_t resolve(struct ta_stacks *s, uint32_t gen, int kind, uint64_t iid)
{
	uint32_t i = iid ? lookup(s, gen, kind, iid) : TA_NONE;

	if (iid && i == TA_NONE)
		s->unresolved++;
	return i;
}

static int bind(struct ta_trace *t, uint32_t gen, int kind, uint64_t iid, size_t index)
{
	struct smcp_hashmap_entry *e;
	uint64_t key;
	int r;

	if (!key_of(gen, kind, iid, &key))
		return 0; /* an iid we cannot key: what names it is unresolved */
	if (!fits(t, 64))
		return -EFBIG;
	r = smcp_hashmap_insert(&t->stacks->iid, key, index, &e);
	if (r == -ENOSPC)
		return -EFBIG;
	if (r < 0)
		return r;
	e->value = index; /* re-interned: the newest wins */
	return 0;
}

int ta_stacks_clear(struct ta_trace *t, uint32_t seq)
{
	struct ta_stacks *s = get(t);
	uint32_t i;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < s->n_seqs && s->seqs[i].seq != seq; i++)
		;
	if (i == s->n_seqs) {
		if (i >= sizeof(s->seqs) / sizeof(s->seqs[0]))
			return -ENOSPC;
		s->n_seqs++;
		s->seqs[i].seq = seq;
	}
	s->seqs[i].gen = ++s->next_gen;
	return 0;
}

uint32_t ta_stacks_gen(const struct ta_trace *t, uint32_t seq)
{
	const struct ta_stacks *s = t->stacks;

	for (uint32_t i = 0; s && i < s->n_seqs; i++)
		if (s->seqs[i].seq == seq)
			return s->seqs[i].gen;
	return TA_NONE;
}

int ta_stacks_string(struct ta_trace *t, uint32_t gen, int kind, uint64_t iid, const uint8_t *str,
		     size_t n)
{
	struct ta_stacks *s = get(t);
	int err;

	if (!s)
		return -ENOMEM;
	if (n > 1024)
		n = 1024; /* a name, not a document */
	if (s->pool_len + n + 1 > s->pool_cap) {
		size_t cap = s->pool_cap ? s->pool_cap : 4096;
		char *np;

		while (cap < s->pool_len + n + 1)
			cap *= 2;
		if (cap > UINT32_MAX || !fits(t, cap - s->pool_cap))
			return -EFBIG;
		np = realloc(s->pool, cap);
		if (!np)
			return -ENOMEM;
		s->pool = np;
		s->pool_cap = cap;
	}
	err = grow(t, &s->str_off, &s->cap_str, s->n_str, sizeof(*s->str_off));
	if (err)
		return err;
	s->str_off[s->n_str] = (uint32_t)s->pool_len;
	/* text for JSON answers: no NULs or controls inside */
	for (size_t i = 0; i < n; i++)
		s->pool[s->pool_len + i] = str[i] < 32 ? '?' : (char)str[i];
	s->pool[s->pool_len + n] = '\0';
	s->pool_len += n + 1;
	return bind(t, gen, kind, iid, s->n_str++);
}

int ta_stacks_mapping(struct ta_trace *t, uint32_t gen, uint64_t iid, uint64_t build_iid,
		      uint64_t path_iid)
{
	struct ta_stacks *s = get(t);
	int err;

	if (!s)
		return -ENOMEM;
	err = grow(t, &s->maps, &s->cap_maps, s->n_maps, sizeof(*s->maps));
	if (err)
		return err;
	s->maps[s->n_maps].path = resolve(s, gen, TA_IN_PATH, path_iid);
	s->maps[s->n_maps].build_id = resolve(s, gen, TA_IN_BUILD_ID, build_iid);
	return bind(t, gen, TA_IN_MAPPING, iid, s->n_maps++);
}

int ta_stacks_frame(struct ta_trace *t, uint32_t gen, uint64_t iid, uint64_t name_iid,
		    uint64_t mapping_iid, uint64_t rel_pc)
{
	struct ta_stacks *s = get(t);
	int err;

	if (!s)
		return -ENOMEM;
	err = grow(t, &s->fr, &s->cap_fr, s->n_fr, sizeof(*s->fr));
	if (err)
		return err;
	s->fr[s->n_fr].name = resolve(s, gen, TA_IN_FUNCTION, name_iid);
	s->fr[s->n_fr].mapping = resolve(s, gen, TA_IN_MAPPING, mapping_iid);
	s->fr[s->n_fr].rel_pc = rel_pc;
	return bind(t, gen, TA_IN_FRAME, iid, s->n_fr++);
}

int ta_stacks_callstack(struct ta_trace *t, uint32_t gen, uint64_t iid,
			const uint64_t *frame_iids, size_t n)
{
	struct ta_stacks *s = get(t);
	size_t off;
	int err;

	if (!s)
		return -ENOMEM;
	err = grow(t, &s->st, &s->cap_st, s->n_st, sizeof(*s->st));
	if (err)
		return err;
	off = s->n_ids;
	for (size_t i = 0; i < n; i++) {
		uint32_t f = resolve(s, gen, TA_IN_FRAME, frame_iids[i]);

		if (f == TA_NONE)
			continue; /* counted; the stack keeps the frames it has */
		err = grow(t, &s->frame_ids, &s->cap_ids, s->n_ids, sizeof(*s->frame_ids));
		if (err)
			return err;
		s->frame_ids[s->n_ids++] = f;
	}
	if (s->n_ids > UINT32_MAX)
		return -EFBIG;
	s->st[s->n_st].off = (uint32_t)off;
	s->st[s->n_st].len = (uint32_t)(s->n_ids - off);
	return bind(t, gen, TA_IN_CALLSTACK, iid, s->n_st++);
}

int ta_stacks_sample(struct ta_trace *t, uint32_t gen, uint64_t ts, uint32_t cpu, int32_t pid,
		     int32_t tid, uint64_t callstack_iid)
{
	struct ta_stacks *s = get(t);
	struct ta_sample *x;
	int err;

	if (!s)
		return -ENOMEM;
	err = grow(t, &s->s, &s->cap_s, s->n_s, sizeof(*s->s));
	if (err)
		return err;
	x = &s->s[s->n_s++];
	x->ts = ts;
	x->cpu = cpu;
	x->pid = pid;
	x->tid = tid;
	x->stack = resolve(s, gen, TA_IN_CALLSTACK, callstack_iid);
	if (!callstack_iid)
		s->unresolved++;
	return 0;
}

void ta_stacks_free(struct ta_stacks *s)
{
	if (!s)
		return;
	free(s->s);
	free(s->fr);
	free(s->maps);
	free(s->st);
	free(s->frame_ids);
	free(s->pool);
	free(s->str_off);
	smcp_hashmap_free(&s->iid);
	free(s);
}

size_t ta_stacks_mem(const struct ta_stacks *s)
{
	if (!s)
		return 0;
	return sizeof(*s) + s->cap_s * sizeof(*s->s) + s->cap_fr * sizeof(*s->fr) +
	       s->cap_maps * sizeof(*s->maps) + s->cap_st * sizeof(*s->st) +
	       s->cap_ids * sizeof(*s->frame_ids) + s->pool_cap + s->cap_str * sizeof(*s->str_off) +
	       smcp_hashmap_bytes(&s->iid);
}

const char *ta_stacks_str(const struct ta_stacks *s, uint32_t i)
{
	return s && i < s->n_str ? s->pool + s->str_off[i] : "";
}

/* ------------------------------------------------------- the analysis */

/* A frame's function: its name, else "0x<rel_pc> <file>". */
static void frame_text(const struct ta_stacks *s, uint32_t f, char *buf, size_t len)
{
	const struct ta_sframe *fr = &s->fr[f];
	const char *path = "?", *slash;

	if (fr->name != TA_NONE) {
		snprintf(buf, len, "%s", ta_stacks_str(s, fr->name));
		return;
	}
	if (fr->mapping != TA_NONE && s->maps[fr->mapping].path != TA_NONE)
		path = ta_stacks_str(s, s->maps[fr->mapping].path);
	slash = strrchr(path, '/');
	snprintf(buf, len, "%#llx %s", (unsigned long long)fr->rel_pc, slash ? slash + 1 : path);
}

struct tally {
	uint64_t self, total;
	uint32_t id;  /* function id: name index, or n_str + frame index */
	uint32_t seen; /* the last sample counted in total, + 1 */
};

static int by_self_desc(const void *x, const void *y)
{
	const struct tally *a = x, *b = y;

	if (a->self != b->self)
		return a->self < b->self ? 1 : -1;
	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static bool sample_in(const struct ta_trace *t, const struct ta_query *q, const struct ta_sample *x,
		      uint64_t lo, uint64_t hi)
{
	if (x->ts < lo || x->ts > hi)
		return false;
	if (q->tid >= 0 && x->tid != q->tid)
		return false;
	if (q->pid >= 0 && x->pid != q->pid)
		return false;
	if (q->cpu >= 0 && x->cpu != (uint64_t)q->cpu)
		return false;
	(void)t;
	return true;
}

int ta_an_samples(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a)
{
	const struct ta_stacks *s = t->stacks;
	bool by_stack = !strcmp(q->group, "stack");
	uint64_t lo = 0, hi = UINT64_MAX, n = 0, unres = 0, k = 0;
	struct tally *tl = NULL;
	size_t n_fn;
	char name[128];

	if (q->t1_ns >= 0)
		lo = t->first_ts + (uint64_t)q->t1_ns;
	if (q->t2_ns >= 0)
		hi = t->first_ts + (uint64_t)q->t2_ns;
	snprintf(a->method, sizeof(a->method),
		 by_stack ? "stack samples (Perfetto PerfSample) in scope counted per callstack, "
			    "most first; frames f0 (where it ran) outwards, names cut at 39 bytes"
			  : "stack samples (Perfetto PerfSample) in scope: self counts the "
			    "function a sample ran in (its innermost frame), total every sample "
			    "with the function anywhere on its stack; group stack for whole stacks");
	if (!s || !s->n_s) {
		snprintf(a->note, sizeof(a->note), "not applicable: the trace has no stack samples "
			 "(trace_record with stack_hz > 0 writes them)");
		return 0;
	}
	n_fn = by_stack ? s->n_st : s->n_str + s->n_fr;
	tl = calloc(n_fn ? n_fn : 1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	for (size_t i = 0; i < n_fn; i++)
		tl[i].id = (uint32_t)i;
	for (size_t i = 0; i < s->n_s; i++) {
		const struct ta_sample *x = &s->s[i];
		const struct ta_stack *st;

		if (!sample_in(t, q, x, lo, hi))
			continue;
		n++;
		if (x->stack == TA_NONE) {
			unres++;
			continue;
		}
		st = &s->st[x->stack];
		if (by_stack) {
			tl[x->stack].self++;
			continue;
		}
		for (uint32_t j = 0; j < st->len; j++) {
			uint32_t f = s->frame_ids[st->off + j];
			uint32_t id = s->fr[f].name != TA_NONE ? s->fr[f].name
							       : (uint32_t)(s->n_str + f);

			if (tl[id].seen != (uint32_t)n) {
				tl[id].seen = (uint32_t)n;
				tl[id].total++;
			}
			if (j + 1 == st->len)
				tl[id].self++;
		}
	}
	qsort(tl, n_fn, sizeof(*tl), by_self_desc);
	for (size_t i = 0; i < n_fn; i++) {
		struct ta_row *r;

		if (!tl[i].self && !tl[i].total)
			break;
		if (by_stack ? !tl[i].self : false)
			break;
		r = ta_an_page_row(a, q, k++);
		if (!r)
			continue;
		if (by_stack) {
			const struct ta_stack *st = &s->st[tl[i].id];

			ta_cell_uint(r, "samples", tl[i].self);
			ta_cell_dbl(r, "pct", n ? 100.0 * (double)tl[i].self / (double)n : 0);
			ta_cell_uint(r, "depth", st->len);
			for (uint32_t j = 0; j < st->len && j < TA_ROW_CELLS - 4; j++) {
				static const char *const keys[] = {
					"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9",
					"f10", "f11", "f12", "f13", "f14", "f15", "f16", "f17", "f18",
					"f19" };

				if (j >= sizeof(keys) / sizeof(keys[0]))
					break;
				frame_text(s, s->frame_ids[st->off + st->len - 1 - j], name,
					   sizeof(name));
				ta_cell_str(r, keys[j], name);
			}
		} else {
			if (tl[i].id < s->n_str)
				snprintf(name, sizeof(name), "%s", ta_stacks_str(s, tl[i].id));
			else
				frame_text(s, (uint32_t)(tl[i].id - s->n_str), name, sizeof(name));
			ta_cell_str(r, "function", name);
			ta_cell_uint(r, "self", tl[i].self);
			ta_cell_dbl(r, "self_pct", n ? 100.0 * (double)tl[i].self / (double)n : 0);
			ta_cell_uint(r, "total", tl[i].total);
			ta_cell_dbl(r, "total_pct", n ? 100.0 * (double)tl[i].total / (double)n : 0);
		}
	}
	free(tl);
	ta_cell_uint(&a->head, "samples", n);
	ta_cell_uint(&a->head, "samples_in_trace", s->n_s);
	ta_cell_uint(&a->head, "samples_unresolved", unres);
	ta_cell_uint(&a->head, "lost_by_kernel", s->lost_kernel);
	if (q->tid >= 0) {
		const struct ta_thread *th = ta_trace_find(t, (int32_t)q->tid);

		ta_cell_int(&a->head, "tid", q->tid);
		ta_cell_str(&a->head, "comm", th && th->comm[0] ? th->comm : "?");
	}
	if (q->pid >= 0)
		ta_cell_int(&a->head, "pid", q->pid);
	if (q->t1_ns >= 0 || q->t2_ns >= 0) {
		ta_cell_uint(&a->head, "t1_ns", lo - t->first_ts);
		ta_cell_uint(&a->head, "t2_ns", hi == UINT64_MAX ? t->last_ts - t->first_ts
								 : hi - t->first_ts);
	}
	return 0;
}
