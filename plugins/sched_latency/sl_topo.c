/* SPDX-License-Identifier: MIT */
#include "sl_topo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/cpulist.h>
#include <schedmcp/fsread.h>
#include <schedmcp/plugin.h> /* SMCP_COUNT */

static int possible_cpus(const char *root)
{
	unsigned char *bits;
	char buf[4096];
	int n = -ENOENT;

	if (smcp_read_file(root, "/sys/devices/system/cpu/possible", buf, sizeof(buf)) < 0)
		return -ENOENT;
	bits = calloc(SL_TOPO_MAX_CPUS, 1);
	if (!bits)
		return -ENOMEM;
	if (smcp_cpulist_map(buf, bits, SL_TOPO_MAX_CPUS) == 0)
		for (int c = 0; c < SL_TOPO_MAX_CPUS; c++)
			if (bits[c])
				n = c + 1;
	free(bits);
	return n;
}

/* The CPU set of cpu's highest-level data or unified cache, into bits;
 * returns the level, or 0 when cpu has no cache directory. */
static int cache_set(const char *root, int cpu, unsigned char *bits, int n)
{
	int best = 0;

	for (int idx = 0; idx < 16; idx++) {
		char path[256], buf[4096];
		int level;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cache/index%d/level",
			 cpu, idx);
		if (smcp_read_file(root, path, buf, sizeof(buf)) <= 0)
			continue;
		level = atoi(buf);
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cache/index%d/type",
			 cpu, idx);
		if (smcp_read_file(root, path, buf, sizeof(buf)) > 0 && strcmp(buf, "Instruction") == 0)
			continue;
		if (level <= best)
			continue;
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", cpu, idx);
		if (smcp_read_file(root, path, buf, sizeof(buf)) <= 0)
			continue;
		memset(bits, 0, (size_t)n);
		if (smcp_cpulist_map(buf, bits, n) == 0)
			best = level;
	}
	return best;
}

static int package_set(const char *root, int cpu, unsigned char *bits, int n)
{
	static const char *const names[] = { "package_cpus_list", "core_siblings_list" };
	char path[256], buf[4096];

	for (size_t i = 0; i < SMCP_COUNT(names); i++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/%s", cpu,
			 names[i]);
		if (smcp_read_file(root, path, buf, sizeof(buf)) > 0) {
			memset(bits, 0, (size_t)n);
			if (smcp_cpulist_map(buf, bits, n) == 0)
				return 1;
		}
	}
	return 0;
}

static int cpu_exists(const char *root, int cpu)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/cpu%d", root, cpu);
	return access(path, F_OK) == 0;
}

/* Number the distinct sets in order of their lowest CPU. */
static int read_llcs(const char *root, struct sl_topo *t, unsigned char *bits)
{
	int next = 0, from_cache = 0, from_pkg = 0, level = 0;

	for (int c = 0; c < t->ncpus; c++) {
		int lvl;

		if (t->cpu_llc[c] >= 0 || !cpu_exists(root, c))
			continue;
		lvl = cache_set(root, c, bits, t->ncpus);
		if (lvl) {
			from_cache++;
			if (lvl > level)
				level = lvl;
		} else if (package_set(root, c, bits, t->ncpus)) {
			from_pkg++;
		} else {
			memset(bits, 0, (size_t)t->ncpus);
			for (int o = 0; o < t->ncpus; o++)
				bits[o] = cpu_exists(root, o) ? 1 : 0;
		}
		bits[c] = 1;
		for (int o = 0; o < t->ncpus; o++)
			if (bits[o] && t->cpu_llc[o] < 0)
				t->cpu_llc[o] = next;
		next++;
	}
	t->n_llc = next;
	t->llc_level = from_pkg ? 0 : level;
	if (from_cache && !from_pkg)
		snprintf(t->llc_source, sizeof(t->llc_source),
			 "sysfs cache index (level %d shared_cpu_list)", level);
	else if (from_pkg)
		snprintf(t->llc_source, sizeof(t->llc_source),
			 "package (sysfs has no cache topology here; each package counted as one "
			 "LLC)");
	else
		snprintf(t->llc_source, sizeof(t->llc_source),
			 "none (no cache or package topology in sysfs; all CPUs counted as one "
			 "LLC)");
	return 0;
}

static void read_nodes(const char *root, struct sl_topo *t, unsigned char *bits)
{
	char path[256];
	struct dirent *d;
	int found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/sys/devices/system/node", root);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		char buf[4096], file[300];
		char *end;
		long id;

		if (strncmp(d->d_name, "node", 4) != 0 || !isdigit((unsigned char)d->d_name[4]))
			continue;
		id = strtol(d->d_name + 4, &end, 10);
		if (*end || id < 0 || id > 65535)
			continue;
		snprintf(file, sizeof(file), "/sys/devices/system/node/%s/cpulist", d->d_name);
		if (smcp_read_file(root, file, buf, sizeof(buf)) < 0)
			continue;
		memset(bits, 0, (size_t)t->ncpus);
		if (smcp_cpulist_map(buf, bits, t->ncpus))
			continue;
		found++;
		for (int c = 0; c < t->ncpus; c++)
			if (bits[c])
				t->cpu_node[c] = (int)id;
		if (id + 1 > t->n_node)
			t->n_node = (int)id + 1;
	}
	if (dir)
		closedir(dir);
	if (found) {
		snprintf(t->node_source, sizeof(t->node_source),
			 "sysfs node*/cpulist (%d nodes)", found);
		return;
	}
	for (int c = 0; c < t->ncpus; c++)
		if (t->cpu_llc[c] >= 0)
			t->cpu_node[c] = 0;
	t->n_node = 1;
	snprintf(t->node_source, sizeof(t->node_source),
		 "none (no NUMA information in sysfs; all CPUs counted as node 0)");
}

int sl_topo_read(const char *root, int ncpus, struct sl_topo *t)
{
	unsigned char *bits = NULL;
	int err = 0;

	memset(t, 0, sizeof(*t));
	if (!root)
		root = "";
	if (ncpus <= 0)
		ncpus = possible_cpus(root);
	if (ncpus < 0)
		return ncpus;
	if (ncpus > SL_TOPO_MAX_CPUS)
		ncpus = SL_TOPO_MAX_CPUS;
	t->ncpus = ncpus;
	t->cpu_llc = malloc(sizeof(int) * (size_t)ncpus);
	t->cpu_node = malloc(sizeof(int) * (size_t)ncpus);
	bits = malloc((size_t)ncpus);
	if (!t->cpu_llc || !t->cpu_node || !bits) {
		err = -ENOMEM;
		goto out;
	}
	for (int c = 0; c < ncpus; c++)
		t->cpu_llc[c] = t->cpu_node[c] = -1;
	err = read_llcs(root, t, bits);
	if (!err)
		read_nodes(root, t, bits);
out:
	free(bits);
	if (err)
		sl_topo_free(t);
	return err;
}

void sl_topo_free(struct sl_topo *t)
{
	if (!t)
		return;
	free(t->cpu_llc);
	free(t->cpu_node);
	t->cpu_llc = t->cpu_node = NULL;
	t->ncpus = t->n_llc = t->n_node = 0;
}

int sl_topo_cpus(const struct sl_topo *t, int llc, int id, char *buf, size_t len)
{
	const int *map = llc ? t->cpu_llc : t->cpu_node;
	size_t off = 0;
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (int c = 0; c < t->ncpus; c++) {
		int e = c;

		if (map[c] != id)
			continue;
		while (e + 1 < t->ncpus && map[e + 1] == id)
			e++;
		n += e - c + 1;
		if (off < len) {
			int w = e > c ? snprintf(buf + off, len - off, "%s%d-%d", off ? "," : "", c,
						 e)
				      : snprintf(buf + off, len - off, "%s%d", off ? "," : "", c);

			off += w > 0 ? (size_t)w : 0;
		}
		c = e;
	}
	return n;
}
