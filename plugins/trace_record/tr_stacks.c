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

#include "tr_stacks_int.h"

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
	smcp_hashmap_init(&s->paths, smcp_hashmap_str_hash, smcp_hashmap_str_equal, NULL,
			  MAX_MAPPINGS + 1);
	smcp_hashmap_init(&s->stacks, NULL, tr_stacks_stack_equal, s, MAX_STACKS);
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
	    smcp_hashmap_reserve(&s->paths, MAX_MAPPINGS + 1) < 0 ||
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
	smcp_hashmap_free(&s->paths);
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
	b->callstack = tr_stacks_intern(s, b->pid, (const uint64_t *)(const void *)(p + 32), nr);
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
		b->ts = tr_stacks_now_ns();
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
		tr_stacks_write_first(s);
	on_record(s, &h, rec, cpu);
	return 0;
}

/* Consume CPU c's ring into the batch; stops when the batch or the
 * interned data is full. */
static void read_ring(struct tr_stacks *s, uint32_t c)
{
	struct cpu_ring *r = &s->ring[c];
	struct perf_event_mmap_page *pg = r->base;
	const uint8_t *data;
	uint64_t mask = s->data_len - 1, head, tail;

	if (!pg)
		return; /* this CPU's event did not open */
	data = (const uint8_t *)r->base + s->page;
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

uint64_t tr_stacks_drain(struct tr_stacks *s, struct tr_out *out, bool all)
{
	uint64_t written = 0;

	if (!s || s->dead)
		return 0;
	for (int round = 0; round < (all ? 4096 : 1); round++) {
		bool more = false;

		if (!s->started && !s->in.len)
			tr_stacks_write_first(s);
		/* a full batch ends a round: start each at the next CPU, so
		 * none is always last */
		for (uint32_t k = 0; k < s->ncpus; k++)
			read_ring(s, (s->first_cpu + k) % s->ncpus);
		s->first_cpu = s->ncpus ? (s->first_cpu + 1) % s->ncpus : 0;
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
