/* SPDX-License-Identifier: MIT */
/*
 * BPF run-time statistics on demand. The kernel counts run_cnt and
 * run_time_ns only while someone holds a BPF_ENABLE_STATS fd (or the
 * kernel.bpf_stats_enabled sysctl is set), and counting costs a little on
 * every program run, so the fd is held only while sampling. Counters stay
 * cumulative in the kernel; windows are differences of snapshots.
 */
#ifndef SMCP_INV_STATS_H
#define SMCP_INV_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv.h"

struct inv_stats {
	int fd;               /* BPF_ENABLE_STATS fd; -1 when not held */
	uint64_t interval_ms; /* window length */
	uint64_t started_ns, stop_at_ns; /* stop_at_ns 0: no automatic stop */
	uint64_t windows;     /* windows completed since start */
	struct inv_counter *base, *prev, *cur; /* sorted by id */
	size_t n_base, n_prev, n_cur;
	uint64_t base_ns, prev_ns, cur_ns;
	char last_stop[200];  /* why it last stopped, for status */
	uint64_t last_stop_ns;
};

struct inv_delta {
	uint64_t calls, run_ns, span_ns;
};

void inv_stats_init(struct inv_stats *st);
/*
 * Take the fd: the kernel counts from now on. 0, or -errno with why
 * filled. The counters are read apart (inv_read_counters, on a worker:
 * thousands of programs take tens of ms) and handed over with
 * inv_stats_set_base, then inv_stats_push for each window.
 */
int inv_stats_enable(struct inv_stats *st, uint64_t now_ns, uint64_t interval_ms, char *why,
		     size_t why_len);
/* The first snapshot, read at at_ns (CLOCK_MONOTONIC, the host's clock);
 * st takes c. Windows are counted from it. */
void inv_stats_set_base(struct inv_stats *st, struct inv_counter *c, size_t n, uint64_t at_ns);
/* Release the fd; the last windows stay readable until the next start.
 * reason is kept for status. */
void inv_stats_stop(struct inv_stats *st, uint64_t now_ns, const char *reason);
/* Release everything (plugin unload). */
void inv_stats_free(struct inv_stats *st);
/* One more snapshot, read at at_ns: the window is now [prev, cur]. st
 * takes c. */
void inv_stats_push(struct inv_stats *st, struct inv_counter *c, size_t n, uint64_t at_ns);
bool inv_stats_running(const struct inv_stats *st);

/* The last window's and the since-start difference for program id (also
 * after a stop: the last ones measured). false when there is no window
 * yet or the program was not seen. */
bool inv_stats_window(const struct inv_stats *st, uint32_t id, struct inv_delta *ret);
bool inv_stats_since_start(const struct inv_stats *st, uint32_t id, struct inv_delta *ret);

/* Whether the kernel counts right now (kernel.bpf_stats_enabled reads 1
 * while any stats fd is held or the sysctl is set); -1 when unreadable. */
int inv_stats_kernel_enabled(void);

#endif
