/* SPDX-License-Identifier: MIT */
#include "el_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <schedmcp/array.h>

int el_path(char *buf, size_t len, const char *root, const char *path)
{
	int n = snprintf(buf, len, "%s%s", root ? root : "", path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int el_strtab_add(struct strtab *t, const char *s, size_t n, uint32_t *ret_off)
{
	if (t->len + n + 1 > UINT32_MAX)
		return -EOVERFLOW;
	/* room for the string and its NUL, the last at t->len + n */
	if (smcp_array_grow(&t->buf, &t->cap, t->len + n, 1, 65536))
		return -ENOMEM;
	memcpy(t->buf + t->len, s, n);
	t->buf[t->len + n] = '\0';
	*ret_off = (uint32_t)t->len;
	t->len += n + 1;
	return 0;
}

void el_strtab_free(struct strtab *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

static bool is_literal(const char *p)
{
	return strpbrk(p, ".[]()*+?{}|^$\\") == NULL;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Characters (UTF-8 sequences, as a person counts them) in the first n bytes. */
static size_t char_count(const char *s, size_t n)
{
	size_t chars = 0;

	for (size_t i = 0; i < n && s[i]; i++)
		chars += ((unsigned char)s[i] & 0xC0) != 0x80;
	return chars;
}

static void refuse(char *err, size_t err_len, const char *pattern, const char *why, size_t at)
{
	size_t n = strlen(pattern);

	if (at >= n)
		snprintf(err, err_len,
			 "filter \"%s\" is not a valid regular expression (PCRE2 syntax): %s, at "
			 "the end of the pattern (position %zu, 0-based). Escape literal "
			 "characters with a backslash, e.g. \"a\\\\(b\"",
			 pattern, why, char_count(pattern, n));
	else
		snprintf(err, err_len,
			 "filter \"%s\" is not a valid regular expression (PCRE2 syntax): %s, at "
			 "position %zu (0-based), where \"%.60s\" begins. Escape literal characters "
			 "with a backslash, e.g. \"a\\\\(b\"",
			 pattern, why, char_count(pattern, at), pattern + at);
}

static void too_large(char *err, size_t err_len, const char *pattern, const char *how)
{
	snprintf(err, err_len,
		 "filter \"%s\" is too large once compiled (%s) because its repeat counts "
		 "multiply, as in ((a{1,100}){1,100}){1,100}: use smaller counts, or + and * "
		 "instead",
		 pattern, how);
}

/* What to do about a pattern that is too expensive. */
#define EL_FILTER_ADVICE                                                                           \
	"Nested repeats such as (a+)+ or (.*)*, and several .* in a row, backtrack a lot; a "     \
	"substring (\"wake\") or an anchored prefix (\"^sched_\") is fast"

/*
 * Case-insensitive as before; bytes, never UTF (names are ASCII, and (*UTF)
 * in a pattern would have every name validated first); $ only at the very
 * end, as in POSIX.
 */
#define EL_FILTER_OPTIONS (PCRE2_CASELESS | PCRE2_NEVER_UTF | PCRE2_DOLLAR_ENDONLY)

static int compile_regex(struct el_filter *f, const char *pattern, char *err, size_t err_len)
{
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	PCRE2_UCHAR why[256];
	char how[64];
	PCRE2_SIZE at = 0;
	uint32_t backrefs = 0;
	size_t size = 0;
	int code = 0, rc = 0;

	if (!cc)
		return -ENOMEM;
	(void)pcre2_set_max_pattern_length(cc, EL_FILTER_MAX);
	(void)pcre2_set_parens_nest_limit(cc, EL_FILTER_NEST_MAX);
	f->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, EL_FILTER_OPTIONS, &code,
			      &at, cc);
	pcre2_compile_context_free(cc);
	if (!f->re) {
		if (code == PCRE2_ERROR_NOMEMORY)
			return -ENOMEM;
		if (code == PCRE2_ERROR_PATTERN_TOO_LARGE) {
			too_large(err, err_len, pattern, "more than the library's limit");
			return -EINVAL;
		}
		if (pcre2_get_error_message(code, why, sizeof(why)) < 0)
			snprintf((char *)why, sizeof(why), "PCRE2 error %d", code);
		refuse(err, err_len, pattern, (const char *)why, at);
		return -EINVAL;
	}
	(void)pcre2_pattern_info(f->re, PCRE2_INFO_SIZE, &size);
	(void)pcre2_pattern_info(f->re, PCRE2_INFO_BACKREFMAX, &backrefs);
	if (size > EL_FILTER_COMPILED_MAX) {
		snprintf(how, sizeof(how), "%zu KiB, more than %u KiB", size / 1024,
			 EL_FILTER_COMPILED_MAX / 1024);
		too_large(err, err_len, pattern, how);
		rc = -EINVAL;
	} else if (backrefs) {
		snprintf(err, err_len,
			 "filter \"%s\" uses a back-reference (such as \\1 or \\k<name>), which "
			 "filters do not support: comparing captures makes a search cost grow with "
			 "the cube of a name's length. Match the text itself instead",
			 pattern);
		rc = -EINVAL;
	}
	if (rc)
		return rc;
	f->md = pcre2_match_data_create(1, NULL);
	f->mc = pcre2_match_context_create(NULL);
	if (!f->md || !f->mc)
		return -ENOMEM;
	(void)pcre2_set_match_limit(f->mc, EL_FILTER_MATCH_LIMIT);
	(void)pcre2_set_depth_limit(f->mc, EL_FILTER_DEPTH_LIMIT);
	(void)pcre2_set_heap_limit(f->mc, EL_FILTER_HEAP_KIB);
	return 0;
}

int el_filter_compile(struct el_filter *f, const char *pattern, char *err, size_t err_len)
{
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
	rc = compile_regex(f, pattern, err, err_len);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, err_len, "out of memory compiling the filter");
		el_filter_free(f);
		return rc;
	}
	f->active = true;
	return 0;
}

static int over_limit(struct el_filter *f, const char *s, int rc)
{
	char what[96];

	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
		snprintf(what, sizeof(what),
			 "more than %u backtracking steps from one starting position",
			 EL_FILTER_MATCH_LIMIT);
		break;
	case PCRE2_ERROR_DEPTHLIMIT:
		snprintf(what, sizeof(what), "backtracking nested deeper than %u",
			 EL_FILTER_DEPTH_LIMIT);
		break;
	case PCRE2_ERROR_HEAPLIMIT:
		snprintf(what, sizeof(what), "more than %u KiB of backtracking memory",
			 EL_FILTER_HEAP_KIB);
		break;
	case PCRE2_ERROR_NOMEMORY:
		snprintf(f->why, sizeof(f->why), "out of memory matching the filter");
		return f->failed = -ENOMEM;
	default:
		snprintf(f->why, sizeof(f->why), "matching the filter failed: PCRE2 error %d", rc);
		return f->failed = -EIO;
	}
	snprintf(f->why, sizeof(f->why),
		 "filter is too expensive: on \"%.200s\" it needs %s (a PCRE2 limit). "
		 EL_FILTER_ADVICE, s, what);
	return f->failed = -E2BIG;
}

/*
 * The budget is CPU time, so that a busy machine does not turn a fair
 * pattern away. Reading the thread's CPU clock is a system call (~1-2 us,
 * as much as a match), the monotonic clock is not (vDSO): the CPU clock is
 * read only once a millisecond has passed, and CPU time cannot run faster
 * than the wall clock, so the budget is overrun by at most that
 * millisecond and one name.
 */
static int over_budget(struct el_filter *f)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (now - f->checked_ns < EL_FILTER_CHECK_NS)
		return 0;
	f->checked_ns = now;
	if (clock_ns(CLOCK_THREAD_CPUTIME_ID) - f->cpu_start_ns <= EL_FILTER_BUDGET_MS * 1000000ull)
		return 0;
	snprintf(f->why, sizeof(f->why),
		 "filter is too expensive: the search stopped after %u ms of CPU time, %zu names "
		 "tried. " EL_FILTER_ADVICE ", and a subsystem narrows the list",
		 EL_FILTER_BUDGET_MS, f->tried);
	return f->failed = -E2BIG;
}

int el_filter_match(struct el_filter *f, const char *s)
{
	int rc;

	if (!f->active)
		return 1;
	if (f->literal)
		return strcasestr(s, f->lit) != NULL;
	if (f->failed)
		return f->failed; /* the search is over */
	if (!f->tried) {
		f->cpu_start_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		f->checked_ns = clock_ns(CLOCK_MONOTONIC);
	}
	rc = pcre2_match(f->re, (PCRE2_SPTR)s, strlen(s), 0, 0, f->md, f->mc);
	f->tried++;
	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
		return over_limit(f, s, rc);
	if (over_budget(f))
		return f->failed;
	return rc >= 0; /* 0: matched, the one-pair ovector was too small */
}

void el_filter_free(struct el_filter *f)
{
	pcre2_match_context_free(f->mc);
	pcre2_match_data_free(f->md);
	pcre2_code_free(f->re);
	f->mc = NULL;
	f->md = NULL;
	f->re = NULL;
	f->active = false;
}
