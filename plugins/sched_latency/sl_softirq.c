/* SPDX-License-Identifier: MIT */
/*
 * analyze_softirq: for duration_s, BPF times every softirq handler
 * (softirq_entry -> softirq_exit) per CPU and vector, with a duration
 * histogram, and counts it against the process whose context ran it. The
 * programs are attached only while a call runs (one at a time). The
 * kernel's own count from /proc/softirqs over the same window is given
 * beside ours, so a reader can see that nothing was missed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/fsread.h>

#include "sl_call.h"
#include "sl_hist.h"

enum { MODE_SUMMARY, MODE_BY_TYPE, MODE_BY_CPU, MODE_BY_PROCESS, MODE_N };
static const char *const mode_names[MODE_N] = { "summary", "by_type", "by_cpu", "by_process" };

/* The kernel's names, in vector order (as /proc/softirqs prints them). */
static const char *const vec_names[SL_NR_SOFTIRQS] = {
	"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
};

/* Per-vector totals of /proc/softirqs (all CPUs); false when unreadable. */
static bool kernel_counts(struct sl *p, uint64_t *out)
{
	char *buf = NULL, *line, *next;
	size_t len;
	int found = 0;

	memset(out, 0, SL_NR_SOFTIRQS * sizeof(*out));
	if (smcp_slurp(p->api->fs_root(p->h), "/proc/softirqs", 1 << 20, &buf, &len))
		return false;
	for (line = buf; line && *line; line = next) {
		char *colon, *name, *s;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (name = line; *name == ' '; name++)
			;
		for (int v = 0; v < SL_NR_SOFTIRQS; v++) {
			if (strcmp(name, vec_names[v]) != 0)
				continue;
			for (s = colon + 1; *s;) {
				char *end;
				unsigned long long n = strtoull(s, &end, 10);

				if (end == s)
					break;
				out[v] += n;
				s = end;
			}
			found++;
		}
	}
	free(buf);
	return found > 0;
}

struct proc_row {
	uint32_t pid;
	char comm[SL_COMM_LEN + 1];
	uint64_t count, total_ns;
	uint64_t vec_count[SL_NR_SOFTIRQS], vec_ns[SL_NR_SOFTIRQS];
};

struct cpu_row {
	int cpu;
	uint64_t count, total_ns;
	int top_vec;
};

static int cmp_proc(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return 0;
}

static int cmp_proc_time(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int cmp_cpu_time(const void *a, const void *b)
{
	const struct cpu_row *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	return x->cpu - y->cpu;
}

static double ms(uint64_t ns)
{
	return (double)(ns / 1000) / 1000.0;
}

/* Share of the CPU time of ncpus CPUs over the window, in per cent. */
static double cpu_pct(uint64_t ns, unsigned span_s, int ncpus)
{
	double all = (double)span_s * 1e9 * (ncpus > 0 ? ncpus : 1);

	return all > 0 ? (double)(uint64_t)((double)ns * 1e5 / all) / 1000.0 : 0;
}

static void put_totals(struct sl_call *c, struct smcp_json *j, uint64_t count, uint64_t ns,
		       int ncpus)
{
	const struct smcp_host_api *api = c->p->api;

	api->json_uint(j, "count", count);
	api->json_double(j, "per_s", (double)(count * 10 / (c->duration_s ? c->duration_s : 1)) /
					     10.0);
	api->json_double(j, "time_ms", ms(ns));
	api->json_double(j, "cpu_pct", cpu_pct(ns, c->duration_s, ncpus));
}

static void emit_types(struct sl_call *c, struct smcp_json *j, const struct sl_softirq_stat *sum,
		       const uint64_t *kernel, int ncpus)
{
	const struct smcp_host_api *api = c->p->api;
	int order[SL_NR_SOFTIRQS], n = 0;

	for (int v = 0; v < SL_NR_SOFTIRQS; v++)
		if ((c->softirq_vec < 0 || c->softirq_vec == v) &&
		    (sum[v].count || (kernel && kernel[v])))
			order[n++] = v;
	/* most time first (n <= 10) */
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && sum[order[b]].total_ns > sum[order[b - 1]].total_ns; b--) {
			int t = order[b];

			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	api->json_array(j, "softirqs");
	for (int i = 0; i < n; i++) {
		const struct sl_softirq_stat *s = &sum[order[i]];

		api->json_object(j, NULL);
		api->json_int(j, "nr", order[i]);
		api->json_string(j, "name", vec_names[order[i]]);
		put_totals(c, j, s->count, s->total_ns, ncpus);
		if (kernel)
			api->json_uint(j, "kernel_count", kernel[order[i]]);
		sl_emit_latency(c->p, j, "duration", (const uint64_t *)s->hist, s->total_ns,
				(int64_t)s->max_ns);
		if (c->softirq_mode == MODE_BY_TYPE)
			sl_emit_histogram(c->p, j, "histogram", (const uint64_t *)s->hist);
		api->json_end(j);
	}
	api->json_end(j);
}

static size_t emit_cpus(struct sl_call *c, struct smcp_json *j, const struct sl_softirq_stat *st,
			size_t *ret_total)
{
	const struct smcp_host_api *api = c->p->api;
	struct cpu_row *rows = calloc((size_t)c->p->ncpus, sizeof(*rows));
	size_t n = 0, shown = 0;

	*ret_total = 0;
	if (!rows)
		return SIZE_MAX;
	for (int cpu = 0; cpu < c->p->ncpus; cpu++) {
		struct cpu_row *r = &rows[n];
		uint64_t best = 0;

		*r = (struct cpu_row){ .cpu = cpu, .top_vec = -1 };
		for (int v = 0; v < SL_NR_SOFTIRQS; v++) {
			const struct sl_softirq_stat *s = &st[(size_t)cpu * SL_NR_SOFTIRQS + v];

			if (c->softirq_vec >= 0 && c->softirq_vec != v)
				continue;
			r->count += s->count;
			r->total_ns += s->total_ns;
			if (s->total_ns > best) {
				best = s->total_ns;
				r->top_vec = v;
			}
		}
		if (r->count)
			n++;
	}
	qsort(rows, n ? n : 1, sizeof(*rows), cmp_cpu_time);
	api->json_array(j, "cpus");
	for (size_t i = c->offset; i < n && shown < c->limit; i++, shown++) {
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_int(j, "cpu", rows[i].cpu);
		put_totals(c, j, rows[i].count, rows[i].total_ns, 1);
		if (rows[i].top_vec >= 0)
			api->json_string(j, "most_time_in", vec_names[rows[i].top_vec]);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j))
			break; /* the answer is full; the caller gives the offset to go on */
	}
	api->json_end(j);
	free(rows);
	*ret_total = n;
	return shown;
}

static size_t emit_procs(struct sl_call *c, struct smcp_json *j, const struct sl_softirq_row *v,
			 size_t nv, size_t *ret_total)
{
	const struct smcp_host_api *api = c->p->api;
	struct proc_row *rows = calloc(nv ? nv : 1, sizeof(*rows));
	size_t n = 0, shown = 0;

	*ret_total = 0;
	if (!rows)
		return SIZE_MAX;
	for (size_t i = 0; i < nv; i++) {
		if (v[i].k.vec >= SL_NR_SOFTIRQS ||
		    (c->softirq_vec >= 0 && (int)v[i].k.vec != c->softirq_vec) ||
		    (c->pid && v[i].k.tgid != c->pid))
			continue;
		rows[n].pid = v[i].k.tgid;
		memcpy(rows[n].comm, v[i].v.comm, SL_COMM_LEN);
		rows[n].count = v[i].v.count;
		rows[n].total_ns = v[i].v.total_ns;
		rows[n].vec_count[v[i].k.vec] = v[i].v.count;
		rows[n].vec_ns[v[i].k.vec] = v[i].v.total_ns;
		n++;
	}
	/* one row per process */
	qsort(rows, n ? n : 1, sizeof(*rows), cmp_proc);
	{
		size_t w = 0;

		for (size_t i = 0; i < n; i++) {
			if (w && rows[w - 1].pid == rows[i].pid) {
				rows[w - 1].count += rows[i].count;
				rows[w - 1].total_ns += rows[i].total_ns;
				for (int k = 0; k < SL_NR_SOFTIRQS; k++) {
					rows[w - 1].vec_count[k] += rows[i].vec_count[k];
					rows[w - 1].vec_ns[k] += rows[i].vec_ns[k];
				}
				continue;
			}
			rows[w++] = rows[i];
		}
		n = w;
	}
	qsort(rows, n ? n : 1, sizeof(*rows), cmp_proc_time);
	api->json_array(j, "processes");
	for (size_t i = c->offset; i < n && shown < c->limit; i++, shown++) {
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_uint(j, "pid", rows[i].pid);
		api->json_string(j, "comm", rows[i].comm);
		put_totals(c, j, rows[i].count, rows[i].total_ns, 1);
		api->json_object(j, "by_type");
		for (int k = 0; k < SL_NR_SOFTIRQS; k++) {
			if (!rows[i].vec_count[k])
				continue;
			api->json_object(j, vec_names[k]);
			api->json_uint(j, "count", rows[i].vec_count[k]);
			api->json_double(j, "time_ms", ms(rows[i].vec_ns[k]));
			api->json_end(j);
		}
		api->json_end(j);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j))
			break;
	}
	api->json_end(j);
	free(rows);
	*ret_total = n;
	return shown;
}

static void softirq_cleanup(struct sl_call *c)
{
	sl_bpf_softirq_stop(c->p);
}

static void softirq_finish(struct sl_call *c)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(c->res);
	struct sl_softirq_stat *st = NULL, sum[SL_NR_SOFTIRQS];
	struct sl_softirq_row *procs = NULL;
	uint64_t kernel[SL_NR_SOFTIRQS], count = 0, ns = 0;
	size_t nprocs = 0, shown = 0, total = 0;
	bool have_kernel;
	int err;

	/* the read detaches the programs; the tables are cleared by the
	 * cleanup when the call completes */
	err = j ? sl_bpf_softirq_read(p, &st, &procs, &nprocs) : -ENOMEM;
	/* the kernel's count right after ours stopped moving */
	have_kernel = c->kernel_base_ok && kernel_counts(p, kernel);
	if (err)
		goto done;
	if (have_kernel)
		for (int v = 0; v < SL_NR_SOFTIRQS; v++)
			kernel[v] = kernel[v] >= c->kernel_base[v] ? kernel[v] - c->kernel_base[v] : 0;
	memset(sum, 0, sizeof(sum));
	for (int cpu = 0; cpu < p->ncpus; cpu++)
		for (int v = 0; v < SL_NR_SOFTIRQS; v++) {
			const struct sl_softirq_stat *s = &st[(size_t)cpu * SL_NR_SOFTIRQS + v];

			sum[v].count += s->count;
			sum[v].total_ns += s->total_ns;
			if (s->max_ns > sum[v].max_ns)
				sum[v].max_ns = s->max_ns;
			for (int b = 0; b < SL_HIST_BUCKETS; b++)
				sum[v].hist[b] += s->hist[b];
		}
	for (int v = 0; v < SL_NR_SOFTIRQS; v++)
		if (c->softirq_vec < 0 || c->softirq_vec == v) {
			count += sum[v].count;
			ns += sum[v].total_ns;
		}
	if (c->pid) { /* by_process only: the total of that process */
		count = ns = 0;
		for (size_t i = 0; i < nprocs; i++)
			if (procs[i].k.tgid == c->pid && procs[i].k.vec < SL_NR_SOFTIRQS &&
			    (c->softirq_vec < 0 || (int)procs[i].k.vec == c->softirq_vec)) {
				count += procs[i].v.count;
				ns += procs[i].v.total_ns;
			}
	}
	api->json_object(j, "window");
	api->json_string(j, "name", "measured");
	api->json_double(j, "span_s", (double)c->duration_s);
	api->json_end(j);
	api->json_string(j, "mode", mode_names[c->softirq_mode]);
	api->json_object(j, "filter");
	if (c->softirq_vec >= 0) {
		api->json_int(j, "softirq_nr", c->softirq_vec);
		api->json_string(j, "softirq_name", vec_names[c->softirq_vec]);
	}
	if (c->pid)
		api->json_int(j, "pid", c->pid);
	api->json_end(j);
	api->json_object(j, "total");
	put_totals(c, j, count, ns, p->ncpus);
	api->json_end(j);
	if (c->softirq_mode == MODE_BY_CPU)
		shown = emit_cpus(c, j, st, &total);
	else if (c->softirq_mode == MODE_BY_PROCESS)
		shown = emit_procs(c, j, procs, nprocs, &total);
	else
		emit_types(c, j, sum, have_kernel ? kernel : NULL, p->ncpus);
	if (shown == SIZE_MAX) {
		err = -ENOMEM;
		goto done;
	}
	if (c->softirq_mode == MODE_BY_CPU || c->softirq_mode == MODE_BY_PROCESS)
		api->json_bool(j, "has_more", total > c->offset + shown);
	if (total > c->offset + shown) {
		char msg[160];

		api->json_uint(j, "next_offset", c->offset + shown);
		snprintf(msg, sizeof(msg), "%zu of %zu rows shown; continue with offset=%zu", shown,
			 total, c->offset + shown);
		api->json_string(j, "truncated", msg);
	}
	api->json_array(j, "notes");
	api->json_string(j, NULL,
			 "count and time are exact: BPF times every handler (softirq_entry to "
			 "softirq_exit) while the call runs; cpu_pct is the share of all CPUs' "
			 "time (per CPU or process rows: of one CPU)");
	if (c->softirq_mode == MODE_BY_PROCESS)
		api->json_string(j, NULL,
				 "a softirq runs in the context of the task it interrupted, or of "
				 "ksoftirqd when deferred: the process is whose time it took");
	if (have_kernel && c->softirq_mode <= MODE_BY_TYPE)
		api->json_string(j, NULL,
				 "kernel_count: the kernel's own count (/proc/softirqs) over the "
				 "same window, read just before tracking started and just after it "
				 "stopped");
	if (c->softirq_mode == MODE_BY_PROCESS && nprocs >= SL_SOFTIRQ_PROCS * 3 / 4)
		api->json_string(j, NULL, "the process table (4096 entries, LRU) was nearly full: "
					  "processes with few softirqs may have been evicted");
	api->json_end(j);
done:
	free(st);
	free(procs);
	sl_call_complete(c, err);
}

static int analyze_softirq(void *data, struct smcp_call *call, const struct smcp_args *args,
			   struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	const char *mode = NULL;
	struct sl_call *c;
	int64_t v;

	if (!p->running)
		return sl_unavailable(p, res, true);
	c = sl_call_new(p, call, args, res, softirq_finish, softirq_cleanup);
	if (!c)
		return -ENOMEM;
	c->softirq_vec = -1;
	if (api->arg_string(args, "mode", &mode) == 0)
		c->softirq_mode = sl_parse_enum(mode, mode_names, MODE_N);
	if (c->softirq_mode < 0 || c->softirq_mode >= MODE_N)
		c->softirq_mode = MODE_SUMMARY; /* the schema lets only the names through */
	if (api->arg_int(args, "softirq_nr", &v) == 0)
		c->softirq_vec = (int)v;
	if (c->pid && c->softirq_mode != MODE_BY_PROCESS) {
		c->cleanup = NULL; /* nothing started: another call's tracking stays */
		sl_call_release(c);
		return api->result_error(res, "pid applies to mode by_process (the per-type and "
					      "per-CPU tables are not kept per process)");
	}
	/* the kernel's count is read before ours starts and after ours stops,
	 * so it can only be the larger */
	c->kernel_base_ok = kernel_counts(p, c->kernel_base);
	return sl_call_go_exclusive(c, sl_bpf_softirq_start, "analyze_softirq");
}

static const char softirq_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":30},"
	"\"mode\":{\"type\":\"string\",\"enum\":[\"summary\",\"by_type\",\"by_cpu\","
	"\"by_process\"]},"
	"\"softirq_nr\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
	"\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0}}}";

static const char softirq_output[] =
	"{\"type\":\"object\",\"required\":[\"total\",\"window\"]}";

int sl_softirq_register(struct sl *p)
{
	const struct smcp_tool_desc d = {
		SMCP_TOOL("analyze_softirq"),
		.description = "Softirq count, CPU time and duration percentiles over duration_s.",
		.input_schema = softirq_schema,
		.output_schema = softirq_output,
		.flags = SMCP_TOOL_READ_ONLY,
		.call = analyze_softirq,
		.data = p,
	};

	return p->api->register_tool(p->h, &d);
}
