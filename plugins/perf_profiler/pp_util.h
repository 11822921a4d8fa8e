/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the profiler's files: u64 -> u64 counting maps
 * (the SDK's hash map), a string arena, and file reading under the host's
 * fs root.
 */
#ifndef SMCP_PP_UTIL_H
#define SMCP_PP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <schedmcp/fsread.h> /* smcp_read_file, smcp_slurp */
#include <schedmcp/hashmap.h>
#include <schedmcp/plugin.h> /* SMCP_COUNT */

uint64_t pp_hash_bytes(const void *p, size_t len, uint64_t seed);

/*
 * u64 -> u64 map for counting and numbering: keys are arbitrary (0
 * included), a new key's value starts at 0. The SDK's smcp_hashmap with
 * integer keys, behind the get/put pair these call sites count with; all
 * zero bytes ({ 0 }) is an empty map. Iterate with smcp_hashmap_for_each
 * on .m. Value pointers last until the next put.
 */
struct pp_map64 {
	struct smcp_hashmap m;
};

static inline void pp_map64_free(struct pp_map64 *m)
{
	if (m)
		smcp_hashmap_free(&m->m);
}

/* Pointer to the value of key, or NULL when absent. */
static inline uint64_t *pp_map64_get(const struct pp_map64 *m, uint64_t key)
{
	struct smcp_hashmap_entry *e = smcp_hashmap_find(&m->m, key);

	return e ? &e->value : NULL;
}

/* Pointer to the value of key, inserted with value 0 (and *ret_new set)
 * when absent; NULL on -ENOMEM. */
static inline uint64_t *pp_map64_put(struct pp_map64 *m, uint64_t key, bool *ret_new)
{
	struct smcp_hashmap_entry *e;
	int rc = smcp_hashmap_insert(&m->m, key, 0, &e);

	if (rc < 0)
		return NULL;
	if (ret_new)
		*ret_new = rc == 1;
	return &e->value;
}

/* String arena: many small strings freed at once. */
struct pp_arena {
	struct pp_arena_chunk *head;
	size_t bytes; /* total allocated, for status reports */
};

char *pp_arena_strndup(struct pp_arena *a, const char *s, size_t len);
char *pp_arena_strdup(struct pp_arena *a, const char *s);
void *pp_arena_alloc(struct pp_arena *a, size_t len);
void pp_arena_free(struct pp_arena *a);

/* perf's preference among symbol aliases at one address (its
 * choose_best_symbol): non-weak, global, fewer leading underscores, longer
 * name, then by name. Negative: a is better. */
int pp_alias_cmp(bool weak_a, bool global_a, const char *a, bool weak_b, bool global_b,
		 const char *b);

/* Base name of a path (pointer into it). */
const char *pp_basename(const char *path);

/* Whether this process may profile system-wide and the kernel
 * (CAP_PERFMON or CAP_SYS_ADMIN in the effective set). */
bool pp_privileged(void);

/* kernel.perf_event_paranoid, or 2 when unreadable (the kernel default). */
int pp_perf_paranoid(const char *root);

#endif
