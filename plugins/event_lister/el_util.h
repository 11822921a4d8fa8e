/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the event_lister files: whole-file reads, a growable
 * string table, and the list filter (a case-insensitive PCRE2 regex whose
 * cost is bounded: see el_filter below).
 */
#ifndef SMCP_EL_UTIL_H
#define SMCP_EL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* smcp_slurp: whole files (tracefs answers -EPERM for some) */
#include <schedmcp/fsread.h>


/* Join root and path into buf; -ENAMETOOLONG when it does not fit. */
int el_path(char *buf, size_t len, const char *root, const char *path);

/* NUL-separated strings addressed by offset, so tables of tens of
 * thousands of names cost one allocation and no pointers. */
struct strtab {
	char *buf;
	size_t len, cap;
};

/* Append n bytes of s plus a NUL; the offset of the copy in *ret_off. */
int el_strtab_add(struct strtab *t, const char *s, size_t n, uint32_t *ret_off);
void el_strtab_free(struct strtab *t);

static inline const char *strtab_str(const struct strtab *t, uint32_t off)
{
	return t->buf + off;
}

/*
 * The list filter: a client's regex, matched against every name of a list
 * (2-3 thousand tracepoints, tens of thousands of kernel functions) on the
 * daemon's only thread, so its cost must be bounded whatever the pattern.
 * glibc's regcomp/regexec is not (a back-reference pattern ran for minutes,
 * nested counted repeats took a GB to compile). PCRE2 is, with these limits:
 *
 * - EL_FILTER_MAX: the pattern is at most 256 bytes (the schema's maxLength):
 *   any useful name filter is far shorter, and compile time and memory grow
 *   with it.
 * - EL_FILTER_COMPILED_MAX: the compiled form is at most 64 KiB. Counted
 *   repeats multiply (((a{1,100}){1,100}){1,100} would be 10^6 copies); PCRE2
 *   computes the size before building and refuses at once. Debian's
 *   library (link size 2) has the same cap built in; 10.42 has no
 *   pcre2_set_max_pattern_compiled_length, so the size is also checked
 *   after compiling, in case a library is built with a larger link size.
 * - EL_FILTER_MATCH_LIMIT (PCRE2's match limit): backtracking steps from one
 *   starting position of one name. PCRE2 counts again at each start, and a
 *   step can scan the rest of the name (a look-ahead, a possessive repeat),
 *   so a name's cost grows with the limit times its length squared: at 1000
 *   the worst patterns measured took 2-6 ms on one 600-byte name (the
 *   longest row, "function [module]"), at 10 000 60-90 ms. A real filter
 *   needs far fewer steps: "^sched_(switch|wakeup)" 4, "sched_(?!stat)" 3,
 *   ".*sched.*wake.*" 89 on the longest of 120 000 kallsyms names.
 * - EL_FILTER_DEPTH_LIMIT and EL_FILTER_HEAP_KIB: nested backtracking
 *   frames, and the memory they take (kept in the match data, freed with
 *   the filter).
 * - Back-references (\1, \k<name>) are refused: each step compares a whole
 *   capture, which is what made "(.*)(.*)\2\1" cost the cube of the name's
 *   length; POSIX extended regexes do not have them either.
 * - EL_FILTER_BUDGET_MS: however cheap each name is, a whole list is not
 *   allowed more than this much CPU time (a real filter over 60 000 kernel
 *   functions takes 5-30 ms); it is checked every EL_FILTER_CHECK_NS.
 *
 * A name that hits a limit, or a list that runs out of time, makes the
 * whole search an error that says which limit and how to narrow the
 * pattern, never a silently short answer. The interpreter, not PCRE2's
 * JIT: the JIT ignores the depth and heap limits, needs writable and
 * executable memory in a daemon that runs as root, and filters run well
 * inside the budget without it.
 */
#define EL_FILTER_MAX 256
#define EL_FILTER_COMPILED_MAX (64u * 1024)
#define EL_FILTER_MATCH_LIMIT 1000u
#define EL_FILTER_DEPTH_LIMIT 1000u
#define EL_FILTER_HEAP_KIB 1024u
#define EL_FILTER_BUDGET_MS 50u
#define EL_FILTER_CHECK_NS 1000000u
/* Deepest parenthesis nesting (PCRE2's default is 250): compiling recurses
 * per level, and no name filter needs more. */
#define EL_FILTER_NEST_MAX 64u

struct el_filter {
	bool active;  /* false: everything matches */
	bool literal; /* no regex metacharacters: a case-insensitive substring */
	char lit[EL_FILTER_MAX + 1];
	pcre2_code *re;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	uint64_t cpu_start_ns; /* thread CPU time at the first match */
	uint64_t checked_ns;   /* CLOCK_MONOTONIC when it was last compared */
	size_t tried;	       /* names matched so far */
	int failed;	       /* what el_filter_match failed with, and then returns */
	char why[640];	       /* and why, in words for the client */
};

/*
 * Compile pattern (NULL or "" = no filter) as a case-insensitive PCRE2
 * regex, searched anywhere in a name. Returns 0; -EINVAL with a message in
 * err naming the problem, PCRE2's words and the 0-based character position
 * where it noticed it; -ENOMEM.
 */
int el_filter_compile(struct el_filter *f, const char *pattern, char *err, size_t err_len);

/*
 * Whether s matches: 1 or 0. -E2BIG when the filter went over one of its
 * limits on s, or over its CPU budget counted from the first call; f->why
 * then says which and what to do, and every later call fails the same way.
 * -ENOMEM when PCRE2 could not allocate, -EIO on another PCRE2 error.
 */
int el_filter_match(struct el_filter *f, const char *s);
void el_filter_free(struct el_filter *f);

#endif
