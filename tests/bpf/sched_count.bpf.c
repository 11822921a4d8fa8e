// SPDX-License-Identifier: GPL-2.0
/* Build-chain smoke test: count sched_switch per CPU with tp_btf, or with
 * raw_tp where BTF-enabled tracepoints are missing (chosen by autoload). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} switches SEC(".maps");

static __always_inline int count(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&switches, &zero);

	if (v)
		(*v)++;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(count_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return count();
}

SEC("raw_tp/sched_switch")
int BPF_PROG(count_raw)
{
	return count();
}

char LICENSE[] SEC("license") = "GPL";
