// SPDX-License-Identifier: MIT
/* Parsers of numastat and numa_maps (sl_numa.h): no allocation, any chunking. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "sl_numa.h"

const char *const sl_numastat_names[SLN_N] = {
	[SLN_HIT] = "numa_hit",		    [SLN_MISS] = "numa_miss",
	[SLN_FOREIGN] = "numa_foreign",	    [SLN_INTERLEAVE_HIT] = "interleave_hit",
	[SLN_LOCAL] = "local_node",	    [SLN_OTHER] = "other_node",
};

/* A decimal at s (s < end), without sign; false when none or it overflows. */
static bool parse_u64(const char *s, const char *end, uint64_t *ret, const char **ret_end)
{
	uint64_t v = 0;
	const char *q = s;

	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (q == s)
		return false;
	*ret = v;
	*ret_end = q;
	return true;
}

unsigned sl_numastat_parse(const char *buf, size_t len, uint64_t v[SLN_N])
{
	const char *s = buf, *end = buf + len;
	unsigned found = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		const char *sp = memchr(s, ' ', (size_t)(le - s));

		for (int k = 0; sp && k < SLN_N; k++) {
			size_t n = strlen(sl_numastat_names[k]);
			uint64_t x;
			const char *q;

			if ((size_t)(sp - s) == n && memcmp(s, sl_numastat_names[k], n) == 0 &&
			    parse_u64(sp + 1, le, &x, &q) && q == le) {
				v[k] = x;
				found |= 1u << k;
			}
		}
		s = le + (nl != NULL);
	}
	return found;
}

void sl_numa_maps_init(struct sl_numa_maps *m)
{
	memset(m, 0, sizeof(*m));
}

/*
 * One mapping: "ADDR POLICY [key=value ...] N0=12 N1=3 kernelpagesize_kB=4".
 * The kernel writes the N<node>= counts and kernelpagesize_kB last, but a
 * file= path before them may hold spaces and text like " N0=1", so the
 * tokens are read from the end back, stopping at the first that is
 * neither: nothing in a path is counted.
 */
static void parse_line(struct sl_numa_maps *m, const char *s, size_t len)
{
	uint64_t pages[SL_NUMA_MAX_NODES];
	bool seen[SL_NUMA_MAX_NODES] = { false };
	uint64_t kb_per_page = 4;
	const char *end = s + len;
	bool any = false;

	while (end > s) {
		const char *t = end, *q;
		uint64_t node, n;

		while (t > s && t[-1] != ' ')
			t--;
		if (end - t > 18 && memcmp(t, "kernelpagesize_kB=", 18) == 0) {
			if (!parse_u64(t + 18, end, &n, &q) || q != end)
				break;
			kb_per_page = n;
		} else if (t[0] == 'N' && parse_u64(t + 1, end, &node, &q) && q < end &&
			   *q == '=' && parse_u64(q + 1, end, &n, &q) && q == end) {
			if (node >= SL_NUMA_MAX_NODES) {
				m->skipped++;
			} else {
				pages[node] = n;
				seen[node] = true;
				any = true;
			}
		} else {
			break; /* the counts end here: what is before is not trusted */
		}
		end = t > s ? t - 1 : s;
	}
	m->mappings++;
	if (!any)
		return;
	for (int i = 0; i < SL_NUMA_MAX_NODES; i++) {
		if (!seen[i])
			continue;
		m->pages[i] += pages[i];
		m->kb[i] += pages[i] * kb_per_page;
	}
}

void sl_numa_maps_feed(struct sl_numa_maps *m, const char *buf, size_t len)
{
	const char *s = buf, *end = buf + len;

	m->bytes += len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)((nl ? nl : end) - s);

		if (!m->line_long) {
			if (m->line_len + n < sizeof(m->line)) {
				memcpy(m->line + m->line_len, s, n);
				m->line_len += n;
			} else {
				m->line_long = true;
			}
		}
		if (!nl)
			return;
		if (m->line_long)
			m->skipped++;
		else
			parse_line(m, m->line, m->line_len);
		m->line_len = 0;
		m->line_long = false;
		s = nl + 1;
	}
}

void sl_numa_maps_end(struct sl_numa_maps *m)
{
	if (m->line_long)
		m->skipped++;
	else if (m->line_len)
		parse_line(m, m->line, m->line_len);
	m->line_len = 0;
	m->line_long = false;
}

ssize_t sl_numa_read_small(const char *path, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t ret;
	int fd;

	if (cap == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	while (got < cap - 1) {
		ssize_t n = read(fd, buf + got, cap - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	ret = (ssize_t)got;
out:
	buf[got] = '\0';
	close(fd);
	return ret;
}

int sl_numa_maps_read(const char *path, struct sl_numa_maps *m, size_t max_bytes,
		      bool *truncated)
{
	char chunk[16384];
	size_t total = 0;
	int fd, err = 0;

	*truncated = false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	for (;;) {
		size_t want = sizeof(chunk);
		ssize_t n;

		if (total >= max_bytes) {
			*truncated = true;
			break;
		}
		if (want > max_bytes - total)
			want = max_bytes - total;
		n = read(fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		sl_numa_maps_feed(m, chunk, (size_t)n);
		total += (size_t)n;
	}
	/* a truncated read leaves a partial line: not counted as a mapping */
	if (!*truncated)
		sl_numa_maps_end(m);
	close(fd);
	return err;
}
