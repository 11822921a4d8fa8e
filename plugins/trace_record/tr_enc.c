/* SPDX-License-Identifier: MIT */
/* Perfetto packets from tr_event records; see tr_enc.h. */
#include <stdio.h>
#include <string.h>

#include "tr_enc.h"

/* TracePacket */
#define TP_FTRACE_EVENTS 1
#define TP_CLOCK_SNAPSHOT 6
#define TP_SEQ_ID 10
#define TP_FTRACE_STATS 34
#define TP_TRACE_STATS 35
#define TP_SYSTEM_INFO 45
#define TP_TIMESTAMP 8
#define TP_TRACK_EVENT 11
#define TP_TRACK_DESCRIPTOR 60

/* TrackDescriptor, CounterDescriptor, TrackEvent */
#define TD_UUID 1
#define TD_NAME 2
#define TD_PARENT_UUID 5
#define TD_COUNTER 8
#define CD_UNIT 3
#define CD_UNIT_TIME_NS 1
#define CD_UNIT_COUNT 2
#define TE_TYPE 9
#define TE_TYPE_COUNTER 4
#define TE_TRACK_UUID 11
#define TE_COUNTER_VALUE 30

/* FtraceEventBundle and its CompactSched */
#define FB_CPU 1
#define FB_EVENT 2
#define FB_LOST 3
#define FB_COMPACT 4
#define CS_SW_TS 1
#define CS_SW_STATE 2
#define CS_SW_PID 3
#define CS_SW_PRIO 4
#define CS_INTERN 5
#define CS_SW_COMM 6
#define CS_WK_TS 7
#define CS_WK_PID 8
#define CS_WK_CPU 9
#define CS_WK_PRIO 10
#define CS_WK_COMM 11
#define CS_WK_FLAGS 12

/* FtraceEvent */
#define FE_TS 1
#define FE_PID 2
#define FE_CPU_FREQUENCY 11
#define FE_CPU_IDLE 13
#define FE_SOFTIRQ_ENTRY 24
#define FE_SOFTIRQ_EXIT 25
#define FE_IRQ_ENTRY 36
#define FE_IRQ_EXIT 37
#define FE_WAKEUP_NEW 114
#define FE_EXEC 237
#define FE_EXIT 238
#define FE_FORK 239
#define FE_MIGRATE 491

static uint32_t comm_hash(const char *c)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < TR_COMM_LEN && c[i]; i++)
		h = (h ^ (uint8_t)c[i]) * 16777619u;
	return h;
}

/* Index of comm in the table, adding it; -1 when the table is full. */
static int intern(struct tr_intern *it, const char *comm)
{
	uint32_t s = comm_hash(comm) & (TR_INTERN_SLOTS - 1);

	for (;;) {
		uint16_t v = it->slot[s];

		if (!v)
			break;
		if (!strncmp(it->names[v - 1], comm, TR_COMM_LEN))
			return v - 1;
		s = (s + 1) & (TR_INTERN_SLOTS - 1);
	}
	if (it->n >= TR_INTERN_MAX)
		return -1;
	memcpy(it->names[it->n], comm, TR_COMM_LEN);
	it->slot[s] = (uint16_t)(++it->n);
	return (int)it->n - 1;
}

static bool compact(uint16_t t)
{
	return t == TR_SWITCH || t == TR_WAKING;
}

/* A packed column over the events of one type. */
enum col { C_TS, C_STATE, C_PID, C_PRIO, C_COMM, C_TCPU, C_FLAGS };

static void column(struct tr_pb *pb, uint32_t field, uint16_t type, enum col col,
		   const struct tr_event *const *ev, const struct tr_intern *it, size_t n)
{
	uint64_t prev_ts = 0;
	size_t mark = tr_pb_begin(pb, field);

	for (size_t i = 0; i < n; i++) {
		const struct tr_event *e = ev[i];
		uint64_t v = 0;

		if (e->type != type)
			continue;
		switch (col) {
		case C_TS: /* delta-encoded within the bundle */
			v = e->ts_ns - prev_ts;
			prev_ts = e->ts_ns;
			break;
		case C_STATE: v = (uint64_t)e->a; break;
		case C_PID: v = (uint64_t)(int64_t)e->b; break;
		case C_PRIO: v = (uint64_t)(int64_t)e->c; break;
		case C_TCPU: v = (uint64_t)(int64_t)e->d; break;
		case C_COMM: v = it->idx[i]; break;
		case C_FLAGS: v = 0; break;
		}
		tr_pb_raw_varint(pb, v);
	}
	tr_pb_end(pb, mark);
}

static void ftrace_event(struct tr_pb *pb, const struct tr_event *e)
{
	size_t ev = tr_pb_begin(pb, FB_EVENT), m;

	tr_pb_uint(pb, FE_TS, e->ts_ns);
	tr_pb_uint(pb, FE_PID, e->pid);
	switch (e->type) {
	case TR_WAKEUP_NEW:
		m = tr_pb_begin(pb, FE_WAKEUP_NEW);
		tr_pb_strn(pb, 1, e->comm, TR_COMM_LEN);
		tr_pb_int(pb, 2, e->b);
		tr_pb_int(pb, 3, e->c);
		tr_pb_int(pb, 4, 1);
		tr_pb_int(pb, 5, e->d);
		break;
	case TR_MIGRATE:
		m = tr_pb_begin(pb, FE_MIGRATE);
		tr_pb_strn(pb, 1, e->comm, TR_COMM_LEN);
		tr_pb_int(pb, 2, e->b);
		tr_pb_int(pb, 3, e->c);
		tr_pb_int(pb, 4, e->d);
		tr_pb_int(pb, 5, e->e);
		break;
	case TR_FORK:
		m = tr_pb_begin(pb, FE_FORK);
		tr_pb_strn(pb, 1, e->comm, TR_COMM_LEN);
		tr_pb_int(pb, 2, e->b);
		tr_pb_strn(pb, 3, e->comm2, TR_COMM_LEN);
		tr_pb_int(pb, 4, e->c);
		break;
	case TR_EXEC:
		m = tr_pb_begin(pb, FE_EXEC);
		tr_pb_strn(pb, 1, e->str, TR_STR_LEN);
		tr_pb_int(pb, 2, e->b);
		tr_pb_int(pb, 3, e->c);
		break;
	case TR_EXIT:
		m = tr_pb_begin(pb, FE_EXIT);
		tr_pb_strn(pb, 1, e->comm, TR_COMM_LEN);
		tr_pb_int(pb, 2, e->b);
		tr_pb_int(pb, 3, e->c);
		tr_pb_int(pb, 4, e->d);
		break;
	case TR_IRQ_ENTRY:
		m = tr_pb_begin(pb, FE_IRQ_ENTRY);
		tr_pb_int(pb, 1, e->b);
		tr_pb_strn(pb, 2, e->comm2, TR_COMM_LEN);
		break;
	case TR_IRQ_EXIT:
		m = tr_pb_begin(pb, FE_IRQ_EXIT);
		tr_pb_int(pb, 1, e->b);
		tr_pb_int(pb, 2, e->c);
		break;
	case TR_SOFTIRQ_ENTRY:
	case TR_SOFTIRQ_EXIT:
		m = tr_pb_begin(pb, e->type == TR_SOFTIRQ_ENTRY ? FE_SOFTIRQ_ENTRY : FE_SOFTIRQ_EXIT);
		tr_pb_uint(pb, 1, (uint32_t)e->b);
		break;
	case TR_CPU_FREQ:
	case TR_CPU_IDLE:
		m = tr_pb_begin(pb, e->type == TR_CPU_FREQ ? FE_CPU_FREQUENCY : FE_CPU_IDLE);
		tr_pb_uint(pb, 1, (uint32_t)e->b);
		tr_pb_uint(pb, 2, (uint32_t)e->c);
		break;
	default:
		m = tr_pb_begin(pb, 3); /* print, empty: cannot happen */
		break;
	}
	tr_pb_end(pb, m);
	tr_pb_end(pb, ev);
}

size_t tr_enc_bundle(struct tr_pb *pb, struct tr_intern *it, uint32_t cpu,
		     const struct tr_event *const *ev, size_t n, bool lost)
{
	size_t i, pkt, fb, cs;
	bool any_sw = false, any_wk = false;

	if (n > TR_BUNDLE_MAX)
		n = TR_BUNDLE_MAX;
	it->n = 0;
	memset(it->slot, 0, sizeof(it->slot));
	for (i = 0; i < n; i++) {
		int idx = 0;

		if (compact(ev[i]->type)) {
			idx = intern(it, ev[i]->comm);
			if (idx < 0)
				break; /* the rest go into the next bundle */
			any_sw |= ev[i]->type == TR_SWITCH;
			any_wk |= ev[i]->type == TR_WAKING;
		}
		it->idx[i] = (uint16_t)idx;
	}
	n = i;

	pkt = tr_pb_begin(pb, 1);
	fb = tr_pb_begin(pb, TP_FTRACE_EVENTS);
	tr_pb_uint(pb, FB_CPU, cpu);
	if (lost)
		tr_pb_uint(pb, FB_LOST, 1);
	for (i = 0; i < n; i++)
		if (!compact(ev[i]->type))
			ftrace_event(pb, ev[i]);
	if (any_sw || any_wk) {
		cs = tr_pb_begin(pb, FB_COMPACT);
		for (i = 0; i < it->n; i++)
			tr_pb_strn(pb, CS_INTERN, it->names[i], TR_COMM_LEN);
		if (any_sw) {
			column(pb, CS_SW_TS, TR_SWITCH, C_TS, ev, it, n);
			column(pb, CS_SW_STATE, TR_SWITCH, C_STATE, ev, it, n);
			column(pb, CS_SW_PID, TR_SWITCH, C_PID, ev, it, n);
			column(pb, CS_SW_PRIO, TR_SWITCH, C_PRIO, ev, it, n);
			column(pb, CS_SW_COMM, TR_SWITCH, C_COMM, ev, it, n);
		}
		if (any_wk) {
			column(pb, CS_WK_TS, TR_WAKING, C_TS, ev, it, n);
			column(pb, CS_WK_PID, TR_WAKING, C_PID, ev, it, n);
			column(pb, CS_WK_CPU, TR_WAKING, C_TCPU, ev, it, n);
			column(pb, CS_WK_PRIO, TR_WAKING, C_PRIO, ev, it, n);
			column(pb, CS_WK_COMM, TR_WAKING, C_COMM, ev, it, n);
			column(pb, CS_WK_FLAGS, TR_WAKING, C_FLAGS, ev, it, n);
		}
		tr_pb_end(pb, cs);
	}
	tr_pb_end(pb, fb);
	tr_pb_uint(pb, TP_SEQ_ID, 1);
	tr_pb_end(pb, pkt);
	return tr_pb_ok(pb) ? n : 0;
}

void tr_enc_clocks(struct tr_pb *pb, uint64_t boot_ns, uint64_t mono_ns, uint64_t real_ns,
		   uint32_t seq)
{
	static const uint32_t ids[3] = { TR_CLOCK_BOOTTIME, TR_CLOCK_MONOTONIC, TR_CLOCK_REALTIME };
	const uint64_t ts[3] = { boot_ns, mono_ns, real_ns };
	size_t pkt = tr_pb_begin(pb, 1), cs = tr_pb_begin(pb, TP_CLOCK_SNAPSHOT);

	for (int i = 0; i < 3; i++) {
		size_t c = tr_pb_begin(pb, 1);

		tr_pb_uint(pb, 1, ids[i]);
		tr_pb_uint(pb, 2, ts[i]);
		tr_pb_end(pb, c);
	}
	tr_pb_uint(pb, 2, TR_CLOCK_BOOTTIME);
	tr_pb_end(pb, cs);
	tr_pb_uint(pb, 8, boot_ns);
	tr_pb_uint(pb, TP_SEQ_ID, seq);
	tr_pb_end(pb, pkt);
}

void tr_enc_system_info(struct tr_pb *pb, const char *sysname, const char *release,
			const char *version, const char *machine, uint32_t ncpus, uint32_t seq)
{
	size_t pkt = tr_pb_begin(pb, 1), si = tr_pb_begin(pb, TP_SYSTEM_INFO);
	size_t u = tr_pb_begin(pb, 1);

	tr_pb_strn(pb, 1, sysname, 65);
	tr_pb_strn(pb, 2, version, 65);
	tr_pb_strn(pb, 3, release, 65);
	tr_pb_strn(pb, 4, machine, 65);
	tr_pb_end(pb, u);
	tr_pb_uint(pb, 8, ncpus);
	tr_pb_end(pb, si);
	tr_pb_uint(pb, TP_SEQ_ID, seq);
	tr_pb_end(pb, pkt);
}

void tr_enc_stats(struct tr_pb *pb, const struct tr_cpu_totals *cpus, uint32_t ncpus,
		  uint64_t bytes_written, uint64_t packets_lost, uint32_t seq)
{
	size_t pkt = tr_pb_begin(pb, 1), fs = tr_pb_begin(pb, TP_FTRACE_STATS);

	tr_pb_uint(pb, 1, 2); /* END_OF_TRACE */
	for (uint32_t c = 0; c < ncpus; c++) {
		size_t m = tr_pb_begin(pb, 2);

		tr_pb_uint(pb, 1, c);
		tr_pb_uint(pb, 2, cpus[c].entries);
		/* dropped_events, not also overrun (events overwritten, which a
		 * BPF ring never does): readers add the two */
		tr_pb_uint(pb, 8, cpus[c].lost);
		tr_pb_uint(pb, 9, cpus[c].entries);
		tr_pb_end(pb, m);
	}
	tr_pb_end(pb, fs);
	tr_pb_uint(pb, TP_SEQ_ID, seq);
	tr_pb_end(pb, pkt);

	pkt = tr_pb_begin(pb, 1);
	fs = tr_pb_begin(pb, TP_TRACE_STATS);
	{
		size_t b = tr_pb_begin(pb, 1);

		tr_pb_uint(pb, 1, bytes_written);
		tr_pb_uint(pb, 19, packets_lost);
		tr_pb_end(pb, b);
	}
	tr_pb_uint(pb, 7, 1);
	tr_pb_end(pb, fs);
	tr_pb_uint(pb, TP_SEQ_ID, seq);
	tr_pb_end(pb, pkt);
}

/* ------------------------------------------------------ sched_ext DSQs */

void tr_dsq_name(char *buf, size_t n, uint64_t id)
{
	const uint64_t builtin = 1ull << 63, local_on = 1ull << 62;

	if (!(id & builtin))
		snprintf(buf, n, "%llu", (unsigned long long)id);
	else if ((id & local_on) == local_on)
		snprintf(buf, n, "local_on:%u", (unsigned)(id & 0xffffffffu));
	else if (id == (builtin | 1))
		snprintf(buf, n, "global");
	else if (id == (builtin | 2))
		snprintf(buf, n, "local");
	else
		snprintf(buf, n, "0x%llx", (unsigned long long)id);
}

bool tr_dsq_step(struct tr_dsq_state *st, const struct tr_event *e, struct tr_dsq_step *out)
{
	uint64_t id = (uint64_t)e->a;
	uint32_t i;

	if (e->type != TR_DSQ_INSERT && e->type != TR_DSQ_DISPATCH)
		return false;
	for (i = 0; i < st->n && st->id[i] != id; i++)
		;
	memset(out, 0, sizeof(*out));
	if (i == st->n) {
		if (st->n >= TR_DSQ_MAX) {
			st->untracked++;
			return false;
		}
		st->id[st->n] = id;
		st->depth[st->n++] = 0;
		out->describe = true;
		out->parent = !st->parent_written;
		st->parent_written = true;
	}
	if (e->type == TR_DSQ_INSERT) {
		st->depth[i]++;
	} else {
		if (st->depth[i] > 0)
			st->depth[i]--;
		out->dispatch = true;
		out->lat_ns = TR_DSQ_LAT(e);
	}
	out->ts = e->ts_ns;
	out->dsq_id = id;
	out->idx = i;
	out->depth = st->depth[i];
	return true;
}

static void track_descriptor(struct tr_pb *pb, uint64_t uuid, uint64_t parent, const char *name,
			     int unit)
{
	size_t pkt = tr_pb_begin(pb, 1), td = tr_pb_begin(pb, TP_TRACK_DESCRIPTOR);

	tr_pb_uint(pb, TD_UUID, uuid);
	if (parent)
		tr_pb_uint(pb, TD_PARENT_UUID, parent);
	tr_pb_strn(pb, TD_NAME, name, 64);
	if (unit) {
		size_t cd = tr_pb_begin(pb, TD_COUNTER);

		tr_pb_uint(pb, CD_UNIT, (uint64_t)unit);
		tr_pb_end(pb, cd);
	}
	tr_pb_end(pb, td);
	tr_pb_uint(pb, TP_SEQ_ID, TR_DSQ_SEQ);
	tr_pb_end(pb, pkt);
}

static void counter_value(struct tr_pb *pb, uint64_t ts, uint64_t uuid, int64_t v)
{
	size_t pkt = tr_pb_begin(pb, 1), te;

	tr_pb_uint(pb, TP_TIMESTAMP, ts);
	te = tr_pb_begin(pb, TP_TRACK_EVENT);
	tr_pb_uint(pb, TE_TYPE, TE_TYPE_COUNTER);
	tr_pb_uint(pb, TE_TRACK_UUID, uuid);
	tr_pb_int(pb, TE_COUNTER_VALUE, v);
	tr_pb_end(pb, te);
	tr_pb_uint(pb, TP_SEQ_ID, TR_DSQ_SEQ);
	tr_pb_end(pb, pkt);
}

void tr_enc_dsq(struct tr_pb *pb, const struct tr_dsq_step *s)
{
	uint64_t depth_uuid = TR_DSQ_UUID + 1 + 2ull * s->idx, lat_uuid = depth_uuid + 1;

	if (s->parent)
		track_descriptor(pb, TR_DSQ_UUID, 0, "sched_ext DSQs", 0);
	if (s->describe) {
		char id[32], name[64];

		tr_dsq_name(id, sizeof(id), s->dsq_id);
		snprintf(name, sizeof(name), "dsq %s depth", id);
		track_descriptor(pb, depth_uuid, TR_DSQ_UUID, name, CD_UNIT_COUNT);
		snprintf(name, sizeof(name), "dsq %s latency", id);
		track_descriptor(pb, lat_uuid, TR_DSQ_UUID, name, CD_UNIT_TIME_NS);
	}
	counter_value(pb, s->ts, depth_uuid, s->depth);
	if (s->dispatch)
		counter_value(pb, s->ts, lat_uuid, (int64_t)s->lat_ns);
}
