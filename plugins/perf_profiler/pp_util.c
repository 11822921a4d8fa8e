/* SPDX-License-Identifier: MIT */
#include "pp_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t pp_hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return pp_hash64(h);
}

void pp_map64_free(struct pp_map64 *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->vals);
	free(m->used);
	m->keys = m->vals = NULL;
	m->used = NULL;
	m->cap = m->n = 0;
}

static size_t slot_of(const struct pp_map64 *m, uint64_t key)
{
	size_t i = pp_hash64(key) & (m->cap - 1);

	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

uint64_t *pp_map64_get(const struct pp_map64 *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = slot_of(m, key);
	return m->used[i] ? &m->vals[i] : NULL;
}

static int grow(struct pp_map64 *m)
{
	struct pp_map64 n = { 0 };

	n.cap = m->cap ? m->cap * 2 : 64;
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	n.used = calloc(n.cap, 1);
	if (!n.keys || !n.vals || !n.used) {
		pp_map64_free(&n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->used[i])
			continue;
		j = slot_of(&n, m->keys[i]);
		n.used[j] = 1;
		n.keys[j] = m->keys[i];
		n.vals[j] = m->vals[i];
		n.n++;
	}
	pp_map64_free(m);
	*m = n;
	return 0;
}

uint64_t *pp_map64_put(struct pp_map64 *m, uint64_t key, bool *ret_new)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap && grow(m))
		return NULL;
	i = slot_of(m, key);
	if (ret_new)
		*ret_new = !m->used[i];
	if (!m->used[i]) {
		m->used[i] = 1;
		m->keys[i] = key;
		m->vals[i] = 0;
		m->n++;
	}
	return &m->vals[i];
}

struct pp_arena_chunk {
	struct pp_arena_chunk *next;
	size_t used, size;
	char data[];
};

#define ARENA_CHUNK (64 * 1024)

void *pp_arena_alloc(struct pp_arena *a, size_t len)
{
	struct pp_arena_chunk *c = a->head;

	len = (len + 7) & ~(size_t)7;
	if (!c || c->size - c->used < len) {
		size_t sz = len > ARENA_CHUNK / 4 ? len : ARENA_CHUNK;

		c = malloc(sizeof(*c) + sz);
		if (!c)
			return NULL;
		c->size = sz;
		c->used = 0;
		a->bytes += sizeof(*c) + sz;
		if (a->head && len > ARENA_CHUNK / 4) {
			/* a big one-off: keep the current chunk open for small strings */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	c->used += len;
	return c->data + c->used - len;
}

char *pp_arena_strndup(struct pp_arena *a, const char *s, size_t len)
{
	char *d = pp_arena_alloc(a, len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *pp_arena_strdup(struct pp_arena *a, const char *s)
{
	return pp_arena_strndup(a, s, strlen(s));
}

void pp_arena_free(struct pp_arena *a)
{
	struct pp_arena_chunk *c, *n;

	if (!a)
		return;
	for (c = a->head; c; c = n) {
		n = c->next;
		free(c);
	}
	a->head = NULL;
	a->bytes = 0;
}

const char *pp_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

bool pp_privileged(void)
{
	char buf[4096], *p;
	unsigned long long eff;

	/* capabilities of this process, not of the fs root under test */
	if (smcp_read_file("", "/proc/self/status", buf, sizeof(buf)) < 0)
		return geteuid() == 0;
	p = strstr(buf, "CapEff:");
	if (!p || sscanf(p + 7, "%llx", &eff) != 1)
		return geteuid() == 0;
	/* CAP_SYS_ADMIN = 21, CAP_PERFMON = 38 */
	return (eff & (1ULL << 21)) || (eff & (1ULL << 38));
}

int pp_perf_paranoid(const char *root)
{
	char buf[32];

	if (smcp_read_file(root, "/proc/sys/kernel/perf_event_paranoid", buf, sizeof(buf)) <= 0)
		return 2;
	return atoi(buf);
}

static int leading_underscores(const char *s)
{
	int n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

int pp_alias_cmp(bool weak_a, bool global_a, const char *a, bool weak_b, bool global_b,
		 const char *b)
{
	int d;

	if (weak_a != weak_b)
		return weak_a ? 1 : -1;
	if (global_a != global_b)
		return global_a ? -1 : 1;
	d = leading_underscores(a) - leading_underscores(b);
	if (d)
		return d;
	d = (int)strlen(b) - (int)strlen(a);
	return d ? d : strcmp(a, b);
}
