/* SPDX-License-Identifier: MIT */
#include "sl_cgfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>

#include <schedmcp/cpulist.h>
#include <schedmcp/fsread.h>

#define MOUNTS_MAX (256 * 1024)
#define CG_FILE_MAX 4096
#define PROCS_FILE_MAX (256 * 1024)

const char *const sl_cg_cause_names[SL_CG_NCAUSES] = { "none", "throttled", "contention",
							"machine_short" };

const char *sl_cgfs_layout_name(enum sl_cg_layout l)
{
	switch (l) {
	case SL_CGL_V2:
		return "v2";
	case SL_CGL_V1:
		return "v1";
	case SL_CGL_HYBRID:
		return "hybrid";
	default:
		return "none";
	}
}

/* Whether word is one of the comma-separated items of list. */
static bool has_item(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = list; s && *s;) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len == n && strncmp(s, word, n) == 0)
			return true;
		s = e ? e + 1 : NULL;
	}
	return false;
}

/* Whether word is one of the space-separated words of text. */
static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = strstr(text, word); s; s = strstr(s + 1, word))
		if ((s == text || s[-1] == ' ' || s[-1] == '\n') &&
		    (s[n] == '\0' || s[n] == ' ' || s[n] == '\n'))
			return true;
	return false;
}

int sl_cgfs_detect(const char *fs_root, struct sl_cgfs *fs)
{
	char *text = NULL, *save = NULL, ctl[512];
	size_t len;
	bool v2_cpu = false;
	int err;

	memset(fs, 0, sizeof(*fs));
	snprintf(fs->fs_root, sizeof(fs->fs_root), "%s", fs_root ? fs_root : "");
	err = smcp_slurp(fs->fs_root, "/proc/self/mounts", MOUNTS_MAX, &text, &len);
	if (err)
		return err;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char dev[64], mnt[SL_CGFS_MNT_MAX], type[32], opts[512];

		/* a mount point with an escaped space (\040) is kept as written
		 * and simply fails to open: no cgroup root has one */
		if (sscanf(line, "%63s %255s %31s %511s", dev, mnt, type, opts) != 4)
			continue;
		if (strcmp(type, "cgroup2") == 0 && !fs->v2_root[0]) {
			snprintf(fs->v2_root, sizeof(fs->v2_root), "%s", mnt);
		} else if (strcmp(type, "cgroup") == 0) {
			if (has_item(opts, "cpu") && !fs->cpu_root[0])
				snprintf(fs->cpu_root, sizeof(fs->cpu_root), "%s", mnt);
			if (has_item(opts, "cpuacct") && !fs->acct_root[0])
				snprintf(fs->acct_root, sizeof(fs->acct_root), "%s", mnt);
		}
	}
	free(text);
	if (fs->v2_root[0]) {
		char path[SL_CGFS_MNT_MAX + 32];

		snprintf(path, sizeof(path), "%s/cgroup.controllers", fs->v2_root);
		if (smcp_read_file(fs->fs_root, path, ctl, sizeof(ctl)) >= 0)
			v2_cpu = has_word(ctl, "cpu");
	}
	if (v2_cpu && !fs->cpu_root[0]) {
		fs->layout = SL_CGL_V2;
		snprintf(fs->cpu_root, sizeof(fs->cpu_root), "%s", fs->v2_root);
		fs->acct_root[0] = '\0';
	} else if (fs->cpu_root[0]) {
		fs->layout = fs->v2_root[0] ? SL_CGL_HYBRID : SL_CGL_V1;
	} else {
		fs->layout = SL_CGL_NONE;
		snprintf(fs->reason, sizeof(fs->reason),
			 "no cpu controller: neither a v1 cgroup hierarchy with cpu nor cgroup2%s%s "
			 "with cpu in cgroup.controllers is mounted",
			 fs->v2_root[0] ? " at " : "", fs->v2_root);
	}
	return 0;
}

bool sl_cgfs_path_ok(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	if (n == 0 || n >= SL_CGFS_PATH_MAX || path[0] != '/')
		return false;
	if (n == 1)
		return true;
	for (const char *s = path + 1;;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return false;
		if (!e)
			return true;
		s = e + 1;
	}
}

/* Open rel (relative, checked) below dir without following a symlink;
 * extra: O_DIRECTORY for a directory. */
static int open_beneath(int dir, const char *rel, int extra)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | (unsigned)extra,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dir, rel, &how, sizeof(how));

	if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
		fd = openat(dir, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | extra);
	return fd < 0 ? -errno : (int)fd;
}

/* Open file of the cgroup at path in the hierarchy mounted at root. */
static int cg_open(const struct sl_cgfs *fs, const char *root, const char *path,
		   const char *file)
{
	char rel[SL_CGFS_PATH_MAX + 64];
	struct stat st;
	int dir, fd, n;

	if (!root[0])
		return -ENOENT;
	if (!sl_cgfs_path_ok(path) || strchr(file, '/') || !file[0])
		return -EINVAL;
	n = snprintf(rel, sizeof(rel), "%s%s%s", path[1] ? path + 1 : "", path[1] ? "/" : "",
		     file);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return -ENAMETOOLONG;
	dir = smcp_open_under(fs->fs_root, root);
	if (dir < 0)
		return dir;
	fd = open_beneath(dir, rel, 0);
	close(dir);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static int read_fd(int fd, char *buf, size_t len)
{
	ssize_t at = smcp_read_full(fd, buf, len - 1);

	close(fd);
	if (at < 0)
		return (int)at;
	buf[at] = '\0';
	return (int)at;
}

int sl_cgfs_read(const struct sl_cgfs *fs, bool acct, const char *path, const char *file,
		 char *buf, size_t len)
{
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = cg_open(fs, acct ? fs->acct_root : fs->cpu_root, path, file);
	return fd < 0 ? fd : read_fd(fd, buf, len);
}

int sl_cgfs_pid_path(const struct sl_cgfs *fs, int pid, char *buf, size_t len)
{
	char file[64], text[4096], *save = NULL;
	int n;

	if (pid <= 0)
		return -ENOENT;
	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	n = smcp_read_file(fs->fs_root, file, text, sizeof(text));
	if (n < 0)
		return n;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		if (fs->layout == SL_CGL_V2 ? strcmp(line, "0") == 0 && c1[1] == '\0'
					   : has_item(c1 + 1, "cpu")) {
			if (!sl_cgfs_path_ok(c2 + 1) || strlen(c2 + 1) >= len)
				return -EINVAL;
			snprintf(buf, len, "%s", c2 + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* "key value" lines: value of key, or false. */
static bool kv(const char *text, const char *key, uint64_t *v)
{
	size_t n = strlen(key);

	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (strncmp(s, key, n) == 0 && s[n] == ' ') {
			char *end;
			unsigned long long x = strtoull(s + n + 1, &end, 10);

			if (end == s + n + 1)
				return false;
			*v = x;
			return true;
		}
	return false;
}

/* PSI "some avg10=0.00 avg60=0.00 avg300=0.00 total=123" line of kind. */
static bool psi_line(const char *text, const char *kind, double *avg10, uint64_t *total)
{
	size_t n = strlen(kind);

	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
		const char *a, *t;

		if (strncmp(s, kind, n) != 0 || s[n] != ' ')
			continue;
		a = strstr(s, "avg10=");
		t = strstr(s, "total=");
		if (!a || !t)
			return false;
		*avg10 = strtod(a + 6, NULL);
		*total = strtoull(t + 6, NULL, 10);
		return true;
	}
	return false;
}

static bool read_u64(const struct sl_cgfs *fs, bool acct, const char *path, const char *file,
		     int64_t *v)
{
	char buf[64], *end;
	long long x;

	if (sl_cgfs_read(fs, acct, path, file, buf, sizeof(buf)) <= 0)
		return false;
	x = strtoll(buf, &end, 10);
	if (end == buf)
		return false;
	*v = x;
	return true;
}

/* cpu.stat's usage and throttling, and the quota: what both a full
 * sample and the throttling watcher read. */
static void read_throttle(const struct sl_cgfs *fs, const char *path, struct sl_cg_sample *s)
{
	char buf[CG_FILE_MAX];
	int64_t q, per;
	uint64_t v;

	if (sl_cgfs_read(fs, false, path, "cpu.stat", buf, sizeof(buf)) > 0) {
		if (fs->layout == SL_CGL_V2 && kv(buf, "usage_usec", &s->usage_us))
			s->has_usage = true;
		if (kv(buf, "nr_periods", &s->nr_periods) && kv(buf, "nr_throttled", &s->nr_throttled)) {
			if (fs->layout == SL_CGL_V2 && kv(buf, "throttled_usec", &v)) {
				s->throttled_us = v;
				s->has_throttle = true;
			} else if (fs->layout != SL_CGL_V2 && kv(buf, "throttled_time", &v)) {
				s->throttled_us = v / 1000;
				s->has_throttle = true;
			}
		}
	}
	if (fs->layout == SL_CGL_V2) {
		if (sl_cgfs_read(fs, false, path, "cpu.max", buf, sizeof(buf)) > 0) {
			char qs[32];
			unsigned long long p;

			if (sscanf(buf, "%31s %llu", qs, &p) == 2 && p > 0) {
				s->period_us = p;
				s->quota_us = strcmp(qs, "max") == 0 ? -1 : strtoll(qs, NULL, 10);
				s->has_limit = true;
			}
		}
	} else if (read_u64(fs, false, path, "cpu.cfs_quota_us", &q) &&
		   read_u64(fs, false, path, "cpu.cfs_period_us", &per) && per > 0) {
		s->quota_us = q < 0 ? -1 : q;
		s->period_us = (uint64_t)per;
		s->has_limit = true;
	}
}

int sl_cgfs_sample_throttle(const struct sl_cgfs *fs, const char *path, uint64_t t_ns,
			    struct sl_cg_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->t_ns = t_ns;
	s->quota_us = -1;
	if (!sl_cgfs_path_ok(path))
		return -EINVAL;
	read_throttle(fs, path, s);
	s->exists = s->has_throttle || s->has_limit;
	return 0;
}

int sl_cgfs_sample(const struct sl_cgfs *fs, const char *path, uint64_t t_ns,
		   struct sl_cg_sample *s)
{
	char buf[CG_FILE_MAX];
	int64_t q;
	int fd;

	memset(s, 0, sizeof(*s));
	s->t_ns = t_ns;
	s->quota_us = -1;
	if (!sl_cgfs_path_ok(path))
		return -EINVAL;
	if (fs->layout == SL_CGL_NONE)
		return -ENOTSUP;
	fd = cg_open(fs, fs->cpu_root, path, "cgroup.procs");
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return fd;
	s->exists = true;
	{
		/* count processes without keeping the list: a bounded read */
		char chunk[4096];
		ssize_t r;
		size_t total = 0;

		while ((r = smcp_read_full(fd, chunk, sizeof(chunk))) > 0 && total < PROCS_FILE_MAX) {
			total += (size_t)r;
			for (ssize_t i = 0; i < r; i++)
				s->nr_procs += chunk[i] == '\n';
			if ((size_t)r < sizeof(chunk))
				break;
		}
		close(fd);
	}
	read_throttle(fs, path, s);
	if (fs->layout == SL_CGL_V2) {
		if (read_u64(fs, false, path, "cpu.weight", &q) && q > 0) {
			s->weight = (uint64_t)q;
			s->has_weight = true;
		}
	} else {
		if (read_u64(fs, true, path, "cpuacct.usage", &q) && q >= 0) {
			s->usage_us = (uint64_t)q / 1000;
			s->has_usage = true;
		}
		if (read_u64(fs, false, path, "cpu.shares", &q) && q > 0) {
			s->weight = (uint64_t)q;
			s->has_weight = true;
		}
	}
	/* cpu.pressure: v2 per cgroup (the v1 hierarchy has none) */
	if (fs->layout == SL_CGL_V2 &&
	    sl_cgfs_read(fs, false, path, "cpu.pressure", buf, sizeof(buf)) > 0 &&
	    psi_line(buf, "some", &s->psi_some_avg10, &s->psi_some_us)) {
		s->has_psi = true;
		(void)psi_line(buf, "full", &s->psi_full_avg10, &s->psi_full_us);
	}
	return 0;
}

bool sl_cgfs_has_quota(const struct sl_cgfs *fs, const char *path)
{
	char buf[64];

	if (fs->layout == SL_CGL_V2)
		return sl_cgfs_read(fs, false, path, "cpu.max", buf, sizeof(buf)) > 0 &&
		       strncmp(buf, "max", 3) != 0 && buf[0] >= '0' && buf[0] <= '9';
	return sl_cgfs_read(fs, false, path, "cpu.cfs_quota_us", buf, sizeof(buf)) > 0 &&
	       strtoll(buf, NULL, 10) > 0;
}

int sl_cgfs_procs(const struct sl_cgfs *fs, const char *path, int *pids, int max)
{
	char *buf = malloc(PROCS_FILE_MAX);
	int fd, n = 0, len;

	if (!buf)
		return -ENOMEM;
	fd = cg_open(fs, fs->cpu_root, path, "cgroup.procs");
	if (fd < 0) {
		free(buf);
		return fd;
	}
	len = read_fd(fd, buf, PROCS_FILE_MAX);
	for (char *s = buf; len > 0 && *s && n < max;) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		if (v > 0 && v <= 0x7fffffff)
			pids[n++] = (int)v;
		s = end;
		while (*s == '\n' || *s == ' ')
			s++;
	}
	free(buf);
	return len < 0 ? len : n;
}

int sl_cgfs_children(const struct sl_cgfs *fs, const char *path, char (*names)[256], int max)
{
	struct dirent *e;
	DIR *d;
	int dir, fd, n = 0;

	if (!sl_cgfs_path_ok(path))
		return -EINVAL;
	if (!fs->cpu_root[0])
		return -ENOENT;
	dir = smcp_open_under(fs->fs_root, fs->cpu_root);
	if (dir < 0)
		return dir;
	fd = open_beneath(dir, path[1] ? path + 1 : ".", O_DIRECTORY);
	close(dir);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (n < max && (e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.' && strlen(e->d_name) < 256)
			snprintf(names[n++], 256, "%s", e->d_name);
	closedir(d);
	return n;
}

struct walk_state {
	unsigned visited, max_dirs, max_depth;
	bool stop;
	bool (*cb)(void *ctx, const char *path, const char *name);
	void *ctx;
	char path[SL_CGFS_PATH_MAX];
};

/* Depth-first below fd (w->path[0..plen): its cgroup path); takes fd. */
static int walk_dir(struct walk_state *w, int fd, size_t plen, unsigned depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int err = 0;

	if (!d) {
		close(fd);
		return -errno;
	}
	while (!err && !w->stop && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		int sub;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (w->visited >= w->max_dirs) {
			err = -E2BIG;
			break;
		}
		w->visited++;
		if (plen + 1 + n >= sizeof(w->path))
			continue;
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, e->d_name, n + 1);
		w->stop = w->cb(w->ctx, w->path, e->d_name);
		if (!w->stop && depth + 1 < w->max_depth) {
			sub = openat(dirfd(d), e->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				err = walk_dir(w, sub, plen + 1 + n, depth + 1);
		}
		w->path[plen] = '\0';
	}
	closedir(d);
	return err;
}

int sl_cgfs_walk(const struct sl_cgfs *fs, unsigned max_dirs, unsigned max_depth,
		 bool (*cb)(void *ctx, const char *path, const char *name), void *ctx)
{
	struct walk_state *w;
	int fd, err;

	if (!fs->cpu_root[0])
		return -ENOENT;
	fd = smcp_open_under(fs->fs_root, fs->cpu_root);
	if (fd < 0)
		return fd;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	w->max_dirs = max_dirs;
	w->max_depth = max_depth;
	w->cb = cb;
	w->ctx = ctx;
	err = walk_dir(w, fd, 0, 0);
	if (!err)
		err = (int)w->visited;
	free(w);
	return err;
}

int sl_cgfs_allowed_cpus(const struct sl_cgfs *fs, const int *pids, int n, int max, int ncpus)
{
	unsigned char *map = calloc((size_t)(ncpus > 0 ? ncpus : 1), 1);
	char file[64], buf[4096], *line;
	int got = 0, count = 0;

	if (!map)
		return 0;
	for (int i = 0; i < n && i < max; i++) {
		snprintf(file, sizeof(file), "/proc/%d/status", pids[i]);
		if (smcp_read_file(fs->fs_root, file, buf, sizeof(buf)) <= 0 ||
		    !(line = strstr(buf, "\nCpus_allowed_list:")))
			continue;
		line += strlen("\nCpus_allowed_list:");
		line[strcspn(line, "\n")] = '\0';
		if (smcp_cpulist_map(line, map, ncpus) == 0)
			got++;
	}
	for (int c = 0; got && c < ncpus; c++)
		count += map[c] != 0;
	free(map);
	return count;
}

int sl_cgfs_machine(const struct sl_cgfs *fs, struct sl_cg_machine *m)
{
	char buf[4096];
	unsigned long long f[10] = { 0 };
	int n;

	memset(m, 0, sizeof(*m));
	n = smcp_read_file(fs->fs_root, "/proc/stat", buf, sizeof(buf));
	if (n < 0)
		return n;
	n = sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1],
		   &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9]);
	if (n < 4)
		return -EINVAL;
	/* guest time is already in user; idle counts idle and iowait */
	for (int i = 0; i < n && i < 8; i++)
		m->total += f[i];
	m->idle = f[3] + (n > 4 ? f[4] : 0);
	if (smcp_read_file(fs->fs_root, "/proc/pressure/cpu", buf, sizeof(buf)) > 0)
		m->has_psi = psi_line(buf, "some", &m->psi_some_avg10, &m->psi_some_us);
	return 0;
}

static uint64_t since(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0; /* a counter that went back (a new cgroup): nothing */
}

void sl_cgfs_delta(const struct sl_cg_sample *a, const struct sl_cg_sample *b,
		   const struct sl_cg_machine *ma, const struct sl_cg_machine *mb, int ncpus,
		   struct sl_cg_delta *d)
{
	double span_us;

	memset(d, 0, sizeof(*d));
	d->machine_idle_pct = -1;
	d->machine_psi_some_pct = -1;
	d->span_s = (double)since(a->t_ns, b->t_ns) / 1e9;
	span_us = d->span_s * 1e6;
	if (span_us <= 0)
		return;
	if (a->has_usage && b->has_usage) {
		d->has_usage = true;
		d->cpus_used = (double)since(a->usage_us, b->usage_us) / span_us;
		d->machine_pct = ncpus > 0 ? 100.0 * d->cpus_used / ncpus : 0;
	}
	if (b->has_limit && b->quota_us > 0) {
		d->has_limit = true;
		d->limit_cpus = (double)b->quota_us / (double)b->period_us;
		if (d->has_usage)
			d->limit_used_pct = 100.0 * d->cpus_used / d->limit_cpus;
	}
	if (a->has_throttle && b->has_throttle) {
		d->has_throttle = true;
		d->d_periods = since(a->nr_periods, b->nr_periods);
		d->d_throttled = since(a->nr_throttled, b->nr_throttled);
		d->throttled_periods_pct =
			d->d_periods ? 100.0 * (double)d->d_throttled / (double)d->d_periods : 0;
		d->throttled_ms = (double)since(a->throttled_us, b->throttled_us) / 1000.0;
	}
	if (a->has_psi && b->has_psi) {
		d->has_psi = true;
		d->psi_some_pct = 100.0 * (double)since(a->psi_some_us, b->psi_some_us) / span_us;
		d->psi_full_pct = 100.0 * (double)since(a->psi_full_us, b->psi_full_us) / span_us;
	}
	if (ma && mb && mb->total > ma->total)
		d->machine_idle_pct = 100.0 * (double)since(ma->idle, mb->idle) /
				      (double)(mb->total - ma->total);
	if (ma && mb && ma->has_psi && mb->has_psi)
		d->machine_psi_some_pct =
			100.0 * (double)since(ma->psi_some_us, mb->psi_some_us) / span_us;
}

bool sl_cg_throttle_notable(uint64_t d_periods, uint64_t d_throttled)
{
	return d_throttled >= SL_CG_NOTE_MIN && d_periods > 0 &&
	       100.0 * (double)d_throttled / (double)d_periods >= SL_CG_NOTE_PCT;
}

void sl_cg_judge(const struct sl_cg_delta *d, const struct sl_cg_wait *w,
		 struct sl_cg_judgement *out)
{
	bool throttled, short_cpu, over_machine;

	memset(out, 0, sizeof(*out));
	out->waits_known = w && w->waits > 0 && w->mean_us >= 0;
	out->waits_high = out->waits_known &&
			  (w->p99_us >= SL_CG_WAIT_P99_US || w->mean_us >= SL_CG_WAIT_MEAN_US);
	throttled = d->has_throttle && d->d_throttled > 0 &&
		    d->throttled_periods_pct >= SL_CG_THROTTLED_PCT;
	short_cpu = d->machine_idle_pct >= 0 && d->machine_idle_pct < SL_CG_IDLE_PCT &&
		    (d->machine_psi_some_pct < 0 || d->machine_psi_some_pct >= SL_CG_PSI_PCT);
	over_machine = out->waits_known && w->m_waits > 0 &&
		       w->mean_us >= SL_CG_OVER_MACHINE * w->m_mean_us;
	if (throttled)
		out->causes |= 1u << SL_CG_THROTTLED;
	if (short_cpu)
		out->causes |= 1u << SL_CG_MACHINE_SHORT;
	/* waiting while not throttled: its neighbours, unless the whole
	 * machine is full and it waits no more than anybody else */
	out->fills_own_cpus = w && w->allowed_cpus > 0 && w->allowed_cpus < w->ncpus &&
			      d->has_usage &&
			      d->cpus_used >= SL_CG_FILLS_PCT / 100.0 * w->allowed_cpus;
	if (out->waits_high && !throttled && (!short_cpu || over_machine || out->fills_own_cpus))
		out->causes |= 1u << SL_CG_CONTENTION;
	out->main = throttled				      ? SL_CG_THROTTLED
		    : out->causes & (1u << SL_CG_CONTENTION) ? SL_CG_CONTENTION
		    : short_cpu				      ? SL_CG_MACHINE_SHORT
							      : SL_CG_CAUSE_NONE;
}
