/* SPDX-License-Identifier: MIT */
/*
 * Header-only search of a sorted array for where a key belongs rather than
 * for the key itself, which bsearch() cannot answer: the bucket a value
 * falls in, the mapping or the symbol that contains an address ("the last
 * element that starts at or below x"). For an exact match, use bsearch().
 * Like fsread.h it is compiled into the plugin and needs no ABI version;
 * it first shipped with the SDK of ABI 1.2.
 *
 * Since: 1.2
 */
#ifndef SCHEDMCP_SEARCH_H
#define SCHEDMCP_SEARCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The index of the first of the n elements of base (each size bytes,
 * sorted as cmp orders them) that comes after key: cmp(key, element) < 0.
 * n when none does. So the elements before the answer are the ones at or
 * before key, and the last of them, when the answer is above 0, is the
 * last element not after key. cmp is bsearch()'s: the key first, an
 * element second. At most log2(n) + 1 calls; base is not read when n is 0
 * (it may then be NULL). Static inline, so a comparison function the
 * caller names is usually inlined.
 */
static inline size_t smcp_upper_bound(const void *key, const void *base, size_t n, size_t size,
				      int (*cmp)(const void *key, const void *element))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(key, (const char *)base + mid * size) < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

#ifdef __cplusplus
}
#endif

#endif /* SCHEDMCP_SEARCH_H */
