/* SPDX-License-Identifier: MIT */
/* JSON answers of the topology plugin. The writer's errors are sticky, so
 * each function returns the status of its last call. */
#include "topo_emit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put_id(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		  int64_t v)
{
	return v < 0 ? api->json_null(j, key) : api->json_int(j, key, v);
}

static int put_cpus(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		    const struct cpuset *s)
{
	char *text = cpuset_format(s);
	int err;

	if (!text) {
		(void)api->json_null(j, key);
		return -ENOMEM;
	}
	err = api->json_string(j, key, text);
	free(text);
	return err;
}

static int count_online(const struct topo_model *m)
{
	return cpuset_count(&m->online);
}

static void emit_summary(const struct smcp_host_api *api, struct smcp_json *j,
			 const struct topo_model *m)
{
	struct cpuset offline;
	bool smt = m->smt_active >= 0 ? m->smt_active == 1 : m->threads_per_core > 1;

	api->json_object(j, "summary");
	/* scxtop's names first: saved workflows read them */
	api->json_int(j, "total_cpus", count_online(m));
	api->json_int(j, "cores", m->n_cores);
	api->json_int(j, "llcs", m->n_llcs);
	api->json_int(j, "numa_nodes", m->n_nodes);
	api->json_bool(j, "smt_enabled", smt);
	api->json_int(j, "packages", m->n_packages);
	api->json_int(j, "threads_per_core", m->threads_per_core);
	api->json_int(j, "present_cpus", cpuset_count(&m->present));
	api->json_int(j, "possible_cpus", cpuset_count(&m->possible));
	put_cpus(api, j, "online", &m->online);
	if (cpuset_copy(&offline, &m->present) == 0) {
		for (int c = 0; c < m->nbits; c++)
			if (cpuset_test(&m->online, c))
				offline.bits[c / 64] &= ~(1ull << (c % 64));
		put_cpus(api, j, "offline", &offline);
		cpuset_free(&offline);
	}
	put_id(api, j, "llc_level", m->llc_level ? m->llc_level : -1);
	if (m->smt_control[0])
		api->json_string(j, "smt_control", m->smt_control);
	else
		api->json_null(j, "smt_control");
	api->json_string(j, "cpufreq_driver", m->freq_driver[0] ? m->freq_driver : NULL);
	api->json_string(j, "cpufreq_governor", m->freq_governor[0] ? m->freq_governor : NULL);
	api->json_end(j);
}

static void emit_domains(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
			 const struct topo_domain *d, int n, bool llc, const struct topo_model *m)
{
	api->json_array(j, key);
	for (int i = 0; i < n && i < TOPO_MAX_DOMAIN_ROWS; i++) {
		api->json_object(j, NULL);
		api->json_int(j, "id", d[i].id);
		put_id(api, j, "kernel_id", d[i].kernel_id);
		if (llc) {
			api->json_int(j, "level", d[i].level);
			put_id(api, j, "size_kb", d[i].size_kb);
		} else {
			int cores = 0;

			/* cores of a package: cores whose first CPU lies in it */
			for (int c = 0; c < m->n_cores; c++)
				cores += cpuset_test(&d[i].cpus, cpuset_first(&m->cores[c].cpus));
			api->json_int(j, "nr_cores", cores);
		}
		put_cpus(api, j, "cpus", &d[i].cpus);
		api->json_int(j, "nr_cpus", cpuset_count(&d[i].cpus));
		api->json_end(j);
	}
	api->json_end(j);
}

static void emit_nodes(const struct smcp_host_api *api, struct smcp_json *j,
		       const struct topo_model *m)
{
	api->json_array(j, "nodes");
	for (int i = 0; i < m->n_nodes && i < TOPO_MAX_DOMAIN_ROWS; i++) {
		const struct topo_node *n = &m->nodes[i];

		api->json_object(j, NULL);
		api->json_int(j, "id", n->id);
		put_cpus(api, j, "cpus", &n->cpus);
		api->json_int(j, "nr_cpus", cpuset_count(&n->cpus));
		/* row of the distance matrix, in the order of this nodes array */
		api->json_array(j, "distance");
		for (int k = 0; k < n->n_distance && k < TOPO_MAX_DOMAIN_ROWS; k++)
			api->json_int(j, NULL, n->distance[k]);
		api->json_end(j);
		api->json_end(j);
	}
	api->json_end(j);
}

static void emit_notes(const struct smcp_host_api *api, struct smcp_json *j,
		       const struct topo_model *m, const char *extra)
{
	char cut[160];

	api->json_array(j, "notes");
	for (int i = 0; i < m->n_notes; i++)
		api->json_string(j, NULL, m->notes[i]);
	if (m->n_llcs > TOPO_MAX_DOMAIN_ROWS || m->n_nodes > TOPO_MAX_DOMAIN_ROWS ||
	    m->n_packages > TOPO_MAX_DOMAIN_ROWS) {
		snprintf(cut, sizeof(cut),
			 "packages, llcs and nodes lists stop at %d entries; per-CPU rows "
			 "(get_topology detail_level=full) carry every id",
			 TOPO_MAX_DOMAIN_ROWS);
		api->json_string(j, NULL, cut);
	}
	if (extra)
		api->json_string(j, NULL, extra);
	api->json_end(j);
}

static void emit_cpu_brief(const struct smcp_host_api *api, struct smcp_json *j,
			   const struct topo_cpu *c)
{
	api->json_object(j, NULL);
	api->json_int(j, "id", c->id);
	api->json_bool(j, "online", c->online);
	put_id(api, j, "core_id", c->core);
	put_id(api, j, "package_id", c->package);
	put_id(api, j, "llc_id", c->llc);
	put_id(api, j, "node_id", c->node);
	api->json_end(j);
}

static void emit_cpu_full(const struct smcp_host_api *api, struct smcp_json *j,
			  const struct topo_model *m, const struct topo_cpu *c)
{
	api->json_object(j, NULL);
	api->json_int(j, "id", c->id);
	api->json_bool(j, "online", c->online);
	put_id(api, j, "core_id", c->core);
	put_id(api, j, "core_kernel_id", c->core_kid);
	put_id(api, j, "package_id", c->package);
	put_id(api, j, "package_kernel_id", c->package_kid);
	put_id(api, j, "die_kernel_id", c->die_kid);
	put_id(api, j, "llc_id", c->llc);
	put_id(api, j, "llc_kernel_id", c->llc_kid);
	put_id(api, j, "node_id", c->node);
	if (c->core >= 0)
		put_cpus(api, j, "smt_siblings", &m->cores[c->core].cpus);
	else
		api->json_null(j, "smt_siblings");
	put_id(api, j, "capacity", c->capacity);
	put_id(api, j, "min_freq_khz", c->min_khz);
	put_id(api, j, "max_freq_khz", c->max_khz);
	put_id(api, j, "base_freq_khz", c->base_khz);
	api->json_end(j);
}

int topo_emit_info(const struct smcp_host_api *api, struct smcp_json *j,
		   const struct topo_model *m)
{
	char cut[200];
	int listed = 0, online = count_online(m);

	api->json_int(j, "nr_cpus", online);
	api->json_int(j, "nr_cores", m->n_cores);
	api->json_int(j, "nr_llcs", m->n_llcs);
	api->json_int(j, "nr_nodes", m->n_nodes);
	emit_summary(api, j, m);
	emit_domains(api, j, "packages", m->packages, m->n_packages, false, m);
	emit_domains(api, j, "llcs", m->llcs, m->n_llcs, true, m);
	emit_nodes(api, j, m);
	api->json_array(j, "cpus");
	for (int c = 0; c < m->nbits && listed < TOPO_INFO_MAX_CPUS; c++) {
		if (!m->cpus[c].present)
			continue;
		emit_cpu_brief(api, j, &m->cpus[c]);
		listed++;
	}
	api->json_end(j);
	cut[0] = '\0';
	if (listed < cpuset_count(&m->present))
		snprintf(cut, sizeof(cut),
			 "cpus lists the first %d of %d present CPUs; get the rest with "
			 "get_topology detail_level=full and offset=%d (or cpus=\"...\")",
			 listed, cpuset_count(&m->present), listed);
	emit_notes(api, j, m, cut[0] ? cut : NULL);
	return api->json_bool(j, "truncated", cut[0] != '\0');
}

static bool selected(const struct topo_model *m, const struct topo_query *q, int c)
{
	const struct topo_cpu *cpu = &m->cpus[c];

	if (!cpu->present || (!cpu->online && !q->include_offline))
		return false;
	return !q->have_cpus || cpuset_test(&q->cpus, c);
}

/* The most a core row takes: four ids and a CPU list of a few siblings. */
#define CORE_ROW_BYTES 128

static void emit_page(const struct smcp_host_api *api, struct smcp_json *j,
		      const struct topo_model *m, const struct topo_query *q, char *note,
		      size_t note_len)
{
	struct cpuset shown;
	int64_t total = 0, idx = 0, returned = 0;
	size_t tail = SMCP_PAGE_TAIL_BYTES + 512;
	bool full = false;

	if (cpuset_init(&shown, m->nbits))
		return;
	/* what follows the rows: the page, the notes and a core row for each
	 * core a shown CPU leads (an estimate: ids and a CPU list) */
	for (int i = 0; i < m->n_notes; i++)
		tail += strlen(m->notes[i]) + 8;
	api->json_array(j, "cpus");
	for (int c = 0; c < m->nbits; c++) {
		if (!selected(m, q, c))
			continue;
		total++;
		if (idx++ < q->offset || returned >= q->limit || full)
			continue;
		smcp_json_item_begin(api, j);
		emit_cpu_full(api, j, m, &m->cpus[c]);
		if (!smcp_json_item_fits_tail(api, j, tail + CORE_ROW_BYTES)) {
			/* the answer is full (max_result_bytes): next_offset goes on */
			full = true;
			continue;
		}
		tail += CORE_ROW_BYTES;
		cpuset_set(&shown, c);
		returned++;
	}
	api->json_end(j);
	/* the cores whose first CPU is on this page, so pages never repeat one */
	api->json_array(j, "cores");
	for (int i = 0; i < m->n_cores; i++) {
		const struct topo_domain *d = &m->cores[i];
		int first = cpuset_first(&d->cpus);

		if (!cpuset_test(&shown, first))
			continue;
		api->json_object(j, NULL);
		api->json_int(j, "id", d->id);
		put_id(api, j, "kernel_id", d->kernel_id);
		put_id(api, j, "package_id", m->cpus[first].package);
		put_cpus(api, j, "cpus", &d->cpus);
		api->json_end(j);
	}
	api->json_end(j);
	cpuset_free(&shown);

	api->json_object(j, "page");
	api->json_int(j, "offset", q->offset);
	api->json_int(j, "limit", q->limit);
	api->json_int(j, "returned", returned);
	api->json_int(j, "total", total);
	if (q->offset + returned < total) {
		api->json_int(j, "next_offset", q->offset + returned);
		snprintf(note, note_len,
			 "%lld more CPU rows: call get_topology again with offset=%lld "
			 "(or narrow with cpus=\"...\")",
			 (long long)(total - q->offset - returned),
			 (long long)(q->offset + returned));
	} else {
		api->json_null(j, "next_offset");
	}
	api->json_end(j);
}

int topo_emit_tool(const struct smcp_host_api *api, struct smcp_json *j,
		   const struct topo_model *m, const struct topo_query *q)
{
	char note[200] = "";

	api->json_string(j, "detail_level", q->full ? "full" : "summary");
	emit_summary(api, j, m);
	emit_domains(api, j, "packages", m->packages, m->n_packages, false, m);
	emit_domains(api, j, "llcs", m->llcs, m->n_llcs, true, m);
	emit_nodes(api, j, m);
	if (q->full) {
		emit_page(api, j, m, q, note, sizeof(note));
	} else {
		snprintf(note, sizeof(note),
			 "per-CPU rows (core, LLC, node, SMT siblings, frequencies, capacity): "
			 "detail_level=full, %lld per page",
			 (long long)q->limit);
	}
	emit_notes(api, j, m, note[0] ? note : NULL);
	return api->json_bool(j, "truncated", q->full && note[0] != '\0');
}
