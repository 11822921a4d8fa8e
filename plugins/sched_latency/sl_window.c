/* SPDX-License-Identifier: MIT */
#include "sl_window.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A tick can come a little late; a slot that starts this much after the
 * window's start still belongs to it. */
#define SLOT_SLACK_NS 100000000ull
#define PAIR_MAX 0xFFFFFFu

struct ent_hdr {
	uint64_t key;
	struct sl_window_meta meta;
};

struct rec_hdr {
	uint64_t key;
	struct sl_window_meta meta;
	uint32_t npairs;
	uint32_t pad;
};

static size_t ent_size(const struct sl_window_series *s)
{
	size_t sz = sizeof(struct ent_hdr) + 8 * s->nc + 4 * s->nh * SL_NB;

	return (sz + 7) & ~(size_t)7;
}

static struct ent_hdr *ent_at(const struct sl_window_series *s, uint8_t *base, size_t i)
{
	return (struct ent_hdr *)(base + i * ent_size(s));
}

static uint64_t *ent_c(struct ent_hdr *e)
{
	return (uint64_t *)(e + 1);
}

static uint32_t *ent_h(const struct sl_window_series *s, struct ent_hdr *e)
{
	return (uint32_t *)(ent_c(e) + s->nc);
}

int sl_window_init(struct sl_window_series *s, unsigned nc, unsigned nh, size_t max_entities,
		   size_t slot_cap)
{
	if (nc > SLW_MAX_COUNTERS || nh > SLW_MAX_HISTS || !max_entities || !slot_cap)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->nc = nc;
	s->nh = nh;
	s->max_entities = max_entities;
	s->slot_cap = slot_cap;
	s->newest = SLW_SLOTS - 1;
	return 0;
}

void sl_window_free(struct sl_window_series *s)
{
	if (!s)
		return;
	free(s->tracked);
	free(s->next);
	free(s->scratch);
	for (unsigned i = 0; i < SLW_SLOTS; i++)
		free(s->slots[i].buf);
	memset(s, 0, sizeof(*s));
}

static int cmp_input(const void *a, const void *b)
{
	const struct sl_window_input *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static int reserve_entities(struct sl_window_series *s, size_t n)
{
	uint8_t *t, *nx;

	if (n <= s->tracked_cap)
		return 0;
	t = realloc(s->tracked, n * ent_size(s));
	if (!t)
		return -ENOMEM;
	s->tracked = t;
	nx = realloc(s->next, n * ent_size(s));
	if (!nx)
		return -ENOMEM;
	s->next = nx;
	s->tracked_cap = n;
	return 0;
}

/*
 * A slot keeps what it recorded for SLW_SLOTS ticks, in a block of exactly
 * that size: a tick is recorded in the series' scratch buffer and copied
 * once it is complete. Growing each slot's own buffer by doubling let the
 * capacities ratchet up to slot_cap and stay there while a steady load
 * filled half of them, and the blocks that moved as they grew left holes
 * in the heap (issue 20: 15 MiB of slots for 8 MiB of records under
 * hackbench, and the heap growing). Now each tick frees one block and
 * allocates one of about the same size.
 */
static void slot_store(struct sl_window_series *s, struct sl_window_slot *sl)
{
	free(sl->buf);
	sl->buf = sl->used ? malloc(sl->used) : NULL;
	if (sl->used && !sl->buf) {
		/* keep the ring consistent: an empty slot, marked incomplete */
		sl->used = 0;
		sl->nrec = 0;
		sl->truncated = true;
		return;
	}
	if (sl->used)
		memcpy(sl->buf, s->scratch, sl->used);
}

/* Append a record of the differences; false when the slot is full. */
static bool slot_append(struct sl_window_series *s, struct sl_window_slot *sl,
			const struct sl_window_input *in, const uint64_t *dc, const uint32_t *pairs,
			uint32_t npairs)
{
	size_t need = sizeof(struct rec_hdr) + 8 * s->nc + 4 * (size_t)npairs;
	struct rec_hdr *r;

	need = (need + 7) & ~(size_t)7;
	if (sl->used + need > s->slot_cap)
		return false;
	if (sl->used + need > s->scratch_cap) {
		size_t cap = s->scratch_cap ? s->scratch_cap * 2 : 4096;
		uint8_t *b;

		while (cap < sl->used + need)
			cap *= 2;
		if (cap > s->slot_cap)
			cap = s->slot_cap;
		b = realloc(s->scratch, cap);
		if (!b)
			return false;
		s->scratch = b;
		s->scratch_cap = cap;
	}
	r = (struct rec_hdr *)(s->scratch + sl->used);
	r->key = in->key;
	r->meta = in->meta;
	r->npairs = npairs;
	r->pad = 0;
	memcpy(r + 1, dc, 8 * s->nc);
	memcpy((uint8_t *)(r + 1) + 8 * s->nc, pairs, 4 * (size_t)npairs);
	sl->used += need;
	sl->nrec++;
	return true;
}

int sl_window_tick(struct sl_window_series *s, uint64_t now_ns, struct sl_window_input *in,
		   size_t n, uint64_t started_ns)
{
	uint32_t pairs[SLW_MAX_HISTS * SL_NB];
	uint64_t dc[SLW_MAX_COUNTERS];
	struct sl_window_slot *sl;
	size_t j = 0, k = 0, dropped = 0;
	int changed = 0, err;

	if (n > s->max_entities) {
		dropped = n - s->max_entities;
		s->dropped_entities += dropped;
		n = s->max_entities;
	}
	err = reserve_entities(s, n ? n : 1);
	if (err)
		return err;
	if (n > 1) /* no task or CPU yet: in may be NULL */
		qsort(in, n, sizeof(*in), cmp_input);

	s->newest = (s->newest + 1) % SLW_SLOTS;
	sl = &s->slots[s->newest];
	sl->start_ns = s->count ? s->last_tick_ns : started_ns;
	sl->end_ns = now_ns;
	sl->used = 0;
	sl->nrec = 0;
	sl->truncated = dropped > 0;
	if (s->count < SLW_SLOTS)
		s->count++;
	s->last_tick_ns = now_ns;
	s->ticks++;

	for (size_t i = 0; i < n; i++) {
		struct ent_hdr *prev = NULL, *e;
		uint32_t npairs = 0, *ph = NULL;
		uint64_t *pc = NULL;
		bool any = false, known = false;

		if (i && in[i].key == in[i - 1].key)
			continue; /* duplicate key: keep the first */
		while (j < s->n_tracked && ent_at(s, s->tracked, j)->key < in[i].key)
			j++;
		if (j < s->n_tracked && ent_at(s, s->tracked, j)->key == in[i].key) {
			known = true;
			prev = ent_at(s, s->tracked, j);
			pc = ent_c(prev);
			ph = ent_h(s, prev);
			for (unsigned c = 0; c < s->nc; c++)
				if (in[i].c[c] < pc[c])
					prev = NULL; /* evicted and re-created: start over */
		}
		for (unsigned c = 0; c < s->nc; c++) {
			dc[c] = prev ? in[i].c[c] - pc[c] : in[i].c[c];
			any |= dc[c] != 0;
		}
		for (unsigned b = 0; b < s->nh * SL_NB; b++) {
			uint32_t d = prev ? (uint32_t)in[i].h[b] - ph[b] : (uint32_t)in[i].h[b];

			if (!d)
				continue;
			pairs[npairs++] = (b << 24) | (d > PAIR_MAX ? PAIR_MAX : d);
			any = true;
		}
		if (!known && in[i].resumed)
			any = false; /* back after a pause: a baseline, not a change */
		if (any) {
			changed++;
			if (!slot_append(s, sl, &in[i], dc, pairs, npairs))
				sl->truncated = true;
		}
		e = ent_at(s, s->next, k++);
		e->key = in[i].key;
		e->meta = in[i].meta;
		memcpy(ent_c(e), in[i].c, 8 * s->nc);
		for (unsigned b = 0; b < s->nh * SL_NB; b++)
			ent_h(s, e)[b] = (uint32_t)in[i].h[b];
	}
	slot_store(s, sl);
	{
		uint8_t *t = s->tracked;

		s->tracked = s->next;
		s->next = t;
		s->n_tracked = k;
	}
	/* a burst (many threads exiting in one tick) should not keep its
	 * arrays for good: give back all but twice what is tracked now */
	if (s->tracked_cap > 256 && s->tracked_cap > 4 * k) {
		size_t cap = 2 * k > 256 ? 2 * k : 256;
		uint8_t *t = realloc(s->tracked, cap * ent_size(s));

		if (t) {
			uint8_t *nx = realloc(s->next, cap * ent_size(s));

			s->tracked = t;
			if (nx)
				s->next = nx; /* else the larger block stays: still big enough */
			s->tracked_cap = cap;
		}
	}
	return changed;
}

/* ------------------------------------------------------------ results */

struct rec_ref {
	const struct rec_hdr *r;
	uint32_t order;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct rec_ref *x = a, *y = b;

	if (x->r->key != y->r->key)
		return x->r->key < y->r->key ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int sl_window_result_alloc(struct sl_window_result *out, unsigned nc, unsigned nh, size_t n)
{
	size_t per = nc + (size_t)nh * SL_NB;

	memset(out, 0, sizeof(*out));
	out->nc = nc;
	out->nh = nh;
	out->rows = calloc(n ? n : 1, sizeof(*out->rows));
	out->store = calloc((n ? n : 1) * per, sizeof(uint64_t));
	if (!out->rows || !out->store) {
		sl_window_result_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		out->rows[i].c = out->store + i * per;
		out->rows[i].h = out->rows[i].c + nc;
	}
	return 0;
}

static int collect(const struct sl_window_series *s, uint64_t from_ns, struct sl_window_result *out)
{
	struct rec_ref *refs = NULL;
	size_t nrefs = 0, nrows = 0;
	uint32_t order = 0;
	int err;

	if (!s->count)
		return -ENODATA;
	for (unsigned i = 0; i < s->count; i++) {
		const struct sl_window_slot *sl =
			&s->slots[(s->newest + SLW_SLOTS - i) % SLW_SLOTS];

		if (i && sl->start_ns + SLOT_SLACK_NS < from_ns)
			break; /* the newest slot is always in, even when longer */
		nrefs += sl->nrec;
	}
	refs = malloc((nrefs ? nrefs : 1) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	nrefs = 0;
	memset(out, 0, sizeof(*out));
	out->start_ns = s->slots[s->newest].end_ns;
	out->end_ns = s->slots[s->newest].end_ns;
	/* oldest included slot first, so the newest meta wins */
	{
		unsigned first = 0;

		for (unsigned i = 0; i < s->count; i++) {
			const struct sl_window_slot *sl =
				&s->slots[(s->newest + SLW_SLOTS - i) % SLW_SLOTS];

			if (i && sl->start_ns + SLOT_SLACK_NS < from_ns)
				break;
			first = i + 1;
		}
		for (unsigned i = first; i-- > 0;) {
			const struct sl_window_slot *sl =
				&s->slots[(s->newest + SLW_SLOTS - i) % SLW_SLOTS];
			size_t off = 0;

			out->start_ns = sl->start_ns < out->start_ns ? sl->start_ns : out->start_ns;
			out->slots++;
			out->truncated |= sl->truncated;
			for (uint32_t r = 0; r < sl->nrec; r++) {
				const struct rec_hdr *h = (const void *)(sl->buf + off);
				size_t sz = sizeof(*h) + 8 * s->nc + 4 * (size_t)h->npairs;

				refs[nrefs++] = (struct rec_ref){ h, order++ };
				off += (sz + 7) & ~(size_t)7;
			}
		}
	}
	qsort(refs, nrefs, sizeof(*refs), cmp_ref);
	for (size_t i = 0; i < nrefs; i++)
		if (!i || refs[i].r->key != refs[i - 1].r->key)
			nrows++;
	{
		uint64_t start = out->start_ns, end = out->end_ns;
		unsigned slots = out->slots;
		bool trunc = out->truncated;

		err = sl_window_result_alloc(out, s->nc, s->nh, nrows);
		if (err) {
			free(refs);
			return err;
		}
		out->start_ns = start;
		out->end_ns = end;
		out->slots = slots;
		out->truncated = trunc;
	}
	for (size_t i = 0, row = 0; i < nrefs; i++) {
		const struct rec_hdr *h = refs[i].r;
		const uint64_t *dc = (const uint64_t *)(h + 1);
		const uint32_t *pairs = (const uint32_t *)(dc + s->nc);
		struct sl_window_row *rw;

		if (i && h->key != refs[i - 1].r->key)
			row++;
		rw = &out->rows[row];
		rw->key = h->key;
		rw->meta = h->meta;
		for (unsigned c = 0; c < s->nc; c++)
			rw->c[c] += dc[c];
		for (uint32_t p = 0; p < h->npairs; p++) {
			unsigned b = pairs[p] >> 24;

			if (b < s->nh * SL_NB)
				rw->h[b] += pairs[p] & PAIR_MAX;
		}
	}
	out->n = nrows;
	free(refs);
	return 0;
}

unsigned sl_window_visit_since(const struct sl_window_series *s, uint64_t after_tick,
			       sl_window_visit_fn fn, void *ctx)
{
	uint64_t n = s->ticks > after_tick ? s->ticks - after_tick : 0;

	if (n > s->count)
		n = s->count;
	for (unsigned i = (unsigned)n; i-- > 0;) {
		const struct sl_window_slot *sl =
			&s->slots[(s->newest + SLW_SLOTS - i) % SLW_SLOTS];
		size_t off = 0;

		for (uint32_t r = 0; r < sl->nrec; r++) {
			const struct rec_hdr *h = (const void *)(sl->buf + off);
			const uint64_t *dc = (const uint64_t *)(h + 1);
			size_t sz = sizeof(*h) + 8 * s->nc + 4 * (size_t)h->npairs;
			struct sl_window_change ch = {
				.key = h->key,
				.meta = &h->meta,
				.dc = dc,
				.pairs = (const uint32_t *)(dc + s->nc),
				.npairs = h->npairs,
			};

			fn(ctx, &ch);
			off += (sz + 7) & ~(size_t)7;
		}
	}
	return (unsigned)n;
}

int sl_window_window_last(const struct sl_window_series *s, uint64_t window_ns,
			  struct sl_window_result *out)
{
	uint64_t end;

	if (!s->count)
		return -ENODATA;
	end = s->slots[s->newest].end_ns;
	return collect(s, end > window_ns ? end - window_ns : 0, out);
}

int sl_window_window_since(const struct sl_window_series *s, uint64_t since_ns,
			   struct sl_window_result *out)
{
	/* slack: a slot that started a little before since_ns is excluded */
	return collect(s, since_ns + SLOT_SLACK_NS - 1000000ull, out);
}

static int cmp_row(const void *a, const void *b)
{
	const struct sl_window_row *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

void sl_window_result_sort(struct sl_window_result *r)
{
	qsort(r->rows, r->n, sizeof(*r->rows), cmp_row);
}

int sl_window_result_from_inputs(unsigned nc, unsigned nh, const struct sl_window_input *in,
				 size_t n, struct sl_window_result *out)
{
	int err = sl_window_result_alloc(out, nc, nh, n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		out->rows[i].key = in[i].key;
		out->rows[i].meta = in[i].meta;
		memcpy(out->rows[i].c, in[i].c, 8 * nc);
		memcpy(out->rows[i].h, in[i].h, 8 * (size_t)nh * SL_NB);
	}
	out->n = n;
	qsort(out->rows, n, sizeof(*out->rows), cmp_row);
	return 0;
}

int sl_window_result_fold(const struct sl_window_result *src, const int *map, size_t n_map,
			  struct sl_window_result *out)
{
	size_t ngroups = 0;
	int err;

	for (size_t i = 0; i < n_map; i++)
		if (map[i] >= 0 && (size_t)map[i] + 1 > ngroups)
			ngroups = (size_t)map[i] + 1;
	err = sl_window_result_alloc(out, src->nc, src->nh, ngroups);
	if (err)
		return err;
	out->start_ns = src->start_ns;
	out->end_ns = src->end_ns;
	out->slots = src->slots;
	out->truncated = src->truncated;
	for (size_t g = 0; g < ngroups; g++)
		out->rows[g].key = g;
	for (size_t i = 0; i < src->n; i++) {
		const struct sl_window_row *r = &src->rows[i];
		struct sl_window_row *g;

		if (r->key >= n_map || map[r->key] < 0)
			continue;
		g = &out->rows[map[r->key]];
		for (unsigned c = 0; c < src->nc; c++)
			g->c[c] += r->c[c];
		for (unsigned b = 0; b < src->nh * SL_NB; b++)
			g->h[b] += r->h[b];
	}
	out->n = ngroups;
	return 0;
}

struct sl_window_row *sl_window_result_find(const struct sl_window_result *r, uint64_t key)
{
	const struct sl_window_row k = { .key = key };

	/* rows is NULL while empty, which bsearch must not be handed */
	return r->n ? bsearch(&k, r->rows, r->n, sizeof(*r->rows), cmp_row) : NULL;
}

void sl_window_result_free(struct sl_window_result *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->store);
	r->rows = NULL;
	r->store = NULL;
	r->n = 0;
}
