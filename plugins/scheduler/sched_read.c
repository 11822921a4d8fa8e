/* SPDX-License-Identifier: MIT */
/* Reading /sys/kernel/sched_ext, the kernel release and the fair tunables. */
#include "sched_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <schedmcp/fsread.h>
#include <schedmcp/plugin.h> /* SMCP_COUNT */

#define SCX_DIR "/sys/kernel/sched_ext"
#define DEBUG_SCHED "/sys/kernel/debug/sched"

static int64_t read_num(const char *root, const char *path)
{
	char buf[32], *end;
	long long v;

	if (smcp_read_file(root, path, buf, sizeof(buf)) <= 0)
		return -1;
	v = strtoll(buf, &end, 10);
	return end == buf ? -1 : v;
}

static bool exists(const char *root, const char *path, int *ret_errno)
{
	char full[PATH_MAX];
	struct stat st;

	snprintf(full, sizeof(full), "%s%s", root, path);
	if (stat(full, &st) == 0)
		return true;
	if (ret_errno)
		*ret_errno = errno;
	return false;
}

void sched_read_scx(const char *root, bool full, struct scx_state *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->switch_all = -1;
	ret->enable_seq = ret->nr_rejected = ret->hotplug_seq = -1;
	ret->n_events = -1;
	ret->supported = exists(root, SCX_DIR, NULL);
	if (!ret->supported)
		return;
	(void)smcp_read_file(root, SCX_DIR "/state", ret->state, sizeof(ret->state));
	ret->have_ops = smcp_read_file(root, SCX_DIR "/root/ops", ret->ops, sizeof(ret->ops)) >= 0;
	ret->enable_seq = read_num(root, SCX_DIR "/enable_seq");
	if (!full)
		return;
	ret->switch_all = (int)read_num(root, SCX_DIR "/switch_all");
	ret->nr_rejected = read_num(root, SCX_DIR "/nr_rejected");
	ret->hotplug_seq = read_num(root, SCX_DIR "/hotplug_seq");
	{
		char buf[4096];

		if (smcp_read_file(root, SCX_DIR "/root/events", buf, sizeof(buf)) < 0)
			return;
		ret->n_events = 0;
		/* one "SCX_EV_NAME value" per line (kernel/sched/ext.c, 6.15+) */
		for (char *line = buf; line && *line && ret->n_events < SCX_MAX_EVENTS;) {
			char *nl = strchr(line, '\n');
			unsigned long long v;
			char name[64];

			if (nl)
				*nl = '\0';
			if (sscanf(line, "%63s %llu", name, &v) == 2) {
				snprintf(ret->events[ret->n_events].name,
					 sizeof(ret->events[0].name), "%s", name);
				ret->events[ret->n_events++].value = v;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
}

bool sched_read_scx_changed(const struct scx_state *a, const struct scx_state *b)
{
	return a->supported != b->supported || strcmp(a->state, b->state) != 0 ||
	       a->have_ops != b->have_ops || strcmp(a->ops, b->ops) != 0 ||
	       a->enable_seq != b->enable_seq;
}

void sched_read_kernel_release(const char *root, struct kernel_release *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->major = ret->minor = -1;
	if (smcp_read_file(root, "/proc/sys/kernel/osrelease", ret->text, sizeof(ret->text)) <= 0)
		return;
	if (sscanf(ret->text, "%d.%d", &ret->major, &ret->minor) != 2)
		ret->major = ret->minor = -1;
}

const char *sched_read_fair_class_name(const struct kernel_release *k)
{
	if (k->major < 0)
		return NULL;
	/* EEVDF replaced CFS's pick in v6.6 (commit 147f3efaa241) */
	return k->major > 6 || (k->major == 6 && k->minor >= 6) ? "EEVDF" : "CFS";
}

static struct fair_tunable *add_tunable(struct fair_state *f, const char *name,
					const char *value, const char *source)
{
	struct fair_tunable *t;

	if (f->n == FAIR_MAX_TUNABLES)
		return NULL;
	t = &f->t[f->n++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->value, sizeof(t->value), "%s", value);
	t->source = source;
	return t;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* /proc/sys/kernel/sched_*: whatever this kernel has, in name order. */
static void read_sysctls(const char *root, struct fair_state *f)
{
	char dir[PATH_MAX], *names[FAIR_MAX_TUNABLES];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/proc/sys/kernel", root);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)) && n < FAIR_MAX_TUNABLES / 2)
		if (strncmp(e->d_name, "sched_", 6) == 0 && (names[n] = strdup(e->d_name)))
			n++;
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX], val[96];

		snprintf(path, sizeof(path), "/proc/sys/kernel/%s", names[i]);
		if (smcp_read_file(root, path, val, sizeof(val)) >= 0)
			add_tunable(f, names[i], val, "procfs");
		free(names[i]);
	}
}

/* Whether /proc/mounts shows debugfs at /sys/kernel/debug: 1, 0, -1 unknown. */
static int debugfs_mounted(const char *root)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	/* line by line: container hosts have mount tables of many kB */
	snprintf(path, sizeof(path), "%s/proc/mounts", root);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (!found && getline(&line, &cap, f) > 0)
		found = strstr(line, " /sys/kernel/debug debugfs ") != NULL;
	free(line);
	fclose(f);
	return found;
}

static const char *errno_reason(int err)
{
	if (err == EPERM)
		return "the kernel is locked down (kernel_lockdown(7)): debugfs files are "
		       "unreadable even for root";
	if (err == EACCES)
		return "debugfs is readable by root only";
	return NULL;
}

/* The sysctl_sched block at the top of sched/debug, which lockdown still
 * lets root read: values in ms, named "<name>_ms". */
static bool read_sched_debug(const char *debug, struct fair_state *f)
{
	char buf[8192], *p;
	bool any = false;

	if (smcp_read_file(debug, "/debug", buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "\nsysctl_sched\n");
	if (!p)
		return false;
	for (p = strchr(p + 1, '\n'); p && p[1] == ' ';) {
		char name[60], val[64], out[64];
		char *nl = strchr(p + 1, '\n');

		if (nl)
			*nl = '\0';
		if (sscanf(p + 1, " .sysctl_sched_%59s : %63[^\n]", name, val) == 2) {
			bool ms = strcmp(name, "features") != 0 &&
				  strcmp(name, "tunable_scaling") != 0 &&
				  strcmp(name, "child_runs_first") != 0;

			snprintf(out, sizeof(out), "%s%s", name, ms ? "_ms" : "");
			any |= add_tunable(f, out, val, "sched/debug") != NULL;
		}
		p = nl;
	}
	return any;
}

int sched_read_debug_dir(const char *root, char *ret, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s" DEBUG_SCHED, root);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(ret, len, "%s", path);
	else
		snprintf(ret, len, "/proc/self/fd/%d", fd);
	return fd;
}

void sched_read_fair(const char *root, const char *debug, struct fair_state *f)
{
	/* CFS and EEVDF knobs; each kernel has a subset */
	static const char *const files[] = {
		"base_slice_ns", "latency_ns", "min_granularity_ns", "idle_min_granularity_ns",
		"wakeup_granularity_ns", "migration_cost_ns", "nr_migrate", "tunable_scaling",
		"latency_warn_ms", "latency_warn_once",
	};
	int first_err = 0, dir_err = 0, got = 0;

	memset(f, 0, sizeof(*f));
	read_sysctls(root, f);
	for (size_t i = 0; i < SMCP_COUNT(files); i++) {
		char path[PATH_MAX], val[96];
		int n;

		snprintf(path, sizeof(path), "/%s", files[i]);
		n = smcp_read_file(debug, path, val, sizeof(val));
		if (n >= 0) {
			add_tunable(f, files[i], val, "debugfs");
			got++;
		} else if (n != -ENOENT && !first_err) {
			first_err = -n;
		}
	}
	(void)smcp_read_file(debug, "/preempt", f->preempt, sizeof(f->preempt));
	(void)smcp_read_file(debug, "/features", f->features, sizeof(f->features));
	if (got)
		return;
	if (!exists(debug, "", &dir_err)) {
		if (errno_reason(dir_err))
			f->debugfs_reason = errno_reason(dir_err);
		else if (debugfs_mounted(root) == 0)
			f->debugfs_reason = "debugfs is not mounted (mount -t debugfs none "
					    "/sys/kernel/debug): the fair class's debugfs tunables "
					    "are not shown";
		else
			f->debugfs_reason = "no /sys/kernel/debug/sched (debugfs not mounted, or a "
					    "kernel without CONFIG_SCHED_DEBUG)";
		return;
	}
	f->debugfs_reason = errno_reason(first_err);
	if (read_sched_debug(debug, f))
		f->debugfs_reason = first_err == EPERM
					    ? "the kernel is locked down (kernel_lockdown(7)): "
					      "tunables come from the readable sched/debug summary"
					    : "tunables come from the sched/debug summary";
}

char *sched_read_scx_debug_dump(const char *root, const char *debug, bool scx_supported, size_t max,
				bool *truncated, const char **reason)
{
	char *buf;
	int n, err = 0;

	*truncated = false;
	*reason = NULL;
	if (!scx_supported) {
		*reason = debugfs_mounted(root) == 0
				  ? "this kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT off: no "
				    "/sys/kernel/sched_ext), and debugfs is not mounted"
				  : "this kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT off: no "
				    "/sys/kernel/sched_ext)";
		return NULL;
	}
	if (!exists(debug, "/ext", &err)) {
		if (errno_reason(err))
			*reason = errno_reason(err);
		else if (debugfs_mounted(root) == 0)
			*reason = "debugfs is not mounted (mount -t debugfs none "
				  "/sys/kernel/debug)";
		else
			*reason = "this kernel has no /sys/kernel/debug/sched/ext: mainline "
				  "sched_ext (6.12+) reports its state in /sys/kernel/sched_ext "
				  "instead (shown here); tools/sched_ext/scx_show_state.py (drgn) "
				  "prints the rest";
		return NULL;
	}
	/* one byte more than max tells whether the dump was longer */
	buf = malloc(max + 2);
	if (!buf) {
		*reason = "out of memory";
		return NULL;
	}
	n = smcp_read_file(debug, "/ext", buf, max + 2);
	if (n < 0) {
		*reason = errno_reason(-n) ? errno_reason(-n)
					   : "cannot read /sys/kernel/debug/sched/ext";
		free(buf);
		return NULL;
	}
	if ((size_t)n > max) {
		buf[max] = '\0';
		*truncated = true;
	}
	return buf;
}

int sched_read_kmsg_open(const char *root)
{
	int fd = smcp_open_under(root, "/dev/kmsg");

	if (fd < 0)
		return fd;
	/* only what is logged from now on: the exits of earlier runs are not
	 * this scheduler's */
	if (lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One log line (the text after "prio,seq,ts,flags;" for a record). */
static int kmsg_line(const char *line, char *buf, size_t len, bool *have)
{
	static const char disabled[] = "\" disabled (";
	static const char prefix[] = "sched_ext: ";
	const char *semi = strchr(line, ';'), *msg = line, *at, *name_end;
	size_t n;

	/* a record's text follows its "prio,seq,ts,flags;" header */
	if (line[0] >= '0' && line[0] <= '9' && semi)
		msg = semi + 1;
	if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	msg += sizeof(prefix) - 1;
	at = strstr(msg, disabled);
	if (strncmp(msg, "BPF scheduler \"", 15) == 0 && at) {
		at += sizeof(disabled) - 1;
		n = strcspn(at, ")");
		snprintf(buf, len, "%.*s", (int)n, at);
		*have = true;
		return 1;
	}
	/* "NAME: MESSAGE" right after an error exit */
	name_end = strstr(msg, ": ");
	if (*have && name_end && !strchr(buf, ':')) {
		n = strlen(buf);
		if (n + 2 < len)
			snprintf(buf + n, len - n, ": %s", name_end + 2);
	}
	return 0;
}

int sched_read_kmsg_reason(int fd, char *buf, size_t len)
{
	char chunk[8192], line[1024];
	size_t at = 0;
	bool have = false;

	if (fd < 0 || !len)
		return -EBADF;
	buf[0] = '\0';
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EPIPE)
			continue; /* records were overwritten before we read them */
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (chunk[i] != '\n') {
				if (at + 1 < sizeof(line))
					line[at++] = chunk[i];
				continue;
			}
			line[at] = '\0';
			at = 0;
			if (line[0] != ' ') /* continuation lines: key=value metadata */
				(void)kmsg_line(line, buf, len, &have);
		}
	}
	return have ? 1 : 0;
}
