// SPDX-License-Identifier: MIT
/*
 * NUMA placement: stats://numa (per node: the processes whose threads ran
 * there in the last 10 s with their CPU share, and memory locality rates
 * from numastat over the core's 1 s, 10 s and 60 s windows) and
 * stats://numa/{pid} (one process's resident pages per node, from
 * numa_maps). numastat is published as counters into the core's history
 * by a collector of its own, so it works also when BPF does not.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl.h"
#include "sl_numa.h"

#define NODE_DIR "/sys/devices/system/node"
#define NUMASTAT_MAX 4096		  /* the file is ~200 bytes: more is not numastat */
#define NUMA_MAPS_MAX (16u << 20)	  /* bytes of one process's numa_maps read at most */
#define TOP_PER_NODE 10

struct sl_numa {
	int n_nodes;
	int node[SL_NUMA_MAX_NODES]; /* ids with a numastat file, ascending */
	char label[SL_NUMA_MAX_NODES][12];
	int m[SLN_N];		     /* metric ids; 0: not registered */
};

static const char *const metric_names[SLN_N] = {
	[SLN_HIT] = "numa_hit_total",
	[SLN_MISS] = "numa_miss_total",
	[SLN_FOREIGN] = "numa_foreign_total",
	[SLN_INTERLEAVE_HIT] = "numa_interleave_hit_total",
	[SLN_LOCAL] = "numa_local_node_total",
	[SLN_OTHER] = "numa_other_node_total",
};

static const char *const metric_help[SLN_N] = {
	[SLN_HIT] = "pages allocated on the node that was intended (numastat numa_hit)",
	[SLN_MISS] = "pages allocated on this node though intended elsewhere (numa_miss)",
	[SLN_FOREIGN] = "pages intended for this node but allocated elsewhere (numa_foreign)",
	[SLN_INTERLEAVE_HIT] = "interleaved pages allocated on the intended node (interleave_hit)",
	[SLN_LOCAL] = "pages allocated here for a task running on this node (local_node)",
	[SLN_OTHER] = "pages allocated here for a task running on another node (other_node)",
};

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The nodes with a numastat file under root (ids below SL_NUMA_MAX_NODES). */
static void find_nodes(struct sl *p, struct sl_numa *n)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s" NODE_DIR, p->api->fs_root(p->h));
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) && n->n_nodes < SL_NUMA_MAX_NODES) {
		char *end;
		long id;

		if (strncmp(e->d_name, "node", 4) != 0 || e->d_name[4] < '0' || e->d_name[4] > '9')
			continue;
		id = strtol(e->d_name + 4, &end, 10);
		if (*end || id < 0 || id >= SL_NUMA_MAX_NODES)
			continue;
		n->node[n->n_nodes++] = (int)id;
	}
	closedir(d);
	qsort(n->node, (size_t)n->n_nodes, sizeof(int), cmp_int);
	for (int i = 0; i < n->n_nodes; i++)
		snprintf(n->label[i], sizeof(n->label[i]), "%d", n->node[i]);
}

/* A bit mask of the counters read into v (sl_numastat_parse), or -errno. */
static int read_numastat(struct sl *p, int node, uint64_t v[SLN_N])
{
	char path[4096], buf[NUMASTAT_MAX];
	ssize_t len;

	snprintf(path, sizeof(path), "%s" NODE_DIR "/node%d/numastat", p->api->fs_root(p->h),
		 node);
	len = sl_numa_read_small(path, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	return (int)sl_numastat_parse(buf, (size_t)len, v);
}

static void collect(void *data, uint64_t now_ns)
{
	struct sl *p = data;
	struct sl_numa *n = p->numa;

	(void)now_ns;
	for (int i = 0; i < n->n_nodes; i++) {
		const char *lv[1] = { n->label[i] };
		uint64_t v[SLN_N];
		int found = read_numastat(p, n->node[i], v);

		for (int k = 0; found > 0 && k < SLN_N; k++)
			if (found & (1 << k))
				(void)p->api->metric_set(p->h, n->m[k], lv, (double)v[k]);
	}
}

int sl_numa_init(struct sl *p)
{
	static const char *const labels[] = { "node" };
	const struct smcp_host_api *api = p->api;
	struct sl_numa *n;
	int err = 0;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->numa = n;
	find_nodes(p, n);
	if (!n->n_nodes)
		return 0; /* no NUMA in sysfs: stats://numa says so */
	for (int k = 0; !err && k < SLN_N; k++)
		err = smcp_register_metric(p->h, api, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = metric_names[k],
			.help = metric_help[k],
			.unit = "1",
			.type = SMCP_METRIC_COUNTER,
			.labels = labels,
			.n_labels = 1,
		}, &n->m[k]);
	if (err)
		return err;
	/* the first cumulative value only sets where counting starts */
	collect(p, 0);
	return api->metric_collect(p->h, collect, p);
}

void sl_numa_fini(struct sl *p)
{
	free(p->numa);
	p->numa = NULL;
}

/* ------------------------------------------------------------ processes */

struct placed {
	int node;
	uint32_t tgid;
	uint64_t run_ns;
	uint32_t threads;
};

static int cmp_node_tgid(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	if (x->node != y->node)
		return (x->node > y->node) - (x->node < y->node);
	return (x->tgid > y->tgid) - (x->tgid < y->tgid);
}

static int cmp_node_run(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	if (x->node != y->node)
		return (x->node > y->node) - (x->node < y->node);
	if (x->run_ns != y->run_ns)
		return x->run_ns < y->run_ns ? 1 : -1;
	return (x->tgid > y->tgid) - (x->tgid < y->tgid);
}

/*
 * The threads that ran in r, each on the node of the CPU it last ran on,
 * folded per (node, process) and sorted per node by CPU time. *ret is the
 * caller's to free; returns the count or -ENOMEM.
 */
static ssize_t place(struct sl *p, const struct sl_window_result *r, struct placed **ret)
{
	struct placed *v = calloc(r->n ? r->n : 1, sizeof(*v));
	size_t n = 0, out = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		const struct sl_window_row *row = &r->rows[i];
		uint32_t cpu = row->meta.last_cpu;

		if (!row->c[SLT_RUN_NS])
			continue;
		v[n++] = (struct placed){
			.node = cpu < (uint32_t)p->topo.ncpus ? p->topo.cpu_node[cpu] : -1,
			.tgid = row->meta.tgid,
			.run_ns = row->c[SLT_RUN_NS],
			.threads = 1,
		};
	}
	qsort(v, n, sizeof(*v), cmp_node_tgid);
	for (size_t i = 0; i < n; i++) {
		if (out && v[out - 1].node == v[i].node && v[out - 1].tgid == v[i].tgid) {
			v[out - 1].run_ns += v[i].run_ns;
			v[out - 1].threads++;
		} else {
			v[out++] = v[i];
		}
	}
	qsort(v, out, sizeof(*v), cmp_node_run);
	*ret = v;
	return (ssize_t)out;
}

static void emit_processes(struct sl *p, struct smcp_json *j, int node, const struct placed *v,
			   size_t n, double span_s)
{
	const struct smcp_host_api *api = p->api;
	size_t count = 0, shown = 0;
	int ncpus = 0;
	char cpus[256];

	for (int c = 0; c < p->topo.ncpus; c++)
		ncpus += p->topo.cpu_node[c] == node;
	for (size_t i = 0; i < n; i++)
		count += v[i].node == node;
	api->json_uint(j, "process_count", count);
	(void)sl_topo_cpus(&p->topo, 0, node, cpus, sizeof(cpus));
	api->json_string(j, "cpus", cpus);
	api->json_array(j, "processes");
	for (size_t i = 0; i < n && shown < TOP_PER_NODE; i++) {
		const struct sl_proc *pr;
		double pct;

		if (v[i].node != node)
			continue;
		shown++;
		pct = span_s > 0 ? (double)v[i].run_ns / 1e9 / span_s * 100.0 : 0;
		pr = sl_tasks_process(&p->tasks, v[i].tgid);
		api->json_object(j, NULL);
		api->json_uint(j, "pid", v[i].tgid);
		api->json_string(j, "comm", pr ? pr->comm : "");
		api->json_double(j, "cpu_pct", pct);
		api->json_double(j, "node_share_pct", ncpus ? pct / ncpus : 0);
		api->json_uint(j, "threads", v[i].threads);
		api->json_end(j);
	}
	api->json_end(j);
}

/* ---------------------------------------------------------------- memory */

static const struct {
	const char *name;
	uint64_t ms;
} mem_windows[] = { { "1s", 1000 }, { "10s", 10000 }, { "60s", 60000 } };

static void emit_memory(struct sl *p, struct smcp_json *j, int idx)
{
	const struct smcp_host_api *api = p->api;
	struct sl_numa *n = p->numa;
	const char *lv[1] = { n->label[idx] };

	api->json_object(j, "memory");
	for (size_t w = 0; w < SMCP_COUNT(mem_windows); w++) {
		double rate[SLN_N], span = 0;
		bool ok = true;

		for (int k = 0; ok && k < SLN_N; k++) {
			struct smcp_metric_window mw = { .sz = sizeof(mw) };

			ok = api->metric_window(p->h, n->m[k], lv, mem_windows[w].ms, &mw) == 0 &&
			     mw.steps > 0;
			if (ok) {
				span = mw.steps * mw.step_s;
				rate[k] = mw.value / span;
			}
		}
		if (!ok) {
			api->json_null(j, mem_windows[w].name);
			continue;
		}
		api->json_object(j, mem_windows[w].name);
		api->json_double(j, "span_s", span);
		for (int k = 0; k < SLN_N; k++) {
			char key[48];

			snprintf(key, sizeof(key), "%s_per_s", sl_numastat_names[k]);
			api->json_double(j, key, rate[k]);
		}
		/* the share a model asks about: how much of what was allocated
		 * here went where it was meant to, and to tasks running here */
		if (rate[SLN_HIT] + rate[SLN_MISS] > 0)
			api->json_double(j, "hit_pct",
					 rate[SLN_HIT] / (rate[SLN_HIT] + rate[SLN_MISS]) * 100);
		else
			api->json_null(j, "hit_pct");
		if (rate[SLN_LOCAL] + rate[SLN_OTHER] > 0)
			api->json_double(j, "local_pct", rate[SLN_LOCAL] /
							 (rate[SLN_LOCAL] + rate[SLN_OTHER]) *
							 100);
		else
			api->json_null(j, "local_pct");
		api->json_end(j);
	}
	api->json_end(j);
}

/* ------------------------------------------------------------- resources */

static int read_numa(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_numa *n = p->numa;
	struct sl_window_result r = { 0 };
	struct placed *v = NULL;
	ssize_t nv = 0;
	bool procs = false, have_r = false;
	int ids[SL_NUMA_MAX_NODES + 1], nids = 0;
	struct smcp_json *j;

	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	if (p->running && p->topo_ok && sl_window_rows(p, "thread", SL_W10, &r) == 0) {
		have_r = true;
		nv = place(p, &r, &v);
		procs = nv >= 0;
	}
	/* the nodes with CPUs or with numastat, ascending */
	for (int i = 0; i < n->n_nodes; i++)
		ids[nids++] = n->node[i];
	for (int c = 0; p->topo_ok && c < p->topo.ncpus && nids < SL_NUMA_MAX_NODES; c++) {
		int id = p->topo.cpu_node[c];
		bool seen = false;

		for (int i = 0; i < nids; i++)
			seen |= ids[i] == id;
		if (id >= 0 && !seen)
			ids[nids++] = id;
	}
	qsort(ids, (size_t)nids, sizeof(int), cmp_int);

	api->json_uint(j, "node_count", (uint64_t)nids);
	if (procs) {
		sl_emit_window(p, j, "window", "10s", &r);
		api->json_string(j, "placement",
				 "a thread counts on the node of the CPU it last ran on in the "
				 "window; cpu_pct: CPU time / window (100 = one CPU busy), "
				 "node_share_pct: of the node's CPUs; top 10 per node");
	} else {
		api->json_string(j, "processes_unavailable",
				 !p->running ? p->reason
				 : !p->topo_ok ? "the CPU topology could not be read from sysfs"
					       : "no data yet: the first 1 s tick has not run");
	}
	if (!n->n_nodes)
		api->json_string(j, "memory_unavailable",
				 "no " NODE_DIR "/node*/numastat (kernel without NUMA)");
	api->json_array(j, "nodes");
	for (int i = 0; i < nids; i++) {
		api->json_object(j, NULL);
		api->json_int(j, "node", ids[i]);
		if (procs)
			emit_processes(p, j, ids[i], v, (size_t)nv, sl_span_s(&r));
		for (int k = 0; k < n->n_nodes; k++)
			if (n->node[k] == ids[i])
				emit_memory(p, j, k);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_string(j, "more",
			 "stats://numa/{pid}: one process's resident pages per node (numa_maps); "
			 "stats://aggregated/node: scheduling per node");
	free(v);
	if (have_r)
		sl_window_result_free(&r);
	return 0;
}

static int read_numa_pid(void *data, struct smcp_call *call, const char *uri,
			 const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_numa_maps *m;
	struct smcp_json *j;
	char path[4096], comm[64];
	uint64_t pages = 0;
	bool truncated;
	int64_t pid = 0;
	ssize_t len;
	int err;

	if (api->arg_int(vars, "pid", &pid) || pid <= 0 || pid > 0x7fffffff) {
		api->result_error(res, "pid must be a positive integer");
		return -ENOENT;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	sl_numa_maps_init(m);
	snprintf(path, sizeof(path), "%s/proc/%lld/numa_maps", api->fs_root(p->h),
		 (long long)pid);
	err = sl_numa_maps_read(path, m, NUMA_MAPS_MAX, &truncated);
	if (err) {
		api->result_error(res, "cannot read /proc/%lld/numa_maps: %s%s", (long long)pid,
				  strerror(-err),
				  err == -ENOENT ? " (no such process, or a kernel without NUMA); "
						   "stats://numa lists the busiest processes per node"
				  : err == -EACCES ? " (reading it needs CAP_SYS_PTRACE, which "
						     "the daemon was not started with)"
						   : "");
		free(m);
		return -ENOENT;
	}
	j = api->result_json(res);
	if (!j) {
		free(m);
		return -ENOMEM;
	}
	api->json_uint(j, "pid", (uint64_t)pid);
	snprintf(path, sizeof(path), "%s/proc/%lld/comm", api->fs_root(p->h), (long long)pid);
	len = sl_numa_read_small(path, comm, sizeof(comm));
	if (len > 0) {
		comm[strcspn(comm, "\n")] = '\0';
		api->json_string(j, "comm", comm);
	}
	for (int i = 0; i < SL_NUMA_MAX_NODES; i++)
		pages += m->pages[i];
	api->json_uint(j, "mappings", m->mappings);
	api->json_uint(j, "pages", pages);
	api->json_array(j, "nodes");
	for (int i = 0; i < SL_NUMA_MAX_NODES; i++) {
		if (!m->pages[i])
			continue;
		api->json_object(j, NULL);
		api->json_int(j, "node", i);
		api->json_uint(j, "pages", m->pages[i]);
		api->json_uint(j, "kb", m->kb[i]);
		api->json_double(j, "pct", (double)m->pages[i] * 100.0 / (double)pages);
		api->json_end(j);
	}
	api->json_end(j);
	if (m->skipped)
		api->json_uint(j, "lines_skipped", m->skipped);
	if (truncated)
		api->json_string(j, "truncated", "read the first 16 MiB of numa_maps only");
	api->json_string(j, "counting",
			 "pages present per node over all mappings (N<node>= in numa_maps); "
			 "kb uses each mapping's page size");
	free(m);
	return 0;
}

int sl_numa_register(struct sl *p)
{
	const struct smcp_resource_desc res[] = { {
		SMCP_RESOURCE("stats://numa"),
		.name = "numa",
		.title = "NUMA placement per node",
		.description = "Per node: processes that ran there in the last 10 s with CPU share, "
			       "their count, and memory locality rates (numa_hit/miss/foreign, "
			       "local/other_node) for 1 s, 10 s, 60 s.",
		.mime_type = "application/json",
		.read = read_numa,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://numa/{pid}"),
		.name = "numa_pid",
		.title = "Memory pages of one process per NUMA node",
		.description = "Resident pages of one process per node, from its numa_maps.",
		.mime_type = "application/json",
		.read = read_numa_pid,
		.data = p,
	} };

	return smcp_register_resources(p->h, p->api, res, SMCP_COUNT(res));
}
