// SPDX-License-Identifier: GPL-2.0
/* Test load for bpf_inventory: count sched_switch with tp_btf (raw_tp where
 * the kernel refuses tp_btf), so the inventory has a program that runs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} smcp_switches SEC(".maps");

static __always_inline int count(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&smcp_switches, &zero);

	if (v)
		(*v)++;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(smcp_inv_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return count();
}

SEC("raw_tp/sched_switch")
int BPF_PROG(smcp_inv_switch_raw)
{
	return count();
}

char LICENSE[] SEC("license") = "GPL";
