/* SPDX-License-Identifier: MIT */
/*
 * Writing the state file's payload (persist_impl.h has the records) from
 * the live store and the watches. The coarse tier of every series comes
 * before any fine tier, so that a file cut short for state_max_mb loses
 * fine tiers first (F records), then whole series (S), never the timeline
 * or the watches; the top-N series of a metric go busiest first.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "persist_impl.h"
#include "watch.h"

struct enc {
	const struct persist_sink *sink;
	uint8_t buf[1 << 16];
	size_t n;
	uint64_t raw;
	int err;
};

static void enc_flush(struct enc *e)
{
	if (e->n && !e->err)
		e->err = e->sink->emit(e->sink->ctx, e->buf, e->n);
	e->raw += e->n;
	e->n = 0;
}

static void put(struct enc *e, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		size_t k = sizeof(e->buf) - e->n < n ? sizeof(e->buf) - e->n : n;

		memcpy(e->buf + e->n, b, k);
		e->n += k;
		b += k;
		n -= k;
		if (e->n == sizeof(e->buf))
			enc_flush(e);
	}
}

static void put_u8(struct enc *e, uint8_t v)
{
	put(e, &v, 1);
}

static void put_u16(struct enc *e, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put(e, b, 2);
}

static void put_u32(struct enc *e, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(e, b, 4);
}

static void put_u64(struct enc *e, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(e, b, 8);
}

static void put_f32(struct enc *e, float f)
{
	uint32_t v;

	memcpy(&v, &f, sizeof(v));
	put_u32(e, v);
}

static void put_f64(struct enc *e, double f)
{
	uint64_t v;

	memcpy(&v, &f, sizeof(v));
	put_u64(e, v);
}

static void put_varint(struct enc *e, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	put(e, b, n);
}

static void put_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	if (n > PERSIST_STR_MAX)
		n = PERSIST_STR_MAX;

	put_u16(e, (uint16_t)n);
	put(e, s, n);
}

/* Would the file stay under its cap with raw more bytes of payload? */
static bool room_for(struct enc *e, uint64_t raw)
{
	const struct persist_sink *k = e->sink;

	if (!k->max_bytes)
		return true;
	return k->bound(k->ctx) + e->n + raw + raw / 256 + PERSIST_DEFLATE_SLACK <= k->max_bytes;
}

/* The slots of tier t a series holds: [from, to). */
static void tier_span(const struct history *h, enum history_tier t, uint64_t *from, uint64_t *to)
{
	const struct history_geom *g = &metrics_view()->geom;

	*from = *to = 0;
	if (!h->any)
		return;
	*from = history_coverage(h, g, t);
	*to = t == TIER_FINE ? h->last + 1 : h->acc_idx;
	if (*from > *to)
		*from = *to;
}

/* Raw bytes of the slots [from, to) of tier t (to check the cap first). */
static uint64_t slots_bytes(const struct history *h, enum history_tier t, uint64_t from,
			    uint64_t to)
{
	uint64_t n = 0;
	uint32_t len;

	if (!h->nb)
		return (to - from) * (t == TIER_FINE ? 4 : 12);
	for (uint64_t i = from; i < to; i++)
		n += 3 + (history_record(h, &metrics_view()->geom, t, i, &len) ? len : 0);
	return n;
}

static void put_slots(struct enc *e, const struct history *h, enum history_tier t, uint64_t from,
		      uint64_t to)
{
	const struct history_geom *g = &metrics_view()->geom;

	put_u64(e, from);
	put_u32(e, (uint32_t)(to - from));
	for (uint64_t i = from; i < to; i++) {
		const uint8_t *rec;
		struct coarse_cell c;
		uint32_t len;

		if (h->nb) {
			rec = history_record(h, g, t, i, &len);
			put_varint(e, rec ? len : 0);
			if (rec)
				put(e, rec, len);
		} else if (t == TIER_FINE) {
			put_f32(e, history_get_scalar(h, g, t, i, &c) ? c.mean : NAN);
		} else {
			if (!history_get_scalar(h, g, t, i, &c))
				c = (struct coarse_cell){ NAN, NAN, NAN };
			put_f32(e, c.mean);
			put_f32(e, c.min);
			put_f32(e, c.max);
		}
	}
}

static void put_series(struct enc *e, const struct series *s)
{
	const struct metric *m = s->m;
	const struct history *h = &s->h;
	uint64_t from, to;

	put_u8(e, 'S');
	for (uint32_t i = 0; i < m->n_labels; i++)
		put_str(e, series_label(s, i));
	put_u64(e, s->pub_step);
	put_f64(e, s->last_score);
	put_u8(e, h->any);
	put_u64(e, h->first);
	put_u64(e, h->last);
	put_u64(e, h->acc_idx);
	put_u32(e, h->acc_n);
	put_f64(e, h->acc_sum);
	put_f32(e, h->acc_min);
	put_f32(e, h->acc_max);
	if (m->nb) {
		for (uint32_t i = 0; i < m->nb; i++)
			put_varint(e, h->acc_counts[i]);
		put_u64(e, h->rf.dropped);
		put_u64(e, h->rc.dropped);
	}
	tier_span(h, TIER_COARSE, &from, &to);
	put_slots(e, h, TIER_COARSE, from, to);
}

static void put_watches(struct enc *e, struct persist_stats *st)
{
	struct watch_def d;

	for (uint32_t i = 0; i < watch_count(); i++) {
		watch_get_def(i, &d);
		put_u8(e, 'W');
		put_u32(e, d.id);
		put_str(e, d.name);
		put_str(e, d.metric);
		put_str(e, d.labels);
		put_str(e, d.condition);
		put_str(e, d.agg);
		put_f64(e, d.for_secs);
		put_f64(e, d.window_secs);
		put_f64(e, d.clear_secs);
		put_f64(e, d.hysteresis_pct);
		put_u32(e, d.min_samples);
		put_u64(e, (uint64_t)d.created_ms);
		st->watches_saved++;
	}
}

static int by_score_desc(const void *a, const void *b)
{
	double x = (*(struct series *const *)a)->last_score;
	double y = (*(struct series *const *)b)->last_score;

	return (x < y) - (x > y);
}

int persist_encode(const struct persist_sink *sink, int64_t saved_unix_ms, uint32_t *flags,
		   struct persist_stats *st)
{
	struct enc *e = calloc(1, sizeof(*e));
	struct series **order = NULL, **all = NULL;
	uint32_t n_all = 0, n_s = 0, n_f = 0, cap = 0;
	bool cut = false;
	int err;

	if (!e)
		return -ENOMEM;
	e->sink = sink;
	*flags = 0;
	put_u8(e, 'T');
	put_u64(e, (uint64_t)metrics_view()->t0_unix_ms);
	put_u64(e, metrics_view()->next_step);
	put_u64(e, metrics_view()->last_step);
	put_u8(e, metrics_view()->any_step);
	put_u64(e, (uint64_t)saved_unix_ms);
	put_watches(e, st);
	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];
		uint32_t n = 0;

		if (!persist_metric_live(m) || !m->n_series)
			continue;
		if (m->n_series > cap) {
			struct series **o = realloc(order, m->n_series * sizeof(*o));

			if (!o) {
				err = -ENOMEM;
				goto out;
			}
			order = o;
			cap = m->n_series;
		}
		for (uint32_t j = 0; j < m->n_series; j++)
			if (m->series[j]->h.any)
				order[n++] = m->series[j];
		if (cut)
			st->series_cut += n;
		if (!n || cut)
			continue;
		/* a file cut short keeps the busiest of the top-N series */
		if (m->flags & SMCP_METRIC_TOP_N)
			qsort(order, n, sizeof(*order), by_score_desc);
		put_u8(e, 'M');
		put_str(e, m->name);
		put_u8(e, (uint8_t)m->type);
		put_u8(e, (uint8_t)m->n_labels);
		for (uint32_t j = 0; j < m->n_labels; j++)
			put_str(e, m->label[j]);
		put_u32(e, m->nb);
		for (uint32_t j = 0; j < m->nb; j++)
			put_f64(e, m->bounds[j]);
		for (uint32_t j = 0; j < n; j++) {
			const struct history *h = &order[j]->h;
			uint64_t from, to, need;

			tier_span(h, TIER_COARSE, &from, &to);
			need = 300 + m->nb * 10 + slots_bytes(h, TIER_COARSE, from, to);
			if (cut || !room_for(e, need)) {
				cut = true;
				st->series_cut++;
				continue;
			}
			put_series(e, order[j]);
			if (n_all % 256 == 0) {
				struct series **a = realloc(all, (n_all + 256) * sizeof(*a));

				if (!a) {
					err = -ENOMEM;
					goto out;
				}
				all = a;
			}
			all[n_all++] = order[j];
			n_s++;
		}
	}
	if (cut)
		*flags |= PERSIST_F_SERIES_CUT;
	/* fine tiers only where the file still has room (none when series
	 * were cut already: the coarse tier is worth more) */
	for (uint32_t i = 0; i < n_all; i++) {
		const struct history *h = &all[i]->h;
		uint64_t from, to;

		tier_span(h, TIER_FINE, &from, &to);
		if (cut || !room_for(e, 20 + slots_bytes(h, TIER_FINE, from, to))) {
			cut = true;
			st->fine_cut++;
			continue;
		}
		put_u8(e, 'F');
		put_u32(e, i);
		put_slots(e, h, TIER_FINE, from, to);
		n_f++;
	}
	if (st->fine_cut)
		*flags |= PERSIST_F_FINE_CUT;
	put_u8(e, 'E');
	put_u32(e, n_s);
	put_u32(e, n_f);
	enc_flush(e);
	st->series_saved = n_s;
	st->raw_bytes = e->raw;
	err = e->err;
out:
	free(order);
	free(all);
	free(e);
	return err;
}

