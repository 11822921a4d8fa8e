/* SPDX-License-Identifier: MIT */
/*
 * A growing array: room for one more element, by doubling.
 *
 *   struct row *rows = NULL;
 *   size_t n = 0, cap = 0;
 *
 *   err = smcp_array_grow(&rows, &cap, n, sizeof(*rows), 64);
 *   if (err)
 *           goto fail;
 *   rows[n++] = r;
 *
 * Header-only (compiled into the plugin or the core), so not part of the ABI
 * version. Since: 1.2 (header only)
 */
#ifndef SCHEDMCP_ARRAY_H
#define SCHEDMCP_ARRAY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Makes element n of an array of *cap elements of size bytes exist: when
 * n >= *cap, reallocates the array to twice *cap elements (first when *cap
 * is 0), doubling again while n is still beyond it. arrp is the address of
 * the array pointer (a struct row ** for a struct row array; NULL while
 * empty). The new elements are not initialised.
 *
 * Returns 0, or -ENOMEM when the allocation fails or its size would not fit
 * in a size_t; on failure neither the array nor *cap changes (the caller
 * still owns and frees the array).
 * Since: 1.2 (header only)
 */
static inline int smcp_array_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t ncap = *cap ? *cap : (first ? first : 1);
	void *arr, *na;

	if (n < *cap)
		return 0;
	if (*cap) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	while (ncap <= n) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (size && ncap > SIZE_MAX / size)
		return -ENOMEM;
	/* through memcpy: the array pointer may be of any object type */
	memcpy(&arr, arrp, sizeof(arr));
	na = realloc(arr, ncap * size);
	if (!na)
		return -ENOMEM;
	memcpy(arrp, &na, sizeof(na));
	*cap = ncap;
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* SCHEDMCP_ARRAY_H */
