/* SPDX-License-Identifier: MIT */
/* BPF links: what each one attaches its program to, in words. */
#include "inv.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

/*
 * struct bpf_link_info as Linux 6.18 lays it out. The build's uapi header
 * (6.1) lacks the perf_event, struct_ops, netfilter, kprobe_multi, tcx...
 * members; the kernel fills as much as both sides know and accepts a
 * larger buffer as long as the part it does not know is zero.
 */
typedef uint64_t u64a __attribute__((aligned(8)));

struct link_info {
	uint32_t type, id, prog_id;
	union {
		struct {
			u64a tp_name;
			uint32_t tp_name_len;
		} raw_tracepoint;
		struct {
			uint32_t attach_type, target_obj_id, target_btf_id;
		} tracing;
		struct {
			u64a cgroup_id;
			uint32_t attach_type;
		} cgroup;
		struct {
			u64a target_name;
			uint32_t target_name_len;
			uint32_t map_id;
		} iter;
		struct {
			uint32_t netns_ino, attach_type;
		} netns;
		struct {
			uint32_t ifindex;
		} xdp;
		struct {
			uint32_t map_id;
		} struct_ops;
		struct {
			uint32_t pf, hooknum;
			int32_t priority;
			uint32_t flags;
		} netfilter;
		struct {
			u64a addrs;
			uint32_t count, flags;
			u64a missed, cookies;
		} kprobe_multi;
		struct {
			u64a path, offsets, ref_ctr_offsets, cookies;
			uint32_t path_size, count, flags, pid;
		} uprobe_multi;
		struct {
			uint32_t type, pad;
			union {
				struct {
					u64a file_name;
					uint32_t name_len, offset;
				} uprobe;
				struct {
					u64a func_name;
					uint32_t name_len, offset;
					u64a addr, missed;
				} kprobe;
				struct {
					u64a tp_name;
					uint32_t name_len;
				} tracepoint;
				struct {
					u64a config;
					uint32_t type;
				} event;
			};
		} perf_event;
		struct {
			uint32_t ifindex, attach_type;
		} tcx, netkit;
		struct {
			uint32_t map_id, attach_type;
		} sockmap;
		uint8_t raw[96];
	};
} __attribute__((aligned(8)));

/* link types newer than the build's uapi header */
enum {
	LINK_NETFILTER = 10,
	LINK_TCX = 11,
	LINK_UPROBE_MULTI = 12,
	LINK_NETKIT = 13,
	LINK_SOCKMAP = 14,
};

enum { PERF_UPROBE = 1, PERF_URETPROBE, PERF_KPROBE, PERF_KRETPROBE, PERF_TRACEPOINT,
       PERF_EVENT };

static void ifname(uint32_t ifindex, char *buf, size_t len)
{
	char n[IF_NAMESIZE];

	if (ifindex && if_indextoname(ifindex, n))
		snprintf(buf, len, "%s", n);
	else
		snprintf(buf, len, "ifindex %u", ifindex);
}

/* Fetch a link's info again with buffers for the strings its type has. */
static void link_target(int fd, struct link_info *li, struct inv_snap *s, struct inv_btf *btf,
			char *out, size_t len)
{
	char str[PATH_MAX] = "", at[48], dev[IF_NAMESIZE + 16];
	__u32 ilen = sizeof(*li);
	uint32_t type = li->type;

	memset(li, 0, sizeof(*li));
	switch (type) {
	case BPF_LINK_TYPE_RAW_TRACEPOINT:
		li->raw_tracepoint.tp_name = (uintptr_t)str;
		li->raw_tracepoint.tp_name_len = sizeof(str);
		break;
	case BPF_LINK_TYPE_ITER:
		li->iter.target_name = (uintptr_t)str;
		li->iter.target_name_len = sizeof(str);
		break;
	case BPF_LINK_TYPE_PERF_EVENT:
		/* the name pointer sits at the same place for uprobe, kprobe
		 * and tracepoint */
		li->perf_event.kprobe.func_name = (uintptr_t)str;
		li->perf_event.kprobe.name_len = sizeof(str);
		break;
	case LINK_UPROBE_MULTI:
		li->uprobe_multi.path = (uintptr_t)str;
		li->uprobe_multi.path_size = sizeof(str);
		break;
	default:
		break;
	}
	if (bpf_obj_get_info_by_fd(fd, li, &ilen)) {
		out[0] = '\0';
		return;
	}
	str[sizeof(str) - 1] = '\0';
	switch (type) {
	case BPF_LINK_TYPE_RAW_TRACEPOINT: {
		const struct inv_prog *p = inv_find_prog(s, li->prog_id);

		snprintf(out, len, "%s/%s",
			 p && p->type == BPF_PROG_TYPE_TRACING ? "tp_btf" : "raw_tp", str);
		break;
	}
	case BPF_LINK_TYPE_TRACING: {
		const struct inv_prog *p = inv_find_prog(s, li->prog_id);

		inv_btf_target(btf, p ? p->type : BPF_PROG_TYPE_TRACING,
			       li->tracing.attach_type, li->tracing.target_obj_id,
			       li->tracing.target_btf_id, out, len);
		if (!out[0])
			snprintf(out, len, "%s btf type %u of object %u",
				 inv_attach_type_name(li->tracing.attach_type, at, sizeof(at)),
				 li->tracing.target_btf_id, li->tracing.target_obj_id);
		break;
	}
	case BPF_LINK_TYPE_CGROUP:
		snprintf(out, len, "cgroup id %llu, %s", (unsigned long long)li->cgroup.cgroup_id,
			 inv_attach_type_name(li->cgroup.attach_type, at, sizeof(at)));
		break;
	case BPF_LINK_TYPE_ITER:
		if (li->iter.map_id)
			snprintf(out, len, "iter/%s (map %u)", str, li->iter.map_id);
		else
			snprintf(out, len, "iter/%s", str);
		break;
	case BPF_LINK_TYPE_NETNS:
		snprintf(out, len, "netns inode %u, %s", li->netns.netns_ino,
			 inv_attach_type_name(li->netns.attach_type, at, sizeof(at)));
		break;
	case BPF_LINK_TYPE_XDP:
		ifname(li->xdp.ifindex, dev, sizeof(dev));
		snprintf(out, len, "xdp on %s", dev);
		break;
	case BPF_LINK_TYPE_PERF_EVENT:
		switch (li->perf_event.type) {
		case PERF_KPROBE:
		case PERF_KRETPROBE:
			snprintf(out, len, "%s/%s",
				 li->perf_event.type == PERF_KPROBE ? "kprobe" : "kretprobe", str);
			if (li->perf_event.kprobe.offset && strlen(out) + 12 < len)
				snprintf(out + strlen(out), len - strlen(out), "+%u",
					 li->perf_event.kprobe.offset);
			break;
		case PERF_UPROBE:
		case PERF_URETPROBE:
			snprintf(out, len, "%s %s+0x%x",
				 li->perf_event.type == PERF_UPROBE ? "uprobe" : "uretprobe", str,
				 li->perf_event.uprobe.offset);
			break;
		case PERF_TRACEPOINT:
			snprintf(out, len, "tracepoint/%s", str);
			break;
		case PERF_EVENT:
			snprintf(out, len, "perf event type %u config %llu",
				 li->perf_event.event.type,
				 (unsigned long long)li->perf_event.event.config);
			break;
		default:
			snprintf(out, len, "perf event");
		}
		break;
	case BPF_LINK_TYPE_KPROBE_MULTI:
		snprintf(out, len, "%s on %u functions",
			 li->kprobe_multi.flags & 1 ? "kretprobe_multi" : "kprobe_multi",
			 li->kprobe_multi.count);
		break;
	case BPF_LINK_TYPE_STRUCT_OPS: {
		const struct inv_map *m = inv_find_map(s, li->struct_ops.map_id);

		snprintf(out, len, "struct_ops map %u%s%s%s", li->struct_ops.map_id,
			 m ? " (" : "", m ? m->name : "", m ? ")" : "");
		break;
	}
	case LINK_NETFILTER:
		snprintf(out, len, "netfilter pf %u hook %u priority %d", li->netfilter.pf,
			 li->netfilter.hooknum, li->netfilter.priority);
		break;
	case LINK_TCX:
	case LINK_NETKIT:
		ifname(li->tcx.ifindex, dev, sizeof(dev));
		snprintf(out, len, "%s on %s", inv_attach_type_name(li->tcx.attach_type, at,
								      sizeof(at)), dev);
		break;
	case LINK_UPROBE_MULTI:
		snprintf(out, len, "uprobe_multi %s (%u offsets, pid %u)", str,
			 li->uprobe_multi.count, li->uprobe_multi.pid);
		break;
	case LINK_SOCKMAP:
		snprintf(out, len, "sockmap map %u, %s", li->sockmap.map_id,
			 inv_attach_type_name(li->sockmap.attach_type, at, sizeof(at)));
		break;
	default:
		snprintf(out, len, "%s link", inv_link_type_name(type, at, sizeof(at)));
	}
}

int inv_scan_links(struct inv_snap *s, struct inv_btf *btf)
{
	size_t cap = 0;
	__u32 id = 0;
	int fd, err;

	while ((fd = inv_open_next(bpf_link_get_next_id, bpf_link_get_fd_by_id, &id,
				   &s->vanished)) >= 0) {
		struct link_info li;
		struct inv_link *l;
		struct inv_prog *p;

		err = inv_grow((void **)&s->links, &cap, s->n_links, sizeof(*s->links));
		if (err) {
			close(fd);
			return err;
		}
		l = &s->links[s->n_links];
		memset(&li, 0, sizeof(li));
		if (!inv_get_info(fd, &li, sizeof(li), &s->vanished))
			continue;
		l->id = li.id;
		l->type = li.type;
		l->prog_id = li.prog_id;
		link_target(fd, &li, s, btf, l->target, sizeof(l->target));
		close(fd);
		p = (struct inv_prog *)inv_find_prog(s, l->prog_id);
		if (p)
			p->n_links++;
		s->n_links++;
	}
	return fd == -ENOENT ? 0 : fd;
}
