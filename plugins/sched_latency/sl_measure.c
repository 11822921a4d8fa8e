/* SPDX-License-Identifier: MIT */
/*
 * measure_latency: run-queue latency collected now for duration_s (a
 * measurement slot in BPF for one filtered histogram, or forced ticks of
 * the rolling series for grouped rows), or answered at once from a window.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "sl_call.h"

#define CGROUP2_SUPER_MAGIC 0x63677270
/* histograms per row make rows big: fewer of them */
#define MAX_ROWS_WITH_HISTOGRAMS 20

/* cgroup v2 path -> id (the directory's inode) and depth below the root. */
static int cgroup_resolve(struct sl *p, const char *path, __u64 *id, __u32 *level,
			  char *why, size_t len)
{
	char base[512], full[1024];
	struct statfs sfs;
	struct stat st;
	uint32_t depth = 0;

	snprintf(base, sizeof(base), "%s/sys/fs/cgroup", p->api->fs_root(p->h));
	if (statfs(base, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, len, "the cgroup filter needs cgroup v2 mounted at /sys/fs/cgroup");
		return -ENOTSUP;
	}
	if (path[0] != '/' || strstr(path, "/..") || strstr(path, "//")) {
		snprintf(why, len,
			 "cgroup must be an absolute path below /sys/fs/cgroup, e.g. "
			 "/system.slice/cron.service");
		return -EINVAL;
	}
	snprintf(full, sizeof(full), "%s%s", base, path);
	if (stat(full, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "no cgroup %s (looked for %s)", path, full);
		return -ENOENT;
	}
	for (const char *c = path; *c; c++)
		if (*c == '/' && c[1] && c[1] != '/')
			depth++;
	*id = depth ? (__u64)st.st_ino : 0;
	*level = depth;
	return 0;
}

/* group_by none: one histogram (from a measurement slot or a window). */
static void emit_single(struct sl_call *c, struct smcp_json *j, const uint64_t *h,
			uint64_t sum_ns, int64_t max_ns, int64_t switches_in)
{
	const struct smcp_host_api *api = c->p->api;
	struct sl_pct pc;

	sl_hist_percentiles(h, &pc);
	sl_emit_filter(c, j);
	if (switches_in >= 0)
		api->json_int(j, "switches_in", switches_in);
	sl_emit_latency(c->p, j, "run_queue_latency", h, sum_ns, max_ns);
	if (c->histogram)
		sl_emit_histogram(c->p, j, "histogram", h);
	if (pc.samples)
		api->json_string(j, "note",
				 "wait = time from becoming runnable (wakeup, or preempted) to "
				 "running; percentiles interpolated inside 25%-wide buckets");
	else
		api->json_string(j, "note",
				 "no task matching the filter became runnable and ran in this "
				 "window");
}

/* Rows of a grouped answer from a window result. */
static void emit_grouped(struct sl_call *c, struct smcp_json *j, struct sl_window_result *r,
			 bool since_start)
{
	struct sl *p = c->p;

	sl_emit_filter(c, j);
	p->api->json_string(j, "group_by", sl_group_names[c->group]);
	if (c->group == SL_G_PROCESS || c->group == SL_G_THREAD) {
		p->api->json_string(j, "sort", sl_sort_names[c->sort]);
		sl_emit_task_rows(p, j, "rows", c->group == SL_G_THREAD, r, since_start,
				  (uint32_t)c->pid, c->sort, c->offset, c->limit, c->histogram);
	} else if (c->group == SL_G_CPU) {
		sl_emit_cpu_rows(p, j, "rows", "cpu", r, since_start, c->cpu, c->offset, c->limit);
	} else {
		struct sl_window_result f;
		bool llc = c->group == SL_G_LLC;

		if (!p->topo_ok ||
		    sl_window_result_fold(r, llc ? p->topo.cpu_llc : p->topo.cpu_node,
					  (size_t)p->topo.ncpus, &f)) {
			p->api->json_string(j, "error", "CPU topology unavailable");
			return;
		}
		p->api->json_string(j, "mapping", llc ? p->topo.llc_source : p->topo.node_source);
		sl_emit_cpu_rows(p, j, "rows", llc ? "llc" : "node", &f, since_start, -1,
				 c->offset, c->limit);
		sl_window_result_free(&f);
	}
}

static const char *series_of(enum sl_group g)
{
	return g == SL_G_PROCESS ? "process" : g == SL_G_THREAD ? "thread" : "cpu";
}

/* Answer from data already collected. */
static int measure_window(struct sl_call *c, enum sl_window_id w, struct smcp_result *res)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(res);
	bool pid_rows = c->group == SL_G_NONE && c->pid;
	struct sl_window_result r;
	int err;

	if (!j)
		return -ENOMEM;
	err = sl_window_rows(p, pid_rows ? "process" : series_of(c->group), w, &r);
	if (err == -ENODATA)
		return api->result_error(res, "no data yet: the first 1 s tick has not run; retry "
					      "in a second");
	if (err)
		return err;
	sl_emit_window(p, j, "window", sl_window_names[w], w == SL_WSTART ? NULL : &r);
	if (c->group != SL_G_NONE) {
		emit_grouped(c, j, &r, w == SL_WSTART);
	} else if (c->pid) {
		struct sl_window_row *row = sl_window_result_find(&r, (uint64_t)c->pid);
		struct sl_window_result t;
		bool thread = false;

		if (!row && sl_window_rows(p, "thread", w, &t) == 0) {
			sl_window_result_free(&r);
			r = t;
			row = sl_window_result_find(&r, (uint64_t)c->pid);
			thread = true;
		}
		if (row) {
			api->json_string(j, "matched", thread ? "thread" : "process");
			emit_single(c, j, row->h, row->c[SLT_WAIT_NS],
				    w == SL_WSTART ? (int64_t)row->c[SLT_WAIT_MAX] : -1, -1);
		} else {
			static const uint64_t zero[SL_NB];

			emit_single(c, j, zero, 0, -1, -1);
		}
	} else {
		static const uint64_t zero[SL_NB];
		const uint64_t *h = zero;
		uint64_t sum = 0;
		int64_t max = -1;
		uint64_t *acc = calloc(SL_NB, sizeof(*acc));

		if (acc) {
			for (size_t i = 0; i < r.n; i++) {
				if (c->cpu >= 0 && r.rows[i].key != (uint64_t)c->cpu)
					continue;
				for (int b = 0; b < SL_NB; b++)
					acc[b] += r.rows[i].h[b];
				sum += r.rows[i].c[SLC_WAIT_NS];
				if (w == SL_WSTART && (int64_t)r.rows[i].c[SLC_WAIT_MAX] > max)
					max = (int64_t)r.rows[i].c[SLC_WAIT_MAX];
			}
			h = acc;
		}
		emit_single(c, j, h, sum, max, -1);
		free(acc);
	}
	sl_window_result_free(&r);
	return 0;
}

static void measure_finish(struct sl_call *c)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(c->res);
	int err = 0;

	if (!j) {
		err = -ENOMEM;
		goto done;
	}
	if (c->group == SL_G_NONE) {
		struct sl_measure m;

		err = sl_bpf_measure_read(p, c->slot, &m);
		if (err)
			goto done;
		api->json_object(j, "window");
		api->json_string(j, "name", "measured");
		api->json_double(j, "span_s",
				 (double)((api->now_ns(p->h) - c->since_ns) / 1000000) / 1000.0);
		api->json_end(j);
		emit_single(c, j, (const uint64_t *)m.hist, m.wait_ns, (int64_t)m.wait_max_ns,
			    (int64_t)m.switches_in);
	} else {
		struct sl_window_result r;
		const struct sl_window_series *s = c->group == SL_G_PROCESS  ? &p->w_proc
						   : c->group == SL_G_THREAD ? &p->w_thread
									     : &p->w_cpu;

		sl_tick_now(p);
		err = sl_window_window_since(s, c->since_ns, &r);
		if (err)
			goto done;
		api->json_object(j, "window");
		api->json_string(j, "name", "measured");
		api->json_double(j, "span_s", (double)(uint64_t)(sl_span_s(&r) * 1000) / 1000.0);
		if (r.truncated)
			api->json_bool(j, "incomplete", true);
		api->json_end(j);
		emit_grouped(c, j, &r, false);
		sl_window_result_free(&r);
	}
done:
	sl_call_complete(c, err);
}

static int measure_latency(void *data, struct smcp_call *call, const struct smcp_args *args,
			   struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_call *c;
	const char *s = NULL, *window = NULL;
	struct sl_measure_ctl m = { .cpu = -1 };
	int64_t v;
	int err;

	if (!p->running)
		return sl_unavailable(p, res, true);
	c = sl_call_new(p, call, args, res, measure_finish, NULL);
	if (!c)
		return -ENOMEM;
	if (api->arg_int(args, "cpu", &v) == 0)
		c->cpu = (int)v;
	if (api->arg_string(args, "group_by", &s) == 0)
		c->group = (enum sl_group)sl_parse_enum(s, sl_group_names, SL_G_N);
	if (api->arg_string(args, "sort", &s) == 0)
		c->sort = (enum sl_sort)sl_parse_enum(s, sl_sort_names, SL_NSORT);
	c->histogram = c->group == SL_G_NONE;
	(void)api->arg_bool(args, "histogram", &c->histogram);
	(void)api->arg_string(args, "window", &window);
	if (api->arg_string(args, "cgroup", &s) == 0)
		snprintf(c->cgroup, sizeof(c->cgroup), "%s", s);
	if (c->histogram && c->group != SL_G_NONE && c->limit > MAX_ROWS_WITH_HISTOGRAMS)
		c->limit = MAX_ROWS_WITH_HISTOGRAMS;

	if ((int)c->group < 0 || (int)c->sort < 0) {
		err = api->result_error(res, "unknown group_by or sort value");
		goto out;
	}
	if (c->cpu >= p->ncpus) {
		err = api->result_error(res, "cpu %d does not exist (CPUs 0-%d)", c->cpu,
					p->ncpus - 1);
		goto out;
	}
	if (c->cgroup[0] && (window || c->group != SL_G_NONE)) {
		err = api->result_error(res, "cgroup works only while collecting (no window) "
					     "with group_by none");
		goto out;
	}
	if (window) {
		enum sl_window_id w;

		if (sl_window_parse(window, &w)) {
			err = api->result_error(res, "window must be 1s, 10s, 60s or since_start");
			goto out;
		}
		err = measure_window(c, w, res);
		goto out;
	}
	if (c->group == SL_G_NONE) {
		m.pid = (uint32_t)c->pid;
		m.cpu = c->cpu;
		if (c->cgroup[0]) {
			char why[256];

			err = cgroup_resolve(p, c->cgroup, &m.cgroup_id, &m.cgroup_level, why,
					     sizeof(why));
			if (err) {
				err = api->result_error(res, "%s", why);
				goto out;
			}
		}
		c->slot = sl_bpf_measure_start(p, &m);
		if (c->slot == -EBUSY) {
			c->slot = -1;
			err = api->result_error(
				res,
				"%d filtered measurements are already running; retry "
				"when one finishes, or use window for data already "
				"collected",
				SL_MEASURE_SLOTS);
			goto out;
		}
		if (c->slot < 0) {
			err = c->slot;
			c->slot = -1;
			goto out;
		}
		c->since_ns = api->now_ns(p->h);
	} else {
		sl_tick_now(p);
		c->since_ns = p->w_cpu.last_tick_ns;
	}
	err = sl_call_go(c);
	if (err == SMCP_PENDING)
		return err;
out:
	sl_call_release(c);
	return err;
}

static const char measure_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":60,\"default\":5},"
	"\"window\":{\"type\":\"string\",\"enum\":[\"1s\",\"10s\",\"60s\",\"since_start\"]},"
	"\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"cpu\":{\"type\":\"integer\",\"minimum\":0},"
	"\"cgroup\":{\"type\":\"string\",\"maxLength\":255},"
	"\"group_by\":{\"type\":\"string\",\"enum\":[\"none\",\"cpu\",\"llc\",\"node\","
	"\"process\",\"thread\"]},"
	"\"sort\":{\"type\":\"string\",\"enum\":[\"wait_time\",\"p99\",\"p50\",\"mean\","
	"\"waits\",\"switches\",\"wakeups\",\"migrations\",\"run_time\"]},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0},"
	"\"histogram\":{\"type\":\"boolean\"}}}";

static const char measure_output[] =
	"{\"type\":\"object\",\"required\":[\"window\"]}";

int sl_measure_register(struct sl *p)
{
	const struct smcp_tool_desc d = {
		SMCP_TOOL("measure_latency"),
		.description = "Run-queue latency p50-p99.9 (us) with counts, measured over "
			       "duration_s or read from a past window.",
		.input_schema = measure_schema,
		.output_schema = measure_output,
		.flags = SMCP_TOOL_READ_ONLY,
		.call = measure_latency,
		.data = p,
	};

	return p->api->register_tool(p->h, &d);
}
