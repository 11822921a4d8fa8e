/* SPDX-License-Identifier: MIT */
/*
 * Header-only hash map for plugins and the core: 64-bit keys and values,
 * the hash and the key comparison supplied by the caller, open addressing
 * with linear probing. Like fsread.h it is compiled into the plugin, so it
 * needs no host ABI version; it first shipped with the SDK of ABI 1.2.
 *
 * Since: 1.2
 *
 * What it promises:
 *   - Lookups never allocate and never call the hash function on a key
 *     already in the map: each slot keeps its key's 32-bit hash, so growth
 *     and removal move entries without rehashing them, and a lookup calls
 *     equal_fn only for a slot whose hash is the same.
 *   - Growth is bounded: the map holds at most `max` entries (insertion
 *     past it is -ENOSPC), and its table is at most twice that, rounded
 *     up to a power of two. Memory: 20 bytes a slot (smcp_hashmap_bytes()).
 *   - The load stays at or below one half, so a search stops at an empty
 *     slot within a few steps. Removal shifts the entries after the hole
 *     back (no tombstones), so a map that sees many inserts and removals
 *     does not slow down over months.
 *   - Entry pointers stay valid until the next insertion or removal.
 *
 * Keys are uint64_t: an integer itself (hash_fn and equal_fn NULL: the
 * default mixer and ==), or a pointer cast to uintptr_t to something that
 * holds the key (a string, a struct), with a hash_fn and an equal_fn that
 * look through it. Values are uint64_t too: an index, a count, a pointer.
 *
 * An index over the caller's array. The entries of a map may be indexes
 * into an array the caller keeps (the keys live in its elements), searched
 * with a key that is not in the array yet: compute its hash yourself, call
 * smcp_hashmap_find_hashed(m, probe, hash) (equal_fn then gets a stored
 * index first and the probe second) and, when it is absent, append it to
 * the array and smcp_hashmap_add_hashed(m, index, hash, ...), which places
 * it without comparing keys. hash_fn is unused in such a map.
 *
 *   struct smcp_hashmap m = SMCP_HASHMAP_INIT(NULL, NULL, NULL, 4096);
 *   struct smcp_hashmap_entry *e;
 *
 *   if (smcp_hashmap_insert(&m, pid, 0, &e) >= 0)   // 1: added, 0: there
 *           e->value++;
 *   ...
 *   smcp_hashmap_free(&m);
 *
 * Not thread-safe: lock around it, or keep one per thread. A map that is
 * all zero bytes is a valid empty map of integer keys with the largest
 * bound.
 */
#ifndef SCHEDMCP_HASHMAP_H
#define SCHEDMCP_HASHMAP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most entries a map can hold, and its bound when max is 0. */
#define SMCP_HASHMAP_MAX_ENTRIES ((size_t)1 << 30)

struct smcp_hashmap_entry {
	uint64_t key;
	uint64_t value;
};

/* The hash of a key passed to find, insert or delete (any 32 bits: the map
 * maps 0 to 1, which it keeps for empty slots). ctx is the map's. */
typedef uint32_t (*smcp_hashmap_hash_fn)(uint64_t key, void *ctx);
/* Whether the stored key (one in the map) and key (the one searched for)
 * are the same key. Called only when their hashes are equal. */
typedef bool (*smcp_hashmap_equal_fn)(uint64_t stored, uint64_t key, void *ctx);

/* Members are public for reading (n, cap); change them only through the
 * functions below. */
struct smcp_hashmap {
	smcp_hashmap_hash_fn hash_fn;	/* NULL: smcp_hash_u64(key) */
	smcp_hashmap_equal_fn equal_fn; /* NULL: stored == key */
	void *ctx;			/* passed to both */
	size_t max;			/* the most entries; 0: SMCP_HASHMAP_MAX_ENTRIES */
	size_t n;			/* entries held */
	size_t cap;			/* slots: 0 or a power of two, >= 2 * n */
	uint32_t *hashes;		/* cap hashes; 0: the slot is empty */
	struct smcp_hashmap_entry *entries; /* cap entries, beside their hashes */
};

/* An initializer: struct smcp_hashmap m = SMCP_HASHMAP_INIT(hash, equal, ctx, max); */
#define SMCP_HASHMAP_INIT(hash, equal, ctx, max) { (hash), (equal), (ctx), (max), 0, 0, NULL, NULL }

/* A 64-bit integer mixed into 64 bits each of which depends on every bit
 * of x (the splitmix64 finaliser): for a hash kept whole, as a key of its
 * own, where 32 bits would collide too soon. */
static inline uint64_t smcp_hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* A 64-bit integer mixed into a 32-bit hash (smcp_hash_mix64, folded):
 * the default hash. */
static inline uint32_t smcp_hash_u64(uint64_t x)
{
	x = smcp_hash_mix64(x);
	return (uint32_t)(x ^ (x >> 32));
}

/* Bytes into a 32-bit hash (FNV-1a 64, then mixed as above, so the low
 * bits that choose a slot are as good as the high ones). */
static inline uint32_t smcp_hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return smcp_hash_u64(h);
}

/* A NUL-terminated string into a 32-bit hash (as smcp_hash_bytes). */
static inline uint32_t smcp_hash_str(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ *s) * 0x100000001b3ULL;
	return smcp_hash_u64(h);
}

/* Ready-made callbacks for keys that are NUL-terminated strings (pointers
 * cast to uintptr_t; the map does not copy or free them). */
static inline uint32_t smcp_hashmap_str_hash(uint64_t key, void *ctx)
{
	(void)ctx;
	return smcp_hash_str((const char *)(uintptr_t)key);
}

static inline bool smcp_hashmap_str_equal(uint64_t stored, uint64_t key, void *ctx)
{
	(void)ctx;
	return strcmp((const char *)(uintptr_t)stored, (const char *)(uintptr_t)key) == 0;
}

/* Set up an empty map (no allocation: the first insertion allocates). */
static inline void smcp_hashmap_init(struct smcp_hashmap *m, smcp_hashmap_hash_fn hash_fn,
				     smcp_hashmap_equal_fn equal_fn, void *ctx, size_t max)
{
	struct smcp_hashmap e = SMCP_HASHMAP_INIT(hash_fn, equal_fn, ctx, max);

	*m = e;
}

/* Free the table; the map stays usable (empty, with its callbacks and
 * bound). NULL is fine. Keys and values are the caller's to free. */
static inline void smcp_hashmap_free(struct smcp_hashmap *m)
{
	if (!m)
		return;
	free(m->hashes);
	free(m->entries);
	m->hashes = NULL;
	m->entries = NULL;
	m->n = m->cap = 0;
}

/* Remove every entry, keeping the table for reuse. */
static inline void smcp_hashmap_clear(struct smcp_hashmap *m)
{
	if (m->cap)
		memset(m->hashes, 0, m->cap * sizeof(*m->hashes));
	m->n = 0;
}

/* Bytes the table holds (for memory reports). */
static inline size_t smcp_hashmap_bytes(const struct smcp_hashmap *m)
{
	return m->cap * (sizeof(*m->hashes) + sizeof(*m->entries));
}

static inline size_t smcp_hashmap_max_(const struct smcp_hashmap *m)
{
	return m->max && m->max < SMCP_HASHMAP_MAX_ENTRIES ? m->max : SMCP_HASHMAP_MAX_ENTRIES;
}

static inline uint32_t smcp_hashmap_norm_(uint32_t h)
{
	return h ? h : 1;
}

/* The map's hash of key (as find and insert compute it; never 0). */
static inline uint32_t smcp_hashmap_hash(const struct smcp_hashmap *m, uint64_t key)
{
	return smcp_hashmap_norm_(m->hash_fn ? m->hash_fn(key, m->ctx) : smcp_hash_u64(key));
}

/* The first empty slot from hash h's home (the table has one: load <= 1/2). */
static inline size_t smcp_hashmap_free_slot_(const struct smcp_hashmap *m, uint32_t h)
{
	size_t mask = m->cap - 1, i = h & mask;

	while (m->hashes[i])
		i = (i + 1) & mask;
	return i;
}

/* Grow the table to cap slots (a power of two above 2 * n). */
static inline int smcp_hashmap_resize_(struct smcp_hashmap *m, size_t cap)
{
	struct smcp_hashmap old = *m;
	size_t i;

	if (cap > SIZE_MAX / sizeof(*m->entries))
		return -ENOMEM;
	m->hashes = (uint32_t *)calloc(cap, sizeof(*m->hashes));
	m->entries = (struct smcp_hashmap_entry *)malloc(cap * sizeof(*m->entries));
	if (!m->hashes || !m->entries) {
		free(m->hashes);
		free(m->entries);
		m->hashes = old.hashes;
		m->entries = old.entries;
		return -ENOMEM;
	}
	m->cap = cap;
	for (i = 0; i < old.cap; i++) {
		size_t j;

		if (!old.hashes[i])
			continue;
		j = smcp_hashmap_free_slot_(m, old.hashes[i]);
		m->hashes[j] = old.hashes[i];
		m->entries[j] = old.entries[i];
	}
	free(old.hashes);
	free(old.entries);
	return 0;
}

/*
 * Make room for n entries in all, so that insertions up to that count do
 * not allocate (a map filled on a path that must not allocate reserves
 * first). 0; -ENOSPC when n is above the bound; -ENOMEM.
 */
static inline int smcp_hashmap_reserve(struct smcp_hashmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;

	if (n > smcp_hashmap_max_(m))
		return -ENOSPC;
	while (cap / 2 < n)
		cap *= 2;
	return cap == m->cap ? 0 : smcp_hashmap_resize_(m, cap);
}

/*
 * The entry of a key whose hash is hash (any 32 bits the caller computed,
 * the same for every call about this key), compared with equal_fn(stored,
 * key). NULL when absent.
 */
static inline struct smcp_hashmap_entry *smcp_hashmap_find_hashed(const struct smcp_hashmap *m,
								  uint64_t key, uint32_t hash)
{
	size_t mask = m->cap - 1, i;
	uint32_t h = smcp_hashmap_norm_(hash);

	if (!m->cap)
		return NULL;
	for (i = h & mask; m->hashes[i]; i = (i + 1) & mask) {
		uint64_t k = m->entries[i].key;

		if (m->hashes[i] == h && (m->equal_fn ? m->equal_fn(k, key, m->ctx) : k == key))
			return &m->entries[i];
	}
	return NULL;
}

/* The entry of key, or NULL. */
static inline struct smcp_hashmap_entry *smcp_hashmap_find(const struct smcp_hashmap *m,
							   uint64_t key)
{
	if (!m->cap)
		return NULL;
	return smcp_hashmap_find_hashed(m, key, smcp_hashmap_hash(m, key));
}

/*
 * Add key, known to be absent (a find just said so), with its hash and
 * value, without comparing keys: the way to fill an index over the
 * caller's array (see the top of this file). *ret_entry (ret_entry may be
 * NULL) is the new entry. 0; -ENOSPC at the bound; -ENOMEM.
 */
static inline int smcp_hashmap_add_hashed(struct smcp_hashmap *m, uint64_t key, uint32_t hash,
					  uint64_t value, struct smcp_hashmap_entry **ret_entry)
{
	uint32_t h = smcp_hashmap_norm_(hash);
	size_t i;

	if (m->n >= smcp_hashmap_max_(m))
		return -ENOSPC;
	if ((m->n + 1) * 2 > m->cap) {
		int err = smcp_hashmap_resize_(m, m->cap ? m->cap * 2 : 16);

		if (err)
			return err;
	}
	i = smcp_hashmap_free_slot_(m, h);
	m->hashes[i] = h;
	m->entries[i].key = key;
	m->entries[i].value = value;
	m->n++;
	if (ret_entry)
		*ret_entry = &m->entries[i];
	return 0;
}

/*
 * The entry of key, added with value when absent (an entry already there
 * keeps its value). *ret_entry (ret_entry may be NULL) is the entry either
 * way. 1 when added, 0 when it was there; -ENOSPC at the bound; -ENOMEM.
 */
static inline int smcp_hashmap_insert(struct smcp_hashmap *m, uint64_t key, uint64_t value,
				      struct smcp_hashmap_entry **ret_entry)
{
	uint32_t h = smcp_hashmap_hash(m, key);
	struct smcp_hashmap_entry *e = smcp_hashmap_find_hashed(m, key, h);
	int err;

	if (e) {
		if (ret_entry)
			*ret_entry = e;
		return 0;
	}
	err = smcp_hashmap_add_hashed(m, key, h, value, ret_entry);
	return err ? err : 1;
}

/*
 * Remove entry e (from a find, an insert or the iteration, with no
 * insertion or removal since). The entries after it in its run move back
 * into the hole when the hole lies on their search path.
 */
static inline void smcp_hashmap_remove(struct smcp_hashmap *m, struct smcp_hashmap_entry *e)
{
	size_t mask = m->cap - 1, hole = (size_t)(e - m->entries), i = hole;

	for (;;) {
		size_t home;

		i = (i + 1) & mask;
		if (!m->hashes[i])
			break;
		home = m->hashes[i] & mask;
		/* an entry whose home lies cyclically in (hole, i] is reachable
		 * without passing the hole: it stays */
		if (hole <= i ? (hole < home && home <= i) : (hole < home || home <= i))
			continue;
		m->hashes[hole] = m->hashes[i];
		m->entries[hole] = m->entries[i];
		hole = i;
	}
	m->hashes[hole] = 0;
	m->n--;
}

/* Remove key; its value goes to *ret_value (may be NULL). 0 or -ENOENT. */
static inline int smcp_hashmap_delete(struct smcp_hashmap *m, uint64_t key, uint64_t *ret_value)
{
	struct smcp_hashmap_entry *e = smcp_hashmap_find(m, key);

	if (!e)
		return -ENOENT;
	if (ret_value)
		*ret_value = e->value;
	smcp_hashmap_remove(m, e);
	return 0;
}

/*
 * for (e in the map's entries), in no particular order; e is a struct
 * smcp_hashmap_entry *. Change values freely; insert or remove nothing
 * while iterating (both move entries).
 */
#define smcp_hashmap_for_each(m, e)                                                  \
	for ((e) = (m)->entries; (e) && (e) < (m)->entries + (m)->cap; (e)++)         \
		if (!(m)->hashes[(e) - (m)->entries]) {                               \
		} else

#ifdef __cplusplus
}
#endif

#endif /* SCHEDMCP_HASHMAP_H */
