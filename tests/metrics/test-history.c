/* SPDX-License-Identifier: MIT */
/*
 * The history store without the daemon: histogram encoding, downsampling
 * that keeps bucket totals, ring wrap-around under a tight allowance, the
 * memory budget, and the metric store's series rules (top-N, series limit,
 * counter resets, staleness), driven by a simulated clock.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/unit.h"
#include "history.h"
#include "jbuf.h"
#include "host.h"
#include "metrics.h"
#include "watch.h"
#include "metrics_query.h"
#include "metrics_tools.h"

#define NB 17
#define STEP_NS 1000000000ull

static struct history_geom geom(uint32_t fine, uint32_t coarse, uint32_t factor, uint32_t fb,
				uint32_t cb)
{
	return (struct history_geom){ .step_ns = STEP_NS,
				      .fine_slots = fine,
				      .coarse_slots = coarse,
				      .factor = factor,
				      .fine_hist_bytes = fb,
				      .coarse_hist_bytes = cb };
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_encoding(void)
{
	uint8_t buf[HISTORY_RECORD_MAX(256)];
	uint64_t seed = 42;

	UNIT_CASE("encoding");
	for (int t = 0; t < 200; t++) {
		uint64_t c[256] = { 0 }, back[256] = { 0 }, n = 0, want = 0;
		uint32_t nb = 1 + (uint32_t)(rnd(&seed) % 256);
		double sum = 0;
		size_t len;
		int bad = 0;

		for (uint32_t i = 0; i < nb; i++) {
			uint64_t r = rnd(&seed);

			c[i] = r % 3 ? 0 : (r >> 8) % (t % 4 ? 1000 : UINT64_MAX / 512);
			want += c[i];
		}
		len = history_encode(buf, c, nb, 1234.5);
		CHECK(len <= HISTORY_RECORD_MAX(nb));
		CHECK_INT(history_decode(buf, len, nb, back, &sum, &n), 0);
		for (uint32_t i = 0; i < nb; i++)
			bad += back[i] != c[i];
		CHECK_INT(bad, 0);
		CHECK(n == want);
		CHECK(want == 0 || fabs(sum - 1234.5) < 0.01);
		/* truncated records are refused, never read past */
		if (len > 1)
			CHECK(history_decode(buf, len - 1, nb, back, &sum, &n) != 0);
	}
}

/* Downsampling sums buckets: every coarse slot equals the sum of its fine
 * slots, and the total over the coarse tier equals what was put in. */
static void test_hist_downsample(void)
{
	struct history_geom g = geom(120, 50, 10, 128, 192);
	struct history_budget b = { .max = 1 << 24 };
	struct history h;
	uint64_t seed = 7, total = 0, fine_total = 0, coarse_total = 0, per_c[64] = { 0 };
	const uint64_t steps = 400; /* 40 coarse slots: all still in the coarse tier */

	UNIT_CASE("hist-downsample");
	CHECK_INT(history_init(&h, &g, NB, 0, &b), 0);
	for (uint64_t s = 0; s < steps; s++) {
		uint64_t c[NB] = { 0 };

		if (s % 37 == 5) { /* a step without data */
			history_put_hist(&h, &g, s, NULL, NAN, &b);
			continue;
		}
		for (int i = 0; i < NB; i++) {
			c[i] = rnd(&seed) % 4 == 0 ? rnd(&seed) % 5000 : 0;
			total += c[i];
			per_c[s / g.factor] += c[i];
		}
		history_put_hist(&h, &g, s, c, 100.0, &b);
	}
	/* fine tier: the last 120 steps */
	for (uint64_t s = history_coverage(&h, &g, TIER_FINE); s < steps; s++) {
		uint64_t acc[NB] = { 0 }, n = 0;
		double sum = 0;

		if (history_get_hist(&h, &g, TIER_FINE, s, acc, &sum, &n))
			fine_total += n;
	}
	CHECK_INT(history_coverage(&h, &g, TIER_FINE), steps - 120);
	{
		uint64_t want = 0;

		for (uint64_t c = (steps - 120) / g.factor; c < steps / g.factor; c++)
			want += per_c[c];
		CHECK_MSG(fine_total == want, "fine %llu, want %llu",
			  (unsigned long long)fine_total, (unsigned long long)want);
	}
	/* coarse tier: every slot, including the one still filling */
	CHECK_INT(history_coverage(&h, &g, TIER_COARSE), 0);
	for (uint64_t c = 0; c <= (steps - 1) / g.factor; c++) {
		uint64_t acc[NB] = { 0 }, n = 0;
		double sum = 0;

		CHECK(history_get_hist(&h, &g, TIER_COARSE, c, acc, &sum, &n));
		CHECK_MSG(n == per_c[c], "coarse slot %llu: %llu, want %llu", (unsigned long long)c,
			  (unsigned long long)n, (unsigned long long)per_c[c]);
		coarse_total += n;
	}
	CHECK(coarse_total == total);
	CHECK_INT(h.rf.dropped, 0);
	CHECK_INT(h.rc.dropped, 0);
	history_free(&h, &b);
	CHECK_INT(b.used, 0);
}

/* A ring too small for its tier drops its oldest slots first and never
 * returns a record of the wrong step. */
static void test_ring_wrap(void)
{
	struct history_geom g = geom(100, 20, 10, 12, 12); /* far too few bytes per slot */
	struct history_budget b = { .max = 1 << 24 };
	struct history h;
	int wrong = 0, have = 0;

	UNIT_CASE("ring-wrap");
	CHECK_INT(history_init(&h, &g, NB, 0, &b), 0);
	for (uint64_t s = 0; s < 1000; s++) {
		uint64_t c[NB] = { 0 };

		/* step s is recognisable: s+1 observations in bucket s % NB,
		 * and a varying spread to vary record sizes */
		c[s % NB] = s + 1;
		for (uint64_t k = 0; k < s % 7; k++)
			c[(s + k + 3) % NB] += 1;
		history_put_hist(&h, &g, s, c, 1.0, &b);
	}
	CHECK(h.rf.dropped > 0);
	CHECK(history_coverage(&h, &g, TIER_FINE) > 900);
	for (uint64_t s = 900; s < 1000; s++) {
		uint64_t acc[NB] = { 0 }, n = 0;
		double sum = 0;

		if (!history_get_hist(&h, &g, TIER_FINE, s, acc, &sum, &n))
			continue;
		have++;
		wrong += acc[s % NB] < s + 1 || n != s + 1 + s % 7;
	}
	CHECK(have > 0);
	CHECK_INT(wrong, 0);
	CHECK(h.rf.cap <= g.fine_slots * g.fine_hist_bytes);
	history_free(&h, &b);
	CHECK_INT(b.used, 0);
}

static void test_scalar(void)
{
	struct history_geom g = geom(30, 10, 5, 0, 0);
	struct history_budget b = { .max = 1 << 20 };
	struct history h;
	struct coarse_cell c;

	UNIT_CASE("scalar");
	CHECK_INT(history_init(&h, &g, 0, 3, &b), 0);
	CHECK(!history_get_scalar(&h, &g, TIER_FINE, 3, &c));
	for (uint64_t s = 3; s < 50; s++)
		history_put_scalar(&h, &g, s, s == 12 ? NAN : (double)s);
	/* coarse slot 2 = steps 10..14 without 12: mean (10+11+13+14)/4 */
	CHECK(history_get_scalar(&h, &g, TIER_COARSE, 2, &c));
	CHECK(fabsf(c.mean - 12.0f) < 1e-6 && c.min == 10.0f && c.max == 14.0f);
	/* the slot being filled is read from the accumulator: steps 45..49 */
	CHECK(history_get_scalar(&h, &g, TIER_COARSE, 9, &c));
	CHECK(c.mean == 47.0f);
	CHECK(!history_get_scalar(&h, &g, TIER_FINE, 12, &c));
	CHECK(!history_get_scalar(&h, &g, TIER_FINE, 19, &c)); /* aged out */
	CHECK(history_get_scalar(&h, &g, TIER_FINE, 20, &c) && c.mean == 20.0f);
	/* a gap of steps is no data, not zero */
	history_put_scalar(&h, &g, 60, 1.0);
	CHECK(!history_get_scalar(&h, &g, TIER_FINE, 55, &c));
	CHECK(!history_get_scalar(&h, &g, TIER_COARSE, 10, &c));
	CHECK(history_get_scalar(&h, &g, TIER_COARSE, 12, &c) && c.mean == 1.0f);
	history_free(&h, &b);
}

static void test_budget(void)
{
	struct history_geom g = geom(900, 1440, 60, 128, 192);
	struct history_budget b = { .max = 2 * history_base_bytes(&g, 0) + 10 };
	struct history h[3];

	UNIT_CASE("budget");
	CHECK_INT(history_init(&h[0], &g, 0, 0, &b), 0);
	CHECK_INT(history_init(&h[1], &g, 0, 0, &b), 0);
	CHECK_INT(history_init(&h[2], &g, 0, 0, &b), -ENOSPC);
	CHECK_INT(b.refused, 1);
	history_free(&h[0], &b);
	history_free(&h[1], &b);
	CHECK_INT(b.used, 0);
	CHECK(history_base_bytes(&g, 0) == 900 * 4 + 1440 * 12);
}

/* ------------------------------------------------------------- the store */

static struct smcp_host fake = { .name = "fake", .state = PLUGIN_LOADED, .in_init = true };
static uint64_t now_ns;

static void tick(void)
{
	now_ns += STEP_NS;
	metrics_tick(now_ns);
}

/* The limits of the store tests: 60 s of 1 s steps, 10 min of 10 s. */
static const struct metrics_limits small_lim = {
	.step_ms = 1000,
	.fine_slots = 60,
	.coarse_slots = 60,
	.coarse_factor = 10,
	.max_bytes = 64 << 20,
	.max_series = 100,
	.top_n = 5,
	.max_watches = 4,
	.breach_ring = 16,
};

static void test_store(void)
{
	static const char *const pl[] = { "pid" };
	static const double bounds[4] = { 10, 100, 1000, INFINITY };
	struct metrics_limits lim = small_lim;
	struct smcp_metric_desc top = { .sz = sizeof(top),
					.name = "t_proc_latency_ns",
					.unit = "ns",
					.type = SMCP_METRIC_HISTOGRAM,
					.flags = SMCP_METRIC_TOP_N,
					.labels = pl,
					.n_labels = 1,
					.bucket_bounds = bounds,
					.n_buckets = 4 };
	struct smcp_metric_desc ctr = { .sz = sizeof(ctr),
					.name = "t_events_total",
					.type = SMCP_METRIC_COUNTER,
					.labels = pl,
					.n_labels = 1 };
	struct smcp_metric_desc bad = ctr;
	const char *lv[1];
	char pid[16];
	int mt, mc, refused = 0;
	struct metric *m;
	struct qacc a;
	struct series *s;

	UNIT_CASE("store");
	lim.max_series = 40; /* the series limit, reached below */
	now_ns = 1000 * STEP_NS;
	CHECK_INT((metrics_store_init(&lim, now_ns) ?: watch_store_init(lim.max_watches, lim.breach_ring)), 0);
	mt = metrics_api_register(&fake, &top);
	mc = metrics_api_register(&fake, &ctr);
	CHECK(mt > 0 && mc > 0);
	CHECK_INT(metrics_api_register(&fake, &ctr), -EEXIST);
	bad.name = "Bad-Name";
	CHECK_INT(metrics_api_register(&fake, &bad), -EINVAL);
	bad.name = "t_hist_no_buckets";
	bad.type = SMCP_METRIC_HISTOGRAM;
	CHECK_INT(metrics_api_register(&fake, &bad), -EINVAL);

	/* top-N: 5 kept; pid i publishes i observations of 50 ns per step */
	for (int t = 0; t < 3; t++) {
		for (int i = 1; i <= 12; i++) {
			uint64_t c[4] = { 0, (uint64_t)i, 0, 0 };
			int err;

			snprintf(pid, sizeof(pid), "%d", i);
			lv[0] = pid;
			err = metrics_publish_hist(&fake, mt, lv, c, 4, 50.0 * i, SMCP_HIST_DELTA);
			refused += err == -ENOSPC;
		}
		tick();
	}
	m = metrics_find("t_proc_latency_ns");
	CHECK_INT(m->n_series, 5);
	{
		int low = 0;

		for (uint32_t i = 0; i < m->n_series; i++)
			low += atoi(series_label(m->series[i], 0)) < 8;
		CHECK_MSG(low == 0, "the 5 most active (8..12) are kept");
	}
	CHECK(refused > 0 && m->evicted > 0);
	/* wrong arity, type, or owner */
	CHECK_INT(metrics_publish_set(&fake, mt, lv, 1), -EINVAL);
	CHECK_INT(metrics_publish_hist(&fake, mt, lv, (uint64_t[3]){ 0 }, 3, 0, 0), -EINVAL);
	CHECK_INT(metrics_publish_set(&fake, 999, lv, 1), -ENOENT);
	CHECK_INT(metrics_publish_add(&fake, mc, NULL, 1), -EINVAL);

	/* counters: cumulative with a reset in the middle */
	lv[0] = "1";
	metrics_publish_set(&fake, mc, lv, 1000); /* baseline: no increase known yet */
	tick();
	metrics_publish_set(&fake, mc, lv, 1010);
	tick();
	metrics_publish_set(&fake, mc, lv, 5); /* reset: 5 since */
	tick();
	metrics_publish_add(&fake, mc, (const char *const[]){ "2" }, 7);
	tick();
	m = metrics_find("t_events_total");
	s = m->series[0];
	metrics_query_qacc_init(&a, m, TIER_FINE);
	metrics_query_qacc_add(&a, m, &s, 1, TIER_FINE, 0, metrics_view()->last_step, AGG_SUM);
	CHECK_MSG(a.slots == 3 && a.vsum == 15, "slots %u, sum %g", a.slots, a.vsum);
	CHECK(fabs(metrics_query_qacc_stat(&a, m, ST_INCREASE) - 15) < 1e-9);
	/* not published for a while: no data, not zeros */
	for (int i = 0; i < 10; i++)
		tick();
	metrics_query_qacc_init(&a, m, TIER_FINE);
	metrics_query_qacc_add(&a, m, &s, 1, TIER_FINE, metrics_view()->last_step - 2,
			       metrics_view()->last_step, AGG_SUM);
	CHECK_INT(a.slots, 0);

	/* the series limit: 40 in all */
	for (int i = 100; i < 200; i++) {
		snprintf(pid, sizeof(pid), "%d", i);
		lv[0] = pid;
		refused += metrics_publish_add(&fake, mc, lv, 1) == -ENOSPC ? 1000 : 0;
	}
	CHECK(metrics_view()->n_series == 40);
	CHECK(refused >= 1000);
	/* a series silent for longer than the coarse tier reaches (600 steps)
	 * is freed, and its place can be taken */
	lv[0] = "100";
	for (int i = 0; i < 620; i++) {
		CHECK_INT(metrics_publish_add(&fake, mc, lv, 1), 0);
		tick();
	}
	CHECK_INT(metrics_view()->n_series, 1);
	lv[0] = "new";
	CHECK_INT(metrics_publish_add(&fake, mc, lv, 1), 0);
	lv[0] = "100";
	CHECK_INT(metrics_publish_add(&fake, mc, lv, 1), 0);
	CHECK_INT(metrics_view()->n_series, 2);
	/* a dead owner's metrics go at the next tick */
	fake.state = PLUGIN_FAILED;
	tick();
	CHECK(metrics_find("t_events_total") == NULL);
	CHECK_INT(metrics_view()->n_series, 0);
	fake.state = PLUGIN_LOADED;
	watch_store_fini();
	metrics_store_fini();
	CHECK_INT(metrics_view()->budget.used, 0);
}

/* Publishing into a series that exists allocates nothing. */
static void test_no_alloc(void)
{
	static const char *const cl[] = { "cpu" };
	static const double bounds[3] = { 1, 2, INFINITY };
	struct smcp_metric_desc g = { .sz = sizeof(g),
				      .name = "t_gauge",
				      .type = SMCP_METRIC_GAUGE,
				      .labels = cl,
				      .n_labels = 1 };
	struct smcp_metric_desc c = { .sz = sizeof(c),
				      .name = "t_total",
				      .type = SMCP_METRIC_COUNTER,
				      .labels = cl,
				      .n_labels = 1 };
	struct smcp_metric_desc h = { .sz = sizeof(h),
				      .name = "t_hist_ns",
				      .type = SMCP_METRIC_HISTOGRAM,
				      .labels = cl,
				      .n_labels = 1,
				      .bucket_bounds = bounds,
				      .n_buckets = 3 };
	const char *lv[1];
	char cpu[8];
	uint64_t counts[3] = { 1, 2, 3 };
	struct mallinfo2 before = { 0 }, after;
	int mg, mc, mh, err = 0;

	UNIT_CASE("no-alloc");
	now_ns = 1000 * STEP_NS;
	fake.in_init = true;
	CHECK_INT((metrics_store_init(&small_lim, now_ns) ?:
		   watch_store_init(small_lim.max_watches, small_lim.breach_ring)),
		  0);
	mg = metrics_api_register(&fake, &g);
	mc = metrics_api_register(&fake, &c);
	mh = metrics_api_register(&fake, &h);
	lv[0] = cpu;
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			before = mallinfo2();
		for (int k = 0; k < 1000; k++) {
			snprintf(cpu, sizeof(cpu), "%d", k % 16);
			err |= metrics_publish_set(&fake, mg, lv, k);
			err |= metrics_publish_set(&fake, mc, lv, k);
			err |= metrics_publish_add(&fake, mc, lv, 1);
			err |= metrics_publish_hist(&fake, mh, lv, counts, 3, 6, SMCP_HIST_DELTA);
			err |= metrics_publish_observe(&fake, mh, lv, 1.5);
		}
	}
	after = mallinfo2();
	CHECK_INT(err, 0);
	CHECK_MSG(after.uordblks == before.uordblks && after.hblkhd == before.hblkhd,
		  "heap in use %zu -> %zu", before.uordblks, after.uordblks);

	/* an observed value goes to the first bucket whose bound is above it */
	UNIT_CASE("observe buckets");
	{
		static const double obs[] = { -5, 0.99, 1, 1.5, 2, 1e300 };
		static const uint64_t want[3] = { 2, 2, 2 };
		int e2 = 0;
		struct series *s;

		lv[0] = "observed";
		for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
			CHECK_INT(metrics_publish_observe(&fake, mh, lv, obs[i]), 0);
		s = metrics_series_get(metrics_metric_of(&fake, mh), lv, 0, &e2);
		CHECK(s && !e2);
		for (int b = 0; s && b < 3; b++)
			CHECK_MSG(s->hcur[b] == want[b], "bucket %d: %llu, expected %llu", b,
				  (unsigned long long)s->hcur[b], (unsigned long long)want[b]);
	}
	watch_store_fini();
	metrics_store_fini();
}

/* metric_window (Since 1.2): a plugin's own series over the newest steps. */
static void test_window(void)
{
	static const char *const cl[] = { "cpu" };
	static const double bounds[3] = { 1, 2, INFINITY };
	struct smcp_metric_desc g = { .sz = sizeof(g), .name = "w_gauge",
				      .type = SMCP_METRIC_GAUGE, .labels = cl, .n_labels = 1 };
	struct smcp_metric_desc c = { .sz = sizeof(c), .name = "w_total",
				      .type = SMCP_METRIC_COUNTER, .labels = cl, .n_labels = 1 };
	struct smcp_metric_desc h = { .sz = sizeof(h), .name = "w_hist", .type = SMCP_METRIC_HISTOGRAM,
				      .labels = cl, .n_labels = 1, .bucket_bounds = bounds,
				      .n_buckets = 3 };
	struct smcp_host other = { .name = "other", .state = PLUGIN_LOADED, .in_init = true };
	const char *lv[1] = { "0" }, *none[1] = { "9" }, *gap[1] = { "1" };
	uint64_t counts[3], two[2];
	struct smcp_metric_window w = { .sz = sizeof(w) };
	int mg, mc, mh;

	UNIT_CASE("window");
	now_ns = 1000 * STEP_NS;
	fake.in_init = true;
	CHECK_INT(metrics_store_init(&small_lim, now_ns), 0);
	mg = metrics_api_register(&fake, &g);
	mc = metrics_api_register(&fake, &c);
	mh = metrics_api_register(&fake, &h);
	/* counter 0, 10, 20, ...: the first value is only a baseline */
	for (int t = 0; t < 70; t++) {
		uint64_t hc[3] = { 1, (uint64_t)t % 2, 0 };

		CHECK_INT(metrics_publish_set(&fake, mg, lv, t), 0);
		CHECK_INT(metrics_publish_set(&fake, mc, lv, 10.0 * t), 0);
		/* a gauge that goes quiet for a while: its steps turn to no data */
		if (t < 50 || t >= 65)
			CHECK_INT(metrics_publish_set(&fake, mg, gap, t), 0);
		CHECK_INT(metrics_publish_hist(&fake, mh, lv, hc, 3, 1.0, SMCP_HIST_DELTA), 0);
		tick();
		if (t == 3) {
			CHECK_INT(metrics_query_window(&fake, mc, lv, 10000, &w), 0);
			CHECK_MSG(w.steps == 3 && w.value == 30, "partial: %u steps, %g", w.steps,
				  w.value);
		}
	}
	CHECK_INT(metrics_query_window(&fake, mc, lv, 10000, &w), 0);
	CHECK_MSG(w.steps == 10 && w.value == 100 && w.step_s == 1, "counter: %u steps, %g",
		  w.steps, w.value);
	CHECK(w.end_ns == now_ns);
	CHECK_INT(metrics_query_window(&fake, mg, lv, 1000, &w), 0);
	CHECK_MSG(w.steps == 1 && w.value == 69 && w.min == 69, "gauge 1 s: %g", w.value);
	CHECK_INT(metrics_query_window(&fake, mg, lv, 10000, &w), 0);
	CHECK_MSG(w.value == 64.5 && w.min == 60 && w.max == 69, "gauge 10 s: %g %g %g", w.value,
		  w.min, w.max);
	/* steps without data are left out of the count, the mean and the extremes */
	CHECK_INT(metrics_query_window(&fake, mg, gap, 10000, &w), 0);
	CHECK_MSG(w.steps == 5 && w.value == 67 && w.min == 65 && w.max == 69,
		  "gauge with a gap: %u steps, %g %g %g", w.steps, w.value, w.min, w.max);
	CHECK_INT(metrics_query_window(&fake, mg, gap, 20000, &w), 0);
	CHECK_MSG(w.steps == 10 && w.value == (49 * 5 + 65 + 66 + 67 + 68 + 69) / 10.0 &&
			  w.min == 49 && w.max == 69,
		  "gauge before and after a gap: %u steps, %g %g %g", w.steps, w.value, w.min,
		  w.max);
	/* longer than the fine tier: what it holds */
	CHECK_INT(metrics_query_window(&fake, mc, lv, 3600000, &w), 0);
	CHECK_MSG(w.steps == 60 && w.value == 600, "clipped: %u steps", w.steps);
	memset(counts, 0, sizeof(counts));
	w.counts = counts;
	w.n_counts = 3;
	CHECK_INT(metrics_query_window(&fake, mh, lv, 4000, &w), 0);
	CHECK_MSG(w.steps == 4 && w.count == 6 && counts[0] == 4 && counts[1] == 2 && w.value == 4,
		  "histogram: %llu observations", (unsigned long long)w.count);
	w.counts = two;
	w.n_counts = 2;
	CHECK_INT(metrics_query_window(&fake, mh, lv, 4000, &w), -EINVAL);
	w.counts = NULL;
	w.n_counts = 0;
	CHECK_INT(metrics_query_window(&fake, mc, none, 4000, &w), -ENOENT);
	CHECK_INT(metrics_query_window(&other, mc, lv, 4000, &w), -ENOENT);
	w.sz = sizeof(w) - 1;
	CHECK_INT(metrics_query_window(&fake, mc, lv, 4000, &w), -EINVAL);
	w.sz = sizeof(w);
	/* steps the loop could not close (starved): the next close carries the
	 * increase, and the window spans the gap */
	for (int t = 70; t < 80; t++) {
		CHECK_INT(metrics_publish_set(&fake, mc, lv, 10.0 * t), 0);
		if (t % 4 == 3)
			tick();
		else
			now_ns += STEP_NS; /* the tick came too late to close this step */
	}
	CHECK_INT(metrics_query_window(&fake, mc, lv, 10000, &w), 0);
	CHECK_MSG(w.steps == 9 && w.value == 100, "counter over skipped steps: %u steps, %g",
		  w.steps, w.value);
	metrics_store_fini();
}

/* GET /metrics' text (core/metrics_prom.c): escaping, cumulative buckets
 * ending in +Inf, counters as _total and monotonic over recorded steps. */
static void test_prom(void)
{
	static const char *const labels[] = { "comm" };
	static const double bounds[3] = { 10, 100, INFINITY };
	struct metrics_limits lim = { .step_ms = 1000, .fine_slots = 20, .coarse_slots = 20,
				      .coarse_factor = 10, .max_bytes = 16 << 20,
				      .max_series = 40, .top_n = 5 };
	struct smcp_metric_desc h = { .sz = sizeof(h), .name = "p_lat_ns", .unit = "ns",
				      .help = "a \"latency\"\nper comm\\",
				      .type = SMCP_METRIC_HISTOGRAM, .labels = labels,
				      .n_labels = 1, .bucket_bounds = bounds, .n_buckets = 3 };
	struct smcp_metric_desc c = { .sz = sizeof(c), .name = "p_events_total",
				      .type = SMCP_METRIC_COUNTER };
	const char *lv[1] = { "a\"b\\c\nd" };
	uint64_t counts[3] = { 1, 2, 3 };
	struct jbuf b;
	int mh, mc;

	UNIT_CASE("prometheus text");
	now_ns = 5000 * STEP_NS;
	CHECK_INT(metrics_store_init(&lim, now_ns), 0);
	mh = metrics_api_register(&fake, &h);
	mc = metrics_api_register(&fake, &c);
	CHECK(mh > 0 && mc > 0);
	for (int t = 0; t < 3; t++) {
		CHECK_INT(metrics_publish_hist(&fake, mh, lv, counts, 3, 123.0, SMCP_HIST_DELTA), 0);
		CHECK_INT(metrics_publish_set(&fake, mc, NULL, 100.0 * (t + 1)), 0);
		tick();
	}
	/* a counter reset (the plugin restarted its count): the export goes on up */
	CHECK_INT(metrics_publish_set(&fake, mc, NULL, 5), 0);
	tick();
	jbuf_init(&b, 1 << 20);
	CHECK_INT(metrics_prom_render(&b, false), 0);
	CHECK_MSG(b.p && strstr(b.p, "# HELP p_lat_ns a \"latency\"\\nper comm\\\\\n"),
		  "HELP escaped: %s", b.p);
	CHECK(strstr(b.p, "# TYPE p_lat_ns histogram\n"));
	CHECK_MSG(strstr(b.p, "p_lat_ns_bucket{comm=\"a\\\"b\\\\c\\nd\",le=\"10\"} 3\n"),
		  "label value escaped, bucket cumulative: %s", b.p);
	CHECK(strstr(b.p, "le=\"100\"} 9\n") && strstr(b.p, "le=\"+Inf\"} 18\n"));
	CHECK(strstr(b.p, "p_lat_ns_sum{comm=") && strstr(b.p, "} 369\n"));
	CHECK(strstr(b.p, "p_lat_ns_count{comm="));
	/* 100, 200, 300 (first publish is the base), then 5 after a reset */
	CHECK_MSG(strstr(b.p, "# TYPE p_events_total counter\np_events_total 205\n"),
		  "counter: %s", b.p);
	jbuf_free(&b);
	jbuf_init(&b, 1 << 20);
	CHECK_INT(metrics_prom_render(&b, true), 0);
	CHECK(strstr(b.p, "# TYPE p_events counter\np_events_total 205\n"));
	CHECK(strstr(b.p, "# UNIT p_lat_ns ns\n"));
	CHECK(strstr(b.p, "# HELP p_lat_ns a \\\"latency\\\"\\nper comm\\\\\n"));
	CHECK(b.len > 6 && !strcmp(b.p + b.len - 6, "# EOF\n"));
	jbuf_free(&b);
	metrics_store_fini();
}

static void test_quantities(void)
{
	char err[256], buf[64];
	double v;
	int64_t ms;

	UNIT_CASE("quantities");
	CHECK(metrics_text_parse_quantity("2ms", "ns", &v, err, sizeof(err)) == 0 && v == 2e6);
	CHECK(metrics_text_parse_quantity("1.5k", "1/s", &v, err, sizeof(err)) == 0 && v == 1500);
	CHECK(metrics_text_parse_quantity("80%", "pct", &v, err, sizeof(err)) == 0 && v == 80);
	CHECK(metrics_text_parse_quantity("3 us", "ns", &v, err, sizeof(err)) == 0 && v == 3000);
	CHECK(metrics_text_parse_quantity("2ms", "pct", &v, err, sizeof(err)) != 0);
	CHECK(metrics_text_parse_quantity("lots", "ns", &v, err, sizeof(err)) != 0);
	{
		static const struct {
			double v;
			const char *unit, *text;
		} q[] = {
			{ 3.4e6, "ns", "3.4 ms" },
			{ 512, "ns", "512 ns" },
			{ 2.5e9, "ns", "2.5 s" },
			{ 1500, "ns/s", "1.5 us/s" },
			{ 1023, "bytes", "1023 B" },
			{ 3 << 20, "bytes", "3 MiB" },
			{ 5.0 * (1u << 30), "bytes/s", "5 GiB/s" },
			{ 12.5, "pct", "12.5%" },
			{ 1234.5, "1/s", "1234/s" },
			{ 7, "widgets", "7 widgets" },
		};

		for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			metrics_text_format_quantity(q[i].v, q[i].unit, buf, sizeof(buf));
			CHECK_STR(buf, q[i].text);
		}
	}
	CHECK(metrics_text_parse_duration_ms("1h30m", &ms) == 0 && ms == 5400000);
	CHECK(metrics_text_parse_duration_ms("90", &ms) == 0 && ms == 90000);
	CHECK(metrics_text_parse_duration_ms("5 parsecs", &ms) != 0);
	CHECK(metrics_text_parse_time("-15m", 1000000000000, &ms, err, sizeof(err)) == 0 &&
	      ms == 1000000000000 - 900000);
	CHECK(metrics_text_parse_time("15m ago", 1000000000000, &ms, err, sizeof(err)) == 0 &&
	      ms == 1000000000000 - 900000);
	CHECK(metrics_text_parse_time("2025-01-31T14:02:00Z", 0, &ms, err, sizeof(err)) == 0 &&
	      ms == 1738332120000);
	CHECK(metrics_text_parse_time("2025-01-31T16:02:00+02:00", 0, &ms, err, sizeof(err)) == 0 &&
	      ms == 1738332120000);
	CHECK(metrics_text_parse_time("1738332120", 0, &ms, err, sizeof(err)) == 0 &&
	      ms == 1738332120000);
	CHECK(metrics_text_parse_time("900", 0, &ms, err, sizeof(err)) != 0);
	CHECK(metrics_text_parse_time("14:02", 1738332120000, &ms, err, sizeof(err)) == 0);
	CHECK(metrics_query_hist_quantile((const uint64_t[]){ 0, 10, 0 }, 3,
					  (const double[]){ 1, 2, 4 }, 0.5) == 1.5);
}

/* what_changed: ranked by significance, windows that never overlap, and
 * short history answered with what exists. */
static void test_changed(void)
{
	double io = metrics_changed_significance(0, 0.04, "pct"),
	       p99 = metrics_changed_significance(58e3, 12e6, "ns");
	struct changed_plan p;
	uint64_t have, L, f;
	int64_t end;

	UNIT_CASE("what_changed");
	/* the case: iowait 0 -> 0.04 % must not outrank p99 58 us -> 12 ms */
	CHECK_MSG(io < 0.1 && p99 > 7, "iowait %g, p99 %g", io, p99);
	CHECK(metrics_changed_significance(NAN, 0.04, "pct") < 0.1);
	CHECK(metrics_changed_significance(5, 5, "1/s") == 0);
	CHECK(metrics_changed_significance(NAN, NAN, "ns") == 0);
	CHECK(metrics_changed_significance(100, 1, "1") ==
	      metrics_changed_significance(1, 100, "1"));
	/* jitter in microseconds is small beside a millisecond that became five */
	CHECK(metrics_changed_significance(20e3, 30e3, "ns") < 1);
	CHECK(metrics_changed_significance(1e6, 5e6, "ns") > 1.5);
	/* a rate that doubles from 1000/s beats one from 0 to 2/s */
	CHECK(metrics_changed_significance(1000, 2000, "1/s") >
	      metrics_changed_significance(0, 2, "1/s"));

	now_ns = 1000 * STEP_NS;
	CHECK_INT(metrics_store_init(&small_lim, now_ns), 0);
	CHECK_INT(metrics_changed_plan(metrics_step_unix_ms(0) + 500, 5000, 20000, &p, &have),
		  -ENOENT);
	for (int t = 0; t < 30; t++)
		tick();
	L = metrics_view()->last_step;
	/* an end inside the newest step: after is its 5 steps, before the 10
	 * just before, adjacent and not overlapping */
	end = metrics_step_unix_ms(L + 1) - 300;
	CHECK_INT(metrics_changed_plan(end, 5000, 10000, &p, &have), 0);
	CHECK(p.after.tier == TIER_FINE && p.after.to == L && p.after.from == L - 4);
	CHECK(p.before.tier == TIER_FINE && p.before.to + 1 == p.after.from &&
	      p.before.from == L - 14 && !p.shortened);
	/* an end in the middle of an older step (the overlap once seen: before
	 * ended a step after after began) */
	end = metrics_step_unix_ms(L - 10) + 400;
	CHECK_INT(metrics_changed_plan(end, 5000, 10000, &p, &have), 0);
	CHECK_MSG(p.after.to == L - 10 && p.before.to + 1 == p.after.from,
		  "after %llu..%llu, before ..%llu", (unsigned long long)p.after.from,
		  (unsigned long long)p.after.to, (unsigned long long)p.before.to);
	CHECK(metrics_query_slot_unix_ms(p.before.tier, p.before.to + 1) <=
	      metrics_query_slot_unix_ms(p.after.tier, p.after.from));
	/* a baseline longer than history: before starts at the oldest step */
	end = metrics_step_unix_ms(L + 1);
	CHECK_INT(metrics_changed_plan(end, 5000, 3600000, &p, &have), 0);
	CHECK_MSG(p.shortened && p.before.from == 0 && p.before.to + 1 == p.after.from &&
			  have == L + 1 && p.first_step == 0,
		  "short: before %llu.., have %llu", (unsigned long long)p.before.from,
		  (unsigned long long)have);
	/* a window longer than history: half each */
	CHECK_INT(metrics_changed_plan(end, 3600000, 3600000, &p, &have), 0);
	CHECK(p.shortened && p.after.to - p.after.from + 1 == (L + 1) / 2 &&
	      p.before.from == 0 && p.before.to + 1 == p.after.from);
	/* past the fine tier: before in coarse slots that end before after */
	for (int t = 0; t < 200; t++)
		tick();
	L = metrics_view()->last_step;
	f = metrics_view()->geom.factor;
	end = metrics_step_unix_ms(L + 1);
	CHECK_INT(metrics_changed_plan(end, 10000, 100000, &p, &have), 0);
	CHECK_MSG(p.after.tier == TIER_FINE && p.before.tier == TIER_COARSE &&
			  (p.before.to + 1) * f <= p.after.from,
		  "coarse before ..%llu (x%llu), after %llu..", (unsigned long long)p.before.to,
		  (unsigned long long)f, (unsigned long long)p.after.from);
	CHECK(metrics_query_slot_unix_ms(p.before.tier, p.before.to + 1) <=
	      metrics_query_slot_unix_ms(p.after.tier, p.after.from));
	metrics_store_fini();
}

int main(void)
{
	test_encoding();
	test_hist_downsample();
	test_ring_wrap();
	test_scalar();
	test_budget();
	test_store();
	test_no_alloc();
	test_window();
	test_quantities();
	test_prom();
	test_changed();
	return unit_done("metrics/history");
}
