/* SPDX-License-Identifier: MIT */
/* Fuzz the config parser and validation against the core's keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "n", SMCP_CONFIG_INT, "1", "n", -5, 100 },
	{ sizeof(struct smcp_config_key), "b", SMCP_CONFIG_BOOL, "true", "b", 0, 0 },
	{ sizeof(struct smcp_config_key), "s", SMCP_CONFIG_STRING, NULL, "s", 0, 0 },
	{ sizeof(struct smcp_config_key), "p", SMCP_CONFIG_PATH, "/x", "p", 0, 0 },
	{ 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c = { 0 };
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string(&c, text, "fuzz") == 0)
		for (size_t i = 0; i < c.n_sections; i++)
			config_validate(&c, &c.sections[i], keys);
	(void)config_value(config_find(&c, "core", false), "n", NULL);
	config_free(&c);
	free(text);
	return 0;
}
