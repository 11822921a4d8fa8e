/* SPDX-License-Identifier: MIT */
/*
 * Persistence without the daemon (core/persist*.c): the store saved and
 * restored slot for slot (gauges, counters, histograms, a top-N histogram,
 * the coarse accumulator), the timeline continued with a gap, watches
 * recreated; metrics gone or changed, the top-N rule and the budget at
 * restore; corrupt, truncated, bit-flipped, wrong-version, malformed,
 * wrong-geometry and odd files set aside; a wall clock behind the file and
 * a file older than the coarse tier; the size cap; the directory's checks
 * and its lock. Simulated clocks throughout.
 *
 * With --scale: 24 h of history for 500 scalar and 50 histogram series
 * saved and restored (restore < 200 ms of CPU), and the loop's pause to
 * fork the writer with 4096 series (< 50 ms). Timings are not checked in
 * sanitizer builds (SMCP_SANITIZED=1).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/seed_store.h"
#include "../unit/unit.h"
#include "host.h"
#include "metrics.h"
#include "persist.h"
#include "persist_impl.h"
#include "watch.h"

#define STEP_NS 1000000000ull
#define NCPU 4
#define NPROC 10
#define NB SEED_NB

static char root_dir[64], state_dir[128], state_file[160];
static struct smcp_host plug = { .name = "t", .state = PLUGIN_LOADED };
static uint64_t now_ns;
static struct seed_ids ids;

static void store_start(struct metrics_limits l, enum seed_variant v)
{
	now_ns = 1000 * STEP_NS;
	CHECK_INT((metrics_store_init(&l, now_ns) ?: watch_store_init(l.max_watches, l.breach_ring)), 0);
	seed_register(&plug, v, &ids);
}

static void tick(void)
{
	now_ns += STEP_NS;
	metrics_tick(now_ns);
}

/* Step k's values, with a few gaps. */
static void publish(uint64_t k)
{
	char cpu[8], pid[8];
	const char *lv[1];

	for (int c = 0; c < NCPU; c++) {
		uint64_t h[NB] = { 1 };

		if ((k + (uint64_t)c) % 7 == 3)
			continue;
		snprintf(cpu, sizeof(cpu), "%d", c);
		lv[0] = cpu;
		(void)metrics_publish_set(&plug, ids.gauge, lv, (double)k * 0.5 + c);
		(void)metrics_publish_add(&plug, ids.events, lv, c + 1);
		h[(k + (uint64_t)c) % NB] += k % 5 + 1;
		(void)metrics_publish_hist(&plug, ids.lat, lv, h, NB, (double)k, SMCP_HIST_DELTA);
	}
	(void)metrics_publish_set(&plug, ids.cum, NULL, 1000.0 + (double)k * 10);
	for (int p = 0; p < NPROC; p++) {
		uint64_t h[NB] = { 0 };

		snprintf(pid, sizeof(pid), "%d", 100 + p);
		lv[0] = pid;
		h[3] = (uint64_t)p + 1;
		(void)metrics_publish_hist(&plug, ids.proc, lv, h, NB, NAN, SMCP_HIST_DELTA);
	}
}

/* ------------------------------------------------------------ snapshots */

static uint64_t fnv(uint64_t x, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		x = (x ^ b[i]) * 1099511628211ull;
	return x;
}

/* Every slot of both tiers as a query reads it, and the accumulator. */
static uint64_t series_hash(const struct series *s)
{
	const struct history_geom *g = &metrics_view()->geom;
	const struct history *h = &s->h;
	uint64_t x = 1469598103934665603ull;

	x = fnv(x, &h->first, sizeof(h->first));
	x = fnv(x, &h->last, sizeof(h->last));
	x = fnv(x, &h->acc_idx, sizeof(h->acc_idx));
	for (int t = TIER_FINE; t <= TIER_COARSE; t++) {
		uint64_t hi = t == TIER_FINE ? h->last : h->acc_idx;

		for (uint64_t i = 0; i <= hi; i++) {
			struct coarse_cell c;
			uint64_t acc[NB] = { 0 }, n = 0;
			double sum = 0;
			bool ok;

			if (!h->nb) {
				ok = history_get_scalar(h, g, (enum history_tier)t, i, &c);
				x = fnv(x, &ok, 1);
				if (ok)
					x = fnv(x, &c, sizeof(c));
				continue;
			}
			ok = history_get_hist(h, g, (enum history_tier)t, i, acc, &sum, &n);
			x = fnv(x, &ok, 1);
			if (ok) {
				x = fnv(x, acc, sizeof(acc));
				x = fnv(x, &n, sizeof(n));
				x = fnv(x, &sum, sizeof(sum));
			}
		}
	}
	return x;
}

struct snap {
	char key[160];
	uint64_t hash;
};

static uint32_t snapshot(struct snap *out, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		for (uint32_t j = 0; j < m->n_series && n < max; j++) {
			const struct series *s = m->series[j];

			if (!s->h.any)
				continue;
			snprintf(out[n].key, sizeof(out[n].key), "%s{%s}", m->name,
				 m->n_labels ? series_label(s, 0) : "");
			out[n++].hash = series_hash(s);
		}
	}
	return n;
}

static const struct snap *snap_find(const struct snap *s, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(s[i].key, key) == 0)
			return &s[i];
	return NULL;
}

static struct series *series_of(const char *metric, const char *label)
{
	struct metric *m = metrics_find(metric);

	for (uint32_t i = 0; m && i < m->n_series; i++)
		if (!m->n_labels || strcmp(series_label(m->series[i], 0), label) == 0)
			return m->series[i];
	return NULL;
}

/* ---------------------------------------------------------------- files */

static void make_dirs(void)
{
	snprintf(root_dir, sizeof(root_dir), "/tmp/smcp-persist-XXXXXX");
	if (!mkdtemp(root_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(state_dir, sizeof(state_dir), "%s/state", root_dir);
	snprintf(state_file, sizeof(state_file), "%s/%s", state_dir, PERSIST_FILE);
}

static void remove_tree(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	(void)!system(cmd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Set-aside files in the state directory. */
static int count_aside(const char *kind)
{
	DIR *d = opendir(state_dir);
	struct dirent *de;
	char pat[64];
	int n = 0;

	snprintf(pat, sizeof(pat), "%s.%s-", PERSIST_FILE, kind);
	while (d && (de = readdir(d)))
		n += strncmp(de->d_name, pat, strlen(pat)) == 0;
	if (d)
		closedir(d);
	return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	*len = fread(b, 1, (size_t)n, f);
	fclose(f);
	return b;
}

static void spit(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		perror(path);
	if (fd >= 0)
		close(fd);
}

static void le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A state file around payload, with a header that checks out (version
 * and geometry as given). */
static void write_state(const uint8_t *payload, size_t n, uint32_t version,
			const struct history_geom *g)
{
	uLongf clen = compressBound((uLong)n);
	uint8_t *f = malloc(PERSIST_HDR_BYTES + clen);

	memset(f, 0, PERSIST_HDR_BYTES);
	CHECK_INT(compress(f + PERSIST_HDR_BYTES, &clen, payload, (uLong)n), Z_OK);
	memcpy(f, PERSIST_MAGIC, 8);
	le(f + 8, version, 4);
	le(f + 12, PERSIST_HDR_BYTES, 4);
	le(f + 16, g->step_ns, 8);
	le(f + 24, g->fine_slots, 4);
	le(f + 28, g->coarse_slots, 4);
	le(f + 32, g->factor, 4);
	le(f + 36, g->fine_hist_bytes, 4);
	le(f + 40, g->coarse_hist_bytes, 4);
	le(f + 48, n, 8);
	le(f + 56, clen, 8);
	le(f + 64, crc32(0, payload, (uInt)n), 4);
	le(f + 68, crc32(0, f, 68), 4);
	spit(state_file, f, PERSIST_HDR_BYTES + clen);
	free(f);
}

/* ------------------------------------------------------------- the cases */

static struct snap before[256];
static uint32_t n_before;
static int64_t saved_t0;
static uint64_t saved_last;
static const uint64_t GAP = 20;

/* The two watches of the round trip. */
static const struct watch_def wdefs[2] = {
	{ .name = "latency-high",
	  .metric = "t_lat_ns",
	  .labels = "cpu=1*,cpu!=2",
	  .condition = "p99 > 100",
	  .for_secs = 3,
	  .window_secs = 5,
	  .clear_secs = 2,
	  .hysteresis_pct = 10,
	  .min_samples = 4 },
	{ .metric = "t_gauge_pct",
	  .condition = "mean >= 50%",
	  .agg = "max",
	  .window_secs = 1,
	  .min_samples = 20 },
};

/* The store of the round trip: 235 steps (the coarse slot of the newest
 * is half full), two watches; saved. */
static void build_and_save(void)
{
	struct persist_stats st;
	char err[320];

	store_start(seed_limits(), SEED_SAME);
	for (uint64_t k = 0; k < 235; k++) {
		publish(k);
		tick();
	}
	for (uint32_t i = 0; i < 2; i++)
		CHECK_MSG(watch_add(&wdefs[i], err, sizeof(err)) > 0, "watch %u: %s", i, err);
	n_before = snapshot(before, 256);
	saved_t0 = metrics_view()->t0_unix_ms;
	saved_last = metrics_view()->last_step;
	CHECK_INT(persist_write_now(&st), 0);
	CHECK_INT(st.series_saved, n_before);
	CHECK_INT(st.watches_saved, 2);
	CHECK(st.file_bytes > PERSIST_HDR_BYTES && st.file_bytes < st.raw_bytes);
	CHECK(exists(state_file));
	watch_store_fini();
	metrics_store_fini();
}

/* What restore_at is given as "now": GAP steps after the saved newest. */
static int64_t unix_after(uint64_t steps)
{
	return saved_t0 + (int64_t)(saved_last + 1 + steps) * 1000 + 300;
}

static void test_open(void)
{
	char why[512];
	struct stat st;

	UNIT_CASE("open");
	make_dirs();
	CHECK_INT(persist_open("relative/dir", NULL, why, sizeof(why)), -EINVAL);
	CHECK_INT(persist_open(state_dir, NULL, why, sizeof(why)), 0);
	CHECK(persist_active());
	CHECK(stat(state_dir, &st) == 0 && (st.st_mode & 0777) == 0750 &&
	      st.st_uid == geteuid());
	CHECK(exists(state_dir) && stat(state_dir, &st) == 0 && S_ISDIR(st.st_mode));
}

static void test_round_trip(void)
{
	struct snap after[256];
	struct persist_stats st;
	struct watch_def d, want;
	struct coarse_cell c, acc_before;
	uint32_t n_after, same = 0;
	struct series *s;
	uint64_t cur;

	UNIT_CASE("round-trip");
	build_and_save();
	store_start(seed_limits(), SEED_SAME);
	/* a series the plugin created in init(), before the restore */
	(void)metrics_publish_set(&plug, ids.gauge, (const char *const[]){ "0" }, 42);
	CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
	CHECK_MSG(st.history_restored, "why: %s", st.why);
	CHECK_INT(st.series_restored, n_before);
	CHECK_INT(st.series_gone + st.series_limits, 0);
	CHECK_INT(st.watches_restored, 2);
	CHECK_INT(st.gap_steps, GAP);
	/* the timeline goes on */
	CHECK(metrics_view()->t0_unix_ms == saved_t0);
	CHECK_INT(metrics_view()->last_step, saved_last);
	cur = saved_last + 1 + GAP;
	CHECK_INT(metrics_view()->next_step, cur);
	/* every slot of every series reads as it did */
	n_after = snapshot(after, 256);
	CHECK_INT(n_after, n_before);
	for (uint32_t i = 0; i < n_before; i++) {
		const struct snap *a = snap_find(after, n_after, before[i].key);

		CHECK_MSG(a && a->hash == before[i].hash, "%s differs after the restore",
			  before[i].key);
		same += a && a->hash == before[i].hash;
	}
	CHECK_INT(same, n_before);
	/* the watches, as created */
	CHECK_INT(watch_count(), 2);
	for (uint32_t i = 0; i < watch_count() && i < 2; i++) {
		watch_get_def(i, &d);
		want = wdefs[i];
		CHECK_INT(d.id, i + 1);
		CHECK_STR(d.name, want.name);
		CHECK_STR(d.metric, want.metric);
		CHECK_STR(d.labels, want.labels);
		CHECK_STR(d.condition, want.condition);
		CHECK(d.for_secs == want.for_secs && d.window_secs == want.window_secs &&
		      d.clear_secs == want.clear_secs &&
		      d.hysteresis_pct == want.hysteresis_pct && d.min_samples == want.min_samples);
	}
	CHECK_STR((watch_get_def(1, &d), d.agg), "max");

	/* the next tick records step cur; the steps between are a gap, and
	 * the coarse slot that was filling is closed with what it had */
	s = series_of("t_gauge_pct", "1");
	CHECK(history_get_scalar(&s->h, &metrics_view()->geom, TIER_COARSE, saved_last / 10, &acc_before));
	now_ns = metrics_view()->t0_ns + (cur + 1) * STEP_NS;
	(void)metrics_publish_set(&plug, ids.gauge, (const char *const[]){ "1" }, 77);
	/* lower than before: the plugin restarted too */
	(void)metrics_publish_set(&plug, ids.cum, NULL, 5);
	metrics_tick(now_ns);
	CHECK_INT(metrics_view()->last_step, cur);
	CHECK(history_get_scalar(&s->h, &metrics_view()->geom, TIER_FINE, cur, &c) && c.mean == 77);
	for (uint64_t k = saved_last + 1; k < cur; k++)
		CHECK_MSG(!history_get_scalar(&s->h, &metrics_view()->geom, TIER_FINE, k, &c),
			  "step %llu of the gap has data", (unsigned long long)k);
	CHECK(history_get_scalar(&s->h, &metrics_view()->geom, TIER_COARSE, saved_last / 10, &c) &&
	      c.mean == acc_before.mean && c.min == acc_before.min && c.max == acc_before.max);
	for (uint64_t k = saved_last / 10 + 1; k < cur / 10; k++)
		CHECK(!history_get_scalar(&s->h, &metrics_view()->geom, TIER_COARSE, k, &c));
	/* a cumulative counter's first value after a restart is a baseline,
	 * not an increase from the value saved */
	s = series_of("t_cum_total", NULL);
	CHECK(!history_get_scalar(&s->h, &metrics_view()->geom, TIER_FINE, cur, &c));
	(void)metrics_publish_set(&plug, ids.cum, NULL, 15);
	now_ns += STEP_NS;
	metrics_tick(now_ns);
	CHECK(history_get_scalar(&s->h, &metrics_view()->geom, TIER_FINE, cur + 1, &c) && c.mean == 10);
	/* a restored gauge its plugin has not published since is no data,
	 * not the zero a new series starts from */
	s = series_of("t_gauge_pct", "3");
	CHECK(s && !history_get_scalar(&s->h, &metrics_view()->geom, TIER_FINE, cur, &c));
	watch_store_fini();
	metrics_store_fini();
}

/* History is not restored when the clock says the file is from the future
 * or older than the coarse tier; the watches are, and the file stays. */
static void test_clock(void)
{
	struct persist_stats st;
	int64_t saved_ms;

	UNIT_CASE("clock");
	build_and_save();
	store_start(seed_limits(), SEED_SAME);
	/* the file was written now (real clock): a minute earlier is behind it */
	saved_ms = metrics_now_unix_ms();
	CHECK_INT(persist_restore_at(now_ns, saved_ms - 60000, &st), 0);
	CHECK(!st.history_restored);
	CHECK_HAS(st.why, "behind");
	CHECK_INT(st.series_restored, 0);
	CHECK_INT(st.watches_restored, 2);
	CHECK(!metrics_view()->any_step);
	CHECK(exists(state_file));
	watch_store_fini();
	metrics_store_fini();

	store_start(seed_limits(), SEED_SAME);
	/* 50 coarse slots of 10 steps: the tier reaches 500 steps back */
	CHECK_INT(persist_restore_at(now_ns, unix_after(500), &st), 0);
	CHECK(!st.history_restored);
	CHECK_HAS(st.why, "longer ago than the coarse tier");
	CHECK_INT(st.watches_restored, 2);
	CHECK(exists(state_file));
	watch_store_fini();
	metrics_store_fini();

	/* just inside it: restored */
	store_start(seed_limits(), SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, unix_after(498), &st), 0);
	CHECK_MSG(st.history_restored, "%s", st.why);
	watch_store_fini();
	metrics_store_fini();
}

/* Metrics renamed, relabelled or with other buckets lose their series;
 * top-N and the budget hold. */
static void test_changed_and_limits(void)
{
	struct metrics_limits l = seed_limits();
	struct persist_stats st;
	struct metric *m;
	uint32_t low = 0;

	UNIT_CASE("changed");
	build_and_save();
	store_start(l, SEED_CHANGED);
	CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
	CHECK(st.history_restored);
	/* gauge renamed, events relabelled, t_lat_ns rebucketed: 4 cpus each */
	CHECK_INT(st.series_gone, 3 * NCPU);
	CHECK_INT(st.series_restored, 1 + 5); /* t_cum_total, 5 processes */
	/* the watch on the gauge is gone with it; the other one stays */
	CHECK_INT(st.watches_failed, 1);
	watch_store_fini();
	metrics_store_fini();

	UNIT_CASE("top-n");
	l.top_n = 3;
	store_start(l, SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
	m = metrics_find("t_proc_lat_ns");
	CHECK_INT(m->n_series, 3);
	for (uint32_t i = 0; i < m->n_series; i++)
		low += atoi(series_label(m->series[i], 0)) < 107;
	CHECK_MSG(low == 0, "the 3 busiest (107..109) come back");
	CHECK_INT(st.series_limits, 2);
	watch_store_fini();
	metrics_store_fini();

	UNIT_CASE("budget");
	l = seed_limits();
	l.max_bytes = 15000; /* about 8 series of this geometry */
	store_start(l, SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
	CHECK(st.series_limits > 0 && st.series_restored > 0);
	CHECK_INT(st.series_restored + st.series_limits, n_before);
	CHECK_MSG(metrics_view()->budget.used <= metrics_view()->budget.max, "%zu > %zu", metrics_view()->budget.used,
		  metrics_view()->budget.max);
	CHECK_INT(metrics_view()->refused_series, 0); /* not counted against the plugins */
	watch_store_fini();
	metrics_store_fini();
}

/* Put variant (n bytes) as the state file and restore: nothing comes back,
 * the file is set aside, the reason names what was wrong. */
static void expect_aside(const char *what, const char *why_has)
{
	struct persist_stats st;
	int asides = count_aside("corrupt");

	store_start(seed_limits(), SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
	CHECK_MSG(!st.history_restored && st.series_restored == 0, "%s: restored", what);
	CHECK_MSG(strstr(st.why, why_has), "%s: why = \"%s\", expected \"%s\"", what, st.why,
		  why_has);
	CHECK_MSG(!exists(state_file), "%s: not set aside", what);
	CHECK_MSG(count_aside("corrupt") == (asides < PERSIST_KEEP_ASIDE ? asides + 1 : asides),
		  "%s: set-aside files %d (before %d)", what, count_aside("corrupt"), asides);
	watch_store_fini();
	metrics_store_fini();
}

static void test_corrupt(void)
{
	struct history_geom g;
	uint8_t *good, *bad, junk[1000];
	uint64_t seed = 99;
	size_t n = 0;

	UNIT_CASE("corrupt");
	build_and_save();
	good = slurp(state_file, &n);
	CHECK(good && n > 200);
	bad = malloc(n);

	spit(state_file, good, n / 2);
	expect_aside("truncated", "truncated");
	spit(state_file, good, PERSIST_HDR_BYTES);
	expect_aside("header only", "truncated");
	spit(state_file, good, 0);
	expect_aside("empty", "truncated");
	for (size_t at = PERSIST_HDR_BYTES + 10; at < n; at += n / 5) {
		memcpy(bad, good, n);
		bad[at] ^= 0x10;
		spit(state_file, bad, n);
		expect_aside("bit flip in the payload", "damaged payload");
	}
	memcpy(bad, good, n);
	bad[20] ^= 1;
	spit(state_file, bad, n);
	expect_aside("bit flip in the header", "damaged header");
	memcpy(bad, good, n);
	le(bad + 8, 2, 4);
	le(bad + 68, crc32(0, bad, 68), 4);
	spit(state_file, bad, n);
	expect_aside("version 2", "format version 2");
	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 6364136223846793005ull + 1;
		junk[i] = (uint8_t)(seed >> 56);
	}
	spit(state_file, junk, sizeof(junk));
	expect_aside("junk", "not a schedmcp state file");
	/* checksums right, records wrong: an S with no M, a step past the
	 * timeline, a record after the end */
	{
		store_start(seed_limits(), SEED_SAME);
		g = metrics_view()->geom;
		watch_store_fini();
		metrics_store_fini();
		uint8_t p[64] = { 'T' }, *q = p + 1;

		le(q, (uint64_t)saved_t0, 8);
		le(q + 8, saved_last + 1, 8);
		le(q + 16, saved_last, 8);
		q[24] = 1;
		le(q + 25, (uint64_t)saved_t0 + 1000, 8);
		q += 33;
		*q++ = 'S';
		write_state(p, (size_t)(q - p), PERSIST_VERSION, &g);
		expect_aside("an S before any M", "malformed");
		q[-1] = 'E';
		memset(q, 0, 8);
		q[8] = 'E';
		write_state(p, (size_t)(q - p) + 9, PERSIST_VERSION, &g);
		expect_aside("data after the end", "malformed");
		write_state(p, (size_t)(q - p) + 8, PERSIST_VERSION, &g);
		{
			struct persist_stats st;

			/* the same, well formed: an empty store's file is fine */
			store_start(seed_limits(), SEED_SAME);
			CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
			CHECK_MSG(st.history_restored && exists(state_file), "%s", st.why);
			watch_store_fini();
			metrics_store_fini();
		}
	}
	/* too large for state_max_mb */
	spit(state_file, good, n);
	persist_set_limits(60, n - 1);
	expect_aside("larger than the cap", "larger");
	persist_set_limits(60, 64 << 20);
	/* not a file: a FIFO must not hang the start, a symlink is not followed */
	CHECK_INT(mkfifo(state_file, 0600), 0);
	expect_aside("a FIFO", "not a regular file");
	CHECK_INT(symlink("/etc/passwd", state_file), 0);
	expect_aside("a symlink", "symlink");
	CHECK(exists("/etc/passwd"));
	CHECK_INT(count_aside("corrupt"), PERSIST_KEEP_ASIDE);
	free(bad);
	free(good);
}

static void test_geometry(void)
{
	struct metrics_limits l = seed_limits();
	struct persist_stats st;

	UNIT_CASE("geometry");
	build_and_save();
	l.fine_slots = 61;
	store_start(l, SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, unix_after(GAP), &st), 0);
	CHECK(!st.history_restored && st.series_restored == 0);
	CHECK_HAS(st.why, "another history geometry");
	CHECK_INT(st.watches_restored, 2);
	CHECK(!exists(state_file));
	CHECK_INT(count_aside("geometry"), 1);
	watch_store_fini();
	metrics_store_fini();
}

/* Past state_max_mb the fine tiers go first, then whole series; what is
 * saved comes back. */
static void test_cap(void)
{
	struct metrics_limits l = seed_limits();
	struct persist_stats st, rs;
	uint64_t seed = 5;
	char name[16];
	const char *lv[1] = { name };
	uint32_t with_fine = 0, with_coarse = 0;
	struct metric *m;

	UNIT_CASE("cap");
	store_start(l, SEED_SAME);
	for (uint64_t k = 0; k < 520; k++) {
		for (int i = 0; i < 1000; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			snprintf(name, sizeof(name), "%d", i);
			(void)metrics_publish_set(&plug, ids.gauge, lv, (double)(seed >> 11));
		}
		tick();
	}
	saved_t0 = metrics_view()->t0_unix_ms;
	CHECK_INT(persist_write_now(&st), 0);
	printf("cap: uncapped %llu bytes\n", (unsigned long long)st.file_bytes);
	persist_set_limits(60, 900000);
	CHECK_INT(persist_write_now(&st), 0);
	CHECK_MSG(st.file_bytes <= 900000, "%llu bytes", (unsigned long long)st.file_bytes);
	CHECK(st.fine_cut > 0);
	CHECK_INT(st.series_saved + st.series_cut, 1000);
	/* whole series go only once no fine tier is left */
	CHECK(!st.series_cut || st.fine_cut == st.series_saved);
	printf("cap: 1000 series in 900 kB: %u saved, %u without their fine tier, %u left out, "
	       "%llu bytes\n",
	       st.series_saved, st.fine_cut, st.series_cut, (unsigned long long)st.file_bytes);
	watch_store_fini();
	metrics_store_fini();
	store_start(l, SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, saved_t0 + 600 * 1000, &rs), 0);
	CHECK_INT(rs.series_restored, st.series_saved);
	m = metrics_find("t_gauge_pct");
	for (uint32_t i = 0; i < m->n_series; i++) {
		struct coarse_cell c;
		const struct series *s = m->series[i];

		with_fine += history_get_scalar(&s->h, &metrics_view()->geom, TIER_FINE, s->h.last, &c);
		with_coarse += history_get_scalar(&s->h, &metrics_view()->geom, TIER_COARSE, 30, &c);
	}
	CHECK_INT(with_coarse, st.series_saved);
	CHECK_INT(with_fine, st.series_saved - st.fine_cut);
	watch_store_fini();
	metrics_store_fini();
	persist_set_limits(60, 64 << 20);
}

static void test_lock_and_dir(void)
{
	char why[512], other[200], parent[200];
	struct passwd *pw = getpwnam("schedmcp");
	struct stat st;
	pid_t pid;
	int status;

	UNIT_CASE("lock");
	pid = fork();
	if (pid == 0) {
		int err = persist_open(state_dir, NULL, why, sizeof(why));
		char want[64];

		snprintf(want, sizeof(want), "in use by pid %d", (int)getppid());
		_exit(err == -EBUSY && strstr(why, want) ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	persist_close();
	CHECK(!persist_active());
	/* released: a second process gets it now */
	pid = fork();
	if (pid == 0)
		_exit(persist_open(state_dir, NULL, why, sizeof(why)) == 0 ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	UNIT_CASE("dir");
	snprintf(other, sizeof(other), "%s/other", root_dir);
	CHECK_INT(mkdir(other, 0770), 0);
	CHECK_INT(chmod(other, 0770), 0);
	CHECK_INT(persist_open(other, NULL, why, sizeof(why)), -EPERM);
	CHECK_HAS(why, "writable by its group");
	CHECK_INT(chmod(other, 0750), 0);
	CHECK_INT(persist_open(other, NULL, why, sizeof(why)), 0);
	persist_close();
	snprintf(parent, sizeof(parent), "%s/link", root_dir);
	CHECK_INT(symlink(other, parent), 0);
	CHECK(persist_open(parent, NULL, why, sizeof(why)) < 0);
	CHECK_HAS(why, "symlink");
	/* a parent others can write: someone could swap the directory */
	snprintf(parent, sizeof(parent), "%s/open", root_dir);
	CHECK_INT(mkdir(parent, 0777), 0);
	CHECK_INT(chmod(parent, 0777), 0);
	snprintf(other, sizeof(other), "%s/open/state", root_dir);
	CHECK_INT(persist_open(other, NULL, why, sizeof(why)), -EPERM);
	CHECK_HAS(why, "writable by others");
	CHECK(!exists(other));
	if (geteuid() != 0 || !pw || !pw->pw_uid) {
		printf("dir: ownership cases skipped (need root and a schedmcp account)\n");
		return;
	}
	/* as root for the schedmcp account: created for it, and a root-owned
	 * one it could not write is refused */
	snprintf(other, sizeof(other), "%s/for-account", root_dir);
	CHECK_INT(persist_open(other, "schedmcp", why, sizeof(why)), 0);
	CHECK(stat(other, &st) == 0 && st.st_uid == pw->pw_uid && (st.st_mode & 0777) == 0750);
	persist_close();
	CHECK_INT(chown(other, 0, 0), 0);
	CHECK_INT(persist_open(other, "schedmcp", why, sizeof(why)), -EPERM);
	CHECK_HAS(why, "owned by root");
	CHECK_INT(chown(other, 12345, 12345), 0);
	CHECK_INT(persist_open(other, "schedmcp", why, sizeof(why)), -EPERM);
	CHECK_HAS(why, "owned by uid 12345");
}

/* The background writer: fork, write, reap; and the final save. */
static void test_background(void)
{
	struct persist_stats st;
	char why[512];

	UNIT_CASE("background");
	CHECK_INT(persist_open(state_dir, NULL, why, sizeof(why)), 0);
	store_start(seed_limits(), SEED_SAME);
	for (uint64_t k = 0; k < 100; k++) {
		publish(k);
		tick();
	}
	(void)unlink(state_file);
	CHECK_INT(persist_save(), 0);
	CHECK_INT(persist_wait(10000), 0);
	CHECK(exists(state_file));
	CHECK_INT(persist_bg_stats()->saves, 1);
	CHECK_INT(persist_bg_stats()->last.series_saved, 2 * NCPU + NCPU + 1 + 5);
	(void)unlink(state_file);
	CHECK_INT(persist_save_final(), 0);
	CHECK(exists(state_file));
	watch_store_fini();
	metrics_store_fini();
	saved_t0 = 0;
	store_start(seed_limits(), SEED_SAME);
	CHECK_INT(persist_restore_at(now_ns, metrics_now_unix_ms() + 200 * 1000, &st), 0);
	CHECK_MSG(st.history_restored && st.series_restored == 2 * NCPU + NCPU + 1 + 5, "%s",
		  st.why);
	watch_store_fini();
	metrics_store_fini();
	/* no temporary file is left behind */
	{
		DIR *d = opendir(state_dir);
		struct dirent *de;
		int tmp = 0;

		while (d && (de = readdir(d)))
			tmp += strstr(de->d_name, ".tmp-") != NULL;
		closedir(d);
		CHECK_INT(tmp, 0);
	}
}

/* ---------------------------------------------------------------- scale */

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool timed(void)
{
	const char *s = getenv("SMCP_SANITIZED");

	return !(s && strcmp(s, "1") == 0);
}

/*
 * A day of history, filled straight into each series' history (the store's
 * tick would take 86400 steps): one step per coarse slot before the last
 * 15 minutes (with a minute's worth of counts), then every step. n_scalar
 * gauges, n_hist 104-bucket latency histograms.
 */
static void fill_day(uint32_t n_scalar, uint32_t n_hist)
{
	static double hb[104];
	const struct history_geom *g;
	struct metrics_limits l = { .step_ms = 1000,
				    .fine_slots = 900,
				    .coarse_slots = 1440,
				    .coarse_factor = 60,
				    .max_bytes = 512ull << 20,
				    .max_series = 8192,
				    .top_n = 20,
				    .max_watches = 8,
				    .breach_ring = 16 };
	static const char *const cpu[] = { "cpu" };
	struct smcp_metric_desc d = { .sz = sizeof(d), .labels = cpu, .n_labels = 1 };
	uint64_t seed = 1, last = 1440ull * 60 - 1, first_fine = last + 1 - 900;
	char name[16];
	const char *lv[1] = { name };
	int mg, mh;

	for (int b = 0; b < 104; b++)
		hb[b] = b == 103 ? INFINITY : 250.0 * pow(1.15, b);
	now_ns = 1000 * STEP_NS;
	CHECK_INT((metrics_store_init(&l, now_ns) ?: watch_store_init(l.max_watches, l.breach_ring)), 0);
	plug.in_init = true;
	d.name = "s_gauge_pct";
	d.type = SMCP_METRIC_GAUGE;
	mg = metrics_api_register(&plug, &d);
	d.name = "s_lat_ns";
	d.type = SMCP_METRIC_HISTOGRAM;
	d.bucket_bounds = hb;
	d.n_buckets = 104;
	mh = metrics_api_register(&plug, &d);
	plug.in_init = false;
	g = &metrics_view()->geom;
	for (uint32_t i = 0; i < n_scalar; i++) {
		snprintf(name, sizeof(name), "%u", i);
		(void)metrics_publish_set(&plug, mg, lv, 1);
	}
	for (uint32_t i = 0; i < n_hist; i++) {
		uint64_t c[104] = { 0 };

		snprintf(name, sizeof(name), "%u", i);
		(void)metrics_publish_hist(&plug, mh, lv, c, 104, 0, SMCP_HIST_DELTA);
	}
	for (uint64_t step = 0; step <= last; step += step < first_fine ? 60 : 1) {
		double scale = step < first_fine ? 60 : 1;

		for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
			struct metric *m = metrics_view()->m[i];

			for (uint32_t j = 0; j < m->n_series; j++) {
				struct series *s = m->series[j];
				uint64_t c[104] = { 0 };

				seed ^= seed << 13;
				seed ^= seed >> 7;
				seed ^= seed << 17;
				if (!m->nb) {
					/* a load percentage with noise */
					history_put_scalar(&s->h, g, step,
							   30 + (double)(seed % 4000) / 100);
					continue;
				}
				/* a latency spread over ~30 buckets */
				for (int k = 0; k < 30; k++)
					c[20 + (seed >> (k * 2)) % 40] +=
						(uint64_t)(scale * (double)(1 + (seed >> k) % 50));
				history_put_hist(&s->h, g, step, c, 2e4 * scale * 300,
						 metrics_budget());
				s->pub_step = step;
			}
		}
	}
	metrics_store_for_tests()->last_step = last;
	metrics_store_for_tests()->next_step = last + 1;
	metrics_store_for_tests()->any_step = true;
}

static void test_day(void)
{
	struct persist_stats st, rs;
	double c0, restore_cpu;
	int64_t t0_unix;
	uint64_t last;

	UNIT_CASE("restore-24h");
	fill_day(500, 50);
	t0_unix = metrics_view()->t0_unix_ms;
	last = metrics_view()->last_step;
	CHECK_INT(persist_write_now(&st), 0);
	CHECK_INT(st.series_saved, 550);
	watch_store_fini();
	metrics_store_fini();
	fill_day(0, 0); /* the same metrics registered, no series */
	metrics_store_for_tests()->any_step = false;
	metrics_store_for_tests()->last_step = metrics_store_for_tests()->next_step = 0;
	c0 = cpu_ms();
	CHECK_INT(persist_restore_at(now_ns, t0_unix + (int64_t)(last + 30) * 1000, &rs), 0);
	restore_cpu = cpu_ms() - c0;
	CHECK_MSG(rs.history_restored && rs.series_restored == 550, "%s", rs.why);
	printf("24 h, 500 scalar + 50 histogram series: %.1f MiB of history, file %.2f MiB "
	       "(%.2f MiB raw), written in %.0f ms; restored in %.0f ms (%.0f ms CPU; %.0f ms "
	       "of it reading and checking)\n",
	       (double)metrics_view()->budget.used / 1048576, (double)st.file_bytes / 1048576,
	       (double)st.raw_bytes / 1048576, (double)st.write_ns / 1e6,
	       (double)rs.restore_ns / 1e6, restore_cpu, (double)rs.read_ns / 1e6);
	if (timed())
		CHECK_MSG(restore_cpu < 200, "restore took %.0f ms of CPU", restore_cpu);
	watch_store_fini();
	metrics_store_fini();
}

static double thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Minor faults of this process so far (getrusage): after fork(), each page
 * the parent writes first is a copy-on-write fault. */
static long minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

/* The peer: what one copy-on-write fault costs on this machine, in ms of
 * CPU (a child holds a copy of 64 MiB while this process writes a byte in
 * each of 2048 of its pages). Measured here because it varies tenfold
 * between machines (1.5 us on most, 15 us seen on one VM). */
static double cow_fault_ms(void)
{
	size_t sz = 64ul << 20, pages = 2048;
	char *mem = malloc(sz);
	double c;
	pid_t pid;
	int status;

	if (!mem)
		return 0;
	memset(mem, 1, sz);
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	c = thread_cpu_ms();
	for (size_t i = 0; i < pages; i++)
		mem[i * (sz / pages)]++;
	c = thread_cpu_ms() - c;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	free(mem);
	return pid > 0 ? c / (double)pages : 0;
}

/* The loop's pause when a save starts, with 4096 series of a full day:
 * fork() itself, then the next tick, which pays for copying the pages it
 * writes while the writer still shares them. CPU time of this thread
 * (system time included: the page copies are the kernel's), which is
 * what the loop spends on an idle machine; the shared test machine's
 * wall clock says more about its other tenants. */
static void test_stall(void)
{
	const struct persist_bg_stats *bg = persist_bg_stats();
	double fork_ms = 0, tick_ms = 0, plain_ms = 0, fork_wall = 0, fault_ms, c;
	long f, tick_faults = 0;
	char why[512];

	UNIT_CASE("save-stall");
	CHECK_INT(persist_open(state_dir, NULL, why, sizeof(why)), 0);
	fill_day(3840, 256);
	metrics_store_for_tests()->t0_ns = 0;
	now_ns = (metrics_view()->last_step + 1) * STEP_NS;
	for (int i = 0; i < 3; i++) {
		now_ns += STEP_NS;
		c = thread_cpu_ms();
		metrics_tick(now_ns);
		c = thread_cpu_ms() - c;
		plain_ms = c > plain_ms ? c : plain_ms;
	}
	for (int i = 0; i < 3; i++) {
		c = thread_cpu_ms();
		CHECK_INT(persist_save(), 0);
		c = thread_cpu_ms() - c;
		fork_ms = c > fork_ms ? c : fork_ms;
		if ((double)bg->fork_ns_last / 1e6 > fork_wall)
			fork_wall = (double)bg->fork_ns_last / 1e6;
		now_ns += STEP_NS;
		f = minor_faults();
		c = thread_cpu_ms();
		metrics_tick(now_ns);
		c = thread_cpu_ms() - c;
		f = minor_faults() - f;
		if (c > tick_ms) {
			tick_ms = c;
			tick_faults = f;
		}
		CHECK_INT(persist_wait(300000), 0);
	}
	printf("4096 series (%.0f MiB of history), worst of 3 saves: fork() %.2f ms CPU (%.2f ms "
	       "wall), the tick right after %.2f ms CPU (%.2f ms without a writer); the file is "
	       "%.1f MiB (%.0f MiB raw), written by the child in %.0f ms\n",
	       (double)metrics_view()->budget.used / 1048576, fork_ms, fork_wall, tick_ms, plain_ms,
	       (double)bg->last.file_bytes / 1048576, (double)bg->last.raw_bytes / 1048576,
	       (double)bg->last.write_ns / 1e6);
	fault_ms = cow_fault_ms();
	printf("that tick copied %ld pages (copy-on-write faults); one costs %.1f us here\n",
	       tick_faults, fault_ms * 1e3);
	/* what the save costs the loop is the pages the first tick copies:
	 * about one per series it writes (4096 here), not the history's 33k;
	 * in time, 50 ms beyond those copies at this machine's price (scattered
	 * over the history they cost up to twice the peer's sequential ones) */
	CHECK_MSG(tick_faults < 2 * 4096, "the tick after fork copied %ld pages", tick_faults);
	if (timed()) {
		CHECK_MSG(fork_ms < 50, "fork held the loop %.1f ms", fork_ms);
		CHECK_MSG(tick_ms < 50 + 2.5 * (double)tick_faults * fault_ms,
			  "the tick after fork took %.1f ms, %ld faults at %.1f us each",
			  tick_ms, tick_faults, fault_ms * 1e3);
	}
	watch_store_fini();
	metrics_store_fini();
	persist_close();
}

/* --seed DIR: payloads for the fuzzer's corpus (tests/fuzz/fuzz_persist.c)
 * from the stores above. */
struct memsink {
	uint8_t *p;
	size_t n, cap;
};

static int mem_emit(void *ctx, const uint8_t *p, size_t n)
{
	struct memsink *m = ctx;

	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->n, p, n);
	m->n += n;
	return 0;
}

static uint64_t mem_bound(void *ctx)
{
	return ((struct memsink *)ctx)->n;
}

static void write_seed(const char *dir, const char *name)
{
	struct memsink m = { 0 };
	struct persist_sink sink = { mem_emit, mem_bound, &m, 0 };
	struct persist_stats st = { 0 };
	char path[512];
	uint32_t flags;

	CHECK_INT(persist_encode(&sink, metrics_now_unix_ms(), &flags, &st), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	spit(path, m.p, m.n);
	printf("%s: %zu bytes\n", path, m.n);
	free(m.p);
}

static void make_seeds(const char *dir)
{
	char err[320];

	store_start(seed_limits(), SEED_SAME);
	CHECK(watch_add(&wdefs[0], err, sizeof(err)) > 0);
	write_seed(dir, "empty");
	for (uint64_t k = 0; k < 12; k++) {
		publish(k);
		tick();
	}
	write_seed(dir, "short");
	for (uint64_t k = 12; k < 235; k++) {
		publish(k);
		tick();
	}
	CHECK(watch_add(&wdefs[1], err, sizeof(err)) > 0);
	write_seed(dir, "store");
	watch_store_fini();
	metrics_store_fini();
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--seed") == 0) {
		make_seeds(argv[2]);
		return unit_done("metrics/persist-seed");
	}
	bool scale = argc > 1 && strcmp(argv[1], "--scale") == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (scale) {
		/* --scale [day|stall]: one of the two */
		const char *only = argc > 2 ? argv[2] : "";
		char why[512];

		make_dirs();
		CHECK_INT(persist_open(state_dir, NULL, why, sizeof(why)), 0);
		if (strcmp(only, "stall") != 0)
			test_day();
		persist_close();
		if (strcmp(only, "day") != 0)
			test_stall();
	} else {
		test_open();
		test_round_trip();
		test_clock();
		test_changed_and_limits();
		test_corrupt();
		test_geometry();
		test_cap();
		test_background();
		test_lock_and_dir();
	}
	persist_close();
	remove_tree(root_dir);
	return unit_done(scale ? "metrics/persist-scale" : "metrics/persist");
}
