/* SPDX-License-Identifier: MIT */
/*
 * Threads and processes in user space, fed with the cumulative per-thread
 * records the BPF side exports (struct sl_task_stats: from the task
 * iterator for threads that changed, and from the exits ring buffer).
 *
 * Each record's difference from the last one seen for that thread is
 * added to its process, so a process keeps the counts of threads that
 * exited or were evicted. Both tables are bounded: when full, the entry
 * that changed least recently makes room (exited threads first). A thread
 * whose counters went backwards (its tid was reused) starts over. Pure
 * code; unit-tested without BPF.
 */
#ifndef SL_TASKS_H
#define SL_TASKS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <schedmcp/hashmap.h>

#include "sched_latency.h"
#include "sl_hist.h"
#include "sl_window.h"

/* Counters of the thread and process series, in this order. */
enum {
	SLT_WAITS,
	SLT_WAIT_NS,
	SLT_VOL,
	SLT_INVOL,
	SLT_RUN_NS,
	SLT_WAKEUPS,
	SLT_MIGRATIONS,
	SLT_WAIT_MAX, /* not additive: meaningful only since start */
	SLT_N
};

struct sl_thr {
	uint32_t tid, tgid, last_cpu;
	bool exited;
	bool retired; /* left out of the window series (sl_tasks_series_inputs) */
	uint64_t changed; /* tick of the last change */
	char comm[SL_COMM_LEN];
	uint64_t c[SLT_N];
	uint32_t h[SL_NB]; /* as the kernel counts: 32-bit, wrapping */
};

struct sl_proc {
	uint32_t tgid, last_cpu;
	uint32_t live_threads;
	bool leader_comm; /* comm came from the thread group leader */
	bool retired;     /* left out of the window series (sl_tasks_series_inputs) */
	uint64_t changed;
	char comm[SL_COMM_LEN];
	uint64_t c[SLT_N];
	uint64_t h[SL_NB];
};

struct sl_tasks {
	size_t max_thr, max_proc;
	struct sl_thr *thr;
	struct sl_proc *proc;
	size_t n_thr, n_proc;
	/* tid -> index into thr, tgid -> index into proc; reserved for
	 * max_thr and max_proc entries at init, so updates never allocate */
	struct smcp_hashmap ithr, iproc;
	uint64_t tick;
	uint64_t evicted_threads, evicted_procs, records, restarts;
};

int sl_tasks_init(struct sl_tasks *t, size_t max_threads, size_t max_procs);
void sl_tasks_free(struct sl_tasks *t);
/* Start a new tick (records that follow belong to it). */
void sl_tasks_begin(struct sl_tasks *t);
/* One exported record. 0 or -ENOMEM. */
int sl_tasks_update(struct sl_tasks *t, const struct sl_task_stats *rec);

struct sl_thr *sl_tasks_thread(const struct sl_tasks *t, uint32_t tid);
struct sl_proc *sl_tasks_process(const struct sl_tasks *t, uint32_t tgid);

/*
 * Inputs for the window series (sl_window.h): every thread (procs false) or
 * process except the retired ones. An exited thread, or a process without
 * live threads, that has not changed since tick quiet_since is retired: the
 * series has recorded its last change already. Keeping it there would cost
 * the series about 1 KiB a tick per entity for nothing, and with processes
 * coming and going that is the tables' whole capacity (issue 20: +12 MiB at
 * the defaults under hackbench). A retired entry that changes again (an
 * export after its exit record, a reused pid) comes back marked resumed, so
 * the series takes its values as a baseline instead of counting its history
 * again. The arrays are the caller's to free. Returns the count or -ENOMEM.
 */
int sl_tasks_series_inputs(struct sl_tasks *t, bool procs, uint64_t quiet_since,
			   struct sl_window_input **ret_in, uint64_t **ret_store);

/* Rows for every thread (procs false) or process the tables hold, retired
 * or not: the "since start" view, sorted by key, built in one allocation
 * (no intermediate inputs: that copy cost 7 MiB a read with full tables).
 * sl_window_result_free() it. 0 or -ENOMEM. */
int sl_tasks_result(const struct sl_tasks *t, bool procs, struct sl_window_result *out);

#endif
