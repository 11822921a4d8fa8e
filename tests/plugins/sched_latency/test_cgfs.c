/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the sched_latency plugin's cgroup parts on fixture trees:
 * the layout found from the mount table (v2, hybrid, none), a cgroup's CPU
 * files in both layouts, hostile files (a symlink, a directory, paths with
 * ".."), two samples made into rates, the judgement of the three causes,
 * and the names people use for cgroups (systemd units, containers, pods).
 *
 *   test-sched-latency-cgfs FIXTURES_DIR
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_cgfs.h"
#include "unit.h"
#include "sl_cgnames.h"
#include "sl_cgstate.h"

static void root_of(char *buf, size_t len, const char *fixtures, const char *name)
{
	snprintf(buf, len, "%s/%s", fixtures, name);
}

static void test_detect(const char *fixtures)
{
	char root[1024];
	struct sl_cgfs fs;

	root_of(root, sizeof(root), fixtures, "cg-hybrid");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "hybrid detect");
	CHECK_MSG(fs.layout == SL_CGL_HYBRID, "layout %s", sl_cgfs_layout_name(fs.layout));
	CHECK_MSG(strcmp(fs.cpu_root, "/sys/fs/cgroup/cpu") == 0, "cpu root %s", fs.cpu_root);
	CHECK_MSG(strcmp(fs.acct_root, "/sys/fs/cgroup/cpuacct") == 0, "acct %s", fs.acct_root);
	CHECK_MSG(strcmp(fs.v2_root, "/sys/fs/cgroup/unified") == 0, "v2 %s", fs.v2_root);

	root_of(root, sizeof(root), fixtures, "cg-v2");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "v2 detect");
	CHECK_MSG(fs.layout == SL_CGL_V2, "layout %s", sl_cgfs_layout_name(fs.layout));
	CHECK_MSG(strcmp(fs.cpu_root, "/sys/fs/cgroup") == 0, "cpu root %s", fs.cpu_root);

	root_of(root, sizeof(root), fixtures, "cg-none");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "none detect");
	CHECK_MSG(fs.layout == SL_CGL_NONE, "layout %s", sl_cgfs_layout_name(fs.layout));
	CHECK_MSG(strstr(fs.reason, "no cpu controller") != NULL, "reason %s", fs.reason);

	root_of(root, sizeof(root), fixtures, "no-such-tree");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == -ENOENT, "missing mount table");
}

static void test_paths(void)
{
	static const char *const good[] = { "/", "/a", "/system.slice/web.service",
					    "/kubepods.slice/x..y", "/a/.hidden" };
	static const char *const bad[] = { "", "a", "//", "/a/", "/a//b", "/..", "/a/../b",
					   "/a/./b", "/a/..", "/a\nb", "/." };
	char longp[SL_CGFS_PATH_MAX + 8];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_MSG(sl_cgfs_path_ok(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(!sl_cgfs_path_ok(bad[i]), "accepted %s", bad[i]);
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_MSG(!sl_cgfs_path_ok(longp), "accepted a long path");
	CHECK_MSG(!sl_cgfs_path_ok(NULL), "accepted NULL");
}

static void test_sample_hybrid(const char *fixtures)
{
	char root[1024], buf[256];
	struct sl_cgfs fs;
	struct sl_cg_sample s;
	int pids[8];

	root_of(root, sizeof(root), fixtures, "cg-hybrid");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "detect");
	CHECK_MSG(sl_cgfs_sample(&fs, "/test/a", 5, &s) == 0, "sample");
	CHECK_MSG(s.exists && s.nr_procs == 2, "procs %u", s.nr_procs);
	CHECK_MSG(s.has_usage && s.usage_us == 1000000, "usage %llu", (unsigned long long)s.usage_us);
	CHECK_MSG(s.has_throttle && s.nr_periods == 50 && s.nr_throttled == 10 &&
		      s.throttled_us == 400000,
	      "throttle %llu %llu %llu", (unsigned long long)s.nr_periods,
	      (unsigned long long)s.nr_throttled, (unsigned long long)s.throttled_us);
	CHECK_MSG(s.has_limit && s.quota_us == 20000 && s.period_us == 100000, "limit");
	CHECK_MSG(s.has_weight && s.weight == 512, "shares %llu", (unsigned long long)s.weight);
	CHECK_MSG(!s.has_psi, "v1 has no per-cgroup pressure");
	CHECK_MSG(sl_cgfs_procs(&fs, "/test/a", pids, 8) == 2 && pids[0] == 4242 && pids[1] == 4243,
	      "procs list");
	CHECK_MSG(sl_cgfs_procs(&fs, "/test/a", pids, 1) == 1, "procs bounded");

	/* /test exists in cpu but not in cpuacct: no usage, said so */
	CHECK_MSG(sl_cgfs_sample(&fs, "/test", 5, &s) == 0 && s.exists && !s.has_usage,
	      "no cpuacct twin");
	CHECK_MSG(sl_cgfs_sample(&fs, "/nope", 5, &s) == 0 && !s.exists, "absent cgroup");
	CHECK_MSG(sl_cgfs_sample(&fs, "/test/../test/a", 5, &s) == -EINVAL, "dotdot refused");

	/* hostile: a symlinked cpu.stat and a directory named cpu.shares */
	CHECK_MSG(sl_cgfs_sample(&fs, "/evil", 5, &s) == 0 && s.exists, "evil sample");
	CHECK_MSG(!s.has_throttle, "followed a symlink");
	CHECK_MSG(!s.has_weight, "read a directory");
	CHECK_MSG(sl_cgfs_read(&fs, false, "/evil", "cpu.stat", buf, sizeof(buf)) < 0,
	      "symlink read");
	CHECK_MSG(sl_cgfs_read(&fs, false, "/evil", "cpu.shares", buf, sizeof(buf)) == -EPERM,
	      "directory read");
	CHECK_MSG(sl_cgfs_read(&fs, false, "/test/a", "../a/cpu.stat", buf, sizeof(buf)) == -EINVAL,
	      "file with a slash");
	/* bounded: a tiny buffer is filled, not overrun */
	CHECK_MSG(sl_cgfs_read(&fs, false, "/test/a", "cpu.stat", buf, 8) == 7 && strlen(buf) == 7,
	      "bounded read");

	{
		char names[4][256];
		int n = sl_cgfs_children(&fs, "/", names, 4);

		CHECK_MSG(n == 2, "children of / %d", n);
		CHECK_MSG(sl_cgfs_children(&fs, "/test", names, 4) == 1 && strcmp(names[0], "a") == 0,
		      "children of /test");
		CHECK_MSG(sl_cgfs_children(&fs, "/", names, 1) == 1, "children bounded");
		CHECK_MSG(sl_cgfs_children(&fs, "/..", names, 4) == -EINVAL, "children dotdot");
	}
	CHECK_MSG(sl_cgfs_sample_throttle(&fs, "/test/a", 7, &s) == 0 && s.exists &&
			  s.has_throttle && s.nr_throttled == 10 && s.throttled_us == 400000 &&
			  s.has_limit && s.quota_us == 20000 && !s.has_usage && s.nr_procs == 0,
		  "throttle only");
	CHECK_MSG(sl_cgfs_sample_throttle(&fs, "/nope", 7, &s) == 0 && !s.exists, "absent");
	CHECK_MSG(sl_cgfs_sample_throttle(&fs, "/a/../b", 7, &s) == -EINVAL, "refused");
	CHECK_MSG(sl_cgfs_has_quota(&fs, "/test/a") && !sl_cgfs_has_quota(&fs, "/test") &&
			  !sl_cgfs_has_quota(&fs, "/evil"),
		  "v1 quota");
	CHECK_MSG(sl_cgfs_pid_path(&fs, 4242, buf, sizeof(buf)) == 0 && strcmp(buf, "/test/a") == 0,
	      "pid path %s", buf);
	CHECK_MSG(sl_cgfs_pid_path(&fs, 999999, buf, sizeof(buf)) == -ENOENT, "no pid");
	{
		int some[] = { 4242, 4243, 999999 };

		CHECK_MSG(sl_cgfs_allowed_cpus(&fs, some, 3, 8, 8) == 3, "allowed 0,2-3");
		CHECK_MSG(sl_cgfs_allowed_cpus(&fs, some, 3, 8, 3) == 2, "ids bounded");
		CHECK_MSG(sl_cgfs_allowed_cpus(&fs, some + 2, 1, 8, 8) == 0, "unknown");
	}
}

static void test_sample_v2(const char *fixtures)
{
	char root[1024], buf[256];
	struct sl_cgfs fs;
	struct sl_cg_sample s;
	struct sl_cg_machine m;

	root_of(root, sizeof(root), fixtures, "cg-v2");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "detect");
	CHECK_MSG(sl_cgfs_sample(&fs, "/system.slice/web.service", 1, &s) == 0 && s.exists, "sample");
	CHECK_MSG(s.has_usage && s.usage_us == 3000000, "usage");
	CHECK_MSG(s.has_throttle && s.nr_periods == 100 && s.nr_throttled == 0, "throttle");
	CHECK_MSG(s.has_limit && s.quota_us == -1 && s.period_us == 100000, "cpu.max max");
	CHECK_MSG(s.has_weight && s.weight == 100, "weight");
	CHECK_MSG(s.has_psi && s.psi_some_us == 2000000 && s.psi_full_us == 300000 &&
		      fabs(s.psi_some_avg10 - 30.0) < 1e-9,
	      "pressure");
	CHECK_MSG(!sl_cgfs_has_quota(&fs, "/system.slice/web.service"), "cpu.max max");
	CHECK_MSG(sl_cgfs_pid_path(&fs, 77, buf, sizeof(buf)) == 0 &&
		      strcmp(buf, "/system.slice/web.service") == 0,
	      "pid path %s", buf);
	CHECK_MSG(sl_cgfs_machine(&fs, &m) == 0 && m.total == 3500 && m.idle == 500 && m.has_psi &&
		      m.psi_some_us == 100000,
	      "machine %llu %llu", (unsigned long long)m.total, (unsigned long long)m.idle);
}

static void test_delta_judge(void)
{
	struct sl_cg_sample a = { .t_ns = 0, .has_usage = true, .has_throttle = true,
				  .has_limit = true, .usage_us = 0, .nr_periods = 0,
				  .nr_throttled = 0, .throttled_us = 0, .quota_us = 20000,
				  .period_us = 100000 };
	struct sl_cg_sample b = a;
	struct sl_cg_machine ma = { .idle = 100, .total = 1000 }, mb = { .idle = 200, .total = 1200 };
	struct sl_cg_delta d;
	struct sl_cg_wait w = { .waits = 100, .mean_us = 3000, .p99_us = 20000, .m_waits = 1000,
				.m_mean_us = 100, .m_p99_us = 900 };
	struct sl_cg_judgement j;

	/* 2 s at the 20 % quota, throttled in 19 of 20 periods */
	b.t_ns = 2000000000ull;
	b.usage_us = 400000;
	b.nr_periods = 20;
	b.nr_throttled = 19;
	b.throttled_us = 1500000;
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	CHECK_MSG(fabs(d.span_s - 2.0) < 1e-9, "span");
	CHECK_MSG(fabs(d.cpus_used - 0.2) < 1e-9 && fabs(d.machine_pct - 10.0) < 1e-9, "usage %f",
	      d.cpus_used);
	CHECK_MSG(fabs(d.limit_cpus - 0.2) < 1e-9 && fabs(d.limit_used_pct - 100.0) < 1e-6, "limit");
	CHECK_MSG(d.d_throttled == 19 && fabs(d.throttled_periods_pct - 95.0) < 1e-9, "throttled");
	CHECK_MSG(fabs(d.machine_idle_pct - 50.0) < 1e-9, "idle %f", d.machine_idle_pct);
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_THROTTLED, "main %s", sl_cg_cause_names[j.main]);
	CHECK_MSG(!(j.causes & (1u << SL_CG_CONTENTION)), "throttled is not contention");

	/* no quota hit, long waits, machine half idle: contention */
	b.nr_throttled = 0;
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_CONTENTION, "main %s", sl_cg_cause_names[j.main]);

	/* machine full, it waits like everybody: machine short */
	mb.idle = 105;
	w.mean_us = 150;
	w.p99_us = 1500;
	w.m_mean_us = 140;
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_MACHINE_SHORT, "main %s", sl_cg_cause_names[j.main]);
	CHECK_MSG(!(j.causes & (1u << SL_CG_CONTENTION)), "like everybody");

	/* machine full but it waits 10x the machine: contention too */
	w.mean_us = 1400;
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_CONTENTION && (j.causes & (1u << SL_CG_MACHINE_SHORT)), "both");

	/* machine full, it waits like everybody, but its tasks fill the one
	 * CPU (of two) they may use: contention among them */
	w.mean_us = 150;
	w.allowed_cpus = 1;
	w.ncpus = 2;
	b.usage_us = 1900000; /* 0.95 CPUs over 2 s */
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_CONTENTION && j.fills_own_cpus &&
			  (j.causes & (1u << SL_CG_MACHINE_SHORT)),
		  "fills its CPU: %s", sl_cg_cause_names[j.main]);
	w.allowed_cpus = 2; /* it may use them all: that is the machine being short */
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_MACHINE_SHORT && !j.fills_own_cpus, "all CPUs allowed");
	w.allowed_cpus = 0;
	b.usage_us = 400000;

	/* short waits, room to spare: none */
	mb.idle = 200;
	w.mean_us = 20;
	w.p99_us = 100;
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	sl_cg_judge(&d, &w, &j);
	CHECK_MSG(j.main == SL_CG_CAUSE_NONE && !j.causes, "none");

	/* waits unknown (no BPF): throttling is still judged */
	b.nr_throttled = 19;
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	sl_cg_judge(&d, NULL, &j);
	CHECK_MSG(j.main == SL_CG_THROTTLED && !j.waits_known, "no waits");

	CHECK_MSG(sl_cg_throttle_notable(20, 19) && sl_cg_throttle_notable(30, 3), "notable");
	CHECK_MSG(!sl_cg_throttle_notable(20, 2) && !sl_cg_throttle_notable(100, 9) &&
		      !sl_cg_throttle_notable(0, 0),
	      "not notable");

	/* a counter going back (cgroup re-created) is not a huge rate */
	b.usage_us = 0;
	a.usage_us = 5000;
	sl_cgfs_delta(&a, &b, &ma, &mb, 2, &d);
	CHECK_MSG(d.cpus_used == 0, "went back");
}

static void expect_name(const char *path, const char *kind, const char *unit,
			const char *container, const char *pod, const char *qos, bool guess)
{
	struct sl_cg_name n;

	sl_cgname_of_path(path, &n);
	CHECK_MSG(strcmp(n.kind, kind) == 0, "%s: kind %s", path, n.kind);
	CHECK_MSG(strcmp(n.unit, unit) == 0, "%s: unit %s", path, n.unit);
	CHECK_MSG(strcmp(n.container, container) == 0, "%s: container %s", path, n.container);
	CHECK_MSG(strcmp(n.pod_uid, pod) == 0, "%s: pod %s", path, n.pod_uid);
	CHECK_MSG(strcmp(n.qos, qos) == 0, "%s: qos %s", path, n.qos);
	CHECK_MSG(n.guess == guess && (!guess || n.why), "%s: guess %d", path, n.guess);
}

#define CID "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"
#define DID "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
#define PODP "kubepods-burstable-pod1234abcd_12ab_34cd_56ef_1234567890ab.slice"
#define UID "1234abcd-12ab-34cd-56ef-1234567890ab"

static bool count_visit(void *ctx, const char *path, const char *name)
{
	int *n = ctx;

	(*n)++;
	return strcmp(name, "stop-here") == 0;
}

static void test_walk(const char *fixtures)
{
	char root[1024];
	struct sl_cgfs fs;
	int n = 0, r;

	root_of(root, sizeof(root), fixtures, "cg-v2");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "detect");
	r = sl_cgfs_walk(&fs, 1000, 12, count_visit, &n);
	CHECK_MSG(r == n && n == 20, "walked %d, visited %d", r, n);
	n = 0;
	CHECK_MSG(sl_cgfs_walk(&fs, 3, 12, count_visit, &n) == -E2BIG && n == 3, "bounded %d", n);
	n = 0;
	r = sl_cgfs_walk(&fs, 1000, 1, count_visit, &n);
	CHECK_MSG(r == n && n == 7, "depth 1: %d", n);
}

static void test_names(void)
{
	expect_name("/", "cgroup", "", "", "", "", false);
	expect_name("/system.slice/cron.service", "systemd service", "cron.service", "", "", "",
		    false);
	expect_name("/user.slice/user-1000.slice/session-3.scope", "systemd scope",
		    "session-3.scope", "", "", "", false);
	expect_name("/user.slice", "systemd slice", "user.slice", "", "", "", false);
	expect_name("/system.slice/docker-" DID ".scope", "docker container",
		    "docker-" DID ".scope", DID, "", "", false);
	expect_name("/kubepods.slice/kubepods-burstable.slice/" PODP "/cri-containerd-" CID
		    ".scope",
		    "containerd container", "cri-containerd-" CID ".scope", CID, UID, "burstable",
		    false);
	expect_name("/kubepods.slice/kubepods-burstable.slice/" PODP, "kubernetes pod", PODP, "",
		    UID, "burstable", false);
	expect_name("/kubepods.slice/kubepods-pod99990000_1111_2222_3333_444455556666.slice",
		    "kubernetes pod", "kubepods-pod99990000_1111_2222_3333_444455556666.slice", "",
		    "99990000-1111-2222-3333-444455556666", "guaranteed", false);
	expect_name("/machine.slice/libpod-0123456789abcdef0123456789abcdef.scope",
		    "podman container", "libpod-0123456789abcdef0123456789abcdef.scope",
		    "0123456789abcdef0123456789abcdef", "", "", false);
	expect_name("/system.slice/crio-0123456789ab.scope", "cri-o container",
		    "crio-0123456789ab.scope", "0123456789ab", "", "", false);
	/* cgroupfs drivers: guesses */
	expect_name("/docker/" CID, "docker container", "", CID, "", "", true);
	expect_name("/kubepods/burstable/pod" UID "/" CID, "container", "", CID, UID, "burstable",
		    true);
	expect_name("/kubepods/pod" UID, "kubernetes pod", "", "", UID, "guaranteed", true);
	/* not names: too short an id, upper case, a conmon scope */
	expect_name("/docker/abc", "cgroup", "", "", "", "", false);
	expect_name("/system.slice/docker-ABCDEF0123456789.scope", "systemd scope",
		    "docker-ABCDEF0123456789.scope", "", "", "", false);
	expect_name("/machine.slice/libpod-conmon-0123456789abcdef.scope", "systemd scope",
		    "libpod-conmon-0123456789abcdef.scope", "", "", "", false);
}

static void expect_resolve(const struct sl_cgfs *fs, const char *input, int want_err,
			   const char *want_path, bool want_guess)
{
	char path[SL_CGFS_PATH_MAX] = "", why[256];
	bool guess = false;
	int err = sl_cgname_resolve(fs, input, path, sizeof(path), &guess, why, sizeof(why));

	CHECK_MSG(err == want_err, "%s: err %d (%s)", input, err, why);
	if (!want_err && !err) {
		CHECK_MSG(strcmp(path, want_path) == 0, "%s: path %s", input, path);
		CHECK_MSG(guess == want_guess, "%s: guess %d", input, guess);
		CHECK_MSG(!guess || why[0], "%s: a guess says why", input);
	}
	if (want_err && want_err != -E2BIG)
		CHECK_MSG(why[0] != '\0', "%s: no reason", input);
}

static void test_resolve(const char *fixtures)
{
	char root[1024];
	struct sl_cgfs fs;

	root_of(root, sizeof(root), fixtures, "cg-v2");
	CHECK_MSG(sl_cgfs_detect(root, &fs) == 0, "detect");
	expect_resolve(&fs, "/system.slice/web.service", 0, "/system.slice/web.service", false);
	expect_resolve(&fs, "web.service", 0, "/system.slice/web.service", false);
	expect_resolve(&fs, "cron", 0, "/system.slice/cron.service", true);
	expect_resolve(&fs, "session-3.scope", 0, "/user.slice/user-1000.slice/session-3.scope",
		       false);
	expect_resolve(&fs, DID, 0, "/system.slice/docker-" DID ".scope", false);
	expect_resolve(&fs, "3f4e5d6c7b8a", 0, "/system.slice/docker-" DID ".scope", true);
	expect_resolve(&fs, "aabbccddeeff", 0,
		       "/kubepods.slice/kubepods-burstable.slice/" PODP "/cri-containerd-" CID
		       ".scope",
		       true);
	expect_resolve(&fs, "0123456789abcdef", 0,
		       "/machine.slice/libpod-0123456789abcdef0123456789abcdef0123456789abcdef"
		       "0123456789abcdef.scope",
		       true);
	expect_resolve(&fs, "ffeeddccbbaa0011", 0, "/docker/ffeeddccbbaa00112233445566778899"
						   "aabbccddeeff00112233445566778899",
		       true);
	expect_resolve(&fs, UID, 0, "/kubepods.slice/kubepods-burstable.slice/" PODP, false);
	expect_resolve(&fs, "web", -EEXIST, NULL, false);
	expect_resolve(&fs, "nosuch.service", -ENOENT, NULL, false);
	expect_resolve(&fs, "../etc", -EINVAL, NULL, false);
	expect_resolve(&fs, "/a/../b", -EINVAL, NULL, false);
	expect_resolve(&fs, "", -EINVAL, NULL, false);
}

/* The runtimes' state parsers (sl_cgstate.c); the readers are run on
 * fixture trees by test_cgnames_fixture.py. */
static void test_cgstate_parse(void)
{
	static const char id[] = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
	char name[256], got[65], ns[64], pod[254], uid[37], buf[512];
	struct sl_cgstate_result *r = calloc(1, sizeof(*r));

	snprintf(buf, sizeof(buf), "{\"ID\":\"%s\",\"Name\":\"/my-nginx\"}", id);
	CHECK(sl_cgstate_docker_parse(buf, strlen(buf), name, sizeof(name), got, sizeof(got)) == 0);
	CHECK(strcmp(name, "my-nginx") == 0 && strcmp(got, id) == 0);
	/* no leading '/', a short id, a name outside Docker's alphabet, not JSON */
	snprintf(buf, sizeof(buf), "{\"ID\":\"%s\",\"Name\":\"my-nginx\"}", id);
	CHECK(sl_cgstate_docker_parse(buf, strlen(buf), name, sizeof(name), got, sizeof(got)));
	snprintf(buf, sizeof(buf), "{\"ID\":\"3f4e\",\"Name\":\"/a\"}");
	CHECK(sl_cgstate_docker_parse(buf, strlen(buf), name, sizeof(name), got, sizeof(got)));
	snprintf(buf, sizeof(buf), "{\"ID\":\"%s\",\"Name\":\"/a b\"}", id);
	CHECK(sl_cgstate_docker_parse(buf, strlen(buf), name, sizeof(name), got, sizeof(got)));
	CHECK(sl_cgstate_docker_parse("{", 1, name, sizeof(name), got, sizeof(got)) == -EINVAL);

	snprintf(buf, sizeof(buf), "[{\"id\":\"%s\",\"names\":[\"db\",\"web\"]},"
				   "{\"id\":\"x\",\"names\":[\"web\"]},{\"names\":1},2]", id);
	CHECK(r && sl_cgstate_podman_parse(buf, strlen(buf), "web", r) == 4);
	CHECK(r && r->n == 1 && strcmp(r->hits[0].id, id) == 0 &&
	      strcmp(r->hits[0].source, "podman state") == 0);
	CHECK(r && sl_cgstate_podman_parse("{}", 2, "web", r) == -EINVAL);

	CHECK(sl_cgstate_pod_dir("shop_front-1_1234abcd-12ab-34cd-56ef-1234567890ab", ns, pod, uid));
	CHECK(strcmp(ns, "shop") == 0 && strcmp(pod, "front-1") == 0 &&
	      strcmp(uid, "1234abcd-12ab-34cd-56ef-1234567890ab") == 0);
	CHECK(!sl_cgstate_pod_dir("shop_front_1_1234abcd-12ab-34cd-56ef-1234567890ab", ns, pod,
				  uid));
	CHECK(!sl_cgstate_pod_dir("Shop_front_1234abcd-12ab-34cd-56ef-1234567890ab", ns, pod, uid));
	CHECK(!sl_cgstate_pod_dir("shop_front_1234abcd", ns, pod, uid));
	/* a static pod: the 32-hex hash of its manifest */
	CHECK(sl_cgstate_pod_dir("kube-system_etcd-n1_0f1e2d3c4b5a69788796a5b4c3d2e1f0", ns, pod,
				 uid) &&
	      strcmp(uid, "0f1e2d3c4b5a69788796a5b4c3d2e1f0") == 0);
	snprintf(buf, sizeof(buf), "front-1_shop_app-%s.log", id);
	CHECK(sl_cgstate_container_log(buf, "front-1", "shop", "app", got) &&
	      strcmp(got, id) == 0);
	CHECK(!sl_cgstate_container_log(buf, "front-1", "shop", "ap", got));
	CHECK(!sl_cgstate_container_log(buf, "front", "shop", "app", got));
	free(r);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
		return 2;
	}
	test_detect(argv[1]);
	test_paths();
	test_sample_hybrid(argv[1]);
	test_sample_v2(argv[1]);
	test_delta_judge();
	test_walk(argv[1]);
	test_names();
	test_resolve(argv[1]);
	test_cgstate_parse();
	return unit_done("test-sched-latency-cgfs");
}
