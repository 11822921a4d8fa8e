/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the state file's payload decoder (core/persist_decode.c) the way a
 * restore runs it: checked first; if that passes, the timeline continued
 * and the payload applied to a store with the metrics the seeds were
 * written from (tests/metrics/test-persist.c: metrics-persist --seed DIR
 * writes them), then every slot of every series read back and one tick
 * recorded, so that a history restored from a hostile payload is used as
 * well as built. The file's header and checksums are left out: they stop
 * random bytes before the decoder ever sees them.
 */
#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../../core/host.h"
#include "../../core/log.h"
#include "../../core/metrics.h"
#include "../../core/watch.h"
#include "../../core/persist.h"
#include "../lib/seed_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP_NS 1000000000ull

static struct smcp_host plug = { .name = "t", .state = PLUGIN_LOADED };

/* Read every slot a restored series claims, as queries would. */
static void read_back(void)
{
	const struct history_geom *g = &metrics_view()->geom;

	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		for (uint32_t j = 0; j < m->n_series; j++) {
			const struct history *h = &m->series[j]->h;

			for (int t = TIER_FINE; t <= TIER_COARSE; t++) {
				uint64_t hi = t == TIER_FINE ? h->last : h->acc_idx;
				uint64_t lo = history_coverage(h, g, (enum history_tier)t);

				for (uint64_t k = lo; k <= hi && k - lo < 200; k++) {
					uint64_t acc[8] = { 0 }, n = 0;
					struct coarse_cell c;
					double sum = 0;

					enum history_tier tier = (enum history_tier)t;

					if (h->nb)
						(void)history_get_hist(h, g, tier, k, acc, &sum,
								       &n);
					else
						(void)history_get_scalar(h, g, tier, k, &c);
				}
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_limits lim = seed_limits();
	struct seed_ids ids;
	struct persist_meta meta = { 0 };
	struct persist_stats st;
	uint64_t now_ns = 1000 * STEP_NS;
	bool history;

	/* the seeds' geometry, in a smaller store: a run stays cheap */
	lim.max_bytes = 4 << 20;
	lim.max_series = 64;
	log_set_stderr_level(SMCP_LOG_EMERGENCY);
	if ((metrics_store_init(&lim, now_ns) ?: watch_store_init(lim.max_watches, lim.breach_ring)))
		return 0;
	seed_register(&plug, SEED_SAME, &ids);
	if (persist_decode(data, size, false, false, &meta, &st) == 0) {
		/* a clock 5 steps after the file's newest step, when that is a
		 * time at all (the restore asks the real clock) */
		history = false;
		if (meta.any_step && meta.t0_unix_ms < (1ll << 50) &&
		    meta.last_step < (1ull << 40)) {
			int64_t now_unix = meta.t0_unix_ms + (int64_t)(meta.last_step + 5) * 1000;

			history = metrics_continue(meta.t0_unix_ms, meta.last_step, now_ns,
						   now_unix) == 0;
		}
		(void)persist_decode(data, size, true, history, &meta, &st);
		read_back();
		if (history)
			metrics_tick(metrics_view()->t0_ns + (metrics_view()->next_step + 1) * STEP_NS);
		read_back();
	}
	watch_store_fini();
	metrics_store_fini();
	return 0;
}
