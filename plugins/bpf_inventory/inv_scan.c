/* SPDX-License-Identifier: MIT */
/* Walking every BPF program and map with the BPF syscall; links are in inv_links.c. */
#include "inv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <schedmcp/array.h>

int inv_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	int err;

	if (n >= INV_MAX_OBJECTS)
		return -E2BIG;
	err = smcp_array_grow(arr, cap, n, size, 64);
	if (!err)
		memset((char *)*arr + n * size, 0, size);
	return err;
}

int inv_open_next(int (*next)(uint32_t, uint32_t *), int (*by_id)(uint32_t), uint32_t *id,
		  size_t *vanished)
{
	for (;;) {
		/* libbpf 1.x returns -errno */
		int err = next(*id, id), fd;

		if (err)
			return err;
		fd = by_id(*id);
		if (fd >= 0)
			return fd;
		if (vanished)
			(*vanished)++; /* unloaded since get_next_id */
	}
}

bool inv_get_info(int fd, void *info, uint32_t len, size_t *vanished)
{
	if (!bpf_obj_get_info_by_fd(fd, info, &len))
		return true;
	close(fd);
	(*vanished)++;
	return false;
}

/* "memlock:\t4096" from this process's fdinfo of fd; -1 when absent. */
static int64_t fd_memlock(int fd)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "memlock:");
	return p ? strtoll(p + 8, NULL, 10) : -1;
}

static int scan_progs(struct inv_snap *s, char *why, size_t why_len)
{
	size_t cap = 0;
	__u32 id = 0;
	int err;

	for (;;) {
		struct bpf_prog_info info;
		struct bpf_func_info fi = { 0 };
		struct inv_prog *p;
		int fd = inv_open_next(bpf_prog_get_next_id, bpf_prog_get_fd_by_id, &id,
				       &s->vanished);

		if (fd < 0) {
			if (fd == -ENOENT)
				return 0;
			snprintf(why, why_len,
				 "cannot list BPF programs: bpf(BPF_PROG_GET_NEXT_ID): %s%s",
				 strerror(-fd),
				 fd == -EPERM ? " (needs CAP_SYS_ADMIN: run schedmcp as root)" : "");
			return fd;
		}
		err = inv_grow((void **)&s->progs, &cap, s->n_progs, sizeof(*s->progs));
		if (err) {
			close(fd);
			snprintf(why, why_len, "listing BPF programs: %s", strerror(-err));
			return err;
		}
		p = &s->progs[s->n_progs];
		memset(&info, 0, sizeof(info));
		info.nr_map_ids = INV_MAX_MAP_IDS;
		info.map_ids = (__u64)(uintptr_t)p->map_ids;
		/* the first record names the main function, with its full name */
		info.nr_func_info = 1;
		info.func_info_rec_size = sizeof(fi);
		info.func_info = (__u64)(uintptr_t)&fi;
		if (!inv_get_info(fd, &info, sizeof(info), &s->vanished))
			continue;
		p->memlock = fd_memlock(fd);
		close(fd);
		p->id = info.id;
		p->type = info.type;
		memcpy(p->name, info.name, INV_NAME_LEN);
		memcpy(p->tag, info.tag, sizeof(p->tag));
		p->load_time_ns = info.load_time;
		p->uid = info.created_by_uid;
		p->verified_insns = info.verified_insns;
		p->xlated_len = info.xlated_prog_len;
		p->jited_len = info.jited_prog_len;
		p->gpl = info.gpl_compatible;
		p->btf_id = info.btf_id;
		p->nr_func_info = info.nr_func_info;
		p->func_type_id = info.nr_func_info ? fi.type_id : 0;
		p->attach_btf_obj_id = info.attach_btf_obj_id;
		p->attach_btf_id = info.attach_btf_id;
		p->run_time_ns = info.run_time_ns;
		p->run_cnt = info.run_cnt;
		p->recursion_misses = info.recursion_misses;
		p->nr_map_ids = info.nr_map_ids;
		p->group = -1;
		s->n_progs++;
	}
}

static int scan_maps(struct inv_snap *s)
{
	size_t cap = 0;
	__u32 id = 0;
	int fd, err;

	while ((fd = inv_open_next(bpf_map_get_next_id, bpf_map_get_fd_by_id, &id,
				   &s->vanished)) >= 0) {
		struct bpf_map_info info;
		struct inv_map *m;

		err = inv_grow((void **)&s->maps, &cap, s->n_maps, sizeof(*s->maps));
		if (err) {
			close(fd);
			return err;
		}
		m = &s->maps[s->n_maps];
		memset(&info, 0, sizeof(info));
		if (!inv_get_info(fd, &info, sizeof(info), &s->vanished))
			continue;
		m->memlock = fd_memlock(fd);
		close(fd);
		m->id = info.id;
		m->type = info.type;
		memcpy(m->name, info.name, INV_NAME_LEN);
		m->key_size = info.key_size;
		m->value_size = info.value_size;
		m->max_entries = info.max_entries;
		m->map_flags = info.map_flags;
		m->btf_id = info.btf_id;
		m->btf_vmlinux_value_type_id = info.btf_vmlinux_value_type_id;
		m->map_extra = info.map_extra;
		s->n_maps++;
	}
	return fd == -ENOENT ? 0 : fd;
}

static bool sched_ext_active(const char *root, const char *name)
{
	char path[PATH_MAX], buf[160];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/kernel/sched_ext/root/ops", root ? root : "");
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return *buf && strcmp(buf, name) == 0;
}

static int scan_struct_ops(struct inv_snap *s, struct inv_btf *btf, const char *root)
{
	size_t cap = 0;

	for (size_t i = 0; i < s->n_maps; i++) {
		const struct inv_map *m = &s->maps[i];
		struct inv_so_group *g;
		uint32_t key = 0;
		void *value;
		int fd, err;

		if (m->type != BPF_MAP_TYPE_STRUCT_OPS)
			continue;
		err = inv_grow((void **)&s->groups, &cap, s->n_groups, sizeof(*s->groups));
		if (err)
			return err;
		g = &s->groups[s->n_groups];
		g->map_id = m->id;
		g->state = -1;
		memcpy(g->map_name, m->name, sizeof(g->map_name));
		s->n_groups++;
		fd = bpf_map_get_fd_by_id(m->id);
		value = calloc(1, m->value_size ? m->value_size : 1);
		if (fd < 0 || !value) {
			snprintf(g->error, sizeof(g->error), "map vanished or out of memory");
		} else if (bpf_map_lookup_elem(fd, &key, value)) {
			snprintf(g->error, sizeof(g->error), "reading the map: %s",
				 strerror(errno));
		} else if (inv_btf_struct_ops(btf, m->btf_vmlinux_value_type_id, value,
					      m->value_size, g) == 0) {
			g->active_sched_ext = strcmp(g->kind, "sched_ext_ops") == 0 &&
					      g->state == 1 && sched_ext_active(root, g->name);
			for (size_t k = 0; k < g->n_ops; k++) {
				struct inv_prog *p =
					(struct inv_prog *)inv_find_prog(s, g->ops[k].prog_id);

				if (p && p->group < 0) {
					p->group = (int)(s->n_groups - 1);
					snprintf(p->op, sizeof(p->op), "%s", g->ops[k].op);
				}
			}
		}
		free(value);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int inv_scan(struct inv_snap *s, struct inv_btf *btf, const char *root, unsigned want,
	     char *why, size_t why_len)
{
	struct timespec t0, t1;
	int err;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = scan_progs(s, why, why_len);
	if (err)
		goto fail;
	if (want & (INV_WANT_MAPS | INV_WANT_STRUCT_OPS | INV_WANT_LINKS)) {
		err = scan_maps(s);
		if (err) {
			snprintf(why, why_len, "listing BPF maps: %s", strerror(-err));
			goto fail;
		}
		for (size_t i = 0; i < s->n_progs; i++) {
			const struct inv_prog *p = &s->progs[i];
			uint32_t n = p->nr_map_ids < INV_MAX_MAP_IDS ? p->nr_map_ids
								     : INV_MAX_MAP_IDS;

			for (uint32_t k = 0; k < n; k++) {
				struct inv_map *m = (struct inv_map *)inv_find_map(s, p->map_ids[k]);

				if (m)
					m->n_progs++;
			}
		}
	}
	if (want & INV_WANT_LINKS) {
		err = inv_scan_links(s, (want & INV_WANT_TARGETS) ? btf : NULL);
		if (err) {
			snprintf(why, why_len, "listing BPF links: %s", strerror(-err));
			goto fail;
		}
	}
	if (want & INV_WANT_STRUCT_OPS) {
		err = scan_struct_ops(s, btf, root);
		if (err) {
			snprintf(why, why_len, "reading struct_ops maps: %s", strerror(-err));
			goto fail;
		}
	}
	for (size_t i = 0; i < s->n_progs; i++) {
		struct inv_prog *p = &s->progs[i];

		/* names are cut at 15 characters; BTF has the whole name, which
		 * is what bpftool shows too */
		if ((want & INV_WANT_NAMES) && strlen(p->name) == INV_NAME_LEN - 1 &&
		    p->func_type_id)
			inv_btf_type_name(btf, p->btf_id, p->func_type_id, p->full_name,
					  sizeof(p->full_name));
		if (want & INV_WANT_TARGETS)
			inv_btf_target(btf, p->type, UINT32_MAX, p->attach_btf_obj_id,
				       p->attach_btf_id, p->target, sizeof(p->target));
	}
	if (want & INV_WANT_OWNERS)
		inv_scan_owners(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->scan_us = (uint64_t)(((int64_t)t1.tv_sec - t0.tv_sec) * 1000000 +
				((int64_t)t1.tv_nsec - t0.tv_nsec) / 1000);
	return 0;
fail:
	inv_snap_free(s);
	return err;
}

void inv_snap_free(struct inv_snap *s)
{
	for (size_t i = 0; i < s->n_groups; i++)
		free(s->groups[i].ops);
	free(s->groups);
	free(s->progs);
	free(s->maps);
	free(s->links);
	memset(s, 0, sizeof(*s));
}

/* (the arrays are NULL while empty, which bsearch must not be given) */
const struct inv_prog *inv_find_prog(const struct inv_snap *s, uint32_t id)
{
	return s->n_progs ? bsearch(&id, s->progs, s->n_progs, sizeof(*s->progs), inv_cmp_id)
			  : NULL;
}

const struct inv_map *inv_find_map(const struct inv_snap *s, uint32_t id)
{
	return s->n_maps ? bsearch(&id, s->maps, s->n_maps, sizeof(*s->maps), inv_cmp_id) : NULL;
}

int inv_read_counters(struct inv_counter **ret, size_t *ret_n)
{
	struct inv_counter *c = NULL;
	size_t n = 0, cap = 0;
	__u32 id = 0;
	int fd, err;

	while ((fd = inv_open_next(bpf_prog_get_next_id, bpf_prog_get_fd_by_id, &id,
				   NULL)) >= 0) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (err)
			continue;
		err = inv_grow((void **)&c, &cap, n, sizeof(*c));
		if (err) {
			free(c);
			return err;
		}
		c[n].id = info.id;
		c[n].run_cnt = info.run_cnt;
		c[n].run_time_ns = info.run_time_ns;
		n++;
	}
	if (fd != -ENOENT) {
		free(c);
		return fd;
	}
	*ret = c;
	*ret_n = n;
	return 0;
}
