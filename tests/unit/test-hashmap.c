/* SPDX-License-Identifier: MIT */
/*
 * The SDK's hash map (sdk/include/schedmcp/hashmap.h): collisions (keys that
 * all hash alike, runs that wrap round the end of the table), removal by
 * backward shift checked slot by slot, growth, the bound on entries and on
 * the table, reserve (no allocation after it), the index-over-an-array use
 * with a probe of another kind, and a long random run against a plain
 * array that also shows removal leaves nothing behind (no tombstones: the
 * table of a map that churns keeps its size and its short searches).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/hashmap.h>

#include "unit.h"

/* Every slot of m is where a search for its key finds it: no empty slot
 * between its home and itself, and the counts agree. */
static bool map_consistent(const struct smcp_hashmap *m)
{
	size_t used = 0, mask = m->cap - 1;

	for (size_t i = 0; i < m->cap; i++) {
		if (!m->hashes[i])
			continue;
		used++;
		for (size_t j = m->hashes[i] & mask; j != i; j = (j + 1) & mask)
			if (!m->hashes[j])
				return false;
	}
	return used == m->n && (m->cap == 0 || m->cap >= 2 * m->n);
}

static uint32_t hash_const(uint64_t key, void *ctx)
{
	(void)key;
	return (uint32_t)(uintptr_t)ctx;
}

static uint32_t hash_low(uint64_t key, void *ctx)
{
	(void)ctx;
	return (uint32_t)key; /* home slot = key & mask: placement under test's control */
}

static void test_integers(void)
{
	struct smcp_hashmap m = { 0 }; /* all zero: integer keys, largest bound */
	struct smcp_hashmap_entry *e = NULL;
	uint64_t v = 0;

	UNIT_CASE("integers");
	CHECK(smcp_hashmap_find(&m, 0) == NULL);
	CHECK_INT(smcp_hashmap_delete(&m, 7, NULL), -ENOENT);
	CHECK_INT(smcp_hashmap_insert(&m, 0, 100, &e), 1); /* 0 is a key like any other */
	CHECK(e && e->key == 0 && e->value == 100);
	CHECK_INT(smcp_hashmap_insert(&m, UINT64_MAX, 200, NULL), 1);
	CHECK_INT(smcp_hashmap_insert(&m, 0, 999, &e), 0); /* there: value kept */
	CHECK(e && e->value == 100);
	e->value++;
	CHECK((e = smcp_hashmap_find(&m, 0)) && e->value == 101);
	CHECK((e = smcp_hashmap_find(&m, UINT64_MAX)) && e->value == 200);
	CHECK(smcp_hashmap_find(&m, 1) == NULL);
	CHECK_INT(m.n, 2);
	CHECK_INT(smcp_hashmap_delete(&m, 0, &v), 0);
	CHECK_INT(v, 101);
	CHECK(smcp_hashmap_find(&m, 0) == NULL);
	CHECK_INT(smcp_hashmap_delete(&m, 0, NULL), -ENOENT);
	CHECK_INT(m.n, 1);
	CHECK(map_consistent(&m));
	smcp_hashmap_free(&m);
	CHECK(m.cap == 0 && m.n == 0 && smcp_hashmap_find(&m, UINT64_MAX) == NULL);
	CHECK_INT(smcp_hashmap_insert(&m, 5, 6, NULL), 1); /* usable again after free */
	smcp_hashmap_free(&m);
	smcp_hashmap_free(NULL);
}

/* Every key hashes alike: one run holds them all; removing from its head,
 * middle and tail must leave every other key findable. A hash of 0 (kept
 * for empty slots) must work too. */
static void test_collisions(void)
{
	static const uint32_t hashes[] = { 0, 5, 15 }; /* 15: the run wraps round a 16-slot table */

	UNIT_CASE("collisions");
	for (size_t k = 0; k < sizeof(hashes) / sizeof(hashes[0]); k++) {
		struct smcp_hashmap m = SMCP_HASHMAP_INIT(hash_const, NULL,
							  (void *)(uintptr_t)hashes[k], 0);
		static const int order[] = { 0, 6, 3, 7, 1, 5, 2, 4 };
		bool alive[8];

		for (uint64_t i = 0; i < 8; i++) {
			CHECK_INT(smcp_hashmap_insert(&m, i, i * 10, NULL), 1);
			alive[i] = true;
		}
		CHECK_INT(m.cap, 16);
		CHECK(map_consistent(&m));
		for (int r = 0; r < 8; r++) {
			CHECK_INT(smcp_hashmap_delete(&m, (uint64_t)order[r], NULL), 0);
			alive[order[r]] = false;
			CHECK(map_consistent(&m));
			for (uint64_t i = 0; i < 8; i++) {
				struct smcp_hashmap_entry *e = smcp_hashmap_find(&m, i);

				CHECK_MSG(alive[i] ? e && e->value == i * 10 : !e,
					  "hash %u, after removing %d: key %llu %s", hashes[k],
					  order[r], (unsigned long long)i,
					  alive[i] ? "lost" : "still there");
			}
		}
		CHECK_INT(m.n, 0);
		for (size_t i = 0; i < m.cap; i++)
			CHECK(m.hashes[i] == 0);
		smcp_hashmap_free(&m);
	}
}

/* Runs whose entries have different homes, the hole before and after the
 * wrap: the shift must move exactly the entries whose search passes the
 * hole. hash_low puts key k's home at slot k & 15. */
static void test_backward_shift(void)
{
	/* homes 14 14 15 0 1 1 3: slots 14 15 0 1 2 3 4 */
	static const uint64_t keys[] = { 14, 30, 15, 16, 1, 17, 3 };
	const size_t n = sizeof(keys) / sizeof(keys[0]);

	UNIT_CASE("backward shift");
	for (size_t victim = 0; victim < n; victim++) {
		struct smcp_hashmap m = SMCP_HASHMAP_INIT(hash_low, NULL, NULL, 0);

		CHECK_INT(smcp_hashmap_reserve(&m, 8), 0);
		CHECK_INT(m.cap, 16);
		for (size_t i = 0; i < n; i++)
			CHECK_INT(smcp_hashmap_insert(&m, keys[i], i, NULL), 1);
		CHECK(m.hashes[14] && m.entries[14].key == 14 && m.entries[4].key == 3);
		CHECK_INT(smcp_hashmap_delete(&m, keys[victim], NULL), 0);
		CHECK(map_consistent(&m));
		for (size_t i = 0; i < n; i++) {
			struct smcp_hashmap_entry *e = smcp_hashmap_find(&m, keys[i]);

			CHECK_MSG(i == victim ? !e : e && e->value == i,
				  "after removing %llu: key %llu", (unsigned long long)keys[victim],
				  (unsigned long long)keys[i]);
		}
		/* 3 sits at its home (slot 3 or 4) and must never move before it */
		for (size_t s = 0; s < 3; s++)
			CHECK(!m.hashes[s] || m.entries[s].key != 3);
		smcp_hashmap_free(&m);
	}
}

static void test_growth_and_reserve(void)
{
	struct smcp_hashmap m = SMCP_HASHMAP_INIT(NULL, NULL, NULL, 0);
	struct smcp_hashmap_entry *before;
	size_t caps = 0, last_cap = 0;
	bool all = true;

	UNIT_CASE("growth");
	for (uint64_t i = 0; i < 5000; i++) {
		CHECK_INT(smcp_hashmap_insert(&m, i * 7919, i, NULL), 1);
		if (m.cap != last_cap) {
			CHECK_MSG(last_cap == 0 || m.cap == 2 * last_cap, "%zu after %zu", m.cap,
				  last_cap);
			last_cap = m.cap;
			caps++;
		}
	}
	CHECK_INT(m.cap, 16384); /* 5000 entries at most half full */
	CHECK_INT(caps, 11);	 /* 16 ... 16384 */
	CHECK_INT(smcp_hashmap_bytes(&m), 16384 * 20);
	for (uint64_t i = 0; i < 5000; i++) {
		struct smcp_hashmap_entry *e = smcp_hashmap_find(&m, i * 7919);

		all = all && e && e->value == i;
	}
	CHECK_MSG(all, "an entry lost or changed by growth");
	CHECK(map_consistent(&m));
	smcp_hashmap_clear(&m);
	CHECK(m.n == 0 && m.cap == 16384 && smcp_hashmap_find(&m, 7919) == NULL);
	smcp_hashmap_free(&m);

	UNIT_CASE("reserve");
	CHECK_INT(smcp_hashmap_reserve(&m, 1000), 0);
	CHECK_INT(m.cap, 2048);
	before = m.entries;
	for (uint64_t i = 0; i < 1000; i++)
		CHECK_INT(smcp_hashmap_insert(&m, i, i, NULL), 1);
	CHECK_MSG(m.entries == before && m.cap == 2048, "the table moved after reserve");
	CHECK_INT(smcp_hashmap_reserve(&m, 10), 0); /* never shrinks */
	CHECK_INT(m.cap, 2048);
	smcp_hashmap_free(&m);
}

static void test_bound(void)
{
	struct smcp_hashmap m = SMCP_HASHMAP_INIT(NULL, NULL, NULL, 100);
	struct smcp_hashmap_entry *e = NULL;

	UNIT_CASE("bound");
	for (uint64_t i = 0; i < 100; i++)
		CHECK_INT(smcp_hashmap_insert(&m, i, i, NULL), 1);
	CHECK_INT(smcp_hashmap_insert(&m, 100, 0, &e), -ENOSPC);
	CHECK_INT(m.n, 100);
	CHECK(smcp_hashmap_find(&m, 100) == NULL);
	CHECK_INT(smcp_hashmap_insert(&m, 5, 0, &e), 0); /* present keys still found */
	CHECK(e && e->value == 5);
	CHECK_INT(smcp_hashmap_add_hashed(&m, 101, 1, 0, NULL), -ENOSPC);
	CHECK_INT(m.cap, 256); /* at most 2 * max, rounded up to a power of two */
	CHECK_INT(smcp_hashmap_reserve(&m, 101), -ENOSPC);
	CHECK_INT(smcp_hashmap_delete(&m, 5, NULL), 0);
	CHECK_INT(smcp_hashmap_insert(&m, 100, 0, NULL), 1); /* room again */
	CHECK_INT(m.cap, 256);
	smcp_hashmap_free(&m);

	/* max 0 is the largest bound, and a bound above it is cut to it */
	smcp_hashmap_init(&m, NULL, NULL, NULL, SIZE_MAX);
	CHECK_INT(smcp_hashmap_reserve(&m, SMCP_HASHMAP_MAX_ENTRIES + 1), -ENOSPC);
	smcp_hashmap_free(&m);
}

/* An index over an array of the caller's: the map holds indexes; a name
 * not yet in the array is the probe. */
struct names {
	const char *v[64];
	size_t n;
	int compared_wrong_kind;
};

static bool name_equal(uint64_t stored, uint64_t key, void *ctx)
{
	struct names *t = ctx;

	if (stored >= t->n)
		t->compared_wrong_kind++; /* a stored key must be an index */
	return stored < t->n && strcmp(t->v[stored], (const char *)(uintptr_t)key) == 0;
}

static size_t name_id(struct smcp_hashmap *m, struct names *t, const char *name)
{
	uint32_t h = smcp_hash_str(name);
	struct smcp_hashmap_entry *e = smcp_hashmap_find_hashed(m, (uintptr_t)name, h);

	if (e)
		return (size_t)e->key;
	t->v[t->n] = name;
	if (smcp_hashmap_add_hashed(m, t->n, h, 0, NULL))
		return SIZE_MAX;
	return t->n++;
}

static void test_index(void)
{
	static const char *const words[] = { "cpu", "llc", "node", "dsq", "pid", "comm" };
	struct names t = { .n = 0 };
	struct smcp_hashmap m = SMCP_HASHMAP_INIT(NULL, name_equal, &t, 64);
	char buf[16];

	UNIT_CASE("index over an array");
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < 6; i++) {
			snprintf(buf, sizeof(buf), "%s", words[i]); /* another pointer each time */
			CHECK_INT(name_id(&m, &t, round ? buf : words[i]), i);
		}
	CHECK_INT(t.n, 6);
	CHECK_INT(m.n, 6);
	CHECK_INT(t.compared_wrong_kind, 0);
	smcp_hashmap_free(&m);

	UNIT_CASE("string keys");
	smcp_hashmap_init(&m, smcp_hashmap_str_hash, smcp_hashmap_str_equal, NULL, 0);
	for (size_t i = 0; i < 6; i++)
		CHECK_INT(smcp_hashmap_insert(&m, (uintptr_t)words[i], i, NULL), 1);
	snprintf(buf, sizeof(buf), "node");
	CHECK(smcp_hashmap_find(&m, (uintptr_t)buf) &&
	      smcp_hashmap_find(&m, (uintptr_t)buf)->value == 2);
	CHECK(smcp_hashmap_find(&m, (uintptr_t)"nodes") == NULL);
	CHECK_INT(smcp_hashmap_delete(&m, (uintptr_t)buf, NULL), 0);
	CHECK(smcp_hashmap_find(&m, (uintptr_t)"node") == NULL);
	smcp_hashmap_free(&m);
}

static void test_for_each(void)
{
	struct smcp_hashmap m = SMCP_HASHMAP_INIT(NULL, NULL, NULL, 0);
	struct smcp_hashmap_entry *e;
	uint64_t sum = 0, seen = 0;

	UNIT_CASE("for_each");
	smcp_hashmap_for_each(&m, e)
		seen++; /* an empty map, never allocated */
	CHECK_INT(seen, 0);
	for (uint64_t i = 1; i <= 300; i++)
		CHECK_INT(smcp_hashmap_insert(&m, i, i, NULL), 1);
	for (uint64_t i = 1; i <= 300; i += 3)
		CHECK_INT(smcp_hashmap_delete(&m, i, NULL), 0);
	smcp_hashmap_for_each(&m, e) {
		sum += e->value;
		seen++;
		e->value = 0;
	}
	CHECK_INT(seen, 200);
	CHECK_INT(sum, 300 * 301 / 2 - (100 * (1 + 298)) / 2);
	CHECK((e = smcp_hashmap_find(&m, 2)) && e->value == 0);
	smcp_hashmap_free(&m);
}

/* xorshift: the run is the same every time */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A long random mix against a plain array, with a small key space so that
 * inserts, hits, misses and removals all happen often; then churn at a
 * steady count: the table must not grow, nor searches lengthen. */
static void test_random(void)
{
	enum { KEYS = 1024, OPS = 400000 };
	static uint64_t model[KEYS];
	static bool present[KEYS];
	struct smcp_hashmap m = SMCP_HASHMAP_INIT(hash_low, NULL, NULL, 0);
	size_t n = 0, bad = 0, cap_after_fill, probes = 0, lookups = 0;
	uint64_t s = 88172645463325252ULL;

	UNIT_CASE("random");
	for (int op = 0; op < OPS; op++) {
		uint64_t r = rnd(&s), k = r % KEYS, key = k * 2654435761ULL;
		struct smcp_hashmap_entry *e;
		int rc;

		switch ((r >> 32) % 4) {
		case 0:
		case 1:
			rc = smcp_hashmap_insert(&m, key, r, &e);
			bad += rc != (present[k] ? 0 : 1) || !e || e->key != key;
			if (!present[k]) {
				present[k] = true;
				model[k] = r;
				n++;
			}
			break;
		case 2:
			e = smcp_hashmap_find(&m, key);
			bad += present[k] ? !e || e->value != model[k] : e != NULL;
			break;
		default:
			rc = smcp_hashmap_delete(&m, key, NULL);
			bad += rc != (present[k] ? 0 : -ENOENT);
			n -= present[k];
			present[k] = false;
		}
		bad += m.n != n;
		if (op % 4096 == 0)
			bad += !map_consistent(&m);
	}
	CHECK_MSG(bad == 0, "%zu disagreements with the model", bad);
	CHECK(map_consistent(&m));

	/* steady churn: hold 400 keys, replace one at a time, a million times */
	smcp_hashmap_free(&m);
	smcp_hashmap_init(&m, NULL, NULL, NULL, 0);
	for (uint64_t i = 0; i < 400; i++)
		(void)smcp_hashmap_insert(&m, i, i, NULL);
	cap_after_fill = m.cap;
	for (uint64_t i = 400; i < 1000400; i++) {
		(void)smcp_hashmap_delete(&m, i - 400, NULL);
		(void)smcp_hashmap_insert(&m, i, i, NULL);
	}
	CHECK_INT(m.n, 400);
	CHECK_INT(m.cap, cap_after_fill);
	CHECK(map_consistent(&m));
	/* mean distance of an entry from its home: small, as in a fresh table */
	for (size_t i = 0; i < m.cap; i++) {
		if (!m.hashes[i])
			continue;
		probes += (i - (m.hashes[i] & (m.cap - 1))) & (m.cap - 1);
		lookups++;
	}
	CHECK_MSG(probes < 2 * lookups, "mean displacement %.2f after churn",
		  (double)probes / (double)lookups);
	smcp_hashmap_free(&m);
}

/* The mixers are the splitmix64 finaliser (values computed apart from this
 * code): perf_profiler keeps smcp_hash_mix64's 64 bits as stack and module
 * ids, so a change to it changes every profile's ids. */
static void test_hashes(void)
{
	UNIT_CASE("hashes");
	CHECK(smcp_hash_mix64(0) == 0);
	CHECK(smcp_hash_mix64(1) == 0x5692161d100b05e5ULL);
	CHECK(smcp_hash_mix64(0x123456789abcdef0ULL) == 0x9629f58e8ec5b906ULL);
	CHECK(smcp_hash_u64(1) == 0x469913f8u);
	CHECK(smcp_hash_u64(0x123456789abcdef0ULL) == 0x18ec4c88u);
}

int main(void)
{
	test_hashes();
	test_integers();
	test_collisions();
	test_backward_shift();
	test_growth_and_reserve();
	test_bound();
	test_index();
	test_for_each();
	test_random();
	return unit_done("unit-hashmap");
}
