/* SPDX-License-Identifier: MIT */
/*
 * The sched_latency plugin's user side: one context shared by its files.
 *
 *   sched_latency.c  entry, config, registration, the tick, init/fini
 *   sl_bpf.c         the main BPF object: load (tp_btf or raw_tp), read, control
 *   sl_tasks.c       threads and processes from the exported per-thread records
 *   sl_dsq.c         the sched_ext object: kfunc choice, attach while scx runs
 *   sl_stream.c      ring buffer -> core event stream; control_event_tracking
 *   sl_emit.c        JSON for windows, latency blocks, CPU and task rows
 *   sl_resources.c   the stats:// resources and the per-process template
 *   sl_call.c        tool calls answered later: progress, completion, cancel
 *   sl_measure.c     measure_latency
 *   sl_wakers.c      analyze_waker_wakee
 *   sl_numa.c        stats://numa and stats://numa/{pid}: processes and memory
 *                    locality per NUMA node (parsers: sl_numa_parse.c)
 *   sl_metrics.c     the metrics the core keeps history of (docs/metrics.md),
 *                    and the tick: the core's collect callback, once per step
 *   sl_steps.c       its steps in the core's workflow prompts
 *   sl_notable.c     notable.* events judged once per step (no setup needed)
 *   sl_cgroup.c      per-cgroup latency: the BPF map read into a series,
 *                    stats://aggregated/cgroup (sl_cgroup.h); a cgroup's
 *                    subtree summed by sl_cgtree.c; ids named by
 *                    sl_cgpaths.c (state shared in sl_cgroup_priv.h)
 *   sl_cgtool.c      diagnose_cgroup, stats://cgroup/{+cgroup} (sl_cgfs.c,
 *                    sl_cgnames.c: cgroupfs files and names; sl_cgstate.c:
 *                    container and pod names from the runtimes' state on disk)
 *   sl_hist.c, sl_window.c, sl_topo.c, sl_tasks.c, sl_cgtree.c  pure helpers
 *                    (unit-tested)
 *
 * Private to the plugin: nothing here is exported (-fvisibility=hidden).
 */
#ifndef SL_H
#define SL_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

#include "sched_latency.h"
#include "sl_hist.h"
#include "sl_tasks.h"
#include "sl_topo.h"
#include "sl_window.h"

/* Counters of the CPU series (struct sl_window_input.c), in this order. */
enum {
	SLC_SWITCHES,
	SLC_VOL,
	SLC_INVOL,
	SLC_TO_IDLE,
	SLC_WAKE_WAKER,
	SLC_WAKE_TARGET,
	SLC_WAITS,
	SLC_WAIT_NS,
	SLC_SLICES,
	SLC_RUN_NS,
	SLC_MIG_IN,
	SLC_MIG_OUT,
	SLC_MIG_XLLC,
	SLC_MIG_XNODE,
	SLC_WAIT_MAX, /* not additive: meaningful only since start */
	SLC_N
};
#define SLC_NH 2 /* histograms: run-queue wait, time slice */

/* Counters of the DSQ series. */
enum {
	SLD_INSERTED,
	SLD_CONSUMED,
	SLD_RAN,
	SLD_WAIT_NS,
	SLD_WAIT_MAX, /* since start only */
	SLD_N
};

enum sl_window_id { SL_W1, SL_W10, SL_W60, SL_WSTART, SL_NWINDOWS };

enum sl_programs { SL_PROGS_AUTO, SL_PROGS_TP_BTF, SL_PROGS_RAW_TP };

struct sl_cfg {
	int64_t max_threads, max_procs, ring_kb, stream_rate, latency_per_cpu_max;
	int64_t cgroup_max; /* per-cgroup latency map entries; 0: off */
	int64_t task_slots; /* most per-thread slot entries (tp_btf); 0: task storage only */
	char container_state_root[256]; /* runtimes' state (tests); "": the fs root */
	bool stream_at_start, dsq, waker_cpu;
	bool ktime_clock; /* latency_clock = ktime */
	enum sl_programs programs;
};

/* A fresh read of the per-CPU maps: cumulative since load. */
struct sl_cpu_snap {
	int ncpus;
	uint64_t *c; /* ncpus * SLC_N */
	uint64_t *h; /* ncpus * SLC_NH * SL_NB */
	uint64_t ev_sent, ev_dropped, ev_rate_limited;
};

struct sl_stream {
	struct ring_buffer *rb;
	int rb_fd; /* epoll fd of rb, watched on the loop; -1 when not */
	int drain_timer;
	struct sl_stream_ctl ctl; /* what BPF filters by */
	uint64_t published, publish_failed, over_budget;
	uint64_t budget_window_ns, budget_used;
	uint64_t last_sent, last_dropped, last_limited, last_over; /* for loss events */
};

struct sl_dsq;
struct sl_bpf;
struct sl_call;
struct bpf_object;
struct sl_metrics;
struct sl_numa;
struct sl_notable;
struct sl_cgroup;

struct sl {
	struct smcp_host *h;
	const struct smcp_host_api *api;
	struct sl_cfg cfg;
	uint64_t start_ns;
	bool running;           /* the main BPF object is attached */
	char reason[512];       /* why not, when !running */
	const char *mode;       /* "tp_btf" or "raw_tp" */
	const char *clock;      /* "kernel" or "ktime": how run-queue latency is timed */
	int ncpus;              /* possible CPUs, as the per-CPU maps see them */
	struct sl_bpf *bpf;
	struct sl_topo topo;
	bool topo_ok;
	struct sl_tasks tasks;  /* threads and processes, as of the last tick */
	struct sl_window_series w_cpu, w_thread, w_proc, w_dsq;
	uint64_t series_fed; /* tasks.tick when w_thread and w_proc last ticked */
	uint64_t ticks;
	struct sl_stream stream;
	struct sl_dsq *dsq;
	struct sl_call *calls;
	uint64_t tick_cost_ns; /* user-space time of the last tick */
	struct sl_metrics *metrics; /* NULL: the host keeps no history, or BPF is off */
	struct sl_numa *numa;       /* numastat metrics and the nodes that have them */
	struct sl_notable *notable; /* NULL: as metrics */
	struct sl_cgroup *cg;       /* per-cgroup latency (sl_cgroup.c) */
};

/* ---------------------------------------------------------------- sl_bpf.c */

int sl_bpf_start(struct sl *p);
void sl_bpf_stop(struct sl *p);
/* Attach or detach the programs only some features need. */
void sl_bpf_optional_update(struct sl *p);
int sl_bpf_read_cpus(struct sl *p, struct sl_cpu_snap *out);
void sl_cpu_snap_free(struct sl_cpu_snap *s);
/* The per-CPU map read into a buffer kept for this (ncpus entries, valid
 * until the next read of it), or NULL. Allocates nothing. */
const struct sl_cpu_stats *sl_bpf_cpu_stats(struct sl *p);
/* Feed p->tasks with the threads that changed and those that exited. */
int sl_bpf_collect_tasks(struct sl *p);
uint64_t sl_bpf_exits_lost(struct sl *p);
/* Per-thread slots in use (0: task storage only), the threads kept in task
 * storage because their slot was held, and the switch-ins and wakeups whose
 * thread had no state and none could be made (both cumulative). */
void sl_bpf_slot_info(struct sl *p, uint32_t *entries, uint64_t *fallbacks,
		      uint64_t *failed);
uint64_t sl_bpf_collected_ns(struct sl *p);
int sl_bpf_events_fd(struct sl *p);
/* Push p->stream.ctl into BPF: the main object and the DSQ object. */
int sl_bpf_stream_apply(struct sl *p);
void sl_bpf_stream_store(struct sl_stream_ctl *dst, const struct sl_stream_ctl *c);
/* Before obj (the DSQ object) loads: make its cpu_stats, dsq_task and
 * events maps the main object's (sl_shared.bpf.h). 0 or -errno. */
int sl_bpf_share(struct sl *p, struct bpf_object *obj);
/* The main object's stream events look up DSQ state only while on. */
void sl_bpf_dsq_hooked(struct sl *p, bool on);
uint64_t sl_bpf_rb_wakeup_bytes(const struct sl *p);
/* A free measurement slot set to m and started, or -EBUSY. */
int sl_bpf_measure_start(struct sl *p, const struct sl_measure_ctl *m);
int sl_bpf_measure_read(struct sl *p, int slot, struct sl_measure *sum);
void sl_bpf_measure_stop(struct sl *p, int slot);
int sl_bpf_wakers_start(struct sl *p);
void sl_bpf_wakers_stop(struct sl *p);
struct sl_wake_pair {
	struct sl_wake_key k;
	struct sl_wake_val v;
};
int sl_bpf_wakers_read(struct sl *p, struct sl_wake_pair **ret, size_t *ret_n);
/* analyze_softirq: one at a time (-EBUSY). The read detaches the programs
 * and gives ncpus * SL_NR_SOFTIRQS per-CPU stats (cpu-major) and the
 * process table; stop clears them. */
int sl_bpf_softirq_start(struct sl *p);
void sl_bpf_softirq_stop(struct sl *p);
struct sl_softirq_row {
	struct sl_softirq_key k;
	struct sl_softirq_proc v;
};
int sl_bpf_softirq_read(struct sl *p, struct sl_softirq_stat **ret_cpu,
			struct sl_softirq_row **ret_procs, size_t *ret_nprocs);
int sl_softirq_register(struct sl *p);

/* ---------------------------------------------------------------- sl_dsq.c */

int sl_dsq_init(struct sl *p);
void sl_dsq_fini(struct sl *p);
void sl_dsq_tick(struct sl *p, uint64_t now_ns);
int sl_dsq_emit(struct sl *p, struct smcp_json *j);
/* Copy the stream filter into the DSQ object (dsq_insert events). */
void sl_dsq_stream_apply(struct sl *p, const struct sl_stream_ctl *c);
/* Whether stream events carry DSQ fields now (hooks attached, maps shared). */
bool sl_dsq_stream_fields(const struct sl *p);
/* "global", "local", "bypass", "local_on:cpuN", "user:ID". */
void sl_dsq_name(uint64_t id, char *buf, size_t len);
/* For sl_metrics.c: the DSQ counters map (struct sl_dsq_stats by DSQ id),
 * or -1 when the DSQ object is not loaded; whether its hooks are attached
 * (a BPF scheduler is enabled), and how often they were; a DSQ's depth as of the last tick, when
 * known (user DSQs only). */
int sl_dsq_stats_fd(const struct sl *p);
bool sl_dsq_attached(const struct sl *p);
uint64_t sl_dsq_attach_count(const struct sl *p); /* attaches so far */
bool sl_dsq_depth_of(const struct sl *p, uint64_t id, int64_t *depth);

/* ------------------------------------------------------------- sl_stream.c */

int sl_stream_init(struct sl *p);
void sl_stream_fini(struct sl *p);
void sl_stream_tick(struct sl *p, const struct sl_cpu_snap *s);
void sl_stream_drain(struct sl *p);

/* ---------------------------------------------------- sl_emit.c, sl_resources.c */

/* Series inputs from fresh reads (arrays owned by the caller's snapshot). */
int sl_cpu_inputs(struct sl *p, const struct sl_cpu_snap *s, struct sl_window_input **ret);
/* The rows of window w for series kind ("cpu", "thread", "process"). */
int sl_window_rows(struct sl *p, const char *kind, enum sl_window_id w,
		   struct sl_window_result *out);
extern const char *const sl_window_names[SL_NWINDOWS];
int sl_window_parse(const char *name, enum sl_window_id *ret);
void sl_emit_window(struct sl *p, struct smcp_json *j, const char *key, const char *name,
		    const struct sl_window_result *r);
void sl_emit_latency(struct sl *p, struct smcp_json *j, const char *key, const uint64_t *h,
		     uint64_t sum_ns, int64_t max_ns);
void sl_emit_histogram(struct sl *p, struct smcp_json *j, const char *key, const uint64_t *h);
double sl_span_s(const struct sl_window_result *r);

enum sl_sort {
	SL_SORT_WAIT_TIME,
	SL_SORT_P99,
	SL_SORT_P50,
	SL_SORT_MEAN,
	SL_SORT_WAITS,
	SL_SORT_SWITCHES,
	SL_SORT_WAKEUPS,
	SL_SORT_MIGRATIONS,
	SL_SORT_RUN_TIME,
	SL_NSORT
};
extern const char *const sl_sort_names[SL_NSORT];
/* Task rows (thread or process series): filtered by tgid (0: all), sorted,
 * paginated, written as array key. */
void sl_emit_task_rows(struct sl *p, struct smcp_json *j, const char *key, bool threads,
		       const struct sl_window_result *r, bool since_start, uint32_t tgid_filter,
		       enum sl_sort sort, size_t offset, size_t limit, bool histogram);
/* All CPUs folded into one object under key. */
void sl_emit_system(struct sl *p, struct smcp_json *j, const char *key,
		    const struct sl_window_result *r, bool since_start);
/* CPU / LLC / node rows. */
void sl_emit_cpu_rows(struct sl *p, struct smcp_json *j, const char *key, const char *what,
		      const struct sl_window_result *r, bool since_start, int cpu_filter,
		      size_t offset, size_t limit);

int sl_resources_register(struct sl *p);

/* ------------------------------------------------------------ sl_metrics.c */

/* Register the metrics and the collect callback, which ticks (sl_tick_now)
 * and publishes once per step of the core's history (inside init, once BPF
 * runs). -errno. */
int sl_metrics_init(struct sl *p);
void sl_metrics_fini(struct sl *p);

/* ---------------------------------------------------------------- sl_numa.c */

/* Register stats://numa and stats://numa/{pid} (inside init). */
int sl_numa_register(struct sl *p);
/* Find the nodes with numastat under the fs root and publish it into the
 * core's history once per step; with BPF or without. -errno. */
int sl_numa_init(struct sl *p);
void sl_numa_fini(struct sl *p);

/* ------------------------------------------------------------- sl_cgroup.c */

/* Counters of the cgroup series (from struct sl_measure), in this order. */
enum { SLG_SWITCHES, SLG_WAITS, SLG_WAIT_NS, SLG_WAIT_MAX, SLG_N };

/* Choose the hierarchy (want: auto, v1, v2, off) before BPF loads; -ENOMEM
 * only (a missing controller leaves it off, with the reason). */
int sl_cgroup_init(struct sl *p, const char *want);
void sl_cgroup_fini(struct sl *p);
/* For the loader: enum sl_cg_mode and the map size. */
uint32_t sl_cgroup_bpf_mode(const struct sl *p);
uint32_t sl_cgroup_bpf_max(const struct sl *p);
/* The loaded maps (struct sl_cg_stats by slot, cgroup id -> slot, free
 * slots) and the .bss overflow counter, before the programs attach: queues
 * every slot as free. */
void sl_cgroup_started(struct sl *p, int stats_fd, int slots_fd, int free_fd, __u64 *overflow);
/* Read the map into the series (from sl_tick_now). */
void sl_cgroup_tick(struct sl *p, uint64_t now_ns);
/* The series (key: cgroup id; SLG_N counters, one histogram), or NULL. */
const struct sl_window_series *sl_cgroup_series(const struct sl *p);
/* The resolved path of id, or NULL (not yet, gone, or not tracking). */
const char *sl_cgroup_path(struct sl *p, uint64_t id);
int sl_cgroup_register(struct sl *p);
/* The label value of path in sched_cgroup_runq_latency_ns: the path, or
 * "..." and its last bytes when longer than a label value may be
 * (SMCP_METRIC_VALUE_MAX). buf: SMCP_METRIC_VALUE_MAX + 1 bytes. */
const char *sl_cgroup_label(const char *path, char *buf);

/* ------------------------------------------------------------ sl_notable.c */

/* State for notable events (allocated once: the step allocates nothing).
 * 0 or -ENOMEM. fini accepts a plugin without it. */
int sl_notable_init(struct sl *p);
void sl_notable_fini(struct sl *p);
/* Once per history step, after the tick, with the per-CPU map just read
 * (cumulative): judge latency outliers per CPU and migration bursts, and
 * publish notable.* events. now_ns 0: set the baseline only. */
void sl_notable_step(struct sl *p, const struct sl_cpu_stats *v, uint64_t now_ns);
/* Once per history step for each sched_ext DSQ the metrics publish, with its
 * cumulative wait histogram (hist, SL_NB) and depth (< 0: unknown): judge
 * its tail against its own usual one (judge: that DSQ's state, kept by the
 * caller) and publish notable.dsq_latency. */
struct sl_judge;
void sl_notable_dsq(struct sl *p, struct sl_judge *judge, const char *dsq, const uint64_t *hist,
		    int64_t depth, uint64_t now_ns);

/* ------------------------------------- sl_measure.c, sl_wakers.c, sl_call.c */

int sl_measure_register(struct sl *p);
int sl_wakers_register(struct sl *p);
int sl_stream_register(struct sl *p); /* control_event_tracking, in sl_stream.c */
void sl_calls_fini(struct sl *p);
/* Record a tick now (measurements; at most one per 50 ms). */
void sl_tick_now(struct sl *p);
/* Bring the thread and process tables up to date without recording a
 * tick (readers of since-start data). */
void sl_refresh_tasks(struct sl *p);
/* Set when running is false: resources answer with this. */
int sl_unavailable(struct sl *p, struct smcp_result *res, bool tool);

#endif
