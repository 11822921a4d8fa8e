/* SPDX-License-Identifier: MIT */
/* Fixed-size CPU bitmaps and the kernel's cpulist text format. */
#include "topo_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/cpulist.h>

int cpuset_init(struct cpuset *s, int nbits)
{
	size_t words = ((size_t)nbits + 63) / 64;

	s->bits = calloc(words ? words : 1, sizeof(uint64_t));
	if (!s->bits)
		return -ENOMEM;
	s->nbits = nbits;
	return 0;
}

void cpuset_free(struct cpuset *s)
{
	if (!s)
		return;
	free(s->bits);
	s->bits = NULL;
	s->nbits = 0;
}

void cpuset_set(struct cpuset *s, int cpu)
{
	if (cpu >= 0 && cpu < s->nbits)
		s->bits[cpu / 64] |= 1ull << (cpu % 64);
}

bool cpuset_test(const struct cpuset *s, int cpu)
{
	if (!s->bits || cpu < 0 || cpu >= s->nbits)
		return false;
	return s->bits[cpu / 64] & (1ull << (cpu % 64));
}

bool cpuset_equal(const struct cpuset *a, const struct cpuset *b)
{
	if (a->nbits != b->nbits)
		return false;
	return memcmp(a->bits, b->bits, ((size_t)a->nbits + 63) / 64 * sizeof(uint64_t)) == 0;
}

int cpuset_count(const struct cpuset *s)
{
	int n = 0;

	for (int i = 0; i < (s->nbits + 63) / 64; i++)
		n += __builtin_popcountll(s->bits[i]);
	return n;
}

int cpuset_first(const struct cpuset *s)
{
	for (int i = 0; i < (s->nbits + 63) / 64; i++)
		if (s->bits[i])
			return i * 64 + __builtin_ctzll(s->bits[i]);
	return -1;
}

int cpuset_copy(struct cpuset *dst, const struct cpuset *src)
{
	int err = cpuset_init(dst, src->nbits);

	if (err)
		return err;
	memcpy(dst->bits, src->bits, ((size_t)src->nbits + 63) / 64 * sizeof(uint64_t));
	return 0;
}

static int cpuset_add_range(void *ctx, int lo, int hi)
{
	struct cpuset *s = ctx;

	if (hi >= s->nbits)
		return -ERANGE;
	for (int c = lo; c <= hi; c++)
		cpuset_set(s, c);
	return 0;
}

int cpuset_parse(struct cpuset *s, const char *text)
{
	return smcp_cpulist_parse(text, cpuset_add_range, s);
}

char *cpuset_format(const struct cpuset *s)
{
	/* worst case "0-1,3-4,...": 10 bytes per 3 ids of up to 4 digits */
	size_t cap = (size_t)s->nbits * 4 + 16, at = 0;
	char *out = malloc(cap);
	int c = 0;

	if (!out)
		return NULL;
	out[0] = '\0';
	while (c < s->nbits) {
		int lo, hi;

		if (!cpuset_test(s, c)) {
			c++;
			continue;
		}
		lo = hi = c;
		while (hi + 1 < s->nbits && cpuset_test(s, hi + 1))
			hi++;
		at += (size_t)snprintf(out + at, cap - at, lo == hi ? "%s%d" : "%s%d-%d",
				       at ? "," : "", lo, hi);
		if (at >= cap) /* cannot happen with ids below TOPO_MAX_CPUS */
			break;
		c = hi + 1;
	}
	return out;
}
