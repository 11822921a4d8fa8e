/* SPDX-License-Identifier: MIT */
/* One pass over a trace in time order that rebuilds every thread's state
 * (ta_replay.c). Threads are indexes of the trace's thread table (every
 * pid an event names is in it after ta_trace_finish). */
#ifndef TA_REPLAY_H
#define TA_REPLAY_H

#include "ta.h"

enum ta_tstate { TS_UNKNOWN = 0, TS_RUNNING, TS_RUNNABLE, TS_SLEEP, TS_BLOCKED, TS_OTHER,
		 TS_DEAD, TS_N };

struct ta_tstat {
	uint64_t ns[TS_N];
	uint64_t switches_in, preempted, voluntary, wakeups, migrations;
	uint64_t max_wait_ns;
	/* replay state */
	uint8_t st, woken;
	int32_t cpu, waker;
	uint64_t since;
	uint64_t enq_ts; /* sched_wakeup after the waking: on a run queue */
};

enum ta_lat_kind { TA_LAT_WAKE = 0, TA_LAT_PREEMPT = 1 };

struct ta_lat {
	uint64_t ns;
	uint64_t at; /* when it ended (switch-in) */
	uint32_t th;
	/* wake: ns from the waking to sched_wakeup (the enqueue); UINT32_MAX
	 * when the trace has no sched_wakeup for it */
	uint32_t enq_ns;
	uint16_t cpu;
	uint8_t kind;
};

/* A closed interval of one thread's state. other: for a sleep ended by a
 * wakeup, the waker's thread index; for a runnable interval after a
 * preemption, the preempter's; else UINT32_MAX. */
struct ta_ival {
	uint64_t start, end;
	uint32_t th, other;
	uint16_t cpu;
	uint8_t state;
};

struct ta_replay {
	const struct ta_trace *t;
	struct ta_tstat *ts; /* per thread */
	struct ta_lat *lat;
	size_t n_lat, cap_lat;
	struct ta_ival *iv; /* when asked for */
	size_t n_iv, cap_iv;
	/* each thread's intervals as a list, newest first: iv_last[thread] is
	 * its newest, iv_prev[i] the one before interval i (UINT32_MAX: none) */
	uint32_t *iv_prev, *iv_last;
	size_t cap_prev;
	struct smcp_hashmap pairs; /* preempter<<32|victim -> count */
	struct smcp_hashmap wakes; /* waker<<32|wakee -> count */
	uint64_t *cpu_busy_ns;
	uint64_t irq_ns, softirq_ns;
};

/* Replay t; with_intervals keeps every interval (critical path, timelines),
 * in the order they ended: one thread's, or one CPU's running ones, are
 * then in time order too. 0 or -ENOMEM. Read-only afterwards: analyses on several
 * workers may share it. */
int ta_replay_run(struct ta_replay *r, const struct ta_trace *t, bool with_intervals);
void ta_replay_free(struct ta_replay *r);
/* Bytes a replay holds. */
size_t ta_replay_mem(const struct ta_replay *r);
uint32_t ta_thread_index(const struct ta_trace *t, int32_t tid);
const char *ta_tstate_name(int st);

#endif
