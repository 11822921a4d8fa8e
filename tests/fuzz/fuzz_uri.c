/* SPDX-License-Identifier: MIT */
/* Fuzz resource URI and template matching (percent-decoding included). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int noop_read(void *d, struct smcp_call *c, const char *u, const struct smcp_args *v,
		     struct smcp_result *r)
{
	return 0;
}

static void setup(void)
{
	static bool done;
	static struct smcp_host owner = { .name = "fuzz" };
	static const char *const tpls[] = { "stats://process/{pid}", "test://template/{id}/data",
					    "x://{a}-{b}/{+rest}", "bpf://programs/{id}" };

	if (done)
		return;
	done = true;
	for (size_t i = 0; i < sizeof(tpls) / sizeof(tpls[0]); i++) {
		struct smcp_resource_desc d = { .sz = sizeof(d), .uri = tpls[i], .name = "t",
						.read = noop_read };

		(void)registry_add_resource(&owner, &d, true);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *uri = malloc(size + 1);
	cJSON *vars = NULL;

	if (!uri)
		return 0;
	setup();
	memcpy(uri, data, size);
	uri[size] = '\0';
	(void)registry_find_resource(uri);
	if (registry_match_template(uri, &vars))
		cJSON_Delete(vars);
	cJSON_Delete(registry_template_vars(uri));
	free(uri);
	return 0;
}
