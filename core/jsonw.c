/* SPDX-License-Identifier: MIT */
#include "jsonw.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
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

/* Bytes that need no escaping at all. */
static void raw_put(struct jbuf *b, const char *s, size_t n)
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

/* The escape sequence for byte c, or NULL when c needs none. */
static const char *escape_of(unsigned char c, char tmp[8])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		if (c >= 0x20)
			return NULL;
		memcpy(tmp, "\\u00", 4);
		tmp[4] = hex[c >> 4];
		tmp[5] = hex[c & 15];
		tmp[6] = '\0';
		return tmp;
	}
}

static void esc_put(struct jbuf *b, const char *s, size_t n)
{
	size_t i, start = 0;
	char tmp[8];

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		e = escape_of(c, tmp);
		raw_put(b, s + start, i - start);
		raw_put(b, e, strlen(e));
		start = i + 1;
	}
	raw_put(b, s + start, n - start);
}

void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
	if (b->esc)
		esc_put(b, s, n);
	else
		raw_put(b, s, n);
}

void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0;
	char tmp[8];

	jbuf_put(b, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		size_t k;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80 && (k = smcp_utf8_seq(u + i, n - i)) != 0) {
			i += k;
			continue;
		}
		/* what was plain so far needs escaping at neither level */
		raw_put(b, s + start, i - start);
		if (c >= 0x80)
			raw_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD for an ill-formed byte */
		else
			jbuf_puts(b, escape_of(c, tmp));
		start = ++i;
	}
	raw_put(b, s + start, n - start);
	jbuf_put(b, "\"", 1);
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

/* cJSON 1.7's print_number: integers within int as integers, else the
 * shortest of %1.15g and %1.17g that reads back (within DBL_EPSILON). */
void jbuf_double(struct jbuf *b, double d)
{
	char buf[32];
	double back;
	int n;

	if (!isfinite(d)) {
		raw_put(b, "null", 4);
		return;
	}
	if (d >= INT_MIN && d <= INT_MAX && d == (double)(int)d) {
		jbuf_int(b, (int)d);
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
	bool first = true;

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
		jbuf_put(b, "[", 1);
		for (e = v->child; e; e = e->next) {
			if (!first)
				raw_put(b, ",", 1);
			first = false;
			jbuf_cjson(b, e);
		}
		jbuf_put(b, "]", 1);
		break;
	case cJSON_Object:
		jbuf_put(b, "{", 1);
		for (e = v->child; e; e = e->next) {
			if (!first)
				raw_put(b, ",", 1);
			first = false;
			jbuf_strz(b, e->string ? e->string : "");
			jbuf_put(b, ":", 1);
			jbuf_cjson(b, e);
		}
		jbuf_put(b, "}", 1);
		break;
	default:
		raw_put(b, "null", 4);
		break;
	}
}

/* ------------------------------------------------------------ validation */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex4(const char *s, size_t n, size_t i, unsigned *ret)
{
	unsigned v = 0;

	if (i + 4 > n)
		return -EINVAL;
	for (size_t k = i; k < i + 4; k++) {
		char c = s[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* The string starting at s[*i] (a quote); *i moves past its end. Lone
 * surrogate escapes are refused, as cJSON refuses them. */
static int check_string(const char *s, size_t n, size_t *i)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t p = *i + 1;

	while (p < n) {
		unsigned char c = u[p];
		unsigned cp, lo;
		size_t k;

		if (c == '"') {
			*i = p + 1;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c >= 0x80) {
			k = smcp_utf8_seq(u + p, n - p);
			if (!k)
				return -EINVAL;
			p += k;
			continue;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (++p >= n)
			return -EINVAL;
		c = u[p];
		if (strchr("\"\\/bfnrt", c) && c) {
			p++;
			continue;
		}
		if (c != 'u' || hex4(s, n, p + 1, &cp))
			return -EINVAL;
		p += 5;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return -EINVAL;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (p + 1 >= n || s[p] != '\\' || s[p + 1] != 'u' ||
			    hex4(s, n, p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
				return -EINVAL;
			p += 6;
		}
	}
	return -EINVAL;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static int check_number(const char *s, size_t n, size_t *i)
{
	size_t p = *i;

	if (p < n && s[p] == '-')
		p++;
	if (p < n && s[p] == '0')
		p++;
	else if (p < n && digit(s[p]))
		while (p < n && digit(s[p]))
			p++;
	else
		return -EINVAL;
	if (p < n && s[p] == '.') {
		if (++p >= n || !digit(s[p]))
			return -EINVAL;
		while (p < n && digit(s[p]))
			p++;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= n || !digit(s[p]))
			return -EINVAL;
		while (p < n && digit(s[p]))
			p++;
	}
	*i = p;
	return 0;
}

#define CHECK_MAX_DEPTH 1024

/*
 * One JSON value filling s (whitespace around it allowed), iteratively: a
 * bit per open container says object or array. *ret_ws counts whitespace
 * bytes outside strings (0: the text can be copied as it is).
 */
static int check(const char *s, size_t n, int max_depth, size_t *ret_ws)
{
	unsigned char objs[CHECK_MAX_DEPTH / 8] = { 0 };
	size_t i = 0, ws = 0;
	int depth = 0;

	if (max_depth > CHECK_MAX_DEPTH)
		max_depth = CHECK_MAX_DEPTH;
#define SKIP_WS()                                                                                 \
	while (i < n && is_ws(s[i])) {                                                            \
		i++;                                                                              \
		ws++;                                                                             \
	}
#define TOP_IS_OBJ() (objs[(depth - 1) / 8] & (1u << ((depth - 1) % 8)))
value:
	SKIP_WS();
	if (i >= n)
		return -EINVAL;
	switch (s[i]) {
	case '{':
	case '[':
		if (depth >= max_depth)
			return -EINVAL;
		depth++;
		if (s[i] == '{')
			objs[(depth - 1) / 8] |= (unsigned char)(1u << ((depth - 1) % 8));
		else
			objs[(depth - 1) / 8] &= (unsigned char)~(1u << ((depth - 1) % 8));
		i++;
		SKIP_WS();
		if (i < n && s[i] == (TOP_IS_OBJ() ? '}' : ']')) {
			i++;
			depth--;
			goto after;
		}
		if (TOP_IS_OBJ())
			goto key;
		goto value;
	case '"':
		if (check_string(s, n, &i))
			return -EINVAL;
		goto after;
	case 't':
		if (n - i < 4 || memcmp(s + i, "true", 4))
			return -EINVAL;
		i += 4;
		goto after;
	case 'f':
		if (n - i < 5 || memcmp(s + i, "false", 5))
			return -EINVAL;
		i += 5;
		goto after;
	case 'n':
		if (n - i < 4 || memcmp(s + i, "null", 4))
			return -EINVAL;
		i += 4;
		goto after;
	default:
		if (check_number(s, n, &i))
			return -EINVAL;
		goto after;
	}
key:
	if (i >= n || s[i] != '"' || check_string(s, n, &i))
		return -EINVAL;
	SKIP_WS();
	if (i >= n || s[i] != ':')
		return -EINVAL;
	i++;
	goto value;
after:
	SKIP_WS();
	if (!depth) {
		if (i != n)
			return -EINVAL;
		*ret_ws = ws;
		return 0;
	}
	if (i >= n)
		return -EINVAL;
	if (s[i] == ',') {
		i++;
		SKIP_WS();
		if (TOP_IS_OBJ())
			goto key;
		goto value;
	}
	if (s[i] != (TOP_IS_OBJ() ? '}' : ']'))
		return -EINVAL;
	i++;
	depth--;
	goto after;
#undef SKIP_WS
#undef TOP_IS_OBJ
}

int json_text_check(const char *s, size_t n, int max_depth)
{
	size_t ws;

	return check(s, n, max_depth, &ws);
}

int jbuf_raw(struct jbuf *b, const char *s, size_t n, int max_depth)
{
	size_t ws, i, start;
	bool in_str = false;

	if (!s || check(s, n, max_depth, &ws))
		return -EINVAL;
	if (!ws) {
		jbuf_put(b, s, n);
		return 0;
	}
	/* drop the whitespace between tokens, keep strings as they are */
	for (i = start = 0; i < n; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = false;
		} else if (s[i] == '"') {
			in_str = true;
		} else if (is_ws(s[i])) {
			jbuf_put(b, s + start, i - start);
			start = i + 1;
		}
	}
	jbuf_put(b, s + start, n - start);
	return 0;
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
