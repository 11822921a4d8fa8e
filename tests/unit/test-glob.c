/* SPDX-License-Identifier: MIT */
/*
 * smcp_glob_match (sdk/include/schedmcp/glob.h) against glibc's
 * fnmatch(pattern, string, 0), which it replaces for client-supplied globs:
 * the same answer on a table of documented cases and on millions of random
 * patterns built from every piece of the syntax (malformed sets included),
 * and a bounded cost on the patterns that make a backtracking matcher
 * explode. Patterns and strings are copied into buffers of their exact size,
 * so a read past the terminating NUL is a sanitizer report.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <schedmcp/glob.h>

#include "unit.h"

static int glob_exact(const char *pattern, const char *string)
{
	char *p = strdup(pattern), *s = strdup(string);
	int r;

	if (!p || !s)
		abort();
	r = smcp_glob_match(p, s);
	free(p);
	free(s);
	return r;
}

static void test_cases(void)
{
	static const struct {
		const char *pattern, *string;
		int match;
	} cases[] = {
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "*", "", 1 },
		{ "sched_*", "sched_latency_ns", 1 },
		{ "sched_*", "xsched_", 0 },
		{ "*_ns", "sched_latency_ns", 1 },
		{ "kworker*", "kworker/0:1", 1 }, /* '/' is an ordinary byte: no FNM_PATHNAME */
		{ "*.util", "layers.batch.util", 1 },
		{ "layers.*.util", "layers.batch.util", 1 },
		{ "*", ".hidden", 1 }, /* no FNM_PERIOD */
		{ "?", "", 0 },
		{ "a?c", "abc", 1 },
		{ "*?", "", 0 },
		{ "*?", "x", 1 },
		{ "cpu[0-3]", "cpu2", 1 },
		{ "cpu[0-3]", "cpu4", 0 },
		{ "cpu[!0-3]", "cpu4", 1 },
		{ "cpu[^0-3]", "cpu4", 1 },
		{ "[]]", "]", 1 },
		{ "[!]]", "]", 0 },
		{ "[a-]", "-", 1 },
		{ "[[:digit:]]*", "7up", 1 },
		{ "[[:upper:]]", "a", 0 },
		{ "[[:foo:]]", "f", 0 },     /* unknown class: nothing matches */
		{ "[[=a=]]", "a", 1 },
		{ "[[.-.]]", "-", 1 },
		{ "[a-", "[a-", 0 },         /* a range without its end: nothing */
		{ "[", "[", 1 },             /* no "]": the "[" is a byte */
		{ "[[", "[[", 1 },           /* glibc bug 28792, fixed in 2.36 */
		{ "[\\]", "[]", 1 },
		{ "\\*", "*", 1 },
		{ "\\*", "a", 0 },
		{ "a\\", "a\\", 0 },         /* a trailing backslash matches nothing */
		{ "[\\]a]", "]", 1 },
		{ "comm=\xc3\xa9*", "comm=\xc3\xa9t\xc3\xa9", 1 }, /* bytes, as they are */
		{ "A*", "a", 0 },            /* no case folding */
	};

	UNIT_CASE("documented cases");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int want = fnmatch(cases[i].pattern, cases[i].string, 0) == 0;
		int got = glob_exact(cases[i].pattern, cases[i].string);

		CHECK_MSG(want == cases[i].match, "fnmatch(\"%s\", \"%s\") = %d: the table is wrong",
			  cases[i].pattern, cases[i].string, want);
		CHECK_MSG(got == cases[i].match, "smcp_glob_match(\"%s\", \"%s\") = %d, expected %d",
			  cases[i].pattern, cases[i].string, got, cases[i].match);
	}
}

/* xorshift: the same sequence on every run, so a failure reproduces */
static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static void test_random_equivalence(void)
{
	/* every piece of the syntax, malformed ones too */
	static const char *const tok[] = {
		"*", "?", "a", "b", "c", "A", "0", " ", "/", ".", "-", "!", "^", "]", "[", "\\",
		":", "=", "\xe9", "\x01", "\x7f", "**", "*?", "[a-c]", "[!a]", "[^b-z]", "[]a]",
		"[!]", "[^]]", "[a-", "-]", "[\\", "\\]", "[\\]]", "[a-\\]", "[z-a]", "[\\a-\\c]",
		"[:alpha:]", "[[:alpha:]]", "[[:digit:]]", "[[:upper:]]", "[[:punct:]]",
		"[[:space:]]", "[[:xdigit:]]", "[[:foo:]]", "[[:z:]]", "[[:", ":]", "[:",
		"[[:lower:][:digit:]]", "[![:space:]]", "[.a.]", "[[.a.]]", "[.ab.]", "[.", "[[.",
		"[.-.]", "[.].]", "[a-[.c.]]", "[[.a.]-z]", "[=a=]", "[[=a=]]", "[=", "[[=", "=]",
		"[=]=]",
	};
	static const char bytes[] = "abcA0 /.-!^][\\:=\xe9z";
	const unsigned n_tok = sizeof(tok) / sizeof(tok[0]);
	long bad = 0, matched = 0, total = 0;

	UNIT_CASE("random patterns against fnmatch");
	for (long it = 0; it < 1500000; it++) {
		char p[512] = "", s[32];
		unsigned k = rnd(13), sl = rnd(13);
		size_t pl;

		for (unsigned i = 0; i < k; i++)
			strcat(p, tok[rnd(n_tok)]);
		pl = strlen(p);
		for (unsigned i = 0; i < sl; i++) {
			/* half from the pattern's own bytes, so that matches are common */
			if (pl && rnd(2))
				s[i] = p[rnd((unsigned)pl)];
			else
				s[i] = rnd(10) ? bytes[rnd(sizeof(bytes) - 1)] : (char)(1 + rnd(255));
		}
		s[sl] = '\0';
		{
			int want = fnmatch(p, s, 0) == 0, got = glob_exact(p, s);

			total++;
			matched += want;
			if (want != got && bad++ < 10)
				CHECK_MSG(0, "pattern \"%s\" string \"%s\": fnmatch %d, smcp_glob_match %d",
					  p, s, want, got);
		}
	}
	CHECK_MSG(bad == 0, "%ld of %ld answers differ", bad, total);
	/* the generator must exercise both answers */
	CHECK_MSG(matched > total / 100 && matched < total / 2, "%ld matches of %ld", matched,
		  total);
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * The worst a client can send: the longest glob any call site takes (256
 * bytes, scx_stats' fields) shaped so that a backtracking matcher retries
 * every star at every position, against a name far longer than any real
 * one. The bound is pattern length times string length (1M steps here).
 */
static void test_pathological(void)
{
	static char s[4097], p[4][260];
	const double limit_ms = getenv("SMCP_SANITIZED") ? 150 : 50;

	UNIT_CASE("pathological patterns are bounded");
	memset(s, 'a', 4096);
	for (int i = 0; i < 127; i++)
		strcat(p[0], "*a");
	strcat(p[0], "b"); /* *a*a*a...*ab */
	strcat(p[1], "*");
	for (int i = 0; i < 254; i++)
		strcat(p[1], "a");
	strcat(p[1], "b"); /* *aaaa...ab: each retry compares 254 bytes */
	for (int i = 0; i < 63; i++)
		strcat(p[2], "*[a]");
	strcat(p[2], "b");
	for (int i = 0; i < 85; i++)
		strcat(p[3], "*?a");
	strcat(p[3], "b");
	for (int k = 0; k < 4; k++) {
		double t0 = cpu_ms(), ms;
		int got = smcp_glob_match(p[k], s);

		ms = cpu_ms() - t0;
		CHECK_MSG(got == 0 && fnmatch(p[k], s, 0) != 0, "pattern %d matched", k);
		CHECK_MSG(ms < limit_ms, "pattern %d (%zu bytes) took %.1f ms on a 4096-byte name", k,
			  strlen(p[k]), ms);
		printf("pathological pattern %d (%zu bytes) on 4096 bytes: %.2f ms\n", k,
		       strlen(p[k]), ms);
	}
}

int main(void)
{
	/* glibc reads it once; with it set "[^...]" is not a complement there */
	unsetenv("POSIXLY_CORRECT");
	test_cases();
	test_random_equivalence();
	test_pathological();
	return unit_done("unit-glob");
}
