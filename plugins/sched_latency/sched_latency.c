/* SPDX-License-Identifier: MIT */
/*
 * sched_latency plugin: run-queue latency, scheduler counters, sched_ext
 * DSQ statistics and the live scheduler event stream, from BPF.
 *
 * The kernel keeps cumulative counters and histograms (sched_latency.bpf.c);
 * once per step of the core's history (its collect callback, sl_metrics.c:
 * the core's tick, not a timer of the plugin's own) they are read, what
 * changed is recorded, and the metrics are published, so every answer can
 * name a window (last 1 s, 10 s, 60 s, or since start) without any reader
 * resetting another's data. Without the privileges or
 * kernel features BPF needs, the plugin stays loaded but degraded, and
 * every resource and tool answers with the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <linux/capability.h>

#include "sl.h"
#include "sl_cgtool.h"
#include "sl_steps.h"

#define MIN_TICK_GAP_NS 50000000ull
/* changes recorded per tick and series (beyond: the window says incomplete) */
#define SLOT_CAP_BYTES (128 * 1024)

static const struct smcp_config_key config_keys[] = {
	{ sizeof(struct smcp_config_key), "max_threads", SMCP_CONFIG_INT, "8192",
	  "threads kept for the per-thread views (about 0.5 KiB each; the least recently "
	  "active make room)",
	  256, 1 << 17 },
	{ sizeof(struct smcp_config_key), "max_processes", SMCP_CONFIG_INT, "4096",
	  "processes kept for the per-process views (about 1 KiB each)", 128, 1 << 16 },
	{ sizeof(struct smcp_config_key), "ring_buffer_kb", SMCP_CONFIG_INT, "256",
	  "event stream ring buffer between BPF and the daemon (rounded up to a power of 2)",
	  16, 1 << 16 },
	{ sizeof(struct smcp_config_key), "max_events_per_s", SMCP_CONFIG_INT, "200",
	  "live events published per second at most; the rest are counted as lost", 1, 100000 },
	{ sizeof(struct smcp_config_key), "stream_at_start", SMCP_CONFIG_BOOL, "false",
	  "publish sched.* events from start-up (all types, no filter) without "
	  "control_event_tracking",
	  0, 0 },
	{ sizeof(struct smcp_config_key), "waker_cpu", SMCP_CONFIG_BOOL, "false",
	  "also count wakeups on the waker's CPU (one more BPF program on every wakeup, "
	  "about 130 ns)",
	  0, 0 },
	{ sizeof(struct smcp_config_key), "latency_per_cpu_max_cpus", SMCP_CONFIG_INT, "64",
	  "publish the sched_runq_latency_ns metric per CPU on machines with at most this many "
	  "CPUs (each series keeps up to ~0.5 MiB of history), per LLC above",
	  0, SL_MAX_CPUS },
	{ sizeof(struct smcp_config_key), "programs", SMCP_CONFIG_STRING, "auto",
	  "auto (tp_btf, else raw_tp), tp_btf or raw_tp", 0, 0 },
	{ sizeof(struct smcp_config_key), "dsq", SMCP_CONFIG_BOOL, "true",
	  "hook the sched_ext DSQ kfuncs when the kernel has them", 0, 0 },
	{ sizeof(struct smcp_config_key), "latency_clock", SMCP_CONFIG_STRING, "kernel",
	  "kernel: run-queue latency from the scheduler's own bookkeeping (no program on "
	  "wakeups; where the kernel has it, else ktime); ktime: stamped at sched_wakeup as "
	  "runqlat does (exact to the ns, a program and a clock read more per wakeup)",
	  0, 0 },
	{ sizeof(struct smcp_config_key), "cgroup_max", SMCP_CONFIG_INT, "256",
	  "cgroups whose run-queue latency BPF keeps (a histogram of ~0.9 KiB per cgroup and "
	  "CPU); more are counted as not tracked; 0: per-cgroup latency off",
	  0, 65536 },
	{ sizeof(struct smcp_config_key), "task_slots", SMCP_CONFIG_INT, "8192",
	  "per-thread state slots BPF indexes by thread id (608 B of kernel memory each, "
	  "rounded down to a power of two, at most the next power of two over pid_max); a "
	  "thread whose slot another holds is kept in task storage, slower; 0: task storage "
	  "only",
	  0, 1 << 18 },
	{ sizeof(struct smcp_config_key), "cgroup_hierarchy", SMCP_CONFIG_STRING, "auto",
	  "the hierarchy per-cgroup latency is keyed by: auto (cgroup v2 when it has the cpu "
	  "controller, else the v1 cpu hierarchy), v1, v2 or off",
	  0, 0 },
	{ sizeof(struct smcp_config_key), "container_state_root", SMCP_CONFIG_STRING, NULL,
	  "for tests only: the directory below which the container runtimes' state "
	  "(var/lib/docker, var/lib/containers, var/log/pods) is read to resolve container and "
	  "pod names; unset: the daemon's fs root (/ on a live host)",
	  0, 0 },
	{ 0 },
};

static struct sl plugin;

static uint64_t cost_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void tick_tasks(struct sl *p, bool procs, uint64_t now)
{
	struct sl_window_input *in = NULL;
	uint64_t *store = NULL;
	int n = sl_tasks_series_inputs(&p->tasks, procs, p->series_fed, &in, &store);

	if (n >= 0)
		(void)sl_window_tick(procs ? &p->w_proc : &p->w_thread, now, in, (size_t)n,
				     p->start_ns);
	free(in);
	free(store);
}

void sl_refresh_tasks(struct sl *p)
{
	/* a burst of reads runs the task iterator at most every 50 ms */
	if (p->running && p->api->now_ns(p->h) - sl_bpf_collected_ns(p) >= MIN_TICK_GAP_NS)
		(void)sl_bpf_collect_tasks(p);
}

void sl_tick_now(struct sl *p)
{
	uint64_t now = p->api->now_ns(p->h), t0 = cost_clock_ns();
	struct sl_window_input *in = NULL;
	struct sl_cpu_snap s;
	int n;

	if (!p->running || (p->ticks && now - p->w_cpu.last_tick_ns < MIN_TICK_GAP_NS))
		return;
	if (sl_bpf_read_cpus(p, &s) == 0) {
		n = sl_cpu_inputs(p, &s, &in);
		if (n >= 0)
			(void)sl_window_tick(&p->w_cpu, now, in, (size_t)n, p->start_ns);
		free(in);
		sl_stream_tick(p, &s);
		sl_cpu_snap_free(&s);
	}
	(void)sl_bpf_collect_tasks(p);
	tick_tasks(p, false, now);
	tick_tasks(p, true, now);
	/* what exited and did not change since this tick leaves the series at
	 * the next: its last change is recorded (sl_tasks_series_inputs) */
	p->series_fed = p->tasks.tick;
	sl_dsq_tick(p, now);
	sl_cgroup_tick(p, now);
	p->ticks++;
	p->tick_cost_ns = cost_clock_ns() - t0;
}

static void sl_fini(struct smcp_host *h)
{
	struct sl *p = &plugin;

	if (!p->api)
		return;
	sl_calls_fini(p);
	sl_metrics_fini(p);
	sl_numa_fini(p);
	sl_cgnotable_fini(p);
	sl_stream_fini(p);
	sl_dsq_fini(p);
	sl_bpf_stop(p);
	sl_cgroup_fini(p);
	sl_window_free(&p->w_cpu);
	sl_window_free(&p->w_thread);
	sl_window_free(&p->w_proc);
	sl_tasks_free(&p->tasks);
	sl_topo_free(&p->topo);
	memset(p, 0, sizeof(*p));
}

/* scxtop's names for what this plugin does (or has no need for), answered
 * when a client calls them. */
static int register_hints(struct sl *p)
{
	static const struct {
		const char *glob, *text;
	} hints[] = {
		{ "control_analyzers",
		  "schedmcp needs no analyzer started: measure_latency, analyze_waker_wakee and "
		  "analyze_softirq collect when called, and the stats:// resources are always "
		  "current." },
		{ "run_all_analyzers",
		  "schedmcp reads no trace files: for a whole-system view use the "
		  "summarize_system prompt, for latency stats://aggregated/cpu." },
		{ "*perfetto*", "schedmcp observes the live system and reads no trace files; for "
				"live events use control_event_tracking and poll_events." },
		{ "*trace*", "schedmcp observes the live system and reads no trace files; for "
			     "live events use control_event_tracking and poll_events." },
	};
	int err = 0;

	for (size_t i = 0; !err && i < SMCP_COUNT(hints); i++)
		err = p->api->add_tool_hint(p->h, hints[i].glob, hints[i].text);
	return err;
}

static int sl_init(struct smcp_host *h, const struct smcp_host_api *api)
{
	/* what each part of the plugin offers, in this order */
	static int (*const registers[])(struct sl *) = {
		sl_resources_register, sl_measure_register, sl_stream_register,
		sl_wakers_register, sl_softirq_register, sl_numa_register, register_hints,
		sl_cgroup_register, sl_cgtool_register,
	};
	struct sl *p = &plugin;
	size_t cpu_cap;
	int err;

	memset(p, 0, sizeof(*p));
	p->h = h;
	p->api = api;
	p->stream.rb_fd = -1;
	/* map reads and attaching the optional and sched_ext DSQ programs on
	 * demand: since Linux 6.4 these need nothing, before it every bpf()
	 * command needs CAP_BPF when unprivileged BPF is off (the default).
	 * stats://numa/{pid}: /proc/PID/numa_maps is behind a ptrace read
	 * check, which another account's process (and, once the daemon left
	 * uid 0, every other process) passes only with CAP_SYS_PTRACE; only
	 * page counts per node leave that file (sl_numa.c) */
	err = api->keep_capabilities(h, 1ull << CAP_BPF | 1ull << CAP_SYS_PTRACE);
	if (err)
		return err;
	p->cfg.max_threads = smcp_config_int_or(h, api, "max_threads", 8192);
	p->cfg.max_procs = smcp_config_int_or(h, api, "max_processes", 4096);
	p->cfg.ring_kb = smcp_config_int_or(h, api, "ring_buffer_kb", 256);
	p->cfg.stream_rate = smcp_config_int_or(h, api, "max_events_per_s", 200);
	p->cfg.stream_at_start = smcp_config_bool_or(h, api, "stream_at_start", false);
	p->cfg.dsq = smcp_config_bool_or(h, api, "dsq", true);
	p->cfg.waker_cpu = smcp_config_bool_or(h, api, "waker_cpu", false);
	p->cfg.latency_per_cpu_max = smcp_config_int_or(h, api, "latency_per_cpu_max_cpus", 64);
	p->cfg.cgroup_max = smcp_config_int_or(h, api, "cgroup_max", 256);
	p->cfg.task_slots = smcp_config_int_or(h, api, "task_slots", 8192);
	{
		const char *v = NULL;

		(void)api->config_string(h, "programs", &v);
		if (!v || strcmp(v, "auto") == 0) {
			p->cfg.programs = SL_PROGS_AUTO;
		} else if (strcmp(v, "tp_btf") == 0) {
			p->cfg.programs = SL_PROGS_TP_BTF;
		} else if (strcmp(v, "raw_tp") == 0) {
			p->cfg.programs = SL_PROGS_RAW_TP;
		} else {
			api->set_status(h, true, "programs must be auto, tp_btf or raw_tp");
			return -EINVAL;
		}
	}
	p->start_ns = api->now_ns(h);
	p->stream.ctl.cpu = -1;

	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		snprintf(p->reason, sizeof(p->reason),
			 "cannot count the possible CPUs (/sys/devices/system/cpu/possible): %s",
			 strerror(p->ncpus ? -p->ncpus : EINVAL));
		p->ncpus = 1;
	}
	p->topo_ok = sl_topo_read(api->fs_root(h), p->ncpus, &p->topo) == 0;
	cpu_cap = (size_t)p->ncpus * 768 > SLOT_CAP_BYTES / 2 ? (size_t)p->ncpus * 768
							       : SLOT_CAP_BYTES / 2;
	err = sl_window_init(&p->w_cpu, SLC_N, SLC_NH, (size_t)p->ncpus, cpu_cap);
	if (!err)
		err = sl_tasks_init(&p->tasks, (size_t)p->cfg.max_threads,
				    (size_t)p->cfg.max_procs);
	if (!err)
		err = sl_window_init(&p->w_thread, SLT_N, 1, (size_t)p->cfg.max_threads,
				     SLOT_CAP_BYTES);
	if (!err)
		err = sl_window_init(&p->w_proc, SLT_N, 1, (size_t)p->cfg.max_procs,
				     SLOT_CAP_BYTES);
	for (size_t i = 0; !err && i < SMCP_COUNT(registers); i++)
		err = registers[i](p);
	if (!err)
		err = sl_steps_register(h, api);
	if (err)
		return err;

	if (!err) {
		const char *v = NULL, *root = NULL;

		(void)api->config_string(h, "container_state_root", &root);
		if (root && (root[0] != '/' || strlen(root) >= sizeof(p->cfg.container_state_root))) {
			api->set_status(h, true, "container_state_root must be an absolute path "
						 "shorter than 256 bytes");
			return -EINVAL;
		}
		snprintf(p->cfg.container_state_root, sizeof(p->cfg.container_state_root), "%s",
			 root ? root : "");
		(void)api->config_string(h, "cgroup_hierarchy", &v);
		if (v && strcmp(v, "auto") && strcmp(v, "v1") && strcmp(v, "v2") && strcmp(v, "off")) {
			api->set_status(h, true, "cgroup_hierarchy must be auto, v1, v2 or off");
			return -EINVAL;
		}
		err = sl_cgroup_init(p, v ? v : "auto");
		if (err)
			return err;
		v = NULL;
		(void)api->config_string(h, "latency_clock", &v);
		if (v && strcmp(v, "kernel") && strcmp(v, "ktime")) {
			api->set_status(h, true, "latency_clock must be kernel or ktime");
			return -EINVAL;
		}
		p->cfg.ktime_clock = v && strcmp(v, "ktime") == 0;
	}
	if (!p->reason[0] && sl_bpf_start(p) == 0)
		p->running = true;
	p->start_ns = api->now_ns(h); /* the counters start at attach */
	if (p->running) {
		err = sl_stream_init(p);
		if (err) {
			snprintf(p->reason, sizeof(p->reason),
				 "the event ring buffer cannot be watched: %s", strerror(-err));
			p->running = false;
		}
	}
	if (p->running) {
		if (p->cfg.stream_at_start) {
			p->stream.ctl = (struct sl_stream_ctl){ .enabled = 1,
								.type_mask = SL_EV_ALL,
								.cpu = -1 };
			sl_bpf_stream_apply(p);
		}
	} else {
		sl_bpf_stop(p);
		api->set_status(h, true, p->reason);
		api->log(h, SMCP_LOG_WARNING, "degraded: %s", p->reason);
	}
	err = sl_dsq_init(p);
	if (err)
		return err;
	/* after the BPF objects are loaded: long-lived allocations made while
	 * libbpf still holds the kernel's BTF would sit above it on the heap
	 * and keep the freed megabytes from being returned */
	if (p->running) {
		err = sl_metrics_init(p);
		if (err)
			return err;
	}
	err = sl_numa_init(p);
	if (!err)
		err = sl_cgnotable_init(p);
	if (err)
		return err;
	if (p->running)
		api->log(h, SMCP_LOG_INFO, "collecting with %s programs on %d CPUs", p->mode,
			 p->ncpus);
	return 0;
}

SMCP_PLUGIN_DEFINE("sched_latency", "0.1.0",
		   "run-queue and DSQ latency, scheduler counters and live events from BPF",
		   .config_keys = config_keys, .init = sl_init, .fini = sl_fini)
