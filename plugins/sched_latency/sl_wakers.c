/* SPDX-License-Identifier: MIT */
/*
 * analyze_waker_wakee: for duration_s, BPF counts waker -> wakee pairs (and
 * how long the wakee then waited) in an LRU hash; the answer folds threads
 * into processes unless asked not to, busiest pairs first. Tracking is on
 * only while a call runs (one at a time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/fsread.h>

#include "sl_call.h"

struct pair_agg {
	uint32_t waker, wakee; /* tid or tgid */
	uint32_t waker_tgid, wakee_tgid;
	uint64_t wakeups, waits, wait_ns;
	char waker_comm[SL_COMM_LEN + 1], wakee_comm[SL_COMM_LEN + 1];
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair_agg *x = a, *y = b;

	if (x->waker != y->waker)
		return x->waker < y->waker ? -1 : 1;
	return x->wakee < y->wakee ? -1 : x->wakee > y->wakee;
}

static int cmp_wakeups(const void *a, const void *b)
{
	const struct pair_agg *x = a, *y = b;

	return x->wakeups < y->wakeups ? 1 : x->wakeups > y->wakeups ? -1 : 0;
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

static void wakers_finish(struct sl_call *c)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(c->res);
	struct sl_wake_pair *v = NULL;
	struct pair_agg *a = NULL;
	size_t n = 0, na = 0, shown = 0;
	uint64_t total = 0;
	bool size_cut = false;
	int err;

	err = j ? sl_bpf_wakers_read(p, &v, &n) : -ENOMEM;
	if (err)
		goto done;
	a = calloc(n ? n : 1, sizeof(*a));
	if (!a) {
		err = -ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct pair_agg *x = &a[na];
		uint32_t wr = c->by_thread ? v[i].k.waker_pid : v[i].v.waker_tgid,
			 we = c->by_thread ? v[i].k.wakee_pid : v[i].v.wakee_tgid;

		if (c->pid && v[i].k.waker_pid != c->pid && v[i].v.waker_tgid != c->pid &&
		    v[i].k.wakee_pid != c->pid && v[i].v.wakee_tgid != c->pid)
			continue;
		*x = (struct pair_agg){ .waker = wr, .wakee = we,
					.waker_tgid = v[i].v.waker_tgid,
					.wakee_tgid = v[i].v.wakee_tgid,
					.wakeups = v[i].v.wakeups, .waits = v[i].v.waits,
					.wait_ns = v[i].v.wait_ns };
		memcpy(x->waker_comm, v[i].v.waker_comm, SL_COMM_LEN);
		memcpy(x->wakee_comm, v[i].v.wakee_comm, SL_COMM_LEN);
		na++;
	}
	/* fold threads into processes (or duplicates) */
	qsort(a, na, sizeof(*a), cmp_pair);
	{
		size_t w = 0;

		for (size_t i = 0; i < na; i++) {
			if (w && a[w - 1].waker == a[i].waker && a[w - 1].wakee == a[i].wakee) {
				a[w - 1].wakeups += a[i].wakeups;
				a[w - 1].waits += a[i].waits;
				a[w - 1].wait_ns += a[i].wait_ns;
				continue;
			}
			a[w++] = a[i];
		}
		na = w;
	}
	qsort(a, na, sizeof(*a), cmp_wakeups);
	for (size_t i = 0; i < na; i++)
		total += a[i].wakeups;
	api->json_object(j, "window");
	api->json_string(j, "name", "measured");
	api->json_double(j, "span_s", (double)c->duration_s);
	api->json_end(j);
	api->json_string(j, "by", c->by_thread ? "thread" : "process");
	sl_emit_filter(c, j);
	api->json_uint(j, "wakeups_total", total);
	api->json_uint(j, "pairs_total", na);
	api->json_array(j, "pairs");
	for (size_t i = c->offset; i < na && shown < c->limit; i++, shown++) {
		struct pair_agg *x = &a[i];

		comm_of(p, x->waker, x->waker_comm);
		comm_of(p, x->wakee, x->wakee_comm);
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_object(j, "waker");
		api->json_uint(j, c->by_thread ? "tid" : "pid", x->waker);
		api->json_string(j, "comm", x->waker_comm);
		api->json_end(j);
		api->json_object(j, "wakee");
		api->json_uint(j, c->by_thread ? "tid" : "pid", x->wakee);
		api->json_string(j, "comm", x->wakee_comm);
		api->json_end(j);
		api->json_uint(j, "wakeups", x->wakeups);
		api->json_double(j, "wakeups_per_s",
				 (double)x->wakeups / (c->duration_s ? c->duration_s : 1));
		api->json_double(j, "pct_of_wakeups",
				 total ? (double)(x->wakeups * 1000 / total) / 10.0 : 0);
		api->json_object(j, "wakee_wait");
		api->json_uint(j, "samples", x->waits);
		if (x->waits)
			api->json_double(j, "mean_us",
					 (double)(x->wait_ns / x->waits / 100) / 10.0);
		api->json_end(j);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j)) {
			size_cut = true; /* the answer is full: max_result_bytes */
			break;
		}
	}
	api->json_end(j);
	api->json_bool(j, "has_more", na > c->offset + shown);
	if (na > c->offset + shown) {
		char msg[160];

		api->json_uint(j, "next_offset", c->offset + shown);
		snprintf(msg, sizeof(msg), "%zu of %zu pairs shown%s; continue with offset=%zu",
			 shown, na, size_cut ? " (the answer size limit ended the page)" : "",
			 c->offset + shown);
		api->json_string(j, "truncated", msg);
	}
	if (n >= 4096)
		api->json_string(j, "note", "the pair table (4096 entries, LRU) was full: rare "
					    "pairs may be missing");
done:
	free(v);
	free(a);
	sl_call_complete(c, err);
}

static int analyze_waker_wakee(void *data, struct smcp_call *call,
			       const struct smcp_args *args, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_call *c;
	const char *by = NULL;

	if (!p->running)
		return sl_unavailable(p, res, true);
	c = sl_call_new(p, call, args, res, wakers_finish, wakers_cleanup);
	if (!c)
		return -ENOMEM;
	if (api->arg_string(args, "by", &by) == 0)
		c->by_thread = strcmp(by, "thread") == 0;
	return sl_call_go_exclusive(c, sl_bpf_wakers_start, "analyze_waker_wakee");
}

static const char wakers_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":30},"
	"\"by\":{\"type\":\"string\",\"enum\":[\"process\",\"thread\"]},"
	"\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0}}}";

static const char wakers_output[] =
	"{\"type\":\"object\",\"properties\":{\"pairs\":{\"type\":\"array\"},"
	"\"wakeups_total\":{\"type\":\"integer\"},\"window\":{\"type\":\"object\"}},"
	"\"required\":[\"pairs\"]}";

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
