// SPDX-License-Identifier: GPL-2.0
/* Test load for bpf_inventory: a struct_ops map (a do-nothing TCP congestion
 * control, which every kernel with struct_ops has) so that grouping of ops
 * programs under their struct_ops "scheduler" can be checked on kernels
 * without sched_ext. It is registered but never chosen by any socket. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("struct_ops/smcp_ssthresh")
__u32 BPF_PROG(smcp_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/smcp_undo_cwnd")
__u32 BPF_PROG(smcp_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/smcp_cong_avoid")
void BPF_PROG(smcp_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops smcp_test_cc = {
	.ssthresh = (void *)smcp_ssthresh,
	.undo_cwnd = (void *)smcp_undo_cwnd,
	.cong_avoid = (void *)smcp_cong_avoid,
	.name = "smcp_test_cc",
};

char LICENSE[] SEC("license") = "GPL";
