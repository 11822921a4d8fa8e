/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <schedmcp/jsontext.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The UTF-8 rules live in <schedmcp/jsontext.h>, shared with the plugins
 * that repair what they read, so host and plugins agree on what is valid. */
bool utf8_valid(const char *s, size_t n)
{
	return smcp_utf8_valid(s, n);
}

char *utf8_sanitize(const char *s, int *ret_err)
{
	int err;
	char *out = smcp_utf8_repair(s, malloc, &err);

	if (ret_err)
		*ret_err = err ? -ENOMEM : 0;
	return out;
}

char *base64_encode(const void *data, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	char *out, *o;
	size_t i;

	if (len > (SIZE_MAX / 4) * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*o++ = tbl[v >> 18];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = tbl[(v >> 6) & 63];
		*o++ = tbl[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		*o++ = tbl[v >> 18];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}
