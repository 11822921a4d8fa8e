/* SPDX-License-Identifier: MIT */
/* Windows over the sample ring, shared by the CPU and memory/network emitters. */
#ifndef SMCP_SYSSTAT_WINDOW_H
#define SMCP_SYSSTAT_WINDOW_H

#include "stat_emit.h"

struct win {
	enum window_id id;
	const struct sample *base, *newest;
	bool complete;
	double covered_s;
};

/* Resolve a window; false when fewer than two samples exist yet. */
bool win_get(const struct emit_ctx *c, enum window_id id, struct win *ret);

/* Open an object (key, or NULL inside an array) naming the window and what
 * it covers. If the window cannot be computed yet, writes the reason, closes
 * the object and returns false; else the caller adds fields and closes it. */
bool win_open(const struct emit_ctx *c, const char *key, enum window_id id, struct win *ret);

/* When w starts at the same sample as prev (short history: every window
 * reaches back to the first sample), write "same_as": prev's name, close
 * w's object and return true; else remember w in prev and return false. */
bool win_same_as(const struct emit_ctx *c, const struct win *w, struct win *prev);

/* Counter difference per second over the window (0 if it went backwards). */
double win_rate(const struct win *w, uint64_t before, uint64_t after);

/* Percentage of wall time a PSI total (us) grew by over the window, or -1. */
double win_psi_pct(const struct win *w, int res, int kind);

/* Two decimals are plenty for percentages and rates, and save tokens. */
double round2(double v);

/* A double, or null when v < 0 (unknown). */
void put_num(const struct emit_ctx *c, const char *key, double v);

/* Notes common to every answer: sampling state, cut lists. */
void emit_sampling(const struct emit_ctx *c);

#endif
