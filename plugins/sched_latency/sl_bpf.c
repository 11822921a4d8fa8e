/* SPDX-License-Identifier: MIT */
/*
 * The main BPF object: choose tp_btf or raw_tp at run time, size the maps
 * from the config, hand the CPU topology to BPF, attach, and read the maps
 * back. Nothing stays attached after sl_bpf_stop().
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <schedmcp/fsread.h>

#include "sl.h"
#include "sched_latency.skel.h"

struct sl_bpf {
	struct sched_latency_bpf *skel;
	struct ring_buffer *exits;
	int exits_fd; /* its epoll fd while watched, else -1 */
	uint64_t collected_ns;
	bool slot_busy[SL_MEASURE_SLOTS];
	void *cpu_buf; /* ncpus * sizeof(struct sl_cpu_stats) */
	bool rq_clock; /* measured from the kernel's bookkeeping: sched_wakeup
			* programs attached only while needed */
	uint32_t slots; /* task_slots entries; 0: task storage only */
	struct sl_task *hash_buf; /* raw_tp: a copy of task_hash */
	__u32 *hash_keys;
};

/* libbpf's last warning, kept while this plugin loads its objects (the
 * print hook is process-wide, so it is set only around our own calls). */
static char libbpf_last[256];

static int libbpf_capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[sizeof(libbpf_last)];
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	if (n)
		memcpy(libbpf_last, line, n + 1);
	return 0;
}

static bool is_raw(const struct bpf_program *prog)
{
	const char *n = bpf_program__name(prog);
	size_t l = strlen(n);

	return l > 4 && strcmp(n + l - 4, "_raw") == 0;
}

static uint32_t ring_bytes(const struct sl *p)
{
	uint64_t want = (uint64_t)p->cfg.ring_kb * 1024, sz = 4096;

	while (sz < want && sz < (1ull << 30))
		sz <<= 1;
	return (uint32_t)sz;
}

uint64_t sl_bpf_rb_wakeup_bytes(const struct sl *p)
{
	return ring_bytes(p) / 8;
}

static bool has_member(const struct btf *btf, const char *type, const char *member)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	const struct btf_member *m = t ? btf_members(t) : NULL;

	for (unsigned i = 0; t && i < btf_vlen(t); i++)
		if (strcmp(btf__name_by_offset(btf, m[i].name_off), member) == 0)
			return true;
	return false;
}

/* Whether the kernel keeps the run-queue bookkeeping the BPF programs can
 * measure from without a wakeup program (rq_clock in sched_latency.bpf.c):
 * task->sched_info.last_queued (CONFIG_SCHED_INFO) and the rq clock through
 * task->se.cfs_rq->rq (CONFIG_FAIR_GROUP_SCHED). */
static bool kernel_rq_clock(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = has_member(btf, "sched_info", "last_queued") &&
	     has_member(btf, "sched_entity", "cfs_rq") && has_member(btf, "cfs_rq", "rq");
	btf__free(btf);
	return ok;
}

/*
 * Entries of task_slots (tp_btf): slot tid & (entries - 1). The next power
 * of two at or over pid_max gives every thread a slot of its own; the
 * configured task_slots (rounded down to a power of two) caps the kernel
 * memory, and threads whose slot another live thread holds use task storage.
 * pid_max is the real one (tids are), not read under --fs-root.
 */
static uint32_t slot_entries(const struct sl *p)
{
	uint64_t pid_max = 1u << 22, cap = 1, want = 1; /* PID_MAX_LIMIT */
	char buf[32];

	if (p->cfg.task_slots <= 0)
		return 0;
	if (smcp_read_file(NULL, "/proc/sys/kernel/pid_max", buf, sizeof(buf)) > 0) {
		char *end;
		unsigned long long v = strtoull(buf, &end, 10);

		if (end != buf && v > 0 && v <= 1u << 22)
			pid_max = v;
	}
	while (cap * 2 <= (uint64_t)p->cfg.task_slots)
		cap *= 2;
	while (want < pid_max)
		want *= 2;
	return (uint32_t)(want < cap ? want : cap);
}

static int try_load(struct sl *p, bool btf, struct sched_latency_bpf **ret)
{
	struct sched_latency_bpf *skel = sched_latency_bpf__open();
	struct bpf_program *prog;
	int err;

	if (!skel)
		return -errno;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, is_raw(prog) != btf);
	err = bpf_map__set_max_entries(skel->maps.cpu_remote, (uint32_t)p->ncpus);
	if (!err && !btf)
		err = bpf_map__set_max_entries(skel->maps.task_hash,
					       (uint32_t)p->cfg.max_threads * 2);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.events, ring_bytes(p));
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.cg_stats, sl_cgroup_bpf_max(p));
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.cg_slots, sl_cgroup_bpf_max(p));
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.cg_free, sl_cgroup_bpf_max(p));
	p->bpf->slots = btf ? slot_entries(p) : 0;
	if (!err && p->bpf->slots)
		err = bpf_map__set_max_entries(skel->maps.task_slots, p->bpf->slots);
	if (err)
		goto fail;
	skel->rodata->slots_on = p->bpf->slots > 0;
	skel->rodata->slot_mask = p->bpf->slots ? p->bpf->slots - 1 : 0;
	skel->rodata->rb_wakeup_bytes = sl_bpf_rb_wakeup_bytes(p);
	skel->rodata->cg_mode = sl_cgroup_bpf_mode(p);
	skel->rodata->rq_clock = p->bpf->rq_clock;
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		skel->rodata->load_mono_ns = (uint64_t)ts.tv_sec * 1000000000ull +
					     (uint64_t)ts.tv_nsec;
	}
	if (p->topo_ok) {
		skel->rodata->have_topology = true;
		for (int c = 0; c < p->topo.ncpus && c < SL_MAX_CPUS; c++) {
			skel->rodata->cpu_llc[c] = (__u16)p->topo.cpu_llc[c];
			skel->rodata->cpu_node[c] = (__u16)p->topo.cpu_node[c];
		}
	}
	err = sched_latency_bpf__load(skel);
	if (err)
		goto fail;
	*ret = skel;
	return 0;
fail:
	sched_latency_bpf__destroy(skel);
	return err;
}

static void explain(struct sl *p, int err_btf, int err_raw)
{
	if (err_btf == -EPERM || err_raw == -EPERM || err_btf == -EACCES) {
		snprintf(p->reason, sizeof(p->reason),
			 "loading BPF programs was refused (%s): run schedmcp as root, or give it "
			 "CAP_BPF and CAP_PERFMON",
			 strerror(-err_btf));
		return;
	}
	snprintf(p->reason, sizeof(p->reason),
		 "the kernel refused the BPF programs (tp_btf: %s; raw_tp: %s)%s%s; "
		 "needs a kernel with BTF (CONFIG_DEBUG_INFO_BTF) and BPF ring buffers (5.8+)",
		 strerror(-err_btf), strerror(-err_raw), libbpf_last[0] ? ": " : "", libbpf_last);
}

static int on_exit_record(void *ctx, void *data, size_t size)
{
	struct sl *p = ctx;

	if (size >= sizeof(struct sl_task_stats))
		(void)sl_tasks_update(&p->tasks, data);
	return 0;
}

static void on_exits_ready(void *data, int fd, uint32_t revents)
{
	struct sl *p = data;

	/* a tick of their own: records taken between two collections must
	 * look newer than the last window tick, or the thread would leave the
	 * window series before its exit was recorded (sl_tasks_series_inputs) */
	sl_tasks_begin(&p->tasks);
	(void)ring_buffer__consume(p->bpf->exits);
}

int sl_bpf_start(struct sl *p)
{
	libbpf_print_fn_t old = libbpf_set_print(libbpf_capture);
	struct sched_latency_bpf *skel = NULL;
	int err_btf, err_raw = 0, err;

	libbpf_last[0] = '\0';
	p->bpf = calloc(1, sizeof(*p->bpf));
	if (!p->bpf) {
		err = -ENOMEM;
		goto out;
	}
	p->bpf->exits_fd = -1;
	p->bpf->cpu_buf = calloc((size_t)p->ncpus, sizeof(struct sl_cpu_stats));
	if (!p->bpf->cpu_buf) {
		err = -ENOMEM;
		goto out;
	}
	p->bpf->rq_clock = !p->cfg.ktime_clock && kernel_rq_clock();
	p->clock = p->bpf->rq_clock ? "kernel" : "ktime";
	err_btf = p->cfg.programs == SL_PROGS_RAW_TP ? -ENOTSUP : try_load(p, true, &skel);
	p->mode = "tp_btf";
	if (err_btf && p->cfg.programs == SL_PROGS_TP_BTF) {
		err_raw = -ENOTSUP; /* not asked for */
	} else if (err_btf) {
		err_raw = try_load(p, false, &skel);
		p->mode = "raw_tp";
	}
	if (err_btf && err_raw) {
		explain(p, err_btf, err_raw);
		err = err_btf;
		goto out;
	}
	p->bpf->skel = skel;
	/* the free cgroup slots are queued before the programs run */
	sl_cgroup_started(p, bpf_map__fd(skel->maps.cg_stats), bpf_map__fd(skel->maps.cg_slots),
			  bpf_map__fd(skel->maps.cg_free), &skel->bss->cg_overflow);
	err = sched_latency_bpf__attach(skel);
	if (err) {
		snprintf(p->reason, sizeof(p->reason), "attaching the %s programs failed: %s",
			 p->mode, strerror(-err));
		goto out;
	}
	if (err_btf && p->cfg.programs == SL_PROGS_AUTO)
		p->api->log(p->h, SMCP_LOG_NOTICE,
			    "tp_btf programs refused (%s); using raw_tp", strerror(-err_btf));
	sl_bpf_optional_update(p);
	p->bpf->exits = ring_buffer__new(bpf_map__fd(skel->maps.exits), on_exit_record, p, NULL);
	if (!p->bpf->exits) {
		err = -errno;
		snprintf(p->reason, sizeof(p->reason), "the exits ring buffer cannot be read: %s",
			 strerror(-err));
		goto out;
	}
	err = p->api->watch_fd(p->h, ring_buffer__epoll_fd(p->bpf->exits), EPOLLIN, on_exits_ready,
			       p);
	if (err) {
		snprintf(p->reason, sizeof(p->reason),
			 "the exits ring buffer cannot be watched: %s", strerror(-err));
		goto out;
	}
	p->bpf->exits_fd = ring_buffer__epoll_fd(p->bpf->exits);
	if (err_btf) {
		size_t cap = (size_t)p->cfg.max_threads * 2;

		p->bpf->hash_buf = malloc(cap * sizeof(*p->bpf->hash_buf));
		p->bpf->hash_keys = malloc(cap * sizeof(*p->bpf->hash_keys));
		if (!p->bpf->hash_buf || !p->bpf->hash_keys) {
			err = -ENOMEM;
			goto out;
		}
	}
out:
	libbpf_set_print(old);
	if (err)
		sl_bpf_stop(p);
	return err;
}

/* sched_waking and sched_migrate_task cost a program call per event and
 * are needed only for waker CPUs (config), the waker's identity (stream,
 * analyze_waker_wakee) and migrate events: attached while needed. */
static void optional(struct bpf_program *prog, struct bpf_link **link, bool want)
{
	if (want && !*link && bpf_program__autoload(prog))
		*link = bpf_program__attach(prog);
	else if (!want && *link) {
		bpf_link__destroy(*link);
		*link = NULL;
	}
}

void sl_bpf_optional_update(struct sl *p)
{
	struct sched_latency_bpf *s;
	bool waking, migrate, wakeup;

	if (!p->bpf || !p->bpf->skel)
		return;
	s = p->bpf->skel;
	waking = p->cfg.waker_cpu || p->stream.ctl.enabled || s->bss->track_wakers;
	/* with the kernel's clock, wakeups only name wakers and make events */
	wakeup = !p->bpf->rq_clock || p->stream.ctl.enabled || s->bss->track_wakers;
	optional(s->progs.sl_cg_attach, &s->links.sl_cg_attach, s->rodata->cg_mode);
	optional(s->progs.sl_cg_attach_raw, &s->links.sl_cg_attach_raw, s->rodata->cg_mode);
	optional(s->progs.sl_cg_transfer, &s->links.sl_cg_transfer, s->rodata->cg_mode);
	optional(s->progs.sl_cg_transfer_raw, &s->links.sl_cg_transfer_raw, s->rodata->cg_mode);
	optional(s->progs.sl_wakeup, &s->links.sl_wakeup, wakeup);
	optional(s->progs.sl_wakeup_raw, &s->links.sl_wakeup_raw, wakeup);
	optional(s->progs.sl_wakeup_new, &s->links.sl_wakeup_new, wakeup);
	optional(s->progs.sl_wakeup_new_raw, &s->links.sl_wakeup_new_raw, wakeup);
	migrate = p->stream.ctl.enabled && (p->stream.ctl.type_mask & SL_EV_MIGRATE);
	optional(s->progs.sl_waking, &s->links.sl_waking, waking);
	optional(s->progs.sl_waking_raw, &s->links.sl_waking_raw, waking);
	optional(s->progs.sl_migrate, &s->links.sl_migrate, migrate);
	optional(s->progs.sl_migrate_raw, &s->links.sl_migrate_raw, migrate);
	optional(s->progs.sl_sirq_entry, &s->links.sl_sirq_entry, s->bss->track_softirq);
	optional(s->progs.sl_sirq_entry_raw, &s->links.sl_sirq_entry_raw,
		 s->bss->track_softirq);
	optional(s->progs.sl_sirq_exit, &s->links.sl_sirq_exit, s->bss->track_softirq);
	optional(s->progs.sl_sirq_exit_raw, &s->links.sl_sirq_exit_raw,
		 s->bss->track_softirq);
}

void sl_bpf_stop(struct sl *p)
{
	if (!p->bpf)
		return;
	if (p->bpf->exits_fd >= 0)
		(void)p->api->unwatch_fd(p->h, p->bpf->exits_fd);
	ring_buffer__free(p->bpf->exits);
	sched_latency_bpf__destroy(p->bpf->skel);
	free(p->bpf->hash_buf);
	free(p->bpf->hash_keys);
	free(p->bpf->cpu_buf);
	free(p->bpf);
	p->bpf = NULL;
}

/* ------------------------------------------------------------------ reads */

int sl_bpf_read_cpus(struct sl *p, struct sl_cpu_snap *out)
{
	struct sl_cpu_stats *v = p->bpf->cpu_buf;
	size_t hsz = SLC_NH * SL_NB;
	__u32 zero = 0;
	int err;

	memset(out, 0, sizeof(*out));
	out->ncpus = p->ncpus;
	out->c = calloc((size_t)p->ncpus * SLC_N, sizeof(uint64_t));
	out->h = calloc((size_t)p->ncpus * hsz, sizeof(uint64_t));
	if (!out->c || !out->h) {
		sl_cpu_snap_free(out);
		return -ENOMEM;
	}
	err = bpf_map__lookup_elem(p->bpf->skel->maps.cpu_stats, &zero, sizeof(zero), v,
				   sizeof(*v) * (size_t)p->ncpus, 0);
	if (err) {
		sl_cpu_snap_free(out);
		return err;
	}
	for (int cpu = 0; cpu < p->ncpus; cpu++) {
		uint64_t *c = out->c + (size_t)cpu * SLC_N, *h = out->h + (size_t)cpu * hsz;
		struct sl_cpu_remote r = { 0 };
		__u32 key = (__u32)cpu;

		(void)bpf_map__lookup_elem(p->bpf->skel->maps.cpu_remote, &key, sizeof(key), &r,
					   sizeof(r), 0);
		c[SLC_MIG_IN] = v[cpu].migrations_in;
		c[SLC_SWITCHES] = v[cpu].switches;
		c[SLC_VOL] = v[cpu].switches_voluntary;
		c[SLC_INVOL] = v[cpu].switches_involuntary;
		c[SLC_TO_IDLE] = v[cpu].switches_to_idle;
		c[SLC_WAKE_WAKER] = v[cpu].wakeups_waker;
		c[SLC_WAKE_TARGET] = v[cpu].wakeups_target;
		c[SLC_WAITS] = v[cpu].waits;
		c[SLC_WAIT_NS] = v[cpu].wait_ns;
		c[SLC_SLICES] = v[cpu].slices;
		c[SLC_RUN_NS] = v[cpu].run_ns;
		c[SLC_MIG_OUT] = r.migrations_out;
		c[SLC_MIG_XLLC] = r.migrations_out_xllc;
		c[SLC_MIG_XNODE] = r.migrations_out_xnode;
		c[SLC_WAIT_MAX] = v[cpu].wait_max_ns;
		memcpy(h, v[cpu].wait_hist, sizeof(v[cpu].wait_hist));
		memcpy(h + SL_NB, v[cpu].slice_hist, sizeof(v[cpu].slice_hist));
		out->ev_sent += v[cpu].ev_sent;
		out->ev_dropped += v[cpu].ev_dropped;
		out->ev_rate_limited += v[cpu].ev_rate_limited;
	}
	return 0;
}

const struct sl_cpu_stats *sl_bpf_cpu_stats(struct sl *p)
{
	__u32 zero = 0;

	if (!p->bpf || bpf_map__lookup_elem(p->bpf->skel->maps.cpu_stats, &zero, sizeof(zero),
					    p->bpf->cpu_buf,
					    sizeof(struct sl_cpu_stats) * (size_t)p->ncpus, 0))
		return NULL;
	return p->bpf->cpu_buf;
}

void sl_cpu_snap_free(struct sl_cpu_snap *s)
{
	free(s->c);
	free(s->h);
	s->c = s->h = NULL;
}

/* tp_btf: the task iterator writes the threads that changed since its
 * last run, one struct sl_task_stats each. */
static int collect_iter(struct sl *p)
{
	struct bpf_link *link = p->bpf->skel->links.sl_dump;
	size_t rec = sizeof(struct sl_task_stats), have = 0;
	char buf[64 * sizeof(struct sl_task_stats)];
	int fd, err = 0;
	ssize_t n;

	if (!link)
		return -ENOENT;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return fd;
	while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		size_t off = 0;

		have += (size_t)n;
		for (; have - off >= rec; off += rec) {
			struct sl_task_stats st;

			memcpy(&st, buf + off, rec);
			(void)sl_tasks_update(&p->tasks, &st);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* raw_tp: every thread is in task_hash; copy it and feed everything (the
 * tables ignore records that did not change). */
static int collect_hash(struct sl *p)
{
	int fd = bpf_map__fd(p->bpf->skel->maps.task_hash), err = 0;
	size_t cap = (size_t)p->cfg.max_threads * 2, n = 0;
	__u32 batch = 0, key, next;
	bool first = true;

	while (n < cap) {
		__u32 count = (__u32)(cap - n < 256 ? cap - n : 256);

		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, p->bpf->hash_keys + n,
					   p->bpf->hash_buf + n, &count, NULL);
		first = false;
		n += count;
		if (err)
			break;
	}
	if (err && err != -ENOENT) {
		/* no batch operations on this kernel: key by key */
		n = 0;
		err = bpf_map_get_next_key(fd, NULL, &key);
		while (!err && n < cap) {
			if (bpf_map_lookup_elem(fd, &key, &p->bpf->hash_buf[n]) == 0)
				n++;
			err = bpf_map_get_next_key(fd, &key, &next);
			key = next;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct sl_task *t = &p->bpf->hash_buf[i];

		/* what the iterator does in BPF for tp_btf */
		t->st.wakeups += t->wakeups;
		t->st.last_cpu = t->ran_on ? t->ran_on - 1 : 0;
		(void)sl_tasks_update(&p->tasks, &t->st);
	}
	return 0;
}

int sl_bpf_collect_tasks(struct sl *p)
{
	p->bpf->collected_ns = p->api->now_ns(p->h);
	sl_tasks_begin(&p->tasks);
	/* exits first: a tid the iterator reports after it is a new thread */
	(void)ring_buffer__consume(p->bpf->exits);
	return p->bpf->hash_buf ? collect_hash(p) : collect_iter(p);
}

uint64_t sl_bpf_collected_ns(struct sl *p)
{
	return p->bpf ? p->bpf->collected_ns : 0;
}

uint64_t sl_bpf_exits_lost(struct sl *p)
{
	return p->bpf ? p->bpf->skel->bss->exits_lost : 0;
}

void sl_bpf_slot_info(struct sl *p, uint32_t *entries, uint64_t *fallbacks,
		      uint64_t *failed)
{
	bool on = p->bpf && p->bpf->skel;

	*entries = on ? p->bpf->slots : 0;
	*fallbacks = on ? p->bpf->skel->bss->slot_fallbacks : 0;
	*failed = on ? p->bpf->skel->bss->task_state_failed : 0;
}

int sl_bpf_events_fd(struct sl *p)
{
	return bpf_map__fd(p->bpf->skel->maps.events);
}

int sl_bpf_share(struct sl *p, struct bpf_object *obj)
{
	static const char *const names[] = { "cpu_stats", "dsq_task", "events" };

	if (!p->bpf || !p->bpf->skel)
		return -ENOENT;
	for (size_t i = 0; i < SMCP_COUNT(names); i++) {
		struct bpf_map *mine = bpf_object__find_map_by_name(p->bpf->skel->obj, names[i]);
		struct bpf_map *theirs = bpf_object__find_map_by_name(obj, names[i]);
		int err;

		if (!mine || !theirs)
			return -ENOENT;
		err = bpf_map__reuse_fd(theirs, bpf_map__fd(mine));
		if (err)
			return err;
	}
	return 0;
}

void sl_bpf_dsq_hooked(struct sl *p, bool on)
{
	if (p->bpf && p->bpf->skel)
		__atomic_store_n(&p->bpf->skel->bss->dsq_hooked, on, __ATOMIC_SEQ_CST);
}

/* Write c into a .bss copy of the filter: disabled while it changes. */
void sl_bpf_stream_store(struct sl_stream_ctl *dst, const struct sl_stream_ctl *c)
{
	__atomic_store_n(&dst->enabled, 0, __ATOMIC_SEQ_CST);
	dst->type_mask = c->type_mask;
	dst->pid = c->pid;
	dst->cpu = c->cpu;
	dst->min_latency_ns = c->min_latency_ns;
	dst->per_cpu_per_100ms = c->per_cpu_per_100ms;
	__atomic_store_n(&dst->enabled, c->enabled, __ATOMIC_SEQ_CST);
}

int sl_bpf_stream_apply(struct sl *p)
{
	struct sl_stream_ctl *dst = &p->bpf->skel->bss->stream;
	struct sl_stream_ctl c = p->stream.ctl;
	uint64_t per_cpu_per_s = (uint64_t)p->cfg.stream_rate / (uint64_t)p->ncpus;

	/* the BPF limit is per CPU and per 100 ms; user space enforces the total */
	c.per_cpu_per_100ms = per_cpu_per_s / 10 ? per_cpu_per_s / 10 : 1;
	sl_bpf_stream_store(dst, &c);
	sl_dsq_stream_apply(p, &c); /* dsq_insert events come from the DSQ object */
	sl_bpf_optional_update(p);
	return 0;
}

/* ------------------------------------------------------------ measurement */

int sl_bpf_measure_start(struct sl *p, const struct sl_measure_ctl *m)
{
	struct sl_measure *zero;
	int slot = -1, err;

	for (int i = 0; i < SL_MEASURE_SLOTS && slot < 0; i++)
		if (!p->bpf->slot_busy[i])
			slot = i;
	if (slot < 0)
		return -EBUSY;
	zero = calloc((size_t)p->ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	err = bpf_map__update_elem(p->bpf->skel->maps.measure_hist, &slot, sizeof(slot), zero,
				   sizeof(*zero) * (size_t)p->ncpus, 0);
	free(zero);
	if (err)
		return err;
	p->bpf->slot_busy[slot] = true;
	p->bpf->skel->bss->measure[slot] = *m;
	p->bpf->skel->bss->measure[slot].active = 0;
	__atomic_store_n(&p->bpf->skel->bss->measure[slot].active, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&p->bpf->skel->bss->measure_active, 1, __ATOMIC_SEQ_CST);
	return slot;
}

int sl_bpf_measure_read(struct sl *p, int slot, struct sl_measure *sum)
{
	struct sl_measure *v = calloc((size_t)p->ncpus, sizeof(*v));
	int err;

	memset(sum, 0, sizeof(*sum));
	if (!v)
		return -ENOMEM;
	err = bpf_map__lookup_elem(p->bpf->skel->maps.measure_hist, &slot, sizeof(slot), v,
				   sizeof(*v) * (size_t)p->ncpus, 0);
	for (int c = 0; !err && c < p->ncpus; c++) {
		sum->waits += v[c].waits;
		sum->wait_ns += v[c].wait_ns;
		sum->switches_in += v[c].switches_in;
		if (v[c].wait_max_ns > sum->wait_max_ns)
			sum->wait_max_ns = v[c].wait_max_ns;
		for (int b = 0; b < SL_HIST_BUCKETS; b++)
			sum->hist[b] += v[c].hist[b];
	}
	free(v);
	return err;
}

void sl_bpf_measure_stop(struct sl *p, int slot)
{
	if (!p->bpf || slot < 0 || slot >= SL_MEASURE_SLOTS || !p->bpf->slot_busy[slot])
		return;
	__atomic_store_n(&p->bpf->skel->bss->measure[slot].active, 0, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&p->bpf->skel->bss->measure_active, 1, __ATOMIC_SEQ_CST);
	p->bpf->slot_busy[slot] = false;
}

/* ------------------------------------- one-call analyses (wakers, softirqs) */

/* Empty a hash map (keys up to 64 bytes). */
static void hash_clear(int fd)
{
	unsigned char k[64];

	while (bpf_map_get_next_key(fd, NULL, k) == 0)
		if (bpf_map_delete_elem(fd, k))
			break;
}

/* Copy up to cap entries of a hash map into rows of row_sz bytes, each its
 * key (key_sz bytes, at the start) and its value at val_off; how many. */
static size_t hash_dump(int fd, void *rows, size_t cap, size_t row_sz, size_t key_sz,
			size_t val_off)
{
	unsigned char k[64], nk[64];
	size_t n = 0;
	int err = key_sz <= sizeof(k) ? bpf_map_get_next_key(fd, NULL, k) : -EINVAL;

	while (!err && n < cap) {
		unsigned char *row = (unsigned char *)rows + n * row_sz;

		if (bpf_map_lookup_elem(fd, k, row + val_off) == 0) {
			memcpy(row, k, key_sz);
			n++;
		}
		err = bpf_map_get_next_key(fd, k, nk);
		memcpy(k, nk, key_sz);
	}
	return n;
}

static void wakers_clear(struct sl *p)
{
	hash_clear(bpf_map__fd(p->bpf->skel->maps.wake_pairs));
}

/* An analysis one call at a time: its .bss flag turns the programs on
 * (attached by sl_bpf_optional_update) over emptied tables. */
static int track_start(struct sl *p, __u32 *flag, void (*clear)(struct sl *p))
{
	if (*flag)
		return -EBUSY;
	clear(p);
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	sl_bpf_optional_update(p);
	return 0;
}

/* The programs off; what they collected stays readable. */
static void track_off(struct sl *p, __u32 *flag)
{
	__atomic_store_n(flag, 0, __ATOMIC_SEQ_CST);
	sl_bpf_optional_update(p);
}

static void track_stop(struct sl *p, __u32 *flag, void (*clear)(struct sl *p))
{
	track_off(p, flag);
	clear(p);
}

int sl_bpf_wakers_start(struct sl *p)
{
	return track_start(p, &p->bpf->skel->bss->track_wakers, wakers_clear);
}

void sl_bpf_wakers_stop(struct sl *p)
{
	if (p->bpf)
		track_stop(p, &p->bpf->skel->bss->track_wakers, wakers_clear);
}

int sl_bpf_wakers_read(struct sl *p, struct sl_wake_pair **ret, size_t *ret_n)
{
	struct bpf_map *m = p->bpf->skel->maps.wake_pairs;
	size_t cap = bpf_map__max_entries(m);
	struct sl_wake_pair *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	*ret_n = hash_dump(bpf_map__fd(m), v, cap, sizeof(*v), sizeof(v->k),
			   offsetof(struct sl_wake_pair, v));
	*ret = v;
	return 0;
}

/* --------------------------------------------------------- softirq timing */

static void softirq_clear(struct sl *p)
{
	struct sched_latency_bpf *s = p->bpf->skel;
	size_t sz = (size_t)p->ncpus * sizeof(struct sl_softirq_stat);
	struct sl_softirq_stat *zero = calloc(1, sz);
	__u32 key0 = 0;

	for (__u32 v = 0; zero && v < SL_NR_SOFTIRQS; v++)
		(void)bpf_map_update_elem(bpf_map__fd(s->maps.softirq_stats), &v, zero, BPF_ANY);
	/* an entry whose exit came after the programs were detached must not
	 * be timed by the next call's first exit (sz covers ncpus entries) */
	if (zero)
		(void)bpf_map_update_elem(bpf_map__fd(s->maps.softirq_entry), &key0, zero, BPF_ANY);
	free(zero);
	hash_clear(bpf_map__fd(s->maps.softirq_procs));
}

int sl_bpf_softirq_start(struct sl *p)
{
	return track_start(p, &p->bpf->skel->bss->track_softirq, softirq_clear);
}

void sl_bpf_softirq_stop(struct sl *p)
{
	if (p->bpf)
		track_stop(p, &p->bpf->skel->bss->track_softirq, softirq_clear);
}

int sl_bpf_softirq_read(struct sl *p, struct sl_softirq_stat **ret_cpu,
			struct sl_softirq_row **ret_procs, size_t *ret_nprocs)
{
	struct sched_latency_bpf *s = p->bpf->skel;
	size_t cap = bpf_map__max_entries(s->maps.softirq_procs);
	struct sl_softirq_stat *cpu = calloc((size_t)p->ncpus * SL_NR_SOFTIRQS, sizeof(*cpu));
	struct sl_softirq_stat *one = calloc((size_t)p->ncpus, sizeof(*one));
	struct sl_softirq_row *v = calloc(cap, sizeof(*v));
	int err = 0;

	if (!cpu || !one || !v) {
		err = -ENOMEM;
		goto fail;
	}
	/* detach first: walking an LRU hash that still changes can visit a
	 * key twice (a vanished key restarts the walk) */
	track_off(p, &s->bss->track_softirq);
	for (__u32 vec = 0; vec < SL_NR_SOFTIRQS; vec++) {
		if (bpf_map_lookup_elem(bpf_map__fd(s->maps.softirq_stats), &vec, one)) {
			err = -errno;
			goto fail;
		}
		for (int c = 0; c < p->ncpus; c++)
			cpu[(size_t)c * SL_NR_SOFTIRQS + vec] = one[c];
	}
	*ret_nprocs = hash_dump(bpf_map__fd(s->maps.softirq_procs), v, cap, sizeof(*v),
				sizeof(v->k), offsetof(struct sl_softirq_row, v));
	free(one);
	*ret_cpu = cpu;
	*ret_procs = v;
	return 0;
fail:
	free(cpu);
	free(one);
	free(v);
	return err;
}
