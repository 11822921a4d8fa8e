/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the topology plugin's sysfs parsers (cpulists, sibling lists, cache
 * indexes, node distances) and its answers: the plugin's topo_model.c,
 * cpuset.c and topo_emit.c, compiled in, read a fake tree written from the
 * input (tests/fuzz/fstree.h); then topology://info and get_topology
 * (summary and full, with and without offline CPUs, paged) are built with
 * the core's real JSON writer, as the plugin builds them. Parameters:
 * @cpus (the get_topology cpus argument, parsed the way the plugin parses
 * it), @offset, @limit.
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/host.h"
#include "../../core/result.h"
#include "fstree.h"
#include "topo_emit.h"
#include "topo_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void serialise_and_release(struct smcp_result *r)
{
	cJSON *root = result_take_json(r);

	if (root) {
		free(cJSON_PrintUnformatted(root));
		cJSON_Delete(root);
	}
	result_release(r);
}

static void emit_info(const struct topo_model *m)
{
	struct smcp_result r;
	struct smcp_json *j;

	result_init(&r, RESULT_READ, "topology://info", "application/json");
	j = host_api.result_json(&r);
	if (j)
		(void)topo_emit_info(&host_api, j, m);
	serialise_and_release(&r);
}

static void emit_tool(const struct topo_model *m, const struct topo_query *q)
{
	struct smcp_result r;
	struct smcp_json *j;

	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = host_api.result_json(&r);
	if (j)
		(void)topo_emit_tool(&host_api, j, m, q);
	serialise_and_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fstree tree;
	static bool ready;
	struct topo_model *m = NULL;
	struct topo_query q = { .limit = 64 };
	const char *v;

	if (!ready) {
		if (fstree_init(&tree, "smcp-fuzz-topology"))
			abort();
		ready = true;
	}
	if (!fstree_load(&tree, data, size) || topo_model_read(tree.root, &m))
		goto out;
	emit_info(m);
	/* the tool's argument handling, as get_topology does it */
	if ((v = fstree_param(&tree, "offset")))
		q.offset = strtoll(v, NULL, 10) < 0 ? 0 : strtoll(v, NULL, 10);
	if ((v = fstree_param(&tree, "limit"))) {
		long long l = strtoll(v, NULL, 10);

		q.limit = l < 1 ? 1 : l > 128 ? 128 : l;
	}
	if ((v = fstree_param(&tree, "cpus"))) {
		if (cpuset_init(&q.cpus, m->nbits) == 0) {
			q.have_cpus = true;
			if (cpuset_parse(&q.cpus, v)) {
				cpuset_free(&q.cpus);
				q.have_cpus = false;
			} else {
				free(cpuset_format(&q.cpus));
			}
		}
	}
	for (int full = 0; full < 2; full++) {
		for (int off = 0; off < 2; off++) {
			q.full = full;
			q.include_offline = off;
			emit_tool(m, &q);
		}
	}
	if (q.have_cpus)
		cpuset_free(&q.cpus);
	topo_model_free(m);
out:
	fstree_clear(&tree);
	return 0;
}
