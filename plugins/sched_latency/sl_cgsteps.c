/* SPDX-License-Identifier: MIT */
/*
 * diagnose_cgroup in the workflow prompts: when the process asked about
 * (debug_high_latency with a pid), or one of the processes that waited
 * longest over the last 10 s (summarize_system and the other workflows'
 * latency.process, debug_high_latency without a pid), runs in a cgroup
 * other than the root of the cpu hierarchy, a step names that cgroup and
 * the call that says why it waits. Rendered when the prompt is got, from
 * /proc/PID/cgroup and the process series; left out when every such
 * process is in the root cgroup or there is no cpu controller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl.h"
#include "sl_cgfs.h"
#include "sl_cgnames.h"
#include "sl_cgtool.h"

#define TOP 10       /* longest waiters looked at */
#define MAX_NAMED 3  /* cgroups named in one step */

static struct sl *P;

/* "PATH (kind UNIT)" of the cgroup of pid into buf, or false (root, none). */
static bool cgroup_of(const struct sl_cgfs *fs, long long pid, char *path, size_t plen,
		      char *desc, size_t dlen)
{
	struct sl_cg_name n;

	if (sl_cgfs_pid_path(fs, (int)pid, path, plen) || strcmp(path, "/") == 0)
		return false;
	sl_cgname_of_path(path, &n);
	if (n.unit[0] || n.container[0])
		snprintf(desc, dlen, "%s %s%s", n.kind, n.unit[0] ? n.unit : n.container,
			 n.guess ? ", a guess from its name" : "");
	else
		snprintf(desc, dlen, "%s", n.kind);
	return true;
}

static bool detect(struct sl_cgfs *fs)
{
	return sl_cgfs_detect(P->api->fs_root(P->h), fs) == 0 && fs->layout != SL_CGL_NONE;
}

static int render_task(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct sl_cgfs fs;
	char path[SL_CGFS_PATH_MAX], desc[320];
	int64_t pid;

	if (P->api->arg_int(args, "pid", &pid) || !detect(&fs) ||
	    !cgroup_of(&fs, (long long)pid, path, sizeof(path), desc, sizeof(desc)))
		return 0;
	return snprintf(buf, len,
			"It runs in cgroup %s (%s; %s layout). Find which of three causes makes it "
			"wait: diagnose_cgroup {\"cgroup\": \"%s\", \"duration_s\": 5}. `verdict` "
			"`throttled`: its own CPU quota stops it (raise or drop the quota); "
			"`contention`: it competes for CPUs with its neighbours (see "
			"`members`.`top_by_p99` and `weight`); `machine_short`: the machine has no "
			"idle CPU left (`pressure`).",
			path, desc, sl_cgfs_layout_name(fs.layout), path);
}

static int cmp_wait(const void *a, const void *b)
{
	const struct sl_window_row *x = a, *y = b;

	return x->c[SLT_WAIT_NS] < y->c[SLT_WAIT_NS] ? 1 : x->c[SLT_WAIT_NS] > y->c[SLT_WAIT_NS] ? -1
													: 0;
}

static int render_top(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct sl_window_result r;
	struct sl_cgfs fs;
	char named[MAX_NAMED][SL_CGFS_PATH_MAX];
	int n = 0, nnamed = 0;

	if (!P->running || !detect(&fs) || sl_window_rows(P, "process", SL_W10, &r))
		return 0;
	if (r.n > 1)
		qsort(r.rows, r.n, sizeof(r.rows[0]), cmp_wait);
	for (size_t i = 0; i < r.n && i < TOP && nnamed < MAX_NAMED; i++) {
		char path[SL_CGFS_PATH_MAX], desc[320];
		bool seen = false;

		if (!r.rows[i].c[SLT_WAIT_NS] ||
		    !cgroup_of(&fs, (long long)r.rows[i].key, path, sizeof(path), desc, sizeof(desc)))
			continue;
		for (int k = 0; k < nnamed; k++)
			seen = seen || strcmp(named[k], path) == 0;
		if (seen)
			continue;
		snprintf(named[nnamed++], sizeof(named[0]), "%s", path);
		n += snprintf(buf + n, len - (size_t)n, "%s%s (%s: %.*s, pid %llu)",
			      n ? "; " : "Of the processes that waited longest over the last 10 s, "
					 "these run in cgroups: ",
			      path, desc, SLW_COMM_LEN, r.rows[i].meta.comm,
			      (unsigned long long)r.rows[i].key);
		if ((size_t)n >= len)
			break;
	}
	sl_window_result_free(&r);
	if (!nnamed || (size_t)n >= len)
		return 0;
	n += snprintf(buf + n, len - (size_t)n,
		      ". For each: diagnose_cgroup {\"cgroup\": PATH, \"duration_s\": 5}; its "
		      "`verdict` says whether its own quota throttles it, it competes with its "
		      "neighbours, or the machine is short of CPU (%s layout).",
		      sl_cgfs_layout_name(fs.layout));
	return (size_t)n < len ? n : 0;
}

static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("latency.task", 40), .needs = "diagnose_cgroup", .render = render_task },
	{ SMCP_STEP("latency.process", 20), .needs = "diagnose_cgroup", .render = render_top },
	{ SMCP_STEP("latency.any", 40), .needs = "diagnose_cgroup", .render = render_top },
};

int sl_cgsteps_register(struct sl *p)
{
	P = p;
	return smcp_register_prompt_steps(p->h, p->api, steps, SMCP_COUNT(steps));
}
