/* SPDX-License-Identifier: MIT */
/*
 * Names of BPF program, map, link and attach types, spelled as libbpf and
 * bpftool spell them. Kept here rather than asked of libbpf because the
 * build's libbpf (1.1 on bookworm) predates types the running kernel has.
 */
#include "inv.h"

#include <stdio.h>

#include <schedmcp/plugin.h> /* SMCP_COUNT */

static const char *const prog_types[] = {
	"unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit",
	"sock_ops", "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint",
	"cgroup_sock_addr", "lwt_seg6local", "lirc_mode2", "sk_reuseport",
	"flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable", "cgroup_sockopt",
	"tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
};

static const char *const map_types[] = {
	"unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash",
	"percpu_array", "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash",
	"lpm_trie", "array_of_maps", "hash_of_maps", "devmap", "sockmap", "cpumap",
	"xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray",
	"percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
	"struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
	"user_ringbuf", "cgrp_storage", "arena",
};

static const char *const link_types[] = {
	"unspec", "raw_tracepoint", "tracing", "cgroup", "iter", "netns", "xdp",
	"perf_event", "kprobe_multi", "struct_ops", "netfilter", "tcx", "uprobe_multi",
	"netkit", "sockmap",
};

static const char *const attach_types[] = {
	"cgroup_inet_ingress", "cgroup_inet_egress", "cgroup_inet_sock_create",
	"cgroup_sock_ops", "sk_skb_stream_parser", "sk_skb_stream_verdict",
	"cgroup_device", "sk_msg_verdict", "cgroup_inet4_bind", "cgroup_inet6_bind",
	"cgroup_inet4_connect", "cgroup_inet6_connect", "cgroup_inet4_post_bind",
	"cgroup_inet6_post_bind", "cgroup_udp4_sendmsg", "cgroup_udp6_sendmsg",
	"lirc_mode2", "flow_dissector", "cgroup_sysctl", "cgroup_udp4_recvmsg",
	"cgroup_udp6_recvmsg", "cgroup_getsockopt", "cgroup_setsockopt", "trace_raw_tp",
	"trace_fentry", "trace_fexit", "modify_return", "lsm_mac", "trace_iter",
	"cgroup_inet4_getpeername", "cgroup_inet6_getpeername",
	"cgroup_inet4_getsockname", "cgroup_inet6_getsockname", "xdp_devmap",
	"cgroup_inet_sock_release", "xdp_cpumap", "sk_lookup", "xdp", "sk_skb_verdict",
	"sk_reuseport_select", "sk_reuseport_select_or_migrate", "perf_event",
	"trace_kprobe_multi", "lsm_cgroup", "struct_ops", "netfilter", "tcx_ingress",
	"tcx_egress", "trace_uprobe_multi", "cgroup_unix_connect", "cgroup_unix_sendmsg",
	"cgroup_unix_recvmsg", "cgroup_unix_getpeername", "cgroup_unix_getsockname",
	"netkit_primary", "netkit_peer", "trace_kprobe_session", "trace_uprobe_session",
};

/* A type newer than this table reads "type_N" rather than nothing. */
static const char *lookup(const char *const *t, size_t n, uint32_t v, char *buf, size_t len)
{
	if (v < n)
		return t[v];
	snprintf(buf, len, "type_%u", v);
	return buf;
}

const char *inv_prog_type_name(uint32_t t, char *buf, size_t len)
{
	return lookup(prog_types, SMCP_COUNT(prog_types), t, buf, len);
}

const char *inv_map_type_name(uint32_t t, char *buf, size_t len)
{
	return lookup(map_types, SMCP_COUNT(map_types), t, buf, len);
}

const char *inv_link_type_name(uint32_t t, char *buf, size_t len)
{
	return lookup(link_types, SMCP_COUNT(link_types), t, buf, len);
}

const char *inv_attach_type_name(uint32_t t, char *buf, size_t len)
{
	return lookup(attach_types, SMCP_COUNT(attach_types), t, buf, len);
}
