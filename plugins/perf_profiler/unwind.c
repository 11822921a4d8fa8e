/* SPDX-License-Identifier: MIT */
/*
 * libunwind remote unwinding over a sample's copied stack.
 *
 * find_proc_info translates the instruction pointer into the unwind window
 * of the file it lies in (link-time address + window base), searches that
 * file's .eh_frame_hdr table and then, if the function has no .eh_frame
 * entry, its converted .debug_frame; the procedure range found is
 * translated back by the mapping's load bias. access_mem serves the copied
 * stack, the windows, and the file bytes behind real code addresses (which
 * libunwind reads to recognise signal trampolines).
 */
#include "unwind.h"

#include <errno.h>
#include <libunwind.h>
#include <stdlib.h>
#include <string.h>

extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);
#define dwarf_search_unwind_table UNW_OBJ(dwarf_search_unwind_table)

/*
 * libunwind caches register rules by instruction address in each address
 * space: one address space per process (an LRU of them), flushed when that
 * process's code changes (exec, a remap), keeps the cache right. Uncached,
 * libunwind re-parses the CFI at every step and blocks signals (two
 * syscalls) around each of its memory-pool locks: ~80 syscalls a sample.
 */
#define AS_SLOTS 32

struct as_slot {
	unw_addr_space_t as;
	int32_t pid;     /* -1: free */
	uint32_t gen;
	uint64_t last_use;
};

struct pp_unwinder {
	struct as_slot slots[AS_SLOTS];
	uint64_t tick;
};

struct uctx {
	struct pp_procs *ps;
	struct pp_proc *p;
	const struct pp_uregs *r;
	uint64_t sp;
};

/* libunwind register number -> perf_event x86 register bit */
static const int8_t unw_to_perf[] = {
	[UNW_X86_64_RAX] = 0,  [UNW_X86_64_RDX] = 3,  [UNW_X86_64_RCX] = 2,
	[UNW_X86_64_RBX] = 1,  [UNW_X86_64_RSI] = 4,  [UNW_X86_64_RDI] = 5,
	[UNW_X86_64_RBP] = 6,  [UNW_X86_64_RSP] = 7,  [UNW_X86_64_R8] = 16,
	[UNW_X86_64_R9] = 17,  [UNW_X86_64_R10] = 18, [UNW_X86_64_R11] = 19,
	[UNW_X86_64_R12] = 20, [UNW_X86_64_R13] = 21, [UNW_X86_64_R14] = 22,
	[UNW_X86_64_R15] = 23, [UNW_X86_64_RIP] = 8,
};

static int reg_value(const struct pp_uregs *r, int perf_bit, uint64_t *ret)
{
	if (perf_bit < 0 || !(r->mask & (1ULL << perf_bit)))
		return -1;
	*ret = r->regs[__builtin_popcountll(r->mask & ((1ULL << perf_bit) - 1))];
	return 0;
}

static struct pp_elf *window_elf(struct uctx *x, uint64_t addr, uint64_t *ret_off)
{
	struct pp_elf_cache *c = x->ps->cache;
	uint64_t slot;

	if (!c || addr < PP_WIN_BASE)
		return NULL;
	slot = (addr - PP_WIN_BASE) >> PP_WIN_SHIFT;
	if (slot >= c->n_slots || !c->slots[slot])
		return NULL;
	*ret_off = (addr - PP_WIN_BASE) & (PP_WIN_SIZE - 1);
	return c->slots[slot];
}

/* The file, link-time address and window base behind a real user address. */
static struct pp_elf *code_elf(struct uctx *x, uint64_t addr, uint64_t *ret_vaddr)
{
	const struct pp_map *m = pp_proc_find_map(x->p, addr);
	struct pp_elf *e;

	if (!m || m->module == PP_MOD_UNKNOWN)
		return NULL;
	e = pp_map_elf(x->ps, x->p, m);
	if (!e || !pp_elf_off_to_vaddr(e, addr - m->start + m->pgoff, ret_vaddr))
		return NULL;
	return e;
}

static int search(unw_addr_space_t as, struct pp_elf *e, uint64_t win, uint64_t ipw,
		  uint64_t segbase, uint64_t table, uint64_t count, unw_proc_info_t *pi,
		  int need, void *arg)
{
	unw_dyn_info_t di;

	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = win + e->min_vaddr;
	di.end_ip = win + e->max_vaddr;
	di.u.rti.segbase = win + segbase;
	di.u.rti.table_data = win + table;
	/* in unw_word_t units; one table entry is two int32s */
	di.u.rti.table_len = count * 8 / sizeof(unw_word_t);
	if (ipw < di.start_ip || ipw >= di.end_ip)
		return -UNW_ENOINFO;
	return dwarf_search_unwind_table(as, ipw, &di, pi, need, arg);
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need,
			  void *arg)
{
	struct uctx *x = arg;
	uint64_t vaddr, win, bias;
	struct pp_elf *e = code_elf(x, ip, &vaddr);
	int ret = -UNW_ENOINFO;

	if (!e)
		return -UNW_ENOINFO;
	win = PP_WIN_BASE + (uint64_t)e->slot * PP_WIN_SIZE;
	bias = ip - vaddr;
	if (e->have_eh_table)
		ret = search(as, e, win, win + vaddr, e->eh_hdr_vaddr, e->eh_table_vaddr,
			     e->eh_fde_count, pi, need, arg);
	if (ret == -UNW_ENOINFO) {
		if (!e->dframe_tried)
			pp_elf_load_debuginfo(e, x->ps->cache->debug_dir, &x->ps->cache->st);
		if (e->dframe)
			ret = search(as, e, win, win + vaddr, e->dframe_base,
				     e->dframe_base + e->dframe_table_off, e->dframe_fde_count, pi,
				     need, arg);
	}
	if (ret < 0)
		return ret;
	/* back from the window to this process's addresses */
	pi->start_ip = pi->start_ip - win + bias;
	pi->end_ip = pi->end_ip - win + bias;
	return 0;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* the unwind info lives in libunwind's own pool */
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	return -UNW_ENOINFO;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write,
		      void *arg)
{
	struct uctx *x = arg;
	uint64_t off;
	struct pp_elf *e;

	if (write)
		return -UNW_EINVAL;
	*valp = 0;
	if (addr >= x->sp && addr - x->sp + sizeof(*valp) <= x->r->stack_len) {
		memcpy(valp, x->r->stack + (addr - x->sp), sizeof(*valp));
		return 0;
	}
	e = window_elf(x, addr, &off);
	if (!e)
		e = code_elf(x, addr, &off);
	if (e && pp_elf_window_read(e, off, valp, sizeof(*valp)))
		return 0;
	return -UNW_EINVAL;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp, int write,
		      void *arg)
{
	struct uctx *x = arg;
	uint64_t v;

	if (write)
		return -UNW_EREADONLYREG;
	if (reg < 0 || (size_t)reg >= SMCP_COUNT(unw_to_perf) ||
	    reg_value(x->r, unw_to_perf[reg], &v))
		return -UNW_EBADREG;
	*valp = v;
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	return -UNW_EINVAL;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *offp, void *arg)
{
	return -UNW_EINVAL;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	.get_proc_name = get_proc_name,
};

int pp_unwinder_new(struct pp_unwinder **ret)
{
	struct pp_unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	for (int i = 0; i < AS_SLOTS; i++)
		u->slots[i].pid = -1;
	*ret = u;
	return 0;
}

void pp_unwinder_free(struct pp_unwinder *u)
{
	if (!u)
		return;
	for (int i = 0; i < AS_SLOTS; i++)
		if (u->slots[i].as)
			unw_destroy_addr_space(u->slots[i].as);
	free(u);
}

void pp_unwinder_reset(struct pp_unwinder *u)
{
	if (!u)
		return;
	for (int i = 0; i < AS_SLOTS; i++) {
		if (u->slots[i].as)
			unw_flush_cache(u->slots[i].as, 0, 0);
		u->slots[i].pid = -1;
	}
}

/* The address space of process p, its cache valid for p's current code. */
static unw_addr_space_t as_for(struct pp_unwinder *u, const struct pp_proc *p)
{
	struct as_slot *s = NULL, *lru = &u->slots[0];

	for (int i = 0; i < AS_SLOTS; i++) {
		if (u->slots[i].pid == p->pid) {
			s = &u->slots[i];
			break;
		}
		if (u->slots[i].last_use < lru->last_use)
			lru = &u->slots[i];
	}
	if (!s) {
		s = lru;
		if (!s->as) {
			s->as = unw_create_addr_space(&accessors, 0);
			if (!s->as)
				return NULL;
			unw_set_caching_policy(s->as, UNW_CACHE_GLOBAL);
		} else {
			unw_flush_cache(s->as, 0, 0);
		}
		s->pid = p->pid;
		s->gen = p->gen;
	} else if (s->gen != p->gen) {
		unw_flush_cache(s->as, 0, 0);
		s->gen = p->gen;
	}
	s->last_use = ++u->tick;
	return s->as;
}

int pp_unwind_user(struct pp_unwinder *u, struct pp_procs *ps, struct pp_proc *p,
		   const struct pp_uregs *r, uint64_t *ips, int max)
{
	struct uctx x = { .ps = ps, .p = p, .r = r };
	unw_addr_space_t as;
	unw_cursor_t c;
	uint64_t prev_sp = 0;
	int n = 0;

	if (!p || !r->regs || reg_value(r, 7, &x.sp) || max <= 0)
		return 0;
	as = as_for(u, p);
	if (!as || unw_init_remote(&c, as, &x) < 0)
		return 0;
	do {
		unw_word_t ip = 0, sp = 0;

		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || !ip)
			break;
		(void)unw_get_reg(&c, UNW_REG_SP, &sp);
		/* a frame that does not move the stack up is a loop */
		if (n && sp <= prev_sp && ip == ips[n - 1])
			break;
		prev_sp = sp;
		ips[n++] = ip;
	} while (n < max && unw_step(&c) > 0);
	return n;
}
