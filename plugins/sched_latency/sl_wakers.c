/* SPDX-License-Identifier: MIT */
/*
 * analyze_waker_wakee: for duration_s, BPF counts waker -> wakee pairs, how
 * long the wakee then waited to run (wakeup to switch-in), and whether it
 * was put on the waker's CPU, another LLC or another NUMA node, in an LRU
 * hash; the answer folds threads into processes unless asked not to.
 * scxtop's modes pick the view: frequency (busiest pairs, the default),
 * critical (wakeups x mean wait), latency (longest mean wait),
 * bidirectional (pairs that wake each other, both ways), for_pid (a
 * process as waker and as wakee), summary (totals). Tracking is on only
 * while a call runs (one at a time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/fsread.h>

#include "sl_call.h"

enum wake_mode { WM_FREQUENCY, WM_CRITICAL, WM_LATENCY, WM_BIDIRECTIONAL, WM_FOR_PID, WM_SUMMARY };

static const char *const wake_mode_names[] = { "frequency", "critical", "latency",
					       "bidirectional", "for_pid", "summary" };

struct pair_agg {
	uint32_t waker, wakee; /* tid or tgid */
	uint32_t waker_tgid, wakee_tgid;
	uint64_t wakeups, waits, wait_ns, wait_max_ns;
	uint64_t same_cpu, cross_llc, cross_node;
	char waker_comm[SL_COMM_LEN + 1], wakee_comm[SL_COMM_LEN + 1];
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair_agg *x = a, *y = b;

	if (x->waker != y->waker)
		return x->waker < y->waker ? -1 : 1;
	return x->wakee < y->wakee ? -1 : x->wakee > y->wakee;
}

static int cmp_u64_desc(uint64_t x, uint64_t y)
{
	return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_wakeups(const void *a, const void *b)
{
	const struct pair_agg *x = a, *y = b;

	return cmp_u64_desc(x->wakeups, y->wakeups);
}

static double mean_wait_ns(const struct pair_agg *x)
{
	return x->waits ? (double)x->wait_ns / (double)x->waits : 0;
}

/* scxtop's critical score: how often, times how long each wait was. */
static double critical_score(const struct pair_agg *x)
{
	return (double)x->wakeups * mean_wait_ns(x);
}

static int cmp_double_desc(double x, double y)
{
	return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_critical(const void *a, const void *b)
{
	int r = cmp_double_desc(critical_score(a), critical_score(b));

	return r ? r : cmp_wakeups(a, b);
}

static int cmp_latency(const void *a, const void *b)
{
	int r = cmp_double_desc(mean_wait_ns(a), mean_wait_ns(b));

	return r ? r : cmp_wakeups(a, b);
}

static void comm_of(struct sl *p, uint32_t pid, char *buf)
{
	char path[64];

	if (buf[0])
		return;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	if (smcp_read_file(p->api->fs_root(p->h), path, buf, SL_COMM_LEN + 1) < 0)
		buf[0] = '\0'; /* the task is gone: no comm */
}

static void wakers_cleanup(struct sl_call *c)
{
	sl_bpf_wakers_stop(c->p);
}

/* Microseconds, to 0.1 us. */
static double us_of(double ns)
{
	return (double)(uint64_t)(ns / 100) / 10.0;
}

static void put_task(struct sl_call *c, struct smcp_json *j, const char *key, uint32_t id,
		     const char *comm)
{
	const struct smcp_host_api *api = c->p->api;

	api->json_object(j, key);
	api->json_uint(j, c->by_thread ? "tid" : "pid", id);
	api->json_string(j, "comm", comm);
	api->json_end(j);
}

/* The wakee's wait after these wakeups: samples, mean, max. */
static void put_wait(struct sl_call *c, struct smcp_json *j, const char *key,
		     const struct pair_agg *x)
{
	const struct smcp_host_api *api = c->p->api;

	api->json_object(j, key);
	api->json_uint(j, "samples", x->waits);
	if (x->waits) {
		api->json_double(j, "mean_us", us_of(mean_wait_ns(x)));
		api->json_double(j, "max_us", us_of((double)x->wait_max_ns));
	}
	api->json_end(j);
}

/* Where the wakee was put, against the waker's CPU. */
static void put_placement(struct sl_call *c, struct smcp_json *j, const struct pair_agg *x)
{
	const struct smcp_host_api *api = c->p->api;

	api->json_object(j, "placement");
	api->json_uint(j, "same_cpu", x->same_cpu);
	api->json_uint(j, "cross_llc", x->cross_llc);
	api->json_uint(j, "cross_node", x->cross_node);
	api->json_end(j);
}

static void put_pair(struct sl_call *c, struct smcp_json *j, struct pair_agg *x, uint64_t total)
{
	const struct smcp_host_api *api = c->p->api;
	struct sl *p = c->p;

	comm_of(p, x->waker, x->waker_comm);
	comm_of(p, x->wakee, x->wakee_comm);
	api->json_object(j, NULL);
	put_task(c, j, "waker", x->waker, x->waker_comm);
	put_task(c, j, "wakee", x->wakee, x->wakee_comm);
	api->json_uint(j, "wakeups", x->wakeups);
	api->json_double(j, "wakeups_per_s",
			 (double)x->wakeups / (c->duration_s ? c->duration_s : 1));
	api->json_double(j, "pct_of_wakeups",
			 total ? (double)(x->wakeups * 1000 / total) / 10.0 : 0);
	put_wait(c, j, "wakee_wait", x);
	if (c->wake_mode == WM_CRITICAL)
		api->json_double(j, "critical_score_ms", us_of(critical_score(x)) / 1000);
	put_placement(c, j, x);
	api->json_end(j);
}

/*
 * Rows [offset, offset + limit) of a (sorted) under key, each kept only
 * while the answer has room (max_result_bytes); match (NULL: all) picks
 * the rows. Returns how many were shown; *ret_total the rows matched.
 */
static size_t put_pairs(struct sl_call *c, struct smcp_json *j, const char *key,
			struct pair_agg *a, size_t na, uint64_t total,
			bool (*match)(const struct sl_call *c, const struct pair_agg *x),
			size_t *ret_total, bool *ret_cut)
{
	const struct smcp_host_api *api = c->p->api;
	size_t shown = 0, n = 0;

	api->json_array(j, key);
	for (size_t i = 0; i < na; i++) {
		if (match && !match(c, &a[i]))
			continue;
		if (n++ < c->offset || shown >= c->limit || *ret_cut)
			continue;
		smcp_json_item_begin(api, j);
		put_pair(c, j, &a[i], total);
		if (!smcp_json_item_fits(api, j))
			*ret_cut = true; /* the answer is full: count the rest */
		else
			shown++;
	}
	api->json_end(j);
	*ret_total = n;
	return shown;
}

static bool is_waker(const struct sl_call *c, const struct pair_agg *x)
{
	return x->waker == c->pid || x->waker_tgid == c->pid;
}

static bool is_wakee(const struct sl_call *c, const struct pair_agg *x)
{
	return x->wakee == c->pid || x->wakee_tgid == c->pid;
}

static const struct pair_agg *find_pair(const struct pair_agg *by_id, size_t n, uint32_t waker,
				       uint32_t wakee)
{
	struct pair_agg key = { .waker = waker, .wakee = wakee };

	return bsearch(&key, by_id, n, sizeof(*by_id), cmp_pair);
}

/* Pairs that wake each other: each once (the lower id as a), busiest first. */
struct bidi {
	const struct pair_agg *ab, *ba;
};

static int cmp_bidi(const void *a, const void *b)
{
	const struct bidi *x = a, *y = b;

	return cmp_u64_desc(x->ab->wakeups + x->ba->wakeups, y->ab->wakeups + y->ba->wakeups);
}

static size_t find_bidi(const struct pair_agg *by_id, size_t na, struct bidi *out)
{
	size_t n = 0;

	for (size_t i = 0; i < na; i++) {
		const struct pair_agg *x = &by_id[i], *y;

		if (x->waker >= x->wakee)
			continue;
		y = find_pair(by_id, na, x->wakee, x->waker);
		if (y)
			out[n++] = (struct bidi){ x, y };
	}
	qsort(out, n, sizeof(*out), cmp_bidi);
	return n;
}

static void put_direction(struct sl_call *c, struct smcp_json *j, const char *key,
			  const struct pair_agg *x)
{
	const struct smcp_host_api *api = c->p->api;

	api->json_object(j, key);
	api->json_uint(j, "wakeups", x->wakeups);
	put_wait(c, j, "wakee_wait", x);
	put_placement(c, j, x);
	api->json_end(j);
}

static size_t put_bidi(struct sl_call *c, struct smcp_json *j, struct bidi *b, size_t nb,
		       bool *ret_cut)
{
	const struct smcp_host_api *api = c->p->api;
	size_t shown = 0;

	api->json_array(j, "pairs");
	for (size_t i = c->offset; i < nb && shown < c->limit; i++) {
		struct pair_agg *ab = (struct pair_agg *)b[i].ab, *ba = (struct pair_agg *)b[i].ba;

		comm_of(c->p, ab->waker, ab->waker_comm);
		comm_of(c->p, ab->wakee, ab->wakee_comm);
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		put_task(c, j, "a", ab->waker, ab->waker_comm);
		put_task(c, j, "b", ab->wakee, ab->wakee_comm);
		put_direction(c, j, "a_wakes_b", ab);
		put_direction(c, j, "b_wakes_a", ba);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j)) {
			*ret_cut = true;
			break;
		}
		shown++;
	}
	api->json_end(j);
	return shown;
}

static void put_summary(struct sl_call *c, struct smcp_json *j, const struct pair_agg *a,
			size_t na, size_t nbidi)
{
	const struct smcp_host_api *api = c->p->api;
	struct pair_agg all = { 0 };

	for (size_t i = 0; i < na; i++) {
		all.wakeups += a[i].wakeups;
		all.waits += a[i].waits;
		all.wait_ns += a[i].wait_ns;
		if (a[i].wait_max_ns > all.wait_max_ns)
			all.wait_max_ns = a[i].wait_max_ns;
		all.same_cpu += a[i].same_cpu;
		all.cross_llc += a[i].cross_llc;
		all.cross_node += a[i].cross_node;
	}
	api->json_object(j, "summary");
	api->json_uint(j, "pairs", na);
	api->json_uint(j, "bidirectional_pairs", nbidi);
	api->json_uint(j, "wakeups", all.wakeups);
	put_wait(c, j, "wakee_wait", &all);
	put_placement(c, j, &all);
	api->json_end(j);
}

/* Pairs that do not concern c->pid are dropped (for every mode). */
static bool wanted(const struct sl_call *c, const struct sl_wake_pair *v)
{
	return !c->pid || v->k.waker_pid == c->pid || v->v.waker_tgid == c->pid ||
	       v->k.wakee_pid == c->pid || v->v.wakee_tgid == c->pid;
}

static void wakers_finish(struct sl_call *c)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(c->res);
	struct sl_wake_pair *v = NULL;
	struct pair_agg *a = NULL, *by_id = NULL;
	struct bidi *bidi = NULL;
	size_t n = 0, na = 0, shown = 0, listed = 0, nbidi = 0;
	uint64_t total = 0;
	bool cut = false;
	int err;

	err = j ? sl_bpf_wakers_read(p, &v, &n) : -ENOMEM;
	if (err)
		goto done;
	a = calloc(n ? n : 1, sizeof(*a));
	by_id = calloc(n ? n : 1, sizeof(*by_id));
	bidi = calloc(n ? n : 1, sizeof(*bidi));
	if (!a || !by_id || !bidi) {
		err = -ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct pair_agg *x = &a[na];

		if (!wanted(c, &v[i]))
			continue;
		*x = (struct pair_agg){
			.waker = c->by_thread ? v[i].k.waker_pid : v[i].v.waker_tgid,
			.wakee = c->by_thread ? v[i].k.wakee_pid : v[i].v.wakee_tgid,
			.waker_tgid = v[i].v.waker_tgid, .wakee_tgid = v[i].v.wakee_tgid,
			.wakeups = v[i].v.wakeups, .waits = v[i].v.waits,
			.wait_ns = v[i].v.wait_ns, .wait_max_ns = v[i].v.wait_max_ns,
			.same_cpu = v[i].v.same_cpu, .cross_llc = v[i].v.cross_llc,
			.cross_node = v[i].v.cross_node,
		};
		memcpy(x->waker_comm, v[i].v.waker_comm, SL_COMM_LEN);
		memcpy(x->wakee_comm, v[i].v.wakee_comm, SL_COMM_LEN);
		na++;
	}
	/* fold threads into processes (or duplicates) */
	qsort(a, na, sizeof(*a), cmp_pair);
	{
		size_t w = 0;

		for (size_t i = 0; i < na; i++) {
			struct pair_agg *y = w ? &a[w - 1] : NULL;

			if (y && y->waker == a[i].waker && y->wakee == a[i].wakee) {
				y->wakeups += a[i].wakeups;
				y->waits += a[i].waits;
				y->wait_ns += a[i].wait_ns;
				if (a[i].wait_max_ns > y->wait_max_ns)
					y->wait_max_ns = a[i].wait_max_ns;
				y->same_cpu += a[i].same_cpu;
				y->cross_llc += a[i].cross_llc;
				y->cross_node += a[i].cross_node;
				continue;
			}
			a[w++] = a[i];
		}
		na = w;
	}
	/* by_id keeps the (waker, wakee) order for finding a pair's reverse */
	memcpy(by_id, a, na * sizeof(*a));
	nbidi = find_bidi(by_id, na, bidi);
	qsort(a, na, sizeof(*a),
	      c->wake_mode == WM_CRITICAL ? cmp_critical
	      : c->wake_mode == WM_LATENCY ? cmp_latency
					   : cmp_wakeups);
	for (size_t i = 0; i < na; i++)
		total += a[i].wakeups;
	api->json_object(j, "window");
	api->json_string(j, "name", "measured");
	api->json_double(j, "span_s", (double)c->duration_s);
	api->json_end(j);
	api->json_string(j, "mode", wake_mode_names[c->wake_mode]);
	api->json_string(j, "by", c->by_thread ? "thread" : "process");
	sl_emit_filter(c, j);
	api->json_uint(j, "wakeups_total", total);
	api->json_uint(j, "pairs_total", na);
	if (!p->topo_ok)
		api->json_string(j, "placement_note", "the CPU topology could not be read: "
						      "cross_llc and cross_node are not counted");
	switch (c->wake_mode) {
	case WM_SUMMARY:
		put_summary(c, j, a, na, nbidi);
		/* and the five busiest pairs, for what the totals are made of */
		c->offset = 0;
		if (c->limit > 5)
			c->limit = 5;
		shown = put_pairs(c, j, "top_pairs", a, na, total, NULL, &listed, &cut);
		listed = shown; /* nothing to page: the top pairs are the answer */
		break;
	case WM_BIDIRECTIONAL:
		api->json_uint(j, "bidirectional_pairs", nbidi);
		shown = put_bidi(c, j, bidi, nbidi, &cut);
		listed = nbidi;
		break;
	case WM_FOR_PID: {
		size_t s2, l2;

		shown = put_pairs(c, j, "as_waker", a, na, total, is_waker, &listed, &cut);
		s2 = put_pairs(c, j, "as_wakee", a, na, total, is_wakee, &l2, &cut);
		/* one offset pages both lists: the longer one says what is left */
		if (l2 > listed || (l2 == listed && s2 < shown)) {
			listed = l2;
			shown = s2;
		}
		break;
	}
	default:
		shown = put_pairs(c, j, "pairs", a, na, total, NULL, &listed, &cut);
		break;
	}
	api->json_bool(j, "has_more", listed > c->offset + shown);
	if (listed > c->offset + shown) {
		char msg[200];

		api->json_uint(j, "next_offset", c->offset + shown);
		snprintf(msg, sizeof(msg), "%zu of %zu %s shown%s; continue with offset=%zu", shown,
			 listed, c->wake_mode == WM_BIDIRECTIONAL ? "two-way pairs" : "pairs",
			 cut ? " (the answer size limit ended the page)" : "", c->offset + shown);
		api->json_string(j, "truncated", msg);
	}
	if (n >= 4096)
		api->json_string(j, "note", "the pair table (4096 entries, LRU) was full: rare "
					    "pairs may be missing");
done:
	free(v);
	free(a);
	free(by_id);
	free(bidi);
	sl_call_complete(c, err);
}

static int analyze_waker_wakee(void *data, struct smcp_call *call,
			       const struct smcp_args *args, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_call *c;
	const char *by = NULL, *mode = NULL;

	if (!p->running)
		return sl_unavailable(p, res, true);
	c = sl_call_new(p, call, args, res, wakers_finish, wakers_cleanup);
	if (!c)
		return -ENOMEM;
	if (api->arg_string(args, "by", &by) == 0)
		c->by_thread = strcmp(by, "thread") == 0;
	if (api->arg_string(args, "mode", &mode) == 0)
		for (size_t i = 0; i < sizeof(wake_mode_names) / sizeof(wake_mode_names[0]); i++)
			if (strcmp(mode, wake_mode_names[i]) == 0)
				c->wake_mode = (int)i;
	if (c->wake_mode == WM_FOR_PID && !c->pid) {
		sl_call_release(c);
		return api->result_error(res, "mode for_pid needs pid: the process (or thread) "
					      "whose wakers and wakees to show, e.g. {\"mode\": "
					      "\"for_pid\", \"pid\": 1234}");
	}
	return sl_call_go_exclusive(c, sl_bpf_wakers_start, "analyze_waker_wakee");
}

static const char wakers_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":30},"
	"\"by\":{\"type\":\"string\",\"enum\":[\"process\",\"thread\"]},"
	"\"mode\":{\"type\":\"string\",\"enum\":[\"frequency\",\"critical\",\"latency\","
	"\"bidirectional\",\"for_pid\",\"summary\"]},"
	"\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0}}}";

static const char wakers_output[] =
	"{\"type\":\"object\",\"required\":[\"window\",\"wakeups_total\"]}";

int sl_wakers_register(struct sl *p)
{
	const struct smcp_tool_desc d = {
		SMCP_TOOL("analyze_waker_wakee"),
		.description = "Who wakes whom over duration_s, with the wakee's mean wait.",
		.input_schema = wakers_schema,
		.output_schema = wakers_output,
		.flags = SMCP_TOOL_READ_ONLY,
		.call = analyze_waker_wakee,
		.data = p,
	};

	return p->api->register_tool(p->h, &d);
}
