/* SPDX-License-Identifier: MIT */
/*
 * Cgroup ids to paths for sl_cgroup.c (see its head comment): an open
 * addressing table of names, filled through file handles while the
 * capability lasts, else by a walk of the hierarchy resumed tick after
 * tick; names checked again round robin, ids gone marked so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_cgroup_priv.h"

struct cg_name *sl_cgpath_slot(struct sl_cgroup *g, uint64_t id, bool add)
{
	size_t mask = g->names_cap - 1, i = (size_t)(id * 0x9E3779B97F4A7C15ull) & mask;

	for (size_t k = 0; k < g->names_cap; k++, i = (i + 1) & mask) {
		struct cg_name *e = &g->names[i];

		if (e->state != NM_EMPTY && e->id == id)
			return e;
		if (e->state == NM_EMPTY) {
			if (!add || g->names_used >= g->names_cap * 3 / 4)
				return NULL;
			e->id = id;
			e->state = NM_PENDING;
			e->retry_tick = 0;
			e->added_tick = g->ticks;
			e->path[0] = '\0';
			g->names_used++;
			return e;
		}
	}
	return NULL;
}

/* Keep only the names of the ids in the map now (the table has no
 * deletion: it is rebuilt once it fills up). */
static void names_compact(struct sl_cgroup *g)
{
	struct cg_name *old = g->names;
	size_t cap = g->names_cap;

	g->names = calloc(cap, sizeof(*g->names));
	if (!g->names) {
		g->names = old;
		return;
	}
	g->names_used = 0;
	for (size_t i = 0; i < g->n; i++) {
		struct cg_name *e = NULL;

		for (size_t k = 0; k < cap && !e; k++)
			if (old[k].state != NM_EMPTY && old[k].id == g->in[i].key)
				e = &old[k];
		if (e) {
			struct cg_name *d = sl_cgpath_slot(g, e->id, true);

			if (d)
				*d = *e;
		}
	}
	free(old);
}

/* Resolve through a file handle: 0, -ESTALE (gone) or another -errno. */
static int resolve(struct sl_cgroup *g, uint64_t id, char *out, size_t len)
{
	struct {
		struct file_handle fh;
		unsigned char id[8];
	} h;
	char link[64], buf[SL_CG_PATH_MAX + 256];
	size_t rl = strlen(g->real);
	ssize_t n;
	int fd;

	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(g->mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	if (strncmp(buf, g->real, rl) != 0 || (buf[rl] != '/' && buf[rl] != '\0'))
		return -EXDEV; /* another mount namespace's view */
	if (strlen(buf + rl) + 2 > len)
		return -ENAMETOOLONG;
	snprintf(out, len, "%s", buf[rl] ? buf + rl : "/");
	return 0;
}

static bool walk_push(struct sl_cgroup *g, int dirfd_, const char *name, size_t len)
{
	int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	g->walk.d[g->walk.depth] = d;
	g->walk.len[g->walk.depth] = len;
	g->walk.depth++;
	return true;
}

/* Name the pending ids by a walk of the hierarchy, WALK_PER_TICK
 * directories at a time; the ids pending since before a complete walk
 * began and not found by it are gone. */
static void walk_step(struct sl_cgroup *g)
{
	unsigned budget = WALK_PER_TICK;

	if (!g->walk.depth) {
		struct stat st;
		struct cg_name *root;

		if (!fstat(g->mount_fd, &st) && (root = sl_cgpath_slot(g, (uint64_t)st.st_ino, false)) &&
		    root->state == NM_PENDING) {
			snprintf(root->path, sizeof(root->path), "/");
			root->state = NM_OK;
		}
		g->walk.path[0] = '\0';
		g->walk.start_tick = g->ticks;
		if (!walk_push(g, g->mount_fd, ".", 0))
			return;
	}
	while (budget && g->walk.depth) {
		int top = g->walk.depth - 1;
		size_t len = g->walk.len[top], nl;
		struct dirent *de = readdir(g->walk.d[top]);
		struct cg_name *e;

		if (!de) {
			closedir(g->walk.d[top]);
			g->walk.depth--;
			continue;
		}
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		budget--;
		nl = strlen(de->d_name);
		if (len + 1 + nl >= sizeof(g->walk.path))
			continue;
		g->walk.path[len] = '/';
		memcpy(g->walk.path + len + 1, de->d_name, nl + 1);
		e = sl_cgpath_slot(g, (uint64_t)de->d_ino, false);
		if (e && e->state != NM_OK) {
			memcpy(e->path, g->walk.path, len + nl + 2);
			e->state = NM_OK;
		}
		if (g->walk.depth < WALK_DEPTH)
			(void)walk_push(g, dirfd(g->walk.d[top]), de->d_name, len + 1 + nl);
	}
	if (g->walk.depth)
		return;
	for (size_t i = 0; i < g->names_cap; i++)
		if (g->names[i].state == NM_PENDING && g->names[i].added_tick < g->walk.start_tick)
			g->names[i].state = NM_GONE;
}

static void resolve_pending(struct sl_cgroup *g)
{
	unsigned budget = RESOLVE_PER_TICK;
	bool pending = false;

	for (size_t i = 0; i < g->n && budget; i++) {
		struct cg_name *e = sl_cgpath_slot(g, g->in[i].key, true);
		int err;

		if (!e && g->names_used >= g->names_cap * 3 / 4) {
			names_compact(g);
			e = sl_cgpath_slot(g, g->in[i].key, true);
		}
		if (!e || e->state != NM_PENDING)
			continue;
		pending = true;
		if (g->no_handles || e->retry_tick > g->ticks)
			continue;
		budget--;
		err = resolve(g, e->id, e->path, sizeof(e->path));
		if (err == 0) {
			e->state = NM_OK;
		} else if (err == -ESTALE) {
			e->state = NM_GONE;
		} else {
			g->handle_err = -err;
			g->no_handles = err == -EPERM || err == -EOPNOTSUPP || err == -ENOSYS;
			e->retry_tick = g->ticks + RETRY_TICKS;
		}
	}
	if (g->no_handles && (pending || g->walk.depth))
		walk_step(g);
}

/* A named cgroup can be removed (once its tasks left): check a few names a
 * tick, round robin, that the directory is still there with the same id. */
static void verify_names(struct sl_cgroup *g)
{
	for (unsigned k = 0; k < RESOLVE_PER_TICK && g->n; k++) {
		struct cg_name *e;
		struct stat st;

		g->verify_at = g->verify_at < g->n ? g->verify_at : 0;
		e = sl_cgpath_slot(g, g->in[g->verify_at++].key, false);
		if (!e || e->state != NM_OK || strcmp(e->path, "/") == 0)
			continue;
		if (fstatat(g->mount_fd, e->path + 1, &st, AT_SYMLINK_NOFOLLOW) ?
			    errno == ENOENT : (uint64_t)st.st_ino != e->id)
			e->state = NM_GONE;
	}
}

void sl_cgpath_tick(struct sl_cgroup *g)
{
	resolve_pending(g);
	verify_names(g);
}

void sl_cgpath_resolve_now(struct sl_cgroup *g, uint64_t id)
{
	struct cg_name *e = sl_cgpath_slot(g, id, true);

	if (e && e->state == NM_PENDING && !g->no_handles &&
	    resolve(g, id, e->path, sizeof(e->path)) == 0)
		e->state = NM_OK;
}

void sl_cgpath_walk_close(struct sl_cgroup *g)
{
	while (g->walk.depth > 0)
		closedir(g->walk.d[--g->walk.depth]);
}
