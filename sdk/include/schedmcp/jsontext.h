/* SPDX-License-Identifier: MIT */
/*
 * Header-only checks on JSON text and UTF-8, shared by the host and the
 * plugins that read JSON from outside (a scheduler's stats socket, say):
 *
 *   smcp_utf8_seq()    the length of one well-formed UTF-8 sequence
 *   smcp_utf8_valid()  whether a byte run is well-formed UTF-8
 *   smcp_utf8_repair() a copy with each ill-formed byte replaced by U+FFFD
 *   smcp_json_scan()   nesting depth and number of values of a JSON text,
 *                      counted before a parser spends memory on it
 *
 * "Well-formed" is RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF; the host's JSON writer and its input checks use these same
 * functions. Like fsread.h it is compiled into the plugin and needs no ABI
 * version; no allocation except in smcp_utf8_repair (with the allocator the
 * caller names, so a cJSON string can be replaced in place).
 */
#ifndef SCHEDMCP_JSONTEXT_H
#define SCHEDMCP_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of the well-formed UTF-8 sequence at s (n >= 1 bytes left): 1 to
 * 4, or 0 when the bytes there are ill-formed. */
static inline size_t smcp_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;

		return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;

		if (n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 &&
		    (s[3] & 0xC0) == 0x80)
			return 4;
	}
	return 0;
}

/* Whether the n bytes at s are well-formed UTF-8 (NUL bytes included). */
static inline bool smcp_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		size_t k;

		if (*p < 0x80) { /* ASCII runs are the common case */
			p++;
			continue;
		}
		k = smcp_utf8_seq(p, (size_t)(end - p));
		if (!k)
			return false;
		p += k;
	}
	return true;
}

/*
 * The NUL-terminated string s with every ill-formed byte replaced by U+FFFD,
 * in memory from alloc (malloc, cJSON_malloc, ...). Returns NULL both when
 * s is already well-formed (nothing is allocated: keep s) and when alloc
 * fails; *ret_err tells them apart (0, or -ENOMEM as -12 here, so that
 * the header needs no <errno.h>: compare with -ENOMEM).
 */
static inline char *smcp_utf8_repair(const char *s, void *(*alloc)(size_t), int *ret_err)
{
	const unsigned char *p = (const unsigned char *)s, *end;
	size_t n = strlen(s);
	char *out, *o;

	*ret_err = 0;
	if (smcp_utf8_valid(s, n))
		return NULL;
	out = (char *)alloc(n * 3 + 1);
	if (!out) {
		*ret_err = -12; /* -ENOMEM */
		return NULL;
	}
	for (o = out, end = p + n; p < end;) {
		size_t k = smcp_utf8_seq(p, (size_t)(end - p));

		if (k) {
			memcpy(o, p, k);
			o += k;
			p += k;
		} else {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			p++;
		}
	}
	*o = '\0';
	return out;
}

/* What smcp_json_scan() counted. */
struct smcp_json_counts {
	size_t values; /* 1 + containers + commas: about the values a parser makes */
	int depth;     /* deepest nesting of [ and { */
};

/*
 * Count, outside strings, the values (one for the text, one per [ or {, one
 * per comma: an object member is one value with its key) and the deepest
 * nesting of the n bytes at s, without parsing them: what a parser such as
 * cJSON would spend (~64 bytes per value, a stack frame per level) is
 * known before it runs. Stops early once values passes max_values or depth
 * passes max_depth (0: no bound); the counts are then past the bound, not
 * exact. The text need not be valid JSON.
 */
static inline void smcp_json_scan(const char *s, size_t n, size_t max_values, int max_depth,
				  struct smcp_json_counts *ret)
{
	size_t values = 1;
	int depth = 0, max = 0;
	bool in_str = false;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == ',') {
			values++;
		} else if (c == '[' || c == '{') {
			values++;
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
		if ((max_values && values > max_values) || (max_depth && max > max_depth))
			break;
	}
	ret->values = values;
	ret->depth = max;
}

#ifdef __cplusplus
}
#endif

#endif /* SCHEDMCP_JSONTEXT_H */
