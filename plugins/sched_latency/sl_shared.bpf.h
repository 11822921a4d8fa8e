/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps both sched_latency BPF objects declare. User space loads
 * sched_latency.bpf.c first and hands these maps (and the stream's ring
 * buffer) to sched_latency_dsq.bpf.c with bpf_map__reuse_fd, so the DSQ
 * programs share the stream's per-CPU rate limit and counters, and the
 * switch events can name the DSQ a task ran from. Loaded on its own (the
 * load test), the DSQ object just has private copies. Include after
 * vmlinux.h, bpf_helpers.h and sl_common.bpf.h, once.
 */
#ifndef SL_SHARED_BPF_H
#define SL_SHARED_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_cpu_stats);
} cpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_dsq_task);
} dsq_task SEC(".maps");

#endif
