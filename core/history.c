/* SPDX-License-Identifier: MIT */
#include "history.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HR_NONE UINT32_MAX
#define HR_INIT_CAP 256u

bool history_budget_take(struct history_budget *b, size_t n)
{
	if (b->used + n > b->max) {
		b->refused++;
		return false;
	}
	b->used += n;
	return true;
}

void history_budget_give(struct history_budget *b, size_t n)
{
	b->used = n > b->used ? 0 : b->used - n;
}

/* ------------------------------------------------------------- encoding */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (*pos >= len)
			return -EINVAL;
		c = p[(*pos)++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EINVAL;
}

size_t history_record_max(uint32_t nb)
{
	return HISTORY_RECORD_MAX(nb);
}

size_t history_encode(uint8_t *buf, const uint64_t *counts, uint32_t nb, double sum)
{
	uint32_t nnz = 0, prev = 0;
	size_t n;
	float f = (float)sum;

	for (uint32_t i = 0; i < nb; i++)
		nnz += counts[i] != 0;
	n = put_varint(buf, nnz);
	if (!nnz)
		return n;
	for (uint32_t i = 0; i < nb; i++) {
		if (!counts[i])
			continue;
		n += put_varint(buf + n, i - prev);
		n += put_varint(buf + n, counts[i]);
		prev = i + 1;
	}
	memcpy(buf + n, &f, sizeof(f));
	return n + sizeof(f);
}

int history_decode(const uint8_t *buf, size_t len, uint32_t nb, uint64_t *acc, double *sum,
		   uint64_t *n_obs)
{
	uint64_t nnz, gap, cnt, b = 0;
	size_t pos = 0;
	float f;

	if (get_varint(buf, len, &pos, &nnz))
		return -EINVAL;
	for (uint64_t i = 0; i < nnz; i++) {
		if (get_varint(buf, len, &pos, &gap) || get_varint(buf, len, &pos, &cnt))
			return -EINVAL;
		b += gap;
		if (b >= nb)
			return -EINVAL;
		acc[b] += cnt;
		*n_obs += cnt;
		b++;
	}
	if (!nnz)
		return 0;
	if (pos + sizeof(f) > len)
		return -EINVAL;
	memcpy(&f, buf + pos, sizeof(f));
	*sum += (double)f;
	return 0;
}

/* ------------------------------------------------------------ byte ring */

/*
 * Records are laid down in slot-index order, circularly: the live ones
 * occupy [start, head) or, once wrapped, [start, end of data) + [0, head),
 * where start is the offset of the oldest live record (slot `tail`). A new
 * record goes after head, or at 0 when it does not fit before the end; if
 * it would run into the oldest record, the ring grows (compacting into a
 * bigger buffer) while its allowance and the budget let it, else the oldest
 * record is dropped.
 */
static int ring_init(struct hist_ring *r, uint32_t nslots, uint32_t max_cap)
{
	*r = (struct hist_ring){ .max_cap = max_cap };
	r->off = malloc(nslots * sizeof(*r->off));
	r->len = malloc(nslots * sizeof(*r->len));
	r->cap = HR_INIT_CAP < max_cap ? HR_INIT_CAP : max_cap;
	r->init_cap = r->cap;
	r->buf = malloc(r->cap);
	if (!r->off || !r->len || !r->buf)
		return -ENOMEM;
	memset(r->off, 0xff, nslots * sizeof(*r->off));
	return 0;
}

static void ring_free(struct hist_ring *r)
{
	free(r->buf);
	free(r->off);
	free(r->len);
	*r = (struct hist_ring){ 0 };
}

static size_t ring_base_bytes(uint32_t nslots, uint32_t max_cap)
{
	return nslots * (sizeof(uint32_t) + sizeof(uint16_t)) +
	       (HR_INIT_CAP < max_cap ? HR_INIT_CAP : max_cap);
}

static void ring_reset(struct hist_ring *r, uint32_t nslots, uint64_t first)
{
	memset(r->off, 0xff, nslots * sizeof(*r->off));
	r->head = 0;
	r->tail = first;
	r->dropped = 0;
}

/* Advance tail past slots without a record, up to (not including) idx. */
static void ring_skip_dead(struct hist_ring *r, uint32_t nslots, uint64_t idx)
{
	while (r->tail < idx && r->off[r->tail % nslots] == HR_NONE)
		r->tail++;
}

static bool ring_grow(struct hist_ring *r, uint32_t nslots, uint64_t idx, uint32_t need,
		      struct history_budget *b)
{
	uint32_t live = 0, new_cap, pos = 0;
	uint8_t *nbuf;

	if (r->cap >= r->max_cap)
		return false;
	for (uint64_t i = r->tail; i < idx; i++)
		if (r->off[i % nslots] != HR_NONE)
			live += r->len[i % nslots];
	new_cap = r->cap * 2;
	while (new_cap < live + need && new_cap < r->max_cap)
		new_cap *= 2;
	if (new_cap > r->max_cap)
		new_cap = r->max_cap;
	if (!history_budget_take(b, new_cap - r->cap))
		return false;
	nbuf = malloc(new_cap);
	if (!nbuf) {
		history_budget_give(b, new_cap - r->cap);
		return false;
	}
	for (uint64_t i = r->tail; i < idx; i++) {
		uint32_t s = (uint32_t)(i % nslots);

		if (r->off[s] == HR_NONE)
			continue;
		memcpy(nbuf + pos, r->buf + r->off[s], r->len[s]);
		r->off[s] = pos;
		pos += r->len[s];
	}
	free(r->buf);
	r->buf = nbuf;
	r->cap = new_cap;
	r->head = pos;
	return true;
}

static void ring_put(struct hist_ring *r, uint32_t nslots, uint64_t idx, const uint8_t *rec,
		     uint32_t len, struct history_budget *b)
{
	uint32_t slot = (uint32_t)(idx % nslots), pos, start;

	r->off[slot] = HR_NONE; /* the record of idx - nslots dies here */
	if (idx + 1 > nslots && r->tail < idx + 1 - nslots)
		r->tail = idx + 1 - nslots;
	ring_skip_dead(r, nslots, idx);
	for (;;) {
		if (r->tail >= idx) {
			/* nothing live: start over at the beginning */
			r->head = 0;
			if (len <= r->cap) {
				pos = 0;
				break;
			}
			if (ring_grow(r, nslots, idx, len, b))
				continue;
			r->dropped++;
			return;
		}
		start = r->off[r->tail % nslots];
		if (r->head > start) {
			if (r->head + len <= r->cap) {
				pos = r->head;
				break;
			}
			if (len <= start) {
				pos = 0;
				break;
			}
		} else if (r->head + len <= start) {
			pos = r->head;
			break;
		}
		if (ring_grow(r, nslots, idx, len, b))
			continue;
		r->off[r->tail % nslots] = HR_NONE;
		r->dropped++;
		r->tail++;
		ring_skip_dead(r, nslots, idx);
	}
	memcpy(r->buf + pos, rec, len);
	r->off[slot] = pos;
	r->len[slot] = (uint16_t)len;
	r->head = pos + len;
}

static const uint8_t *ring_get(const struct hist_ring *r, uint32_t nslots, uint64_t idx,
			       uint32_t *ret_len)
{
	uint32_t s = (uint32_t)(idx % nslots);

	if (idx < r->tail || r->off[s] == HR_NONE)
		return NULL;
	*ret_len = r->len[s];
	return r->buf + r->off[s];
}

/* ------------------------------------------------------------- history */

size_t history_base_bytes(const struct history_geom *g, uint32_t nb)
{
	if (!nb)
		return g->fine_slots * sizeof(float) + g->coarse_slots * sizeof(struct coarse_cell);
	return ring_base_bytes(g->fine_slots, g->fine_slots * g->fine_hist_bytes) +
	       ring_base_bytes(g->coarse_slots, g->coarse_slots * g->coarse_hist_bytes) +
	       nb * sizeof(uint64_t);
}

size_t history_max_bytes(const struct history_geom *g, uint32_t nb)
{
	if (!nb)
		return history_base_bytes(g, 0);
	return history_base_bytes(g, nb) - 2 * HR_INIT_CAP +
	       (size_t)g->fine_slots * g->fine_hist_bytes +
	       (size_t)g->coarse_slots * g->coarse_hist_bytes;
}

static void acc_clear(struct history *h)
{
	h->acc_n = 0;
	h->acc_sum = 0;
	h->acc_min = INFINITY;
	h->acc_max = -INFINITY;
	if (h->acc_counts)
		memset(h->acc_counts, 0, h->nb * sizeof(*h->acc_counts));
}

void history_reset(struct history *h, const struct history_geom *g, uint64_t first)
{
	h->first = first;
	h->last = first ? first - 1 : 0;
	h->any = false;
	h->acc_idx = first / g->factor;
	acc_clear(h);
	if (!h->nb) {
		for (uint32_t i = 0; i < g->fine_slots; i++)
			h->fine[i] = NAN;
		for (uint32_t i = 0; i < g->coarse_slots; i++)
			h->coarse[i] = (struct coarse_cell){ NAN, NAN, NAN };
	} else {
		ring_reset(&h->rf, g->fine_slots, first);
		ring_reset(&h->rc, g->coarse_slots, first / g->factor);
	}
}

int history_init(struct history *h, const struct history_geom *g, uint32_t nb, uint64_t first,
		 struct history_budget *b)
{
	size_t bytes = history_base_bytes(g, nb);
	int err = -ENOMEM;

	*h = (struct history){ .nb = nb };
	if (!history_budget_take(b, bytes))
		return -ENOSPC;
	h->bytes = bytes;
	if (!nb) {
		h->fine = malloc(g->fine_slots * sizeof(*h->fine));
		h->coarse = malloc(g->coarse_slots * sizeof(*h->coarse));
		if (!h->fine || !h->coarse)
			goto fail;
	} else {
		h->acc_counts = calloc(nb, sizeof(*h->acc_counts));
		if (!h->acc_counts)
			goto fail;
		err = ring_init(&h->rf, g->fine_slots, g->fine_slots * g->fine_hist_bytes);
		if (!err)
			err = ring_init(&h->rc, g->coarse_slots,
					g->coarse_slots * g->coarse_hist_bytes);
		if (err)
			goto fail;
	}
	history_reset(h, g, first);
	return 0;
fail:
	history_free(h, b);
	return err;
}

void history_free(struct history *h, struct history_budget *b)
{
	size_t bytes = h->bytes;

	/* what ring growth charged on top of the base */
	bytes += (h->rf.cap - h->rf.init_cap) + (h->rc.cap - h->rc.init_cap);
	history_budget_give(b, bytes);
	free(h->fine);
	free(h->coarse);
	free(h->acc_counts);
	ring_free(&h->rf);
	ring_free(&h->rc);
	*h = (struct history){ 0 };
}

/* Close the coarse slot being filled when step moves past it. */
static void coarse_roll(struct history *h, const struct history_geom *g, uint64_t step,
			struct history_budget *b)
{
	uint64_t idx = step / g->factor;

	if (idx == h->acc_idx)
		return;
	if (!h->nb) {
		struct coarse_cell c = { NAN, NAN, NAN };

		if (h->acc_n)
			c = (struct coarse_cell){ (float)(h->acc_sum / h->acc_n), h->acc_min,
						  h->acc_max };
		h->coarse[h->acc_idx % g->coarse_slots] = c;
		for (uint64_t i = h->acc_idx + 1; i < idx && i <= h->acc_idx + g->coarse_slots; i++)
			h->coarse[i % g->coarse_slots] = (struct coarse_cell){ NAN, NAN, NAN };
	} else {
		uint8_t rec[HISTORY_RECORD_MAX(HISTORY_MAX_BUCKETS)];

		if (h->acc_n) {
			size_t n = history_encode(rec, h->acc_counts, h->nb, h->acc_sum);

			ring_put(&h->rc, g->coarse_slots, h->acc_idx, rec, (uint32_t)n, b);
		} else {
			h->rc.off[h->acc_idx % g->coarse_slots] = HR_NONE;
		}
		for (uint64_t i = h->acc_idx + 1; i < idx && i <= h->acc_idx + g->coarse_slots; i++)
			h->rc.off[i % g->coarse_slots] = HR_NONE;
	}
	h->acc_idx = idx;
	acc_clear(h);
}

/* Mark the fine slots between the last step written and step as no data. */
static void fill_gap(struct history *h, const struct history_geom *g, uint64_t step)
{
	uint64_t from = h->any ? h->last + 1 : h->first;

	if (step > from + g->fine_slots)
		from = step - g->fine_slots;
	for (uint64_t s = from; s < step; s++) {
		if (!h->nb)
			h->fine[s % g->fine_slots] = NAN;
		else
			h->rf.off[s % g->fine_slots] = HR_NONE;
	}
}

void history_put_scalar(struct history *h, const struct history_geom *g, uint64_t step, double v)
{
	if (h->nb || (h->any && step <= h->last) || step < h->first)
		return;
	fill_gap(h, g, step);
	coarse_roll(h, g, step, NULL);
	h->fine[step % g->fine_slots] = (float)v;
	if (!isnan(v)) {
		h->acc_n++;
		h->acc_sum += v;
		if (v < h->acc_min)
			h->acc_min = (float)v;
		if (v > h->acc_max)
			h->acc_max = (float)v;
	}
	h->last = step;
	h->any = true;
}

void history_put_hist(struct history *h, const struct history_geom *g, uint64_t step,
		      const uint64_t *counts, double sum, struct history_budget *b)
{
	uint8_t rec[HISTORY_RECORD_MAX(HISTORY_MAX_BUCKETS)];

	if (!h->nb || (h->any && step <= h->last) || step < h->first)
		return;
	fill_gap(h, g, step);
	coarse_roll(h, g, step, b);
	if (counts) {
		size_t n = history_encode(rec, counts, h->nb, sum);

		ring_put(&h->rf, g->fine_slots, step, rec, (uint32_t)n, b);
		for (uint32_t i = 0; i < h->nb; i++)
			h->acc_counts[i] += counts[i];
		h->acc_sum += sum;
		h->acc_n++;
	} else {
		h->rf.off[step % g->fine_slots] = HR_NONE;
	}
	h->last = step;
	h->any = true;
}

uint64_t history_coverage(const struct history *h, const struct history_geom *g,
			  enum history_tier t)
{
	uint64_t newest, lo, first;
	uint32_t n;

	if (t == TIER_FINE) {
		newest = h->last;
		n = g->fine_slots;
		first = h->first;
	} else {
		newest = h->acc_idx;
		n = g->coarse_slots;
		first = h->first / g->factor;
	}
	lo = newest + 1 > n ? newest + 1 - n : 0;
	if (lo < first)
		lo = first;
	if (h->nb) {
		const struct hist_ring *r = t == TIER_FINE ? &h->rf : &h->rc;

		if (r->dropped && r->tail > lo)
			lo = r->tail;
	}
	return lo;
}

bool history_get_scalar(const struct history *h, const struct history_geom *g, enum history_tier t,
			uint64_t idx, struct coarse_cell *ret)
{
	if (h->nb || !h->any || idx < history_coverage(h, g, t))
		return false;
	if (t == TIER_FINE) {
		float v;

		if (idx > h->last)
			return false;
		v = h->fine[idx % g->fine_slots];
		*ret = (struct coarse_cell){ v, v, v };
		return !isnan(v);
	}
	if (idx > h->acc_idx)
		return false;
	if (idx == h->acc_idx) {
		if (!h->acc_n)
			return false;
		*ret = (struct coarse_cell){ (float)(h->acc_sum / h->acc_n), h->acc_min,
					     h->acc_max };
		return true;
	}
	*ret = h->coarse[idx % g->coarse_slots];
	return !isnan(ret->mean);
}

bool history_get_hist(const struct history *h, const struct history_geom *g, enum history_tier t,
		      uint64_t idx, uint64_t *acc, double *sum, uint64_t *n_obs)
{
	const uint8_t *rec;
	uint32_t len;

	if (!h->nb || !h->any || idx < history_coverage(h, g, t))
		return false;
	if (t == TIER_FINE) {
		if (idx > h->last)
			return false;
		rec = ring_get(&h->rf, g->fine_slots, idx, &len);
	} else {
		if (idx > h->acc_idx)
			return false;
		if (idx == h->acc_idx) {
			if (!h->acc_n)
				return false;
			for (uint32_t i = 0; i < h->nb; i++) {
				acc[i] += h->acc_counts[i];
				*n_obs += h->acc_counts[i];
			}
			*sum += h->acc_sum;
			return true;
		}
		rec = ring_get(&h->rc, g->coarse_slots, idx, &len);
	}
	return rec && history_decode(rec, len, h->nb, acc, sum, n_obs) == 0;
}

const uint8_t *history_record(const struct history *h, const struct history_geom *g,
			      enum history_tier t, uint64_t idx, uint32_t *ret_len)
{
	if (!h->nb || !h->any || idx < history_coverage(h, g, t))
		return NULL;
	if (t == TIER_FINE)
		return idx > h->last ? NULL : ring_get(&h->rf, g->fine_slots, idx, ret_len);
	return idx >= h->acc_idx ? NULL : ring_get(&h->rc, g->coarse_slots, idx, ret_len);
}

void history_load_scalar(struct history *h, const struct history_geom *g, enum history_tier t,
			 uint64_t idx, const struct coarse_cell *c)
{
	if (h->nb)
		return;
	if (t == TIER_FINE)
		h->fine[idx % g->fine_slots] = c->mean;
	else
		h->coarse[idx % g->coarse_slots] = *c;
}

void history_load_record(struct history *h, const struct history_geom *g, enum history_tier t,
			 uint64_t idx, const uint8_t *rec, uint32_t len, struct history_budget *b)
{
	if (!h->nb || !len || len > HISTORY_RECORD_MAX(h->nb))
		return;
	if (t == TIER_FINE)
		ring_put(&h->rf, g->fine_slots, idx, rec, len, b);
	else
		ring_put(&h->rc, g->coarse_slots, idx, rec, len, b);
}
