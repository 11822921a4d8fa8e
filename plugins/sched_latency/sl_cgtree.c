/* SPDX-License-Identifier: MIT */
/*
 * A cgroup's subtree summed from per-cgroup rows (sl_cgtree.h). The rows
 * are few (at most cgroup_max, 1024 by default) and a subtree is asked for
 * once per request, so a linear pass with a prefix test is all it takes: no
 * tree is kept, and a cgroup created or removed since the last tick needs
 * no bookkeeping.
 */
#include <errno.h>
#include <string.h>

#include "sl_cgtree.h"

bool sl_cgtree_under(const char *path, const char *base)
{
	size_t n;

	if (!path || !base || path[0] != '/' || base[0] != '/')
		return false;
	if (strcmp(base, "/") == 0)
		return true;
	n = strlen(base);
	return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void keep_part(struct sl_cgtree_sum *out, uint64_t id, uint64_t rank)
{
	size_t i = out->nparts;

	if (i == SL_CGTREE_PARTS) {
		if (rank <= out->parts[i - 1].rank)
			return;
		i--; /* the smallest goes */
	} else {
		out->nparts++;
	}
	for (; i > 0 && out->parts[i - 1].rank < rank; i--)
		out->parts[i] = out->parts[i - 1];
	out->parts[i] = (struct sl_cgtree_part){ .id = id, .rank = rank };
}

int sl_cgtree_sum(const struct sl_window_result *r, uint64_t base_id, const char *base,
		  sl_cgtree_path_fn fn, void *ctx, int max_counter, unsigned rank_counter,
		  struct sl_cgtree_sum *out)
{
	memset(out, 0, sizeof(*out));
	if (!r || !fn || r->nh < 1 || r->nc > SLW_MAX_COUNTERS || rank_counter >= r->nc || !base ||
	    base[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < r->n; i++) {
		const struct sl_window_row *row = &r->rows[i];
		bool own = row->key == base_id;
		const char *path = own ? NULL : fn(ctx, row->key);

		if (!own && !path) {
			out->unresolved++;
			continue;
		}
		if (!own && !sl_cgtree_under(path, base))
			continue;
		out->summed++;
		for (unsigned k = 0; k < r->nc; k++) {
			if ((int)k == max_counter)
				out->c[k] = row->c[k] > out->c[k] ? row->c[k] : out->c[k];
			else
				out->c[k] += row->c[k];
		}
		for (unsigned b = 0; b < SL_NB; b++)
			out->h[b] += row->h[b];
		if (own)
			out->has_base = true;
		else
			keep_part(out, row->key, row->c[rank_counter]);
	}
	return 0;
}
