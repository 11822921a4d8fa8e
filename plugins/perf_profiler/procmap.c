/* SPDX-License-Identifier: MIT */
#include "procmap.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>
#include <schedmcp/search.h>

#define MAX_MAPS_PER_PROC 4096
#define MAPS_FILE_MAX (16u << 20)
#define REREAD_MIN_NS 100000000ULL
#define MAX_READS_PER_PROC 16

static bool module_is(uint64_t id, uint64_t probe, void *ctx);

int pp_procs_init(struct pp_procs *ps, const char *root, struct pp_elf_cache *cache)
{
	memset(ps, 0, sizeof(*ps));
	ps->root = root ? root : "";
	ps->cache = cache;
	ps->max_procs = 65536;
	smcp_hashmap_init(&ps->by_pid, NULL, NULL, NULL, ps->max_procs);
	smcp_hashmap_init(&ps->mod_index, NULL, module_is, NULL, PP_MOD_MAX);
	ps->cap_mods = 64;
	ps->mods = calloc(ps->cap_mods, sizeof(*ps->mods));
	if (!ps->mods)
		return -ENOMEM;
	ps->n_mods = 1; /* id 0 is the kernel */
	return 0;
}

void pp_procs_free(struct pp_procs *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].maps);
	free(ps->v);
	for (size_t i = 1; i < ps->n_mods; i++) {
		if (ps->mods[i].elf && ps->cache)
			pp_elf_put(ps->cache, ps->mods[i].elf);
		free(ps->mods[i].path);
	}
	free(ps->mods);
	smcp_hashmap_free(&ps->by_pid);
	smcp_hashmap_free(&ps->mod_index);
	memset(ps, 0, sizeof(*ps));
}

struct pp_proc *pp_proc_get(struct pp_procs *ps, int32_t pid, bool create)
{
	struct smcp_hashmap_entry *e = smcp_hashmap_find(&ps->by_pid, (uint32_t)pid);
	struct pp_proc *p;

	if (e)
		return &ps->v[e->value];
	if (!create)
		return NULL;
	if (ps->n >= ps->max_procs) {
		ps->procs_dropped++;
		return NULL;
	}
	if (smcp_array_grow(&ps->v, &ps->cap, ps->n, sizeof(*ps->v), 256))
		return NULL;
	if (smcp_hashmap_insert(&ps->by_pid, (uint32_t)pid, ps->n, NULL) < 0)
		return NULL;
	p = &ps->v[ps->n++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

void pp_proc_set_comm(struct pp_proc *p, const char *comm)
{
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
}

/* A module searched for: what makes two mappings the same file. */
struct module_probe {
	const struct pp_procs *ps;
	const char *path;
	const uint8_t *bid;
	size_t bid_len;
	uint64_t ino; /* compared when there is no build id */
};

static bool module_is(uint64_t id, uint64_t probe, void *ctx)
{
	const struct module_probe *q = (const struct module_probe *)(uintptr_t)probe;
	const struct pp_module *m = &q->ps->mods[id];

	return strcmp(m->path, q->path) == 0 && m->build_id_len == q->bid_len &&
	       (!q->bid_len || !memcmp(m->build_id, q->bid, q->bid_len)) &&
	       (q->bid_len || m->ident.ino == q->ino);
}

static uint32_t module_hash(const struct module_probe *q)
{
	uint64_t h = pp_hash_bytes(q->path, strlen(q->path), 0x6d6f64);

	h ^= q->bid_len ? pp_hash_bytes(q->bid, q->bid_len, 1) : smcp_hash_mix64(q->ino + 2);
	return (uint32_t)(h ^ (h >> 32));
}

static int module_id(struct pp_procs *ps, const char *path, const uint8_t *bid, size_t bid_len,
		     const struct pp_file_ident *id, int32_t pid, uint64_t start, uint64_t end,
		     uint16_t *ret)
{
	const struct module_probe q = { ps, path, bid, bid_len, id->have ? id->ino : 0 };
	uint32_t h = module_hash(&q);
	struct smcp_hashmap_entry *e = smcp_hashmap_find_hashed(&ps->mod_index, (uintptr_t)&q, h);
	struct pp_module *m;
	int err;

	if (e) {
		*ret = (uint16_t)e->key;
		return 0;
	}
	if (ps->n_mods > PP_MOD_MAX) {
		ps->modules_dropped++;
		return -ENOSPC;
	}
	if (smcp_array_grow(&ps->mods, &ps->cap_mods, ps->n_mods, sizeof(*ps->mods), 64))
		return -ENOMEM;
	m = &ps->mods[ps->n_mods];
	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	if (!m->path)
		return -ENOMEM;
	if (bid_len) {
		m->build_id_len = (uint8_t)(bid_len > PP_BUILD_ID_MAX ? PP_BUILD_ID_MAX : bid_len);
		memcpy(m->build_id, bid, m->build_id_len);
	}
	m->ident = *id;
	m->pid = pid;
	m->start = start;
	m->end = end;
	m->is_vdso = strcmp(path, "[vdso]") == 0;
	err = smcp_hashmap_add_hashed(&ps->mod_index, ps->n_mods, h, 0, NULL);
	if (err) {
		free(m->path);
		return err;
	}
	*ret = (uint16_t)ps->n_mods++;
	return 0;
}

static bool is_file_path(const char *path)
{
	return path[0] == '/' && strncmp(path, "//anon", 6) != 0 &&
	       strncmp(path, "/memfd:", 7) != 0 && strncmp(path, "/dev/zero", 9) != 0;
}

/* Insert [start, end) keeping the array sorted; what it overlaps is cut. */
static int insert_map(struct pp_proc *p, const struct pp_map *m)
{
	struct pp_map tail = { 0 };
	bool have_tail = false;
	uint32_t i, j;

	for (i = 0, j = 0; i < p->n_maps; i++) {
		struct pp_map o = p->maps[i];

		if (o.end <= m->start || o.start >= m->end) {
			p->maps[j++] = o;
			continue;
		}
		if (o.start < m->start) {
			struct pp_map head = o;

			head.end = m->start;
			p->maps[j++] = head;
		}
		if (o.end > m->end) {
			tail = o;
			tail.pgoff += m->end - o.start;
			tail.start = m->end;
			have_tail = true;
		}
	}
	if (j != p->n_maps || have_tail)
		p->gen++; /* something was unmapped under it */
	p->n_maps = j;
	if (p->n_maps + 2 > p->cap_maps) {
		uint32_t cap = p->cap_maps ? p->cap_maps * 2 : 16;
		struct pp_map *nv;

		if (cap > MAX_MAPS_PER_PROC)
			return -ENOSPC;
		nv = realloc(p->maps, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		p->maps = nv;
		p->cap_maps = cap;
	}
	for (int k = 0; k < 1 + have_tail; k++) {
		const struct pp_map *ins = k ? &tail : m;

		for (i = 0; i < p->n_maps && p->maps[i].start < ins->start; i++)
			;
		memmove(p->maps + i + 1, p->maps + i, (p->n_maps - i) * sizeof(*p->maps));
		p->maps[i] = *ins;
		p->n_maps++;
	}
	return 0;
}

int pp_proc_add_map(struct pp_procs *ps, struct pp_proc *p, uint64_t start, uint64_t len,
		    uint64_t pgoff, const char *path, const uint8_t *build_id, size_t build_id_len,
		    const struct pp_file_ident *ident)
{
	struct pp_map m = { .start = start, .end = start + len, .pgoff = pgoff,
			    .module = PP_MOD_UNKNOWN };
	const struct pp_file_ident none = { 0 };
	int err;

	if (!len || start + len < start)
		return -EINVAL;
	if (is_file_path(path) || strcmp(path, "[vdso]") == 0) {
		err = module_id(ps, path, build_id, build_id_len, ident ? ident : &none, p->pid,
				start, start + len, &m.module);
		if (err == -ENOMEM)
			return err;
	}
	return insert_map(p, &m);
}

void pp_proc_exec(struct pp_proc *p)
{
	p->gen++;
	p->n_maps = 0;
	p->maps_read = false;
	p->n_reads = 0;
}

int pp_proc_fork(struct pp_procs *ps, int32_t parent, int32_t child)
{
	struct pp_proc *pp, *c;

	if (parent == child)
		return 0;
	c = pp_proc_get(ps, child, true);
	if (!c)
		return -ENOMEM;
	/* c may have moved the array: look the parent up afterwards */
	pp = pp_proc_get(ps, parent, false);
	if (!pp)
		return 0;
	memcpy(c->comm, pp->comm, sizeof(c->comm));
	if (pp->n_maps) {
		struct pp_map *m = malloc(pp->n_maps * sizeof(*m));

		if (!m)
			return -ENOMEM;
		memcpy(m, pp->maps, pp->n_maps * sizeof(*m));
		free(c->maps);
		c->maps = m;
		c->n_maps = c->cap_maps = pp->n_maps;
	}
	c->maps_read = pp->maps_read;
	return 0;
}

int pp_proc_read(struct pp_procs *ps, struct pp_proc *p, uint64_t now_ns)
{
	char path[64], *buf = NULL, *line, *next;
	size_t len;
	int err;

	/* 100 ms, 200 ms, 400 ms ... apart: a process that keeps running code
	 * outside any file (a JIT) must not make us re-read its maps forever */
	if (p->n_reads >= MAX_READS_PER_PROC ||
	    (p->n_reads && now_ns - p->last_read_ns < (REREAD_MIN_NS << (p->n_reads - 1))))
		return -EAGAIN;
	p->n_reads++;
	p->last_read_ns = now_ns;
	ps->maps_reads++;
	snprintf(path, sizeof(path), "/proc/%d/comm", p->pid);
	{
		char comm[32];

		if (smcp_read_file(ps->root, path, comm, sizeof(comm)) > 0) {
			comm[strcspn(comm, "\n")] = '\0';
			pp_proc_set_comm(p, comm);
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	err = smcp_slurp(ps->root, path, MAPS_FILE_MAX, &buf, &len);
	if (err) {
		ps->maps_read_failures++;
		p->maps_read = true; /* gone: what MMAP2 told us is all there is */
		return err == -ENOENT ? -ESRCH : err;
	}
	for (line = buf; line && *line; line = next) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		struct pp_file_ident id = { 0 };
		char perms[8];
		int pos = 0;
		const char *file;
		char *del;

		next = memchr(line, '\n', len - (size_t)(line - buf)); /* not strchr: see kallsyms.c */
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj,
			   &min, &ino, &pos) < 7 || !pos)
			continue;
		if (perms[2] != 'x' || end <= start)
			continue;
		file = line + pos;
		/* a deleted file is still reachable through map_files (the
		 * mapping's start and end, kept in its module) */
		del = strstr(line + pos, " (deleted)");
		if (del && del[10] == '\0')
			*del = '\0';
		id.have = true;
		id.dev_major = maj;
		id.dev_minor = min;
		id.ino = ino;
		err = pp_proc_add_map(ps, p, start, end - start, off, file, NULL, 0, &id);
		if (err == -ENOMEM)
			break;
		err = 0;
	}
	free(buf);
	p->maps_read = true;
	return err;
}

static int cmp_map_start(const void *addr, const void *map)
{
	uint64_t a = *(const uint64_t *)addr, start = ((const struct pp_map *)map)->start;

	return a < start ? -1 : a > start;
}

const struct pp_map *pp_proc_find_map(const struct pp_proc *p, uint64_t addr)
{
	/* the last map that starts at or below addr, if addr is inside it */
	size_t i = smcp_upper_bound(&addr, p->maps, p->n_maps, sizeof(*p->maps), cmp_map_start);

	if (!i || addr >= p->maps[i - 1].end)
		return NULL;
	return &p->maps[i - 1];
}

uint64_t pp_proc_frame(const struct pp_proc *p, uint64_t addr)
{
	const struct pp_map *m = p ? pp_proc_find_map(p, addr) : NULL;

	if (!m || m->module == PP_MOD_UNKNOWN)
		return pp_frame_make(PP_MOD_UNKNOWN, addr);
	return pp_frame_make(m->module, addr - m->start + m->pgoff);
}

struct pp_elf *pp_map_elf(struct pp_procs *ps, const struct pp_proc *p, const struct pp_map *m)
{
	struct pp_module *mod;

	if (m->module == PP_MOD_KERNEL || m->module >= ps->n_mods)
		return NULL;
	mod = &ps->mods[m->module];
	/* a map cut by a later mapping may no longer be a whole one: then
	 * map_files fails and the path routes follow, as they would for the
	 * first mapper */
	if (!mod->tried && p->pid > 0 && m->end > m->start) {
		mod->pid = p->pid;
		mod->start = m->start;
		mod->end = m->end;
	}
	return pp_module_elf(ps, m->module);
}

struct pp_elf *pp_module_elf(struct pp_procs *ps, uint16_t mod)
{
	struct pp_module *m;
	struct pp_elf_where w;

	if (mod == PP_MOD_KERNEL || mod >= ps->n_mods || !ps->cache)
		return NULL;
	m = &ps->mods[mod];
	if (m->tried)
		return m->elf;
	m->tried = true;
	if (m->is_vdso) {
		m->load_err = pp_elf_get_vdso(ps->cache, &m->elf);
		return m->elf;
	}
	w = (struct pp_elf_where){
		.path = m->path,
		.root = ps->root,
		.pid = m->pid,
		.start = m->start,
		.end = m->end,
		.ident = m->ident,
		.build_id = m->build_id,
		.build_id_len = m->build_id_len,
	};
	m->load_err = pp_elf_get(ps->cache, &w, &m->elf);
	if (m->load_err)
		m->elf = NULL;
	return m->elf;
}
