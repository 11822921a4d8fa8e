/* SPDX-License-Identifier: MIT */
/*
 * trace_analysis: load Perfetto traces and trace-cmd trace.dat files from
 * the configured trace directory, keep them in a cache under a memory
 * bound (LRU eviction), and answer analyses of them, paged.
 *
 * Loading and analysing run on the host's workers (work_submit): the loop
 * only checks arguments and writes answers. A trace a job reads holds a
 * reference; trace_unload or an eviction of it frees it when the last
 * job is done. Files are opened once, beneath the directory's fd, with no
 * symlink anywhere in the path (openat2 RESOLVE_BENEATH|NO_SYMLINKS), a
 * regular file no larger than max_file_mb.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <schedmcp/fsread.h>
#include <schedmcp/plugin.h>

#include "ta.h"
#include "ta_an.h"
#include "ta_replay.h"

struct entry {
	struct ta_trace *t;
	struct ta_replay *rp; /* kept after the first analysis that needed it */
	uint64_t last_used;
	int refs;
	bool dead; /* unloaded or evicted while a job held it */
	struct entry *next;
};

struct plugin {
	struct smcp_host *h;
	const struct smcp_host_api *api;
	const char *dir;
	int dir_fd;
	size_t cache_bytes, max_file_bytes;
	struct entry *cache;
	uint64_t tick;
	struct ta_topo topo;
	char topo_why[160];
	struct utsname uts;
};

static struct plugin P = { .dir_fd = -1 };

static const struct smcp_config_key keys[] = {
	{ .sz = sizeof(struct smcp_config_key), .name = "dir", .type = SMCP_CONFIG_PATH,
	  .default_value = "/var/lib/schedmcp/traces",
	  .description = "directory the traces are loaded from (clients name files under it)" },
	{ .sz = sizeof(struct smcp_config_key), .name = "cache_mb", .type = SMCP_CONFIG_INT,
	  .default_value = "512", .min = 1, .max = 65536,
	  .description = "memory bound of the loaded traces (MiB); the least recently used go" },
	{ .sz = sizeof(struct smcp_config_key), .name = "max_file_mb", .type = SMCP_CONFIG_INT,
	  .default_value = "1024", .min = 1, .max = 65536,
	  .description = "largest trace file loaded (MiB)" },
	{ 0 },
};

/* -------------------------------------------------------------- the cache */

static struct entry *find(const char *name)
{
	for (struct entry *e = P.cache; e; e = e->next)
		if (!strcmp(e->t->name, name))
			return e;
	return NULL;
}

static size_t entry_mem(const struct entry *e)
{
	return ta_trace_mem(e->t) + (e->rp ? ta_replay_mem(e->rp) : 0);
}

static void replay_free(struct ta_replay *rp)
{
	if (rp) {
		ta_replay_free(rp);
		free(rp);
	}
}

static size_t cache_used(void)
{
	size_t n = 0;

	for (struct entry *e = P.cache; e; e = e->next)
		n += entry_mem(e);
	return n;
}

static void entry_put(struct entry *e)
{
	if (--e->refs <= 0 && e->dead) {
		replay_free(e->rp);
		ta_trace_free(e->t);
		free(e);
	}
}

static void cache_remove(struct entry *e)
{
	for (struct entry **pe = &P.cache; *pe; pe = &(*pe)->next)
		if (*pe == e) {
			*pe = e->next;
			break;
		}
	e->dead = true;
	e->refs++;
	entry_put(e);
}

/* ------------------------------------------------------------------ load */

struct load_job {
	bool cancelled; /* first: on_cancel */
	struct smcp_call *call;
	struct smcp_result *res;
	int timer;      /* progress, every PROGRESS_MS */
	struct ta_replay *rp; /* made after the load, so analyses start from it */
	uint64_t size;  /* of the file, once the worker knows it (atomic) */
	char name[256];
	struct ta_trace *t;
	int err;
	char msg[320];
};

#define PROGRESS_MS 500

/* Progress of a load: events read so far (the worker writes the counter
 * with relaxed atomics), against the file's size in bytes as the total is
 * unknown until the end. */
static void on_load_progress(void *data)
{
	struct load_job *j = data;
	uint64_t n = j->t ? __atomic_load_n(&j->t->n_events, __ATOMIC_RELAXED) : 0;
	char msg[96];

	if (j->cancelled)
		return;
	snprintf(msg, sizeof(msg), "%llu events read of a %llu-byte file",
		 (unsigned long long)n,
		 (unsigned long long)__atomic_load_n(&j->size, __ATOMIC_RELAXED));
	(void)P.api->call_progress(j->call, (double)n, 0, msg);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255 || s[0] == '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 32)
			return false;
	for (const char *p = s; p; p = strchr(p, '/')) {
		p += *p == '/';
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return false;
		if (*p == '/' || !*p)
			return false;
	}
	return true;
}

static int open_beneath(int dir_fd, const char *name)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) {
		if (strchr(name, '/'))
			return -EXDEV; /* without openat2: only names in the directory itself */
		fd = openat(dir_fd, name, (int)how.flags);
	}
	return fd < 0 ? -errno : (int)fd;
}

static int load_work(void *data)
{
	struct load_job *j = data;
	uint8_t *buf = NULL;
	struct stat st;
	ssize_t got;
	int fd, err;

	fd = open_beneath(P.dir_fd, j->name);
	if (fd < 0) {
		snprintf(j->msg, sizeof(j->msg), "cannot open %s under %s: %s", j->name, P.dir,
			 fd == -ELOOP || fd == -EXDEV ? "a symlink or a path leaving the directory "
			 "(refused)" : strerror(-fd));
		return fd;
	}
	if (!j->t) {
		close(fd);
		return -ENOMEM;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		snprintf(j->msg, sizeof(j->msg), "%s is not a regular file", j->name);
		goto out;
	}
	if ((uint64_t)st.st_size > P.max_file_bytes) {
		err = -EFBIG;
		snprintf(j->msg, sizeof(j->msg), "%s has %lld bytes, over max_file_mb (%zu MiB)",
			 j->name, (long long)st.st_size, P.max_file_bytes >> 20);
		goto out;
	}
	__atomic_store_n(&j->size, (uint64_t)st.st_size, __ATOMIC_RELAXED);
	buf = malloc((size_t)st.st_size + 16);
	if (!buf) {
		err = -ENOMEM;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
		goto out;
	}
	got = smcp_read_full(fd, (char *)buf, 16 < st.st_size ? 16 : (size_t)st.st_size);
	if (got < 0) {
		err = (int)got;
		snprintf(j->msg, sizeof(j->msg), "read %s: %s", j->name, strerror(-err));
		goto out;
	}
	snprintf(j->t->format, sizeof(j->t->format), "%s",
		 ta_is_tracedat(buf, (size_t)got) ? "trace.dat" : "perfetto");
	j->t->file_bytes = (uint64_t)st.st_size;
	if (ta_is_tracedat(buf, (size_t)got)) {
		if (lseek(fd, 0, SEEK_SET) < 0) {
			err = -errno;
			goto out;
		}
		err = ta_read_tracedat(j->t, fd, j->msg, sizeof(j->msg));
	} else {
		ssize_t rest = smcp_read_full(fd, (char *)buf + got, (size_t)st.st_size - (size_t)got);

		if (rest < 0) {
			err = (int)rest;
			snprintf(j->msg, sizeof(j->msg), "read %s: %s", j->name, strerror(-err));
			goto out;
		}
		/* a file that shrank reads as what is there: a truncated trace */
		err = ta_read_perfetto(j->t, buf, (size_t)(got + rest), j->msg, sizeof(j->msg));
	}
	if (!err)
		err = ta_trace_finish(j->t);
	/* the replay every state-based analysis needs, made now while the
	 * client waits for the load anyway (it is dropped if it does not fit) */
	if (!err && (j->rp = malloc(sizeof(*j->rp))) && ta_replay_run(j->rp, j->t, true)) {
		free(j->rp);
		j->rp = NULL;
	}
	if (err == -EFBIG && !strstr(j->msg, "memory"))
		snprintf(j->msg, sizeof(j->msg), "trace larger than the memory bound (cache_mb)");
out:
	free(buf);
	close(fd);
	return err; /* done frees the trace on an error: the timer may read it */
}

static void put_brief(struct smcp_json *j, const struct ta_trace *t)
{
	const struct smcp_host_api *api = P.api;

	api->json_string(j, "file", t->name);
	api->json_string(j, "format", t->format);
	api->json_uint(j, "events", t->n_events);
	api->json_uint(j, "sched_switch", t->counts[TA_EV_SWITCH]);
	api->json_uint(j, "sched_waking", t->counts[TA_EV_WAKING]);
	api->json_uint(j, "cpus", t->n_cpus);
	api->json_uint(j, "threads", t->n_th);
	api->json_double(j, "duration_s", (double)(t->last_ts - t->first_ts) / 1e9);
	api->json_uint(j, "lost_events", t->lost_events);
	api->json_uint(j, "memory_bytes", ta_trace_mem(t));
	api->json_uint(j, "file_bytes", t->file_bytes);
}

static void on_cancel(void *data, struct smcp_call *call)
{
	(void)call;
	*(bool *)data = true; /* the first member of every job */
}

static void load_done(void *data, int rc)
{
	struct load_job *j = data;
	const struct smcp_host_api *api = P.api;
	struct smcp_json *js;
	struct entry *e;
	char evicted[512] = "";
	size_t need, at = 0;

	if (j->timer > 0)
		(void)api->timer_remove(P.h, j->timer);
	if (rc || !j->t) {
		api->log(P.h, SMCP_LOG_INFO, "trace_load %s: %s", j->name, j->msg);
		if (!j->cancelled) {
			api->result_error(j->res, "%s", j->msg[0] ? j->msg : strerror(-rc));
			api->call_complete(j->call, 0);
		}
		goto out;
	}
	need = ta_trace_mem(j->t);
	if (j->rp && need + ta_replay_mem(j->rp) <= P.cache_bytes)
		need += ta_replay_mem(j->rp);
	else {
		replay_free(j->rp);
		j->rp = NULL;
	}
	if ((e = find(j->name)))
		cache_remove(e); /* loaded again meanwhile: the newer wins */
	while (P.cache && cache_used() + need > P.cache_bytes) {
		struct entry *lru = P.cache;

		for (e = P.cache; e; e = e->next)
			if (e->last_used < lru->last_used)
				lru = e;
		if (at < sizeof(evicted) - 1)
			at += (size_t)snprintf(evicted + at, sizeof(evicted) - at, "%s%s",
					       at ? ", " : "", lru->t->name);
		api->log(P.h, SMCP_LOG_NOTICE, "evicted trace %s (%zu bytes) to load %s",
			 lru->t->name, entry_mem(lru), j->name);
		cache_remove(lru);
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		if (!j->cancelled)
			api->call_complete(j->call, -ENOMEM);
		goto out;
	}
	e->t = j->t;
	e->rp = j->rp;
	j->rp = NULL;
	e->last_used = ++P.tick;
	e->next = P.cache;
	P.cache = e;
	j->t = NULL;
	(void)api->notify_resource_updated(P.h, "traces://loaded");
	if (j->cancelled)
		goto out;
	js = api->result_json(j->res);
	if (js) {
		put_brief(js, e->t);
		if (at)
			api->json_string(js, "evicted", evicted);
		api->json_uint(js, "cache_used_bytes", cache_used());
		api->json_uint(js, "cache_bound_bytes", P.cache_bytes);
		api->json_string(js, "next", "trace_analyze with analysis summary, states, latency...");
	}
	api->call_complete(j->call, js ? 0 : -ENOMEM);
out:
	replay_free(j->rp);
	ta_trace_free(j->t);
	free(j);
}

static int tool_load(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	const struct smcp_host_api *api = P.api;
	struct load_job *j;
	const char *name;
	struct entry *e;
	int err;

	(void)data;
	if (api->arg_string(args, "file", &name) || !name_ok(name))
		return api->result_error(res, "file: a path relative to the trace directory %s, "
					 "without '..'", P.dir), 0;
	if (P.dir_fd < 0)
		return api->result_error(res, "the trace directory %s cannot be opened", P.dir), 0;
	if ((e = find(name))) {
		struct smcp_json *js = api->result_json(res);

		e->last_used = ++P.tick;
		if (!js)
			return -ENOMEM;
		put_brief(js, e->t);
		api->json_bool(js, "cached", true);
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->call = call;
	j->res = res;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->t = ta_trace_new(name, "", P.cache_bytes);
	(void)api->call_progress(call, 0, 0, "loading");
	err = api->work_submit(P.h, load_work, load_done, j);
	if (err) {
		ta_trace_free(j->t);
		free(j);
		return api->result_error(res, "cannot start the load now (%s): try again",
					 strerror(-err)), 0;
	}
	(void)api->call_on_cancel(call, on_cancel, &j->cancelled);
	j->timer = api->timer_add(P.h, PROGRESS_MS, true, on_load_progress, j);
	return SMCP_PENDING;
}

static int tool_unload(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const struct smcp_host_api *api = P.api;
	const char *name = NULL;
	struct entry *e;

	(void)data;
	(void)call;
	if (api->arg_string(args, "file", &name) || !(e = find(name)))
		return api->result_error(res, "no trace %s is loaded: see traces://loaded",
					 name ? name : ""), 0;
	cache_remove(e);
	(void)api->notify_resource_updated(P.h, "traces://loaded");
	return api->result_textf(res, "unloaded %s", name);
}

/* --------------------------------------------------------------- analyse */

struct an_job {
	bool cancelled; /* first: on_cancel */
	struct smcp_call *call;
	struct smcp_result *res;
	struct entry *e;
	struct ta_query q;
	struct ta_answer a;
	const struct ta_replay *shared; /* the entry's, when it had one */
	struct ta_replay *made;         /* made by this job */
	int err;
};

static int an_work(void *data)
{
	struct an_job *j = data;

	return ta_analyze(j->e->t, j->shared, &j->q, &j->a, &j->made);
}

/* Keep a replay a job made, when its trace is still cached and it fits
 * the bound (else it goes: the next analysis makes it again). */
static void keep_replay(struct an_job *j)
{
	struct entry *e = j->e;

	if (!j->made)
		return;
	if (!e->dead && !e->rp && cache_used() + ta_replay_mem(j->made) <= P.cache_bytes) {
		e->rp = j->made;
		j->made = NULL;
	}
	replay_free(j->made);
	j->made = NULL;
}

static void put_cell(struct smcp_json *js, const struct ta_cell *c)
{
	const struct smcp_host_api *api = P.api;

	switch (c->kind) {
	case TA_C_INT:
		api->json_int(js, c->key, c->i);
		break;
	case TA_C_UINT:
		api->json_uint(js, c->key, c->u);
		break;
	case TA_C_DBL:
		api->json_double(js, c->key, c->d);
		break;
	case TA_C_STR:
		api->json_string(js, c->key, c->s);
		break;
	default:
		api->json_null(js, c->key);
		break;
	}
}

static void an_done(void *data, int rc)
{
	struct an_job *j = data;
	const struct smcp_host_api *api = P.api;
	struct smcp_json *js;
	uint32_t n = 0;

	keep_replay(j);
	if (j->cancelled)
		goto out;
	if (rc) {
		if (j->a.errmsg[0])
			api->result_error(j->res, "%s", j->a.errmsg);
		api->call_complete(j->call, j->a.errmsg[0] ? 0 : rc);
		goto out;
	}
	js = api->result_json(j->res);
	if (!js) {
		api->call_complete(j->call, -ENOMEM);
		goto out;
	}
	api->json_string(js, "file", j->e->t->name);
	api->json_string(js, "analysis", j->q.analysis);
	for (uint32_t i = 0; i < j->a.head.n; i++)
		put_cell(js, &j->a.head.c[i]);
	if (j->a.method[0])
		api->json_string(js, "method", j->a.method);
	if (j->a.note[0])
		api->json_string(js, "note", j->a.note);
	api->json_array(js, "rows");
	for (; n < j->a.n_rows; n++) {
		smcp_json_item_begin(api, js);
		api->json_object(js, NULL);
		for (uint32_t c = 0; c < j->a.rows[n].n; c++)
			put_cell(js, &j->a.rows[n].c[c]);
		api->json_end(js);
		if (!smcp_json_item_fits(api, js))
			break;
	}
	api->json_end(js);
	api->json_object(js, "page");
	api->json_uint(js, "cursor", j->q.cursor);
	api->json_uint(js, "returned", n);
	api->json_uint(js, "total", j->a.total);
	if (j->q.cursor + n < j->a.total) {
		api->json_uint(js, "next_cursor", j->q.cursor + n);
		api->json_string(js, "how", n < j->a.n_rows ? "cut to max_result_bytes: call again "
				 "with cursor = next_cursor" : "more rows: cursor = next_cursor");
	}
	api->json_end(js);
	api->call_complete(j->call, 0);
out:
	entry_put(j->e);
	ta_answer_free(&j->a);
	free(j);
}

static int64_t int_arg(const struct smcp_args *args, const char *k, int64_t def)
{
	int64_t v;

	return P.api->arg_int(args, k, &v) == 0 ? v : def;
}

static int tool_analyze(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	const struct smcp_host_api *api = P.api;
	const char *name = NULL, *an = "summary", *group = "process";
	struct an_job *j;
	struct entry *e;
	int err;

	(void)data;
	if (api->arg_string(args, "file", &name) || !(e = find(name)))
		return api->result_error(res, "no trace %s is loaded: trace_load it first "
					 "(traces://loaded lists what is)", name ? name : ""), 0;
	(void)api->arg_string(args, "analysis", &an);
	(void)api->arg_string(args, "group", &group);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->call = call;
	j->res = res;
	j->e = e;
	snprintf(j->q.analysis, sizeof(j->q.analysis), "%s", an);
	snprintf(j->q.group, sizeof(j->q.group), "%s", group);
	j->q.tid = int_arg(args, "tid", -1);
	j->q.pid = int_arg(args, "pid", -1);
	j->q.cpu = int_arg(args, "cpu", -1);
	j->q.t1_ns = int_arg(args, "t1_ns", -1);
	j->q.t2_ns = int_arg(args, "t2_ns", -1);
	j->q.cursor = (uint64_t)int_arg(args, "cursor", 0);
	j->q.limit = (uint32_t)int_arg(args, "limit", 50);
	if (P.topo.valid && e->t->uname[0] && strstr(e->t->uname, P.uts.release) &&
	    strstr(e->t->uname, P.uts.version) && e->t->producer_cpus == P.topo.n_cpus)
		j->q.topo = &P.topo;
	else
		j->q.topo_why = P.topo.valid ? "nothing: the trace does not say it comes from this "
			"machine (kernel and CPU count), so its topology is unknown" : P.topo_why;
	e->last_used = ++P.tick;
	e->refs++;
	j->shared = e->rp;
	err = api->work_submit(P.h, an_work, an_done, j);
	if (err) {
		entry_put(e);
		free(j);
		return api->result_error(res, "cannot start the analysis now (%s): try again",
					 strerror(-err)), 0;
	}
	(void)api->call_on_cancel(call, on_cancel, &j->cancelled);
	return SMCP_PENDING;
}

static int read_loaded(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	const struct smcp_host_api *api = P.api;
	struct smcp_json *js = api->result_json(res);

	(void)data;
	(void)call;
	(void)uri;
	(void)vars;
	if (!js)
		return -ENOMEM;
	api->json_string(js, "dir", P.dir);
	api->json_uint(js, "cache_used_bytes", cache_used());
	api->json_uint(js, "cache_bound_bytes", P.cache_bytes);
	api->json_string(js, "trace_dat", ta_tracedat_unavailable() ?: "supported");
	api->json_array(js, "traces");
	for (struct entry *e = P.cache; e; e = e->next) {
		smcp_json_item_begin(api, js);
		api->json_object(js, NULL);
		put_brief(js, e->t);
		api->json_uint(js, "replay_bytes", e->rp ? ta_replay_mem(e->rp) : 0);
		api->json_uint(js, "lru_age", P.tick - e->last_used);
		api->json_end(js);
		if (!smcp_json_item_fits(api, js))
			break;
	}
	api->json_end(js);
	return 0;
}

/* ------------------------------------------------------------- topology */

static int read_int(const char *root, const char *path, int32_t *v)
{
	char buf[32];
	int n = smcp_read_file(root, path, buf, sizeof(buf));

	if (n <= 0)
		return -ENOENT;
	*v = (int32_t)strtol(buf, NULL, 10);
	return 0;
}

static void topo_read(void)
{
	const char *root = P.api->fs_root(P.h);
	long n = sysconf(_SC_NPROCESSORS_CONF);
	char path[160];

	if (n <= 0 || n > 4096) {
		snprintf(P.topo_why, sizeof(P.topo_why), "nothing: this machine's CPU count is unknown");
		return;
	}
	P.topo.n_cpus = (uint32_t)n;
	P.topo.core = calloc((size_t)n, sizeof(int32_t));
	P.topo.llc = calloc((size_t)n, sizeof(int32_t));
	P.topo.node = calloc((size_t)n, sizeof(int32_t));
	if (!P.topo.core || !P.topo.llc || !P.topo.node)
		return;
	for (long c = 0; c < n; c++) {
		int32_t pkg = 0, core = -1;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%ld/topology/core_id", c);
		(void)read_int(root, path, &core);
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", c);
		(void)read_int(root, path, &pkg);
		P.topo.core[c] = core < 0 ? -1 : pkg * 65536 + core;
		P.topo.llc[c] = -1;
		for (int idx = 3; idx >= 2 && P.topo.llc[c] < 0; idx--) {
			int32_t id;

			snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%ld/cache/index%d/id",
				 c, idx);
			if (!read_int(root, path, &id))
				P.topo.llc[c] = pkg * 65536 + id;
		}
		P.topo.node[c] = 0;
		for (int nd = 0; nd < 64; nd++) {
			struct stat st;
			char full[256];

			snprintf(full, sizeof(full), "%s/sys/devices/system/cpu/cpu%ld/node%d", root, c,
				 nd);
			if (!lstat(full, &st)) {
				P.topo.node[c] = nd;
				break;
			}
		}
	}
	P.topo.valid = true;
}

/* ----------------------------------------------------------------- plugin */

#define ANALYSES "[\"summary\",\"states\",\"latency\",\"preemptions\",\"wakeups\"," \
	"\"critical_path\",\"migrations\",\"timeline\",\"thread_window\",\"fairness\"," \
	"\"outliers\",\"dsq\",\"samples\"]"

static const struct smcp_tool_desc tools[] = {
	{ SMCP_TOOL("trace_load"),
	  .description = "Load a Perfetto or trace.dat file of the trace directory.",
	  .input_schema = "{\"type\":\"object\",\"properties\":{\"file\":{\"type\":\"string\","
			  "\"maxLength\":255,\"description\":\"relative to the trace dir\"}},"
			  "\"required\":[\"file\"],\"additionalProperties\":false}",
	  .flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT, .call = tool_load },
	{ SMCP_TOOL("trace_unload"),
	  .description = "Unload a trace.",
	  .input_schema = "{\"type\":\"object\",\"properties\":{\"file\":{\"type\":\"string\","
			  "\"maxLength\":255}},\"required\":[\"file\"],"
			  "\"additionalProperties\":false}",
	  .flags = SMCP_TOOL_IDEMPOTENT, .call = tool_unload },
	{ SMCP_TOOL("trace_analyze"),
	  .description = "Analyse a loaded trace; paged (cursor). Times in ns from its start.",
	  .input_schema = "{\"type\":\"object\",\"properties\":{"
			  "\"file\":{\"type\":\"string\",\"maxLength\":255},"
			  "\"analysis\":{\"type\":\"string\",\"enum\":" ANALYSES "},"
			  "\"tid\":{\"type\":\"integer\",\"minimum\":1},"
			  "\"pid\":{\"type\":\"integer\",\"minimum\":1},"
			  "\"cpu\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4095},"
			  "\"t1_ns\":{\"type\":\"integer\",\"minimum\":0},"
			  "\"t2_ns\":{\"type\":\"integer\",\"minimum\":0},"
			  "\"group\":{\"type\":\"string\",\"enum\":[\"process\",\"thread\",\"cpu\","
			  "\"function\",\"stack\"]},"
			  "\"cursor\":{\"type\":\"integer\",\"minimum\":0},"
			  "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500}},"
			  "\"required\":[\"file\"],\"additionalProperties\":false}",
	  .flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT, .call = tool_analyze },
};

static const struct smcp_resource_desc resources[] = {
	{ SMCP_RESOURCE("traces://loaded"), .name = "traces_loaded", .title = "Loaded traces",
	  .description = "Traces in the cache: size in memory, events, LRU age; the bound.",
	  .mime_type = "application/json", .read = read_loaded },
};

static int ta_init(struct smcp_host *h, const struct smcp_host_api *api)
{
	int64_t v;
	int err;

	P.h = h;
	P.api = api;
	P.dir_fd = -1;
	if (api->config_string(h, "dir", &P.dir))
		P.dir = "/var/lib/schedmcp/traces";
	P.cache_bytes = (size_t)(api->config_int(h, "cache_mb", &v) ? 512 : v) << 20;
	P.max_file_bytes = (size_t)(api->config_int(h, "max_file_mb", &v) ? 1024 : v) << 20;
	(void)uname(&P.uts);
	topo_read();
	err = smcp_register_tools(h, api, tools, SMCP_COUNT(tools)) ?:
	      smcp_register_resources(h, api, resources, SMCP_COUNT(resources));
	if (err)
		return err;
	if (SMCP_API_HAS(api, add_instructions))
		(void)api->add_instructions(h, "trace_load reads a Perfetto or trace.dat file of the "
					    "trace directory; trace_analyze answers from it, paged "
					    "(start with analysis summary).");
	P.dir_fd = open(P.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (P.dir_fd < 0)
		api->set_status(h, true, "the trace directory ([plugin trace_analysis] dir) cannot "
				"be opened: create it, or set dir");
	else if (ta_tracedat_unavailable())
		api->set_status(h, true, ta_tracedat_unavailable());
	return 0;
}

static void ta_fini(struct smcp_host *h)
{
	(void)h;
	while (P.cache)
		cache_remove(P.cache);
	if (P.dir_fd >= 0)
		close(P.dir_fd);
	free(P.topo.core);
	free(P.topo.llc);
	free(P.topo.node);
	memset(&P, 0, sizeof(P));
	P.dir_fd = -1;
}

SMCP_PLUGIN_DEFINE("trace_analysis", "0.1.0", "loads scheduler traces and analyses them, bounded",
		   .config_keys = keys, .init = ta_init, .fini = ta_fini)
