/* SPDX-License-Identifier: MIT */
/*
 * Fuzz sched_latency's readers of the container runtimes' state
 * (sl_cgstate.c): the input is a Docker config.v2.json, a Podman
 * containers.json, a /var/log/pods entry name and a /var/log/containers
 * one, all at once. What a parser accepts must hold what its contract says
 * (a 64-hex id, a name of the runtime's alphabet, the parts of an entry
 * that make it up again), else abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_cgstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id(const char *id)
{
	if (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_cgstate_result *r = calloc(1, sizeof(*r));
	char name[256], id[65], ns[64], pod[254], uid[37], entry[400], again[400];
	size_t n = size < sizeof(entry) - 1 ? size : sizeof(entry) - 1;
	int got;

	if (!r)
		return 0;
	if (sl_cgstate_docker_parse((const char *)data, size, name, sizeof(name), id,
				    sizeof(id)) == 0) {
		check_id(id);
		if (!name[0] || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_.-") != strlen(name))
			abort();
	}
	got = sl_cgstate_podman_parse((const char *)data, size, "web", r);
	if (got >= 0 && r->n > got)
		abort();
	for (int i = 0; i < r->n && i < SL_CGSTATE_HITS; i++) {
		check_id(r->hits[i].id);
		if (strcmp(r->hits[i].name, "web") != 0)
			abort();
	}
	/* the entry names: the input as a string, cut at its first NUL */
	memcpy(entry, data, n);
	entry[n] = '\0';
	if (sl_cgstate_pod_dir(entry, ns, pod, uid)) {
		snprintf(again, sizeof(again), "%s_%s_%s", ns, pod, uid);
		if (strcmp(again, entry) != 0)
			abort();
	}
	if (sl_cgstate_container_log(entry, "web-1", "default", "app", id)) {
		check_id(id);
		snprintf(again, sizeof(again), "web-1_default_app-%s.log", id);
		if (strcmp(again, entry) != 0)
			abort();
	}
	free(r);
	return 0;
}
