/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the sysstat plugin's /proc parsers and the windows computed from
 * them: the plugin's own sample.c and emitters, compiled in, read a fake
 * tree written from the input (tests/fuzz/fstree.h). Each phase of the
 * input is one sample (/proc/stat, loadavg, meminfo, vmstat, net/dev,
 * pressure/cpu and pressure/memory, and cpu/possible for the first); then
 * every resource body and get_system_stats query is built with the core's
 * real JSON writer.
 * Parameters: @offset, @limit (query rows), @filter (one byte per CPU
 * slot, odd = selected).
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/host.h"
#include "../../core/result.h"
#include "fstree.h"
#include "sample.h"
#include "stat_emit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PHASES 80

static void emit_one(struct sampler *s, int what, const struct stat_query *q)
{
	struct smcp_result r;
	struct emit_ctx c = { .api = &host_api, .s = s, .interval_ns = 1000000000ull };
	cJSON *root;

	result_init(&r, RESULT_READ, "stats://fuzz", "application/json");
	c.j = host_api.result_json(&r);
	if (c.j) {
		switch (what) {
		case 0:
			(void)emit_cpu_resource(&c);
			break;
		case 1:
			(void)emit_memory_resource(&c);
			break;
		case 2:
			(void)emit_network_resource(&c);
			break;
		case 3:
			(void)emit_cpu_query(&c, q);
			break;
		default:
			(void)emit_network_query(&c, q);
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
	static struct fstree tree;
	static bool ready;
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
	if (sampler_init(&s, tree.root))
		goto out;
	do {
		(void)sampler_take(&s, t_ns);
		/* 1 s steps, with a long gap now and then (a late timer, a
		 * suspended machine) */
		t_ns += (phases % 7 == 6 ? 30ull : 1ull) * 1000000000ull;
	} while (++phases < MAX_PHASES && fstree_load(&tree, data, size));

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
		emit_one(&s, what, &q);
	for (int w = 0; w < WIN_NR; w++) {
		q.window = (enum window_id)w;
		emit_one(&s, 3, &q);
		emit_one(&s, 4, &q);
	}
	free(filter);
	sampler_fini(&s);
out:
	fstree_clear(&tree);
	return 0;
}
