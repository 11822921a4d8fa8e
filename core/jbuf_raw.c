/* SPDX-License-Identifier: MIT */
/*
 * JSON text from outside (a plugin's json_raw, an event or breach kept as
 * text) checked against RFC 8259 without parsing it, and copied into an
 * answer without the whitespace between its tokens: the half of jbuf.h
 * that reads JSON rather than writes it.
 */
#include "jbuf.h"

#include <errno.h>
#include <string.h>

#include <schedmcp/jsontext.h>

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

int jbuf_raw_check(const char *s, size_t n, int max_depth)
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
