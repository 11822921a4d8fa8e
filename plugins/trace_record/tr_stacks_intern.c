/* SPDX-License-Identifier: MIT */
/* The interned data of stack samples: callstacks, frames, function names,
 * mappings, paths and build ids, each written once into the drain's
 * InternedData (tr_stacks_int.h). */
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tr_stacks_int.h"

uint64_t tr_stacks_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t stack_hash(const uint64_t *ids, uint32_t n)
{
	return smcp_hash_bytes(ids, n * sizeof(*ids));
}

bool tr_stacks_stack_equal(uint64_t stored, uint64_t key, void *ctx)
{
	const struct tr_stacks *s = ctx;
	const struct stack_probe *p = (const struct stack_probe *)(uintptr_t)key;

	return s->st_len[stored] == p->n &&
	       !memcmp(s->ids + s->st_off[stored], p->ids, p->n * sizeof(*p->ids));
}

static uint64_t intern_str(struct tr_stacks *s, uint32_t field, const char *str)
{
	struct smcp_hashmap_entry *e;
	int r;

	if (!str || !*str)
		return 0;
	/* each kind of string has its own iids: a path is never a name's */
	r = smcp_hashmap_insert(field == ID_MAPPING_PATHS ? &s->paths : &s->names,
				(uint64_t)(uintptr_t)str, 0, &e);
	if (r < 0)
		return 0;
	if (r == 1) {
		size_t m;

		e->value = s->next_iid++;
		m = tr_pb_begin(&s->in, field);
		tr_pb_uint(&s->in, IS_IID, e->value);
		tr_pb_bytes(&s->in, IS_STR, str, strnlen(str, 1024));
		tr_pb_end(&s->in, m);
		s->st.names += field != ID_MAPPING_PATHS;
	}
	return e->value;
}

static uint64_t intern_mapping(struct tr_stacks *s, const struct pp_map *m, struct pp_elf *elf)
{
	const struct pp_module *mod = &s->procs.mods[m->module];
	const uint8_t *bid = elf && elf->build_id_len ? elf->build_id : mod->build_id;
	size_t bid_len = elf && elf->build_id_len ? elf->build_id_len : mod->build_id_len;
	uint64_t path, build = 0, vaddr;
	size_t mk;

	if (s->mapping[m->module])
		return s->mapping[m->module];
	if (s->st.mappings >= MAX_MAPPINGS)
		return 0;
	path = intern_str(s, ID_MAPPING_PATHS, mod->path);
	if (bid_len) {
		/* the raw bytes of the note, as Perfetto's producers write
		 * them (its importer takes them raw); one per mapping, as
		 * the module is */
		size_t bk = tr_pb_begin(&s->in, ID_BUILD_IDS);

		build = s->next_iid++;
		tr_pb_uint(&s->in, IS_IID, build);
		tr_pb_bytes(&s->in, IS_STR, bid, bid_len < PP_BUILD_ID_MAX ? bid_len : PP_BUILD_ID_MAX);
		tr_pb_end(&s->in, bk);
	}
	s->mapping[m->module] = (uint32_t)s->next_iid++;
	mk = tr_pb_begin(&s->in, ID_MAPPINGS);
	tr_pb_uint(&s->in, MP_IID, s->mapping[m->module]);
	if (build)
		tr_pb_uint(&s->in, MP_BUILD_ID, build);
	/* the mapping's offset in the file; the ELF starts at the file's
	 * start (start_offset 0: no ELF inside an archive here); the load
	 * bias is the link-time address of that offset less the offset */
	tr_pb_uint(&s->in, MP_EXACT_OFFSET, m->pgoff);
	tr_pb_uint(&s->in, MP_START_OFFSET, 0);
	if (elf && pp_elf_off_to_vaddr(elf, m->pgoff, &vaddr))
		tr_pb_uint(&s->in, MP_LOAD_BIAS, vaddr - m->pgoff);
	tr_pb_uint(&s->in, MP_START, m->start);
	tr_pb_uint(&s->in, MP_END, m->end);
	if (path)
		tr_pb_uint(&s->in, MP_PATH, path);
	tr_pb_end(&s->in, mk);
	s->st.mappings++;
	return s->mapping[m->module];
}

static void write_frame(struct tr_stacks *s, uint64_t iid, uint64_t name, uint64_t mapping,
			uint64_t rel_pc)
{
	size_t m = tr_pb_begin(&s->in, ID_FRAMES);

	tr_pb_uint(&s->in, FR_IID, iid);
	if (name)
		tr_pb_uint(&s->in, FR_NAME, name);
	if (mapping)
		tr_pb_uint(&s->in, FR_MAPPING, mapping);
	tr_pb_uint(&s->in, FR_REL_PC, rel_pc);
	tr_pb_end(&s->in, m);
	s->st.frames++;
}

static uint64_t kernel_frame(struct tr_stacks *s, uint64_t addr)
{
	uint64_t key = pp_frame_make(PP_MOD_KERNEL, addr), off;
	struct smcp_hashmap_entry *e = smcp_hashmap_find(&s->frames, key);
	const struct pp_ksym *k;

	if (e)
		return e->value;
	if (s->frames.n >= MAX_FRAMES)
		return 0;
	k = s->have_ks ? pp_kallsyms_lookup(&s->ks, addr, &off) : NULL;
	if (smcp_hashmap_insert(&s->frames, key, s->next_iid, &e) < 0)
		return 0;
	s->next_iid++;
	write_frame(s, e->value, k ? intern_str(s, ID_FUNCTION_NAMES, k->name) : 0, KERNEL_MAPPING,
		    addr);
	return e->value;
}

/* A user frame of pid at addr (a return address unless leaf). */
static uint64_t user_frame(struct tr_stacks *s, uint32_t pid, uint64_t addr, bool leaf)
{
	struct pp_proc *p = s->have_procs ? pp_proc_get(&s->procs, (int32_t)pid, true) : NULL;
	const struct pp_map *m = NULL;
	struct smcp_hashmap_entry *e;
	struct pp_elf *elf = NULL;
	const struct pp_sym *sym = NULL;
	uint64_t key, name = 0, mapping = 0, rel_pc = addr, vaddr;

	if (p) {
		if (!p->maps_read || !pp_proc_find_map(p, addr))
			(void)pp_proc_read(&s->procs, p, tr_stacks_now_ns());
		m = pp_proc_find_map(p, addr);
	}
	if (m && m->module != PP_MOD_UNKNOWN && m->module != PP_MOD_KERNEL)
		key = pp_frame_make(m->module, rel_pc = addr - m->start + m->pgoff);
	else
		key = pp_frame_make(PP_MOD_UNKNOWN, addr); /* JIT, anonymous: no mapping */
	e = smcp_hashmap_find(&s->frames, key);
	if (e)
		return e->value;
	if (s->frames.n >= MAX_FRAMES)
		return 0;
	if (m && m->module != PP_MOD_UNKNOWN && m->module != PP_MOD_KERNEL) {
		elf = pp_map_elf(&s->procs, p, m);
		/* a caller's return address is past its call: look up the call */
		if (elf && pp_elf_off_to_vaddr(elf, leaf ? rel_pc : rel_pc - 1, &vaddr))
			sym = pp_elf_symbol(elf, s->cache.debug_dir, vaddr);
		/* Perfetto's rel_pc is the ELF's link-time address (what its
		 * symbolizer hands llvm-symbolizer); without the ELF, the file
		 * offset (its symbolizer corrects it from exact_offset) */
		if (elf && pp_elf_off_to_vaddr(elf, rel_pc, &vaddr))
			rel_pc = vaddr;
		mapping = intern_mapping(s, m, elf);
	}
	if (smcp_hashmap_insert(&s->frames, key, s->next_iid, &e) < 0)
		return 0;
	s->next_iid++;
	if (sym)
		name = intern_str(s, ID_FUNCTION_NAMES, sym->name);
	write_frame(s, e->value, name, mapping, rel_pc);
	s->st.user_frames++;
	s->st.user_named += name != 0;
	return e->value;
}

/* The callstack iid of a perf callchain (leaf first), or 0 at a cap. */
uint64_t tr_stacks_intern(struct tr_stacks *s, uint32_t pid, const uint64_t *ips, uint64_t nr)
{
	uint64_t ids[2 * TR_STACKS_MAX_DEPTH + 8];
	uint32_t n = 0;
	bool user = false, leaf = true;
	struct stack_probe probe;
	struct smcp_hashmap_entry *e;
	uint32_t h;

	/* Perfetto wants the outermost frame first: walk the chain backwards,
	 * so the leaf is found last */
	for (uint64_t i = 0; i < nr && n < sizeof(ids) / sizeof(ids[0]); i++) {
		uint64_t ip = ips[i], id;

		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			user = ip == (uint64_t)PERF_CONTEXT_USER;
			continue;
		}
		id = user ? user_frame(s, pid, ip, leaf) : kernel_frame(s, ip);
		leaf = false;
		if (!id)
			return 0;
		ids[n++] = id;
	}
	for (uint32_t i = 0; i < n / 2; i++) {
		uint64_t t = ids[i];

		ids[i] = ids[n - 1 - i];
		ids[n - 1 - i] = t;
	}
	probe.ids = ids;
	probe.n = n;
	h = stack_hash(ids, n);
	e = smcp_hashmap_find_hashed(&s->stacks, (uint64_t)(uintptr_t)&probe, h);
	if (e)
		return e->value;
	if (s->n_stacks >= MAX_STACKS || s->n_ids + n > MAX_STACK_IDS)
		return 0;
	s->st_off[s->n_stacks] = s->n_ids;
	s->st_len[s->n_stacks] = n;
	memcpy(s->ids + s->n_ids, ids, n * sizeof(*ids));
	/* the key is the index: the frames live in ids[] */
	if (smcp_hashmap_add_hashed(&s->stacks, s->n_stacks, h, s->next_iid, &e) < 0)
		return 0;
	s->n_ids += n;
	s->n_stacks++;
	{
		size_t m = tr_pb_begin(&s->in, ID_CALLSTACKS);

		tr_pb_uint(&s->in, CS_IID, s->next_iid);
		for (uint32_t i = 0; i < n; i++)
			tr_pb_uint(&s->in, CS_FRAMES, ids[i]);
		tr_pb_end(&s->in, m);
	}
	s->st.callstacks++;
	return s->next_iid++;
}

void tr_stacks_write_first(struct tr_stacks *s)
{
	/* the path first: nothing may be interned inside an open message */
	uint64_t path = intern_str(s, ID_MAPPING_PATHS, "kernel");
	size_t m;

	/* the kernel's mapping, which every kernel frame names: as Perfetto's
	 * own profiler writes it (start, end, offset 0, no build id, path
	 * "kernel"), which its importer takes for the kernel */
	m = tr_pb_begin(&s->in, ID_MAPPINGS);
	tr_pb_uint(&s->in, MP_IID, KERNEL_MAPPING);
	if (path)
		tr_pb_uint(&s->in, MP_PATH, path);
	tr_pb_end(&s->in, m);
}
