/* SPDX-License-Identifier: MIT */
/*
 * The dsq analysis: sched_ext dispatch queues from a trace's counter tracks.
 *
 * trace_record writes, per DSQ, "dsq <name> depth" (queued tasks after each
 * insert or dispatch) and "dsq <name> latency" (each dispatch's insert ->
 * dispatch time in ns): one depth value per insert or dispatch and one
 * latency value per dispatch, so a DSQ's inserts are its depth values less
 * its latency values. Those become one row per DSQ: inserts, dispatches,
 * exact latency percentiles, depth max and mean, over the trace or the
 * query's window. Any other counter track whose name holds "dsq" (scxtop
 * and other producers name theirs their own way) gets a row of its own
 * with its values summarised, as before.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta_an.h"

#define KEY_LEN 32

struct dsq_group {
	char key[KEY_LEN];
	const struct ta_ctrack *depth, *lat;
	uint64_t inserts, dispatches, depth_n;
	double depth_max, depth_sum;
	double *lat_v;
	size_t lat_n;
};

static bool has_dsq(const char *s)
{
	for (; *s; s++)
		if ((s[0] | 32) == 'd' && (s[1] | 32) == 's' && (s[2] | 32) == 'q')
			return true;
	return false;
}

/* "dsq <key> depth" or "dsq <key> latency": *is_lat, key; false for others. */
static bool ours(const char *name, char key[KEY_LEN], bool *is_lat)
{
	size_t n = strlen(name), k;
	const char *tail;

	if (strncmp(name, "dsq ", 4) != 0)
		return false;
	tail = strrchr(name, ' ');
	if (tail == name + 3)
		return false;
	if (!strcmp(tail, " depth"))
		*is_lat = false;
	else if (!strcmp(tail, " latency"))
		*is_lat = true;
	else
		return false;
	k = (size_t)(tail - (name + 4));
	if (!k || k >= KEY_LEN || memchr(name + 4, ' ', k) || n > 47)
		return false;
	memcpy(key, name + 4, k);
	key[k] = '\0';
	return true;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank, as the latency analysis. */
static double rank(const double *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return v[k ? k - 1 : 0];
}

static int by_inserts(const void *a, const void *b)
{
	const struct dsq_group *x = a, *y = b;

	if (x->inserts != y->inserts)
		return x->inserts > y->inserts ? -1 : 1;
	return strcmp(x->key, y->key);
}

int ta_an_dsq(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a)
{
	struct dsq_group *g = calloc(t->n_ctracks ? t->n_ctracks : 1, sizeof(*g));
	uint64_t lo = 0, hi = UINT64_MAX, base, k = 0, ours_tracks = 0, others = 0;
	bool windowed = q->t1_ns >= 0 || q->t2_ns >= 0;
	uint32_t ng = 0;
	int err = 0;

	if (!g)
		return -ENOMEM;
	/* the window counts from the first event; a trace of counters alone
	 * from its first value */
	base = t->first_ts;
	if (!t->n_events) {
		base = UINT64_MAX;
		for (uint32_t i = 0; i < t->n_ctracks; i++)
			for (size_t j = 0; j < t->ctracks[i].ns; j++)
				if (t->ctracks[i].s[j].ts < base)
					base = t->ctracks[i].s[j].ts;
		if (base == UINT64_MAX)
			base = 0;
	}
	if (q->t1_ns >= 0)
		lo = base + (uint64_t)q->t1_ns;
	if (q->t2_ns >= 0)
		hi = base + (uint64_t)q->t2_ns;
	if (windowed) {
		ta_cell_uint(&a->head, "t1_ns", lo - base);
		if (q->t2_ns >= 0)
			ta_cell_uint(&a->head, "t2_ns", hi - base);
	}

	/* our tracks, grouped by DSQ */
	for (uint32_t i = 0; i < t->n_ctracks; i++) {
		const struct ta_ctrack *c = &t->ctracks[i];
		char key[KEY_LEN];
		bool is_lat;
		uint32_t x;

		if (!ours(c->name, key, &is_lat))
			continue;
		ours_tracks++;
		for (x = 0; x < ng && strcmp(g[x].key, key); x++)
			;
		if (x == ng)
			memcpy(g[ng++].key, key, KEY_LEN);
		if (is_lat)
			g[x].lat = c;
		else
			g[x].depth = c;
	}
	for (uint32_t x = 0; x < ng; x++) {
		struct dsq_group *d = &g[x];

		if (d->depth)
			for (size_t j = 0; j < d->depth->ns; j++) {
				const struct ta_csample *s = &d->depth->s[j];

				if (s->ts < lo || s->ts > hi)
					continue;
				if (!d->depth_n || s->v > d->depth_max)
					d->depth_max = s->v;
				d->depth_n++;
				d->depth_sum += s->v;
			}
		if (d->lat && d->lat->ns) {
			d->lat_v = malloc(d->lat->ns * sizeof(*d->lat_v));
			if (!d->lat_v) {
				err = -ENOMEM;
				goto out;
			}
			for (size_t j = 0; j < d->lat->ns; j++) {
				const struct ta_csample *s = &d->lat->s[j];

				if (s->ts >= lo && s->ts <= hi)
					d->lat_v[d->lat_n++] = s->v;
			}
			qsort(d->lat_v, d->lat_n, sizeof(*d->lat_v), dbl_cmp);
		}
		d->dispatches = d->lat_n;
		d->inserts = d->depth_n > d->lat_n ? d->depth_n - d->lat_n : 0;
	}
	qsort(g, ng, sizeof(*g), by_inserts);
	for (uint32_t x = 0; x < ng; x++) {
		const struct dsq_group *d = &g[x];
		struct ta_row *r = ta_an_page_row(a, q, k++);

		if (!r)
			continue;
		ta_cell_str(r, "dsq", d->key);
		ta_cell_uint(r, "inserts", d->inserts);
		ta_cell_uint(r, "dispatches", d->dispatches);
		if (d->lat_n) {
			double sum = 0;

			for (size_t j = 0; j < d->lat_n; j++)
				sum += d->lat_v[j];
			ta_cell_dbl(r, "latency_p50_ns", rank(d->lat_v, d->lat_n, 0.50));
			ta_cell_dbl(r, "latency_p90_ns", rank(d->lat_v, d->lat_n, 0.90));
			ta_cell_dbl(r, "latency_p99_ns", rank(d->lat_v, d->lat_n, 0.99));
			ta_cell_dbl(r, "latency_max_ns", d->lat_v[d->lat_n - 1]);
			ta_cell_dbl(r, "latency_mean_ns", sum / (double)d->lat_n);
		} else {
			ta_cell_str(r, "latency_p99_ns", NULL);
		}
		ta_cell_dbl(r, "depth_max", d->depth_max);
		ta_cell_dbl(r, "depth_mean", d->depth_n ? d->depth_sum / (double)d->depth_n : 0);
		ta_cell_uint(r, "depth_values", d->depth_n);
	}

	/* other producers' tracks naming a DSQ: one row each */
	for (uint32_t i = 0; i < t->n_ctracks; i++) {
		const struct ta_ctrack *c = &t->ctracks[i];
		char key[KEY_LEN];
		bool is_lat;
		double sum = 0, mn = 0, mx = 0;
		uint64_t n = 0;
		struct ta_row *r;

		if (!has_dsq(c->name) || ours(c->name, key, &is_lat))
			continue;
		others++;
		for (size_t j = 0; j < c->ns; j++) {
			double v = c->s[j].v;

			if (c->s[j].ts < lo || c->s[j].ts > hi)
				continue;
			if (!n || v < mn)
				mn = v;
			if (!n || v > mx)
				mx = v;
			n++;
			sum += v;
		}
		if (!(r = ta_an_page_row(a, q, k++)))
			continue;
		ta_cell_str(r, "track", c->name);
		ta_cell_uint(r, "values", n);
		ta_cell_dbl(r, "mean", n ? sum / (double)n : 0);
		ta_cell_dbl(r, "min", mn);
		ta_cell_dbl(r, "max", mx);
	}

	if (!k)
		snprintf(a->note, sizeof(a->note), "not applicable: the trace has no sched_ext DSQ "
			 "counter tracks (recorded without sched_ext, or by a producer that does "
			 "not write them)");
	else
		snprintf(a->note, sizeof(a->note),
			 "read %llu trace_record DSQ counter tracks (\"dsq <id> depth\", \"dsq <id> "
			 "latency\") for %u DSQs and %llu other counter tracks naming a DSQ%s; "
			 "trace_record's depth is relative: tasks inserted since its recording "
			 "started and not yet dispatched",
			 (unsigned long long)ours_tracks, ng, (unsigned long long)others,
			 windowed ? ", values within [t1_ns, t2_ns] (ns from the trace's first event)"
				  : ", over the whole trace");
	snprintf(a->method, sizeof(a->method),
		 "per DSQ from trace_record's tracks: inserts = depth values - latency values "
		 "(a depth value per insert and per dispatch, a latency value per dispatch), "
		 "dispatches = latency values, exact nearest-rank latency percentiles (ns, "
		 "insert -> dispatch), depth max and mean over its values; other tracks whose "
		 "name holds \"dsq\": their values summarised (values, mean, min, max)");
out:
	for (uint32_t x = 0; x < ng; x++)
		free(g[x].lat_v);
	free(g);
	return err;
}
