/* SPDX-License-Identifier: MIT */
#include "el_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int el_path(char *buf, size_t len, const char *root, const char *path)
{
	int n = snprintf(buf, len, "%s%s", root ? root : "", path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int strtab_add(struct strtab *t, const char *s, size_t n, uint32_t *ret_off)
{
	if (t->len + n + 1 > UINT32_MAX)
		return -EOVERFLOW;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 65536;
		char *nb;

		while (cap < t->len + n + 1)
			cap *= 2;
		nb = realloc(t->buf, cap);
		if (!nb)
			return -ENOMEM;
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->buf[t->len + n] = '\0';
	*ret_off = (uint32_t)t->len;
	t->len += n + 1;
	return 0;
}

void strtab_free(struct strtab *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

static bool is_literal(const char *p)
{
	return strpbrk(p, ".[]()*+?{}|^$\\") == NULL;
}

/*
 * POSIX regerror() says what is wrong but not where. The longest prefix
 * that still compiles ends where the pattern goes wrong, so that is the
 * position reported (in characters, as a person counts them).
 */
static size_t error_position(const char *pattern, size_t *ret_chars)
{
	size_t n = strlen(pattern), good = 0, chars = 0;
	char buf[EL_FILTER_MAX + 1];
	regex_t re;

	for (size_t k = 1; k < n && k <= EL_FILTER_MAX; k++) {
		if (((unsigned char)pattern[k] & 0xC0) == 0x80)
			continue; /* not a character boundary */
		memcpy(buf, pattern, k);
		buf[k] = '\0';
		if (regcomp(&re, buf, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0) {
			regfree(&re);
			good = k;
		}
	}
	for (size_t i = 0; i < good; i++)
		chars += ((unsigned char)pattern[i] & 0xC0) != 0x80;
	*ret_chars = chars;
	return good;
}

int el_filter_compile(struct el_filter *f, const char *pattern, char *err, size_t err_len)
{
	char why[128];
	int rc;

	memset(f, 0, sizeof(*f));
	if (!pattern || !*pattern)
		return 0;
	if (strlen(pattern) > EL_FILTER_MAX) {
		snprintf(err, err_len, "filter is longer than %d bytes", EL_FILTER_MAX);
		return -EINVAL;
	}
	if (is_literal(pattern)) {
		f->active = f->literal = true;
		snprintf(f->lit, sizeof(f->lit), "%s", pattern);
		return 0;
	}
	rc = regcomp(&f->re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	if (rc) {
		size_t chars, at = error_position(pattern, &chars);

		regerror(rc, &f->re, why, sizeof(why));
		regfree(&f->re);
		snprintf(err, err_len,
			 "filter \"%s\" is not a valid extended regular expression: %s; it "
			 "goes wrong at position %zu (0-based), where \"%s\" begins. Escape "
			 "literal characters with a backslash, e.g. \"a\\\\(b\"",
			 pattern, why, chars, pattern + at);
		return -EINVAL;
	}
	f->active = true;
	return 0;
}

bool el_filter_match(const struct el_filter *f, const char *s)
{
	if (!f->active)
		return true;
	if (f->literal)
		return strcasestr(s, f->lit) != NULL;
	return regexec(&f->re, s, 0, NULL, 0) == 0;
}

void el_filter_free(struct el_filter *f)
{
	if (f->active && !f->literal)
		regfree(&f->re);
	f->active = false;
}
