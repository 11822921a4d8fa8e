/* SPDX-License-Identifier: MIT */
/*
 * Header-only parser for the kernel's CPU list syntax ("0-3,8,10-11", as in
 * /sys/devices/system/cpu/online, cache shared_cpu_list, cpuset.cpus), for
 * plugins that read such files or take a CPU list from a client. Like
 * fsread.h it is compiled into the plugin and needs no ABI version.
 */
#ifndef SCHEDMCP_CPULIST_H
#define SCHEDMCP_CPULIST_H

#include <errno.h>
#include <limits.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int smcp_cpulist_blank_(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* One decimal id at *p (digits only), advancing *p past it. */
static inline int smcp_cpulist_id_(const char **p, int *ret)
{
	int v = 0;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	for (; **p >= '0' && **p <= '9'; (*p)++) {
		int d = **p - '0';

		if (v > (INT_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/*
 * Call fn(ctx, lo, hi) for each range of text, in order ("8" is 8-8).
 * Blanks around items and a trailing newline are allowed; an empty or
 * blank text is the empty list. Returns 0; -EINVAL for bad syntax or a
 * range whose end is below its start; -ERANGE for an id above INT_MAX; or
 * the first negative value fn returned. On an error, the ranges before it
 * have been reported already.
 */
static inline int smcp_cpulist_parse(const char *text, int (*fn)(void *ctx, int lo, int hi),
				     void *ctx)
{
	const char *p = text;

	while (smcp_cpulist_blank_(*p))
		p++;
	if (!*p)
		return 0;
	for (;;) {
		int lo, hi, err;

		while (smcp_cpulist_blank_(*p))
			p++;
		err = smcp_cpulist_id_(&p, &lo);
		if (err)
			return err;
		hi = lo;
		if (*p == '-') {
			p++;
			err = smcp_cpulist_id_(&p, &hi);
			if (err)
				return err;
			if (hi < lo)
				return -EINVAL;
		}
		err = fn(ctx, lo, hi);
		if (err < 0)
			return err;
		while (smcp_cpulist_blank_(*p))
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		return *p ? -EINVAL : 0;
	}
}

struct smcp_cpulist_map_ {
	unsigned char *map;
	int n;
};

static inline int smcp_cpulist_map_set_(void *ctx, int lo, int hi)
{
	struct smcp_cpulist_map_ *m = (struct smcp_cpulist_map_ *)ctx;

	for (int c = lo; c <= hi && c < m->n; c++)
		m->map[c] = 1;
	return 0;
}

/*
 * Set map[c] = 1 for each CPU c of text below n (ids at or above n are
 * ignored; map is not cleared first). Returns what smcp_cpulist_parse does.
 */
static inline int smcp_cpulist_map(const char *text, unsigned char *map, int n)
{
	struct smcp_cpulist_map_ m = { map, n };

	return smcp_cpulist_parse(text, smcp_cpulist_map_set_, &m);
}

#ifdef __cplusplus
}
#endif

#endif
