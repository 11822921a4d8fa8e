/* SPDX-License-Identifier: MIT */
/*
 * The workflow prompts: registration, argument checks, completion, and the
 * text builder the flows (prompts_flows.c) write with. A flow asks the
 * registry what exists when the client gets the prompt, so plugins that are
 * disabled, failed or not built leave no dangling names in the text.
 */
#include "prompts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "host.h"
#include "loader.h"
#include "registry.h"
#include "util.h"

static const struct smcp_host_api *api;

/* ------------------------------------------------------------- builder */

__attribute__((format(printf, 2, 0))) static void pb_vadd(struct pb *b, const char *fmt,
						      va_list ap)
{
	va_list aq;
	int n;

	if (b->err)
		return;
	va_copy(aq, ap);
	n = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? b->cap - b->len : 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->err = -EINVAL;
		return;
	}
	if (!b->buf || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *nb;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (!nb) {
			b->err = -ENOMEM;
			return;
		}
		b->buf = nb;
		b->cap = cap;
		vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void pb_add(struct pb *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pb_vadd(b, fmt, ap);
	va_end(ap);
}

void pb_step(struct pb *b, const char *fmt, ...)
{
	va_list ap;

	pb_add(b, "\n%u. ", ++b->step);
	va_start(ap, fmt);
	pb_vadd(b, fmt, ap);
	va_end(ap);
}

void pb_free(struct pb *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

/* A plugin's reason with every URI-looking word blanked: the text must not
 * name a resource the model cannot read. */
static void scrub(char *s)
{
	char *p;

	while ((p = strstr(s, "://"))) {
		char *start = p, *end = p + 3;

		while (start > s && !isspace((unsigned char)start[-1]))
			start--;
		while (*end && !isspace((unsigned char)*end) && *end != ',' && *end != ';' &&
		       *end != ')')
			end++;
		memmove(start + 3, end, strlen(end) + 1);
		memcpy(start, "...", 3);
	}
}

static struct smcp_host *plugin_find(const char *name)
{
	size_t n;
	struct smcp_host *const *all = loader_plugins(&n);

	for (size_t i = 0; i < n; i++)
		if (all[i]->name && strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

void pb_missing(struct pb *b, const char *what, const char *plugin)
{
	unsigned i;
	size_t n;

	for (i = 0; i < b->n_missing; i++)
		if (strcmp(b->missing[i].plugin, plugin) == 0)
			break;
	if (i == b->n_missing) {
		if (i == ARRAY_SIZE(b->missing))
			return;
		b->missing[i].plugin = plugin;
		b->missing[i].what[0] = '\0';
		b->n_missing++;
	}
	if (strstr(b->missing[i].what, what))
		return;
	n = strlen(b->missing[i].what);
	snprintf(b->missing[i].what + n, sizeof(b->missing[i].what) - n, "%s%s", n ? "; " : "",
		 what);
}

void pb_missing_list(struct pb *b)
{
	if (!b->n_missing)
		return;
	pb_add(b, "\n\nNot available in this schedmcp right now (leave it out and say so in your "
		  "answer; schedmcp://plugins has the details):");
	for (unsigned i = 0; i < b->n_missing; i++) {
		const char *plugin = b->missing[i].plugin;
		struct smcp_host *h = plugin_find(plugin);
		char why[400];

		if (!h)
			snprintf(why, sizeof(why), "the %s plugin is not installed in this schedmcp",
				 plugin);
		else if (h->state == PLUGIN_LOADED || h->state == PLUGIN_DEGRADED)
			snprintf(why, sizeof(why), "the %s plugin is %s but does not offer it%s%.200s%s",
				 plugin, plugin_state_name(h->state), h->reason ? " (" : "",
				 h->reason ? h->reason : "", h->reason ? ")" : "");
		else
			snprintf(why, sizeof(why), "the %s plugin is %s%s%.200s%s", plugin,
				 plugin_state_name(h->state), h->reason ? " (" : "",
				 h->reason ? h->reason : "", h->reason ? ")" : "");
		scrub(why);
		pb_add(b, "\n- %s: %s", b->missing[i].what, why);
	}
}

/* ------------------------------------------------------------- registry */

bool pr_res(const char *uri)
{
	return registry_find_resource(uri) != NULL;
}

bool pr_tpl(const char *uri_template)
{
	return registry_find_template(uri_template) != NULL;
}

bool pr_tool(const char *name)
{
	return registry_find_tool(name) != NULL;
}

bool pr_prompt(const char *name)
{
	return registry_find_prompt(name) != NULL;
}

/* ----------------------------------------------------------- /proc, /sys */

static int read_small(const char *rel, char *buf, size_t len)
{
	char path[512];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s%s", host_fs_root(), rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0) {
		buf[0] = '\0';
		return -EIO;
	}
	buf[n] = '\0';
	return 0;
}

void pr_sched_ext(char *state, size_t slen, char *ops, size_t olen)
{
	(void)read_small("/sys/kernel/sched_ext/state", state, slen);
	state[strcspn(state, "\n")] = '\0';
	(void)read_small("/sys/kernel/sched_ext/root/ops", ops, olen);
	ops[strcspn(ops, "\n")] = '\0';
}

/* Name and Tgid of a task from /proc/PID/status; -ENOENT when it is gone. */
static int task_info(int64_t pid, char *comm, size_t clen, int64_t *ret_tgid)
{
	char rel[64], buf[4096], *p;
	int err;

	snprintf(rel, sizeof(rel), "/proc/%lld/status", (long long)pid);
	err = read_small(rel, buf, sizeof(buf));
	if (err)
		return err;
	*ret_tgid = pid;
	comm[0] = '\0';
	if ((p = strstr(buf, "Name:\t"))) {
		p += 6;
		snprintf(comm, clen, "%.*s", (int)strcspn(p, "\n"), p);
	}
	if ((p = strstr(buf, "\nTgid:\t")))
		*ret_tgid = strtoll(p + 7, NULL, 10);
	return 0;
}

static int64_t pid_max(void)
{
	char buf[32];

	if (read_small("/proc/sys/kernel/pid_max", buf, sizeof(buf)) == 0 && atoll(buf) > 0)
		return atoll(buf);
	return 4194304; /* PID_MAX_LIMIT on 64-bit */
}

/* ----------------------------------------------------------- arguments */

static const char *const focus_areas[] = { "general", "latency", "throughput", "balance" };

static const char *const known_schedulers[] = {
	"scx_bpfland", "scx_central", "scx_cosmos", "scx_flash",   "scx_flatcg", "scx_lavd",
	"scx_layered", "scx_nest",    "scx_p2dq",   "scx_rustland", "scx_rusty", "scx_simple",
	"scx_tickless", "EEVDF",
};

static const char *const windows[] = { "5m", "10m", "15m", "30m", "1h" };
static const char *const durations[] = { "5", "10", "30", "60" };

static bool name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!(isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-' || s[n] == '.'))
			return false;
	return n > 0 && n <= 64;
}

/* "30s", "5m", "2h": a window what_changed and query_history accept. */
static bool window_ok(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!isdigit((unsigned char)s[0]) || v <= 0 || end[1] != '\0')
		return false;
	switch (*end) {
	case 's':
		return v >= 10 && v <= 86400;
	case 'm':
		return v <= 1440;
	case 'h':
		return v <= 24;
	default:
		return false;
	}
}

static int bad_arg(struct smcp_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_arg(struct smcp_result *res, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)api->result_error(res, "%s", msg);
	return -EINVAL;
}

static int check_focus(const struct smcp_args *args, struct pr_args *a, struct smcp_result *res)
{
	const char *v = NULL;

	a->focus_area = "general";
	if (api->arg_string(args, "focus_area", &v) || !v)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(focus_areas); i++) {
		if (strcasecmp(v, focus_areas[i]) == 0) {
			a->focus_area = focus_areas[i];
			return 0;
		}
	}
	return bad_arg(res, "focus_area must be one of general, latency, throughput, balance "
			    "(got \"%.40s\")", v);
}

static int check_pid(const struct smcp_args *args, struct pr_args *a, struct smcp_result *res)
{
	int64_t pid = 0, max = pid_max();

	if (api->arg_int(args, "pid", &pid) == -ENOENT)
		return 0;
	if (pid <= 0 || pid > max)
		return bad_arg(res, "pid must be a process id from 1 to %lld (got %lld); omit it "
				    "to look at every process", (long long)max, (long long)pid);
	if (task_info(pid, a->comm, sizeof(a->comm), &a->tgid))
		return bad_arg(res, "no process %lld on this machine (it may have exited); omit "
				    "pid to find the processes that wait longest", (long long)pid);
	a->pid = pid;
	return 0;
}

static int check_scheduler(const struct smcp_args *args, struct pr_args *a,
			   struct smcp_result *res)
{
	const char *v = NULL;

	if (api->arg_string(args, "scheduler_name", &v) || !v || !*v)
		return 0;
	if (!name_ok(v))
		return bad_arg(res, "scheduler_name must be a scheduler name such as scx_layered "
				    "or EEVDF (1 to 64 of A-Z a-z 0-9 _ - .), got \"%.40s\"", v);
	a->scheduler_name = v;
	return 0;
}

static int check_duration(const struct smcp_args *args, struct pr_args *a,
			  struct smcp_result *res)
{
	int64_t d = 10;

	if (api->arg_int(args, "duration_secs", &d) == -ENOENT)
		d = 10;
	if (d < 1 || d > 300)
		return bad_arg(res, "duration_secs must be from 1 to 300 seconds (got %lld)",
			       (long long)d);
	a->duration_secs = d;
	return 0;
}

static int check_window(const struct smcp_args *args, struct pr_args *a, struct smcp_result *res)
{
	const char *v = NULL;

	a->window = "15m";
	if (api->arg_string(args, "window", &v) || !v)
		return 0;
	if (!window_ok(v))
		return bad_arg(res, "window must be a duration such as 30s, 5m, 15m or 1h "
				    "(10 s to 24 h), got \"%.40s\"", v);
	a->window = v;
	return 0;
}

/* ------------------------------------------------------------ completion */

static void add_list(struct smcp_completion *out, const char *const *list, size_t n,
		     const char *prefix, uint32_t *total, bool nocase)
{
	size_t pl = strlen(prefix);

	for (size_t i = 0; i < n; i++) {
		if (nocase ? strncasecmp(list[i], prefix, pl) : strncmp(list[i], prefix, pl))
			continue;
		(*total)++;
		(void)api->completion_add(out, list[i]);
	}
}

static int cmp_pid(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/*
 * PIDs from /proc: those starting with a numeric prefix, or the PIDs of the
 * processes whose name starts with a non-numeric one ("ngi" -> nginx's).
 */
static void complete_pid(struct smcp_completion *out, const char *prefix, uint32_t *total)
{
	char path[512], comm[64], rel[64];
	bool by_name = prefix[0] && !isdigit((unsigned char)prefix[0]);
	size_t n = 0, cap = 0, pl = strlen(prefix);
	long *pids = NULL;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/proc", host_fs_root());
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (by_name) {
			snprintf(rel, sizeof(rel), "/proc/%ld/comm", pid);
			if (read_small(rel, comm, sizeof(comm)) || strncasecmp(comm, prefix, pl))
				continue;
		} else if (strncmp(de->d_name, prefix, pl)) {
			continue;
		}
		if (n == cap) {
			long *np = realloc(pids, (cap = cap ? cap * 2 : 256) * sizeof(*np));

			if (!np)
				break;
			pids = np;
		}
		pids[n++] = pid;
	}
	closedir(d);
	if (n > 1) /* pids is NULL when nothing matched: no qsort(NULL, 0) */
		qsort(pids, n, sizeof(*pids), cmp_pid);
	for (size_t i = 0; i < n; i++) {
		char v[24];

		snprintf(v, sizeof(v), "%ld", pids[i]);
		(void)api->completion_add(out, v);
	}
	*total += (uint32_t)n;
	free(pids);
}

static int prompts_complete(void *data, const char *arg_name, const char *prefix,
			    const struct smcp_args *context, struct smcp_completion *out)
{
	uint32_t total = 0;

	if (strcmp(arg_name, "pid") == 0) {
		complete_pid(out, prefix, &total);
	} else if (strcmp(arg_name, "focus_area") == 0) {
		add_list(out, focus_areas, ARRAY_SIZE(focus_areas), prefix, &total, true);
	} else if (strcmp(arg_name, "scheduler_name") == 0) {
		char state[32], ops[128];
		const char *cur = ops;

		pr_sched_ext(state, sizeof(state), ops, sizeof(ops));
		/* the one running now first */
		if (ops[0] && strcmp(state, "enabled") == 0 &&
		    strncasecmp(ops, prefix, strlen(prefix)) == 0) {
			(void)api->completion_add(out, ops);
			total++;
		}
		for (size_t i = 0; i < ARRAY_SIZE(known_schedulers); i++) {
			const char *k = known_schedulers[i];

			if (ops[0] && (strcmp(k, cur) == 0))
				continue;
			add_list(out, &k, 1, prefix, &total, true);
		}
	} else if (strcmp(arg_name, "duration_secs") == 0) {
		add_list(out, durations, ARRAY_SIZE(durations), prefix, &total, false);
	} else if (strcmp(arg_name, "window") == 0) {
		add_list(out, windows, ARRAY_SIZE(windows), prefix, &total, false);
	}
	return api->completion_total(out, total);
}

/* ------------------------------------------------------------------ get */

enum prompt_id {
	P_PERFORMANCE,
	P_LATENCY,
	P_IMBALANCE,
	P_SCHEDULER,
	P_SUMMARY,
	P_PROFILE,
	P_REGRESSION,
};

static const char *const descriptions[] = {
	[P_PERFORMANCE] = "Analyse scheduler performance",
	[P_LATENCY] = "Find why tasks wait for a CPU",
	[P_IMBALANCE] = "Find uneven load across CPUs, caches and NUMA nodes",
	[P_SCHEDULER] = "Explain what the scheduler is doing and why",
	[P_SUMMARY] = "One-screen summary of the machine and its scheduler",
	[P_PROFILE] = "Profile where CPU time goes, including BPF and the scheduler",
	[P_REGRESSION] = "Find what changed when things got slower",
};

static int prompt_get(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	enum prompt_id id = (enum prompt_id)(uintptr_t)data;
	struct pr_args a = { 0 };
	struct pb b = { 0 };
	int err = 0;

	switch (id) {
	case P_PERFORMANCE:
		err = check_focus(args, &a, res);
		break;
	case P_LATENCY:
		err = check_pid(args, &a, res);
		break;
	case P_SCHEDULER:
		err = check_scheduler(args, &a, res);
		break;
	case P_PROFILE:
		err = check_duration(args, &a, res);
		break;
	case P_REGRESSION:
		err = check_window(args, &a, res);
		break;
	default:
		break;
	}
	if (err)
		return err;
	switch (id) {
	case P_PERFORMANCE:
		flow_performance(&b, &a);
		break;
	case P_LATENCY:
		flow_latency(&b, &a);
		break;
	case P_IMBALANCE:
		flow_imbalance(&b, &a);
		break;
	case P_SCHEDULER:
		flow_scheduler(&b, &a);
		break;
	case P_SUMMARY:
		flow_summary(&b, &a);
		break;
	case P_PROFILE:
		flow_profile(&b, &a);
		break;
	case P_REGRESSION:
		flow_regression(&b, &a);
		break;
	}
	pb_missing_list(&b);
	err = b.err;
	if (!err)
		err = api->result_description(res, descriptions[id]);
	if (!err)
		err = api->result_role(res, SMCP_ROLE_USER);
	if (!err)
		err = api->result_text(res, b.buf ? b.buf : "");
	pb_free(&b);
	return err;
}

/* ---------------------------------------------------------------- setup */

int prompts_init(struct smcp_host *core, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_arg perf_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "focus_area", "latency, throughput, balance or general (default)", false,
		  SMCP_ARG_STRING },
	};
	static const struct smcp_prompt_arg latency_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "pid", "process (or thread) id to investigate; omit to find the processes "
			 "that wait longest", false, SMCP_ARG_INT },
	};
	static const struct smcp_prompt_arg sched_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "scheduler_name", "scheduler to explain, e.g. scx_layered or EEVDF (default: "
				    "the one running)", false, SMCP_ARG_STRING },
	};
	static const struct smcp_prompt_arg profile_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "duration_secs", "how long to profile, 1 to 300 seconds (default 10)", false,
		  SMCP_ARG_INT },
	};
	static const struct smcp_prompt_arg regression_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "window", "how far back things got worse, e.g. 5m, 15m (default), 1h", false,
		  SMCP_ARG_STRING },
	};
	static const struct {
		const char *name, *title, *description;
		const struct smcp_prompt_arg *args;
		size_t n_args;
	} prompts[] = {
		[P_PERFORMANCE] = { "analyze_scheduler_performance", "Analyse scheduler performance",
				    "Workflow to judge scheduling latency, throughput or balance "
				    "with concrete thresholds; focus_area narrows it.",
				    perf_args, 1 },
		[P_LATENCY] = { "debug_high_latency", "Debug high scheduling latency",
				"Workflow to find why a process (or any process) waits for a CPU: "
				"its latency percentiles, contention, wakers, CPUs and causes.",
				latency_args, 1 },
		[P_IMBALANCE] = { "analyze_cpu_imbalance", "Analyse CPU load imbalance",
				  "Workflow to find uneven load across CPUs, LLCs and NUMA "
				  "nodes, tell it from saturation, and find the cause.",
				  NULL, 0 },
		[P_SCHEDULER] = { "investigate_scheduler_behavior", "Investigate scheduler behaviour",
				  "Workflow to explain the running scheduler (sched_ext or the "
				  "fair class): its own stats, DSQs, placement and BPF cost.",
				  sched_args, 1 },
		[P_SUMMARY] = { "summarize_system", "Summarize the system",
				"Workflow for a one-screen summary: hardware, scheduler, load, "
				"latency, top processes, and what schedmcp can observe here.",
				NULL, 0 },
		[P_PROFILE] = { "profile_system", "Profile the system",
				"Workflow to profile CPU time (kernel and user stacks) and the "
				"cost of BPF programs and the scheduler, with thresholds.",
				profile_args, 1 },
		[P_REGRESSION] = { "diagnose_regression", "Diagnose a slowdown",
				   "Workflow to find what changed when the machine got slower: "
				   "metric history before and after, watches, and where.",
				   regression_args, 1 },
	};
	int err = 0;

	api = a;
	for (size_t i = 0; !err && i < ARRAY_SIZE(prompts); i++) {
		struct smcp_prompt_desc d = {
			.sz = sizeof(d),
			.name = prompts[i].name,
			.title = prompts[i].title,
			.description = prompts[i].description,
			.args = prompts[i].args,
			.n_args = prompts[i].n_args,
			.get = prompt_get,
			.complete = prompts[i].n_args ? prompts_complete : NULL,
			.data = (void *)(uintptr_t)i,
		};

		err = api->register_prompt(core, &d);
	}
	return err;
}
