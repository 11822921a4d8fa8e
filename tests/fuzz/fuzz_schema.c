/* SPDX-License-Identifier: MIT */
/* Fuzz tool-argument validation: the input is JSON arguments checked (and
 * coerced) against fixed schemas, and also checked as a schema itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const schemas[] = {
	"{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\",\"minimum\":1},"
	"\"name\":{\"type\":\"string\",\"maxLength\":8},\"on\":{\"type\":\"boolean\"},"
	"\"mode\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},\"xs\":{\"type\":\"array\","
	"\"items\":{\"type\":[\"number\",\"null\"]},\"maxItems\":3}},\"required\":[\"pid\"],"
	"\"additionalProperties\":false}",
	"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\",\"properties\":"
	"{\"x\":{\"type\":\"number\",\"exclusiveMaximum\":1}}}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *v = cJSON_ParseWithLength((const char *)data, size);
	char err[512];

	if (!v)
		return 0;
	(void)schema_check(v, true);
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
		cJSON *s = cJSON_Parse(schemas[i]);
		cJSON *copy = cJSON_Duplicate(v, true);

		if (s && copy)
			(void)schema_validate(s, copy, err, sizeof(err));
		cJSON_Delete(copy);
		cJSON_Delete(s);
	}
	cJSON_Delete(v);
	return 0;
}
