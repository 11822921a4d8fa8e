/* SPDX-License-Identifier: MIT */
/*
 * The ProcessTree packets at the start of a recording: every process (pid,
 * ppid, cmdline, or its comm for kernel threads) and thread (tid, tgid,
 * name) under /proc, so that the trace names the tasks that existed before
 * it began; fork, exec and exit events name the rest. Runs on a worker.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/fsread.h>

#include "tr.h"

#define PROCS_PER_PACKET 256
#define CMDLINE_MAX 4096

static int numeric(const char *s)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	return *end || v <= 0 || v > 0x3fffffff ? -1 : (int)v;
}

static int collect(const char *root, const char *path, int **ret, uint32_t max)
{
	char full[4096];
	DIR *d;
	struct dirent *de;
	int *v = NULL;
	uint32_t n = 0, cap = 0;

	snprintf(full, sizeof(full), "%s%s", root, path);
	d = opendir(full);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		int pid = numeric(de->d_name);

		if (pid < 0)
			continue;
		if (n == cap) {
			int *nv = realloc(v, (cap ? cap * 2 : 256) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap = cap ? cap * 2 : 256;
		}
		v[n++] = pid;
	}
	closedir(d);
	*ret = v;
	return (int)n;
}

/* ppid from /proc/PID/stat: the field after the last ')'. */
static int read_ppid(const char *root, int pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (smcp_read_file(root, path, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 4)
		return -1;
	return atoi(p + 4);
}

static void process(struct tr_pb *pb, const char *root, int pid, char *scratch)
{
	char path[64], comm[64];
	size_t m = tr_pb_begin(pb, 1);
	ssize_t n;
	int fd;

	tr_pb_int(pb, 1, pid);
	tr_pb_int(pb, 2, read_ppid(root, pid));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = smcp_open_under(root, path);
	n = fd >= 0 ? smcp_read_full(fd, scratch, CMDLINE_MAX) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		for (ssize_t i = 0; i < n;) {
			size_t len = strnlen(scratch + i, (size_t)(n - i));

			tr_pb_bytes(pb, 3, scratch + i, len);
			i += (ssize_t)len + 1;
		}
	} else {
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (smcp_read_file(root, path, comm, sizeof(comm)) >= 0) {
			tr_pb_bytes(pb, 3, comm, strlen(comm));
			tr_pb_uint(pb, 9, 1); /* cmdline_is_comm */
		}
	}
	tr_pb_end(pb, m);
}

static void threads(struct tr_pb *pb, const char *root, int pid, uint32_t *left)
{
	char path[96], comm[64];
	int *tids = NULL, n;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	n = collect(root, path, &tids, *left);
	for (int i = 0; i < n; i++) {
		size_t m;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tids[i]);
		if (smcp_read_file(root, path, comm, sizeof(comm)) < 0)
			continue;
		m = tr_pb_begin(pb, 2);
		tr_pb_int(pb, 1, tids[i]);
		tr_pb_bytes(pb, 2, comm, strlen(comm));
		tr_pb_int(pb, 3, pid);
		tr_pb_end(pb, m);
	}
	*left -= n > 0 ? (uint32_t)n : 0;
	free(tids);
}

int tr_proc_tree(struct tr_out *out, const char *root, uint64_t boot_ns, uint32_t max_threads)
{
	int *pids = NULL, n;
	char *scratch = malloc(CMDLINE_MAX);
	int written = 0;

	if (!scratch)
		return -ENOMEM;
	n = collect(root, "/proc", &pids, max_threads);
	for (int i = 0; i < n;) {
		int end = i + PROCS_PER_PACKET < n ? i + PROCS_PER_PACKET : n;

		for (int try = 0; try < 2; try++) {
			struct tr_pb *pb = tr_out_packet_begin(out);
			size_t pkt = tr_pb_begin(pb, 1), pt = tr_pb_begin(pb, 2);
			uint32_t left = max_threads - (uint32_t)written;
			enum tr_out_result res;

			for (int k = i; k < end; k++)
				process(pb, root, pids[k], scratch);
			for (int k = i; k < end && left; k++)
				threads(pb, root, pids[k], &left);
			tr_pb_end(pb, pt);
			tr_pb_uint(pb, 8, boot_ns);
			tr_pb_uint(pb, 10, 1);
			tr_pb_end(pb, pkt);
			res = tr_out_packet_end(out);
			if (res == TR_OUT_KEPT)
				written = (int)(max_threads - left);
			if (res != TR_OUT_RETRY)
				break;
		}
		i = end;
	}
	free(pids);
	free(scratch);
	return n < 0 ? n : written;
}
