/* SPDX-License-Identifier: MIT */
#include "jbuf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/jsontext.h>

#define JBUF_MIN_ALLOC 256

void jbuf_init(struct jbuf *b, size_t limit)
{
	*b = (struct jbuf){ .limit = limit };
}

void jbuf_init_on(struct jbuf *b, char *storage, size_t size, size_t limit)
{
	*b = (struct jbuf){ .p = storage, .cap = size, .limit = limit, .borrowed = true };
	if (size)
		storage[0] = '\0';
}

void jbuf_free(struct jbuf *b)
{
	if (!b->borrowed)
		free(b->p);
	*b = (struct jbuf){ .limit = b->limit };
}

void jbuf_truncate(struct jbuf *b, size_t n)
{
	if (n > b->len)
		return;
	b->len = b->total = n;
	if (b->p)
		b->p[n] = '\0';
}

void jbuf_rewind(struct jbuf *b, size_t len, size_t total)
{
	if (len > b->len || total < len)
		return;
	b->len = len;
	b->total = total;
	if (b->p)
		b->p[len] = '\0';
}

void jbuf_count(struct jbuf *b, size_t n)
{
	/* held bytes stop at the first gap: the text is incomplete from here */
	b->total += n;
}

static bool grow(struct jbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : JBUF_MIN_ALLOC / 2;
	char *p;

	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->borrowed) {
		p = malloc(cap);
		if (p && b->len)
			memcpy(p, b->p, b->len);
	} else {
		p = realloc(b->p, cap);
	}
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	b->borrowed = false;
	return true;
}

void jbuf_reserve(struct jbuf *b, size_t n)
{
	if (n > b->limit)
		n = b->limit;
	if (n < SIZE_MAX && n + 1 > b->cap && !b->err)
		(void)grow(b, n + 1);
}

static void raw_put_slow(struct jbuf *b, const char *s, size_t n)
{
	bool whole = b->total == b->len; /* nothing was dropped yet */

	b->total += n;
	if (!whole || b->err || !n)
		return;
	if (b->len + n > b->limit)
		return; /* over from now on: total > len */
	if (b->len + n + 1 > b->cap && !grow(b, b->len + n + 1))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Bytes that need no escaping at all. The common case (some bytes, room,
 * under the limit, nothing dropped or failed: then total == len) is a copy;
 * nothing (s may then be NULL, an empty part) goes the slow way. */
static inline void raw_put(struct jbuf *b, const char *s, size_t n)
{
	size_t end = b->len + n;

	if (__builtin_expect(n && b->total == b->len && end < b->cap && end <= b->limit, 1)) {
		memcpy(b->p + b->len, s, n);
		b->len = b->total = end;
		b->p[end] = '\0';
		return;
	}
	raw_put_slow(b, s, n);
}

/*
 * Bytes that stand for themselves inside a JSON string: not '"', '\' or a
 * control character. In text_plain also only ASCII (the rest is checked as
 * UTF-8); NUL is never plain, so a scan stops at the end of a C string.
 */
static const unsigned char esc_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0xFF] = 1, /* not " or \\ */
};
static const unsigned char text_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0x7F] = 1,
};

/* The escape sequence for a byte that is not plain, into tmp; its length. */
static size_t escape_of(unsigned char c, char *tmp)
{
	static const char hex[] = "0123456789abcdef";
	char e;

	switch (c) {
	case '"':
		e = '"';
		break;
	case '\\':
		e = '\\';
		break;
	case '\b':
		e = 'b';
		break;
	case '\f':
		e = 'f';
		break;
	case '\n':
		e = 'n';
		break;
	case '\r':
		e = 'r';
		break;
	case '\t':
		e = 't';
		break;
	default:
		memcpy(tmp, "\\u00", 4);
		tmp[4] = hex[c >> 4];
		tmp[5] = hex[c & 15];
		return 6;
	}
	tmp[0] = '\\';
	tmp[1] = e;
	return 2;
}

/* The escape of byte c as it is written into b: escaped once more when b
 * is itself inside a string (a '"' in a body becomes \\\" in the answer). */
static void put_escape(struct jbuf *b, unsigned char c)
{
	char tmp[8], twice[16];
	size_t n = escape_of(c, tmp), k = 0;

	if (!b->esc) {
		raw_put(b, tmp, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] == '\\' || tmp[i] == '"')
			twice[k++] = '\\';
		twice[k++] = tmp[i];
	}
	raw_put(b, twice, k);
}

static void esc_put(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start;

	while (i < n) {
		start = i;
		while (i < n && esc_plain[u[i]])
			i++;
		raw_put(b, s + start, i - start);
		if (i < n) {
			char tmp[8];

			raw_put(b, tmp, escape_of(u[i], tmp));
			i++;
		}
	}
}

void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
	if (b->esc)
		esc_put(b, s, n);
	else
		raw_put(b, s, n);
}

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	char tmp[512], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		jbuf_put(b, tmp, (size_t)n);
		return;
	}
	/* rare (a long line): print again into memory of its size */
	big = malloc((size_t)n + 1);
	if (!big) {
		b->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	jbuf_put(b, big, (size_t)n);
	free(big);
}

/* The quotes of a string: \" inside another string. */
static void put_quote(struct jbuf *b)
{
	if (b->esc)
		raw_put(b, "\\\"", 2);
	else
		raw_put(b, "\"", 1);
}

/* The inside of a string: n bytes, or up to a NUL when zterm. */
static void str_body(struct jbuf *b, const char *s, size_t n, bool zterm)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start;

	for (;;) {
		size_t k;

		start = i;
		while (i < n && text_plain[u[i]])
			i++;
		/* plain bytes need escaping at neither level */
		raw_put(b, s + start, i - start);
		if (i >= n || (zterm && !u[i]))
			return;
		if (u[i] >= 0x80) {
			k = smcp_utf8_seq(u + i, n - i);
			if (k) {
				raw_put(b, s + i, k);
				i += k;
			} else {
				raw_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD for an ill-formed byte */
				i++;
			}
			continue;
		}
		put_escape(b, u[i]);
		i++;
	}
}

void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	put_quote(b);
	if (n) /* s may be NULL for an empty string */
		str_body(b, s, n, false);
	put_quote(b);
}

void jbuf_strz(struct jbuf *b, const char *s)
{
	put_quote(b);
	str_body(b, s, SIZE_MAX, true);
	put_quote(b);
}

void jbuf_uint(struct jbuf *b, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	raw_put(b, p, (size_t)(buf + sizeof(buf) - p));
}

void jbuf_int(struct jbuf *b, int64_t v)
{
	if (v < 0) {
		raw_put(b, "-", 1);
		jbuf_uint(b, 0 - (uint64_t)v);
	} else {
		jbuf_uint(b, (uint64_t)v);
	}
}

/* As cJSON prints numbers: the shortest of %1.15g and %1.17g that reads
 * back (within DBL_EPSILON). */
void jbuf_double(struct jbuf *b, double d)
{
	char buf[32];
	double back;
	int n;

	if (!isfinite(d)) {
		raw_put(b, "null", 4);
		return;
	}
	/* integral values below 1e15 print the same with %1.15g: as integers,
	 * without printf (-0 keeps its sign, as %g does) */
	if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d))) {
		jbuf_int(b, (int64_t)d);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%1.15g", d);
	back = strtod(buf, NULL);
	if (fabs(back - d) > fmax(fabs(back), fabs(d)) * __DBL_EPSILON__)
		n = snprintf(buf, sizeof(buf), "%1.17g", d);
	raw_put(b, buf, (size_t)n);
}

void jbuf_base64(struct jbuf *b, const void *data, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	char chunk[1024];
	size_t i, o = 0;

	jbuf_put(b, "\"", 1);
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		chunk[o++] = tbl[v >> 18];
		chunk[o++] = tbl[(v >> 12) & 63];
		chunk[o++] = tbl[(v >> 6) & 63];
		chunk[o++] = tbl[v & 63];
		if (o == sizeof(chunk)) {
			raw_put(b, chunk, o);
			o = 0;
		}
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		chunk[o++] = tbl[v >> 18];
		chunk[o++] = tbl[(v >> 12) & 63];
		chunk[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		chunk[o++] = '=';
	}
	raw_put(b, chunk, o);
	jbuf_put(b, "\"", 1);
}

void jbuf_cjson(struct jbuf *b, const cJSON *v)
{
	const cJSON *e;
	bool first = true, obj;

	if (!v) {
		raw_put(b, "null", 4);
		return;
	}
	switch (v->type & 0xFF) {
	case cJSON_False:
		raw_put(b, "false", 5);
		break;
	case cJSON_True:
		raw_put(b, "true", 4);
		break;
	case cJSON_Number:
		jbuf_double(b, v->valuedouble);
		break;
	case cJSON_Raw:
		/* the core's own raw nodes: integers and ids it printed */
		if (v->valuestring)
			jbuf_puts(b, v->valuestring);
		else
			raw_put(b, "null", 4);
		break;
	case cJSON_String:
		jbuf_strz(b, v->valuestring ? v->valuestring : "");
		break;
	case cJSON_Array:
	case cJSON_Object:
		obj = (v->type & 0xFF) == cJSON_Object;
		jbuf_put(b, obj ? "{" : "[", 1);
		for (e = v->child; e; e = e->next) {
			if (!first)
				raw_put(b, ",", 1);
			first = false;
			if (obj) {
				jbuf_strz(b, e->string ? e->string : "");
				jbuf_put(b, ":", 1);
			}
			jbuf_cjson(b, e);
		}
		jbuf_put(b, obj ? "}" : "]", 1);
		break;
	default:
		raw_put(b, "null", 4);
		break;
	}
}

char *jbuf_take(struct jbuf *b, size_t *ret_len)
{
	char *p = NULL;

	if (!b->err && !jbuf_over(b) && b->len) {
		if (b->borrowed) {
			p = malloc(b->len + 1);
			if (p)
				memcpy(p, b->p, b->len + 1);
		} else {
			p = b->p;
			b->p = NULL;
		}
		if (p && ret_len)
			*ret_len = b->len;
	}
	jbuf_free(b);
	return p;
}
