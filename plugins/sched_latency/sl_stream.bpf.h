/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live event stream of sched_latency.bpf.c: the filter user space
 * changes at run time, a per-CPU rate limit, and a ring buffer that wakes
 * its reader only once a batch has built up. Both objects include it (the
 * DSQ object for dsq_insert events; user space gives it the main object's
 * ring buffer and copies the filter into its .bss). Include after vmlinux.h,
 * sl_common.bpf.h and sl_shared.bpf.h, once.
 */
#ifndef SL_STREAM_BPF_H
#define SL_STREAM_BPF_H

#define NSEC_PER_100MS 100000000ull

/* Set between open and load: wake the reader past this much data. */
const volatile __u64 rb_wakeup_bytes = 65536;
/* Changed by user space at run time through the mmapped .bss. */
struct sl_stream_ctl stream = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline bool stream_wants(__u32 type, __u32 cpu, __u32 pid, __u32 tgid,
					 __u32 opid, __u32 otgid)
{
	__u32 f;

	if (!stream.enabled || !(stream.type_mask & type))
		return false;
	if (stream.cpu >= 0 && (__u32)stream.cpu != cpu)
		return false;
	f = stream.pid;
	return !f || f == pid || f == tgid || f == opid || f == otgid;
}

/* Rate limit, then reserve a record; NULL when over the limit or full. */
static __always_inline struct sl_event *stream_reserve(struct sl_cpu_stats *cs, __u64 now)
{
	struct sl_event *e;

	if (now - cs->rl_window_ns >= NSEC_PER_100MS) {
		cs->rl_window_ns = now;
		cs->rl_count = 0;
	}
	if (cs->rl_count >= stream.per_cpu_per_100ms) {
		cs->ev_rate_limited++;
		return NULL;
	}
	cs->rl_count++;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		cs->ev_dropped++;
		return NULL;
	}
	cs->ev_sent++;
	e->ts_ns = now;
	e->dsq_id = e->dsq_wait_ns = e->from_dsq_id = 0;
	return e;
}

/* Wake the reader only once a batch has built up; it also drains the ring
 * on a timer, so a quiet stream still arrives within a fraction of a second. */
static __always_inline void stream_submit(struct sl_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= rb_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

#endif
