// SPDX-License-Identifier: MIT
/* The /proc/interrupts and /proc/softirqs parser of tr_kstat.c (tr_kstat.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tr_kstat.h"

/* The header ("CPU0 CPU3 ...") into col[]: each column's CPU number; how
 * many columns, or -EINVAL. */
static int header_cpus(const char *line, const char *end, int32_t *col, uint32_t maxcol)
{
	uint32_t n = 0;

	while (line < end && n < maxcol) {
		char *e;
		long v;

		while (line < end && (*line == ' ' || *line == '\t'))
			line++;
		if (line >= end)
			break;
		if (end - line < 4 || strncmp(line, "CPU", 3))
			return -EINVAL;
		v = strtol(line + 3, &e, 10);
		if (e == line + 3 || v < 0 || v > INT32_MAX)
			return -EINVAL;
		col[n++] = (int32_t)v;
		line = e;
	}
	return (int)n;
}

/* FNV-1a, for the text's shape */
static uint64_t mix(uint64_t h, const void *data, size_t n)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

int tr_kstat_parse(const char *buf, size_t len, bool irqs, uint64_t *out, uint32_t ncpus,
		   uint64_t *shape)
{
	const char *p = buf, *end = buf + len, *nl;
	int32_t col[1024];
	uint64_t val[1024], h = 0xcbf29ce484222325ull;
	int ncol;

	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return -EINVAL;
	ncol = header_cpus(p, nl, col, 1024);
	if (ncol <= 0)
		return -EINVAL;
	h = mix(h, col, (size_t)ncol * sizeof(col[0]));
	for (p = nl + 1; p < end; p = nl + 1) {
		const char *q = p, *colon;
		uint64_t mult = 1;
		int i;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		while (q < nl && *q == ' ')
			q++;
		colon = memchr(q, ':', (size_t)(nl - q));
		if (!colon)
			continue;
		if (irqs) {
			const char *d = q;

			while (d < colon && *d >= '0' && *d <= '9')
				d++;
			if (d == q || d != colon)
				continue;
		}
		q = colon + 1;
		for (i = 0; i < ncol; i++) {
			char *e;

			while (q < nl && *q == ' ')
				q++;
			if (q >= nl || *q < '0' || *q > '9')
				break;
			val[i] = strtoull(q, &e, 10);
			q = e;
		}
		/* the kernel joins a shared line's actions with ", " */
		if (irqs)
			for (const char *c = q; c + 1 < nl; c++)
				mult += c[0] == ',' && c[1] == ' ';
		h = mix(h, p, (size_t)(colon - p));
		h = mix(h, &mult, sizeof(mult));
		h = mix(h, &i, sizeof(i));
		for (int j = 0; j < i; j++)
			if (col[j] >= 0 && (uint32_t)col[j] < ncpus)
				out[col[j]] += val[j] * mult;
	}
	*shape = h;
	return 0;
}
