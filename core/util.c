/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <schedmcp/jsontext.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The UTF-8 rules live in <schedmcp/jsontext.h>, shared with the plugins
 * that repair what they read, so host and plugins agree on what is valid. */
bool util_utf8_valid(const char *s, size_t n)
{
	return smcp_utf8_valid(s, n);
}

char *util_utf8_sanitize(const char *s, int *ret_err)
{
	int err;
	char *out = smcp_utf8_repair(s, malloc, &err);

	if (ret_err)
		*ret_err = err ? -ENOMEM : 0;
	return out;
}

void *util_new_slot(void ***arr, size_t n, size_t size)
{
	void *item = calloc(1, size);
	void **na = item ? realloc(*arr, (n + 1) * sizeof(*na)) : NULL;

	if (!na) {
		free(item);
		return NULL;
	}
	*arr = na;
	return item;
}
