/* SPDX-License-Identifier: MIT */
/* stats://system/memory, stats://system/network and get_system_stats kind=network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stat_window.h"

static const char *const mem_json[MEM_NR_FIELDS] = {
	[MEM_TOTAL] = "total_kb", [MEM_FREE] = "free_kb", [MEM_AVAILABLE] = "available_kb",
	[MEM_BUFFERS] = "buffers_kb", [MEM_CACHED] = "cached_kb",
	[MEM_SWAP_TOTAL] = "swap_total_kb", [MEM_SWAP_FREE] = "swap_free_kb",
	[MEM_DIRTY] = "dirty_kb", [MEM_WRITEBACK] = "writeback_kb", [MEM_ANON] = "anon_kb",
	[MEM_SHMEM] = "shmem_kb", [MEM_SLAB] = "slab_kb",
	[MEM_SRECLAIMABLE] = "sreclaimable_kb", [MEM_COMMITTED] = "committed_as_kb",
	[MEM_HUGE_TOTAL] = "hugepages_total", [MEM_HUGE_FREE] = "hugepages_free",
};

static const char *const net_rate_keys[NET_NR_FIELDS] = {
	[NET_RX_BYTES] = "rx_bytes_per_s", [NET_RX_PACKETS] = "rx_packets_per_s",
	[NET_RX_ERRS] = "rx_errors_per_s", [NET_RX_DROP] = "rx_dropped_per_s",
	[NET_TX_BYTES] = "tx_bytes_per_s", [NET_TX_PACKETS] = "tx_packets_per_s",
	[NET_TX_ERRS] = "tx_errors_per_s", [NET_TX_DROP] = "tx_dropped_per_s",
};

static const char *const net_total_keys[NET_NR_FIELDS] = {
	[NET_RX_BYTES] = "rx_bytes", [NET_RX_PACKETS] = "rx_packets",
	[NET_RX_ERRS] = "rx_errors", [NET_RX_DROP] = "rx_dropped",
	[NET_TX_BYTES] = "tx_bytes", [NET_TX_PACKETS] = "tx_packets",
	[NET_TX_ERRS] = "tx_errors", [NET_TX_DROP] = "tx_dropped",
};

static void emit_psi_avgs(const struct emit_ctx *c, const char *key, int res)
{
	const struct latest *l = &c->s->latest;

	if (!l->psi_avg_have[res][PSI_SOME]) {
		c->api->json_null(c->j, key);
		return;
	}
	c->api->json_object(c->j, key);
	for (int k = PSI_SOME; k <= PSI_FULL; k++) {
		if (!l->psi_avg_have[res][k])
			continue;
		c->api->json_object(c->j, k == PSI_SOME ? "some" : "full");
		c->api->json_double(c->j, "avg10", l->psi_avg[res][k][0]);
		c->api->json_double(c->j, "avg60", l->psi_avg[res][k][1]);
		c->api->json_double(c->j, "avg300", l->psi_avg[res][k][2]);
		c->api->json_end(c->j);
	}
	c->api->json_end(c->j);
}

int stat_memnet_emit_memory(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	const struct latest *l = &c->s->latest;
	const int64_t *kb = l->mem_kb;
	struct win w, prev = { 0 };

	for (int f = 0; f < MEM_NR_FIELDS; f++)
		if (kb[f] < 0)
			api->json_null(c->j, mem_json[f]);
		else
			api->json_int(c->j, mem_json[f], kb[f]);
	stat_window_put_num(c, "used_pct",
			    kb[MEM_TOTAL] > 0 && kb[MEM_AVAILABLE] >= 0
				    ? (double)(kb[MEM_TOTAL] - kb[MEM_AVAILABLE]) * 100.0 /
					      (double)kb[MEM_TOTAL]
				    : -1);
	stat_window_put_num(c, "swap_used_pct",
			    kb[MEM_SWAP_TOTAL] > 0 && kb[MEM_SWAP_FREE] >= 0
				    ? (double)(kb[MEM_SWAP_TOTAL] - kb[MEM_SWAP_FREE]) * 100.0 /
					      (double)kb[MEM_SWAP_TOTAL]
				    : -1);
	emit_psi_avgs(c, "pressure", PSI_MEMORY);
	api->json_array(c->j, "windows");
	for (int id = 0; id < WIN_NR; id++) {
		if (!stat_window_open(c, NULL, id, 0, &w) || stat_window_same_as(c, &w, &prev))
			continue;
		if (w.have_vm) {
			stat_window_put_num(c, "page_faults_per_s",
					    stat_window_rate(&w, w.vm[VM_PGFAULT]));
			stat_window_put_num(c, "major_faults_per_s",
					    stat_window_rate(&w, w.vm[VM_PGMAJFAULT]));
			stat_window_put_num(c, "swap_in_pages_per_s",
					    stat_window_rate(&w, w.vm[VM_PSWPIN]));
			stat_window_put_num(c, "swap_out_pages_per_s",
					    stat_window_rate(&w, w.vm[VM_PSWPOUT]));
		}
		stat_window_put_num(c, "pressure_some_pct", w.psi_pct[PSI_MEMORY][PSI_SOME]);
		stat_window_put_num(c, "pressure_full_pct", w.psi_pct[PSI_MEMORY][PSI_FULL]);
		api->json_end(c->j);
	}
	api->json_end(c->j);
	stat_window_emit_sampling(c);
	api->json_array(c->j, "notes");
	if (!l->have_meminfo)
		api->json_string(c->j, NULL, "cannot read /proc/meminfo: sizes are null");
	if (!l->psi_avg_have[PSI_MEMORY][PSI_SOME])
		api->json_string(c->j, NULL,
				 "no /proc/pressure/memory (kernel without PSI, or booted with "
				 "psi=0): pressure is null");
	api->json_string(c->j, NULL,
			 "used_pct = (MemTotal - MemAvailable) / MemTotal; sizes are the "
			 "newest sample, rates are per window");
	api->json_end(c->j);
	return api->json_bool(c->j, "truncated", false);
}

/* Interfaces (sampler slots) known over w, busiest first. */
static int net_order(const struct sampler *s, const struct win *w, int *order)
{
	double bytes[MAX_IFACES];
	int n = 0;

	for (int i = 0; i < s->n_ifaces; i++) {
		if (!w->net_seen[i])
			continue;
		bytes[i] = stat_window_rate(w, w->net[i][NET_RX_BYTES]) +
			   stat_window_rate(w, w->net[i][NET_TX_BYTES]);
		order[n++] = i;
	}
	/* insertion sort: at most MAX_IFACES entries */
	for (int a = 1; a < n; a++) {
		int v = order[a], b = a - 1;

		while (b >= 0 && (bytes[order[b]] < bytes[v] ||
				  (bytes[order[b]] == bytes[v] && order[b] > v))) {
			order[b + 1] = order[b];
			b--;
		}
		order[b + 1] = v;
	}
	return n;
}

static void put_net_rates(const struct emit_ctx *c, const struct win *w, int i)
{
	for (int f = 0; f < NET_NR_FIELDS; f++)
		stat_window_put_num(c, net_rate_keys[f], stat_window_rate(w, w->net[i][f]));
}

/* Totals over interfaces other than loopback. */
static void put_net_totals(const struct emit_ctx *c, const struct win *w)
{
	double sum[NET_NR_FIELDS] = { 0 };

	for (int i = 0; i < c->s->n_ifaces; i++) {
		if (!w->net_seen[i] || strcmp(c->s->ifname[i], "lo") == 0)
			continue;
		for (int f = 0; f < NET_NR_FIELDS; f++)
			sum[f] += stat_window_rate(w, w->net[i][f]);
	}
	for (int f = 0; f < NET_NR_FIELDS; f++)
		stat_window_put_num(c, net_rate_keys[f], sum[f]);
}

static void put_iface(const struct emit_ctx *c, const struct win *w, int i, bool counters)
{
	const struct sample *n = c->s->newest;

	c->api->json_object(c->j, NULL);
	c->api->json_string(c->j, "name", c->s->ifname[i]);
	if (counters)
		for (int f = 0; f < NET_NR_FIELDS; f++)
			c->api->json_uint(c->j, net_total_keys[f], n->net[i][f]);
	c->api->json_object(c->j, "rates");
	c->api->json_string(c->j, "window", stat_window_name(w->id));
	put_net_rates(c, w, i);
	c->api->json_end(c->j);
	c->api->json_end(c->j);
}

static void emit_net_notes(const struct emit_ctx *c, const char *extra)
{
	char note[200];

	c->api->json_array(c->j, "notes");
	c->api->json_string(c->j, NULL,
			    "window totals leave out loopback (lo); interface counters "
			    "(rx_bytes...) count since the interface appeared");
	if (c->s->ifaces_dropped) {
		snprintf(note, sizeof(note), "%d interfaces beyond the first %d are not tracked",
			 c->s->ifaces_dropped, MAX_IFACES);
		c->api->json_string(c->j, NULL, note);
	}
	if (extra)
		c->api->json_string(c->j, NULL, extra);
	c->api->json_end(c->j);
}

int stat_memnet_emit_network(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	const struct sample *n = c->s->newest;
	uint64_t rx = 0, tx = 0;
	int order[MAX_IFACES], cnt = 0;
	char cut[200] = "";
	struct win w, prev = { 0 };

	api->json_array(c->j, "windows");
	for (int id = 0; id < WIN_NR; id++) {
		if (!stat_window_open(c, NULL, id, WIN_WANT_NET, &w) ||
		    stat_window_same_as(c, &w, &prev))
			continue;
		put_net_totals(c, &w);
		api->json_end(c->j);
	}
	api->json_end(c->j);
	api->json_array(c->j, "interfaces");
	if (stat_window_get(c, WIN_10S, WIN_WANT_NET, &w)) {
		cnt = net_order(c->s, &w, order);
		for (int k = 0; k < cnt && k < EMIT_MAX_IFACE_ROWS; k++)
			put_iface(c, &w, order[k], true);
		if (cnt > EMIT_MAX_IFACE_ROWS)
			snprintf(cut, sizeof(cut),
				 "%d interfaces: the %d busiest are listed; the rest with "
				 "get_system_stats {\"kind\":\"network\",\"offset\":%d}",
				 cnt, EMIT_MAX_IFACE_ROWS, EMIT_MAX_IFACE_ROWS);
	}
	api->json_end(c->j);
	/* scxtop's cumulative totals, every interface included */
	for (int i = 0; n && i < c->s->n_ifaces; i++) {
		if (!n->net_seen[i])
			continue;
		rx += n->net[i][NET_RX_BYTES];
		tx += n->net[i][NET_TX_BYTES];
	}
	api->json_uint(c->j, "total_recv_bytes", rx);
	api->json_uint(c->j, "total_sent_bytes", tx);
	stat_window_emit_sampling(c);
	emit_net_notes(c, cut[0] ? cut : NULL);
	return api->json_bool(c->j, "truncated", cut[0] != '\0');
}

int stat_memnet_emit_network_query(const struct emit_ctx *c, const struct stat_query *q)
{
	const struct smcp_host_api *api = c->api;
	int order[MAX_IFACES], cnt = 0;
	int64_t returned = 0;
	char note[200] = "";
	struct win w;

	api->json_string(c->j, "kind", "network");
	if (stat_window_open(c, "window", q->window, WIN_WANT_NET, &w)) {
		put_net_totals(c, &w);
		api->json_end(c->j);
		cnt = net_order(c->s, &w, order);
		api->json_array(c->j, "interfaces");
		for (int64_t k = q->offset; k < cnt && returned < q->limit; k++, returned++) {
			smcp_json_item_begin(api, c->j);
			put_iface(c, &w, order[k], true);
			if (!smcp_json_item_fits_tail(api, c->j, STAT_PAGE_TAIL_BYTES))
				break; /* the answer is full (max_result_bytes) */
		}
		api->json_end(c->j);
	}
	stat_window_emit_page(c, q, returned, cnt, "interfaces", "", note, sizeof(note));
	stat_window_emit_sampling(c);
	emit_net_notes(c, note[0] ? note : NULL);
	return api->json_bool(c->j, "truncated", note[0] != '\0');
}
