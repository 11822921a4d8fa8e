/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the event_lister files: whole-file reads, a growable
 * string table, and the list filter (a case-insensitive extended regex that
 * says where it broke when it does not compile).
 */
#ifndef SMCP_EL_UTIL_H
#define SMCP_EL_UTIL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
int strtab_add(struct strtab *t, const char *s, size_t n, uint32_t *ret_off);
void strtab_free(struct strtab *t);

static inline const char *strtab_str(const struct strtab *t, uint32_t off)
{
	return t->buf + off;
}

/* Longest filter pattern a client may send. */
#define EL_FILTER_MAX 256

struct el_filter {
	bool active;   /* false: everything matches */
	bool literal;  /* no regex metacharacters: a case-insensitive substring */
	char lit[EL_FILTER_MAX + 1];
	regex_t re;
};

/*
 * Compile pattern (NULL or "" = no filter) as a case-insensitive POSIX
 * extended regex. On failure returns -EINVAL and writes a message naming
 * the problem and the character position where the pattern stops being
 * valid into err.
 */
int el_filter_compile(struct el_filter *f, const char *pattern, char *err, size_t err_len);
bool el_filter_match(const struct el_filter *f, const char *s);
void el_filter_free(struct el_filter *f);

#endif
