/* SPDX-License-Identifier: MIT */
/*
 * Reading the state file's payload (persist_impl.h has the records) back
 * into the store and the watches. Nothing is believed before it is
 * checked: lengths, counts, step ranges against the saved timeline and the
 * tier sizes, slots in order, every histogram record decoded, the records'
 * order. The restore runs persist_decode() twice, first only to check
 * (nothing changes when the file is bad), then to apply. Fuzzed
 * (tests/fuzz/fuzz_persist.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/hashmap.h>

#include "history.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "persist_impl.h"
#include "watch.h"

#define MAX_S_RECORDS (1u << 20)

struct dec {
	const uint8_t *p;
	size_t n, pos;
	bool bad;
};

static const uint8_t *take(struct dec *d, size_t n)
{
	const uint8_t *p;

	if (d->bad || n > d->n - d->pos) {
		d->bad = true;
		return NULL;
	}
	p = d->p + d->pos;
	d->pos += n;
	return p;
}

static uint64_t get_le(struct dec *d, int bytes)
{
	const uint8_t *p = take(d, (size_t)bytes);
	uint64_t v = 0;

	for (int i = 0; p && i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t get_u8(struct dec *d)
{
	return (uint8_t)get_le(d, 1);
}

static uint32_t get_u32(struct dec *d)
{
	return (uint32_t)get_le(d, 4);
}

static uint64_t get_u64(struct dec *d)
{
	return get_le(d, 8);
}

static float get_f32(struct dec *d)
{
	uint32_t v = get_u32(d);
	float f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

static double get_f64(struct dec *d)
{
	uint64_t v = get_u64(d);
	double f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

static uint64_t get_varint(struct dec *d)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		const uint8_t *c = take(d, 1);

		if (!c)
			return 0;
		v |= (uint64_t)(*c & 0x7f) << shift;
		if (!(*c & 0x80))
			return v;
	}
	d->bad = true;
	return 0;
}

/* A string of at most max - 1 bytes, without NULs, into out[max]. */
static void get_str(struct dec *d, char *out, size_t max)
{
	size_t n = (size_t)get_le(d, 2);
	const uint8_t *p;

	out[0] = '\0';
	if (n >= max) {
		d->bad = true;
		return;
	}
	p = take(d, n);
	if (!p || memchr(p, '\0', n)) {
		d->bad = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

/* What the decoder remembers of each S record, for its F record. */
struct srec {
	struct series *s; /* NULL: checked only, or left out */
	uint64_t first, last;
	uint32_t nb;
	bool any, fine_seen;
};

struct ctx {
	struct dec d;
	bool apply, history;
	struct persist_meta *meta;
	struct persist_stats *st;
	/* the M record in force */
	struct metric *m; /* the live metric it matches, or NULL */
	uint8_t type, n_labels;
	uint32_t nb;
	bool have_m;
	/* S records */
	struct srec *s;
	uint32_t n_s, cap_s;
	/* series restored so far, by address (a file naming one twice
	 * restores it once); as many as the file's S records at most */
	struct smcp_hashmap seen;
};

/* Remember s; false when it was restored already (or no memory to tell). */
static bool seen_add(struct ctx *c, struct series *s)
{
	return smcp_hashmap_insert(&c->seen, (uintptr_t)s, 0, NULL) == 1;
}

static int rec_meta(struct ctx *c)
{
	struct persist_meta *m = c->meta;
	uint8_t any;

	m->t0_unix_ms = (int64_t)get_u64(&c->d);
	m->next_step = get_u64(&c->d);
	m->last_step = get_u64(&c->d);
	any = get_u8(&c->d);
	m->any_step = any == 1;
	m->saved_unix_ms = (int64_t)get_u64(&c->d);
	/* the wall-clock times are the restore's to judge (timeline_ok) */
	if (c->d.bad || any > 1 || m->t0_unix_ms <= 0 || m->next_step > (1ull << 48) ||
	    (m->any_step && m->last_step >= m->next_step))
		return -EINVAL;
	return 0;
}

static int rec_watch(struct ctx *c)
{
	struct watch_def *w = calloc(1, sizeof(*w));
	char err[320];
	int id, ret = 0;

	if (!w)
		return -ENOMEM;
	w->id = get_u32(&c->d);
	get_str(&c->d, w->name, sizeof(w->name));
	get_str(&c->d, w->metric, sizeof(w->metric));
	get_str(&c->d, w->labels, sizeof(w->labels));
	get_str(&c->d, w->condition, sizeof(w->condition));
	get_str(&c->d, w->agg, sizeof(w->agg));
	w->for_secs = get_f64(&c->d);
	w->window_secs = get_f64(&c->d);
	w->clear_secs = get_f64(&c->d);
	w->hysteresis_pct = get_f64(&c->d);
	w->min_samples = get_u32(&c->d);
	w->created_ms = (int64_t)get_u64(&c->d);
	/* the ranges watch_create's schema allows */
	if (c->d.bad || !w->id || !(w->for_secs >= 0 && w->for_secs <= 86400) ||
	    !(w->window_secs >= 0 && w->window_secs <= 900) ||
	    !(w->clear_secs >= 0 && w->clear_secs <= 86400) ||
	    !(w->hysteresis_pct >= 0 && w->hysteresis_pct <= 100) || !w->min_samples ||
	    w->min_samples > 1000000) {
		ret = -EINVAL;
		goto out;
	}
	if (!c->apply)
		goto out;
	id = watch_add(w, err, sizeof(err));
	if (id > 0) {
		c->st->watches_restored++;
	} else {
		/* err quotes what a client wrote, which is never logged */
		c->st->watches_failed++;
		log_msg(SMCP_LOG_NOTICE, "core", "saved watch %u not restored: %s", w->id,
			id == -ENOENT	? "its metric is no longer registered"
			: id == -ENOSPC ? "max_watches reached"
			: id == -EEXIST ? "its id is taken"
			: id == -EINVAL ? "its labels or condition no longer fit its metric"
					: strerror(-id));
	}
out:
	free(w);
	return ret;
}

/* The live metric a saved one is, if it is registered the same way. */
static struct metric *match_metric(const char *name, uint8_t type, uint8_t n_labels,
				   char labels[][SMCP_METRIC_NAME_MAX + 1], uint32_t nb,
				   const double *bounds)
{
	struct metric *m = metrics_find(name);

	if (!m || !persist_metric_live(m) || (uint8_t)m->type != type || m->n_labels != n_labels ||
	    m->nb != nb)
		return NULL;
	for (uint32_t i = 0; i < n_labels; i++)
		if (strcmp(m->label[i], labels[i]) != 0)
			return NULL;
	for (uint32_t i = 0; i < nb; i++)
		if (m->bounds[i] != bounds[i])
			return NULL;
	return m;
}

static int rec_metric(struct ctx *c)
{
	char name[SMCP_METRIC_NAME_MAX + 1];
	char labels[SMCP_METRIC_MAX_LABELS][SMCP_METRIC_NAME_MAX + 1];
	double *bounds = NULL;
	int err = -EINVAL;

	get_str(&c->d, name, sizeof(name));
	c->type = get_u8(&c->d);
	c->n_labels = get_u8(&c->d);
	if (c->d.bad || c->type > SMCP_METRIC_HISTOGRAM || c->n_labels > SMCP_METRIC_MAX_LABELS)
		return -EINVAL;
	for (uint32_t i = 0; i < c->n_labels; i++)
		get_str(&c->d, labels[i], sizeof(labels[i]));
	c->nb = get_u32(&c->d);
	if (c->d.bad || (c->type == SMCP_METRIC_HISTOGRAM) != (c->nb > 0) ||
	    c->nb > HISTORY_MAX_BUCKETS)
		return -EINVAL;
	if (c->nb && !(bounds = malloc(c->nb * sizeof(*bounds))))
		return -ENOMEM;
	for (uint32_t i = 0; i < c->nb; i++)
		bounds[i] = get_f64(&c->d);
	if (c->d.bad)
		goto out;
	c->have_m = true;
	c->m = c->apply && c->history ? match_metric(name, c->type, c->n_labels, labels, c->nb,
						     bounds)
				      : NULL;
	err = 0;
out:
	free(bounds);
	return err;
}

static float f32_at(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		     (uint32_t)p[3] << 24;
	float f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

/* Read (and, into h, load) the slots of one tier; from/count were read. */
static int get_slots(struct ctx *c, struct history *h, enum history_tier t, uint64_t from,
		     uint32_t count, uint32_t nb)
{
	const struct history_geom *g = &metrics_view()->geom;
	uint64_t acc[HISTORY_MAX_BUCKETS] = { 0 }, n_obs = 0;
	size_t per = t == TIER_COARSE ? 12 : 4;
	const uint8_t *p;
	double sum = 0;

	if (!nb) {
		/* any float is a value (NaN: no data): only the length matters */
		p = take(&c->d, (size_t)count * per);
		if (!p)
			return -EINVAL;
		for (uint64_t i = from; h && i < from + count; i++, p += per) {
			struct coarse_cell cell = { f32_at(p), f32_at(p), f32_at(p) };

			if (t == TIER_COARSE) {
				cell.min = f32_at(p + 4);
				cell.max = f32_at(p + 8);
			}
			history_load_scalar(h, g, t, i, &cell);
		}
		return 0;
	}
	for (uint64_t i = from; i < from + count; i++) {
		uint64_t len = get_varint(&c->d);

		if (len > HISTORY_RECORD_MAX(nb))
			return -EINVAL;
		p = len ? take(&c->d, (size_t)len) : NULL;
		if (c->d.bad)
			return -EINVAL;
		if (!len)
			continue;
		/* only a record that decodes is ever put into a ring: checked in
		 * the first pass (the counts added up are not looked at) */
		if (!c->apply && history_decode(p, (size_t)len, nb, acc, &sum, &n_obs))
			return -EINVAL;
		if (h)
			history_load_record(h, g, t, i, p, (uint32_t)len, metrics_budget());
	}
	return 0;
}

static int rec_series(struct ctx *c)
{
	const struct history_geom *g = &metrics_view()->geom;
	const struct persist_meta *mt = c->meta;
	char vals[SMCP_METRIC_MAX_LABELS][SMCP_METRIC_VALUE_MAX + 1];
	const char *lv[SMCP_METRIC_MAX_LABELS];
	uint64_t counts[HISTORY_MAX_BUCKETS];
	uint64_t pub, first, last, acc_idx, fdrop = 0, cdrop = 0, from, lo;
	uint32_t acc_n, count;
	float acc_min, acc_max;
	double score, acc_sum;
	struct series *s = NULL;
	struct srec *r;
	uint8_t any;
	int err;

	if (!c->have_m || c->n_s >= MAX_S_RECORDS)
		return -EINVAL;
	for (uint32_t i = 0; i < c->n_labels; i++) {
		get_str(&c->d, vals[i], sizeof(vals[i]));
		lv[i] = vals[i];
	}
	pub = get_u64(&c->d);
	score = get_f64(&c->d);
	any = get_u8(&c->d);
	first = get_u64(&c->d);
	last = get_u64(&c->d);
	acc_idx = get_u64(&c->d);
	acc_n = get_u32(&c->d);
	acc_sum = get_f64(&c->d);
	acc_min = get_f32(&c->d);
	acc_max = get_f32(&c->d);
	for (uint32_t i = 0; i < c->nb; i++)
		counts[i] = get_varint(&c->d);
	if (c->nb) {
		fdrop = get_u64(&c->d);
		cdrop = get_u64(&c->d);
	}
	from = get_u64(&c->d);
	count = get_u32(&c->d);
	/* only a series with history is saved; its steps lie on the saved
	 * timeline, the accumulator is the coarse slot of its newest step,
	 * and the slots are inside what the coarse tier holds before it */
	if (c->d.bad || any != 1 || !mt->any_step || first > last || last > mt->last_step ||
	    pub > mt->next_step || acc_idx != last / g->factor || acc_n > g->factor)
		return -EINVAL;
	lo = acc_idx + 1 > g->coarse_slots ? acc_idx + 1 - g->coarse_slots : 0;
	if (lo < first / g->factor)
		lo = first / g->factor;
	if (count > g->coarse_slots || from < lo || from + count > acc_idx)
		return -EINVAL;
	if (c->apply && c->history) {
		if (!c->m) {
			c->st->series_gone++;
		} else {
			s = metrics_series_restore(c->m, lv, first, pub, score, &err);
			if (!s && err != -ENOSPC)
				return err;
			if (!s) {
				c->st->series_limits++;
			} else if (!seen_add(c, s)) {
				/* named twice (or no memory to tell): the first one stays */
				s->first_step = s->h.first;
				s = NULL;
				c->st->series_gone++;
			} else {
				history_reset(&s->h, g, first);
				c->st->series_restored++;
			}
		}
	}
	err = get_slots(c, s ? &s->h : NULL, TIER_COARSE, from, count, c->nb);
	if (err)
		return err;
	if (s) {
		struct history *h = &s->h;

		h->last = last;
		h->any = true;
		h->acc_idx = acc_idx;
		h->acc_n = acc_n;
		h->acc_sum = acc_sum;
		h->acc_min = acc_min;
		h->acc_max = acc_max;
		if (c->nb) {
			memcpy(h->acc_counts, counts, c->nb * sizeof(*counts));
			h->rf.dropped += fdrop;
			h->rc.dropped += cdrop;
		}
	}
	if (c->n_s == c->cap_s) {
		uint32_t cap = c->cap_s ? c->cap_s * 2 : 256;
		struct srec *n = realloc(c->s, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->s = n;
		c->cap_s = cap;
	}
	r = &c->s[c->n_s++];
	*r = (struct srec){ .s = s, .first = first, .last = last, .nb = c->nb, .any = true };
	return 0;
}

static int rec_fine(struct ctx *c)
{
	const struct history_geom *g = &metrics_view()->geom;
	uint32_t idx = get_u32(&c->d), count;
	uint64_t from = get_u64(&c->d), lo;
	struct srec *r;

	count = get_u32(&c->d);
	if (c->d.bad || idx >= c->n_s || c->s[idx].fine_seen)
		return -EINVAL;
	r = &c->s[idx];
	r->fine_seen = true;
	lo = r->last + 1 > g->fine_slots ? r->last + 1 - g->fine_slots : 0;
	if (lo < r->first)
		lo = r->first;
	if (count > g->fine_slots || from < lo || from + count > r->last + 1)
		return -EINVAL;
	return get_slots(c, r->s ? &r->s->h : NULL, TIER_FINE, from, count, r->nb);
}

int persist_decode(const uint8_t *buf, size_t len, bool apply, bool history,
		   struct persist_meta *meta, struct persist_stats *st)
{
	struct ctx c = { .d = { .p = buf, .n = len }, .apply = apply, .history = history,
			 .meta = meta, .st = st };
	/* the records' order: T, W*, (M S*)*, F*, E */
	enum { AT_T, AT_W, AT_MS, AT_F } at = AT_T;
	uint32_t n_f = 0;
	int err = 0;

	for (;;) {
		uint8_t tag = get_u8(&c.d);

		if (c.d.bad) {
			err = -EINVAL;
			break;
		}
		if (tag == 'T' && at == AT_T) {
			err = rec_meta(&c);
			at = AT_W;
		} else if (tag == 'W' && at == AT_W) {
			err = rec_watch(&c);
		} else if (tag == 'M' && (at == AT_W || at == AT_MS)) {
			err = rec_metric(&c);
			at = AT_MS;
		} else if (tag == 'S' && at == AT_MS) {
			err = rec_series(&c);
		} else if (tag == 'F' && at != AT_T) {
			err = rec_fine(&c);
			at = AT_F;
			n_f++;
		} else if (tag == 'E' && at != AT_T) {
			uint32_t ns = get_u32(&c.d), nf = get_u32(&c.d);

			if (c.d.bad || ns != c.n_s || nf != n_f || c.d.pos != c.d.n)
				err = -EINVAL;
			break;
		} else {
			err = -EINVAL;
		}
		if (!err && c.d.bad)
			err = -EINVAL;
		if (err)
			break;
	}
	if (apply && history && c.n_s)
		metrics_bump_generation();
	free(c.s);
	smcp_hashmap_free(&c.seen);
	return err;
}
