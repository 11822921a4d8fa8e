/* SPDX-License-Identifier: MIT */
/*
 * One recording. The loop starts it, drains it on a timer and stops it;
 * every step that touches the kernel or the file runs as a work job:
 *
 *   start   load the BPF object, attach, write the header packets
 *           (ClockSnapshot, SystemInfo, ProcessTree)
 *   drain   consume the ring buffer into per-CPU buffers, sort each CPU's
 *           records by time, write those older than a hold-back margin as
 *           ftrace bundles (one CPU per bundle, in time order)
 *   finish  take the end ClockSnapshot, detach (waits for the programs to
 *           finish), drain everything, write the statistics, close
 *
 * At most one job is in flight (rec->busy): the next drain waits for it, so
 * a slow disk makes the ring buffer fill and the kernel side count losses
 * rather than jobs pile up. Size and duration caps end the recording.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tr.h"
#include "trace_record.skel.h"

#define CHUNK_BYTES (4u << 20)
#define HOLDBACK_NS 5000000ull	/* records younger than this wait a drain */
#define CPU_PENDING_MAX (256u << 10)	/* pending records per CPU, at most */
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

/* The three clocks read together, for a ClockSnapshot. */
struct clocks {
	uint64_t boot, mono, real;
};

static void read_clocks(struct clocks *c)
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
	c = &r->cpu[e->cpu];
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 4096;
		struct tr_event *ev;

		if (cap > r->cpu_cap_events ||
		    !(ev = realloc(c->ev, (size_t)cap * sizeof(*ev)))) {
			c->lost_buffer++;
			return 0;
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

static void read_bpf_counters(struct tr_rec *r)
{
	memset(r->seen, 0, sizeof(r->seen));
	memset(r->lost_ring, 0, sizeof(r->lost_ring));
	for (uint32_t c = 0; c < r->ncpus && c < 1024; c++)
		for (int t = 0; t < TR_NTYPES; t++) {
			r->seen[t] += r->skel->bss->stats[c].s.seen[t];
			r->lost_ring[t] += r->skel->bss->stats[c].s.lost[t];
		}
}

static uint64_t cpu_lost(const struct tr_rec *r, uint32_t c)
{
	uint64_t n = r->cpu[c].lost_buffer;

	if (c < 1024)
		for (int t = 0; t < TR_NTYPES; t++)
			n += r->skel->bss->stats[c].s.lost[t];
	return n;
}

/* Write CPU c's records up to watermark. */
static void write_cpu(struct tr_rec *r, uint32_t c, uint64_t watermark)
{
	struct tr_cpu_buf *b = &r->cpu[c];
	uint32_t n = 0, i = 0, rest;

	if (!b->n)
		return;
	if (b->n > r->sorted_cap) {
		const struct tr_event **s = realloc(r->sorted, b->n * sizeof(*s));

		if (!s) {
			b->lost_buffer += b->n;
			b->n = 0;
			return;
		}
		r->sorted = s;
		r->sorted_cap = b->n;
	}
	for (uint32_t k = 0; k < b->n; k++)
		r->sorted[k] = &b->ev[k];
	qsort(r->sorted, b->n, sizeof(*r->sorted), by_time);
	while (n < b->n && r->sorted[n]->ts_ns <= watermark)
		n++;
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

			if (e->ts_ns < b->last_ts)
				r->late++;
			else
				b->last_ts = e->ts_ns;
			r->written[e->type]++;
		}
		b->written += used;
		i += (uint32_t)used;
	}
	/* what was not written waits (newer than the watermark) or is dropped
	 * (caps): keep the former, in arrival order, at the front */
	rest = 0;
	if (!r->size_reached && !r->out.err) {
		/* mark the written ones, then compact */
		for (uint32_t k = 0; k < i; k++)
			((struct tr_event *)r->sorted[k])->type = 0;
		for (uint32_t k = 0; k < b->n; k++)
			if (b->ev[k].type)
				b->ev[rest++] = b->ev[k];
	}
	b->n = rest;
}

static void drain(struct tr_rec *r, bool all)
{
	uint64_t watermark = all ? UINT64_MAX : clock_ns(CLOCK_BOOTTIME) - HOLDBACK_NS;

	if (r->rb)
		(void)ring_buffer__consume(r->rb);
	for (uint32_t c = 0; c < r->ncpus; c++)
		write_cpu(r, c, watermark);
	(void)tr_out_flush(&r->out);
	if (r->out.err)
		set_why(r, r->out.err, "writing the trace failed");
	if (r->skel)
		read_bpf_counters(r);
}

/* ------------------------------------------------------------------- jobs */

static int start_job(void *data)
{
	struct tr_rec *r = data;
	struct trace_record_bpf *skel;
	struct bpf_program *prog;
	struct utsname u;
	struct clocks now;
	uint32_t ring = 4096;
	int err;

	skel = trace_record_bpf__open();
	if (!skel) {
		set_why(r, -errno, "opening the BPF object failed");
		return r->err;
	}
	while (ring < (uint64_t)r->p->cfg.ring_mb << 20 && ring < (1u << 30))
		ring <<= 1;
	err = bpf_map__set_max_entries(skel->maps.events, ring);
	if (!err)
		err = trace_record_bpf__load(skel);
	if (err) {
		trace_record_bpf__destroy(skel);
		set_why(r, err, "loading the BPF programs failed");
		return r->err;
	}
	r->skel = skel;
	r->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, r, NULL);
	if (!r->rb) {
		set_why(r, -errno, "the ring buffer reader failed");
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
	read_clocks(&now);
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

static int drain_job(void *data)
{
	struct tr_rec *r = data;

	drain(r, false);
	return r->err;
}

static void detach(struct tr_rec *r)
{
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
}

static int finish_job(void *data)
{
	struct tr_rec *r = data;
	struct tr_cpu_totals *tot;
	struct clocks end;

	read_clocks(&end);
	r->end_boot_ns = end.boot;
	if (r->skel) {
		detach(r);
		/* a program that began before the detach may still be writing:
		 * give it a moment, then take everything */
		usleep(20000);
		read_misses(r);
	}
	drain(r, true);
	tot = calloc(r->ncpus ? r->ncpus : 1, sizeof(*tot));
	if (tot) {
		for (uint32_t c = 0; c < r->ncpus; c++) {
			tot[c].entries = r->cpu[c].written;
			tot[c].lost = r->skel ? cpu_lost(r, c) : r->cpu[c].lost_buffer;
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
	trace_record_bpf__destroy(r->skel);
	r->skel = NULL;
	return r->err;
}

/* ------------------------------------------------------------- loop side */

static const char *const type_names[TR_NTYPES] = {
	[TR_SWITCH] = "sched_switch",
	[TR_WAKING] = "sched_waking",
	[TR_WAKEUP_NEW] = "sched_wakeup_new",
	[TR_MIGRATE] = "sched_migrate_task",
	[TR_FORK] = "sched_process_fork",
	[TR_EXEC] = "sched_process_exec",
	[TR_EXIT] = "sched_process_exit",
	[TR_IRQ_ENTRY] = "irq_handler_entry",
	[TR_IRQ_EXIT] = "irq_handler_exit",
	[TR_SOFTIRQ_ENTRY] = "softirq_entry",
	[TR_SOFTIRQ_EXIT] = "softirq_exit",
	[TR_CPU_FREQ] = "cpu_frequency",
	[TR_CPU_IDLE] = "cpu_idle",
};

static void job_done(void *data, int result);

static void submit(struct tr_rec *r, int (*fn)(void *))
{
	int err;

	r->busy = true;
	r->job = fn;
	err = r->p->api->work_submit(r->p->h, fn, job_done, r);
	if (err) {
		/* the host's queue is full: try at the next tick */
		r->busy = false;
		r->job = NULL;
	}
}

static void take_snapshot(struct tr_rec *r)
{
	struct tr_snap *s = &r->snap;

	s->bytes = tr_out_size(&r->out);
	s->late = r->late;
	s->recursion_misses = r->recursion_misses;
	s->packets_dropped_cap = r->out.packets_dropped_cap;
	s->lost_buffer = 0;
	for (uint32_t c = 0; c < r->ncpus; c++)
		s->lost_buffer += r->cpu[c].lost_buffer;
	memcpy(s->written, r->written, sizeof(s->written));
	memcpy(s->seen, r->seen, sizeof(s->seen));
	memcpy(s->lost_ring, r->lost_ring, sizeof(s->lost_ring));
	s->start_boot_ns = r->start_boot_ns;
	s->end_boot_ns = r->end_boot_ns;
}

static void remove_timers(struct tr_rec *r)
{
	const struct smcp_host_api *api = r->p->api;

	if (r->timer_drain > 0)
		(void)api->timer_remove(r->p->h, r->timer_drain);
	if (r->timer_end > 0)
		(void)api->timer_remove(r->p->h, r->timer_end);
	if (r->timer_progress > 0)
		(void)api->timer_remove(r->p->h, r->timer_progress);
	r->timer_drain = r->timer_end = r->timer_progress = 0;
}

static void on_drain_timer(void *data)
{
	struct tr_rec *r = data;

	if (r->busy)
		return;
	if (r->stop_wanted)
		submit(r, finish_job);
	else
		submit(r, drain_job);
}

static void on_end_timer(void *data)
{
	struct tr_rec *r = data;

	r->timer_end = 0;
	tr_rec_stop(r, "duration reached");
}

static void on_progress_timer(void *data)
{
	struct tr_rec *r = data;
	uint64_t ms = (r->p->api->now_ns(r->p->h) - r->t0_ns) / 1000000;
	uint64_t ev = 0;
	char msg[160];

	if (!r->call)
		return;
	for (int t = 0; t < TR_NTYPES; t++)
		ev += r->snap.written[t];
	snprintf(msg, sizeof(msg), "recording %s: %llu events, %llu bytes written", r->id,
		 (unsigned long long)ev, (unsigned long long)r->snap.bytes);
	(void)r->p->api->call_progress(r->call, (double)ms,
				       r->duration_ms ? (double)r->duration_ms : 0, msg);
}

static void complete_call(struct tr_rec *r)
{
	const struct smcp_host_api *api = r->p->api;
	struct smcp_json *j;

	if (!r->call)
		return;
	if (r->state == TR_FAILED) {
		(void)api->result_error(r->res, "recording %s failed: %s", r->id, r->reason);
	} else {
		j = api->result_json(r->res);
		if (j)
			tr_rec_json(r, j);
	}
	(void)api->call_complete(r->call, 0);
	r->call = NULL;
	r->res = NULL;
}

static void job_done(void *data, int result)
{
	struct tr_rec *r = data;
	int (*job)(void *) = r->job;

	r->busy = false;
	r->job = NULL;
	take_snapshot(r);
	if (job == finish_job) {
		remove_timers(r);
		r->elapsed_ns = r->p->api->now_ns(r->p->h) - r->t0_ns;
		close(r->fd);
		r->fd = -1;
		if (result || r->err) {
			r->state = TR_FAILED;
			snprintf(r->reason, sizeof(r->reason), "%s", r->why);
			/* a trace that failed to start holds nothing of use */
			if (!r->start_boot_ns) {
				char file[TR_FILE_LEN];

				tr_file_name(file, sizeof(file), r->id);
				(void)unlinkat(r->p->dirfd, file, 0);
			}
		} else {
			r->state = TR_DONE;
		}
		complete_call(r);
		tr_plugin_finished(r->p, r);
		return;
	}
	if (job == start_job && !result)
		r->state = TR_RUNNING;
	if (result || r->err)
		tr_rec_stop(r, r->why);
	else if (r->size_reached)
		tr_rec_stop(r, "size cap reached");
	if (r->stop_wanted && !r->busy)
		submit(r, finish_job);
}

void tr_rec_stop(struct tr_rec *r, const char *reason)
{
	if (r->state != TR_STARTING && r->state != TR_RUNNING)
		return;
	r->state = TR_STOPPING;
	r->stop_wanted = true;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	if (r->timer_end > 0)
		(void)r->p->api->timer_remove(r->p->h, r->timer_end);
	r->timer_end = 0;
	if (!r->busy)
		submit(r, finish_job);
	/* else job_done submits it; the drain timer retries a refused submit */
}

static void on_cancel(void *data, struct smcp_call *call)
{
	struct tr_rec *r = data;

	(void)call;
	r->call = NULL;
	r->res = NULL;
	tr_rec_stop(r, "the waiting call was cancelled");
}

static void on_cancel_keep(void *data, struct smcp_call *call)
{
	struct tr_rec *r = data;

	(void)call;
	r->call = NULL;
	r->res = NULL;
}

void tr_rec_wait(struct tr_rec *r, struct smcp_call *call, struct smcp_result *res,
		 bool stop_on_cancel)
{
	r->call = call;
	r->res = res;
	(void)r->p->api->call_on_cancel(call, stop_on_cancel ? on_cancel : on_cancel_keep, r);
	if (r->timer_progress <= 0) {
		int id = r->p->api->timer_add(r->p->h, 1000, true, on_progress_timer, r);

		r->timer_progress = id > 0 ? id : 0;
	}
}

int tr_rec_start(struct tr_plugin *p, const char *id, int fd, uint64_t duration_ms,
		 uint64_t max_bytes, struct tr_rec **ret)
{
	struct tr_rec *r = calloc(1, sizeof(*r));
	int tid;

	if (!r)
		return -ENOMEM;
	r->p = p;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->fd = fd;
	r->duration_ms = duration_ms;
	r->max_bytes = max_bytes;
	r->ncpus = p->ncpus;
	r->cpu_cap_events = CPU_PENDING_MAX;
	r->cpu = calloc(p->ncpus, sizeof(*r->cpu));
	r->intern = malloc(sizeof(*r->intern));
	r->chunk = malloc(CHUNK_BYTES);
	if (!r->cpu || !r->intern || !r->chunk) {
		free(r->cpu);
		free(r->intern);
		free(r->chunk);
		free(r);
		return -ENOMEM;
	}
	/* bundles stop 64 KiB short of the cap: room for the statistics */
	tr_out_init(&r->out, fd, r->chunk, CHUNK_BYTES,
		    max_bytes > (128u << 10) ? max_bytes - (64u << 10) : max_bytes / 2);
	r->t0_ns = p->api->now_ns(p->h);
	r->state = TR_STARTING;
	snprintf(r->reason, sizeof(r->reason), "recording");
	tid = p->api->timer_add(p->h, (uint64_t)p->cfg.drain_ms, true, on_drain_timer, r);
	r->timer_drain = tid > 0 ? tid : 0;
	if (duration_ms) {
		tid = p->api->timer_add(p->h, duration_ms, false, on_end_timer, r);
		r->timer_end = tid > 0 ? tid : 0;
	}
	submit(r, start_job);
	if (!r->busy) {
		remove_timers(r);
		free(r->cpu);
		free(r->intern);
		free(r->chunk);
		free(r);
		return -EBUSY;
	}
	*ret = r;
	return 0;
}

void tr_rec_free(struct tr_rec *r)
{
	if (!r)
		return;
	if (r->state == TR_STARTING || r->state == TR_RUNNING || r->state == TR_STOPPING) {
		/* at shutdown (no job in flight: the host drained them) */
		remove_timers(r);
		(void)finish_job(r);
		r->state = r->err ? TR_FAILED : TR_DONE;
	}
	if (r->fd >= 0)
		close(r->fd);
	for (uint32_t c = 0; c < r->ncpus; c++)
		free(r->cpu[c].ev);
	free(r->cpu);
	free(r->links);
	free(r->sorted);
	free(r->intern);
	free(r->chunk);
	free(r);
}

int tr_rec_probe(struct tr_plugin *p, char *why, size_t len)
{
	struct trace_record_bpf *skel = trace_record_bpf__open();
	int err;

	(void)p;
	if (!skel) {
		err = -errno;
		snprintf(why, len, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	(void)bpf_map__set_max_entries(skel->maps.events, 4096);
	err = trace_record_bpf__load(skel);
	trace_record_bpf__destroy(skel);
	if (err)
		snprintf(why, len,
			 "the kernel refused the BPF programs (%s): recording needs root (CAP_BPF "
			 "and CAP_PERFMON) and a kernel with BTF (tp_btf)",
			 strerror(-err));
	return err;
}

static const char *state_name(enum tr_state s)
{
	switch (s) {
	case TR_STARTING: return "starting";
	case TR_RUNNING: return "recording";
	case TR_STOPPING: return "stopping";
	case TR_DONE: return "done";
	case TR_FAILED: return "failed";
	}
	return "?";
}

void tr_rec_json(const struct tr_rec *r, struct smcp_json *j)
{
	const struct smcp_host_api *api = r->p->api;
	const struct tr_snap *s = &r->snap;
	uint64_t total = 0, lost = 0, el;
	char file[TR_FILE_LEN];

	el = r->state == TR_DONE || r->state == TR_FAILED ? r->elapsed_ns
							   : api->now_ns(r->p->h) - r->t0_ns;
	tr_file_name(file, sizeof(file), r->id);
	api->json_string(j, "id", r->id);
	api->json_string(j, "state", state_name(r->state));
	api->json_string(j, "reason", r->reason);
	api->json_string(j, "file", file);
	api->json_double(j, "elapsed_s", (double)el / 1e9);
	api->json_uint(j, "bytes", s->bytes);
	api->json_uint(j, "max_bytes", r->max_bytes);
	api->json_double(j, "max_duration_s", (double)r->duration_ms / 1e3);
	api->json_string(j, "clock", "CLOCK_BOOTTIME");
	api->json_uint(j, "start_ns", s->start_boot_ns);
	if (s->end_boot_ns)
		api->json_uint(j, "end_ns", s->end_boot_ns);
	api->json_object(j, "events");
	for (int t = 1; t < TR_NTYPES; t++) {
		total += s->written[t];
		if (s->written[t] || s->lost_ring[t])
			api->json_uint(j, type_names[t], s->written[t]);
	}
	api->json_end(j);
	api->json_uint(j, "events_total", total);
	if (s->bytes && total)
		api->json_double(j, "bytes_per_event", (double)s->bytes / (double)total);
	api->json_object(j, "lost");
	for (int t = 1; t < TR_NTYPES; t++) {
		lost += s->lost_ring[t];
		if (s->lost_ring[t])
			api->json_uint(j, type_names[t], s->lost_ring[t]);
	}
	api->json_uint(j, "ring_buffer_full", lost);
	api->json_uint(j, "pending_buffer_full", s->lost_buffer);
	api->json_uint(j, "kernel_skipped_recursion", s->recursion_misses);
	api->json_uint(j, "bundles_dropped_at_size_cap", s->packets_dropped_cap);
	api->json_end(j);
	api->json_uint(j, "reordered_late", s->late);
}
