/* SPDX-License-Identifier: MIT */
/*
 * hashmap-bench [--rounds N]
 *
 * The SDK hash map (schedmcp/hashmap.h) against the two hand-written
 * indexes it replaced on the daemon's hot paths, on the same data, the same
 * operations and the same clock, in one run:
 *
 *   threads  sched_latency's thread table: 8192 threads (the max_threads
 *            default) in a dense array of struct sl_thr, indexed by tid.
 *            Each tick looks every record up, and 1 in 16 records is a
 *            thread that exited and one that is new (remove with the last
 *            entry moved into the hole, then insert), as sl_tasks_update
 *            does when threads churn.
 *   series   the metrics store's series index: 2000 series of one metric
 *            (a process-labelled top-N metric at its ceiling), each
 *            separately allocated, looked up by their packed label values,
 *            packing and hashing included, as metrics_series_get does on
 *            every publish.
 *
 * The peers are the indexes as they stood before the SDK map (sl_tasks.c's
 * sl_index and metrics.c's tab, up to commit be9d9aa), kept here only as
 * the yardstick. Prints ns per operation for both, median of the rounds
 * (alternated, so both see the same machine), the ratio SDK / old (below 1:
 * the SDK map is faster) and the index bytes of each. A benchmark, not a
 * test: exits 0 whatever the figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <schedmcp/hashmap.h>

#include "sl_tasks.h"

#define THREADS 8192
#define SERIES 2000
#define LV_BYTES 192

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed >> 32);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------ the old indexes (peers) */

/* sl_tasks.c's: entry index + 1 per slot, the key read from the array. */
struct old_index {
	uint32_t *slot;
	size_t mask;
};

static uint32_t old_hash32(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x7feb352d;
	k ^= k >> 15;
	k *= 0x846ca68b;
	k ^= k >> 16;
	return k;
}

static size_t old_find(const struct old_index *x, const struct sl_thr *thr, uint32_t k)
{
	size_t s = old_hash32(k) & x->mask;

	while (x->slot[s] && thr[x->slot[s] - 1].tid != k)
		s = (s + 1) & x->mask;
	return s;
}

static void old_del(struct old_index *x, const struct sl_thr *thr, size_t s)
{
	size_t hole = s, i = s;

	x->slot[hole] = 0;
	for (;;) {
		size_t home;

		i = (i + 1) & x->mask;
		if (!x->slot[i])
			return;
		home = old_hash32(thr[x->slot[i] - 1].tid) & x->mask;
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			x->slot[hole] = x->slot[i];
			x->slot[i] = 0;
			hole = i;
		}
	}
}

/* metrics.c's: series index + 1 per slot, FNV-1a 32 over the packed values. */
struct series_like {
	uint32_t hash;
	uint16_t lv_len;
	char lv[LV_BYTES];
};

static uint32_t old_hash_bytes(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h ? h : 1;
}

static uint32_t *old_tab_slot(uint32_t *tab, uint32_t cap, struct series_like **series,
			      const char *lv, uint16_t len, uint32_t hash)
{
	for (uint32_t i = hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
		const struct series_like *s;

		if (!tab[i])
			return &tab[i];
		s = series[tab[i] - 1];
		if (s->hash == hash && s->lv_len == len && memcmp(s->lv, lv, len) == 0)
			return &tab[i];
	}
}

/* ------------------------------------------------------------- threads */

struct thr_run {
	struct sl_thr *thr;
	uint32_t *ops; /* tids to look up; an op with the top bit set: churn */
	size_t n_ops;
	uint32_t next_tid;
};

/* The dense array's entry i leaves; a new thread takes the last place. */
static double threads_old(struct thr_run *r, struct old_index *x)
{
	double t0 = now_ns();
	uint64_t hits = 0;

	for (size_t o = 0; o < r->n_ops; o++) {
		uint32_t tid = r->ops[o] & 0x7fffffffu;
		size_t s = old_find(x, r->thr, tid);

		if (!x->slot[s])
			continue; /* left in an earlier churn */
		hits++;
		if (r->ops[o] >> 31) {
			size_t i = x->slot[s] - 1, last = THREADS - 1;

			old_del(x, r->thr, s);
			if (i != last) {
				size_t sl = old_find(x, r->thr, r->thr[last].tid);

				r->thr[i] = r->thr[last];
				x->slot[sl] = (uint32_t)i + 1;
			}
			r->thr[last].tid = r->next_tid++;
			x->slot[old_find(x, r->thr, r->thr[last].tid)] = (uint32_t)last + 1;
		} else {
			r->thr[x->slot[s] - 1].changed++;
		}
	}
	if (!hits)
		fprintf(stderr, "threads: no hits\n");
	return (now_ns() - t0) / (double)r->n_ops;
}

static double threads_sdk(struct thr_run *r, struct smcp_hashmap *m)
{
	double t0 = now_ns();
	uint64_t hits = 0;

	for (size_t o = 0; o < r->n_ops; o++) {
		uint32_t tid = r->ops[o] & 0x7fffffffu;
		struct smcp_hashmap_entry *e = smcp_hashmap_find(m, tid);

		if (!e)
			continue;
		hits++;
		if (r->ops[o] >> 31) {
			size_t i = e->value, last = THREADS - 1;

			(void)smcp_hashmap_delete(m, tid, NULL);
			if (i != last) {
				smcp_hashmap_find(m, r->thr[last].tid)->value = i;
				r->thr[i] = r->thr[last];
			}
			r->thr[last].tid = r->next_tid++;
			(void)smcp_hashmap_insert(m, r->thr[last].tid, last, NULL);
		} else {
			r->thr[e->value].changed++;
		}
	}
	if (!hits)
		fprintf(stderr, "threads: no hits\n");
	return (now_ns() - t0) / (double)r->n_ops;
}

/* A fresh table of THREADS threads (tids from 1000) and its ops: every
 * thread once a tick for `ticks` ticks, in a shuffled order. */
static int thr_setup(struct thr_run *r, size_t ticks)
{
	r->thr = calloc(THREADS, sizeof(*r->thr));
	r->n_ops = THREADS * ticks;
	r->ops = malloc(r->n_ops * sizeof(*r->ops));
	if (!r->thr || !r->ops)
		return -ENOMEM;
	r->next_tid = 1000 + THREADS;
	for (size_t i = 0; i < THREADS; i++)
		r->thr[i].tid = 1000 + (uint32_t)i;
	for (size_t o = 0; o < r->n_ops; o++)
		r->ops[o] = 1000 + (uint32_t)(o % THREADS) + ((rnd() & 15) == 0 ? 0x80000000u : 0);
	for (size_t o = r->n_ops - 1; o > 0; o--) {
		size_t j = rnd() % (o + 1);
		uint32_t t = r->ops[o];

		r->ops[o] = r->ops[j];
		r->ops[j] = t;
	}
	return 0;
}

/* -------------------------------------------------------------- series */

struct series_run {
	struct series_like **series;
	char (*probe)[24]; /* the label value each publish names */
	size_t n_ops;
};

static uint16_t pack(const char *value, char *buf)
{
	size_t n = strlen(value);

	memcpy(buf, value, n + 1);
	return (uint16_t)(n + 1);
}

static double series_old(struct series_run *r, uint32_t *tab, uint32_t cap)
{
	double t0 = now_ns();
	uint64_t hits = 0;

	for (size_t o = 0; o < r->n_ops; o++) {
		char buf[LV_BYTES];
		uint16_t len = pack(r->probe[o], buf);
		uint32_t *e = old_tab_slot(tab, cap, r->series, buf, len, old_hash_bytes(buf, len));

		hits += *e != 0;
	}
	if (hits != r->n_ops)
		fprintf(stderr, "series: %llu of %zu found\n", (unsigned long long)hits, r->n_ops);
	return (now_ns() - t0) / (double)r->n_ops;
}

struct probe {
	const char *lv;
	uint16_t len;
};

static bool series_is(uint64_t idx, uint64_t probe, void *ctx)
{
	struct series_like **series = ctx;
	const struct probe *p = (const struct probe *)(uintptr_t)probe;
	const struct series_like *s = series[idx];

	return s->lv_len == p->len && memcmp(s->lv, p->lv, p->len) == 0;
}

static double series_sdk(struct series_run *r, const struct smcp_hashmap *m)
{
	double t0 = now_ns();
	uint64_t hits = 0;

	for (size_t o = 0; o < r->n_ops; o++) {
		char buf[LV_BYTES];
		struct probe p = { buf, pack(r->probe[o], buf) };

		hits += smcp_hashmap_find_hashed(m, (uintptr_t)&p, smcp_hash_bytes(buf, p.len)) !=
			NULL;
	}
	if (hits != r->n_ops)
		fprintf(stderr, "series: %llu of %zu found\n", (unsigned long long)hits, r->n_ops);
	return (now_ns() - t0) / (double)r->n_ops;
}

/* ---------------------------------------------------------------- main */

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const char *what, const char *peer, double *old, double *sdk, size_t n,
		   size_t old_bytes, size_t sdk_bytes)
{
	double o = median(old, n), s = median(sdk, n);

	printf("%-8s old %-14s %7.1f ns/op   SDK map %7.1f ns/op   SDK/old %.2f   "
	       "index %zu KiB -> %zu KiB\n",
	       what, peer, o, s, s / o, old_bytes >> 10, sdk_bytes >> 10);
}

int main(int argc, char **argv)
{
	size_t rounds = 9, ticks = 64;
	double t_old[64], t_sdk[64], s_old[64], s_sdk[64];
	struct thr_run ro = { 0 }, rs = { 0 };
	struct series_run sr = { 0 };
	struct old_index ox = { 0 };
	struct smcp_hashmap mt = SMCP_HASHMAP_INIT(NULL, NULL, NULL, THREADS);
	struct smcp_hashmap ms = SMCP_HASHMAP_INIT(NULL, series_is, NULL, 0);
	uint32_t *tab = NULL, cap = 16;
	int err = -ENOMEM;

	if (argc == 3 && strcmp(argv[1], "--rounds") == 0)
		rounds = strtoul(argv[2], NULL, 10);
	if (rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: hashmap-bench [--rounds 1..64]\n");
		return 2;
	}

	/* series: pids as label values, looked up in a shuffled order */
	sr.n_ops = SERIES * 256;
	sr.series = calloc(SERIES, sizeof(*sr.series));
	sr.probe = malloc(sr.n_ops * sizeof(*sr.probe));
	while (cap < 2 * SERIES)
		cap *= 2;
	tab = calloc(cap, sizeof(*tab));
	if (!sr.series || !sr.probe || !tab)
		goto out;
	ms.ctx = sr.series;
	for (uint32_t i = 0; i < SERIES; i++) {
		struct series_like *s = calloc(1, sizeof(*s));

		if (!s)
			goto out;
		sr.series[i] = s;
		snprintf(s->lv, sizeof(s->lv), "%u", 300000 + i * 7);
		s->lv_len = (uint16_t)(strlen(s->lv) + 1);
		s->hash = old_hash_bytes(s->lv, s->lv_len);
		*old_tab_slot(tab, cap, sr.series, s->lv, s->lv_len, s->hash) = i + 1;
		err = smcp_hashmap_add_hashed(&ms, i, smcp_hash_bytes(s->lv, s->lv_len), 0, NULL);
		if (err)
			goto out;
	}
	for (size_t o = 0; o < sr.n_ops; o++)
		snprintf(sr.probe[o], sizeof(sr.probe[o]), "%u", 300000 + (rnd() % SERIES) * 7);

	for (size_t k = 0; k < rounds; k++) {
		/* both tables start the same and see the same churn */
		err = -ENOMEM;
		if (thr_setup(&ro, ticks))
			goto out;
		rs.thr = malloc(THREADS * sizeof(*rs.thr));
		rs.ops = malloc(ro.n_ops * sizeof(*rs.ops));
		if (!rs.thr || !rs.ops)
			goto out;
		memcpy(rs.thr, ro.thr, THREADS * sizeof(*rs.thr));
		memcpy(rs.ops, ro.ops, ro.n_ops * sizeof(*rs.ops));
		rs.n_ops = ro.n_ops;
		rs.next_tid = ro.next_tid;
		ox.mask = 2 * THREADS - 1;
		ox.slot = calloc(2 * THREADS, sizeof(*ox.slot));
		if (!ox.slot || smcp_hashmap_reserve(&mt, THREADS))
			goto out;
		for (size_t i = 0; i < THREADS; i++) {
			ox.slot[old_find(&ox, ro.thr, ro.thr[i].tid)] = (uint32_t)i + 1;
			(void)smcp_hashmap_insert(&mt, rs.thr[i].tid, i, NULL);
		}
		/* alternate which goes first, so neither always meets a cold cache */
		if (k % 2) {
			t_sdk[k] = threads_sdk(&rs, &mt);
			t_old[k] = threads_old(&ro, &ox);
			s_sdk[k] = series_sdk(&sr, &ms);
			s_old[k] = series_old(&sr, tab, cap);
		} else {
			t_old[k] = threads_old(&ro, &ox);
			t_sdk[k] = threads_sdk(&rs, &mt);
			s_old[k] = series_old(&sr, tab, cap);
			s_sdk[k] = series_sdk(&sr, &ms);
		}
		if (memcmp(ro.thr, rs.thr, THREADS * sizeof(*rs.thr)) != 0)
			fprintf(stderr, "threads: the two tables differ after the same churn\n");
		free(ro.thr);
		free(ro.ops);
		free(rs.thr);
		free(rs.ops);
		free(ox.slot);
		ro.thr = rs.thr = NULL;
		ro.ops = rs.ops = NULL;
		ox.slot = NULL;
		smcp_hashmap_clear(&mt);
	}
	printf("hashmap-bench: %zu rounds, median; %d threads x %zu ticks (1/16 churn), "
	       "%d series x %zu publishes\n",
	       rounds, THREADS, ticks, SERIES, sr.n_ops / SERIES);
	report("threads", "sl_index", t_old, t_sdk, rounds, 2 * THREADS * sizeof(uint32_t),
	       smcp_hashmap_bytes(&mt));
	report("series", "metrics tab", s_old, s_sdk, rounds, cap * sizeof(uint32_t),
	       smcp_hashmap_bytes(&ms));
	err = 0;
out:
	free(ro.thr);
	free(ro.ops);
	free(rs.thr);
	free(rs.ops);
	free(ox.slot);
	free(tab);
	if (sr.series)
		for (size_t i = 0; i < SERIES; i++)
			free(sr.series[i]);
	free(sr.series);
	free(sr.probe);
	smcp_hashmap_free(&mt);
	smcp_hashmap_free(&ms);
	if (err)
		fprintf(stderr, "hashmap-bench: %s\n", strerror(-err));
	return err ? 1 : 0;
}
