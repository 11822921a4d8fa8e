/* SPDX-License-Identifier: MIT */
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *pp_unwind_method_name(enum pp_unwind_method m)
{
	switch (m) {
	case PP_UNW_KERNEL_ONLY:
		return "kernel_only";
	case PP_UNW_DWARF:
		return "dwarf";
	case PP_UNW_FP:
		return "frame_pointer";
	case PP_UNW_IP_ONLY:
		return "ip_only";
	default:
		return "?";
	}
}

int pp_profile_init(struct pp_profile *p, const char *root, struct pp_elf_cache *cache,
		    size_t max_stacks)
{
	memset(p, 0, sizeof(*p));
	p->max_stacks = max_stacks ? max_stacks : 100000;
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
	pp_map64_free(&p->stack_by_hash);
	pp_map64_free(&p->bucket_by_hash);
	memset(p, 0, sizeof(*p));
}

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	void *nv;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	nv = realloc(*v, n * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = n;
	return 0;
}

static bool same_stack(const struct pp_profile *p, uint32_t id, const uint64_t *k, unsigned int nk,
		       const uint64_t *u, unsigned int nu)
{
	const struct pp_stack *s = &p->stacks[id];
	const uint64_t *f = p->frames + s->off;

	return s->n_kernel == nk && s->n_user == nu && !memcmp(f, k, nk * sizeof(*f)) &&
	       !memcmp(f + nk, u, nu * sizeof(*f));
}

static int stack_id(struct pp_profile *p, const uint64_t *k, unsigned int nk, const uint64_t *u,
		    unsigned int nu, uint32_t *ret)
{
	uint64_t h = pp_hash_bytes(k, nk * sizeof(*k), nk) ^ pp_hash_bytes(u, nu * sizeof(*u), nu << 8);
	uint64_t *v;
	bool isnew;
	struct pp_stack *s;

	for (;;) {
		v = pp_map64_get(&p->stack_by_hash, h);
		if (!v)
			break;
		if (same_stack(p, (uint32_t)*v, k, nk, u, nu)) {
			*ret = (uint32_t)*v;
			return 0;
		}
		h++;
	}
	if (p->n_stacks >= p->max_stacks)
		return -ENOSPC;
	if (grow((void **)&p->stacks, &p->cap_stacks, p->n_stacks + 1, sizeof(*p->stacks)) ||
	    grow((void **)&p->frames, &p->cap_frames, p->n_frames + nk + nu, sizeof(*p->frames)))
		return -ENOMEM;
	v = pp_map64_put(&p->stack_by_hash, h, &isnew);
	if (!v)
		return -ENOMEM;
	s = &p->stacks[p->n_stacks];
	s->off = (uint32_t)p->n_frames;
	s->n_kernel = (uint16_t)nk;
	s->n_user = (uint16_t)nu;
	memcpy(p->frames + p->n_frames, k, nk * sizeof(*k));
	memcpy(p->frames + p->n_frames + nk, u, nu * sizeof(*u));
	p->n_frames += nk + nu;
	*v = p->n_stacks;
	*ret = (uint32_t)p->n_stacks++;
	return 0;
}

int pp_profile_add(struct pp_profile *p, const uint64_t *kframes, unsigned int n_kernel,
		   const uint64_t *uframes, unsigned int n_user, int32_t pid, int32_t tid,
		   uint32_t cpu, enum pp_unwind_method method, uint64_t weight)
{
	struct pp_bucket key = { 0 }, *b;
	uint64_t h, *v;
	bool isnew;
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
	h = pp_hash64(((uint64_t)key.stack << 32 | (uint32_t)tid) ^
		      pp_hash64((uint64_t)(uint32_t)pid << 32 | cpu << 4 | method));
	for (;;) {
		v = pp_map64_get(&p->bucket_by_hash, h);
		if (!v)
			break;
		b = &p->buckets[*v];
		if (b->stack == key.stack && b->pid == pid && b->tid == tid && b->cpu == cpu &&
		    b->method == key.method) {
			b->count += weight;
			goto counted;
		}
		h++;
	}
	if (grow((void **)&p->buckets, &p->cap_buckets, p->n_buckets + 1, sizeof(*p->buckets))) {
		p->dropped_samples += weight;
		return -ENOMEM;
	}
	v = pp_map64_put(&p->bucket_by_hash, h, &isnew);
	if (!v) {
		p->dropped_samples += weight;
		return -ENOMEM;
	}
	*v = p->n_buckets;
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
		   (p->stack_by_hash.cap + p->bucket_by_hash.cap) * 17;

	for (size_t i = 0; i < p->procs.n; i++)
		n += p->procs.v[i].cap_maps * sizeof(struct pp_map);
	return n + p->procs.cap * sizeof(struct pp_proc);
}
