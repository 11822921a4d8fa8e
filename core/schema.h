/* SPDX-License-Identifier: MIT */
/* The subset of JSON Schema the core enforces on tool arguments: type
 * (incl. lists of types), properties, required, additionalProperties:false,
 * enum, minimum/maximum, exclusiveMinimum/Maximum, minLength/maxLength,
 * items, minItems/maxItems. Numeric strings are converted in place where a
 * number is expected, "true"/"false" where a boolean is: models often send
 * {"pid": "1234"}. */
#ifndef SMCP_SCHEMA_H
#define SMCP_SCHEMA_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* 0 if schema is a usable schema (top: must be type object), else -EINVAL. */
int schema_check(const cJSON *schema, bool top);

/* Validate (and coerce) value against schema. 0 when valid, else -EINVAL
 * with a message naming the argument in err. */
int schema_validate(const cJSON *schema, cJSON *value, char *err, size_t err_len);

#endif
