/* SPDX-License-Identifier: MIT */
/*
 * smcp_upper_bound (sdk/include/schedmcp/search.h) against a linear scan:
 * every key below, between, on and above the elements of random sorted
 * arrays with runs of equal elements, sizes 0 to 40, an empty array given
 * as NULL, and the two shapes the tree uses it for (a value's histogram
 * bucket, the range that contains an address).
 */
#include <stdint.h>
#include <stdlib.h>

#include <schedmcp/search.h>

#include "unit.h"

static int cmp_int(const void *key, const void *elem)
{
	int a = *(const int *)key, b = *(const int *)elem;

	return a < b ? -1 : a > b;
}

static int cmp_double(const void *key, const void *elem)
{
	double a = *(const double *)key, b = *(const double *)elem;

	return a < b ? -1 : a > b;
}

struct range {
	uint64_t start, end;
};

static int cmp_start(const void *key, const void *elem)
{
	uint64_t a = *(const uint64_t *)key, s = ((const struct range *)elem)->start;

	return a < s ? -1 : a > s;
}

static void test_against_scan(void)
{
	unsigned seed = 1;
	size_t bad = 0, runs = 0;

	UNIT_CASE("against a linear scan");
	for (int round = 0; round < 2000; round++) {
		int v[40];
		size_t n = (size_t)(rand_r(&seed) % 41);

		for (size_t i = 0; i < n; i++) /* sorted, steps of 0 to 2: duplicates */
			v[i] = (i ? v[i - 1] : -3) + rand_r(&seed) % 3;
		for (int key = -5; key <= (n ? v[n - 1] : 0) + 2; key++) {
			size_t want = 0;

			while (want < n && v[want] <= key)
				want++;
			bad += smcp_upper_bound(&key, v, n, sizeof(v[0]), cmp_int) != want;
			runs++;
		}
	}
	CHECK_MSG(bad == 0, "%zu of %zu answers differ from the scan", bad, runs);
	CHECK(runs > 10000);
}

static void test_shapes(void)
{
	static const struct range maps[] = { { 0x1000, 0x2000 }, { 0x2000, 0x3000 },
					     { 0x5000, 0x6000 } };
	static const double bounds[] = { 1, 10, 100 }; /* and a last bucket for the rest */
	static const struct {
		uint64_t addr;
		int map;
	} addrs[] = { { 0, -1 },      { 0xfff, -1 },	{ 0x1000, 0 }, { 0x1fff, 0 },
		      { 0x2000, 1 },  { 0x3000, -1 },	{ 0x4fff, -1 }, { 0x5000, 2 },
		      { 0x5fff, 2 },  { 0x6000, -1 },	{ UINT64_MAX, -1 } };
	int key = 7;

	UNIT_CASE("empty");
	CHECK_INT(smcp_upper_bound(&key, NULL, 0, sizeof(int), cmp_int), 0);

	UNIT_CASE("containing range");
	for (size_t k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
		size_t i = smcp_upper_bound(&addrs[k].addr, maps, 3, sizeof(maps[0]), cmp_start);
		int got = i && addrs[k].addr < maps[i - 1].end ? (int)i - 1 : -1;

		CHECK_MSG(got == addrs[k].map, "0x%llx: map %d, expected %d",
			  (unsigned long long)addrs[k].addr, got, addrs[k].map);
	}

	UNIT_CASE("histogram bucket");
	{
		static const struct {
			double value;
			int bucket;
		} obs[] = { { -1, 0 }, { 0.5, 0 }, { 1, 1 },	 { 9.99, 1 },
			    { 10, 2 }, { 99, 2 },   { 100, 3 }, { 1e300, 3 } };

		for (size_t k = 0; k < sizeof(obs) / sizeof(obs[0]); k++)
			CHECK_INT(smcp_upper_bound(&obs[k].value, bounds, 3, sizeof(bounds[0]),
						   cmp_double),
				  obs[k].bucket);
	}
}

int main(void)
{
	test_against_scan();
	test_shapes();
	return unit_done("unit-search");
}
