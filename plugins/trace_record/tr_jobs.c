/* SPDX-License-Identifier: MIT */
/*
 * The work jobs of a recording (tr_rec.c starts them from the loop, one at
 * a time per recording; while one runs, it alone touches the recording's
 * worker-side fields):
 *
 *   start   load the BPF object, attach, write the header packets
 *           (ClockSnapshot, SystemInfo, ProcessTree)
 *   drain   consume the ring buffer into per-CPU buffers, sort each CPU's
 *           records by time, write those older than a hold-back margin as
 *           ftrace bundles (one CPU per bundle, in time order)
 *   finish  detach (waits for the programs to finish), drain everything,
 *           write the statistics and the end ClockSnapshot, close
 *
 * and the probe at init of whether the programs load here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <schedmcp/cpulist.h>
#include <schedmcp/fsread.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tr.h"
#include "trace_record.skel.h"

#define HOLDBACK_NS 5000000ull	/* records younger than this wait a drain */
#define DRAIN_BUDGET_NS 20000000ull /* a timed drain's rounds, at most */
#define PROC_THREADS_MAX 65536
#define SEQ 1

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The first failure of a job, and why ("doing X failed: strerror"). */
static void set_why(struct tr_rec *r, int err, const char *what)
{
	if (r->err)
		return;
	r->err = err;
	snprintf(r->why, sizeof(r->why), "%s: %s", what, strerror(-err));
}

/* ---------------------------------------------------------------- packets */

/* Write one packet produced by fn into the file, retrying once after a
 * flush. Returns false when it was dropped (size cap, write error). */
#define EMIT(r, call)                                                                   \
	({                                                                              \
		enum tr_out_result res_ = TR_OUT_DROPPED;                               \
		for (int try_ = 0; try_ < 2; try_++) {                                  \
			struct tr_pb *pb = tr_out_packet_begin(&(r)->out);              \
			(void)pb;                                                       \
			call;                                                           \
			res_ = tr_out_packet_end(&(r)->out);                            \
			if (res_ != TR_OUT_RETRY)                                       \
				break;                                                  \
		}                                                                       \
		res_ == TR_OUT_KEPT;                                                    \
	})

void tr_read_clocks(struct clocks *c)
{
	c->boot = clock_ns(CLOCK_BOOTTIME);
	c->mono = clock_ns(CLOCK_MONOTONIC);
	c->real = clock_ns(CLOCK_REALTIME);
}

static void write_clocks(struct tr_rec *r, const struct clocks *c)
{
	(void)EMIT(r, tr_enc_clocks(pb, c->boot, c->mono, c->real, SEQ));
}

/* ------------------------------------------------------------------ drain */

static int on_record(void *ctx, void *data, size_t size)
{
	struct tr_rec *r = ctx;
	const struct tr_event *e = data;
	struct tr_cpu_buf *c;

	if (size < TR_EV_SMALL || e->cpu >= r->ncpus || e->type >= TR_NTYPES)
		return 0;
	if (tr_dsq_is(e)) {
		tr_dsq_record(r, e);
		return 0;
	}
	c = &r->cpu[e->cpu];
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 4096;
		struct tr_event *ev;

		if (cap > r->cpu_cap_events ||
		    !(ev = realloc(c->ev, (size_t)cap * sizeof(*ev)))) {
			c->lost_buffer++;
			r->consume_stopped = c->n > 0;
			return c->n > 0 ? -E2BIG : 0;
		}
		c->ev = ev;
		c->cap = cap;
	}
	if (size > sizeof(struct tr_event))
		size = sizeof(struct tr_event);
	memcpy(&c->ev[c->n], e, size);
	if (size < sizeof(struct tr_event))
		memset((char *)&c->ev[c->n] + size, 0, sizeof(struct tr_event) - size);
	c->n++;
	/* this CPU's buffer is full: stop consuming (this record is kept),
	 * write what is there, then go on (drain) */
	if (c->n == c->cap && c->cap * 2 > r->cpu_cap_events) {
		r->consume_stopped = true;
		return -E2BIG;
	}
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct tr_event *x = *(const struct tr_event *const *)a;
	const struct tr_event *y = *(const struct tr_event *const *)b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return x < y ? -1 : x > y; /* arrival order */
}

/* A CPU's records arrive almost in time order (only an interrupt between a
 * program's reservation and its timestamp puts a few out of place), so an
 * insertion sort is linear here where qsort spent a third of the drain.
 * Stable, as by_time is. Gives up after 8 moves a record on average
 * (false; still a permutation) for qsort to finish: never quadratic. */
static bool sort_nearly_sorted(const struct tr_event **s, uint32_t n)
{
	uint64_t budget = 8ull * n + 64;

	for (uint32_t i = 1; i < n; i++) {
		const struct tr_event *x = s[i];
		uint32_t j = i;

		while (j > 0 && s[j - 1]->ts_ns > x->ts_ns) {
			s[j] = s[j - 1];
			j--;
			if (!--budget) {
				s[j] = x;
				return false;
			}
		}
		s[j] = x;
	}
	return true;
}

static void read_bpf_counters(struct tr_rec *r)
{
	memset(r->seen, 0, sizeof(r->seen));
	memset(r->lost_ring, 0, sizeof(r->lost_ring));
	for (uint32_t c = 0; c < r->ncpus && c < TR_MAX_CPUS; c++)
		for (int t = 0; t < TR_NTYPES; t++) {
			r->seen[t] += r->skel->bss->stats[c].s.seen[t];
			r->lost_ring[t] += r->skel->bss->stats[c].s.lost[t];
		}
	tr_dsq_counters(r);
}

bool tr_jobs_emit_dsq(struct tr_rec *r, const struct tr_dsq_step *s)
{
	return EMIT(r, tr_enc_dsq(pb, s));
}

static uint64_t cpu_lost(const struct tr_rec *r, uint32_t c)
{
	uint64_t n = r->cpu[c].lost_buffer;

	if (c < TR_MAX_CPUS)
		for (int t = 0; t < TR_NTYPES; t++)
			n += r->skel->bss->stats[c].s.lost[t];
	return n;
}

uint32_t tr_pending_sort(struct tr_event *ev, uint32_t *n, const struct tr_event ***sorted,
			 uint32_t *cap, uint64_t watermark, uint64_t *lost)
{
	uint32_t k = 0;

	if (*n > *cap) {
		const struct tr_event **s = realloc(*sorted, *n * sizeof(*s));

		if (!s) {
			*lost += *n;
			*n = 0;
			return 0;
		}
		*sorted = s;
		*cap = *n;
	}
	for (uint32_t i = 0; i < *n; i++)
		(*sorted)[i] = &ev[i];
	if (!sort_nearly_sorted(*sorted, *n))
		qsort(*sorted, *n, sizeof(**sorted), by_time);
	while (k < *n && (*sorted)[k]->ts_ns <= watermark)
		k++;
	return k;
}

uint32_t tr_pending_keep(struct tr_event *ev, uint32_t n, const struct tr_event **sorted,
			 uint32_t done)
{
	uint32_t rest = 0;

	/* mark the written ones, then compact */
	for (uint32_t k = 0; k < done; k++)
		((struct tr_event *)sorted[k])->type = 0;
	for (uint32_t k = 0; k < n; k++)
		if (ev[k].type)
			ev[rest++] = ev[k];
	return rest;
}

/* Write CPU c's records up to watermark. */
static void write_cpu(struct tr_rec *r, uint32_t c, uint64_t watermark)
{
	struct tr_cpu_buf *b = &r->cpu[c];
	uint32_t n, i = 0, rest;

	if (!b->n)
		return;
	n = tr_pending_sort(b->ev, &b->n, &r->sorted, &r->sorted_cap, watermark,
			    &b->lost_buffer);
	while (i < n && !r->out.err && !r->size_reached) {
		uint64_t lost = cpu_lost(r, c);
		bool flag = lost != b->lost_seen;
		size_t used = 0;
		bool kept;

		kept = EMIT(r, used = tr_enc_bundle(pb, r->intern, c, r->sorted + i, n - i, flag));
		if (!kept) {
			if (r->out.packets_dropped_cap)
				r->size_reached = true;
			break;
		}
		b->lost_seen = lost;
		for (size_t k = i; k < i + used; k++) {
			const struct tr_event *e = r->sorted[k];

			bool late = e->ts_ns < b->last_ts;

			if (late)
				r->late++;
			else
				b->last_ts = e->ts_ns;
			r->written[e->type]++;
			/* a late record is out of the sequence: no gap of its own */
			if (e->type == TR_SWITCH && !late) {
				if (b->have_next && (int32_t)e->pid != b->last_next && !lost)
					b->blind++;
				b->last_next = e->b;
				b->have_next = true;
			}
		}
		b->written += used;
		i += (uint32_t)used;
	}
	/* what was not written waits (newer than the watermark) or is dropped
	 * (caps): keep the former, in arrival order, at the front */
	rest = 0;
	if (!r->size_reached && !r->out.err)
		rest = tr_pending_keep(b->ev, b->n, r->sorted, i);
	b->n = rest;
}

static void drain(struct tr_rec *r, bool all)
{
	uint64_t watermark;

	/* bounded: records younger than the watermark can fill a buffer that
	 * a write then cannot empty. The watermark is taken anew each round:
	 * a drain that a loaded machine slowed down consumes records made
	 * while it ran, and those are old enough to write by the next round
	 * (once taken at the start, they filled a CPU's buffer and were lost) */
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);

	for (int round = 0; round < 64; round++) {
		/* a timed drain runs at the loop's priority (the paced lane): it
		 * yields after DRAIN_BUDGET_NS, the next tick goes on */
		if (!all && round && clock_ns(CLOCK_MONOTONIC) - t0 > DRAIN_BUDGET_NS)
			break;
		watermark = all ? UINT64_MAX : clock_ns(CLOCK_BOOTTIME) - HOLDBACK_NS;
		r->consume_stopped = false;
		if (r->rb)
			(void)ring_buffer__consume(r->rb);
		for (uint32_t c = 0; c < r->ncpus; c++)
			write_cpu(r, c, watermark);
		tr_dsq_write(r, watermark);
		if (!r->consume_stopped || r->size_reached || r->out.err)
			break;
	}
	if (r->stacks && !r->size_reached && !r->out.err)
		(void)tr_stacks_drain(r->stacks, &r->out, all);
	(void)tr_out_flush(&r->out);
	if (r->out.err)
		set_why(r, r->out.err, "writing the trace failed");
	if (r->skel)
		read_bpf_counters(r);
}

/* ------------------------------------------------------------------- jobs */

uint32_t tr_ring_bytes(int64_t ring_mb, uint32_t ncpus)
{
	uint64_t want = ((uint64_t)(ring_mb > 0 ? ring_mb : 1) << 20) / (ncpus ? ncpus : 1);
	uint32_t ring = TR_RING_MIN;

	/* the largest power of two within the share, at least TR_RING_MIN */
	while ((uint64_t)ring * 2 <= want && ring < TR_RING_MAX)
		ring *= 2;
	return ring;
}

struct online_set {
	bool *on;
	uint32_t n, count;
};

static int mark_online(void *ctx, int lo, int hi)
{
	struct online_set *o = ctx;

	for (int c = lo; c <= hi && c >= 0 && (uint32_t)c < o->n; c++)
		if (!o->on[c]) {
			o->on[c] = true;
			o->count++;
		}
	return 0;
}

/* on[c] for each CPU online now (all n when the list cannot be read); how
 * many. */
static uint32_t online_cpus(const char *root, bool *on, uint32_t n)
{
	struct online_set o = { on, n, 0 };
	char text[4096];

	if (smcp_read_file(root, "/sys/devices/system/cpu/online", text, sizeof(text)) < 0 ||
	    smcp_cpulist_parse(text, mark_online, &o) < 0 || !o.count) {
		for (uint32_t c = 0; c < n; c++)
			on[c] = true;
		return n;
	}
	return o.count;
}

/* A ring buffer of bytes for each CPU on[] marks (every one of n when on is
 * NULL) into fds (*ret_n of them), the first also the template of the
 * object's array of rings, sized n. 0 or -errno; on failure none is left
 * open. */
static int rings_create(struct trace_record_bpf *skel, uint32_t n, uint32_t bytes,
			const bool *on, int *fds, uint32_t *ret_n)
{
	uint32_t k = 0;
	int err = 0;

	for (uint32_t c = 0; c < n && !err; c++) {
		int fd;

		if (on && !on[c])
			continue;
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "tr_ring", 0, 0, bytes, NULL);
		if (fd < 0)
			err = fd; /* libbpf 1.x: -errno */
		else
			fds[k++] = fd;
	}
	/* the first ring is the template (the inner map of the object's BTF
	 * is not there before load in libbpf 1.1) */
	if (!err && !k)
		err = -ENODEV;
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.rings, n);
	if (!err)
		err = bpf_map__set_inner_map_fd(skel->maps.rings, fds[0]);
	if (err) {
		while (k)
			close(fds[--k]);
	}
	*ret_n = k;
	return err;
}

int tr_ring_add(struct tr_rec *r, int fd)
{
	if (!r->rb)
		return -EINVAL;
	return ring_buffer__add(r->rb, fd, on_record, r) ? -errno : 0;
}

void tr_close_rings(struct tr_rec *r)
{
	for (uint32_t i = 0; i < r->n_rings; i++)
		close(r->ring_fds[i]);
	free(r->ring_fds);
	free(r->online);
	r->ring_fds = NULL;
	r->online = NULL;
	r->n_rings = 0;
}

int tr_job_start(void *data)
{
	struct tr_rec *r = data;
	struct trace_record_bpf *skel;
	struct bpf_program *prog;
	struct utsname u;
	struct clocks now;
	int n_possible = libbpf_num_possible_cpus();
	uint32_t ring;
	int err;

	skel = trace_record_bpf__open();
	if (!skel) {
		set_why(r, -errno, "opening the BPF object failed");
		return r->err;
	}
	if (n_possible <= 0)
		n_possible = (int)r->ncpus;
	r->online = calloc((size_t)n_possible, sizeof(*r->online));
	r->ring_fds = malloc((size_t)n_possible * sizeof(*r->ring_fds));
	if (!r->online || !r->ring_fds) {
		trace_record_bpf__destroy(skel);
		set_why(r, -ENOMEM, "out of memory");
		return r->err;
	}
	/* rings for the CPUs online now, ring_mb shared among them; a CPU
	 * brought online later has none, its records counted as lost */
	ring = tr_ring_bytes(r->p->cfg.ring_mb,
			     online_cpus(r->p->api->fs_root(r->p->h), r->online,
					 (uint32_t)n_possible));
	err = rings_create(skel, (uint32_t)n_possible, ring, r->online, r->ring_fds,
			   &r->n_rings);
	if (!err)
		err = trace_record_bpf__load(skel);
	if (err) {
		trace_record_bpf__destroy(skel);
		set_why(r, err, "loading the BPF programs failed");
		return r->err;
	}
	r->skel = skel;
	for (uint32_t c = 0, k = 0; c < (uint32_t)n_possible && k < r->n_rings; c++) {
		int fd;

		if (!r->online[c])
			continue;
		fd = r->ring_fds[k++];
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.rings), &c, &fd, BPF_ANY)) {
			set_why(r, -errno, "installing a CPU's ring buffer failed");
			return r->err;
		}
		if (!r->rb) {
			r->rb = ring_buffer__new(fd, on_record, r, NULL);
			err = r->rb ? 0 : -errno;
		} else {
			err = tr_ring_add(r, fd);
		}
		if (err) {
			set_why(r, err, "the ring buffer reader failed");
			return r->err;
		}
	}
	/* the samples begin before the sched events (kallsyms and the tables
	 * take a while): they cover the whole window */
	if (r->stack_hz &&
	    tr_stacks_open(&r->stacks, r->ncpus, r->stack_hz, r->p->api->fs_root(r->p->h))) {
		set_why(r, -ENOMEM, "out of memory for the stack samples");
		return r->err;
	}
	r->links = calloc(16, sizeof(*r->links));
	if (!r->links) {
		set_why(r, -ENOMEM, "out of memory");
		return r->err;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *l = bpf_program__attach(prog);

		if (!l) {
			char what[96];

			snprintf(what, sizeof(what), "attaching %s failed", bpf_program__name(prog));
			set_why(r, -errno, what);
			return r->err;
		}
		if (r->nlinks < 16)
			r->links[r->nlinks++] = l;
	}
	tr_dsq_start(r); /* after the main programs: a dispatch needs its insert */
	/* no count of hidden episodes (the result says so) if this fails */
	(void)tr_kstat_snap(r, &r->kstat0);
	tr_read_clocks(&now);
	r->start_boot_ns = now.boot;
	write_clocks(r, &now);
	if (uname(&u) == 0)
		(void)EMIT(r, tr_enc_system_info(pb, u.sysname, u.release, u.version, u.machine,
						 r->ncpus, SEQ));
	(void)tr_proc_tree(&r->out, r->p->api->fs_root(r->p->h), clock_ns(CLOCK_BOOTTIME),
			   PROC_THREADS_MAX);
	drain(r, false);
	return r->err;
}

int tr_job_drain(void *data)
{
	struct tr_rec *r = data;

	drain(r, false);
	return r->err;
}

static void detach(struct tr_rec *r)
{
	tr_dsq_detach(r);
	for (int i = 0; i < r->nlinks; i++) {
		bpf_link__destroy(r->links[i]);
		r->links[i] = NULL;
	}
	r->nlinks = 0;
}

static void read_misses(struct tr_rec *r)
{
	struct bpf_program *prog;

	r->recursion_misses = 0;
	bpf_object__for_each_program(prog, r->skel->obj) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
			r->recursion_misses += info.recursion_misses;
	}
	r->recursion_misses += tr_dsq_misses(r);
}

int tr_job_finish(void *data)
{
	struct tr_rec *r = data;
	struct tr_cpu_totals *tot;
	struct clocks end = r->end_clocks;

	if (!end.boot) /* the start failed, or fini stops it */
		tr_read_clocks(&end);
	r->end_boot_ns = end.boot;
	if (r->skel) {
		struct tr_kstat k1 = {0};

		if (r->kstat0.ok && tr_kstat_snap(r, &k1) == 0)
			tr_kstat_count(r, &r->kstat0, &k1);
		tr_kstat_free(&k1);
		detach(r);
		/* a program that began before the detach may still be writing:
		 * give it a moment, then take everything */
		usleep(20000);
		read_misses(r);
	}
	tr_stacks_stop(r->stacks);
	drain(r, true);
	tr_stacks_release(r->stacks);
	tot = calloc(r->ncpus ? r->ncpus : 1, sizeof(*tot));
	if (tot) {
		for (uint32_t c = 0; c < r->ncpus; c++) {
			tot[c].entries = r->cpu[c].written;
			/* with the episodes the kernel ran no BPF for: counted only
			 * now, so no bundle says where they were */
			tot[c].lost = (r->skel ? cpu_lost(r, c) : r->cpu[c].lost_buffer) +
				      r->cpu[c].hidden;
		}
	}
	/* the statistics and the end snapshot go in even at the size cap:
	 * the cap holds back bundles early enough to leave room for them */
	r->out.max_bytes = r->out.max_bytes ? r->out.max_bytes + 64 * 1024 : 0;
	if (tot)
		(void)EMIT(r, tr_enc_stats(pb, tot, r->ncpus, tr_out_size(&r->out),
					   r->out.packets_dropped_cap, SEQ));
	write_clocks(r, &end);
	(void)tr_out_flush(&r->out);
	free(tot);
	if (r->out.err)
		set_why(r, r->out.err, "writing the trace failed");
	if (fsync(r->fd) < 0 && !r->err)
		set_why(r, -errno, "fsync of the trace failed");
	ring_buffer__free(r->rb);
	r->rb = NULL;
	tr_close_rings(r);
	tr_dsq_free(r);
	trace_record_bpf__destroy(r->skel);
	r->skel = NULL;
	return r->err;
}

/* libbpf's messages while probing: the reason says what failed; the
 * loader's warnings would only repeat it on stderr. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

int tr_rec_probe(struct tr_plugin *p, char *why, size_t len)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	struct trace_record_bpf *skel = trace_record_bpf__open();
	uint32_t n = 0;
	int err, ring = -1;

	(void)p;
	if (!skel) {
		libbpf_set_print(old);
		err = -errno;
		snprintf(why, len, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	/* TR_RING_MIN: a power of two and whole pages of any size up to 256 KiB */
	err = rings_create(skel, 1, TR_RING_MIN, NULL, &ring, &n);
	if (!err)
		err = trace_record_bpf__load(skel);
	trace_record_bpf__destroy(skel);
	if (n)
		close(ring);
	libbpf_set_print(old);
	if (err)
		snprintf(why, len,
			 "the kernel refused the BPF programs (%s): recording needs root (CAP_BPF "
			 "and CAP_PERFMON) and a kernel with BTF (tp_btf)",
			 strerror(-err));
	return err;
}

