/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the sysstat plugin's /proc parsers and the windows computed from
 * them: the plugin's own sample.c, metrics and emitters, compiled in, read
 * a fake tree written from the input (tests/fuzz/fstree.h). Each phase of
 * the input is one sample (/proc/stat, loadavg, meminfo, vmstat, net/dev,
 * pressure/cpu and pressure/memory, and cpu/possible for the first),
 * published into the core's real metric store and recorded as one step of
 * its history; then every resource body and get_system_stats query is
 * built from that history with the core's real JSON writer.
 * Parameters: @offset, @limit (query rows), @filter (one byte per CPU
 * slot, odd = selected).
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/host.h"
#include "../../core/metrics.h"
#include "../../core/result.h"
#include "fstree.h"
#include "stat_metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PHASES 80

static struct smcp_host fake = { .name = "sysstat", .state = PLUGIN_LOADED };

static void emit_one(struct sampler *s, const struct percpu *pc, struct win_buf *buf,
		     int what, const struct stat_query *q)
{
	struct smcp_result r;
	struct emit_ctx c = { .api = &host_api, .s = s, .pc = pc, .buf = buf };
	cJSON *root;

	result_init(&r, RESULT_READ, "stats://fuzz", "application/json");
	c.j = host_api.result_json(&r);
	if (c.j) {
		switch (what) {
		case 0:
			(void)stat_cpu_emit_resource(&c);
			break;
		case 1:
			(void)stat_memnet_emit_memory(&c);
			break;
		case 2:
			(void)stat_memnet_emit_network(&c);
			break;
		case 3:
			(void)stat_cpu_emit_query(&c, q);
			break;
		default:
			(void)stat_memnet_emit_network_query(&c, q);
			break;
		}
	}
	/* serialise, as the server would */
	root = result_take_json(&r);
	if (root) {
		char *text = cJSON_PrintUnformatted(root);

		free(text);
		cJSON_Delete(root);
	}
	result_release(&r);
}

static int64_t param_int(const struct fstree *t, const char *name, int64_t dflt)
{
	const char *v = fstree_param(t, name);

	return v ? strtoll(v, NULL, 10) : dflt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct metrics_limits lim = {
		.step_ms = 1000, .fine_slots = 120, .coarse_slots = 10, .coarse_factor = 60,
		.max_bytes = 64 << 20, .max_series = 4096, .top_n = 20,
	};
	static struct fstree tree;
	static bool ready;
	struct win_buf buf = { 0 };
	struct percpu pc = { 0 };
	struct sampler s;
	struct stat_query q = { 0 };
	uint8_t *filter = NULL;
	const char *fv;
	uint64_t t_ns = 1000000000ull;
	int phases = 0;

	if (!ready) {
		if (fstree_init(&tree, "smcp-fuzz-sysstat"))
			abort();
		ready = true;
	}
	if (!fstree_load(&tree, data, size))
		goto out;
	if (sample_init(&s, tree.root))
		goto out;
	if (metrics_store_init(&lim, t_ns) || stat_window_buf_init(&buf, s.cpu_slots))
		goto done;
	(void)sample_take(&s, t_ns);
	fake.in_init = true;
	if (stat_metrics_init(&fake, &host_api, &s) || percpu_init(&pc, s.cpu_slots, 1))
		goto done;
	fake.in_init = false;
	while (++phases < MAX_PHASES && fstree_load(&tree, data, size)) {
		/* 1 s steps, with a long gap now and then (a suspended machine) */
		t_ns += (phases % 7 == 6 ? 30ull : 1ull) * 1000000000ull;
		(void)sample_take(&s, t_ns);
		percpu_push(&pc, s.prev, s.newest);
		stat_metrics_publish();
		metrics_tick(t_ns);
	}

	q.offset = param_int(&tree, "offset", 0);
	q.limit = param_int(&tree, "limit", 64);
	/* the plugin clamps these before emitting; so do we */
	if (q.offset < 0)
		q.offset = 0;
	q.limit = q.limit < 1 ? 1 : q.limit > 128 ? 128 : q.limit;
	fv = fstree_param(&tree, "filter");
	if (fv) {
		filter = calloc((size_t)s.cpu_slots, 1);
		for (int i = 0; filter && fv[i] && i < s.cpu_slots; i++)
			filter[i] = fv[i] & 1;
		q.cpu_filter = filter;
	}
	for (int what = 0; what < 3; what++)
		emit_one(&s, &pc, &buf, what, &q);
	for (int w = 0; w < WIN_NR; w++) {
		q.window = (enum window_id)w;
		emit_one(&s, &pc, &buf, 3, &q);
		emit_one(&s, &pc, &buf, 4, &q);
	}
	free(filter);
done:
	fake.in_init = false;
	stat_metrics_fini();
	percpu_fini(&pc);
	metrics_store_fini();
	stat_window_buf_free(&buf);
	sample_fini(&s);
out:
	fstree_clear(&tree);
	return 0;
}
