/* SPDX-License-Identifier: MIT */
/*
 * perf_stat: counter mode, like perf stat. One counting session at a time,
 * beside (not instead of) a sampling profile: counting fds have no ring
 * buffers and are read with read(2) on the loop, which takes microseconds
 * per fd, so no job is needed. The arithmetic is pstat.c's.
 *
 * Scope: system-wide (one group per CPU and group, folded per LLC and
 * node from the topology under fs_root) or one process (one group per
 * thread, with inherit so threads it creates later are counted too).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "pp_plugin.h"
#include "pp_stat.h"
#include "pstat.h"

#define PS_MAX_CPUS 4096
#define PS_MAX_ROWS 64  /* per-CPU rows an answer lists */
#define PS_MAX_DURATION_S 600.0

enum ps_state { PSS_IDLE = 0, PSS_RUNNING, PSS_STOPPED };

struct ps_sess {
	enum ps_state state;
	bool hw;            /* the hardware groups were asked for and opened */
	bool user_only;     /* exclude_kernel: unprivileged at perf_event_paranoid >= 2 */
	int32_t pid;        /* -1: system-wide */
	int n;              /* units: CPUs (system-wide) or threads */
	int *unit;          /* CPU id, or thread id */
	int *fds;           /* n * PS__N; -1: not open */
	struct pstat_count *counts; /* n * PS__N, as last read */
	unsigned int n_fds;
	uint64_t start_ns, stop_ns;
	char note[512];
	char missing[192];  /* events that could not be opened */
	struct pstat_topo topo;
	int timer;
	struct smcp_call *waiter; /* a one-shot start (duration_s) */
	struct smcp_result *wres;
};

static struct ps_sess sess;
static struct pp_plugin *ps_pp;

static const char stat_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"action\":{\"type\":\"string\",\"enum\":[\"start\",\"read\",\"stop\"]},"
	"\"duration_s\":{\"type\":\"number\",\"minimum\":0.1,\"maximum\":600},"
	"\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"events\":{\"type\":\"string\",\"enum\":[\"auto\",\"hardware\",\"software\"]}}}";

static int open_counter(const struct pstat_event_desc *d, int32_t pid, int cpu, int group_fd,
			bool inherit, bool user_only)
{
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = d->type;
	a.config = d->config;
	a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	a.disabled = group_fd < 0; /* the leader enables the group at once */
	a.inherit = inherit;
	a.exclude_kernel = user_only;
	fd = syscall(SYS_perf_event_open, &a, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

/* Why hardware counters cannot be used here, or "" when they can. */
static void hw_probe(char *why, size_t len)
{
	int fd = open_counter(&pstat_events[PS_CYCLES], 0, -1, -1, false, true);

	why[0] = '\0';
	if (fd >= 0) {
		close(fd);
		return;
	}
	snprintf(why, len,
		 "no hardware PMU here (perf_event_open of cycles: %s), as in most VMs",
		 strerror(-fd));
}

static void sess_close(struct ps_sess *s)
{
	if (s->fds)
		for (int i = 0; i < s->n * PS__N; i++)
			if (s->fds[i] >= 0)
				close(s->fds[i]);
	free(s->fds);
	s->fds = NULL;
	s->n_fds = 0;
}

static void sess_free(struct ps_sess *s)
{
	sess_close(s);
	free(s->unit);
	free(s->counts);
	pstat_topo_free(&s->topo);
	memset(s, 0, sizeof(*s));
}

static void sess_read(struct ps_sess *s)
{
	uint64_t v[3];

	for (int i = 0; i < s->n * PS__N; i++) {
		struct pstat_count *c = &s->counts[i];

		if (!s->fds || s->fds[i] < 0)
			continue;
		if (read(s->fds[i], v, sizeof(v)) != (ssize_t)sizeof(v)) {
			c->valid = false;
			continue;
		}
		*c = (struct pstat_count){ v[0], v[1], v[2], true };
	}
}

/* Threads of pid (the real /proc: the pid is a live process). */
static int list_threads(int32_t pid, int **ret, int max)
{
	char path[64];
	struct dirent *e;
	int *t, n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	t = malloc(sizeof(int) * (size_t)max);
	if (!t) {
		closedir(d);
		return -ENOMEM;
	}
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
			t[n++] = atoi(e->d_name);
	closedir(d);
	*ret = t;
	return n;
}

static void add_missing(struct ps_sess *s, enum pstat_ev e)
{
	size_t at = strlen(s->missing);

	if (strstr(s->missing, pstat_events[e].name))
		return;
	snprintf(s->missing + at, sizeof(s->missing) - at, "%s%s", at ? " " : "",
		 pstat_events[e].name);
}

/*
 * Open every group for every unit. A hardware event a PMU lacks (LLC
 * loads on some) is left out and named; a refused software event or a
 * privilege error fails the start with the reason in err.
 */
static int sess_open_all(struct ps_sess *s, char *err, size_t len)
{
	bool inherit = s->pid > 0;

	for (int i = 0; i < s->n; i++) {
		int32_t pid = inherit ? s->unit[i] : -1;
		int cpu = inherit ? -1 : s->unit[i];

		for (int g = s->hw ? PSG_CORE : PSG_SW; g < PSG__N; g++) {
			int leader = -1;

			for (int e = 0; e < PS__N; e++) {
				int fd;

				if (pstat_events[e].group != (enum pstat_group)g)
					continue;
				fd = open_counter(&pstat_events[e], pid, cpu, leader, inherit,
						  s->user_only);
				if (fd == -ESRCH && inherit)
					break; /* the thread exited meanwhile */
				if (fd == -EACCES || fd == -EPERM || (fd < 0 && g == PSG_SW)) {
					snprintf(err, len, "perf_event_open of %s on %s %d: %s",
						 pstat_events[e].name, inherit ? "thread" : "cpu",
						 s->unit[i], strerror(-fd));
					return fd;
				}
				if (fd < 0) {
					add_missing(s, (enum pstat_ev)e);
					continue;
				}
				s->fds[i * PS__N + e] = fd;
				s->n_fds++;
				if (leader < 0)
					leader = fd;
			}
		}
	}
	for (int i = 0; i < s->n * PS__N; i++)
		if (s->fds[i] >= 0)
			(void)ioctl(s->fds[i], PERF_EVENT_IOC_ENABLE, 0);
	return 0;
}

/* ------------------------------------------------------------ answers */

static void put_num(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		    double v)
{
	if (isfinite(v))
		api->json_double(j, key, pstat_round4(v));
}

static void put_agg(const struct smcp_host_api *api, struct smcp_json *j,
		    const struct pstat_agg *a, double elapsed_s, bool per_task)
{
	struct pstat_derived d;
	bool scaled = false;

	pstat_derive(a, elapsed_s, &d);
	put_num(api, j, "ipc", d.ipc);
	put_num(api, j, "cache_miss_pct", d.cache_miss_pct);
	put_num(api, j, "llc_miss_pct", d.llc_miss_pct);
	put_num(api, j, "llc_hit_pct", d.llc_hit_pct);
	put_num(api, j, "branch_miss_pct", d.branch_miss_pct);
	/* a CPU's task-clock runs through idle too (as perf stat -a shows
	 * "N CPUs utilized"): busy time only means something for tasks */
	if (per_task)
		put_num(api, j, "cpus_utilized", d.cpus_utilized);
	put_num(api, j, "context_switches_per_s", d.ctx_switches_per_s);
	put_num(api, j, "cpu_migrations_per_s", d.migrations_per_s);
	put_num(api, j, "page_faults_per_s", d.page_faults_per_s);
	api->json_object(j, "counts");
	for (int e = 0; e < PS__N; e++) {
		if (a->have[e])
			api->json_uint(j, pstat_events[e].name, (uint64_t)llround(a->v[e]));
		scaled |= a->have[e] && a->running_frac[e] < 1.0;
	}
	api->json_end(j);
	if (!scaled)
		return;
	/* multiplexed: counts were scaled by enabled/running */
	api->json_object(j, "counted_pct");
	for (int e = 0; e < PS__N; e++)
		if (a->have[e] && a->running_frac[e] < 1.0)
			put_num(api, j, pstat_events[e].name, a->running_frac[e] * 100);
	api->json_end(j);
}

static void cpus_text(const uint64_t *mask, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int c = 0; c < 256 && at < len; c++) {
		int hi = c;

		if (!(mask[c / 64] >> (c % 64) & 1))
			continue;
		while (hi + 1 < 256 && mask[(hi + 1) / 64] >> ((hi + 1) % 64) & 1)
			hi++;
		at += (size_t)snprintf(buf + at, len - at, hi > c ? "%s%d-%d" : "%s%d",
				       at ? "," : "", c, hi);
		c = hi;
	}
}

static int put_domains(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		       const char *id_key, const struct ps_sess *s, const int *map,
		       double elapsed_s)
{
	struct pstat_domain *d = malloc(sizeof(*d) * (size_t)s->n);
	char cpus[256];
	int nd;

	if (!d)
		return -ENOMEM;
	nd = pstat_fold(s->counts, s->unit, s->n, map, d);
	api->json_array(j, key);
	for (int i = 0; i < nd; i++) {
		api->json_object(j, NULL);
		api->json_int(j, id_key, d[i].id);
		cpus_text(d[i].cpu_mask, cpus, sizeof(cpus));
		api->json_string(j, "cpus", cpus);
		put_agg(api, j, &d[i].agg, elapsed_s, false);
		api->json_end(j);
	}
	api->json_end(j);
	free(d);
	return 0;
}

static int answer(struct pp_plugin *pp, struct smcp_result *res)
{
	const struct smcp_host_api *api = pp->api;
	struct ps_sess *s = &sess;
	struct smcp_json *j = api->result_json(res);
	uint64_t end = s->state == PSS_RUNNING ? api->now_ns(pp->host) : s->stop_ns;
	double elapsed_s = (double)(end - s->start_ns) / 1e9;
	struct pstat_agg total;
	int err = 0;

	if (!j)
		return -ENOMEM;
	api->json_string(j, "state", s->state == PSS_RUNNING ? "running" : "stopped");
	api->json_double(j, "elapsed_s", pstat_round4(elapsed_s));
	if (s->pid > 0) {
		api->json_int(j, "pid", s->pid);
		api->json_int(j, "threads", s->n);
	} else {
		api->json_string(j, "scope", "system");
		api->json_int(j, "cpus", s->n);
	}
	api->json_bool(j, "hardware", s->hw);
	if (s->note[0])
		api->json_string(j, "note", s->note);
	if (s->missing[0])
		api->json_string(j, "not_supported", s->missing);
	pstat_agg_init(&total);
	for (int i = 0; i < s->n; i++)
		pstat_agg_add(&total, &s->counts[(size_t)i * PS__N]);
	api->json_object(j, "total");
	put_agg(api, j, &total, elapsed_s, s->pid > 0);
	api->json_end(j);
	if (s->pid <= 0) {
		err = put_domains(api, j, "per_node", "node", s, s->topo.node, elapsed_s);
		if (!err)
			err = put_domains(api, j, "per_llc", "llc", s, s->topo.llc, elapsed_s);
		if (err)
			return err;
		api->json_array(j, "per_cpu");
		for (int i = 0; i < s->n && i < PS_MAX_ROWS; i++) {
			struct pstat_agg a;

			pstat_agg_init(&a);
			pstat_agg_add(&a, &s->counts[(size_t)i * PS__N]);
			api->json_object(j, NULL);
			api->json_int(j, "cpu", s->unit[i]);
			put_agg(api, j, &a, elapsed_s, false);
			api->json_end(j);
		}
		api->json_end(j);
		if (s->n > PS_MAX_ROWS)
			api->json_string(j, "per_cpu_note", "first 64 CPUs; per_llc and "
							    "per_node cover all");
	}
	if (s->state == PSS_RUNNING)
		api->json_string(j, "next", "perf_stat action read (running totals) or stop");
	return 0;
}

/* ------------------------------------------------------------ actions */

static void stop_now(struct pp_plugin *pp)
{
	struct ps_sess *s = &sess;

	if (s->state != PSS_RUNNING)
		return;
	sess_read(s);
	s->stop_ns = pp->api->now_ns(pp->host);
	sess_close(s);
	s->state = PSS_STOPPED;
	if (s->timer > 0)
		(void)pp->api->timer_remove(pp->host, s->timer);
	s->timer = 0;
}

static void on_cancel(void *data, struct smcp_call *call)
{
	struct pp_plugin *pp = data;

	(void)call;
	sess.waiter = NULL;
	sess.wres = NULL;
	stop_now(pp);
}

static void on_timer(void *data)
{
	struct pp_plugin *pp = data;
	struct smcp_call *c = sess.waiter;
	int rc;

	sess.timer = 0; /* one-shot: gone once it fired */
	stop_now(pp);
	if (!c)
		return;
	rc = answer(pp, sess.wres);
	sess.waiter = NULL;
	sess.wres = NULL;
	(void)pp->api->call_complete(c, rc);
}

static int start(struct pp_plugin *pp, struct smcp_call *call, const struct smcp_args *args,
		 struct smcp_result *res)
{
	const struct smcp_host_api *api = pp->api;
	struct ps_sess *s = &sess;
	const char *events = "auto";
	char why_hw[160], err[256];
	double duration = 0;
	int64_t pid = -1;
	bool said = true; /* the failure is explained in res */
	int rc, per_unit;

	if (s->state == PSS_RUNNING)
		return api->result_error(res, "counting already runs (%.1f s): perf_stat action "
					      "read or stop first",
					 (double)(api->now_ns(pp->host) - s->start_ns) / 1e9),
		       0;
	(void)api->arg_string(args, "events", &events);
	(void)api->arg_int(args, "pid", &pid);
	if (api->arg_double(args, "duration_s", &duration) == 0 &&
	    !(duration >= 0.1 && duration <= PS_MAX_DURATION_S))
		return api->result_error(res, "duration_s must be 0.1..%.0f; got %g",
					 PS_MAX_DURATION_S, duration),
		       0;
	if (pid > 0 && (pid > INT32_MAX || !pp_pid_alive((int32_t)pid)))
		return api->result_error(res, "pid %lld does not exist or has exited",
					 (long long)pid),
		       0;
	hw_probe(why_hw, sizeof(why_hw));
	if (strcmp(events, "hardware") == 0 && why_hw[0])
		return api->result_error(res, "%s. The software counters exist: task-clock, "
					      "context-switches, cpu-migrations, page-faults; "
					      "call with events software",
					 why_hw),
		       0;
	sess_free(s);
	s->pid = pid > 0 ? (int32_t)pid : -1;
	s->hw = strcmp(events, "software") != 0 && !why_hw[0];
	if (strcmp(events, "auto") == 0 && why_hw[0])
		snprintf(s->note, sizeof(s->note),
			 "%s: counting the software counters task-clock, context-switches, "
			 "cpu-migrations, page-faults instead; IPC and miss rates need a PMU",
			 why_hw);
	/* what the kernel allows a user without CAP_PERFMON at paranoid 2 */
	s->user_only = !pp->privileged && pp->paranoid >= 2;
	if (s->user_only) {
		size_t at = strlen(s->note);

		snprintf(s->note + at, sizeof(s->note) - at,
			 "%suser space only (no CAP_PERFMON, kernel.perf_event_paranoid=%d): "
			 "switches and faults taken in the kernel are not counted",
			 at ? "; " : "", pp->paranoid);
	}
	per_unit = s->hw ? PS__N : PS__N - PS_FIRST_SW;
	rc = pstat_topo_read(pp->root, PS_MAX_CPUS, &s->topo);
	if (rc) {
		api->result_error(res, "cannot read the CPU topology: %s", strerror(-rc));
		goto fail;
	}
	if (s->pid > 0) {
		rc = list_threads(s->pid, &s->unit, PS_MAX_CPUS);
		if (rc < 0) {
			api->result_error(res, "pid %d: %s", s->pid, strerror(-rc));
			goto fail;
		}
		s->n = rc;
	} else {
		s->unit = malloc(sizeof(int) * PS_MAX_CPUS);
		if (!s->unit) {
			rc = -ENOMEM;
			said = false;
			goto fail;
		}
		for (int c = 0; c < PS_MAX_CPUS; c++)
			if (s->topo.online[c])
				s->unit[s->n++] = c;
	}
	/* the budget of fds a profile may hold applies to counting too */
	if ((uint64_t)s->n * (uint64_t)per_unit > pp->cfg.max_fds) {
		api->result_error(res,
				  "counting needs %d %s x %d events = %d perf fds, over max_fds "
				  "(%u): give a pid, events software, or raise max_fds",
				  s->n, s->pid > 0 ? "threads" : "CPUs", per_unit, s->n * per_unit,
				  pp->cfg.max_fds);
		goto fail;
	}
	s->fds = malloc(sizeof(int) * (size_t)s->n * PS__N);
	s->counts = calloc((size_t)s->n * PS__N, sizeof(*s->counts));
	if (!s->fds || !s->counts) {
		rc = -ENOMEM;
		said = false;
		goto fail;
	}
	for (int i = 0; i < s->n * PS__N; i++)
		s->fds[i] = -1;
	rc = sess_open_all(s, err, sizeof(err));
	if (rc) {
		api->result_error(res, "%s%s", err,
				  rc == -EACCES || rc == -EPERM ?
					  " (system-wide counting needs CAP_PERFMON or "
					  "kernel.perf_event_paranoid <= 0; or give a pid)" :
					  "");
		goto fail;
	}
	s->start_ns = api->now_ns(pp->host);
	s->state = PSS_RUNNING;
	if (duration > 0) {
		rc = api->timer_add(pp->host, (uint64_t)(duration * 1000), false, on_timer, pp);
		if (rc < 0) {
			said = false;
			goto fail;
		}
		s->timer = rc;
		s->waiter = call;
		s->wres = res;
		(void)api->call_on_cancel(call, on_cancel, pp);
		return SMCP_PENDING;
	}
	rc = answer(pp, res);
	if (!rc)
		api->json_uint(api->result_json(res), "perf_fds", s->n_fds);
	return rc;
fail:
	sess_free(s);
	return said ? 0 : rc;
}

static int perf_stat(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	struct pp_plugin *pp = data;
	const struct smcp_host_api *api = pp->api;
	const char *action = "start";

	(void)api->arg_string(args, "action", &action);
	if (!pp->perf_ok)
		return api->result_error(res, "counting is unavailable here: %s", pp->perf_err), 0;
	if (sess.waiter)
		return api->result_error(res, "a perf_stat with duration_s is counting; its "
					      "answer comes when it ends"),
		       0;
	if (strcmp(action, "start") == 0)
		return start(pp, call, args, res);
	if (sess.state == PSS_IDLE)
		return api->result_error(res, "nothing counted yet: perf_stat {\"action\": "
					      "\"start\", \"duration_s\": 5}"),
		       0;
	if (strcmp(action, "stop") == 0)
		stop_now(pp);
	else if (sess.state == PSS_RUNNING)
		sess_read(&sess);
	return answer(pp, res);
}

int pp_stat_register(struct pp_plugin *pp)
{
	const struct smcp_tool_desc tool = {
		sizeof(struct smcp_tool_desc), "perf_stat", NULL,
		"perf stat: IPC, miss rates per CPU/LLC/node/pid",
		stat_schema, NULL, 0, perf_stat, pp
	};

	/* the names scxtop proposed for the same thing */
	static const char *const scxtop[][2] = {
		{ "start_perf_stat", "start" },
		{ "stop_perf_stat", "stop" },
		{ "get_perf_stat", "read" },
	};
	const struct smcp_host_api *api = pp->api;
	char hint[128];
	int err;

	ps_pp = pp;
	err = api->register_tool(pp->host, &tool);
	for (size_t i = 0; !err && i < SMCP_COUNT(scxtop); i++) {
		snprintf(hint, sizeof(hint), "call perf_stat {\"action\": \"%s\"}", scxtop[i][1]);
		err = api->add_tool_hint(pp->host, scxtop[i][0], hint);
	}
	/* the description has no room for how the actions go together */
	if (!err)
		err = api->add_instructions(pp->host,
					    "perf_stat {\"duration_s\": 5} counts for 5 s and "
					    "answers; without duration_s it starts, then read or "
					    "stop.");
	return err;
}

void pp_stat_fini(void)
{
	if (ps_pp && sess.timer > 0)
		(void)ps_pp->api->timer_remove(ps_pp->host, sess.timer);
	sess_free(&sess);
	ps_pp = NULL;
}
