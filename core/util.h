/* SPDX-License-Identifier: MIT */
#ifndef SMCP_UTIL_H
#define SMCP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Whether [s, s+n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF). */
bool util_utf8_valid(const char *s, size_t n);
/* A copy of s with every ill-formed sequence replaced by U+FFFD, or NULL
 * when s is already valid (use s) or on ENOMEM (*ret_err = -ENOMEM). */
char *util_utf8_sanitize(const char *s, int *ret_err);

#endif
