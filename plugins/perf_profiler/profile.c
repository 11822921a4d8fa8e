/* SPDX-License-Identifier: MIT */
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

const char *pp_unwind_method_name(enum pp_unwind_method m)
{
	static const char *const names[PP_UNW__N] = {
		[PP_UNW_KERNEL_ONLY] = "kernel_only",
		[PP_UNW_DWARF] = "dwarf",
		[PP_UNW_FP] = "frame_pointer",
		[PP_UNW_IP_ONLY] = "ip_only",
	};

	return (size_t)m < PP_UNW__N ? names[m] : "?";
}

static bool stack_is(uint64_t id, uint64_t probe, void *ctx);
static bool bucket_is(uint64_t idx, uint64_t probe, void *ctx);

int pp_profile_init(struct pp_profile *p, const char *root, struct pp_elf_cache *cache,
		    size_t max_stacks)
{
	memset(p, 0, sizeof(*p));
	p->max_stacks = max_stacks ? max_stacks : 100000;
	smcp_hashmap_init(&p->stack_index, NULL, stack_is, NULL, p->max_stacks);
	/* buckets are bounded by the samples a profile takes (max_samples) */
	smcp_hashmap_init(&p->bucket_index, NULL, bucket_is, NULL, 0);
	return pp_procs_init(&p->procs, root, cache);
}

void pp_profile_free(struct pp_profile *p)
{
	if (!p)
		return;
	pp_procs_free(&p->procs);
	free(p->dksyms);
	pp_arena_free(&p->dk_names);
	free(p->frames);
	free(p->stacks);
	free(p->buckets);
	smcp_hashmap_free(&p->stack_index);
	smcp_hashmap_free(&p->bucket_index);
	memset(p, 0, sizeof(*p));
}

/* Room for need elements in *v. */
static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
	return need ? smcp_array_grow(v, cap, need - 1, elem, 64) : 0;
}

static uint32_t fold(uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32));
}

/* A stack searched for: not in p->stacks yet, so the index is searched
 * with this probe (smcp_hashmap_find_hashed). */
struct stack_probe {
	const struct pp_profile *p;
	const uint64_t *k, *u;
	unsigned int nk, nu;
};

static bool stack_is(uint64_t id, uint64_t probe, void *ctx)
{
	const struct stack_probe *q = (const struct stack_probe *)(uintptr_t)probe;
	const struct pp_stack *s = &q->p->stacks[id];
	const uint64_t *f = q->p->frames + s->off;

	return s->n_kernel == q->nk && s->n_user == q->nu &&
	       !memcmp(f, q->k, q->nk * sizeof(*f)) && !memcmp(f + q->nk, q->u, q->nu * sizeof(*f));
}

static int stack_id(struct pp_profile *p, const uint64_t *k, unsigned int nk, const uint64_t *u,
		    unsigned int nu, uint32_t *ret)
{
	uint32_t h = fold(pp_hash_bytes(k, nk * sizeof(*k), nk) ^
			  pp_hash_bytes(u, nu * sizeof(*u), nu << 8));
	const struct stack_probe q = { p, k, u, nk, nu };
	struct smcp_hashmap_entry *e = smcp_hashmap_find_hashed(&p->stack_index, (uintptr_t)&q, h);
	struct pp_stack *s;
	int err;

	if (e) {
		*ret = (uint32_t)e->key;
		return 0;
	}
	if (p->n_stacks >= p->max_stacks)
		return -ENOSPC;
	if (grow((void **)&p->stacks, &p->cap_stacks, p->n_stacks + 1, sizeof(*p->stacks)) ||
	    grow((void **)&p->frames, &p->cap_frames, p->n_frames + nk + nu, sizeof(*p->frames)))
		return -ENOMEM;
	err = smcp_hashmap_add_hashed(&p->stack_index, p->n_stacks, h, 0, NULL);
	if (err)
		return err;
	s = &p->stacks[p->n_stacks];
	s->off = (uint32_t)p->n_frames;
	s->n_kernel = (uint16_t)nk;
	s->n_user = (uint16_t)nu;
	memcpy(p->frames + p->n_frames, k, nk * sizeof(*k));
	memcpy(p->frames + p->n_frames + nk, u, nu * sizeof(*u));
	p->n_frames += nk + nu;
	*ret = (uint32_t)p->n_stacks++;
	return 0;
}

/* A bucket searched for (its key fields), as struct stack_probe. */
struct bucket_probe {
	const struct pp_profile *p;
	const struct pp_bucket *key;
};

static bool bucket_is(uint64_t idx, uint64_t probe, void *ctx)
{
	const struct bucket_probe *q = (const struct bucket_probe *)(uintptr_t)probe;
	const struct pp_bucket *b = &q->p->buckets[idx], *k = q->key;

	return b->stack == k->stack && b->pid == k->pid && b->tid == k->tid && b->cpu == k->cpu &&
	       b->method == k->method;
}

int pp_profile_add(struct pp_profile *p, const uint64_t *kframes, unsigned int n_kernel,
		   const uint64_t *uframes, unsigned int n_user, int32_t pid, int32_t tid,
		   uint32_t cpu, enum pp_unwind_method method, uint64_t weight)
{
	struct pp_bucket key = { 0 };
	const struct bucket_probe q = { p, &key };
	struct smcp_hashmap_entry *e;
	uint32_t h;
	int err;

	if (n_kernel > PP_MAX_FRAMES)
		n_kernel = PP_MAX_FRAMES;
	if (n_user > PP_MAX_FRAMES)
		n_user = PP_MAX_FRAMES;
	err = stack_id(p, kframes, n_kernel, uframes, n_user, &key.stack);
	if (err) {
		p->dropped_samples += weight;
		return err;
	}
	key.pid = pid;
	key.tid = tid;
	key.cpu = cpu;
	key.method = (uint8_t)method;
	h = fold(smcp_hash_mix64(((uint64_t)key.stack << 32 | (uint32_t)tid) ^
				 smcp_hash_mix64((uint64_t)(uint32_t)pid << 32 | cpu << 4 | method)));
	e = smcp_hashmap_find_hashed(&p->bucket_index, (uintptr_t)&q, h);
	if (e) {
		p->buckets[e->key].count += weight;
		goto counted;
	}
	if (grow((void **)&p->buckets, &p->cap_buckets, p->n_buckets + 1, sizeof(*p->buckets))) {
		p->dropped_samples += weight;
		return -ENOMEM;
	}
	err = smcp_hashmap_add_hashed(&p->bucket_index, p->n_buckets, h, 0, NULL);
	if (err) {
		p->dropped_samples += weight;
		return err;
	}
	key.count = weight;
	p->buckets[p->n_buckets++] = key;
counted:
	p->samples += weight;
	p->by_method[method] += weight;
	return 0;
}

#define MAX_DKSYMS 65536

int pp_profile_add_ksym(struct pp_profile *p, uint64_t addr, uint32_t len, const char *name)
{
	if (p->n_dksyms >= MAX_DKSYMS)
		return -ENOSPC;
	if (grow((void **)&p->dksyms, &p->cap_dksyms, p->n_dksyms + 1, sizeof(*p->dksyms)))
		return -ENOMEM;
	p->dksyms[p->n_dksyms].name = pp_arena_strdup(&p->dk_names, name);
	if (!p->dksyms[p->n_dksyms].name)
		return -ENOMEM;
	p->dksyms[p->n_dksyms].addr = addr;
	p->dksyms[p->n_dksyms].len = len;
	p->n_dksyms++;
	return 0;
}

const struct pp_dynksym *pp_profile_find_ksym(const struct pp_profile *p, uint64_t addr)
{
	for (size_t i = p->n_dksyms; i-- > 0;)
		if (addr >= p->dksyms[i].addr && addr - p->dksyms[i].addr < p->dksyms[i].len)
			return &p->dksyms[i];
	return NULL;
}

size_t pp_profile_mem(const struct pp_profile *p)
{
	size_t n = p->cap_frames * sizeof(*p->frames) + p->cap_stacks * sizeof(*p->stacks) +
		   p->cap_buckets * sizeof(*p->buckets) +
		   smcp_hashmap_bytes(&p->stack_index) + smcp_hashmap_bytes(&p->bucket_index);

	for (size_t i = 0; i < p->procs.n; i++)
		n += p->procs.v[i].cap_maps * sizeof(struct pp_map);
	return n + p->procs.cap * sizeof(struct pp_proc);
}
