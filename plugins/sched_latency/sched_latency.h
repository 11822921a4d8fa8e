/* SPDX-License-Identifier: MIT */
/*
 * Types shared by the sched_latency BPF programs (sched_latency.bpf.c,
 * sched_latency_dsq.bpf.c) and the plugin's user side. Fixed-width types
 * only, no pointers: the same bytes are read on both sides.
 *
 * Histogram buckets (SL_HIST_BUCKETS): log2 octaves of microseconds, each
 * split into four linear sub-buckets, so a bucket is at most 25% wide and
 * the octave boundaries are exactly those of libbpf-tools runqlat
 * ([2^k, 2^(k+1)) us). Buckets 0..3 are [0,250), [250,500), [500,750) and
 * [750,1000) ns; bucket 4 + 4k + s (k = 0..24, s = 0..3) starts at
 * 250 * 2^k * (4 + s) ns. The last bucket also holds everything above
 * 2^25 us (about 33.5 s).
 */
#ifndef SCHED_LATENCY_H
#define SCHED_LATENCY_H

#define SL_HIST_BUCKETS 104
#define SL_HIST_OCTAVES 25
#define SL_COMM_LEN 16
/* CPU ids at or above this are counted in totals but not per CPU. */
#define SL_MAX_CPUS 4096
/* Concurrent filtered measure_latency calls. */
#define SL_MEASURE_SLOTS 4
/* DSQ ids a depth query asks about at once. */
#define SL_DEPTH_IDS 64

/* Event stream types (bit mask in struct sl_stream_ctl.type_mask). */
enum sl_event_type {
	SL_EV_SWITCH = 1,     /* sched_switch: next ran after waiting latency_ns */
	SL_EV_WAKEUP = 2,     /* sched_wakeup: pid woken by other_pid */
	SL_EV_WAKEUP_NEW = 4, /* sched_wakeup_new: a new task became runnable */
	SL_EV_MIGRATE = 8,    /* sched_migrate_task: src_cpu -> dst_cpu */
	SL_EV_DSQ_INSERT = 16, /* sched_ext: pid inserted (or moved) into DSQ dsq_id */
};
#define SL_EV_NTYPES 5
#define SL_EV_ALL \
	(SL_EV_SWITCH | SL_EV_WAKEUP | SL_EV_WAKEUP_NEW | SL_EV_MIGRATE | SL_EV_DSQ_INSERT)

/* struct sl_event.flags */
enum sl_event_flags {
	SL_EVF_PREEMPTED = 1, /* switch: prev was preempted */
	SL_EVF_DSQ = 2,       /* dsq_id is set: the DSQ the task ran from (switch: see
			       * dsq_wait_ns), is queued in (wakeup, migrate) or entered
			       * (dsq_insert) */
	SL_EVF_FROM_DSQ = 4,  /* dsq_insert by a move: from_dsq_id is the DSQ it left */
};

/* How a task last became runnable (struct sl_task.enq_reason). */
enum sl_enq_reason {
	SL_ENQ_NONE = 0,
	SL_ENQ_WAKEUP,
	SL_ENQ_WAKEUP_NEW,
	SL_ENQ_PREEMPT, /* switched out while still runnable */
	SL_ENQ_SLEPT,   /* switched out blocked: its next switch-in follows a wakeup
			 * (the kernel's clock: no wakeup program needed) */
};

/*
 * Per-CPU counters, one PERCPU_ARRAY entry: each CPU writes only its own
 * copy, so no atomics are needed. Cumulative since load; user space
 * computes windows from differences.
 */
struct sl_cpu_stats {
	__u64 switches;             /* every sched_switch (matches /proc/stat ctxt) */
	__u64 switches_voluntary;   /* prev blocked (slept, waited for I/O or a lock) */
	__u64 switches_involuntary; /* prev was preempted or yielded, still runnable */
	__u64 switches_to_idle;     /* next is the idle task */
	__u64 wakeups_waker;        /* sched_waking run on this CPU (the waker's CPU) */
	__u64 wakeups_target;       /* woken tasks that then ran on this CPU */
	__u64 migrations_in;        /* tasks that ran here after running elsewhere */
	__u64 migrations_in_xllc;   /* ... elsewhere in another LLC */
	__u64 migrations_in_xnode;  /* ... elsewhere in another NUMA node */
	__u64 waits;                /* run-queue latency samples of tasks run here */
	__u64 wait_ns;              /* their sum */
	__u64 wait_max_ns;
	__u64 slices;               /* non-idle tasks switched out here */
	__u64 run_ns;               /* the time they ran */
	__u64 ev_sent;              /* stream events written to the ring buffer */
	__u64 ev_dropped;           /* stream events lost: ring buffer full */
	__u64 ev_rate_limited;      /* stream events over the rate limit */
	__u64 rl_window_ns;         /* rate limiter: start of the current 100 ms */
	__u64 rl_count;             /* rate limiter: events in it */
	__u64 oncpu_ts;             /* the kernel's clock: when the current task got
				     * this CPU (its slice is timed here) */
	__u64 wait_hist[SL_HIST_BUCKETS];
	__u64 slice_hist[SL_HIST_BUCKETS];
};

/*
 * Counters attributed to a CPU other than the one the program runs on
 * (ARRAY indexed by CPU, updated atomically; one cache line each).
 */
struct sl_cpu_remote {
	__u64 migrations_out;       /* tasks that ran elsewhere after running here */
	__u64 migrations_out_xllc;  /* ... in another LLC */
	__u64 migrations_out_xnode; /* ... in another NUMA node */
	__u64 pad[5];
};

/*
 * Cumulative statistics of one thread, kept in its slot of task_slots or
 * its task storage (or, with raw_tp, in a tid-keyed LRU hash) and exported
 * as is: by an iter/task program for threads that changed, and through the
 * exits ring buffer when a thread exits. Processes are folded from their
 * threads in user space.
 * Written only by the CPU the thread is switching on or being woken by, so
 * plain increments. hist counts are 32-bit and wrap; user space diffs them
 * modulo 2^32.
 */
struct sl_task_stats {
	__u64 waits;
	__u64 wait_ns;
	__u64 wait_max_ns;
	__u64 switches_voluntary;
	__u64 switches_involuntary;
	__u64 run_ns;
	__u64 wakeups;    /* times this thread was woken */
	__u64 migrations; /* times it ran on another CPU than the time before */
	__u32 tid;
	__u32 tgid;
	__u32 last_cpu;
	__u32 exited;     /* 1 in exit records */
	char comm[SL_COMM_LEN];
	__u32 hist[SL_HIST_BUCKETS];
};

/* Scheduling state of one task (a slot of task_slots, task storage, or an LRU
 * hash by tid). */
struct sl_task {
	/* the first 56 bytes are all a wakeup touches */
	__u64 enq_ts;      /* when it last became runnable; 0 = not known (the
			    * kernel's clock: sched_info.run_delay after its last wait) */
	__u64 oncpu_ts;    /* when it last switched in; 0 = not known (the kernel's
			    * clock: se.sum_exec_runtime at its last switch-in) */
	__u64 gen;         /* bumped on every change of st */
	__u64 exported;    /* gen at the last export */
	__u32 waker_pid, waker_tgid; /* who woke it last (while someone looks) */
	__u32 enq_reason;  /* enum sl_enq_reason */
	__u32 waker_cpu;   /* CPU + 1 the waker ran on (analyze_waker_wakee); 0 unknown */
	__u32 ran_on;      /* CPU + 1 it last ran on; 0 = not seen running */
	__u32 wakeups;     /* wakeups not yet added to st.wakeups */
	__u32 inited;      /* st.tid and st.tgid are set */
	/* the kernel's clock: nvcsw and nivcsw at its last switch-in, and
	 * whether these baselines are set */
	__u32 nvcsw, nivcsw, based;
	/* per-cgroup latency: the slot of cg_stats of its cgroup (+ 1; 0: none)
	 * while no task moved between cgroups since cg_epoch, and checked
	 * against its cgroup id every SL_CG_RECHECK switch-ins anyway; kept
	 * before st, on the lines a switch-in touches anyway */
	__u32 cg_slot;
	__u32 cg_checks;
	__u64 cg_epoch;
	/* task_slots: the address of the task_struct holding the slot, which
	 * with st.tid tells it from an earlier thread of the same tid */
	__u64 slot_task;
	/* st.tid and st.tgid, one 64-bit word, are a slot's owner tag: 0 while
	 * the slot is free, claimed with a compare-and-swap (sched_latency.bpf.c) */
	struct sl_task_stats st;
};
_Static_assert(__builtin_offsetof(struct sl_task, st.tid) % 8 == 0 &&
		       __builtin_offsetof(struct sl_task, st.tgid) ==
			       __builtin_offsetof(struct sl_task, st.tid) + 4,
	       "a slot's tag (st.tid, st.tgid) must be one aligned 64-bit word");
#define SL_CG_RECHECK 64

/* Event stream filter, in .bss so user space changes it at run time. */
struct sl_stream_ctl {
	__u32 enabled;
	__u32 type_mask;     /* enum sl_event_type bits */
	__u32 pid;           /* 0: any; else tid or tgid of the subject or the other task */
	__s32 cpu;           /* -1: any */
	__u64 min_latency_ns; /* switch events: only waits at least this long */
	__u64 per_cpu_per_100ms; /* rate limit per CPU */
};

/* One record of the event ring buffer. */
struct sl_event {
	__u64 ts_ns;
	__u64 latency_ns;    /* switch: how long next waited to run; 0 unknown */
	__u32 type;          /* enum sl_event_type */
	__u32 cpu;           /* CPU it happened on (wakeup: the target CPU) */
	__u32 pid, tgid;     /* next / wakee / migrated task */
	__u32 other_pid, other_tgid; /* switch: prev; wakeup: the waker */
	__s32 src_cpu, dst_cpu;      /* migrate */
	__u32 prev_state;    /* switch: prev's state; 0 = still runnable */
	__u32 flags;         /* enum sl_event_flags */
	char comm[SL_COMM_LEN];
	char other_comm[SL_COMM_LEN];
	/* sched_ext, while the DSQ hooks are attached (SL_EVF_DSQ) */
	__u64 dsq_id;
	__u64 dsq_wait_ns;   /* switch: insert -> run in dsq_id */
	__u64 from_dsq_id;   /* dsq_insert: SL_EVF_FROM_DSQ */
};

/* A filtered measurement (measure_latency) in .bss; 0 fields match all. */
struct sl_measure_ctl {
	__u32 active;
	__u32 pid;   /* tid or tgid */
	__s32 cpu;   /* -1: any */
	__u32 cgroup_level; /* depth of cgroup_id below the root */
	__u64 cgroup_id;    /* cgroup v2 id (inode); 0: any */
};

struct sl_measure {
	__u64 waits;
	__u64 wait_ns;
	__u64 wait_max_ns;
	__u64 switches_in; /* switch-ins of matching tasks, with or without a sample */
	__u64 hist[SL_HIST_BUCKETS];
};

/*
 * Per-cgroup run-queue latency (cumulative since load), keyed by the cgroup
 * id of the task that gets the CPU: cg_slots maps the id to a slot of the
 * PERCPU_ARRAY cg_stats (struct sl_measure, as a measurement slot's),
 * taken from the cg_free queue the first time; user
 * space gives the slots of removed cgroups back. Which hierarchy the id
 * comes from is chosen by user space before load (enum sl_cg_mode).
 */
enum sl_cg_mode {
	SL_CGM_OFF = 0,
	SL_CGM_V2 = 1,     /* task->cgroups->dfl_cgrp->kn->id */
	SL_CGM_V1_CPU = 2, /* task->cgroups->subsys[cpu_cgrp_id]->cgroup->kn->id */
};

/* Waker -> wakee pairs while analyze_waker_wakee runs (LRU hash). */
struct sl_wake_key {
	__u32 waker_pid;
	__u32 wakee_pid;
};

struct sl_wake_val {
	__u64 wakeups;
	__u64 waits;   /* wakee switch-ins that followed these wakeups */
	__u64 wait_ns; /* and how long the wakee waited */
	__u64 wait_max_ns;
	/* where the wakee was put, against the CPU the waker ran on (at
	 * sched_waking): the same CPU, another LLC, another NUMA node */
	__u64 same_cpu, cross_llc, cross_node;
	__u32 waker_tgid, wakee_tgid;
	char waker_comm[SL_COMM_LEN];
	char wakee_comm[SL_COMM_LEN];
};

/* Softirq handling while analyze_softirq runs: per CPU and vector (a
 * PERCPU_ARRAY indexed by vector), and per process whose context ran it. */
#define SL_NR_SOFTIRQS 10 /* HI .. RCU, as in /proc/softirqs */
#define SL_SOFTIRQ_PROCS 4096 /* process table entries (LRU) */

struct sl_softirq_stat {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
	__u64 hist[SL_HIST_BUCKETS]; /* handler duration */
};

struct sl_softirq_key {
	__u32 tgid; /* the process that was current: interrupted, or ksoftirqd */
	__u32 vec;
};

struct sl_softirq_proc {
	__u64 count;
	__u64 total_ns;
	char comm[SL_COMM_LEN];
};

/* ------------------------------------------------------------- sched_ext */

/* Per-DSQ counters (hash by DSQ id), cumulative, updated atomically. */
struct sl_dsq_stats {
	__u64 inserted;  /* tasks inserted (or moved) into this DSQ */
	__u64 consumed;  /* tasks moved out of it to a local DSQ by the scheduler */
	__u64 ran;       /* tasks that ran after waiting in it */
	__u64 wait_ns;   /* insert -> run, summed over ran */
	__u64 wait_max_ns;
	__u64 hist[SL_HIST_BUCKETS];
};

/*
 * Task state of the DSQ programs (task storage, one map that both BPF
 * objects declare: the stream's switch events in sched_latency.bpf.c read
 * it). The ran_* copy of the last insert that ended in a run lets a switch
 * event find its DSQ whichever sched_switch program runs first.
 */
struct sl_dsq_task {
	__u64 dsq_id;
	__u64 insert_ts;   /* 0: not in a DSQ we saw */
	__u64 ran_dsq_id;  /* the DSQ it last ran from */
	__u64 ran_ts;      /* when (its switch-in) */
	__u64 ran_wait_ns; /* insert -> run that time */
};

#endif
