/* SPDX-License-Identifier: MIT */
/*
 * BTF for naming what programs attach to and reading struct_ops maps.
 * Kernel BTF is large (vmlinux: 5 MiB here, more parsed), so it is loaded
 * on first need and released by the plugin: at once after a read that
 * only needed names, which are kept in a small cache (a BTF object's id
 * is not reused while the system runs, and its types never change), and
 * a little after the last read that decoded struct_ops maps.
 */
#include "inv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include <schedmcp/array.h>

/* valgrind cannot know that BPF_OBJ_GET_INFO_BY_FD filled the BTF buffer
 * libbpf handed the kernel, and reports every name read from it as
 * uninitialised; say so where valgrind's header exists (a no-op outside
 * valgrind). */
#if defined(__has_include) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define MAX_SPLIT 16

/* BTF object id from the kernel, on base (the vmlinux BTF) when split.
 * A program's own BTF is read here rather than by libbpf's loader so that
 * the buffer the kernel fills can be marked for valgrind before libbpf
 * parses it; Debian's libbpf 1.1 does not export btf__new_split, so a
 * module's split BTF goes through libbpf's loader. */
static struct btf *load_kernel_btf(uint32_t id, struct btf *base)
{
	struct bpf_btf_info info = { 0 };
	uint32_t len = sizeof(info), size;
	struct btf *t = NULL;
	void *data = NULL;
	int fd;

	if (base) {
		t = btf__load_from_kernel_by_id_split(id, base);
		return libbpf_get_error(t) ? NULL : t;
	}
	fd = bpf_btf_get_fd_by_id(id);
	if (fd < 0)
		return NULL;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.btf_size || info.btf_size > 64u << 20)
		goto out;
	size = info.btf_size;
	data = malloc(size);
	if (!data)
		goto out;
	memset(&info, 0, sizeof(info));
	info.btf = (__u64)(uintptr_t)data;
	info.btf_size = size;
	len = sizeof(info);
	/* BTF objects never change: the same size, or not ours to parse */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.btf_size != size)
		goto out;
	VALGRIND_MAKE_MEM_DEFINED(data, info.btf_size);
	t = btf__new(data, info.btf_size);
	if (libbpf_get_error(t))
		t = NULL;
out:
	free(data);
	close(fd);
	return t;
}
/* names of attach targets and program functions: a few per program */
#define MAX_NAMES 1024

struct btf_name {
	uint32_t obj_id, type_id;
	bool is_typedef;
	char *name; /* "" when the type has none or could not be loaded */
};

struct inv_btf {
	struct btf *vmlinux;
	bool vmlinux_failed;
	bool struct_ops_used; /* since the last release */
	uint32_t vmlinux_id;  /* its object id, once seen (0: not yet) */
	struct {
		uint32_t id;
		struct btf *btf;
	} split[MAX_SPLIT];
	size_t n_split;
	struct btf_name names[MAX_NAMES];
	size_t n_names;
};

struct inv_btf *inv_btf_new(void)
{
	return calloc(1, sizeof(struct inv_btf));
}

void inv_btf_release(struct inv_btf *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_split; i++)
		btf__free(b->split[i].btf);
	b->n_split = 0;
	btf__free(b->vmlinux);
	b->vmlinux = NULL;
	b->vmlinux_failed = false;
	b->struct_ops_used = false;
}

static void names_clear(struct inv_btf *b)
{
	for (size_t i = 0; i < b->n_names; i++)
		free(b->names[i].name);
	b->n_names = 0;
}

void inv_btf_free(struct inv_btf *b)
{
	if (!b)
		return;
	inv_btf_release(b);
	names_clear(b);
	free(b);
}

bool inv_btf_keep(const struct inv_btf *b)
{
	return b && b->struct_ops_used;
}

static const struct btf_name *name_find(const struct inv_btf *b, uint32_t obj_id, uint32_t type_id)
{
	for (size_t i = 0; i < b->n_names; i++)
		if (b->names[i].obj_id == obj_id && b->names[i].type_id == type_id)
			return &b->names[i];
	return NULL;
}

/* Remember a name (NULL: none); when full, start over rather than grow. */
static const struct btf_name *name_add(struct inv_btf *b, uint32_t obj_id, uint32_t type_id,
				       const char *name, bool is_typedef)
{
	struct btf_name *n;
	char *copy = strdup(name ? name : "");

	if (!copy)
		return NULL;
	if (b->n_names == MAX_NAMES)
		names_clear(b);
	n = &b->names[b->n_names++];
	*n = (struct btf_name){ obj_id, type_id, is_typedef, copy };
	return n;
}

bool inv_btf_loaded(const struct inv_btf *b)
{
	return b && (b->vmlinux || b->n_split);
}

static struct btf *vmlinux(struct inv_btf *b)
{
	if (!b->vmlinux && !b->vmlinux_failed) {
		b->vmlinux = btf__load_vmlinux_btf();
		if (!b->vmlinux || libbpf_get_error(b->vmlinux)) {
			b->vmlinux = NULL;
			b->vmlinux_failed = true;
		}
	}
	return b->vmlinux;
}

/* The BTF object with this id: vmlinux, a module's (split on vmlinux), or
 * a program's own. NULL when it cannot be loaded. */
static const struct btf *btf_by_obj(struct inv_btf *b, uint32_t obj_id)
{
	struct bpf_btf_info info;
	__u32 len = sizeof(info);
	char name[64] = "";
	struct btf *t;
	int fd;

	if (!obj_id)
		return NULL;
	if (obj_id == b->vmlinux_id)
		return vmlinux(b);
	for (size_t i = 0; i < b->n_split; i++)
		if (b->split[i].id == obj_id)
			return b->split[i].btf;
	fd = bpf_btf_get_fd_by_id(obj_id);
	if (fd < 0)
		return NULL;
	memset(&info, 0, sizeof(info));
	info.name = (__u64)(uintptr_t)name;
	info.name_len = sizeof(name);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return NULL;
	}
	close(fd);
	name[sizeof(name) - 1] = '\0';
	if (info.kernel_btf && strcmp(name, "vmlinux") == 0) {
		b->vmlinux_id = obj_id;
		return vmlinux(b);
	}
	if (b->n_split == MAX_SPLIT)
		return NULL;
	if (info.kernel_btf) {
		if (!vmlinux(b))
			return NULL;
		t = load_kernel_btf(obj_id, b->vmlinux);
	} else {
		t = load_kernel_btf(obj_id, NULL);
	}
	if (!t)
		return NULL;
	b->split[b->n_split].id = obj_id;
	b->split[b->n_split].btf = t;
	b->n_split++;
	return t;
}

static const char *strip(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(s, prefix, n) == 0 ? s + n : s;
}

void inv_btf_target(struct inv_btf *b, uint32_t prog_type, uint32_t attach_type,
		    uint32_t obj_id, uint32_t type_id, char *buf, size_t len)
{
	const struct btf_name *n;
	const char *name;

	buf[0] = '\0';
	if (!b || !obj_id || !type_id)
		return;
	n = name_find(b, obj_id, type_id);
	if (!n) {
		const struct btf *btf = btf_by_obj(b, obj_id);
		const struct btf_type *t = btf ? btf__type_by_id(btf, type_id) : NULL;

		/* a BTF object that cannot be had now may be later: not cached */
		if (!btf)
			return;
		n = name_add(b, obj_id, type_id, t ? btf__name_by_offset(btf, t->name_off) : NULL,
			     t && btf_is_typedef(t));
		if (!n)
			return;
	}
	name = n->name;
	if (!*name)
		return;
	switch (prog_type) {
	case BPF_PROG_TYPE_TRACING:
		if (n->is_typedef && strncmp(name, "btf_trace_", 10) == 0)
			snprintf(buf, len, "tp_btf/%s", name + 10);
		else if (strncmp(name, "bpf_iter_", 9) == 0)
			snprintf(buf, len, "iter/%s", name + 9);
		else if (attach_type == BPF_TRACE_FENTRY)
			snprintf(buf, len, "fentry/%s", name);
		else if (attach_type == BPF_TRACE_FEXIT)
			snprintf(buf, len, "fexit/%s", name);
		else if (attach_type == BPF_MODIFY_RETURN)
			snprintf(buf, len, "fmod_ret/%s", name);
		else
			snprintf(buf, len, "function %s (fentry, fexit or fmod_ret)", name);
		break;
	case BPF_PROG_TYPE_LSM:
		snprintf(buf, len, "lsm/%s", strip(name, "bpf_lsm_"));
		break;
	case BPF_PROG_TYPE_STRUCT_OPS:
		snprintf(buf, len, "struct_ops %s", name);
		break;
	case BPF_PROG_TYPE_EXT:
		snprintf(buf, len, "freplace %s", name);
		break;
	default:
		snprintf(buf, len, "%s", name);
	}
}

void inv_btf_type_name(struct inv_btf *b, uint32_t obj_id, uint32_t type_id, char *buf,
		       size_t len)
{
	const struct btf_name *n;
	const struct btf_type *t;
	struct btf *btf;

	buf[0] = '\0';
	if (!b || !obj_id || !type_id)
		return;
	n = name_find(b, obj_id, type_id);
	if (!n) {
		btf = load_kernel_btf(obj_id, NULL);
		if (!btf)
			return;
		t = btf__type_by_id(btf, type_id);
		n = name_add(b, obj_id, type_id, t ? btf__name_by_offset(btf, t->name_off) : NULL,
			     t && btf_is_typedef(t));
		btf__free(btf);
		if (!n)
			return;
	}
	snprintf(buf, len, "%s", n->name);
}

/* The member called name of struct type st (after typedefs), or NULL. */
static const struct btf_member *member(const struct btf *btf, const struct btf_type *st,
				       const char *name, uint32_t *ret_off)
{
	const struct btf_member *m = btf_members(st);

	for (uint16_t i = 0; i < btf_vlen(st); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), name) == 0) {
			*ret_off = btf_member_bit_offset(st, i) / 8;
			return m;
		}
	}
	return NULL;
}

static const struct btf_type *resolved(const struct btf *btf, uint32_t id)
{
	int r = btf__resolve_type(btf, id);

	return r < 0 ? NULL : btf__type_by_id(btf, (uint32_t)r);
}

static int read_state(const struct btf *btf, const struct btf_type *vt, const uint8_t *v,
		      size_t size)
{
	const struct btf_member *m;
	uint32_t off, sub;
	uint32_t state;

	/* 6.9+: value { common { refcnt; state }; data }; before: { refcnt; state; data } */
	m = member(btf, vt, "common", &off);
	if (m) {
		const struct btf_type *ct = resolved(btf, m->type);

		if (!ct || !btf_is_struct(ct) || !member(btf, ct, "state", &sub))
			return -1;
		off += sub;
	} else if (!member(btf, vt, "state", &off)) {
		return -1;
	}
	if (off + sizeof(state) > size)
		return -1;
	memcpy(&state, v + off, sizeof(state));
	return (int)state;
}

int inv_btf_struct_ops(struct inv_btf *b, uint32_t value_type_id, const void *value,
		       size_t value_size, struct inv_so_group *g)
{
	const struct btf *btf = vmlinux(b);
	const struct btf_type *vt, *st;
	const struct btf_member *dm, *m;
	const uint8_t *v = value;
	const char *vname;
	uint32_t data_off;
	size_t cap = 0;

	b->struct_ops_used = true;
	if (!btf) {
		snprintf(g->error, sizeof(g->error), "kernel BTF (/sys/kernel/btf/vmlinux) unreadable");
		return -ENOENT;
	}
	vt = btf__type_by_id(btf, value_type_id);
	vname = vt ? btf__name_by_offset(btf, vt->name_off) : NULL;
	if (!vt || !btf_is_struct(vt) || !vname) {
		snprintf(g->error, sizeof(g->error), "value type %u is not in vmlinux BTF "
			 "(a struct_ops defined by a module?)", value_type_id);
		return -ENOENT;
	}
	snprintf(g->kind, sizeof(g->kind), "%s", strip(vname, "bpf_struct_ops_"));
	g->state = read_state(btf, vt, v, value_size);
	dm = member(btf, vt, "data", &data_off);
	st = dm ? resolved(btf, dm->type) : NULL;
	if (!st || !btf_is_struct(st)) {
		snprintf(g->error, sizeof(g->error), "%s has no data member", vname);
		return -EINVAL;
	}
	m = btf_members(st);
	for (uint16_t i = 0; i < btf_vlen(st); i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		const struct btf_type *mt = resolved(btf, m->type);
		size_t off = data_off + btf_member_bit_offset(st, i) / 8;

		if (!mt || !mname)
			continue;
		if (btf_is_array(mt) && strcmp(mname, "name") == 0) {
			size_t n = btf_array(mt)->nelems;

			if (off + n <= value_size && n)
				snprintf(g->name, sizeof(g->name), "%.*s", (int)n,
					 (const char *)v + off);
			continue;
		}
		if (btf_is_ptr(mt)) {
			const struct btf_type *pt = resolved(btf, mt->type);
			uint64_t id;

			if (!pt || !btf_is_func_proto(pt) || off + sizeof(id) > value_size)
				continue;
			/* the kernel keeps each ops program's id in its slot */
			memcpy(&id, v + off, sizeof(id));
			if (!id || id > UINT32_MAX)
				continue;
			if (smcp_array_grow(&g->ops, &cap, g->n_ops, sizeof(*g->ops), 16))
				return -ENOMEM;
			snprintf(g->ops[g->n_ops].op, sizeof(g->ops[g->n_ops].op), "%s", mname);
			g->ops[g->n_ops].prog_id = (uint32_t)id;
			g->n_ops++;
		}
	}
	return 0;
}
