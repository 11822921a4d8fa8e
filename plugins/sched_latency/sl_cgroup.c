/* SPDX-License-Identifier: MIT */
/*
 * Per-cgroup run-queue latency (sl_cgroup.h): the hierarchy the BPF side
 * keys by, the cumulative per-cgroup map read once per tick into a window
 * series, cgroup ids resolved to paths, and stats://aggregated/cgroup.
 *
 * Hierarchy (chosen before load, [plugin sched_latency] cgroup_hierarchy):
 * auto takes cgroup v2 when its root lists the cpu controller (a unified
 * host), else the v1 hierarchy the cpu controller is mounted in (a hybrid
 * host), else nothing (degraded, with the reason). Both are read from
 * /proc/self/mounts (sl_cgfs_detect, shared with diagnose_cgroup).
 *
 * Ids to paths: the id is the kernfs node id, which is also the inode
 * number readdir() gives for the cgroup's directory, and which the cgroup
 * file systems (v1 and v2) accept as a file handle (FILEID_KERNFS, 8 bytes).
 * With CAP_DAC_READ_SEARCH (running as root, during init) open_by_handle_at()
 * on the mount opens the directory and /proc/self/fd names it: at most
 * RESOLVE_PER_TICK ids per tick. Without it (the daemon keeps no such
 * capability after start-up: SECURITY.md) a walk of the hierarchy, which is
 * world-readable, names the ids still unknown: at most WALK_PER_TICK
 * directories per tick, WALK_DEPTH deep, resumed at the next tick, and
 * walked again while ids are unknown. An id the
 * handle says is stale, or a whole walk did not find, is gone: its map entry
 * is removed once its last counts are in the series, to make room.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <dirent.h>

#include <bpf/bpf.h>
#include <schedmcp/fsread.h>

#include "sl.h"
#include "sl_cgroup.h"
#include "sl_cgfs.h"
#include "sl_cgtree.h"
#include "sl_cgroup_priv.h"

#define CGROUP_SUPER_MAGIC 0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270
#define TOP_ROWS 20
#define TOP_SINCE_START_ROWS 10

static const char *const hier_names[] = { "off", "v2", "v1-cpu" };

/* ------------------------------------------------------------ detection */

static void choose(struct sl *p, struct sl_cgroup *g, const char *want)
{
	const char *root = p->api->fs_root(p->h);
	struct sl_cgfs fs;
	int err;

	if (strcmp(want, "off") == 0 || p->cfg.cgroup_max == 0) {
		snprintf(g->reason, sizeof(g->reason),
			 "per-cgroup latency is off in the configuration ([plugin sched_latency] "
			 "cgroup_hierarchy = off or cgroup_max = 0)");
		return;
	}
	/* the layout as diagnose_cgroup and the throttling watcher see it */
	err = sl_cgfs_detect(root, &fs);
	if (err) {
		snprintf(g->reason, sizeof(g->reason), "cannot read /proc/self/mounts: %s",
			 strerror(-err));
		return;
	}
	if (strcmp(want, "v2") == 0 || (strcmp(want, "auto") == 0 && fs.layout == SL_CGL_V2)) {
		if (!fs.v2_root[0]) {
			snprintf(g->reason, sizeof(g->reason), "no cgroup2 file system is mounted");
			return;
		}
		g->hier = SL_CG_V2;
		snprintf(g->mount, sizeof(g->mount), "%s%s", root, fs.v2_root);
	} else if (fs.layout == SL_CGL_V1 || fs.layout == SL_CGL_HYBRID) {
		g->hier = SL_CG_V1_CPU;
		snprintf(g->mount, sizeof(g->mount), "%s%s", root, fs.cpu_root);
	} else {
		snprintf(g->reason, sizeof(g->reason), "%s", fs.reason);
	}
}

static int open_mount(struct sl_cgroup *g)
{
	char link[64];
	struct statfs sfs;
	ssize_t n;

	g->mount_fd = open(g->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g->mount_fd < 0) {
		snprintf(g->reason, sizeof(g->reason), "cannot open %s: %s", g->mount,
			 strerror(errno));
		return -errno;
	}
	if (fstatfs(g->mount_fd, &sfs) ||
	    (sfs.f_type != CGROUP_SUPER_MAGIC && sfs.f_type != CGROUP2_SUPER_MAGIC)) {
		snprintf(g->reason, sizeof(g->reason), "%s is no cgroup file system", g->mount);
		return -ENOTSUP;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", g->mount_fd);
	n = readlink(link, g->real, sizeof(g->real) - 1);
	g->real[n > 0 ? n : 0] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- setup */

static enum sl_cg_hier mode_of(const struct sl *p)
{
	return p->cg ? p->cg->hier : SL_CG_OFF;
}

uint32_t sl_cgroup_bpf_mode(const struct sl *p)
{
	switch (mode_of(p)) {
	case SL_CG_V2:
		return SL_CGM_V2;
	case SL_CG_V1_CPU:
		return SL_CGM_V1_CPU;
	default:
		return SL_CGM_OFF;
	}
}

uint32_t sl_cgroup_bpf_max(const struct sl *p)
{
	return p->cg && p->cg->hier != SL_CG_OFF ? (uint32_t)p->cg->max : 1;
}

int sl_cgroup_init(struct sl *p, const char *want)
{
	struct sl_cgroup *g = calloc(1, sizeof(*g));
	size_t cap = 16;

	if (!g)
		return -ENOMEM;
	g->mount_fd = g->map_fd = g->slots_fd = g->free_fd = -1;
	p->cg = g;
	choose(p, g, want);
	if (g->hier == SL_CG_OFF)
		return 0;
	if (open_mount(g)) {
		g->hier = SL_CG_OFF;
		return 0;
	}
	g->max = (size_t)p->cfg.cgroup_max;
	while (cap < g->max * 2)
		cap *= 2;
	g->names_cap = cap;
	g->vals = calloc((size_t)p->ncpus, sizeof(*g->vals));
	g->c = calloc(g->max, SLG_N * sizeof(uint64_t));
	g->h = calloc(g->max, SL_NB * sizeof(uint64_t));
	g->in = calloc(g->max, sizeof(*g->in));
	g->names = calloc(cap, sizeof(*g->names));
	if (!g->vals || !g->c || !g->h || !g->in || !g->names)
		return -ENOMEM;
	return sl_window_init(&g->w, SLG_N, 1, g->max, 128 * 1024);
}

void sl_cgroup_started(struct sl *p, int stats_fd, int slots_fd, int free_fd, __u64 *overflow)
{
	struct sl_cgroup *g = p->cg;

	if (!g || g->hier == SL_CG_OFF)
		return;
	for (uint32_t s = 0; s < g->max; s++)
		if (bpf_map_update_elem(free_fd, NULL, &s, BPF_ANY)) {
			snprintf(g->reason, sizeof(g->reason),
				 "the free cgroup slots cannot be queued: %s", strerror(errno));
			g->hier = SL_CG_OFF;
			return;
		}
	g->map_fd = stats_fd;
	g->slots_fd = slots_fd;
	g->free_fd = free_fd;
	g->overflow = overflow;
}

void sl_cgroup_fini(struct sl *p)
{
	struct sl_cgroup *g = p->cg;

	if (!g)
		return;
	sl_cgpath_walk_close(g);
	if (g->mount_fd >= 0)
		close(g->mount_fd);
	sl_window_free(&g->w);
	free(g->vals);
	free(g->c);
	free(g->h);
	free(g->in);
	free(g->names);
	free(g);
	p->cg = NULL;
}

static bool tracking(const struct sl *p)
{
	return p->running && p->cg && p->cg->hier != SL_CG_OFF && p->cg->map_fd >= 0;
}

/* ----------------------------------------------------------------- tick */

static void read_map(struct sl *p, struct sl_cgroup *g)
{
	/* no cgroup has id 0, so the first call answers the first key (and
	 * valgrind, which cannot read a NULL key, sees a real one) */
	uint64_t key = 0, next;
	size_t n = 0;

	while (n < g->max && bpf_map_get_next_key(g->slots_fd, &key, &next) == 0) {
		uint64_t *c = g->c + n * SLG_N, *h = g->h + n * SL_NB;
		uint32_t slot;

		key = next;
		if (bpf_map_lookup_elem(g->slots_fd, &key, &slot) ||
		    bpf_map_lookup_elem(g->map_fd, &slot, g->vals))
			continue; /* deleted meanwhile */
		memset(c, 0, SLG_N * sizeof(*c));
		memset(h, 0, SL_NB * sizeof(*h));
		for (int cpu = 0; cpu < p->ncpus; cpu++) {
			const struct sl_measure *v = &g->vals[cpu];

			c[SLG_SWITCHES] += v->switches_in;
			c[SLG_WAITS] += v->waits;
			c[SLG_WAIT_NS] += v->wait_ns;
			if (v->wait_max_ns > c[SLG_WAIT_MAX])
				c[SLG_WAIT_MAX] = v->wait_max_ns;
			for (unsigned b = 0; b < SL_NB; b++)
				h[b] += v->hist[b];
		}
		g->in[n] = (struct sl_window_input){ .key = key, .c = c, .h = h };
		n++;
	}
	g->n = n;
}

/* Give back the slots of cgroups that are gone: their counts are in the
 * series already, and their slots are needed for new cgroups. Zeroed
 * before they are queued again. */
static void drop_gone(struct sl *p, struct sl_cgroup *g)
{
	bool zeroed = false;

	for (size_t i = 0; i < g->n; i++) {
		struct cg_name *e = sl_cgpath_slot(g, g->in[i].key, false);

		uint32_t slot;

		if (e && e->state == NM_GONE) {
			if (!zeroed)
				memset(g->vals, 0, (size_t)p->ncpus * sizeof(*g->vals));
			zeroed = true;
			/* in[] is sorted by the series' tick: the slot from the map */
			if (bpf_map_lookup_elem(g->slots_fd, &e->id, &slot) == 0 &&
			    bpf_map_delete_elem(g->slots_fd, &e->id) == 0 &&
			    bpf_map_update_elem(g->map_fd, &slot, g->vals, BPF_ANY) == 0)
				(void)bpf_map_update_elem(g->free_fd, NULL, &slot, BPF_ANY);
			e->state = NM_PENDING; /* re-resolved should the id come back */
			e->retry_tick = g->ticks + RETRY_TICKS;
		}
	}
}

void sl_cgroup_tick(struct sl *p, uint64_t now_ns)
{
	struct sl_cgroup *g = p->cg;

	if (!tracking(p))
		return;
	g->ticks++;
	read_map(p, g);
	(void)sl_window_tick(&g->w, now_ns, g->in, g->n, p->start_ns);
	sl_cgpath_tick(g);
	drop_gone(p, g);
}

const struct sl_window_series *sl_cgroup_series(const struct sl *p)
{
	return tracking(p) ? &p->cg->w : NULL;
}

const char *sl_cgroup_path(struct sl *p, uint64_t id)
{
	struct cg_name *e = tracking(p) ? sl_cgpath_slot(p->cg, id, false) : NULL;

	return e && e->state == NM_OK ? e->path : NULL;
}

/* ------------------------------------------------------------------ API */

void sl_cgroup_info(struct sl *p, struct sl_cg_info *out)
{
	struct sl_cgroup *g = p->cg;

	memset(out, 0, sizeof(*out));
	out->hier = tracking(p) ? g->hier : SL_CG_OFF;
	out->name = hier_names[out->hier];
	if (!g) {
		snprintf(out->reason, sizeof(out->reason), "sched_latency is not initialized");
		return;
	}
	out->max_cgroups = (uint64_t)p->cfg.cgroup_max;
	if (out->hier == SL_CG_OFF) {
		snprintf(out->reason, sizeof(out->reason), "%s",
			 g->reason[0] ? g->reason : p->reason[0] ? p->reason
								 : "the BPF programs are not running");
		return;
	}
	snprintf(out->mount, sizeof(out->mount), "%s", g->mount);
	out->tracked = g->n;
	out->overflow = g->overflow ? __atomic_load_n(g->overflow, __ATOMIC_RELAXED) : 0;
}

static int window_result(struct sl *p, unsigned window_s, struct sl_window_result *r)
{
	struct sl_cgroup *g = p->cg;

	if (window_s != 0 && window_s != 1 && window_s != 10 && window_s != 60)
		return -EINVAL;
	if (!tracking(p))
		return -ENODATA;
	sl_tick_now(p);
	if (window_s == 0)
		return sl_window_result_from_inputs(SLG_N, 1, g->in, g->n, r);
	return sl_window_window_last(&g->w, (uint64_t)window_s * 1000000000ull, r);
}

/* A summary from a row's counters c (SLG_N) and histogram h (NULL: no
 * row, zeros). */
static void fill_from(struct sl *p, const uint64_t *c, const uint64_t *h, uint64_t id,
		      bool since_start, const struct sl_window_result *r, struct sl_cg_summary *out)
{
	const char *path = sl_cgroup_path(p, id);

	memset(out, 0, sizeof(*out));
	out->id = id;
	snprintf(out->path, sizeof(out->path), "%s", path ? path : "");
	out->start_ns = since_start ? p->start_ns : r->start_ns;
	out->end_ns = since_start ? p->api->now_ns(p->h) : r->end_ns;
	out->truncated = r->truncated;
	if (!c)
		return;
	out->switches = c[SLG_SWITCHES];
	out->count = c[SLG_WAITS];
	out->sum_ns = c[SLG_WAIT_NS];
	if (!out->count)
		return;
	out->p50_ns = (uint64_t)(sl_hist_quantile_us(h, 0.50, NULL) * 1000.0);
	out->p90_ns = (uint64_t)(sl_hist_quantile_us(h, 0.90, NULL) * 1000.0);
	out->p99_ns = (uint64_t)(sl_hist_quantile_us(h, 0.99, NULL) * 1000.0);
	if (since_start) {
		out->max_ns = c[SLG_WAIT_MAX];
	} else {
		for (unsigned b = SL_NB; b-- > 0;)
			if (h[b]) {
				out->max_ns = sl_hist_hi_ns(b);
				break;
			}
	}
	if (out->max_ns) { /* interpolation inside the top bucket can pass it */
		out->p50_ns = out->p50_ns > out->max_ns ? out->max_ns : out->p50_ns;
		out->p90_ns = out->p90_ns > out->max_ns ? out->max_ns : out->p90_ns;
		out->p99_ns = out->p99_ns > out->max_ns ? out->max_ns : out->p99_ns;
	}
}

static void fill(struct sl *p, const struct sl_window_row *row, uint64_t id, bool since_start,
		 const struct sl_window_result *r, struct sl_cg_summary *out)
{
	fill_from(p, row ? row->c : NULL, row ? row->h : NULL, id, since_start, r, out);
}

/* A cgroup asked for by id that no tick named yet: try a handle now. */
static void resolve_now(struct sl *p, uint64_t id)
{
	if (sl_cgroup_path(p, id))
		return;
	sl_cgpath_resolve_now(p->cg, id);
}

int sl_cgroup_summary_by_id(struct sl *p, uint64_t id, unsigned window_s,
			    struct sl_cg_summary *out)
{
	struct sl_window_result r;
	int err = window_result(p, window_s, &r);

	if (err)
		return err;
	resolve_now(p, id);
	fill(p, sl_window_result_find(&r, id), id, window_s == 0, &r, out);
	sl_window_result_free(&r);
	return 0;
}

/* path without the mount point (as configured, or as named) when it
 * begins with it: "" for the mount itself. NULL for a malformed path. */
static const char *rel_path(const struct sl_cgroup *g, const char *path)
{
	const char *rel = path;
	size_t ml;

	if (!path || path[0] != '/' || strlen(path) >= SL_CG_PATH_MAX || strstr(path, "/..") ||
	    strstr(path, "//") || strchr(path, '\n'))
		return NULL;
	ml = strlen(g->mount);
	if (strncmp(path, g->mount, ml) == 0 && (path[ml] == '/' || !path[ml]))
		rel = path + ml;
	ml = strlen(g->real);
	if (rel == path && strncmp(path, g->real, ml) == 0 && (path[ml] == '/' || !path[ml]))
		rel = path + ml;
	return rel;
}

int sl_cgroup_id_of_path(struct sl *p, const char *path, uint64_t *id)
{
	struct sl_cgroup *g = p->cg;
	struct stat st;
	const char *rel;
	int fd;

	if (!tracking(p))
		return -ENODATA;
	rel = rel_path(g, path);
	if (!rel)
		return -EINVAL;
	while (*rel == '/')
		rel++;
	fd = openat(g->mount_fd, *rel ? rel : ".",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP ? -ENOENT : -errno;
	if (fstat(fd, &st) || !S_ISDIR(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	close(fd);
	*id = (uint64_t)st.st_ino;
	return 0;
}

int sl_cgroup_summary_by_path(struct sl *p, const char *path, unsigned window_s,
			      struct sl_cg_summary *out)
{
	uint64_t id;
	int err;

	if (window_s != 0 && window_s != 1 && window_s != 10 && window_s != 60)
		return -EINVAL;
	err = sl_cgroup_id_of_path(p, path, &id);
	if (err)
		return err;
	return sl_cgroup_summary_by_id(p, id, window_s, out);
}

/* The path a row is summed under: the resolved one, or the last known one
 * of a cgroup removed since (its counts stay in the windows a while). */
static const char *tree_path(void *ctx, uint64_t id)
{
	struct sl *p = ctx;
	struct cg_name *e = sl_cgpath_slot(p->cg, id, false);

	return e && e->state != NM_EMPTY && e->path[0] == '/' ? e->path : NULL;
}

int sl_cgroup_subtree_by_id(struct sl *p, uint64_t id, const char *rel, unsigned window_s,
			    struct sl_cg_subtree *out)
{
	struct sl_window_result r;
	struct sl_cgtree_sum *t;
	const char *base;
	int err = window_result(p, window_s, &r);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	t = malloc(sizeof(*t));
	if (!t) {
		sl_window_result_free(&r);
		return -ENOMEM;
	}
	resolve_now(p, id);
	base = rel && rel[0] == '/' ? rel : sl_cgroup_path(p, id);
	fill(p, sl_window_result_find(&r, id), id, window_s == 0, &r, &out->own);
	if (base && !out->own.path[0])
		snprintf(out->own.path, sizeof(out->own.path), "%s", base);
	if (base) {
		err = sl_cgtree_sum(&r, id, base, tree_path, p, SLG_WAIT_MAX, SLG_WAITS, t);
	} else { /* without its path, only its own row is known to be its */
		const struct sl_window_row *row = sl_window_result_find(&r, id);

		memset(t, 0, sizeof(*t));
		if (row) {
			t->summed = 1;
			t->has_base = true;
			memcpy(t->c, row->c, SLG_N * sizeof(*t->c));
			memcpy(t->h, row->h, sizeof(t->h));
		}
	}
	if (!err) {
		fill_from(p, t->c, t->h, id, window_s == 0, &r, &out->all);
		snprintf(out->all.path, sizeof(out->all.path), "%s", out->own.path);
		memcpy(out->hist, t->h, sizeof(out->hist));
		out->cgroups_summed = t->summed;
		out->descendants = t->summed - (t->has_base ? 1 : 0);
		out->unresolved = t->unresolved;
		out->nparts = t->nparts < SL_CG_SUBTREE_PARTS ? t->nparts : SL_CG_SUBTREE_PARTS;
		for (size_t i = 0; i < out->nparts; i++) {
			const char *pp = tree_path(p, t->parts[i].id);

			out->parts[i].id = t->parts[i].id;
			out->parts[i].count = t->parts[i].rank;
			snprintf(out->parts[i].path, sizeof(out->parts[i].path), "%s", pp ? pp : "");
		}
	}
	free(t);
	sl_window_result_free(&r);
	return err;
}

int sl_cgroup_subtree_by_path(struct sl *p, const char *path, unsigned window_s,
			      struct sl_cg_subtree *out)
{
	char rel[SL_CG_PATH_MAX];
	const char *r;
	uint64_t id;
	int err;

	memset(out, 0, sizeof(*out));
	if (window_s != 0 && window_s != 1 && window_s != 10 && window_s != 60)
		return -EINVAL;
	err = sl_cgroup_id_of_path(p, path, &id);
	if (err)
		return err;
	r = rel_path(p->cg, path);
	snprintf(rel, sizeof(rel), "%s", r && r[0] ? r : "/");
	return sl_cgroup_subtree_by_id(p, id, rel, window_s, out);
}

static uint64_t sort_key(const struct sl_cg_summary *s, enum sl_cg_sort by)
{
	return by == SL_CG_SORT_SWITCHES ? s->switches : by == SL_CG_SORT_P99 ? s->p99_ns
										: s->sum_ns;
}

static enum sl_cg_sort sort_by;

static int cmp_summary(const void *a, const void *b)
{
	const struct sl_cg_summary *x = a, *y = b;
	uint64_t kx = sort_key(x, sort_by), ky = sort_key(y, sort_by);

	if (kx != ky)
		return kx < ky ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int sl_cgroup_top(struct sl *p, unsigned window_s, enum sl_cg_sort sort, size_t offset,
		  struct sl_cg_summary *out, size_t max, size_t *total)
{
	struct sl_window_result r;
	struct sl_cg_summary *all;
	size_t n = 0;
	int err = window_result(p, window_s, &r);

	*total = 0;
	if (err)
		return err;
	all = calloc(r.n ? r.n : 1, sizeof(*all));
	if (!all) {
		sl_window_result_free(&r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.rows[i].c[SLG_SWITCHES])
			fill(p, &r.rows[i], r.rows[i].key, window_s == 0, &r, &all[n++]);
	sort_by = sort; /* event loop only */
	qsort(all, n, sizeof(*all), cmp_summary);
	for (size_t i = offset; i < n && i - offset < max; i++)
		out[i - offset] = all[i];
	*total = n;
	free(all);
	sl_window_result_free(&r);
	return 0;
}

/* ------------------------------------------------------------- resource */

const char *sl_cgroup_label(const char *path, char *buf)
{
	size_t n = strlen(path);

	if (n <= SMCP_METRIC_VALUE_MAX)
		return path;
	snprintf(buf, SMCP_METRIC_VALUE_MAX + 1, "...%s", path + n - (SMCP_METRIC_VALUE_MAX - 3));
	return buf;
}

static void emit_rows(struct sl *p, struct smcp_json *j, const char *key,
		      const struct sl_cg_summary *s, size_t n)
{
	const struct smcp_host_api *api = p->api;

	api->json_array(j, key);
	for (size_t i = 0; i < n; i++) {
		api->json_object(j, NULL);
		if (s[i].path[0])
			api->json_string(j, "cgroup", s[i].path);
		else
			api->json_null(j, "cgroup");
		if (strlen(s[i].path) > SMCP_METRIC_VALUE_MAX) {
			char label[SMCP_METRIC_VALUE_MAX + 1];

			api->json_string(j, "metric_label", sl_cgroup_label(s[i].path, label));
		}
		api->json_uint(j, "id", s[i].id);
		api->json_uint(j, "switches", s[i].switches);
		api->json_uint(j, "waits", s[i].count);
		api->json_double(j, "wait_total_ms", (double)(s[i].sum_ns / 1000) / 1000.0);
		if (s[i].count) {
			api->json_double(j, "p50_us", (double)(s[i].p50_ns / 100) / 10.0);
			api->json_double(j, "p90_us", (double)(s[i].p90_ns / 100) / 10.0);
			api->json_double(j, "p99_us", (double)(s[i].p99_ns / 100) / 10.0);
			api->json_double(j, "max_us", (double)(s[i].max_ns / 100) / 10.0);
		}
		api->json_end(j);
	}
	api->json_end(j);
}

static void emit_top(struct sl *p, struct smcp_json *j, const char *key, unsigned window_s,
		     size_t rows)
{
	const struct smcp_host_api *api = p->api;
	struct sl_cg_summary s[TOP_ROWS];
	size_t total = 0;
	int err;

	api->json_object(j, key);
	api->json_string(j, "window", window_s ? "10s" : "since_start");
	err = sl_cgroup_top(p, window_s, SL_CG_SORT_WAIT_TIME, 0, s, rows, &total);
	if (err) {
		api->json_string(j, "error", strerror(-err));
		api->json_end(j);
		return;
	}
	api->json_uint(j, "cgroups", total);
	emit_rows(p, j, "longest_waiting", s, total < rows ? total : rows);
	(void)sl_cgroup_top(p, window_s, SL_CG_SORT_SWITCHES, 0, s, rows, &total);
	emit_rows(p, j, "busiest", s, total < rows ? total : rows);
	api->json_end(j);
}

static int read_cgroups(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_cg_info info;
	struct smcp_json *j;

	sl_cgroup_info(p, &info);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_bool(j, "available", info.hier != SL_CG_OFF);
	api->json_string(j, "hierarchy", info.name);
	if (info.hier == SL_CG_OFF) {
		api->json_string(j, "reason", info.reason);
		return 0;
	}
	api->json_string(j, "mount", info.mount);
	api->json_string(j, "keyed_by",
			 info.hier == SL_CG_V2
				 ? "the cgroup v2 cgroup of the task that got the CPU "
				   "(task->cgroups->dfl_cgrp), as runqlat -c"
				 : "the cgroup of the v1 cpu hierarchy of the task that got the CPU "
				   "(task->cgroups->subsys[cpu]->cgroup)");
	api->json_string(j, "paths", "relative to mount; null: not resolved (yet)");
	api->json_string(j, "scope", "own");
	api->json_string(j, "scope_note",
			 "each row counts the tasks directly in that cgroup, not its descendants; "
			 "stats://cgroup/{path} and diagnose_cgroup add up a cgroup's subtree");
	emit_top(p, j, "top_10s", 10, TOP_ROWS);
	emit_top(p, j, "top_since_start", 0, TOP_SINCE_START_ROWS);
	api->json_object(j, "tracked");
	api->json_uint(j, "cgroups", info.tracked);
	api->json_uint(j, "capacity", info.max_cgroups);
	api->json_uint(j, "switches_not_counted_map_full", info.overflow);
	api->json_string(j, "path_resolution",
			 p->cg->no_handles ? "a bounded walk of the hierarchy (file handles refused)"
					   : "file handles (open_by_handle_at)");
	api->json_end(j);
	api->json_string(j, "more", "metric sched_cgroup_runq_latency_ns{cgroup} keeps the "
				    "history of the top cgroups (watches take it)");
	return 0;
}

int sl_cgroup_register(struct sl *p)
{
	const struct smcp_resource_desc res[] = { {
		SMCP_RESOURCE("stats://aggregated/cgroup"),
		.name = "sched_cgroup",
		.title = "Run-queue latency per cgroup",
		.description = "Cgroups whose tasks waited longest for a CPU and the busiest ones, "
			       "last 10 s and since start: switches, wait, p50/p90/p99/max of each "
			       "cgroup's own tasks (stats://cgroup/{path}: a subtree).",
		.mime_type = "application/json",
		.read = read_cgroups,
		.data = p,
	} };

	return smcp_register_resources(p->h, p->api, res, SMCP_COUNT(res));
}
