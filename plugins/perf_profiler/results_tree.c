/* SPDX-License-Identifier: MIT */
/*
 * get_perf_results with symbol: the symbol's callers and callees as trees
 * (aggregate.c builds them), the nodes an answer shows within its budget,
 * their source lines (elf_lines.c, in the job), and the JSON (loop).
 */
#include <errno.h>
#include <stdlib.h>

#include "elf_lines.h"
#include "results.h"

/* a symbol's callers and callees: levels, children per node, nodes built
 * per tree (each path through the symbol adds at most TREE_DEPTH), files
 * whose line tables one answer opens */
#define TREE_DEPTH 8
#define TREE_BREADTH 8
#define TREE_NODES 4096
#define TREE_LINE_FILES 8
#define MAX_LINE_FILE 160 /* bytes of a source file's path shown */

/* ------------------------------------------------------------ prepare (job) */

/* The nodes shown, within the budget: level by level from the root, so
 * every shown caller gets its own callers before any path goes deeper;
 * each node's children the largest first, at most TREE_BREADTH. 0 or
 * -ENOMEM. */
static int tree_choose(struct pp_answer *ans, struct pp_ans_tree *tr)
{
	const struct pp_tree *t = &tr->t;
	uint32_t *queue = malloc(t->n * sizeof(*queue));
	size_t head = 0, tail = 0;

	if (!queue)
		return -ENOMEM;
	queue[tail++] = 0;
	while (head < tail) {
		uint32_t node = queue[head++], k = 0;

		for (uint32_t c = t->nodes[node].first_child; c != PP_TREE_NONE;
		     c = t->nodes[c].next_sibling) {
			const struct pp_symrow *r = &ans->agg.rows[t->nodes[c].row];

			/* a user frame may carry a line and an address */
			if (k < TREE_BREADTH &&
			    !over(&ans->b,
				  row_cost(r) + (r->kernel ? 0 : MAX_LINE_FILE + 40))) {
				tr->an[c].shown = true;
				queue[tail++] = c;
				k++;
				continue;
			}
			if (k < TREE_BREADTH)
				ans->b.cut = true;
			tr->an[node].hidden++;
			tr->an[node].hidden_count += t->nodes[c].count;
		}
	}
	free(queue);
	return 0;
}

struct line_files {
	uint16_t mod[TREE_LINE_FILES];
	struct pp_lines l[TREE_LINE_FILES];
	int err[TREE_LINE_FILES];
	size_t n;
};

/* Source line of a shown user node's frame, from its file's DWARF. */
static void tree_line(struct pp_plugin *pp, struct pp_answer *ans, struct line_files *lf,
		      struct pp_ans_node *an, const struct pp_tree_node *nd)
{
	const struct pp_symrow *r = &ans->agg.rows[nd->row];
	uint16_t mod = pp_frame_mod(nd->frame);
	struct pp_elf *e;
	const char *file;
	size_t i;

	if (r->kernel || !r->resolved || mod == PP_MOD_UNKNOWN || mod >= pp->prof.procs.n_mods)
		return;
	e = pp_module_elf(&pp->prof.procs, mod);
	if (!e || !pp_elf_off_to_vaddr(e, pp_frame_addr(nd->frame), &an->vaddr))
		return;
	for (i = 0; i < lf->n && lf->mod[i] != mod; i++)
		;
	if (i == lf->n) {
		if (lf->n == TREE_LINE_FILES)
			return;
		lf->mod[i] = mod;
		lf->err[i] = pp_lines_open(&lf->l[i], e, pp->cfg.debug_dir);
		lf->n++;
	}
	if (lf->err[i]) {
		ans->line_note = lf->l[i].note;
		return;
	}
	if (pp_lines_find(&lf->l[i], an->vaddr, &file, &an->line) == 0)
		an->file = strdup(file);
}

int pp_tree_plan(struct pp_plugin *pp, struct pp_answer *ans, const struct pp_report_opts *o)
{
	struct line_files lf = { 0 };
	int err = 0;

	ans->tree = true;
	for (int d = 0; d < 2; d++) {
		struct pp_ans_tree *tr = &ans->trees[d];

		err = pp_agg_tree(&ans->agg, o->symbol, d == 0, TREE_DEPTH, TREE_NODES, &tr->t);
		if (err)
			goto out;
		if (!tr->t.n)
			return 0; /* no sampled symbol of that name */
		tr->an = calloc(tr->t.n, sizeof(*tr->an));
		if (!tr->an) {
			err = -ENOMEM;
			goto out;
		}
		tr->an[0].shown = true;
	}
	/* callers first, what the question is about most often, but within
	 * two thirds of the budget: the callees get the rest */
	if (ans->b.used < ans->b.limit) {
		size_t limit = ans->b.limit;

		ans->b.limit = ans->b.used + (limit - ans->b.used) / 3 * 2;
		err = tree_choose(ans, &ans->trees[0]);
		ans->b.limit = limit;
		if (err)
			goto out;
	}
	err = tree_choose(ans, &ans->trees[1]);
	if (err)
		goto out;
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < ans->trees[d].t.n; i++)
			if (ans->trees[d].an[i].shown)
				tree_line(pp, ans, &lf, &ans->trees[d].an[i],
					  &ans->trees[d].t.nodes[i]);
out:
	for (size_t i = 0; i < lf.n; i++)
		pp_lines_close(&lf.l[i]);
	return err;
}

void pp_tree_free_answer(struct pp_answer *ans)
{
	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; ans->trees[d].an && i < ans->trees[d].t.n; i++)
			free(ans->trees[d].an[i].file);
		free(ans->trees[d].an);
		pp_tree_free(&ans->trees[d].t);
	}
}

/* ------------------------------------------------------------ write (loop) */

static void put_line(struct pp_plugin *pp, struct smcp_json *j, const struct pp_ans_node *an)
{
	size_t len = an->file ? strlen(an->file) : 0;
	char buf[MAX_LINE_FILE + 24];

	if (!an->file)
		return;
	/* DWARF paths are the binary's to say: the end (the file name) tells most */
	if (len > MAX_LINE_FILE)
		snprintf(buf, sizeof(buf), "...%s:%d", an->file + len - (MAX_LINE_FILE - 3),
			 an->line);
	else
		snprintf(buf, sizeof(buf), "%s:%d", an->file, an->line);
	pp->api->json_string(j, "line", buf);
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)an->vaddr);
	pp->api->json_string(j, "addr", buf);
}

/* A node's frame as members: the symbol, its share of the symbol's
 * samples, its source line. */
static void put_node_ref(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
			 const struct pp_ans_tree *tr, uint32_t i)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_tree_node *nd = &tr->t.nodes[i];

	put_row_ref(pp, j, &ans->agg.rows[nd->row]);
	api->json_uint(j, "samples", nd->count);
	api->json_double(j, "pct", pct(nd->count, tr->t.nodes[0].count));
	put_line(pp, j, &tr->an[i]);
}

/* The shown children of node i as array key, each with its own below. */
static void put_children(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
			 const struct pp_ans_tree *tr, uint32_t i, const char *key)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_ans_node *an = &tr->an[i];

	if (tr->t.nodes[i].first_child == PP_TREE_NONE)
		return;
	api->json_array(j, key);
	for (uint32_t c = tr->t.nodes[i].first_child; c != PP_TREE_NONE;
	     c = tr->t.nodes[c].next_sibling) {
		if (!tr->an[c].shown)
			continue;
		api->json_object(j, NULL);
		put_node_ref(pp, j, ans, tr, c);
		put_children(pp, j, ans, tr, c, key);
		api->json_end(j);
	}
	api->json_end(j);
	if (an->hidden) {
		api->json_uint(j, "more", an->hidden);
		api->json_uint(j, "more_samples", an->hidden_count);
	}
}

/* The symbol's callers and callees, a list of subtrees each, ending early
 * (at a subtree) when the client's max_result_bytes would be passed. */
static bool put_tree(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
		     const struct pp_ans_tree *tr, const char *key, size_t tail)
{
	const struct smcp_host_api *api = pp->api;
	bool cut = false;

	api->json_array(j, key);
	for (uint32_t c = tr->t.nodes[0].first_child; c != PP_TREE_NONE;
	     c = tr->t.nodes[c].next_sibling) {
		if (!tr->an[c].shown)
			continue;
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		put_node_ref(pp, j, ans, tr, c);
		put_children(pp, j, ans, tr, c, key);
		api->json_end(j);
		if (!smcp_json_item_fits_tail(api, j, tail)) {
			cut = true;
			break;
		}
	}
	api->json_end(j);
	if (tr->an[0].hidden)
		api->json_uint(j, tr == &ans->trees[0] ? "more_callers" : "more_callees",
			       tr->an[0].hidden);
	return cut;
}

int pp_tree_out(struct pp_plugin *pp, struct smcp_result *res, const struct pp_answer *ans,
		const struct pp_report_opts *o)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_ans_tree *callers = &ans->trees[0], *callees = &ans->trees[1];
	const struct pp_agg *a = &ans->agg;
	struct smcp_json *j;
	bool cut;

	if (!callers->t.n)
		return api->result_error(res,
					 "no sampled symbol is named \"%s\" in this profile%s: "
					 "get_perf_results without symbol lists them (names as "
					 "shown there, kernel ones without [k])",
					 o->symbol, o->pid >= 0 ? " for this pid" : "");
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	pp_out_summary(pp, j);
	if (o->pid >= 0)
		api->json_int(j, "filter_pid", o->pid);
	/* the symbol itself: "samples" is the profile's, in the summary */
	put_row_ref(pp, j, &a->rows[callers->t.nodes[0].row]);
	api->json_uint(j, "symbol_samples", callers->t.nodes[0].count);
	api->json_double(j, "pct_of_all", pct(callers->t.nodes[0].count, a->total));
	put_line(pp, j, &callers->an[0]);
	if (callers->t.n_matches > 1)
		api->json_uint(j, "modules_with_name", callers->t.n_matches);
	cut = put_tree(pp, j, ans, callers, "callers", 4 * PP_PAGE_TAIL_BYTES);
	cut |= put_tree(pp, j, ans, callees, "callees", PP_PAGE_TAIL_BYTES);
	api->json_array(j, "notes");
	api->json_string(j, NULL,
			 "callers: who called it, nearest first (its callers' callers below each); "
			 "callees: what it called. samples: samples on that path; pct: of the "
			 "symbol's samples. line: source of the call (of the sample at the leaf), "
			 "addr: its address in the file (addr2line -e FILE ADDR)");
	if (cut || ans->b.cut || callers->t.cut || callees->t.cut)
		api->json_string(j, NULL,
				 "cut to keep the answer small: narrow with pid, or ask for a "
				 "caller's own callers with symbol set to it");
	if (ans->line_note)
		api->json_string(j, NULL, ans->line_note);
	api->json_end(j);
	return 0;
}
