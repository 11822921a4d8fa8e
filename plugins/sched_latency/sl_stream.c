/* SPDX-License-Identifier: MIT */
/*
 * The live event stream: BPF filters and rate-limits per CPU and writes
 * records into a ring buffer; this file drains it on the loop (fd
 * readiness, plus a short timer because BPF wakes the reader only once a
 * batch has built up) and publishes each record as a sched.* event into
 * the core's bounded ring, which serves events://stream and poll_events.
 * Losses (ring buffer full, rate limits) are counted and published as
 * sched.stream_loss events, so a gap is never silent. Under sched_ext the
 * DSQ object writes sched.dsq_insert records into the same ring buffer,
 * and events of tasks that go through a DSQ name it (SL_EVF_DSQ).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <bpf/libbpf.h>

#include "sl_call.h"

#define DRAIN_MS 200
#define NSEC_PER_SEC 1000000000ull

static const char *state_str(uint32_t s)
{
	static const char *const names[] = { "S", "D", "T", "t", "X", "Z", "P", "I" };

	if (!s)
		return "R";
	if ((s & 0x402) == 0x402)
		return "I"; /* TASK_IDLE */
	for (unsigned b = 0; b < 8; b++)
		if (s & (1u << b))
			return names[b];
	return "?";
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case SL_EV_SWITCH:
		return "sched.switch";
	case SL_EV_WAKEUP:
		return "sched.wakeup";
	case SL_EV_WAKEUP_NEW:
		return "sched.wakeup_new";
	case SL_EV_MIGRATE:
		return "sched.migrate";
	case SL_EV_DSQ_INSERT:
		return "sched.dsq_insert";
	}
	return NULL;
}

/* "dsq": its name, "dsq_id": the raw 64-bit id. */
static void emit_dsq(const struct smcp_host_api *api, struct smcp_json *j, const char *name_key,
		     const char *id_key, uint64_t id)
{
	char name[48];

	sl_dsq_name(id, name, sizeof(name));
	api->json_string(j, name_key, name);
	api->json_uint(j, id_key, id);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct sl *p = ctx;
	const struct smcp_host_api *api = p->api;
	const struct sl_event *e = data;
	struct sl_stream *st = &p->stream;
	uint64_t now = api->now_ns(p->h);
	const char *type;
	struct smcp_json *j;
	char comm[SL_COMM_LEN + 1], other[SL_COMM_LEN + 1];

	if (size < sizeof(*e) || !(type = type_name(e->type)))
		return 0;
	/* BPF limits per CPU; this keeps the total within the budget */
	if (now - st->budget_window_ns >= NSEC_PER_SEC) {
		st->budget_window_ns = now;
		st->budget_used = 0;
	}
	if (st->budget_used >= (uint64_t)p->cfg.stream_rate) {
		st->over_budget++;
		return 0;
	}
	st->budget_used++;
	memcpy(comm, e->comm, SL_COMM_LEN);
	comm[SL_COMM_LEN] = '\0';
	memcpy(other, e->other_comm, SL_COMM_LEN);
	other[SL_COMM_LEN] = '\0';
	j = api->event_begin(p->h, type);
	if (!j) {
		st->publish_failed++;
		return 0;
	}
	api->json_uint(j, "ktime_ns", e->ts_ns);
	api->json_uint(j, "cpu", e->cpu);
	api->json_uint(j, "pid", e->pid);
	api->json_uint(j, "tgid", e->tgid);
	api->json_string(j, "comm", comm);
	switch (e->type) {
	case SL_EV_SWITCH:
		if (e->latency_ns)
			api->json_double(j, "wait_us", (double)e->latency_ns / 1000.0);
		else
			api->json_null(j, "wait_us");
		api->json_uint(j, "prev_pid", e->other_pid);
		api->json_uint(j, "prev_tgid", e->other_tgid);
		api->json_string(j, "prev_comm", other);
		api->json_string(j, "prev_state", state_str(e->prev_state));
		api->json_bool(j, "preempted", e->flags & SL_EVF_PREEMPTED);
		break;
	case SL_EV_WAKEUP:
		if (e->other_pid) {
			api->json_uint(j, "waker_pid", e->other_pid);
			api->json_uint(j, "waker_tgid", e->other_tgid);
		}
		break;
	case SL_EV_MIGRATE:
		api->json_int(j, "src_cpu", e->src_cpu);
		api->json_int(j, "dst_cpu", e->dst_cpu);
		if (p->topo_ok && e->src_cpu >= 0 && e->dst_cpu >= 0 &&
		    e->src_cpu < p->topo.ncpus && e->dst_cpu < p->topo.ncpus) {
			api->json_bool(j, "cross_llc",
				       p->topo.cpu_llc[e->src_cpu] != p->topo.cpu_llc[e->dst_cpu]);
			api->json_bool(j, "cross_node",
				       p->topo.cpu_node[e->src_cpu] !=
					       p->topo.cpu_node[e->dst_cpu]);
		}
		break;
	}
	if (e->flags & SL_EVF_DSQ) {
		emit_dsq(api, j, "dsq", "dsq_id", e->dsq_id);
		if (e->type == SL_EV_SWITCH)
			api->json_double(j, "dsq_wait_us", (double)e->dsq_wait_ns / 1000.0);
	}
	if (e->flags & SL_EVF_FROM_DSQ)
		emit_dsq(api, j, "from_dsq", "from_dsq_id", e->from_dsq_id);
	if (api->event_commit(p->h, j))
		st->publish_failed++;
	else
		st->published++;
	return 0;
}

void sl_stream_drain(struct sl *p)
{
	if (p->stream.rb)
		(void)ring_buffer__consume(p->stream.rb);
}

static void on_ready(void *data, int fd, uint32_t revents)
{
	sl_stream_drain(data);
}

static void on_drain_timer(void *data)
{
	sl_stream_drain(data);
}

int sl_stream_init(struct sl *p)
{
	struct sl_stream *st = &p->stream;
	int err;

	st->rb_fd = -1;
	st->rb = ring_buffer__new(sl_bpf_events_fd(p), on_sample, p, NULL);
	if (!st->rb)
		return -errno;
	err = p->api->watch_fd(p->h, ring_buffer__epoll_fd(st->rb), EPOLLIN, on_ready, p);
	if (err) {
		ring_buffer__free(st->rb);
		st->rb = NULL;
		return err;
	}
	st->rb_fd = ring_buffer__epoll_fd(st->rb);
	err = p->api->timer_add(p->h, DRAIN_MS, true, on_drain_timer, p);
	if (err < 0)
		return err;
	st->drain_timer = err;
	return 0;
}

void sl_stream_fini(struct sl *p)
{
	struct sl_stream *st = &p->stream;

	if (st->drain_timer > 0)
		(void)p->api->timer_remove(p->h, st->drain_timer);
	st->drain_timer = 0;
	if (st->rb_fd >= 0)
		(void)p->api->unwatch_fd(p->h, st->rb_fd);
	st->rb_fd = -1;
	ring_buffer__free(st->rb);
	st->rb = NULL;
}

/* Once a second: say what was lost since the last tick. */
void sl_stream_tick(struct sl *p, const struct sl_cpu_snap *s)
{
	const struct smcp_host_api *api = p->api;
	struct sl_stream *st = &p->stream;
	uint64_t dropped = s->ev_dropped - st->last_dropped,
		 limited = s->ev_rate_limited - st->last_limited,
		 over = st->over_budget - st->last_over;
	struct smcp_json *j;

	st->last_sent = s->ev_sent;
	st->last_dropped = s->ev_dropped;
	st->last_limited = s->ev_rate_limited;
	st->last_over = st->over_budget;
	if (!dropped && !limited && !over)
		return;
	j = api->event_begin(p->h, "sched.stream_loss");
	if (!j)
		return;
	api->json_uint(j, "ring_buffer_full", dropped);
	api->json_uint(j, "rate_limited_in_bpf", limited);
	api->json_uint(j, "over_events_per_s", over);
	api->json_uint(j, "max_events_per_s", (uint64_t)p->cfg.stream_rate);
	api->json_string(j, "note",
			 "events not delivered in the last second; narrow the filter with "
			 "control_event_tracking (pid, cpu, types, min_latency_us)");
	(void)api->event_commit(p->h, j);
}

/* ------------------------------------------------ control_event_tracking */

/* bit i of the type mask */
static const char *const ev_names[SL_EV_NTYPES] = { "switch", "wakeup", "wakeup_new", "migrate",
						   "dsq_insert" };

static uint32_t parse_types(const char *s, char *bad, size_t len)
{
	uint32_t mask = 0;
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		int i = sl_parse_enum(tok, ev_names, SL_EV_NTYPES);

		if (i < 0) {
			snprintf(bad, len, "%s", tok);
			return 0;
		}
		mask |= 1u << i;
	}
	return mask;
}

static void emit_stream_status(struct sl *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	const struct sl_stream_ctl *ctl = &p->stream.ctl;
	struct sl_cpu_snap s;

	api->json_bool(j, "enabled", ctl->enabled);
	api->json_object(j, "filter");
	api->json_array(j, "types");
	for (int i = 0; i < SL_EV_NTYPES; i++)
		if (ctl->type_mask & (1u << i))
			api->json_string(j, NULL, ev_names[i]);
	api->json_end(j);
	if (ctl->pid)
		api->json_uint(j, "pid", ctl->pid);
	if (ctl->cpu >= 0)
		api->json_int(j, "cpu", ctl->cpu);
	if (ctl->min_latency_ns)
		api->json_double(j, "min_latency_us", (double)ctl->min_latency_ns / 1000.0);
	api->json_end(j);
	api->json_int(j, "max_events_per_s", p->cfg.stream_rate);
	/* sched_ext: whether events name DSQs and dsq_insert events can come */
	api->json_bool(j, "dsq_fields", sl_dsq_stream_fields(p));
	api->json_object(j, "counters_since_start");
	if (sl_bpf_read_cpus(p, &s) == 0) {
		api->json_uint(j, "from_bpf", s.ev_sent);
		api->json_uint(j, "lost_ring_buffer_full", s.ev_dropped);
		api->json_uint(j, "lost_rate_limited_in_bpf", s.ev_rate_limited);
		sl_cpu_snap_free(&s);
	}
	api->json_uint(j, "lost_over_events_per_s", p->stream.over_budget);
	api->json_uint(j, "published", p->stream.published);
	api->json_uint(j, "publish_failed", p->stream.publish_failed);
	api->json_end(j);
	api->json_string(j, "read_with",
			 "poll_events {type: \"sched.\"} with its cursor, or subscribe to "
			 "events://stream; losses arrive as sched.stream_loss events");
}

static int control_event_tracking(void *data, struct smcp_call *call,
				  const struct smcp_args *args, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_stream_ctl ctl;
	const char *action = NULL, *types = NULL;
	struct smcp_json *j;
	int64_t v;
	double d;

	if (!p->running)
		return sl_unavailable(p, res, true);
	if (api->arg_string(args, "action", &action))
		return api->result_error(res, "action is required: enable, disable or status");
	if (strcmp(action, "enable") == 0) {
		char bad[64] = "";

		ctl = (struct sl_stream_ctl){ .enabled = 1, .type_mask = SL_EV_ALL, .cpu = -1 };
		if (api->arg_string(args, "types", &types) == 0) {
			ctl.type_mask = parse_types(types, bad, sizeof(bad));
			if (!ctl.type_mask)
				return api->result_error(
					res,
					"unknown event type '%s': use a comma list of "
					"switch, wakeup, wakeup_new, migrate, dsq_insert",
					bad);
		}
		if (api->arg_int(args, "pid", &v) == 0)
			ctl.pid = (uint32_t)v;
		if (api->arg_int(args, "cpu", &v) == 0) {
			if (v >= p->ncpus)
				return api->result_error(res, "cpu %lld does not exist (CPUs 0-%d)",
							 (long long)v, p->ncpus - 1);
			ctl.cpu = (int32_t)v;
		}
		if (api->arg_double(args, "min_latency_us", &d) == 0)
			ctl.min_latency_ns = (uint64_t)(d * 1000.0);
		if (api->arg_int(args, "max_events_per_s", &v) == 0)
			p->cfg.stream_rate = v;
		/* what the old filter let through is published before this
		 * answer: the new filter goes in first, then the ring is drained,
		 * so nothing recorded under the old one arrives after it */
		p->stream.ctl = ctl;
		sl_bpf_stream_apply(p);
		sl_stream_drain(p);
	} else if (strcmp(action, "disable") == 0) {
		p->stream.ctl.enabled = 0;
		sl_bpf_stream_apply(p);
		sl_stream_drain(p);
	} else if (strcmp(action, "status") != 0) {
		return api->result_error(res, "action must be enable, disable or status");
	}
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	emit_stream_status(p, j);
	return 0;
}

static const char control_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"action\"],"
	"\"properties\":{"
	"\"action\":{\"type\":\"string\",\"enum\":[\"enable\",\"disable\",\"status\"]},"
	"\"types\":{\"type\":\"string\",\"maxLength\":100,\"description\":\"list of "
	"switch,wakeup,wakeup_new,migrate,dsq_insert; default all\"},"
	"\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"cpu\":{\"type\":\"integer\",\"minimum\":0},"
	"\"min_latency_us\":{\"type\":\"number\",\"minimum\":0},"
	"\"max_events_per_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100000}}}";

static const char control_output[] =
	"{\"type\":\"object\",\"required\":[\"enabled\"]}";

int sl_stream_register(struct sl *p)
{
	const struct smcp_tool_desc d = {
		SMCP_TOOL("control_event_tracking"),
		.description = "Put sched.* events in events://stream (read with poll_events).",
		.input_schema = control_schema,
		.output_schema = control_output,
		.flags = SMCP_TOOL_IDEMPOTENT,
		.call = control_event_tracking,
		.data = p,
	};

	return p->api->register_tool(p->h, &d);
}
