/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the sched_latency plugin's pure parts: the histogram layout
 * (user space against the BPF side's bucket function), percentiles, rolling
 * windows, the thread/process tables, the sched_ext kfunc choice for each
 * kernel generation, the CPU -> LLC/node mapping read from fixture
 * sysfs trees, and a cgroup's subtree summed from per-cgroup rows.
 *
 *   test-sched-latency-units FIXTURES_DIR
 */
#include <linux/types.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_latency.h"
#include "sl_common.bpf.h"
#include "scx_dsq_hooks.h"
#include "sl_cgtree.h"
#include "sl_hist.h"
#include "sl_judge.h"
#include "sl_tasks.h"
#include "sl_numa.h"
#include "sl_topo.h"
#include "sl_window.h"

static int failures, checks;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		checks++;                                                      \
		if (!(cond)) {                                                 \
			failures++;                                            \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
		}                                                              \
	} while (0)

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* ---------------------------------------------------------------- hist */

static void test_buckets(void)
{
	CHECK(SL_NB == SL_HIST_BUCKETS, "layouts differ");
	for (unsigned b = 0; b < SL_NB; b++) {
		uint64_t lo = sl_hist_lo_ns(b), hi = sl_hist_hi_ns(b);

		CHECK(lo < hi, "bucket %u empty", b);
		CHECK(sl_hist_bucket(lo) == b, "lo of %u maps to %u", b, sl_hist_bucket(lo));
		if (b + 1 < SL_NB)
			CHECK(sl_hist_bucket(hi - 1) == b, "hi-1 of %u maps to %u", b,
			      sl_hist_bucket(hi - 1));
		/* the BPF function must agree with user space */
		CHECK(sl_bucket(lo) == b && sl_bucket(hi - 1) == (b + 1 < SL_NB ? b : SL_NB - 1),
		      "BPF bucket of %llu", (unsigned long long)lo);
	}
	for (int i = 0; i < 200000; i++) {
		uint64_t ns = rnd() >> (rnd() % 64);

		CHECK(sl_bucket(ns) == sl_hist_bucket(ns), "ns %llu: bpf %u user %u",
		      (unsigned long long)ns, sl_bucket(ns), sl_hist_bucket(ns));
		if (failures > 10)
			return;
	}
	/* octaves align with runqlat's log2(us) slots */
	for (uint64_t us = 1; us < (1ull << 24); us = us * 3 + 1) {
		uint64_t ns = us * 1000 + 999;
		unsigned slot = 0;

		for (uint64_t v = us; v > 1; v >>= 1)
			slot++;
		CHECK(sl_hist_runqlat_slot(sl_hist_bucket(ns)) == slot, "us %llu: slot %u vs %u",
		      (unsigned long long)us, sl_hist_runqlat_slot(sl_hist_bucket(ns)), slot);
	}
	CHECK(sl_hist_bucket(0) == 0 && sl_hist_bucket(999) == 3 && sl_hist_bucket(1000) == 4,
	      "sub-microsecond buckets");
	CHECK(sl_hist_bucket(~0ull) == SL_NB - 1, "overflow bucket");
}

static void test_percentiles(void)
{
	uint64_t h[SL_NB] = { 0 };
	struct sl_pct pc;
	unsigned b10 = sl_hist_bucket(10000), b100 = sl_hist_bucket(100000);

	sl_hist_percentiles(h, &pc);
	CHECK(pc.samples == 0 && isnan(pc.p50_us), "empty histogram");
	h[b10] = 99;
	h[b100] = 1;
	sl_hist_percentiles(h, &pc);
	CHECK(pc.samples == 100, "samples %llu", (unsigned long long)pc.samples);
	CHECK(pc.p50_us >= sl_hist_lo_ns(b10) / 1000.0 && pc.p50_us < sl_hist_hi_ns(b10) / 1000.0,
	      "p50 %f inside its bucket", pc.p50_us);
	CHECK(pc.p50_bucket == b10 && pc.p99_bucket == b10, "p99 rank 99 is in the 10 us bucket");
	CHECK(pc.p999_us >= sl_hist_lo_ns(b100) / 1000.0, "p99.9 %f in the tail", pc.p999_us);
	CHECK(pc.p50_us <= pc.p90_us && pc.p90_us <= pc.p99_us && pc.p99_us <= pc.p999_us,
	      "monotonic");
}

/* -------------------------------------------------------------- window */

static void feed(struct sl_window_series *s, uint64_t t_s, uint64_t key, uint64_t count, unsigned b)
{
	static uint64_t c[4][2], h[4][SL_NB];
	struct sl_window_input in = { .key = key, .c = c[key], .h = h[key] };

	c[key][0] += count;
	c[key][1] += count * 10;
	h[key][b] += count;
	sl_window_tick(s, t_s * 1000000000ull, &in, 1, 0);
}

static void test_window(void)
{
	struct sl_window_series s;
	struct sl_window_result r;
	unsigned b = sl_hist_bucket(5000);

	CHECK(sl_window_init(&s, 2, 1, 16, 1 << 16) == 0, "init");
	CHECK(sl_window_window_last(&s, 10000000000ull, &r) == -ENODATA, "no data before a tick");
	for (uint64_t t = 1; t <= 70; t++)
		feed(&s, t, 1, t, b); /* t events in second t */
	CHECK(sl_window_window_last(&s, 1000000000ull, &r) == 0, "1 s window");
	CHECK(r.n == 1 && r.rows[0].c[0] == 70 && r.rows[0].h[b] == 70,
	      "last second holds 70, got %llu", r.n ? (unsigned long long)r.rows[0].c[0] : 0ull);
	CHECK(r.end_ns - r.start_ns == 1000000000ull, "span 1 s");
	sl_window_result_free(&r);
	CHECK(sl_window_window_last(&s, 10000000000ull, &r) == 0, "10 s window");
	CHECK(r.n == 1 && r.rows[0].c[0] == 61 + 62 + 63 + 64 + 65 + 66 + 67 + 68 + 69 + 70,
	      "10 s sum %llu", r.n ? (unsigned long long)r.rows[0].c[0] : 0ull);
	CHECK(r.rows[0].c[1] == 10 * r.rows[0].c[0], "second counter");
	sl_window_result_free(&r);
	CHECK(sl_window_window_last(&s, 60000000000ull, &r) == 0 && r.slots == 60,
	      "60 slots, got %u", r.slots);
	sl_window_result_free(&r);
	CHECK(sl_window_window_since(&s, 65000000000ull, &r) == 0 &&
		      r.rows[0].c[0] == 66 + 67 + 68 + 69 + 70,
	      "since 65 s");
	sl_window_result_free(&r);
	/* an idle entity records nothing; a new key appears; a reset starts over */
	{
		uint64_t c2[2] = { 5, 50 }, h2[SL_NB] = { 0 }, c3[2] = { 2, 20 };
		struct sl_window_input in[2] = { { .key = 2, .c = c2, .h = h2 },
						 { .key = 1, .c = c3, .h = h2 } };

		sl_window_tick(&s, 71000000000ull, in, 2, 0);
		CHECK(sl_window_window_last(&s, 1000000000ull, &r) == 0 && r.n == 2, "two rows");
		CHECK(sl_window_result_find(&r, 2) && sl_window_result_find(&r, 2)->c[0] == 5,
		      "new key");
		CHECK(sl_window_result_find(&r, 1) && sl_window_result_find(&r, 1)->c[0] == 2,
		      "counter went backwards: starts over");
		sl_window_result_free(&r);
	}
	sl_window_free(&s);

	/* a full slot is marked truncated */
	CHECK(sl_window_init(&s, 2, 1, 1000, 200) == 0, "init small");
	{
		uint64_t c[8][2], h[8][SL_NB];
		struct sl_window_input in[8];

		memset(h, 0, sizeof(h));
		for (int i = 0; i < 8; i++) {
			c[i][0] = c[i][1] = 1;
			in[i] = (struct sl_window_input){ .key = (uint64_t)i,
							  .c = c[i],
							  .h = h[i] };
		}
		sl_window_tick(&s, 1000000000ull, in, 8, 0);
		CHECK(sl_window_window_last(&s, 1000000000ull, &r) == 0 && r.truncated && r.n < 8,
		      "truncated");
		sl_window_result_free(&r);
	}
	sl_window_free(&s);

	/* folding CPUs into groups */
	{
		uint64_t c[4][2] = { { 1, 0 }, { 2, 0 }, { 4, 0 }, { 8, 0 } }, h[4][SL_NB];
		struct sl_window_input in[4];
		struct sl_window_result all, f;
		int map[4] = { 0, 0, 1, -1 };

		memset(h, 0, sizeof(h));
		for (int i = 0; i < 4; i++)
			in[i] = (struct sl_window_input){ .key = (uint64_t)i,
							  .c = c[i],
							  .h = h[i] };
		CHECK(sl_window_result_from_inputs(2, 1, in, 4, &all) == 0, "from inputs");
		CHECK(sl_window_result_fold(&all, map, 4, &f) == 0 && f.n == 2, "fold");
		CHECK(f.rows[0].c[0] == 3 && f.rows[1].c[0] == 4, "fold sums %llu %llu",
		      (unsigned long long)f.rows[0].c[0], (unsigned long long)f.rows[1].c[0]);
		sl_window_result_free(&f);
		sl_window_result_free(&all);
	}
}

/* sl_window_visit_since: every change of the slots after a tick, once each */
struct visit_sum {
	unsigned calls;
	uint64_t c0, hist;
};

static void visit_add(void *ctx, const struct sl_window_change *ch)
{
	struct visit_sum *v = ctx;

	v->calls++;
	v->c0 += ch->dc[0];
	for (uint32_t i = 0; i < ch->npairs; i++)
		v->hist += SLW_PAIR_COUNT(ch->pairs[i]);
}

static void test_visit(void)
{
	struct sl_window_series s;
	struct visit_sum v = { 0 };
	unsigned b = sl_hist_bucket(5000);
	uint64_t seen;

	/* key 3: feed() keeps cumulative counters per key, and no other test uses 3 */
	CHECK(sl_window_init(&s, 2, 1, 16, 1 << 16) == 0, "init");
	CHECK(sl_window_visit_since(&s, 0, visit_add, &v) == 0 && v.calls == 0, "nothing yet");
	for (uint64_t t = 1; t <= 3; t++)
		feed(&s, t, 3, t, b);
	CHECK(sl_window_visit_since(&s, 0, visit_add, &v) == 3 && v.c0 == 1 + 2 + 3 && v.hist == 6,
	      "three slots: %u calls, c0 %llu", v.calls, (unsigned long long)v.c0);
	seen = s.ticks;
	v = (struct visit_sum){ 0 };
	CHECK(sl_window_visit_since(&s, seen, visit_add, &v) == 0 && v.calls == 0, "none new");
	feed(&s, 4, 3, 4, b);
	CHECK(sl_window_visit_since(&s, seen, visit_add, &v) == 1 && v.c0 == 4 && v.hist == 4,
	      "only the new slot");
	/* a reader far behind gets the slots still kept, no more */
	for (uint64_t t = 5; t <= 200; t++)
		feed(&s, t, 3, t, b);
	v = (struct visit_sum){ 0 };
	CHECK(sl_window_visit_since(&s, seen, visit_add, &v) == SLW_SLOTS && v.calls == SLW_SLOTS,
	      "bounded by the ring: %u", v.calls);
	sl_window_free(&s);
}

/* --------------------------------------------------------------- tasks */

static struct sl_task_stats rec(uint32_t tid, uint32_t tgid, uint64_t waits, bool exited)
{
	struct sl_task_stats r;

	memset(&r, 0, sizeof(r));
	r.tid = tid;
	r.tgid = tgid;
	r.waits = waits;
	r.wait_ns = waits * 1000;
	r.hist[sl_hist_bucket(1000)] = (uint32_t)waits;
	r.exited = exited;
	snprintf(r.comm, sizeof(r.comm), "t%u", tid);
	return r;
}

static void test_tasks(void)
{
	struct sl_tasks t;
	struct sl_task_stats r;
	struct sl_proc *pr;

	CHECK(sl_tasks_init(&t, 4, 2) == 0, "init");
	sl_tasks_begin(&t);
	r = rec(100, 100, 5, false);
	sl_tasks_update(&t, &r);
	r = rec(101, 100, 3, false);
	sl_tasks_update(&t, &r);
	pr = sl_tasks_process(&t, 100);
	CHECK(pr && pr->c[SLT_WAITS] == 8 && pr->live_threads == 2, "process sums threads");
	CHECK(pr && strcmp(pr->comm, "t100") == 0, "leader's comm");
	sl_tasks_begin(&t);
	r = rec(101, 100, 10, true); /* exits after 7 more waits */
	sl_tasks_update(&t, &r);
	CHECK(pr->c[SLT_WAITS] == 15 && pr->live_threads == 1, "exit adds the last delta");
	CHECK(pr->h[sl_hist_bucket(1000)] == 15, "histogram folded too");
	r = rec(101, 200, 1, false); /* tid reused by another process */
	sl_tasks_update(&t, &r);
	CHECK(sl_tasks_process(&t, 100)->c[SLT_WAITS] == 15, "old process keeps its counts");
	CHECK(sl_tasks_process(&t, 200) && sl_tasks_process(&t, 200)->c[SLT_WAITS] == 1,
	      "new thread starts over");
	CHECK(t.restarts == 1, "one restart");
	/* fill up: the oldest entries make room */
	for (uint32_t i = 0; i < 6; i++) {
		sl_tasks_begin(&t);
		r = rec(300 + i, 300 + i, 1, false);
		sl_tasks_update(&t, &r);
	}
	CHECK(t.n_thr == 4 && t.n_proc == 2, "bounded: %zu threads, %zu processes", t.n_thr,
	      t.n_proc);
	CHECK(t.evicted_threads >= 3 && t.evicted_procs >= 4, "evictions %llu %llu",
	      (unsigned long long)t.evicted_threads, (unsigned long long)t.evicted_procs);
	CHECK(sl_tasks_thread(&t, 305) && !sl_tasks_thread(&t, 100), "newest kept");
	/* every remaining index entry still finds its thread */
	for (size_t i = 0; i < t.n_thr; i++)
		CHECK(sl_tasks_thread(&t, t.thr[i].tid) == &t.thr[i], "index of %u", t.thr[i].tid);
	{
		struct sl_window_input *in;
		uint64_t *store;
		struct sl_window_result all;
		int n = sl_tasks_series_inputs(&t, true, 0, &in, &store);

		CHECK(n == 2 && in[0].c[SLT_WAITS] == 1, "process inputs");
		free(in);
		free(store);
		CHECK(sl_tasks_result(&t, false, &all) == 0 && all.n == t.n_thr, "thread rows");
		for (size_t i = 1; i < all.n; i++)
			CHECK(all.rows[i - 1].key < all.rows[i].key, "rows sorted by key");
		CHECK(sl_window_result_find(&all, 305) &&
			      sl_window_result_find(&all, 305)->h[sl_hist_bucket(1000)] == 1,
		      "row of thread 305");
		sl_window_result_free(&all);
	}
	sl_tasks_free(&t);

	/* churn: many short-lived threads through a small table */
	CHECK(sl_tasks_init(&t, 64, 16) == 0, "init churn");
	for (uint32_t i = 1; i <= 20000; i++) {
		if (i % 100 == 0)
			sl_tasks_begin(&t);
		r = rec(i, i / 4 + 1, 2, false);
		sl_tasks_update(&t, &r);
		r = rec(i, i / 4 + 1, 3, true);
		sl_tasks_update(&t, &r);
	}
	CHECK(t.n_thr <= 64 && t.n_proc <= 16, "churn stays bounded");
	for (size_t i = 0; i < t.n_thr; i++)
		CHECK(sl_tasks_thread(&t, t.thr[i].tid) == &t.thr[i], "churn index of %u",
		      t.thr[i].tid);
	sl_tasks_free(&t);
}

/* Threads that exited leave the window series once their last change is
 * recorded, and one that changes after that comes back as a baseline: the
 * series stays as large as what is alive (issue 20) and counts nothing twice. */
static void test_retire(void)
{
	struct sl_task_stats r;
	struct sl_window_series w;
	struct sl_window_result res;
	struct sl_window_input *in;
	struct sl_tasks t;
	uint64_t *store, fed = 0, now = 0;
	int n;

#define SERIES_TICK(procs)                                                                         \
	do {                                                                                       \
		n = sl_tasks_series_inputs(&t, procs, fed, &in, &store);                           \
		CHECK(n >= 0, "inputs");                                                           \
		now += 1000000000ull;                                                              \
		if (!procs)                                                                        \
			(void)sl_window_tick(&w, now, in, (size_t)n, 0);                           \
		free(in);                                                                          \
		free(store);                                                                       \
	} while (0)

	CHECK(sl_tasks_init(&t, 64, 64) == 0 && sl_window_init(&w, SLT_N, 1, 64, 1 << 16) == 0,
	      "init");
	sl_tasks_begin(&t);
	r = rec(10, 10, 4, false);
	sl_tasks_update(&t, &r);
	r = rec(11, 10, 2, false);
	sl_tasks_update(&t, &r);
	SERIES_TICK(false);
	CHECK(n == 2 && w.n_tracked == 2, "both threads in the series: %d", n);
	fed = t.tick;

	sl_tasks_begin(&t); /* thread 11 exits with 3 more waits */
	r = rec(11, 10, 5, true);
	sl_tasks_update(&t, &r);
	SERIES_TICK(false);
	CHECK(n == 2, "its exit is recorded: %d", n);
	fed = t.tick;

	sl_tasks_begin(&t); /* nothing more from 11: it leaves */
	SERIES_TICK(false);
	CHECK(n == 1 && w.n_tracked == 1 && sl_tasks_thread(&t, 11)->retired,
	      "exited thread retired: %d inputs, %zu tracked", n, w.n_tracked);
	fed = t.tick;
	n = sl_tasks_series_inputs(&t, true, fed, &in, &store);
	CHECK(n == 1 && !in[0].resumed, "its process is alive, so it stays: %d", n);
	free(in);
	free(store);

	sl_tasks_begin(&t); /* a late export of 11: one more wait */
	r = rec(11, 10, 6, true);
	sl_tasks_update(&t, &r);
	SERIES_TICK(false);
	CHECK(n == 2 && !sl_tasks_thread(&t, 11)->retired, "back in the series: %d", n);
	CHECK(sl_window_window_last(&w, 10 * 1000000000ull, &res) == 0 &&
		      sl_window_result_find(&res, 11),
	      "window");
	/* 2 at start, 3 at its exit; the late wait is lost, not its history recounted */
	CHECK(sl_window_result_find(&res, 11) && sl_window_result_find(&res, 11)->c[SLT_WAITS] == 5,
	      "thread 11 counted once: %llu waits",
	      sl_window_result_find(&res, 11)
		      ? (unsigned long long)sl_window_result_find(&res, 11)->c[SLT_WAITS]
		      : 0ull);
	sl_window_result_free(&res);
	CHECK(sl_tasks_result(&t, false, &res) == 0 && res.n == 2, "since start keeps it");
	sl_window_result_free(&res);
	fed = t.tick;

	/* the last thread exits: its process retires after a quiet tick too */
	sl_tasks_begin(&t);
	r = rec(10, 10, 4, true);
	sl_tasks_update(&t, &r);
	SERIES_TICK(true);
	CHECK(n == 1, "process with its exit: %d", n);
	fed = t.tick;
	sl_tasks_begin(&t);
	SERIES_TICK(true);
	CHECK(n == 0 && sl_tasks_process(&t, 10)->retired, "dead process retired: %d", n);
	fed = t.tick;
	/* its pid comes back: in again, as a baseline */
	sl_tasks_begin(&t);
	r = rec(12, 10, 1, false);
	sl_tasks_update(&t, &r);
	n = sl_tasks_series_inputs(&t, true, fed, &in, &store);
	CHECK(n == 1 && in[0].resumed, "reused pid resumes: %d", n);
	free(in);
	free(store);
#undef SERIES_TICK
	sl_window_free(&w);
	sl_tasks_free(&t);
}

/* ---------------------------------------------------------------- topo */

static void test_topo(const char *fixtures)
{
	char root[512], buf[64];
	struct sl_topo t;

	/* the cpulist parser itself: sdk/include/schedmcp/cpulist.h, tests/abi */

	snprintf(root, sizeof(root), "%s/topo-2llc-2node", fixtures);
	CHECK(sl_topo_read(root, 0, &t) == 0, "read %s", root);
	CHECK(t.ncpus == 8 && t.n_llc == 2 && t.n_node == 2, "8 CPUs, 2 LLCs, 2 nodes: %d %d %d",
	      t.ncpus, t.n_llc, t.n_node);
	CHECK(t.llc_level == 3, "L3 used, got level %d", t.llc_level);
	CHECK(t.cpu_llc[3] == 0 && t.cpu_llc[4] == 1 && t.cpu_node[7] == 1, "mapping");
	CHECK(sl_topo_cpus(&t, 1, 1, buf, sizeof(buf)) == 4 && strcmp(buf, "4-7") == 0,
	      "llc 1 cpus '%s'", buf);
	sl_topo_free(&t);

	/* the BPF side may see fewer CPUs than sysfs describes */
	CHECK(sl_topo_read(root, 2, &t) == 0 && t.ncpus == 2 && t.n_llc == 1, "truncated to 2");
	sl_topo_free(&t);

	snprintf(root, sizeof(root), "%s/topo-nocache", fixtures);
	CHECK(sl_topo_read(root, 0, &t) == 0, "read %s", root);
	CHECK(t.n_llc == 1 && t.llc_level == 0 && strstr(t.llc_source, "package"),
	      "package fallback: %s", t.llc_source);
	CHECK(t.n_node == 1 && t.cpu_node[3] == 0 && strstr(t.node_source, "none"),
	      "no NUMA: %s", t.node_source);
	sl_topo_free(&t);

	snprintf(root, sizeof(root), "%s/does-not-exist", fixtures);
	CHECK(sl_topo_read(root, 0, &t) == -ENOENT, "missing tree");
}

/* ----------------------------------------------------------------- dsq */

static bool in_list(void *ctx, const char *name)
{
	for (const char *const *n = ctx; *n; n++)
		if (strcmp(*n, name) == 0)
			return true;
	return false;
}

static void expect_chosen(const char *kernel, const char *const *have, const char *const *want)
{
	bool present[SCX_DSQ_NHOOKS], chosen[SCX_DSQ_NHOOKS];
	bool scx = scx_dsq_choose(in_list, (void *)have, present, chosen);

	CHECK(scx == (want[0] != NULL), "%s: sched_ext present", kernel);
	for (int i = 0; i < SCX_DSQ_NHOOKS; i++)
		CHECK(chosen[i] == in_list((void *)want, scx_dsq_hooks[i].kfunc), "%s: %s %s", kernel,
		      scx_dsq_hooks[i].kfunc, chosen[i] ? "hooked" : "not hooked");
}

static void test_dsq_choice(void)
{
	static const char *const none[] = { "schedule", NULL };
	static const char *const none_want[] = { NULL };
	/* 6.12: the first sched_ext release */
	static const char *const k612[] = { "scx_bpf_dispatch", "scx_bpf_dispatch_vtime",
					    "scx_bpf_consume", "scx_bpf_dispatch_from_dsq",
					    "scx_bpf_dispatch_vtime_from_dsq",
					    "scx_bpf_dsq_nr_queued", NULL };
	/* 6.13 - 6.18: the renames, with the old names kept as wrappers */
	static const char *const k613[] = { "scx_bpf_dsq_insert", "scx_bpf_dsq_insert_vtime",
					    "scx_bpf_dispatch", "scx_bpf_dispatch_vtime",
					    "scx_bpf_dsq_move_to_local", "scx_bpf_consume",
					    "scx_bpf_dsq_move", "scx_bpf_dsq_move_vtime",
					    "scx_bpf_dispatch_from_dsq",
					    "scx_bpf_dispatch_vtime_from_dsq",
					    "scx_bpf_dsq_nr_queued", NULL };
	static const char *const k613_want[] = { "scx_bpf_dsq_insert", "scx_bpf_dsq_insert_vtime",
						 "scx_bpf_dispatch", "scx_bpf_dispatch_vtime",
						 "scx_bpf_dsq_move_to_local", "scx_bpf_dsq_move",
						 "scx_bpf_dsq_move_vtime", "scx_bpf_dsq_nr_queued",
						 NULL };
	/* 6.19+ / 7.x: bool-returning inserts, vtime arguments in a struct */
	static const char *const k7[] = { "scx_bpf_dsq_insert___v2", "scx_bpf_dsq_insert",
					  "__scx_bpf_dsq_insert_vtime", "scx_bpf_dsq_insert_vtime",
					  "scx_bpf_dsq_move_to_local", "scx_bpf_dsq_move",
					  "scx_bpf_dsq_move_vtime", "scx_bpf_dsq_nr_queued", NULL };

	expect_chosen("no sched_ext", none, none_want);
	expect_chosen("6.12", k612, k612);
	expect_chosen("6.13", k613, k613_want);
	expect_chosen("7.x", k7, k7);
}

/* numastat and numa_maps: exact counts, any chunking, nothing from a path or
 * an overflowing number, node ids beyond the array skipped. */
static void test_numa(void)
{
	static const char stat[] = "numa_hit 12\nnuma_miss 3\nnuma_foreign 0\n"
				   "interleave_hit 7\nlocal_node 10\nother_node 2\n"
				   "numa_hitx 99\nnuma_miss 99999999999999999999999\n";
	static const char maps[] =
		"00400000 default file=/bin/a mapped=4 N0=3 N1=1 kernelpagesize_kB=4\n"
		"7f00 bind:1 anon=2 N1=2 kernelpagesize_kB=2048\n"
		"7f10 default file=/x\\ N0=999 y N0=5 kernelpagesize_kB=4\n"
		"7f20 default N64=9 N0=1 kernelpagesize_kB=4\n"
		"7f30 default N0=18446744073709551616 kernelpagesize_kB=4\n"
		"7f40 default anon=1 N1=4"; /* no newline at the end */
	static const char tail[] = "\n7f default N0=2 kernelpagesize_kB=4\n";
	uint64_t v[SLN_N] = { 0 };
	unsigned found = sl_numastat_parse(stat, sizeof(stat) - 1, v);
	struct sl_numa_maps *m = malloc(sizeof(*m)), *b = malloc(sizeof(*b));

	CHECK(found == (1u << SLN_N) - 1, "numastat: every counter found (%#x)", found);
	CHECK(v[SLN_HIT] == 12 && v[SLN_MISS] == 3 && v[SLN_INTERLEAVE_HIT] == 7 &&
		      v[SLN_LOCAL] == 10 && v[SLN_OTHER] == 2,
	      "numastat values (an overflowing line leaves miss at 3: %llu)",
	      (unsigned long long)v[SLN_MISS]);
	if (!m || !b)
		goto out;
	sl_numa_maps_init(m);
	sl_numa_maps_feed(m, maps, sizeof(maps) - 1);
	sl_numa_maps_end(m);
	CHECK(m->mappings == 6, "mappings %llu", (unsigned long long)m->mappings);
	CHECK(m->pages[0] == 3 + 5 + 1 && m->pages[1] == 1 + 2 + 4,
	      "pages N0 %llu (no 999 from the path, no overflow) N1 %llu",
	      (unsigned long long)m->pages[0], (unsigned long long)m->pages[1]);
	CHECK(m->kb[1] == 4 + 2 * 2048 + 16, "kB by each mapping's page size: %llu",
	      (unsigned long long)m->kb[1]);
	CHECK(m->skipped == 1, "N64 skipped: %llu", (unsigned long long)m->skipped);
	/* one byte at a time: the same sums */
	sl_numa_maps_init(b);
	for (size_t i = 0; i < sizeof(maps) - 1; i++)
		sl_numa_maps_feed(b, maps + i, 1);
	sl_numa_maps_end(b);
	CHECK(memcmp(b->pages, m->pages, sizeof(m->pages)) == 0 && b->mappings == m->mappings,
	      "byte-wise feeding gives the same sums");
	/* a line longer than the buffer is skipped whole, the next one counts */
	sl_numa_maps_init(b);
	for (int i = 0; i < 3000; i++)
		sl_numa_maps_feed(b, "N0=1 ", 5);
	sl_numa_maps_feed(b, tail, sizeof(tail) - 1);
	sl_numa_maps_end(b);
	CHECK(b->skipped == 1 && b->pages[0] == 2 && b->mappings == 1,
	      "overlong line skipped (skipped %llu, N0 %llu)", (unsigned long long)b->skipped,
	      (unsigned long long)b->pages[0]);
out:
	free(m);
	free(b);
}

/* --------------------------------------------------------------- judge */

/* add n waits of us microseconds to a cumulative histogram */
static void waits_of(uint64_t *cum, uint64_t n, uint64_t us)
{
	cum[sl_hist_bucket(us * 1000)] += n;
}

static void test_judge(void)
{
	static uint64_t cum[SL_NB], delta[SL_NB];
	struct sl_judge j = { 0 };
	struct sl_verdict v;
	uint64_t t = 1000000000ull, step = 1000000000ull;
	int notable = 0;

	/* the first step only records: 500 long waits from before the daemon */
	waits_of(cum, 500, 20000);
	CHECK(!sl_judge_step(&j, cum, t, true, delta, &v), "the first step is never judged");
	/* ten quiet steps: 200 waits of 50 us each */
	for (int i = 0; i < 10; i++) {
		waits_of(cum, 200, 50);
		t += step;
		notable += sl_judge_step(&j, cum, t, true, delta, &v);
	}
	CHECK(notable == 0, "quiet steps are not notable (%d)", notable);
	CHECK(j.ewma_tail_us > 40 && j.ewma_tail_us < 70, "the baseline follows the tail: %g",
	      j.ewma_tail_us);
	/* a spike: 200 short waits and 30 of 8 ms */
	waits_of(cum, 200, 50);
	waits_of(cum, 30, 8000);
	t += step;
	CHECK(sl_judge_step(&j, cum, t, true, delta, &v), "a 8 ms tail over a 50 us usual one");
	CHECK(v.tail_us >= 6000 && v.tail_us <= 10000 && v.long_waits == 30 && v.waits == 230 &&
		      v.base_us == 100.0 && fabs(v.step_s - 1.0) < 1e-9 && !v.rank20,
	      "the verdict: tail %g long %llu waits %llu base %g step %g", v.tail_us,
	      (unsigned long long)v.long_waits, (unsigned long long)v.waits, v.base_us, v.step_s);
	/* the same spike again within the cooldown: not reported twice */
	waits_of(cum, 200, 50);
	waits_of(cum, 30, 8000);
	t += step;
	CHECK(!sl_judge_step(&j, cum, t, true, delta, &v), "cooldown: one event per spike");
	/* the baseline moved at most twice itself a step: still far below 8 ms */
	CHECK(j.ewma_tail_us < 400, "one burst does not lift the baseline far: %g",
	      j.ewma_tail_us);
	/* after the cooldown, with no room to report: learns, reports nothing */
	t += SL_JUDGE_COOLDOWN_NS;
	waits_of(cum, 200, 50);
	waits_of(cum, 30, 8000);
	CHECK(!sl_judge_step(&j, cum, t, false, delta, &v), "no room: not reported");
	/* below the 1 ms floor: never notable, however far above the baseline */
	memset(&j, 0, sizeof(j));
	memset(cum, 0, sizeof(cum));
	for (int i = 0; i < 6; i++) {
		waits_of(cum, 100, i < 5 ? 2 : 900);
		t += step;
		notable = sl_judge_step(&j, cum, t, true, delta, &v);
	}
	CHECK(!notable, "900 us over a 2 us baseline: under the floor");
	/* too few waits to say anything */
	waits_of(cum, 5, 50000);
	t += step;
	CHECK(!sl_judge_step(&j, cum, t, true, delta, &v), "5 waits: too few to judge");
	/* a series whose counts went back (recreated) starts over, no wrap */
	memset(cum, 0, sizeof(cum));
	waits_of(cum, 100, 50);
	t += step;
	CHECK(!sl_judge_step(&j, cum, t, true, delta, &v) && delta[sl_hist_bucket(50000)] == 100,
	      "counts that went back are read as this step's");
}

/* ------------------------------------------------------- cgroup subtrees */

struct cgt_fixture {
	uint64_t id;
	const char *path; /* NULL: not resolved */
};

static const struct cgt_fixture cgt_rows[] = {
	{ 1, "/" },
	{ 10, "/system.slice" },
	{ 11, "/system.slice/a.service" },
	{ 12, "/system.slice/b.service" },
	{ 13, "/system.slice/b.service/worker" },
	{ 14, "/system.slice-other" }, /* a prefix of the string, not below it */
	{ 20, "/user.slice/user-1000.slice" },
	{ 30, NULL },
};

static const char *cgt_path(void *ctx, uint64_t id)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof(cgt_rows) / sizeof(cgt_rows[0]); i++)
		if (cgt_rows[i].id == id)
			return cgt_rows[i].path;
	return NULL;
}

static void test_cgtree(void)
{
	enum { SW, WAITS, NS, MAX, NC };
	size_t n = sizeof(cgt_rows) / sizeof(cgt_rows[0]);
	struct sl_window_result r;
	struct sl_cgtree_sum t;
	uint64_t want_waits = 0, want_ns = 0, want_h[SL_NB] = { 0 };

	CHECK(sl_cgtree_under("/a/b", "/a") && sl_cgtree_under("/a", "/a") &&
		      sl_cgtree_under("/x", "/") && sl_cgtree_under("/", "/"),
	      "under");
	CHECK(!sl_cgtree_under("/ab", "/a") && !sl_cgtree_under("/a", "/a/b") &&
		      !sl_cgtree_under(NULL, "/") && !sl_cgtree_under("a", "/") &&
		      !sl_cgtree_under("/", "/a"),
	      "not under");

	CHECK(sl_window_result_alloc(&r, NC, 1, n) == 0, "alloc");
	for (size_t i = 0; i < n; i++) {
		uint64_t id = cgt_rows[i].id;

		r.rows[i].key = id;
		r.rows[i].c[SW] = id * 3;
		r.rows[i].c[WAITS] = id * 2;
		r.rows[i].c[NS] = id * 1000;
		r.rows[i].c[MAX] = 100 + id;
		r.rows[i].h[id % SL_NB] = id * 2; /* waits spread over buckets */
		r.rows[i].h[(id * 7) % SL_NB] += 1;
	}
	r.n = n;
	sl_window_result_sort(&r);

	/* a slice: itself, two services and a service's child, not its
	 * look-alike sibling, nor the unresolved row */
	CHECK(sl_cgtree_sum(&r, 10, "/system.slice", cgt_path, NULL, MAX, WAITS, &t) == 0, "sum");
	for (uint64_t id = 10; id <= 13; id++) {
		want_waits += id * 2;
		want_ns += id * 1000;
		want_h[id % SL_NB] += id * 2;
		want_h[(id * 7) % SL_NB] += 1;
	}
	CHECK(t.summed == 4 && t.has_base && t.unresolved == 1, "summed %zu unresolved %zu",
	      t.summed, t.unresolved);
	CHECK(t.c[WAITS] == want_waits && t.c[NS] == want_ns && t.c[SW] == 3 * (10 + 11 + 12 + 13),
	      "counters %llu %llu", (unsigned long long)t.c[WAITS], (unsigned long long)t.c[NS]);
	CHECK(t.c[MAX] == 113, "the max counter is the largest: %llu",
	      (unsigned long long)t.c[MAX]);
	CHECK(memcmp(t.h, want_h, sizeof(want_h)) == 0, "histograms summed bucket by bucket");
	CHECK(sl_hist_total(t.h) == want_waits + 4, "histogram total %llu",
	      (unsigned long long)sl_hist_total(t.h));
	CHECK(t.nparts == 3 && t.parts[0].id == 13 && t.parts[1].id == 12 && t.parts[2].id == 11 &&
		      t.parts[0].rank == 26,
	      "descendants by waits: %zu first %llu", t.nparts, (unsigned long long)t.parts[0].id);

	/* a leaf: its own row only */
	CHECK(sl_cgtree_sum(&r, 11, "/system.slice/a.service", cgt_path, NULL, MAX, WAITS, &t) == 0 &&
		      t.summed == 1 && t.has_base && t.nparts == 0 && t.c[WAITS] == 22,
	      "leaf: summed %zu waits %llu", t.summed, (unsigned long long)t.c[WAITS]);

	/* a slice with no tasks of its own (no row): its children only */
	CHECK(sl_cgtree_sum(&r, 99, "/user.slice", cgt_path, NULL, MAX, WAITS, &t) == 0 &&
		      t.summed == 1 && !t.has_base && t.nparts == 1 && t.c[WAITS] == 40,
	      "empty slice: summed %zu waits %llu", t.summed, (unsigned long long)t.c[WAITS]);

	/* the root: every resolved row */
	CHECK(sl_cgtree_sum(&r, 1, "/", cgt_path, NULL, MAX, WAITS, &t) == 0 &&
		      t.summed == n - 1 && t.unresolved == 1 && t.nparts == n - 2,
	      "root: summed %zu", t.summed);

	/* the row of the base counts as its own even without a known path */
	CHECK(sl_cgtree_sum(&r, 30, "/lost", cgt_path, NULL, MAX, WAITS, &t) == 0 &&
		      t.summed == 1 && t.has_base && t.unresolved == 0 && t.c[WAITS] == 60,
	      "unresolved base: summed %zu", t.summed);

	CHECK(sl_cgtree_sum(&r, 1, "relative", cgt_path, NULL, MAX, WAITS, &t) == -EINVAL &&
		      sl_cgtree_sum(&r, 1, "/", NULL, NULL, MAX, WAITS, &t) == -EINVAL &&
		      sl_cgtree_sum(&r, 1, "/", cgt_path, NULL, MAX, NC, &t) == -EINVAL,
	      "bad arguments refused");
	sl_window_result_free(&r);
}

static const char *parts_path(void *ctx, uint64_t id)
{
	return ((char (*)[32])ctx)[id - 100];
}

static void test_cgtree_parts(void)
{
	/* more descendants than parts: the largest kept, in order */
	enum { NROWS = 3 * SL_CGTREE_PARTS };
	struct sl_window_result r;
	struct sl_cgtree_sum t;
	static char paths[NROWS][32];
	bool ordered = true;

	CHECK(sl_window_result_alloc(&r, 2, 1, NROWS) == 0, "alloc");
	for (size_t i = 0; i < NROWS; i++) {
		r.rows[i].key = 100 + i;
		r.rows[i].c[1] = (i * 37) % NROWS + 1; /* a permutation of 1..NROWS */
		snprintf(paths[i], sizeof(paths[i]), "/p/c%zu", i);
	}
	r.n = NROWS;
	CHECK(sl_cgtree_sum(&r, 1, "/p", parts_path, paths, -1, 1, &t) == 0, "sum");
	CHECK(t.summed == NROWS && !t.has_base && t.nparts == SL_CGTREE_PARTS, "parts %zu",
	      t.nparts);
	for (size_t i = 0; i < t.nparts; i++)
		ordered = ordered && t.parts[i].rank == NROWS - i;
	CHECK(ordered, "the %d largest, descending: first %llu last %llu", SL_CGTREE_PARTS,
	      (unsigned long long)t.parts[0].rank,
	      (unsigned long long)t.parts[t.nparts - 1].rank);
	CHECK(t.c[1] == (uint64_t)NROWS * (NROWS + 1) / 2, "sum of all rows: %llu",
	      (unsigned long long)t.c[1]);
	sl_window_result_free(&r);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
		return 2;
	}
	test_buckets();
	test_percentiles();
	test_window();
	test_visit();
	test_tasks();
	test_retire();
	test_dsq_choice();
	test_topo(argv[1]);
	test_numa();
	test_judge();
	test_cgtree();
	test_cgtree_parts();
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
