/* SPDX-License-Identifier: MIT */
/* Per-CPU windows from a small private table (why: percpu.h). */
#include "percpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const unsigned win_secs[PERCPU_NR] = { 1, 10, 60 };

/* Steps in a window of secs, rounded as the core rounds its own windows. */
static uint32_t steps_of(unsigned secs, double step_s)
{
	double n = secs / step_s + 0.5;

	return n < 1 ? 1 : n > PERCPU_MAX_STEPS ? PERCPU_MAX_STEPS : (uint32_t)n;
}

int percpu_init(struct percpu *t, int cpus, double step_s)
{
	size_t cells;

	memset(t, 0, sizeof(*t));
	if (cpus < 1)
		cpus = 1;
	if (!(step_s > 0))
		step_s = 1;
	t->cpus = cpus;
	for (int w = 0; w < PERCPU_NR; w++)
		t->win_steps[w] = steps_of(win_secs[w], step_s);
	t->depth = t->win_steps[PERCPU_60S];
	cells = (size_t)t->depth * (size_t)cpus;
	t->ring = calloc(cells * CPU_NR_FIELDS, sizeof(*t->ring));
	t->valid = calloc(cells, 1);
	t->sum = calloc((size_t)PERCPU_NR * (size_t)cpus, sizeof(*t->sum));
	t->n_valid = calloc((size_t)PERCPU_NR * (size_t)cpus, sizeof(*t->n_valid));
	if (!t->ring || !t->valid || !t->sum || !t->n_valid) {
		percpu_fini(t);
		return -ENOMEM;
	}
	t->bytes = cells * (CPU_NR_FIELDS * sizeof(*t->ring) + 1) +
		   (size_t)PERCPU_NR * (size_t)cpus * (sizeof(*t->sum) + sizeof(*t->n_valid));
	return 0;
}

void percpu_fini(struct percpu *t)
{
	free(t->ring);
	free(t->valid);
	free(t->sum);
	free(t->n_valid);
	memset(t, 0, sizeof(*t));
}

void percpu_push(struct percpu *t, const struct sample *prev, const struct sample *newest)
{
	bool stat = prev && newest && prev->have_stat && newest->have_stat;

	if (!t->ring)
		return;
	/* cpu_slots covers every possible CPU (up to 8192 where firmware says
	 * so); cells of CPUs never seen stay untouched zero pages */
	for (int c = t->cpus - 1; stat && c >= t->cpus_seen; c--)
		if (newest->cpu_seen[c]) {
			t->cpus_seen = c + 1;
			break;
		}
	for (int c = 0; c < t->cpus_seen; c++) {
		size_t cell = (size_t)t->head * (size_t)t->cpus + (size_t)c;
		uint32_t *d = t->ring + cell * CPU_NR_FIELDS;

		/* the steps leaving each window: pushed win_steps[w] steps ago */
		for (int w = 0; w < PERCPU_NR; w++) {
			uint32_t back = t->win_steps[w];
			size_t old;

			if (t->pushed < back)
				continue;
			old = (size_t)((t->head + t->depth - back) % t->depth) * (size_t)t->cpus +
			      (size_t)c;
			if (!t->valid[old])
				continue;
			for (int f = 0; f < CPU_NR_FIELDS; f++)
				t->sum[w * t->cpus + c][f] -= t->ring[old * CPU_NR_FIELDS + f];
			t->n_valid[w * t->cpus + c]--;
		}
		t->valid[cell] = stat && prev->cpu_seen[c] && newest->cpu_seen[c];
		for (int f = 0; f < CPU_NR_FIELDS; f++) {
			uint64_t a = stat ? prev->cpu[c].v[f] : 0, b = stat ? newest->cpu[c].v[f] : 0;
			uint64_t inc = t->valid[cell] && b > a ? b - a : 0;

			/* 2^32 ticks in one step is a counter reset, not time */
			d[f] = inc > UINT32_MAX ? 0 : (uint32_t)inc;
		}
		for (int w = 0; t->valid[cell] && w < PERCPU_NR; w++) {
			for (int f = 0; f < CPU_NR_FIELDS; f++)
				t->sum[w * t->cpus + c][f] += d[f];
			t->n_valid[w * t->cpus + c]++;
		}
	}
	t->head = (t->head + 1) % t->depth;
	t->pushed++;
}

uint32_t percpu_window(const struct percpu *t, unsigned window_s, double (*d)[CPU_NR_FIELDS],
		       uint8_t *seen)
{
	int w;

	for (w = 0; w < PERCPU_NR && win_secs[w] != window_s; w++)
		;
	if (w == PERCPU_NR || !t->ring || !t->pushed)
		return 0;
	memset(seen, 0, (size_t)t->cpus);
	for (int c = 0; c < t->cpus_seen; c++) {
		seen[c] = t->n_valid[w * t->cpus + c] > 0;
		for (int f = 0; f < CPU_NR_FIELDS; f++)
			d[c][f] = (double)t->sum[w * t->cpus + c][f];
	}
	return t->pushed < t->win_steps[w] ? (uint32_t)t->pushed : t->win_steps[w];
}
