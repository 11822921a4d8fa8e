/* SPDX-License-Identifier: MIT */
/*
 * perf_stat's arithmetic on synthetic counts: multiplexing scaling, IPC
 * and miss rates, folding per LLC and node over a fixture sysfs (2 nodes,
 * 2 LLCs, one of them without cache ids), and 4-digit rounding. No PMU
 * needed: this is where the hardware path is checked on a machine without
 * one.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pstat.h"

static int failures;

#define CHECK(cond, ...)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			failures++;                                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                      \
			fprintf(stderr, __VA_ARGS__);                                             \
			fputc('\n', stderr);                                                      \
		}                                                                                 \
	} while (0)

static int near(double a, double b)
{
	return fabs(a - b) < 1e-9 * (fabs(b) + 1);
}

#define NEAR(a, b) near((a), (b))

static void put(const char *root, const char *rel, const char *text)
{
	char path[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "%s\n", text);
	fclose(f);
}

/* 4 CPUs: node0 = 0-1 with L3 id 7, node1 = 2-3 with an L3 that has no id
 * file (older kernels): its first CPU (2) names it. */
static void make_fixture(const char *root)
{
	char rel[128];

	put(root, "/sys/devices/system/cpu/online", "0-3");
	put(root, "/sys/devices/system/node/node0/cpulist", "0-1");
	put(root, "/sys/devices/system/node/node1/cpulist", "2-3");
	for (int c = 0; c < 4; c++) {
		static const char *const type[] = { "Data", "Instruction", "Unified", "Unified" };
		static const char *const level[] = { "1", "1", "2", "3" };

		for (int k = 0; k < 4; k++) {
			snprintf(rel, sizeof(rel),
				 "/sys/devices/system/cpu/cpu%d/cache/index%d/type", c, k);
			put(root, rel, type[k]);
			snprintf(rel, sizeof(rel),
				 "/sys/devices/system/cpu/cpu%d/cache/index%d/level", c, k);
			put(root, rel, level[k]);
			snprintf(rel, sizeof(rel),
				 "/sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", c,
				 k);
			put(root, rel, k < 3 ? (c == 0 ? "0" : c == 1 ? "1" : c == 2 ? "2" : "3") :
					       c < 2 ? "0-1" : "2-3");
			if (k == 3 && c < 2) {
				snprintf(rel, sizeof(rel),
					 "/sys/devices/system/cpu/cpu%d/cache/index%d/id", c, k);
				put(root, rel, "7");
			}
		}
	}
}

static struct pstat_count cnt(uint64_t v, uint64_t enabled, uint64_t running)
{
	return (struct pstat_count){ v, enabled, running, true };
}

static void test_scale(void)
{
	struct pstat_count c = cnt(300, 300, 100), none = cnt(5, 100, 0), bad = { 0 };
	double v = -1;

	CHECK(pstat_scale(&c, &v) == 0 && NEAR(v, 900), "300 counted 1/3 of the time -> 900: %g",
	      v);
	c = cnt(300, 100, 100);
	CHECK(pstat_scale(&c, &v) == 0 && NEAR(v, 300), "never multiplexed: as read: %g", v);
	v = -1;
	CHECK(pstat_scale(&none, &v) == -ENODATA && v == -1, "never scheduled: no count");
	CHECK(pstat_scale(&bad, &v) == -ENODATA, "not opened: no count");
}

static void test_derive(void)
{
	struct pstat_count c[PS__N] = { 0 };
	struct pstat_agg a;
	struct pstat_derived d;

	c[PS_CYCLES] = cnt(1000, 100, 50); /* scaled 2000 */
	c[PS_INSTRUCTIONS] = cnt(1500, 100, 50); /* scaled 3000 */
	c[PS_BRANCHES] = cnt(400, 100, 50);
	c[PS_BRANCH_MISSES] = cnt(4, 100, 50);
	c[PS_CACHE_REFS] = cnt(200, 100, 100);
	c[PS_CACHE_MISSES] = cnt(50, 100, 100);
	c[PS_LLC_LOADS] = cnt(80, 100, 25);
	c[PS_LLC_LOAD_MISSES] = cnt(20, 100, 25);
	c[PS_TASK_CLOCK] = cnt(3000000000ull, 1, 1);
	c[PS_CONTEXT_SWITCHES] = cnt(500, 1, 1);
	pstat_agg_init(&a);
	pstat_agg_add(&a, c);
	pstat_derive(&a, 2.0, &d);
	CHECK(NEAR(a.v[PS_CYCLES], 2000), "cycles scaled: %g", a.v[PS_CYCLES]);
	CHECK(NEAR(d.ipc, 1.5), "ipc 3000/2000: %g", d.ipc);
	CHECK(NEAR(d.branch_miss_pct, 1.0), "branch misses 4/400: %g", d.branch_miss_pct);
	CHECK(NEAR(d.cache_miss_pct, 25.0), "cache misses 50/200: %g", d.cache_miss_pct);
	CHECK(NEAR(d.llc_miss_pct, 25.0) && NEAR(d.llc_hit_pct, 75.0), "llc 20/80: %g %g",
	      d.llc_miss_pct, d.llc_hit_pct);
	CHECK(NEAR(a.running_frac[PS_LLC_LOADS], 0.25), "lowest share counted: %g",
	      a.running_frac[PS_LLC_LOADS]);
	CHECK(NEAR(a.running_frac[PS_CACHE_REFS], 1.0), "not multiplexed: 1");
	CHECK(NEAR(d.cpus_utilized, 1.5), "3 s of task-clock in 2 s: %g", d.cpus_utilized);
	CHECK(NEAR(d.ctx_switches_per_s, 250), "500 switches in 2 s: %g", d.ctx_switches_per_s);
	CHECK(isnan(d.migrations_per_s) && isnan(d.page_faults_per_s), "not counted: NaN");

	/* software only (no PMU): no ratio pretends to exist */
	memset(c, 0, sizeof(c));
	c[PS_TASK_CLOCK] = cnt(1000000000ull, 1, 1);
	pstat_agg_init(&a);
	pstat_agg_add(&a, c);
	pstat_derive(&a, 1.0, &d);
	CHECK(isnan(d.ipc) && isnan(d.cache_miss_pct) && isnan(d.llc_miss_pct) &&
		      isnan(d.llc_hit_pct) && isnan(d.branch_miss_pct),
	      "no hardware counts: no IPC or miss rates");
	CHECK(NEAR(d.cpus_utilized, 1.0), "one CPU busy: %g", d.cpus_utilized);

	/* zero cycles: no division by zero */
	c[PS_CYCLES] = cnt(0, 1, 1);
	c[PS_INSTRUCTIONS] = cnt(10, 1, 1);
	pstat_agg_init(&a);
	pstat_agg_add(&a, c);
	pstat_derive(&a, 1.0, &d);
	CHECK(isnan(d.ipc), "0 cycles: no IPC: %g", d.ipc);
}

static void test_fold(const char *root)
{
	struct pstat_topo t;
	struct pstat_count c[4 * PS__N] = { 0 };
	struct pstat_domain d[4];
	struct pstat_derived der;
	int cpus[4] = { 0, 1, 2, 3 }, n, err;

	err = pstat_topo_read(root, 64, &t);
	CHECK(err == 0, "topology read: %d", err);
	if (err)
		return;
	CHECK(t.online[0] && t.online[3] && !t.online[4], "online 0-3");
	CHECK(t.llc[0] == 7 && t.llc[1] == 7, "L3 id 7: %d %d", t.llc[0], t.llc[1]);
	CHECK(t.llc[2] == 2 && t.llc[3] == 2, "no id: first CPU: %d %d", t.llc[2], t.llc[3]);
	CHECK(t.node[0] == 0 && t.node[1] == 0 && t.node[2] == 1 && t.node[3] == 1, "nodes");
	CHECK(t.llc[4] == -1 && t.node[4] == -1, "offline: unknown");

	/* cpu0: IPC 2; cpu1: IPC 1, multiplexed half the time; cpu2: its
	 * cycles never scheduled; cpu3: IPC 0.5 */
	c[0 * PS__N + PS_CYCLES] = cnt(1000, 100, 100);
	c[0 * PS__N + PS_INSTRUCTIONS] = cnt(2000, 100, 100);
	c[0 * PS__N + PS_LLC_LOADS] = cnt(100, 100, 100);
	c[0 * PS__N + PS_LLC_LOAD_MISSES] = cnt(10, 100, 100);
	c[1 * PS__N + PS_CYCLES] = cnt(500, 100, 50);
	c[1 * PS__N + PS_INSTRUCTIONS] = cnt(500, 100, 50);
	c[1 * PS__N + PS_LLC_LOADS] = cnt(50, 100, 50);
	c[1 * PS__N + PS_LLC_LOAD_MISSES] = cnt(20, 100, 50);
	c[2 * PS__N + PS_CYCLES] = cnt(0, 100, 0);
	c[2 * PS__N + PS_INSTRUCTIONS] = cnt(0, 100, 0);
	c[3 * PS__N + PS_CYCLES] = cnt(4000, 100, 100);
	c[3 * PS__N + PS_INSTRUCTIONS] = cnt(2000, 100, 100);

	n = pstat_fold(c, cpus, 4, t.llc, d);
	CHECK(n == 2, "two LLCs: %d", n);
	if (n == 2) {
		CHECK(d[0].id == 2 && d[1].id == 7, "sorted by id: %d %d", d[0].id, d[1].id);
		CHECK(d[1].cpu_mask[0] == 0x3 && d[0].cpu_mask[0] == 0xc, "cpus of each LLC");
		pstat_derive(&d[1].agg, 1, &der);
		/* (2000 + 1000) / (1000 + 1000): ratio of sums, not mean of ratios */
		CHECK(NEAR(der.ipc, 1.5), "llc 7 IPC: %g", der.ipc);
		/* (10 + 40) / (100 + 100) */
		CHECK(NEAR(der.llc_miss_pct, 25.0), "llc 7 LLC misses: %g", der.llc_miss_pct);
		CHECK(NEAR(d[1].agg.running_frac[PS_CYCLES], 0.5), "llc 7 multiplexed: %g",
		      d[1].agg.running_frac[PS_CYCLES]);
		pstat_derive(&d[0].agg, 1, &der);
		CHECK(NEAR(der.ipc, 0.5), "llc 2 IPC from cpu3 only: %g", der.ipc);
		CHECK(d[0].agg.units == 2, "both CPUs folded: %u", d[0].agg.units);
	}
	n = pstat_fold(c, cpus, 4, t.node, d);
	CHECK(n == 2 && d[0].id == 0 && d[1].id == 1, "two nodes: %d", n);
	pstat_topo_free(&t);
	pstat_topo_free(&t); /* twice: NULL-safe */

	/* only the possible node ids are looked at */
	put(root, "/sys/devices/system/node/possible", "1");
	err = pstat_topo_read(root, 64, &t);
	CHECK(err == 0 && t.node[0] == -1 && t.node[2] == 1, "node/possible honoured: %d %d",
	      err ? -9 : t.node[0], err ? -9 : t.node[2]);
	pstat_topo_free(&t);
}

static void test_round(void)
{
	CHECK(pstat_round4(1740.6666666666667) == 1741, "%.17g", pstat_round4(1740.6666666666667));
	CHECK(NEAR(pstat_round4(0.000123456), 0.0001235), "%.17g", pstat_round4(0.000123456));
	CHECK(pstat_round4(-2.71828) == -2.718, "%.17g", pstat_round4(-2.71828));
	CHECK(pstat_round4(0) == 0 && isnan(pstat_round4(NAN)), "0 and NaN unchanged");
}

int main(void)
{
	char root[] = "/tmp/pstat-fixture-XXXXXX";
	char cmd[64];

	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	make_fixture(root);
	test_scale();
	test_derive();
	test_fold(root);
	test_round();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	if (failures)
		fprintf(stderr, "%d failures\n", failures);
	else
		printf("pstat: all checks passed\n");
	return failures ? 1 : 0;
}
