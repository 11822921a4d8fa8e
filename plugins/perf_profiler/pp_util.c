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
	return smcp_hash_mix64(h);
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
