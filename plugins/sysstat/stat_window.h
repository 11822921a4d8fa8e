/* SPDX-License-Identifier: MIT */
/*
 * Windows, shared by the CPU and memory/network emitters. The last 1 s,
 * 10 s and 60 s are read from the core's history of the metrics this
 * plugin publishes (stat_metrics.c); "since start" is the newest sample
 * less the first. Either way a window is the increase of each counter (and
 * the mean of the gauges it needs) over the time it covers.
 */
#ifndef SMCP_SYSSTAT_WINDOW_H
#define SMCP_SYSSTAT_WINDOW_H

#include "stat_emit.h"

/* What a window needs beyond the machine's totals. */
enum { WIN_WANT_CPUS = 1, WIN_WANT_NET = 2 };

struct win {
	enum window_id id;
	bool complete;
	double covered_s;
	uint64_t end_ns; /* with covered_s: two windows that span the same time */
	bool have_stat;	 /* /proc/stat totals known over the window */
	double total[CPU_NR_FIELDS], ctxt, forks;
	bool have_procs; /* mean run-queue figures over the window */
	double procs_running, procs_blocked;
	double psi_pct[PSI_NR][2]; /* share of wall time stalled; < 0: unknown */
	bool have_vm;
	double vm[VM_NR_FIELDS];
	/* WIN_WANT_CPUS: per CPU slot (cpu_seen[i]: known over the window);
	 * WIN_WANT_NET: per interface slot. Scratch of the sampler's size,
	 * valid until the next window is read. */
	double (*cpu)[CPU_NR_FIELDS];
	uint8_t *cpu_seen;
	double (*net)[NET_NR_FIELDS];
	uint8_t *net_seen;
};

/* Resolve a window; false when it holds no data yet. */
bool stat_window_get(const struct emit_ctx *c, enum window_id id, unsigned want, struct win *ret);

/* Open an object (key, or NULL inside an array) naming the window and what
 * it covers. If the window cannot be computed yet, writes the reason, closes
 * the object and returns false; else the caller adds fields and closes it. */
bool stat_window_open(const struct emit_ctx *c, const char *key, enum window_id id, unsigned want,
		      struct win *ret);

/* When w spans the same time as prev (short history: every window reaches
 * back to the first sample), write "same_as": prev's name, close w's object
 * and return true; else remember w in prev and return false. */
bool stat_window_same_as(const struct emit_ctx *c, const struct win *w, struct win *prev);

/* Increase per second over the window. */
double stat_window_rate(const struct win *w, double increase);

/* Two decimals are plenty for percentages and rates, and save tokens. */

/* A double, or null when v < 0 (unknown). */
void stat_window_put_num(const struct emit_ctx *c, const char *key, double v);

/* Notes common to every answer: sampling state, cut lists. */
void stat_window_emit_sampling(const struct emit_ctx *c);

/* The "page" object of a paged get_system_stats answer: returned of total
 * rows from q->offset. When rows are left, a note into note (note_len)
 * saying how many more rows ("%lld more ROWS: call again with offset=N"
 * and then hint), else note is left alone. */
void stat_window_emit_page(const struct emit_ctx *c, const struct stat_query *q, int64_t returned,
			   int64_t total, const char *rows, const char *hint, char *note,
			   size_t note_len);

#endif
