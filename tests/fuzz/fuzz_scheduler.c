/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the scheduler plugin's readers of /sys/kernel/sched_ext, the kernel
 * release, the fair class's tunables (procfs, debugfs, the sched/debug
 * summary) and the sched_ext debug dump, and its two resource bodies: the
 * plugin's sched_read.c and sched_emit.c, compiled in, read a fake tree
 * written from the input (tests/fuzz/fstree.h). Each phase is one poll
 * (sched_read_scx without and with the full read, sched_read_scx_changed between them),
 * and the kernel log's sched_ext exit lines (/dev/kmsg, read from its start).
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/fsread.h>

#include "../../core/host.h"
#include "../../core/result.h"
#include "fstree.h"
#include "sched_emit.h"
#include "sched_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PHASES 8

static void emit(const struct sched_view *v, bool scx)
{
	struct smcp_result r;
	struct smcp_json *j;
	cJSON *root;

	result_init(&r, RESULT_READ, "scheduler://current", "application/json");
	j = host_api.result_json(&r);
	if (j)
		(void)(scx ? sched_emit_scx(&host_api, j, v) : sched_emit_current(&host_api, j, v));
	root = result_take_json(&r);
	if (root) {
		free(cJSON_PrintUnformatted(root));
		cJSON_Delete(root);
	}
	result_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fstree tree;
	static bool ready;
	static struct fair_state fair;
	static char debug[4200];
	struct scx_state polled, now;
	struct sched_view v;
	char reason[96]; /* small: long reasons are cut */
	int phases = 0, kfd;

	if (!ready) {
		if (fstree_init(&tree, "smcp-fuzz-scheduler"))
			abort();
		ready = true;
	}
	memset(&polled, 0, sizeof(polled));
	while (phases++ < MAX_PHASES && fstree_load(&tree, data, size)) {
		sched_read_scx(tree.root, false, &now);
		(void)sched_read_scx_changed(&polled, &now);
		polled = now;
		memset(&v, 0, sizeof(v));
		sched_read_kernel_release(tree.root, &v.kernel);
		(void)sched_read_fair_class_name(&v.kernel);
		snprintf(debug, sizeof(debug), "%s/sys/kernel/debug/sched", tree.root);
		sched_read_fair(tree.root, debug, &fair);
		sched_read_scx(tree.root, true, &v.scx);
		v.fair = &fair;
		v.root = tree.root;
		v.debug = debug;
		(void)sched_emit_class(&v);
		(void)sched_emit_name(&v);
		emit(&v, false);
		emit(&v, true);
		kfd = smcp_open_under(tree.root, "/dev/kmsg");
		if (kfd >= 0) {
			(void)sched_read_kmsg_reason(kfd, reason, sizeof(reason));
			close(kfd);
		}
	}
	fstree_clear(&tree);
	return 0;
}
