/* SPDX-License-Identifier: MIT */
/*
 * Types shared by trace_record.bpf.c and user space: one record per kernel
 * event, written into a ring buffer by the BPF side. Fixed-width types, no
 * pointers. The hot events (switch, waking) reserve only TR_EV_SMALL bytes.
 */
#ifndef TRACE_RECORD_H
#define TRACE_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum tr_type {
	TR_SWITCH = 1,	   /* pid prev, a prev_state, b next_pid, c next_prio, d prev_prio, comm next */
	TR_WAKING,	   /* b pid, c prio, d target_cpu, comm */
	TR_WAKEUP_NEW,	   /* b pid, c prio, d target_cpu, comm */
	TR_MIGRATE,	   /* b pid, c prio, d orig_cpu, e dest_cpu, comm */
	TR_FORK,	   /* b parent_pid, c child_pid, comm parent, comm2 child */
	TR_EXEC,	   /* b pid, c old_pid, str filename */
	TR_EXIT,	   /* b pid, c tgid, d prio, comm */
	TR_IRQ_ENTRY,	   /* b irq, comm2 name */
	TR_IRQ_EXIT,	   /* b irq, c ret */
	TR_SOFTIRQ_ENTRY,  /* b vec */
	TR_SOFTIRQ_EXIT,   /* b vec */
	TR_CPU_FREQ,	   /* b state (kHz), c cpu_id */
	TR_CPU_IDLE,	   /* b state, c cpu_id */
	/* sched_ext, from trace_record_dsq.bpf.c (loaded only where the kernel
	 * has sched_ext): a dsq_id (u64 as s64), b the task's pid, comm */
	TR_DSQ_INSERT,	   /* c 1 when a move brought it from another DSQ */
	TR_DSQ_DISPATCH,   /* c how it left (enum tr_dsq_how), latency in d:e */
	TR_NTYPES
};

/* How a task left the DSQ of its insert (TR_DSQ_DISPATCH c). */
enum tr_dsq_how {
	TR_DSQ_RAN = 0,	     /* it ran: ts is the consume that took it, or the switch */
	TR_DSQ_MOVED = 1,    /* scx_bpf_dsq_move* took it to another DSQ */
};

/* TR_DSQ_DISPATCH's insert -> dispatch latency in ns: d high, e low half. */
#define TR_DSQ_LAT(ev) ((__u64)(__u32)(ev)->d << 32 | (__u64)(__u32)(ev)->e)

#define TR_COMM_LEN 16
#define TR_STR_LEN 64

struct tr_event {
	__u64 ts_ns; /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) */
	__u16 type;
	__u16 cpu;
	__u32 pid; /* the current task, as ftrace's common_pid */
	__s64 a;
	__s32 b, c, d, e;
	char comm[TR_COMM_LEN];
	/* records of switch, waking, wakeup_new, migrate, exit, softirq, irq
	 * exit, cpu_* end here (TR_EV_SMALL) */
	char comm2[TR_COMM_LEN];
	/* fork and irq entry end here (TR_EV_MID) */
	char str[TR_STR_LEN];
};

/* CPUs the programs' per-CPU counters cover (a record of a CPU past it is
 * not written and not counted). */
#define TR_MAX_CPUS 1024

#define TR_EV_SMALL 56 /* offsetof(struct tr_event, comm2) */
#define TR_EV_MID 72   /* offsetof(struct tr_event, str) */

/* Per-CPU counters, in the BPF object's per-CPU array "stats". */
struct tr_cpu_stats {
	__u64 seen[TR_NTYPES];	/* events the programs saw */
	__u64 lost[TR_NTYPES];	/* ... that found the ring buffer full */
};

/* One CPU's counters, padded to five cache lines (array "stats" in .bss;
 * trace_record_dsq.bpf.c has its own, counting its two types). */
struct tr_cpu_slot {
	struct tr_cpu_stats s;
	__u8 pad[320 - sizeof(struct tr_cpu_stats)];
};

/* One CPU's counters of the DSQ object (array "dsq_stats" in its .bss):
 * index 0 inserts, 1 dispatches; a cache line. */
struct tr_dsq_slot {
	__u64 seen[2], lost[2];
	__u64 pad[4];
};

#endif
