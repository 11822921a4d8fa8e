/* SPDX-License-Identifier: MIT */
#ifndef SMCP_UTIL_H
#define SMCP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* names[v] from a table of names indexed by an enum, or fallback when v is
 * past the table (a value from a newer plugin or a corrupt file) or names
 * no entry. Use as UTIL_ENUM_NAME(names, v, "?"); v is read twice. */
#define UTIL_ENUM_NAME(names, v, fallback)                                                         \
	((size_t)(v) < ARRAY_SIZE(names) && (names)[(size_t)(v)] ? (names)[(size_t)(v)] : (fallback))

/* For the core's tables of pointers to records with an owner (the
 * registry's, the prompt steps'): drops every entry whose ->owner is who
 * through freefn, keeping the order of the rest, and adds how many went to
 * removed (a size_t the caller set). */
#define UTIL_REMOVE_OWNED(arr, n, who, freefn, removed)                                            \
	do {                                                                                       \
		size_t j_ = 0;                                                                     \
		for (size_t i_ = 0; i_ < (n); i_++) {                                              \
			if ((arr)[i_]->owner == (who)) {                                           \
				freefn((arr)[i_]);                                                 \
				(removed)++;                                                       \
			} else {                                                                   \
				(arr)[j_++] = (arr)[i_];                                           \
			}                                                                          \
		}                                                                                  \
		(n) = j_;                                                                          \
	} while (0)

/* A zeroed record of size bytes, with room made for one more pointer in
 * such a table (*arr, n entries): the caller fills the record and stores it
 * at (*arr)[n] once nothing else can fail. NULL on ENOMEM, *arr then as it
 * was (a grown table is kept). */
void *util_new_slot(void ***arr, size_t n, size_t size);

/* Frees every entry of such a table through freefn, then the table; leaves
 * arr NULL and n 0. */
#define UTIL_FREE_ALL(arr, n, freefn)                                                              \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < (n); i_++)                                                \
			freefn((arr)[i_]);                                                         \
		free(arr);                                                                         \
		(arr) = NULL;                                                                      \
		(n) = 0;                                                                           \
	} while (0)

/*
 * An intrusive doubly linked list: structs with next and prev pointers,
 * head (an lvalue, evaluated more than once) pointing at the first. The
 * sessions and connections of the transports are kept this way so that one
 * leaves in O(1) when it closes.
 * UTIL_DLIST_PUSH puts node first; node->prev must be NULL (a calloc'd node).
 * UTIL_DLIST_UNLINK takes node out; its own next and prev are left as they were.
 */
#define UTIL_DLIST_PUSH(head, node)                                                                \
	do {                                                                                       \
		(node)->next = (head);                                                             \
		if (head)                                                                          \
			(head)->prev = (node);                                                     \
		(head) = (node);                                                                   \
	} while (0)

#define UTIL_DLIST_UNLINK(head, node)                                                              \
	do {                                                                                       \
		if ((node)->prev)                                                                  \
			(node)->prev->next = (node)->next;                                         \
		else                                                                               \
			(head) = (node)->next;                                                     \
		if ((node)->next)                                                                  \
			(node)->next->prev = (node)->prev;                                         \
	} while (0)

/* Whether [s, s+n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF). */
bool util_utf8_valid(const char *s, size_t n);
/* A copy of s with every ill-formed sequence replaced by U+FFFD, or NULL
 * when s is already valid (use s) or on ENOMEM (*ret_err = -ENOMEM). */
char *util_utf8_sanitize(const char *s, int *ret_err);

#endif
