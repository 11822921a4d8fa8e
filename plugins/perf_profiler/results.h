/* SPDX-License-Identifier: MIT */
/*
 * Inside the results builders (results.c: rows by symbol, stack, process,
 * CPU; results_tree.c: a symbol's callers and callees): what a job
 * prepares for the loop to write, and the small helpers both use.
 */
#ifndef SMCP_PP_RESULTS_H
#define SMCP_PP_RESULTS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "draw.h"
#include "pp_plugin.h"

#define TOP_MAX 3 /* the larger of TOP_PER_GROUP and STACKS_PER_SYMBOL */
#define MAX_NAME 200
/* Body bytes kept after the rows for the page, symbolisation, unresolved
 * files (at most 5) and notes: json_item_end's tail. */
#define PP_PAGE_TAIL_BYTES 3072

struct budget {
	size_t used, limit;
	bool cut;
	uint32_t cut_at;
};

/* A row chosen for the answer. */
struct pp_ans_row {
	uint32_t idx;   /* into sym_order, stacks or groups */
	uint32_t n_top; /* top stacks of a symbol, top symbols of a group */
	uint32_t top[TOP_MAX];
	uint64_t top_count[TOP_MAX];
	char *folded;   /* PP_GROUP_STACK: its folded line */
};

/* A tree node as the answer shows it. */
struct pp_ans_node {
	bool shown;
	uint32_t hidden;        /* children not shown (breadth or budget) */
	uint64_t hidden_count;  /* and their samples */
	uint64_t vaddr;         /* link-time address of the node's frame, with line */
	int line;
	char *file;             /* NULL: no line */
};

struct pp_ans_tree {
	struct pp_tree t;
	struct pp_ans_node *an;
};

/* Results prepared by a job, written out by the loop. */
struct pp_answer {
	int err;
	bool tree;                 /* o->symbol: callers and callees */
	struct pp_ans_tree trees[2]; /* callers, callees */
	const char *line_note;     /* why some user frames have no line */
	bool have_agg;
	struct pp_agg agg;
	struct pp_ans_row *rows;
	uint32_t n_rows;
	size_t total_rows;
	struct budget b; /* after the rows: the rest of the answer goes on from it */
	char *text;      /* folded: the lines; png: the summary */
	unsigned char *png; /* png: the picture */
	size_t png_len;
	const char *err_text; /* png: why there is no picture (an error answer) */
	char trailer[320];
};

static inline double pct(uint64_t part, uint64_t whole)
{
	return whole ? round(10000.0 * (double)part / (double)whole) / 100.0 : 0.0;
}

/* Symbol names can be kilobytes (C++ templates): keep answers bounded. */
static inline const char *clip(const char *s, char *buf, size_t len)
{
	if (strlen(s) < len)
		return s;
	snprintf(buf, len, "%.*s...", (int)len - 4, s);
	return buf;
}

static inline void put_row_ref(struct pp_plugin *pp, struct smcp_json *j, const struct pp_symrow *r)
{
	char c[MAX_NAME + 4];

	pp->api->json_string(j, "symbol", clip(r->name, c, sizeof(c)));
	pp->api->json_string(j, "module", r->module);
	pp->api->json_string(j, "kind", r->kernel ? "kernel" : "user");
}

static inline bool over(struct budget *b, size_t more)
{
	if (b->used + more > b->limit)
		return true;
	b->used += more;
	return false;
}

static inline size_t row_cost(const struct pp_symrow *r)
{
	return strnlen(r->name, MAX_NAME) + strlen(r->module) + 110;
}

/* results_tree.c */
/* Build the callers and callees of o->symbol into ans (job). 0 or -ENOMEM. */
int pp_tree_plan(struct pp_plugin *pp, struct pp_answer *ans, const struct pp_report_opts *o);
/* format png (results_png.c, job): the flame graph and its summary. */
int pp_png_plan(struct pp_plugin *pp, struct pp_answer *ans, const struct pp_report_opts *o);
/* Write them into res (loop). */
int pp_tree_out(struct pp_plugin *pp, struct smcp_result *res, const struct pp_answer *ans,
		const struct pp_report_opts *o);
/* Free what pp_tree_plan added to ans. */
void pp_tree_free_answer(struct pp_answer *ans);

#endif
