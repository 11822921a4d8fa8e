/* SPDX-License-Identifier: MIT */
/* Stack samples of a recording as Perfetto PerfSample packets; see tr_stacks.h. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <schedmcp/hashmap.h>

#include "elf_cache.h"
#include "kallsyms.h"
#include "procmap.h"
#include "tr_stacks.h"

#define RING_PAGES 64			/* data pages per CPU ring (256 KiB) */
#define DRAIN_SAMPLES 8192		/* samples per drain call, unless all */
#define INTERN_BYTES (2u << 20)		/* new interned data per drain, at most */
#define INTERN_ROOM (64u << 10)		/* room a sample may need in it */
#define MAX_FRAMES 65536
#define MAX_NAMES 65536
#define MAX_STACKS 65536
#define MAX_STACK_IDS (1u << 20)	/* frame ids of all callstacks */
#define MAX_MAPPINGS 4096
#define KERNEL_MAPPING 1		/* iid of the kernel's mapping */

/* TracePacket */
#define TP_TIMESTAMP 8
#define TP_SEQ_ID 10
#define TP_INTERNED 12
#define TP_SEQ_FLAGS 13
#define TP_PERF_SAMPLE 66
#define SEQ_CLEARED 1
#define SEQ_NEEDS 2
/* PerfSample */
#define PS_CPU 1
#define PS_PID 2
#define PS_TID 3
#define PS_CALLSTACK 4
#define PS_LOST 17
/* InternedData */
#define ID_FUNCTION_NAMES 5
#define ID_FRAMES 6
#define ID_CALLSTACKS 7
#define ID_BUILD_IDS 16
#define ID_MAPPING_PATHS 17
#define ID_MAPPINGS 19
/* InternedString, Frame, Callstack, Mapping */
#define IS_IID 1
#define IS_STR 2
#define FR_IID 1
#define FR_NAME 2
#define FR_MAPPING 3
#define FR_REL_PC 4
#define CS_IID 1
#define CS_FRAMES 2
#define MP_IID 1
#define MP_BUILD_ID 2
#define MP_START_OFFSET 3
#define MP_START 4
#define MP_END 5
#define MP_PATH 7
#define MP_EXACT_OFFSET 8

struct cpu_ring {
	int fd;
	void *base;
	size_t len;
};

struct sample {
	uint64_t ts, callstack;	/* callstack 0: a lost-records packet */
	uint32_t pid, tid, cpu, lost;
};

struct stack_probe {
	const uint64_t *ids;
	uint32_t n;
};

struct tr_stacks;
static void write_first(struct tr_stacks *s);

struct tr_stacks {
	struct cpu_ring *ring;
	uint32_t ncpus;
	size_t page, data_len;
	uint8_t *rec;		/* one record, copied when it wraps */
	struct sample *batch;
	uint32_t n_batch;
	uint8_t *scratch;	/* this drain's new interned data */
	struct tr_pb in;
	bool started, dead;

	struct pp_kallsyms ks;
	bool have_ks;
	struct pp_elf_cache cache;
	struct pp_procs procs;
	bool have_procs;

	struct smcp_hashmap frames;	/* pp frame value -> iid */
	struct smcp_hashmap names;	/* name text -> iid */
	struct smcp_hashmap stacks;	/* index into st_* -> iid */
	uint32_t *st_off, *st_len;	/* callstack i: ids[st_off[i] .. +st_len[i]) */
	uint64_t *ids;
	uint32_t n_stacks, n_ids;
	uint32_t *mapping;	/* pp module id -> mapping iid, 0 not yet */
	uint64_t next_iid;	/* strings, frames, mappings, stacks share one counter */

	struct tr_stacks_snap st;
};

static uint64_t now_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t stack_hash(const uint64_t *ids, uint32_t n)
{
	return smcp_hash_bytes(ids, n * sizeof(*ids));
}

static bool stack_equal(uint64_t stored, uint64_t key, void *ctx)
{
	const struct tr_stacks *s = ctx;
	const struct stack_probe *p = (const struct stack_probe *)(uintptr_t)key;

	return s->st_len[stored] == p->n &&
	       !memcmp(s->ids + s->st_off[stored], p->ids, p->n * sizeof(*p->ids));
}

static void open_events(struct tr_stacks *s, uint32_t hz)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.freq = 1;
	a.sample_freq = hz;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			PERF_SAMPLE_CALLCHAIN;
	a.use_clockid = 1;
	a.clockid = CLOCK_BOOTTIME;
	a.sample_max_stack = TR_STACKS_MAX_DEPTH;
	for (uint32_t c = 0; c < s->ncpus; c++) {
		struct cpu_ring *r = &s->ring[c];
		int fd = (int)syscall(SYS_perf_event_open, &a, -1, (int)c, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			int err = errno;

			if (err == ENODEV || err == EINVAL)
				continue; /* an offline CPU */
			snprintf(s->st.why, sizeof(s->st.why),
				 "perf_event_open (software cpu-clock, CPU %u) failed: %s%s", c,
				 strerror(err),
				 err == EACCES || err == EPERM
					 ? " (needs CAP_PERFMON or kernel.perf_event_paranoid <= -1)"
					 : "");
			return;
		}
		r->fd = fd;
		r->len = s->page * (RING_PAGES + 1);
		r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (r->base == MAP_FAILED) {
			r->base = NULL;
			snprintf(s->st.why, sizeof(s->st.why), "mmap of the sample ring failed: %s",
				 strerror(errno));
			return;
		}
		s->st.sampling = true;
	}
	if (!s->st.sampling)
		snprintf(s->st.why, sizeof(s->st.why), "no online CPU took a cpu-clock event");
}

int tr_stacks_open(struct tr_stacks **ret, uint32_t ncpus, uint32_t hz, const char *root)
{
	struct tr_stacks *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s)
		return -ENOMEM;
	s->ncpus = ncpus;
	s->page = (size_t)sysconf(_SC_PAGESIZE);
	s->data_len = s->page * RING_PAGES;
	s->st.hz = hz;
	s->next_iid = KERNEL_MAPPING + 1;
	smcp_hashmap_init(&s->frames, NULL, NULL, NULL, MAX_FRAMES);
	smcp_hashmap_init(&s->names, smcp_hashmap_str_hash, smcp_hashmap_str_equal, NULL, MAX_NAMES);
	smcp_hashmap_init(&s->stacks, NULL, stack_equal, s, MAX_STACKS);
	s->ring = calloc(ncpus ? ncpus : 1, sizeof(*s->ring));
	s->rec = malloc(1u << 16);
	s->batch = calloc(DRAIN_SAMPLES, sizeof(*s->batch));
	s->scratch = malloc(INTERN_BYTES);
	s->st_off = calloc(MAX_STACKS, sizeof(*s->st_off));
	s->st_len = calloc(MAX_STACKS, sizeof(*s->st_len));
	s->ids = calloc(MAX_STACK_IDS, sizeof(*s->ids));
	s->mapping = calloc(PP_MOD_MAX + 1, sizeof(*s->mapping));
	if (!s->ring || !s->rec || !s->batch || !s->scratch || !s->st_off || !s->st_len ||
	    !s->ids || !s->mapping)
		goto fail;
	/* the tables never grow while sampling */
	if (smcp_hashmap_reserve(&s->frames, MAX_FRAMES) < 0 ||
	    smcp_hashmap_reserve(&s->names, MAX_NAMES) < 0 ||
	    smcp_hashmap_reserve(&s->stacks, MAX_STACKS) < 0)
		goto fail;
	for (uint32_t c = 0; c < ncpus; c++)
		s->ring[c].fd = -1;
	tr_pb_init(&s->in, s->scratch, INTERN_BYTES);
	if (pp_elf_cache_init(&s->cache, "/usr/lib/debug", 256) == 0) {
		if (pp_procs_init(&s->procs, root, &s->cache) == 0)
			s->have_procs = true;
	}
	s->have_ks = pp_kallsyms_load(&s->ks, root) == 0 && !s->ks.restricted;
	if (hz)
		open_events(s, hz);
	else
		snprintf(s->st.why, sizeof(s->st.why), "stack_hz is 0 (off)");
	*ret = s;
	return 0;
fail:
	tr_stacks_free(s);
	return err;
}

void tr_stacks_stop(struct tr_stacks *s)
{
	if (!s || !s->ring)
		return;
	for (uint32_t c = 0; c < s->ncpus; c++)
		if (s->ring[c].fd >= 0)
			(void)ioctl(s->ring[c].fd, PERF_EVENT_IOC_DISABLE, 0);
}

void tr_stacks_release(struct tr_stacks *s)
{
	if (!s)
		return;
	for (uint32_t c = 0; s->ring && c < s->ncpus; c++) {
		if (s->ring[c].base)
			munmap(s->ring[c].base, s->ring[c].len);
		if (s->ring[c].fd >= 0)
			close(s->ring[c].fd);
	}
	if (s->have_procs)
		pp_procs_free(&s->procs);
	s->have_procs = false;
	pp_elf_cache_fini(&s->cache);
	memset(&s->cache, 0, sizeof(s->cache));
	pp_kallsyms_free(&s->ks);
	memset(&s->ks, 0, sizeof(s->ks));
	s->have_ks = false;
	smcp_hashmap_free(&s->frames);
	smcp_hashmap_free(&s->names);
	smcp_hashmap_free(&s->stacks);
	free(s->ring);
	free(s->rec);
	free(s->batch);
	free(s->scratch);
	free(s->st_off);
	free(s->st_len);
	free(s->ids);
	free(s->mapping);
	s->ring = NULL;
	s->rec = s->scratch = NULL;
	s->batch = NULL;
	s->st_off = s->st_len = s->mapping = NULL;
	s->ids = NULL;
	s->dead = true; /* nothing more is read or written */
}

void tr_stacks_free(struct tr_stacks *s)
{
	tr_stacks_release(s);
	free(s);
}

void tr_stacks_snap(const struct tr_stacks *s, struct tr_stacks_snap *ret)
{
	if (s)
		*ret = s->st;
}

/* ------------------------------------------------------------- interning */

static uint64_t intern_str(struct tr_stacks *s, uint32_t field, const char *str)
{
	struct smcp_hashmap_entry *e;
	int r;

	if (!str || !*str)
		return 0;
	r = smcp_hashmap_insert(&s->names, (uint64_t)(uintptr_t)str, 0, &e);
	if (r < 0)
		return 0;
	if (r == 1) {
		size_t m;

		e->value = s->next_iid++;
		m = tr_pb_begin(&s->in, field);
		tr_pb_uint(&s->in, IS_IID, e->value);
		tr_pb_bytes(&s->in, IS_STR, str, strnlen(str, 1024));
		tr_pb_end(&s->in, m);
		s->st.names++;
	}
	return e->value;
}

static uint64_t intern_mapping(struct tr_stacks *s, const struct pp_map *m, struct pp_elf *elf)
{
	const struct pp_module *mod = &s->procs.mods[m->module];
	char hex[2 * PP_BUILD_ID_MAX + 1];
	const uint8_t *bid = elf && elf->build_id_len ? elf->build_id : mod->build_id;
	size_t bid_len = elf && elf->build_id_len ? elf->build_id_len : mod->build_id_len;
	uint64_t path, build = 0;
	size_t mk;

	if (s->mapping[m->module])
		return s->mapping[m->module];
	if (s->st.mappings >= MAX_MAPPINGS)
		return 0;
	path = intern_str(s, ID_MAPPING_PATHS, mod->path);
	if (bid_len) {
		for (size_t i = 0; i < bid_len && i < PP_BUILD_ID_MAX; i++)
			snprintf(hex + 2 * i, 3, "%02x", bid[i]);
		/* build ids are few: the hex text is kept in the ELF's names */
		build = elf ? intern_str(s, ID_BUILD_IDS,
					 pp_arena_strdup(&elf->names, hex)) : 0;
	}
	s->mapping[m->module] = (uint32_t)s->next_iid++;
	mk = tr_pb_begin(&s->in, ID_MAPPINGS);
	tr_pb_uint(&s->in, MP_IID, s->mapping[m->module]);
	if (build)
		tr_pb_uint(&s->in, MP_BUILD_ID, build);
	tr_pb_uint(&s->in, MP_EXACT_OFFSET, m->pgoff);
	tr_pb_uint(&s->in, MP_START_OFFSET, m->pgoff);
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
			(void)pp_proc_read(&s->procs, p, now_boot_ns());
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
static uint64_t intern_stack(struct tr_stacks *s, uint32_t pid, const uint64_t *ips, uint64_t nr)
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

/* ----------------------------------------------------------------- rings */

static void on_sample(struct tr_stacks *s, const uint8_t *p, size_t len)
{
	struct sample *b = &s->batch[s->n_batch];
	uint64_t nr;

	/* TID, TIME, CPU, CALLCHAIN, in the kernel's order */
	if (len < 8 + 8 + 8 + 8)
		return;
	memcpy(&b->pid, p, 4);
	memcpy(&b->tid, p + 4, 4);
	memcpy(&b->ts, p + 8, 8);
	memcpy(&b->cpu, p + 16, 4);
	memcpy(&nr, p + 24, 8);
	if (nr > (len - 32) / 8)
		return;
	b->lost = 0;
	b->callstack = intern_stack(s, b->pid, (const uint64_t *)(const void *)(p + 32), nr);
	if (!b->callstack) {
		s->st.dropped_cap++;
		return;
	}
	s->n_batch++;
}

/* One record of CPU c's ring (h its header, rec the whole record). */
static void on_record(struct tr_stacks *s, const struct perf_event_header *h, const uint8_t *rec,
		      uint32_t c)
{
	if (h->type == PERF_RECORD_SAMPLE) {
		on_sample(s, rec + sizeof(*h), h->size - sizeof(*h));
	} else if (h->type == PERF_RECORD_LOST && h->size >= sizeof(*h) + 16) {
		uint64_t n;
		struct sample *b = &s->batch[s->n_batch++];

		memcpy(&n, rec + sizeof(*h) + 8, 8);
		s->st.lost_kernel += n;
		memset(b, 0, sizeof(*b));
		b->cpu = c;
		b->lost = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		b->ts = now_boot_ns();
	}
}

static bool batch_room(const struct tr_stacks *s)
{
	return s->n_batch < DRAIN_SAMPLES && s->in.cap - s->in.len > INTERN_ROOM &&
	       tr_pb_ok(&s->in);
}

int tr_stacks_inject(struct tr_stacks *s, const void *rec, size_t len, uint32_t cpu)
{
	struct perf_event_header h;

	if (s->dead)
		return -ENOSPC;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, rec, sizeof(h));
	if (h.size != len || cpu >= s->ncpus)
		return -EINVAL;
	if (!batch_room(s))
		return -ENOSPC;
	if (!s->started && !s->in.len)
		write_first(s);
	on_record(s, &h, rec, cpu);
	return 0;
}

/* Consume CPU c's ring into the batch; stops when the batch or the
 * interned data is full. */
static void read_ring(struct tr_stacks *s, uint32_t c)
{
	struct cpu_ring *r = &s->ring[c];
	struct perf_event_mmap_page *pg = r->base;
	const uint8_t *data = (const uint8_t *)r->base + s->page;
	uint64_t mask = s->data_len - 1, head, tail;

	if (!pg)
		return;
	head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
	tail = pg->data_tail;
	while (tail < head && batch_room(s)) {
		struct perf_event_header h;
		const uint8_t *rec;
		size_t off = tail & mask;

		memcpy(&h, data + off, sizeof(h)); /* 8-byte aligned: never wraps */
		if (h.size < sizeof(h) || h.size > head - tail)
			break;
		if (off + h.size <= s->data_len) {
			rec = data + off;
		} else {
			size_t first = s->data_len - off;

			memcpy(s->rec, data + off, first);
			memcpy(s->rec + first, data, h.size - first);
			rec = s->rec;
		}
		on_record(s, &h, rec, c);
		tail += h.size;
	}
	__atomic_store_n(&pg->data_tail, tail, __ATOMIC_RELEASE);
}

/* One packet, retried once after a flush (as tr_jobs.c's EMIT). */
static bool emit_begin_end(struct tr_out *out, const struct sample *b, bool interned,
			   const struct tr_stacks *s)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct tr_pb *pb = tr_out_packet_begin(out);
		size_t pk = tr_pb_begin(pb, 1), m;
		enum tr_out_result res;

		if (interned) {
			tr_pb_uint(pb, TP_SEQ_ID, TR_STACKS_SEQ);
			tr_pb_uint(pb, TP_SEQ_FLAGS, s->started ? SEQ_NEEDS : SEQ_CLEARED);
			tr_pb_bytes(pb, TP_INTERNED, s->in.buf, s->in.len);
		} else {
			tr_pb_uint(pb, TP_TIMESTAMP, b->ts);
			tr_pb_uint(pb, TP_SEQ_ID, TR_STACKS_SEQ);
			tr_pb_uint(pb, TP_SEQ_FLAGS, SEQ_NEEDS);
			m = tr_pb_begin(pb, TP_PERF_SAMPLE);
			tr_pb_uint(pb, PS_CPU, b->cpu);
			if (b->lost) {
				tr_pb_uint(pb, PS_LOST, b->lost);
			} else {
				tr_pb_uint(pb, PS_PID, b->pid);
				tr_pb_uint(pb, PS_TID, b->tid);
				tr_pb_uint(pb, PS_CALLSTACK, b->callstack);
			}
			tr_pb_end(pb, m);
		}
		tr_pb_end(pb, pk);
		res = tr_out_packet_end(out);
		if (res != TR_OUT_RETRY)
			return res == TR_OUT_KEPT;
	}
	return false;
}

static void write_first(struct tr_stacks *s)
{
	size_t m;

	/* the kernel's mapping, which every kernel frame names */
	m = tr_pb_begin(&s->in, ID_MAPPINGS);
	tr_pb_uint(&s->in, MP_IID, KERNEL_MAPPING);
	tr_pb_uint(&s->in, MP_PATH, intern_str(s, ID_MAPPING_PATHS, "[kernel.kallsyms]"));
	tr_pb_end(&s->in, m);
}

uint64_t tr_stacks_drain(struct tr_stacks *s, struct tr_out *out, bool all)
{
	uint64_t written = 0;

	if (!s || s->dead)
		return 0;
	for (int round = 0; round < (all ? 4096 : 1); round++) {
		bool more = false;

		if (!s->started && !s->in.len)
			write_first(s);
		for (uint32_t c = 0; c < s->ncpus; c++)
			read_ring(s, c);
		if (!s->started || s->in.len) {
			if (!tr_pb_ok(&s->in) || !emit_begin_end(out, NULL, true, s)) {
				/* the samples would name what the file lacks */
				s->dead = true;
				s->st.dropped_cap += s->n_batch;
				snprintf(s->st.why, sizeof(s->st.why),
					 "samples stopped: the size cap was reached");
				return written;
			}
			s->started = true;
		}
		for (uint32_t i = 0; i < s->n_batch; i++) {
			if (!emit_begin_end(out, &s->batch[i], false, s)) {
				s->st.dropped_cap += s->n_batch - i;
				s->dead = true;
				return written;
			}
			if (!s->batch[i].lost) {
				written++;
				s->st.samples++;
			}
		}
		tr_pb_init(&s->in, s->scratch, INTERN_BYTES);
		s->n_batch = 0;
		for (uint32_t c = 0; c < s->ncpus; c++) {
			struct perf_event_mmap_page *pg = s->ring[c].base;

			if (pg && __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE) != pg->data_tail)
				more = true;
		}
		if (!more)
			break;
	}
	return written;
}
