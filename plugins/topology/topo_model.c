/* SPDX-License-Identifier: MIT */
/* Reading /sys/devices/system/{cpu,node} into a struct topo_model. */
#include "topo_model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/fsread.h>

#define SYS_CPU "/sys/devices/system/cpu"
#define SYS_NODE "/sys/devices/system/node"
#define MAX_CACHE_INDEX 16

static int read_int(const char *root, const char *path, long *ret)
{
	char buf[64], *end;
	long v;
	int n = smcp_read_file(root, path, buf, sizeof(buf));

	if (n < 0)
		return n;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int read_cpu_int(const char *root, int cpu, const char *rel, long *ret)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), SYS_CPU "/cpu%d/%s", cpu, rel);
	return read_int(root, path, ret);
}

/* Parse a cpulist file into a fresh set of nbits. */
static int read_cpulist(const char *root, const char *path, int nbits, struct cpuset *ret)
{
	/* a cpulist of 8192 CPUs can be long when fragmented */
	size_t len = (size_t)nbits * 4 + 64;
	char *buf = malloc(len);
	int err;

	if (!buf)
		return -ENOMEM;
	err = smcp_read_file(root, path, buf, len);
	if (err < 0)
		goto out;
	err = cpuset_init(ret, nbits);
	if (err)
		goto out;
	err = cpuset_parse(ret, buf);
	if (err)
		cpuset_free(ret);
out:
	free(buf);
	return err < 0 ? err : 0;
}

static void add_note(struct topo_model *m, const char *note)
{
	for (int i = 0; i < m->n_notes; i++)
		if (m->notes[i] == note)
			return;
	if (m->n_notes < TOPO_MAX_NOTES)
		m->notes[m->n_notes++] = note;
}

/* Highest CPU id named by a cpulist file, or -errno. */
static int highest_cpu(const char *root, const char *path)
{
	struct cpuset s;
	int err = read_cpulist(root, path, TOPO_MAX_CPUS, &s), top = -1;

	if (err)
		return err;
	for (int c = 0; c < s.nbits; c++)
		if (cpuset_test(&s, c))
			top = c;
	cpuset_free(&s);
	return top;
}

/*
 * Append a domain for set (taking ownership of it) and label its CPUs.
 * Returns the new logical id or -ENOMEM.
 */
static int add_domain(struct topo_domain **arr, int *n, struct cpuset *set, int kernel_id)
{
	struct topo_domain *d = realloc(*arr, sizeof(**arr) * (size_t)(*n + 1));

	if (!d)
		return -ENOMEM;
	*arr = d;
	d += *n;
	memset(d, 0, sizeof(*d));
	d->id = *n;
	d->kernel_id = kernel_id;
	d->size_kb = -1;
	d->cpus = *set;
	set->bits = NULL;
	return (*n)++;
}

/* Group online CPUs into cores or packages by a sibling-list file. */
static int read_groups(struct topo_model *m, const char *root, const char *rel,
		       const char *fallback_rel, bool package)
{
	for (int c = 0; c < m->nbits; c++) {
		struct topo_cpu *cpu = &m->cpus[c];
		struct cpuset set;
		char path[256];
		int id, err;

		if (!cpu->online || (package ? cpu->package : cpu->core) >= 0)
			continue;
		snprintf(path, sizeof(path), SYS_CPU "/cpu%d/topology/%s", c, rel);
		err = read_cpulist(root, path, m->nbits, &set);
		if (err == -ENOENT) {
			snprintf(path, sizeof(path), SYS_CPU "/cpu%d/topology/%s", c, fallback_rel);
			err = read_cpulist(root, path, m->nbits, &set);
		}
		if (err == -ENOENT || err == -EINVAL || err == -ERANGE)
			continue; /* unknown for this CPU; say so through -1 */
		if (err)
			return err;
		/* a CPU always belongs to its own group, even if sysfs forgot it */
		cpuset_set(&set, c);
		id = package ? add_domain(&m->packages, &m->n_packages, &set,
					  cpu->package_kid)
			     : add_domain(&m->cores, &m->n_cores, &set, cpu->core_kid);
		if (id < 0) {
			cpuset_free(&set);
			return id;
		}
		for (int o = 0; o < m->nbits; o++) {
			struct topo_domain *d = package ? &m->packages[id] : &m->cores[id];

			if (!cpuset_test(&d->cpus, o) || !m->cpus[o].online)
				continue;
			if (package && m->cpus[o].package < 0)
				m->cpus[o].package = id;
			else if (!package && m->cpus[o].core < 0)
				m->cpus[o].core = id;
		}
	}
	return 0;
}

/*
 * The last-level cache of one CPU: the highest-level data or unified cache
 * among cpuN/cache/indexK. Returns the index K, -ENOENT when the CPU has
 * no cache folder, or another -errno.
 */
static int find_llc_index(const char *root, int cpu, int *ret_level)
{
	int best = -ENOENT, best_level = 0;

	for (int k = 0; k < MAX_CACHE_INDEX; k++) {
		char rel[64], path[256], type[32];
		long level;
		int err;

		snprintf(rel, sizeof(rel), "cache/index%d/level", k);
		err = read_cpu_int(root, cpu, rel, &level);
		if (err == -ENOENT)
			break;
		if (err)
			continue;
		snprintf(path, sizeof(path), SYS_CPU "/cpu%d/cache/index%d/type", cpu, k);
		if (smcp_read_file(root, path, type, sizeof(type)) < 0 ||
		    strcmp(type, "Instruction") == 0)
			continue;
		if (level > best_level) {
			best_level = (int)level;
			best = k;
		}
	}
	*ret_level = best_level;
	return best;
}

static int read_llcs(struct topo_model *m, const char *root)
{
	bool any = false;

	for (int c = 0; c < m->nbits; c++) {
		struct topo_cpu *cpu = &m->cpus[c];
		struct topo_domain *d;
		struct cpuset set;
		char path[256], rel[64], size[32];
		long kid;
		int k, level, id, err;

		if (!cpu->online || cpu->llc >= 0)
			continue;
		k = find_llc_index(root, c, &level);
		if (k < 0)
			continue;
		any = true;
		snprintf(path, sizeof(path), SYS_CPU "/cpu%d/cache/index%d/shared_cpu_list", c, k);
		err = read_cpulist(root, path, m->nbits, &set);
		if (err == -ENOMEM)
			return err;
		if (err)
			continue;
		cpuset_set(&set, c);
		snprintf(rel, sizeof(rel), "cache/index%d/id", k);
		if (read_cpu_int(root, c, rel, &kid))
			kid = -1; /* kernels before 4.18 have no cache id */
		id = add_domain(&m->llcs, &m->n_llcs, &set, (int)kid);
		if (id < 0) {
			cpuset_free(&set);
			return id;
		}
		d = &m->llcs[id];
		d->level = level;
		snprintf(path, sizeof(path), SYS_CPU "/cpu%d/cache/index%d/size", c, k);
		if (smcp_read_file(root, path, size, sizeof(size)) > 0) {
			char *end;
			long v = strtol(size, &end, 10);

			d->size_kb = *end == 'M' ? v * 1024 : *end == 'G' ? v * 1024 * 1024 : v;
		}
		if (level > m->llc_level)
			m->llc_level = level;
		for (int o = 0; o < m->nbits; o++) {
			if (cpuset_test(&d->cpus, o) && m->cpus[o].online && m->cpus[o].llc < 0) {
				m->cpus[o].llc = id;
				m->cpus[o].llc_kid = (int)kid;
			}
		}
	}
	if (!any)
		add_note(m, "the kernel exposes no cache topology (no cpuN/cache): "
			    "LLC ids are unknown, not guessed");
	return 0;
}

/* Node of a CPU from its cpuN/nodeK link (kept while the CPU is offline). */
static int node_from_link(const char *root, int cpu)
{
	char path[PATH_MAX];
	struct dirent *e;
	int node = -1;
	DIR *dir;

	snprintf(path, sizeof(path), "%s" SYS_CPU "/cpu%d", root, cpu);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		char *end;
		long v;

		if (strncmp(e->d_name, "node", 4) != 0)
			continue;
		v = strtol(e->d_name + 4, &end, 10);
		if (end != e->d_name + 4 && *end == '\0' && v >= 0 && v < TOPO_MAX_NODES) {
			node = (int)v;
			break;
		}
	}
	closedir(dir);
	return node;
}

static int read_nodes(struct topo_model *m, const char *root)
{
	struct cpuset ids;
	int err = read_cpulist(root, SYS_NODE "/online", TOPO_MAX_NODES, &ids);

	if (err == -ENOENT)
		err = read_cpulist(root, SYS_NODE "/possible", TOPO_MAX_NODES, &ids);
	if (err == -ENOENT || err == -EINVAL || err == -ERANGE) {
		add_note(m, "no NUMA information in sysfs (kernel without CONFIG_NUMA?): "
			    "node ids are unknown");
		return 0;
	}
	if (err)
		return err;
	m->nodes = calloc((size_t)cpuset_count(&ids), sizeof(*m->nodes));
	if (!m->nodes && cpuset_count(&ids)) {
		err = -ENOMEM;
		goto out;
	}
	for (int n = 0; n < TOPO_MAX_NODES; n++) {
		struct topo_node *node;
		char path[256], row[4096], *p;

		if (!cpuset_test(&ids, n))
			continue;
		node = &m->nodes[m->n_nodes++];
		node->id = n;
		snprintf(path, sizeof(path), SYS_NODE "/node%d/cpulist", n);
		err = read_cpulist(root, path, m->nbits, &node->cpus);
		if (err == -ENOMEM)
			goto out;
		if (err && (err = cpuset_init(&node->cpus, m->nbits)))
			goto out;
		snprintf(path, sizeof(path), SYS_NODE "/node%d/distance", n);
		if (smcp_read_file(root, path, row, sizeof(row)) < 0)
			continue;
		node->distance = calloc((size_t)cpuset_count(&ids), sizeof(int));
		if (!node->distance) {
			err = -ENOMEM;
			goto out;
		}
		for (p = row; node->n_distance < cpuset_count(&ids);) {
			char *end;
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			node->distance[node->n_distance++] = (int)v;
			p = end;
		}
		for (int c = 0; c < m->nbits; c++)
			if (cpuset_test(&node->cpus, c) && m->cpus[c].present)
				m->cpus[c].node = n;
	}
	/* offline CPUs are in no node's cpulist; their nodeK link remains */
	for (int c = 0; c < m->nbits; c++)
		if (m->cpus[c].present && m->cpus[c].node < 0)
			m->cpus[c].node = node_from_link(root, c);
	err = 0;
out:
	cpuset_free(&ids);
	return err;
}

static void read_per_cpu(struct topo_model *m, const char *root)
{
	bool any_freq = false, any_capacity = false, any_offline = false;

	for (int c = 0; c < m->nbits; c++) {
		struct topo_cpu *cpu = &m->cpus[c];
		long v;

		if (!cpu->present)
			continue;
		if (!cpu->online) {
			any_offline = true;
			continue;
		}
		if (!read_cpu_int(root, c, "topology/physical_package_id", &v))
			cpu->package_kid = (int)v;
		if (!read_cpu_int(root, c, "topology/core_id", &v))
			cpu->core_kid = (int)v;
		if (!read_cpu_int(root, c, "topology/die_id", &v))
			cpu->die_kid = (int)v;
		if (!read_cpu_int(root, c, "cpu_capacity", &v)) {
			cpu->capacity = (int)v;
			any_capacity = true;
		}
		if (!read_cpu_int(root, c, "cpufreq/cpuinfo_min_freq", &v))
			cpu->min_khz = v;
		if (!read_cpu_int(root, c, "cpufreq/cpuinfo_max_freq", &v))
			cpu->max_khz = v;
		if (!read_cpu_int(root, c, "cpufreq/base_frequency", &v))
			cpu->base_khz = v;
		if (cpu->max_khz >= 0 && !any_freq) {
			char path[256];

			any_freq = true;
			snprintf(path, sizeof(path), SYS_CPU "/cpu%d/cpufreq/scaling_driver", c);
			(void)smcp_read_file(root, path, m->freq_driver, sizeof(m->freq_driver));
			snprintf(path, sizeof(path), SYS_CPU "/cpu%d/cpufreq/scaling_governor", c);
			(void)smcp_read_file(root, path, m->freq_governor,
					     sizeof(m->freq_governor));
		}
	}
	if (!any_freq)
		add_note(m, "no cpufreq in sysfs (common in VMs): frequencies are unknown");
	if (!any_capacity)
		add_note(m, "this kernel exposes no cpu_capacity: capacity is unknown");
	if (any_offline)
		add_note(m, "sysfs removes the topology of offline CPUs: their core, package "
			    "and LLC are unknown until they come back online");
}

int topo_model_read(const char *root, struct topo_model **ret)
{
	struct topo_model *m = calloc(1, sizeof(*m));
	int top, top_present, err;
	long v;

	if (!m)
		return -ENOMEM;
	top = highest_cpu(root, SYS_CPU "/possible");
	top_present = highest_cpu(root, SYS_CPU "/present");
	if (top < 0 && top_present < 0) {
		err = top == -ENOMEM || top_present == -ENOMEM ? -ENOMEM : -ENOENT;
		goto fail;
	}
	m->nbits = (top > top_present ? top : top_present) + 1;
	err = read_cpulist(root, SYS_CPU "/present", m->nbits, &m->present);
	if (err == -ENOENT || err == -EINVAL || err == -ERANGE)
		err = read_cpulist(root, SYS_CPU "/possible", m->nbits, &m->present);
	if (err)
		goto fail;
	err = read_cpulist(root, SYS_CPU "/possible", m->nbits, &m->possible);
	if (err == -ENOENT || err == -EINVAL || err == -ERANGE)
		err = cpuset_copy(&m->possible, &m->present);
	if (err)
		goto fail;
	(void)smcp_read_file(root, SYS_CPU "/online", m->online_text, sizeof(m->online_text));
	err = read_cpulist(root, SYS_CPU "/online", m->nbits, &m->online);
	if (err == -ENOENT) {
		add_note(m, "no cpu/online file: every present CPU is assumed online");
		err = cpuset_copy(&m->online, &m->present);
	}
	if (err)
		goto fail;

	m->cpus = calloc((size_t)m->nbits, sizeof(*m->cpus));
	if (!m->cpus) {
		err = -ENOMEM;
		goto fail;
	}
	for (int c = 0; c < m->nbits; c++) {
		struct topo_cpu *cpu = &m->cpus[c];

		cpu->id = c;
		cpu->present = cpuset_test(&m->present, c);
		cpu->online = cpu->present && cpuset_test(&m->online, c);
		cpu->core = cpu->package = cpu->llc = -1;
		cpu->core_kid = cpu->package_kid = cpu->die_kid = cpu->llc_kid = -1;
		cpu->node = cpu->capacity = -1;
		cpu->min_khz = cpu->max_khz = cpu->base_khz = -1;
	}
	read_per_cpu(m, root);
	if ((err = read_groups(m, root, "thread_siblings_list", "core_cpus_list", false)))
		goto fail;
	if ((err = read_groups(m, root, "package_cpus_list", "core_siblings_list", true)))
		goto fail;
	if ((err = read_llcs(m, root)))
		goto fail;
	if ((err = read_nodes(m, root)))
		goto fail;
	for (int i = 0; i < m->n_cores; i++) {
		int n = cpuset_count(&m->cores[i].cpus);

		if (n > m->threads_per_core)
			m->threads_per_core = n;
	}
	m->smt_active = read_int(root, SYS_CPU "/smt/active", &v) ? -1 : (int)v;
	(void)smcp_read_file(root, SYS_CPU "/smt/control", m->smt_control, sizeof(m->smt_control));
	*ret = m;
	return 0;
fail:
	topo_model_free(m);
	return err;
}

void topo_model_free(struct topo_model *m)
{
	if (!m)
		return;
	cpuset_free(&m->possible);
	cpuset_free(&m->present);
	cpuset_free(&m->online);
	for (int i = 0; i < m->n_cores; i++)
		cpuset_free(&m->cores[i].cpus);
	for (int i = 0; i < m->n_packages; i++)
		cpuset_free(&m->packages[i].cpus);
	for (int i = 0; i < m->n_llcs; i++)
		cpuset_free(&m->llcs[i].cpus);
	for (int i = 0; i < m->n_nodes; i++) {
		cpuset_free(&m->nodes[i].cpus);
		free(m->nodes[i].distance);
	}
	free(m->cores);
	free(m->packages);
	free(m->llcs);
	free(m->nodes);
	free(m->cpus);
	free(m);
}
