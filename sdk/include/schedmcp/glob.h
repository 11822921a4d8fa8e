/* SPDX-License-Identifier: MIT */
/*
 * Header-only glob matching for names a client filters with a pattern
 * ("sched_*", "layers.*.util", "kworker/[0-9]*"): smcp_glob_match(pattern,
 * string) answers what fnmatch(pattern, string, 0) == 0 answers in the C
 * locale, with a bound on its cost that does not depend on the C library:
 * at most strlen(pattern) * (strlen(string) + 1) steps, no recursion, no
 * allocation. Like fsread.h it is compiled into the plugin and needs no ABI
 * version.
 *
 * The syntax (fnmatch with no flags):
 *   *       any run of bytes, '/' and a leading '.' included
 *   ?       any one byte
 *   [...]   one byte of a set: members, ranges "a-z" (by byte value),
 *           classes "[:alpha:]" (alnum alpha blank cntrl digit graph lower
 *           print punct space upper xdigit, ASCII only), "[=c=]" and
 *           "[.c.]" for the byte c; "[!...]" or "[^...]" for the
 *           complement; a "]" first in the set is a member
 *   \c      the byte c, in a set too; a trailing "\" matches nothing
 * A "[" without its "]" is the byte "[". The few malformed sets fnmatch
 * refuses (an unknown class, "[a-" at the end) match nothing here either.
 * Bytes are compared as they are: no case folding, no locale.
 */
#ifndef SCHEDMCP_GLOB_H
#define SCHEDMCP_GLOB_H

#ifdef __cplusplus
extern "C" {
#endif

/* Longest class name fnmatch looks at (glibc's CHARCLASS_NAME_MAX). */
#define SMCP_GLOB_CLASS_NAME_MAX_ 2048

/* Whether byte c is in the POSIX class named by the n bytes at name; -1
 * for a name that is no class. */
static inline int smcp_glob_class_(const unsigned char *name, unsigned long n, unsigned char c)
{
	static const char names[12][7] = { "alnum", "alpha", "blank", "cntrl", "digit", "graph",
					   "lower", "print", "punct", "space", "upper", "xdigit" };
	int lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
	int digit = c >= '0' && c <= '9', graph = c > ' ' && c < 127;
	int k;

	for (k = 0; k < 12; k++) {
		unsigned long i = 0;

		while (i < n && names[k][i] && names[k][i] == (char)name[i])
			i++;
		if (i == n && !names[k][i])
			break;
	}
	switch (k) {
	case 0:
		return lower || upper || digit;
	case 1:
		return lower || upper;
	case 2:
		return c == ' ' || c == '\t';
	case 3:
		return c < ' ' || c == 127;
	case 4:
		return digit;
	case 5:
		return graph;
	case 6:
		return lower;
	case 7:
		return graph || c == ' ';
	case 8:
		return graph && !lower && !upper && !digit;
	case 9:
		return c == ' ' || (c >= '\t' && c <= '\r');
	case 10:
		return upper;
	case 11:
		return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
	default:
		return -1;
	}
}

/* "[.c.]" at p (p on the '.'): the byte c, or -1 when malformed (a longer
 * name, or no ".]" before the end). *pp is moved past the "]". */
static inline int smcp_glob_collating_(const unsigned char **pp)
{
	const unsigned char *p = *pp, *start = p;
	unsigned long n = 0;

	for (;;) {
		unsigned char c = *++p;

		if (c == '.' && p[1] == ']')
			break;
		if (!c)
			return -1;
		n++;
	}
	*pp = p + 2;
	return n == 1 ? start[1] : -1;
}

/*
 * Past the members of a set that matched, to its "]": *pp moves past it.
 * 0; -1 when the rest is malformed (no match then); 2 when there is no
 * "]" (the "[" then stands for itself).
 */
static inline int smcp_glob_skip_set_(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned char c;

	while ((c = *p++) != ']') {
		if (!c)
			return 2;
		if (c == '\\') {
			if (!*p)
				return -1;
			p++;
		} else if (c == '[' && *p == ':') {
			const unsigned char *start = p;
			unsigned long n = 0;

			for (;;) {
				c = *++p;
				if (++n == SMCP_GLOB_CLASS_NAME_MAX_)
					return -1;
				if (c == ':' && p[1] == ']')
					break;
				if (c < 'a' || c >= 'z') {
					p = start - 2; /* not a class: "[" was a member */
					break;
				}
			}
			p += 2;
		} else if (c == '[' && *p == '=') {
			if (!p[1] || p[2] != '=' || p[3] != ']')
				return -1;
			p += 4;
		} else if (c == '[' && *p == '.') {
			for (;;) {
				c = *++p;
				if (!c)
					return -1;
				if (c == '.' && p[1] == ']')
					break;
			}
			p += 2;
		}
	}
	*pp = p;
	return 0;
}

/*
 * The set whose members start at *pp (just past the "[") against byte ch:
 * 1 when ch is in it (its complement for "[!"), with *pp moved past the
 * "]"; 0 when not, or when the set is malformed; 2 when the set has no
 * "]": then the "[" stands for itself. The order of the checks is
 * fnmatch's, so that malformed sets fail the way they fail there.
 */
static inline int smcp_glob_set_(const unsigned char **pp, unsigned char ch)
{
	const unsigned char *p = *pp;
	int negate = *p == '!' || *p == '^';
	unsigned char c, lo;
	int k;

	if (negate)
		p++;
	c = *p++;
	for (;;) {
		if (c == '\\') {
			if (!*p)
				return 0;
			c = *p++;
			goto member;
		} else if (c == '[' && *p == ':') {
			const unsigned char *start = p;
			unsigned long n = 0;
			int in;

			for (;;) {
				if (n == SMCP_GLOB_CLASS_NAME_MAX_)
					return 0;
				c = *++p;
				if (c == ':' && p[1] == ']')
					break;
				if (c < 'a' || c >= 'z') {
					p = start; /* not a class: "[" is a member */
					c = '[';
					goto member;
				}
				n++;
			}
			in = smcp_glob_class_(start + 1, n, ch);
			p += 2;
			if (in < 0)
				return 0;
			if (in)
				goto matched;
			c = *p++;
		} else if (c == '[' && *p == '=') {
			if (!p[1] || p[2] != '=' || p[3] != ']') {
				c = '['; /* not "[=c=]": "[" is a member */
				goto member;
			}
			p += 4;
			if (ch == p[-3])
				goto matched;
			c = *p++;
		} else if (!c) {
			return 2;
		} else {
			int range;

			if (c == '[' && *p == '.') {
				int sym = smcp_glob_collating_(&p);

				if (sym < 0)
					return 0;
				range = *p == '-' && p[1];
				if (!range && ch == sym)
					goto matched;
				lo = (unsigned char)sym;
				c = *p++;
			} else {
member:
				range = *p == '-' && p[1] && p[1] != ']';
				if (!range && c == ch)
					goto matched;
				lo = c;
				c = *p++;
			}
			if (c == '-' && *p != ']') {
				unsigned char hi = *p++;

				if (hi == '[' && *p == '.') {
					int sym = smcp_glob_collating_(&p);

					if (sym < 0)
						return 0;
					hi = (unsigned char)sym;
				} else {
					if (hi == '\\')
						hi = *p++;
					if (!hi)
						return 0;
				}
				if (lo <= ch && ch <= hi)
					goto matched;
				c = *p++;
			}
		}
		if (c == ']')
			break;
	}
	if (!negate)
		return 0;
	*pp = p;
	return 1;
matched:
	k = smcp_glob_skip_set_(&p);
	if (k)
		return k < 0 ? 0 : k;
	if (negate)
		return 0;
	*pp = p;
	return 1;
}

/*
 * 1 when string matches pattern as a whole, else 0 (see the syntax above).
 * Only the last "*" seen is ever retried, one byte further each time: an
 * earlier "*" never needs to take more, since the later one can take it
 * instead; that keeps the cost at pattern length times string length.
 */
static inline int smcp_glob_match(const char *pattern, const char *string)
{
	const unsigned char *p = (const unsigned char *)pattern;
	const unsigned char *s = (const unsigned char *)string;
	const unsigned char *star_p = 0, *star_s = 0;

	for (;;) {
		const unsigned char *next;
		int ok;

		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return 1;
			star_p = p;
			star_s = s;
			continue;
		}
		if (!*s)
			return !*p;
		next = p + 1;
		switch (*p) {
		case '\0':
			ok = 0;
			break;
		case '?':
			ok = 1;
			break;
		case '\\':
			ok = p[1] && p[1] == *s;
			next = p + 2;
			break;
		case '[':
			ok = smcp_glob_set_(&next, *s);
			if (ok == 2)
				ok = *s == '[';
			break;
		default:
			ok = *p == *s;
			break;
		}
		if (ok) {
			p = next;
			s++;
			continue;
		}
		if (!star_p)
			return 0;
		p = star_p;
		s = ++star_s;
	}
}

#ifdef __cplusplus
}
#endif

#endif
