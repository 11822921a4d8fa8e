/* SPDX-License-Identifier: MIT */
/*
 * Results grouped by symbol, stack, process or CPU (JSON, or folded stacks
 * for flame graphs). Every answer stays within cfg.result_bytes of JSON
 * (the host also mirrors it as text) and says what it left out.
 *
 * Built in two steps. pp_out_prepare, in a job on a worker, does what
 * takes time: kallsyms, symbolisation and grouping, the top stacks or
 * symbols of each row, the folded lines, and which rows fit the budget.
 * pp_out_results, on the loop, writes what was chosen through the host's
 * JSON writer (a bounded amount of work), before the next job may change
 * the tables the answer points into.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

#define MAX_OUT_FRAMES 64
#define TOP_PER_GROUP 3
#define STACKS_PER_SYMBOL 3

static void frame_label(const struct pp_symrow *r, char *buf, size_t len)
{
	char c[MAX_NAME + 4];

	if (r->kernel && strcmp(r->module, "[kernel.kallsyms]") == 0)
		snprintf(buf, len, "%s [k]", clip(r->name, c, sizeof(c)));
	else if (r->kernel)
		snprintf(buf, len, "%s %s", clip(r->name, c, sizeof(c)), r->module);
	else
		snprintf(buf, len, "%s (%s)", clip(r->name, c, sizeof(c)), r->module);
}

/* Frames root first, at most MAX_OUT_FRAMES (the leaf side is kept).
 * Returns the bytes it added, roughly. */
static size_t put_frames(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
			 uint32_t stack)
{
	const struct smcp_host_api *api = pp->api;
	unsigned int n = pp_stack_len(&pp->prof, stack), skip = 0;
	char buf[MAX_NAME + 64];
	size_t bytes = 12;

	if (n > MAX_OUT_FRAMES)
		skip = n - MAX_OUT_FRAMES;
	api->json_array(j, "frames");
	if (skip) {
		snprintf(buf, sizeof(buf), "... %u outer frames not shown", skip);
		api->json_string(j, NULL, buf);
	}
	/* stacks are leaf first: walk from the root end */
	for (unsigned int i = n - skip; i-- > 0;) {
		frame_label(&a->rows[pp_agg_frame_row(a, stack, i)], buf, sizeof(buf));
		api->json_string(j, NULL, buf);
		bytes += strlen(buf) + 4;
	}
	api->json_end(j);
	return bytes;
}


/* Takes the cost of row idx from the answer's budget; false, and the answer
 * cut at that row, when it does not fit. */
static bool row_fits(struct pp_answer *ans, size_t cost, size_t idx)
{
	if (!over(&ans->b, cost))
		return true;
	ans->b.cut = true;
	ans->b.cut_at = (uint32_t)idx;
	return false;
}

/* The next row of the answer: row idx with its n top entries and counts. */
static void add_row(struct pp_answer *ans, size_t idx, const uint32_t *top,
		    const uint64_t *top_count, size_t n)
{
	struct pp_ans_row *row = &ans->rows[ans->n_rows++];

	row->idx = (uint32_t)idx;
	row->n_top = (uint32_t)n;
	for (size_t k = 0; k < n; k++) {
		row->top[k] = top[k];
		row->top_count[k] = top_count[k];
	}
}

/* ------------------------------------------------------------ prepare (job) */

/* Candidate rows [first, first + n) of a grouping with total rows. */
static size_t page_len(const struct pp_report_opts *o, size_t total)
{
	return o->offset < total ? (total - o->offset < o->limit ? total - o->offset : o->limit) :
				   0;
}

static int plan_symbols(struct pp_plugin *pp, struct pp_answer *ans,
			const struct pp_report_opts *o)
{
	const struct pp_agg *a = &ans->agg;
	size_t n = page_len(o, a->n_sym_order), *nt = NULL;
	uint32_t *st = NULL;
	uint64_t *cnt = NULL;
	int err = 0;

	ans->total_rows = a->n_sym_order;
	if (!n)
		return 0;
	ans->rows = calloc(n, sizeof(*ans->rows));
	if (o->include_stacks) {
		st = calloc(n * STACKS_PER_SYMBOL, sizeof(*st));
		cnt = calloc(n * STACKS_PER_SYMBOL, sizeof(*cnt));
		nt = calloc(n, sizeof(*nt));
	}
	if (!ans->rows || (o->include_stacks && (!st || !cnt || !nt))) {
		err = -ENOMEM;
		goto out;
	}
	if (o->include_stacks) {
		err = pp_agg_rows_stacks(a, a->sym_order + o->offset, n, STACKS_PER_SYMBOL, st, cnt,
					 nt);
		if (err)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pp_symrow *r = &a->rows[a->sym_order[o->offset + i]];
		size_t cost = row_cost(r), ns = nt ? nt[i] : 0;

		for (size_t k = 0; k < ns; k++)
			cost += 40 + 40 * pp_stack_len(&pp->prof, st[i * STACKS_PER_SYMBOL + k]);
		if (!row_fits(ans, cost, o->offset + i))
			break;
		/* st and cnt are NULL without include_stacks (ns is 0 then) */
		add_row(ans, o->offset + i, ns ? &st[i * STACKS_PER_SYMBOL] : NULL,
			ns ? &cnt[i * STACKS_PER_SYMBOL] : NULL, ns);
	}
out:
	free(st);
	free(cnt);
	free(nt);
	return err;
}

static int plan_stacks(struct pp_plugin *pp, struct pp_answer *ans,
		       const struct pp_report_opts *o)
{
	const struct pp_agg *a = &ans->agg;
	size_t n = page_len(o, a->n_stacks), cap = 8192;
	char *buf;

	ans->total_rows = a->n_stacks;
	if (!n)
		return 0;
	ans->rows = calloc(n, sizeof(*ans->rows));
	buf = malloc(cap);
	if (!ans->rows || !buf) {
		free(buf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pp_agg_stack *s = &a->stacks[o->offset + i];
		struct pp_ans_row *row = &ans->rows[ans->n_rows];
		size_t need = pp_agg_folded(a, s->stack, s->comm, buf, cap), cost;

		if (need >= cap) {
			char *nb = realloc(buf, need + 1);

			if (!nb)
				break;
			buf = nb;
			cap = need + 1;
			pp_agg_folded(a, s->stack, s->comm, buf, cap);
		}
		cost = need + 60 + (o->include_stacks ? 40 * pp_stack_len(&pp->prof, s->stack) : 0);
		if (!row_fits(ans, cost, o->offset + i))
			break;
		row->folded = strdup(buf);
		if (!row->folded)
			break;
		row->idx = (uint32_t)(o->offset + i);
		ans->n_rows++;
	}
	free(buf);
	return 0;
}

static int plan_groups(struct pp_plugin *pp, struct pp_answer *ans,
		       const struct pp_report_opts *o)
{
	const struct pp_agg *a = &ans->agg;
	size_t n = page_len(o, a->n_groups), *nt;
	uint32_t *rows;
	uint64_t *cnt;
	int err = 0;

	ans->total_rows = a->n_groups;
	if (!n)
		return 0;
	ans->rows = calloc(n, sizeof(*ans->rows));
	rows = calloc(n * TOP_PER_GROUP, sizeof(*rows));
	cnt = calloc(n * TOP_PER_GROUP, sizeof(*cnt));
	nt = calloc(n, sizeof(*nt));
	if (!ans->rows || !rows || !cnt || !nt) {
		err = -ENOMEM;
		goto out;
	}
	err = pp_agg_groups_top(a, a->groups + o->offset, n, TOP_PER_GROUP, rows, cnt, nt);
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t cost = 80;

		for (size_t k = 0; k < nt[i]; k++)
			cost += row_cost(&a->rows[rows[i * TOP_PER_GROUP + k]]);
		if (!row_fits(ans, cost, o->offset + i))
			break;
		add_row(ans, o->offset + i, &rows[i * TOP_PER_GROUP], &cnt[i * TOP_PER_GROUP],
			nt[i]);
	}
out:
	free(rows);
	free(cnt);
	free(nt);
	return err;
}

/* Folded stacks as one text, and the note that follows it. */
static int plan_folded(struct pp_plugin *pp, struct pp_answer *ans,
		       const struct pp_report_opts *o)
{
	const struct pp_agg *a = &ans->agg;
	size_t limit = (size_t)pp->cfg.result_bytes * 2, len = 0, cap = 4096;
	char *out = malloc(cap), *line = malloc(8192);
	size_t i, n = 0;
	int err = 0;

	if (!out || !line) {
		err = -ENOMEM;
		goto out;
	}
	out[0] = '\0';
	for (i = o->offset; i < a->n_stacks && n < o->limit; i++) {
		const struct pp_agg_stack *s = &a->stacks[i];
		size_t need = pp_agg_folded(a, s->stack, s->comm, line, 8192);
		int w;

		if (need >= 8192 || len + need + 24 > limit)
			break;
		if (len + need + 24 > cap) {
			char *no;

			while (len + need + 24 > cap)
				cap *= 2;
			no = realloc(out, cap);
			if (!no) {
				err = -ENOMEM;
				goto out;
			}
			out = no;
		}
		w = snprintf(out + len, cap - len, "%s %llu\n", line, (unsigned long long)s->count);
		len += (size_t)w;
		n++;
	}
	snprintf(ans->trailer, sizeof(ans->trailer),
		 "# folded stacks %zu-%zu of %zu (%llu samples in all%s); %s",
		 n ? (size_t)o->offset + 1 : 0, (size_t)o->offset + n, a->n_stacks,
		 (unsigned long long)a->total, o->pid >= 0 ? " of this pid" : "",
		 i < a->n_stacks ? "more: call again with offset set to the next index, "
				   "or narrow with pid" :
				   "complete");
	ans->text = out;
	out = NULL;
out:
	free(out);
	free(line);
	return err;
}


/*
 * Kernel symbols are read lazily and kept across profiles: reading
 * /proc/kallsyms costs ~150 ms, and only modules change it (BPF programs
 * loaded while sampling come as PERF_RECORD_KSYMBOL). A kernel frame that
 * still does not resolve triggers one more read per profile.
 */
void pp_kallsyms_refresh(struct pp_plugin *pp, bool force)
{
	uint64_t h = 0;
	char *mods;
	size_t len;

	if (smcp_slurp(pp->root, "/proc/modules", 4 << 20, &mods, &len) == 0) {
		h = pp_hash_bytes(mods, len, 0);
		free(mods);
	}
	if (!force && pp->ks_loaded && h == pp->ks_modules_hash)
		return;
	pp->ks_err = pp_kallsyms_load(&pp->ks, pp->root);
	pp->ks_loaded = true;
	pp->ks_modules_hash = h;
}

static int build_agg(struct pp_plugin *pp, const struct pp_job *job, struct pp_agg *a,
		     const struct pp_report_opts *o)
{
	int err;

	if (job->kernel)
		pp_kallsyms_refresh(pp, false);
	err = pp_agg_build(a, &pp->prof, pp->ks_err ? NULL : &pp->ks, pp->cfg.debug_dir, o->group,
			   o->pid);
	if (err || !job->kernel || !a->kernel_unresolved || pp->ks_retried_for == job->profile)
		return err;
	/* loaded after our snapshot (a module, an older BPF program): read again */
	pp->ks_retried_for = job->profile;
	pp_kallsyms_refresh(pp, true);
	pp_agg_free(a);
	return pp_agg_build(a, &pp->prof, pp->ks_err ? NULL : &pp->ks, pp->cfg.debug_dir,
			    o->group, o->pid);
}

struct pp_answer *pp_out_prepare(struct pp_plugin *pp, const struct pp_job *job,
				 const struct pp_report_opts *o)
{
	struct pp_answer *ans = calloc(1, sizeof(*ans));

	if (!ans)
		return NULL;
	ans->b.limit = pp->cfg.result_bytes;
	ans->err = build_agg(pp, job, &ans->agg, o);
	ans->have_agg = true;
	if (ans->err)
		return ans;
	/* the summary and what follows the rows */
	ans->b.used = 600;
	if (o->symbol[0]) {
		/* the question is about one symbol: no grouping, no folded text */
		ans->err = pp_tree_plan(pp, ans, o);
		return ans;
	}
	if (o->png) {
		ans->err = pp_png_plan(pp, ans, o);
		return ans;
	}
	if (o->folded) {
		ans->err = plan_folded(pp, ans, o);
		return ans;
	}
	switch (o->group) {
	case PP_GROUP_SYMBOL:
		ans->err = plan_symbols(pp, ans, o);
		break;
	case PP_GROUP_STACK:
		ans->err = plan_stacks(pp, ans, o);
		break;
	default:
		ans->err = plan_groups(pp, ans, o);
		break;
	}
	return ans;
}

void pp_answer_free(struct pp_answer *ans)
{
	if (!ans)
		return;
	for (uint32_t i = 0; ans->rows && i < ans->n_rows; i++)
		free(ans->rows[i].folded);
	free(ans->rows);
	free(ans->text);
	free(ans->png);
	pp_tree_free_answer(ans);
	if (ans->have_agg)
		pp_agg_free(&ans->agg);
	free(ans);
}

/* ------------------------------------------------------------ write (loop) */


/* One row of the answer, i, as the members of its object: per symbol,
 * per stack, or per process or CPU. */
typedef void put_row_fn(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
			const struct pp_report_opts *o, uint32_t i);

static void put_symbol(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
		       const struct pp_report_opts *o, uint32_t i)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_agg *a = &ans->agg;
	const struct pp_ans_row *row = &ans->rows[i];
	const struct pp_symrow *r = &a->rows[a->sym_order[row->idx]];

	put_row_ref(pp, j, r);
	api->json_uint(j, "self", r->self);
	api->json_double(j, "self_pct", pct(r->self, a->total));
	api->json_uint(j, "total", r->total);
	api->json_double(j, "total_pct", pct(r->total, a->total));
	if (row->n_top) {
		api->json_array(j, "stacks");
		for (uint32_t k = 0; k < row->n_top; k++) {
			api->json_object(j, NULL);
			api->json_uint(j, "count", row->top_count[k]);
			api->json_double(j, "pct", pct(row->top_count[k], a->total));
			put_frames(pp, j, a, row->top[k]);
			api->json_end(j);
		}
		api->json_end(j);
	}
}

static void put_stack(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
		      const struct pp_report_opts *o, uint32_t i)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_agg *a = &ans->agg;
	const struct pp_agg_stack *s = &a->stacks[ans->rows[i].idx];

	api->json_uint(j, "count", s->count);
	api->json_double(j, "pct", pct(s->count, a->total));
	if (s->comm)
		api->json_string(j, "comm", s->comm);
	api->json_string(j, "folded", ans->rows[i].folded);
	if (o->include_stacks)
		put_frames(pp, j, a, s->stack);
}

static void put_group(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
		      const struct pp_report_opts *o, uint32_t i)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_agg *a = &ans->agg;
	const struct pp_ans_row *row = &ans->rows[i];
	const struct pp_agg_group *g = &a->groups[row->idx];

	if (o->group == PP_GROUP_PROCESS) {
		api->json_int(j, "pid", g->key);
		api->json_string(j, "comm", g->comm);
	} else {
		api->json_int(j, "cpu", g->key);
	}
	api->json_uint(j, "samples", g->count);
	api->json_double(j, "pct", pct(g->count, a->total));
	api->json_array(j, "top_symbols");
	for (uint32_t k = 0; k < row->n_top; k++) {
		api->json_object(j, NULL);
		put_row_ref(pp, j, &a->rows[row->top[k]]);
		api->json_uint(j, "self", row->top_count[k]);
		api->json_double(j, "pct_of_group", pct(row->top_count[k], g->count));
		api->json_end(j);
	}
	api->json_end(j);
}

/* The answer's rows as array key, one object each, ending early (at an
 * item) when the client's max_result_bytes would be passed; returns the
 * rows written. */
static uint32_t put_rows(struct pp_plugin *pp, struct smcp_json *j, const struct pp_answer *ans,
			 const struct pp_report_opts *o, const char *key, put_row_fn *put_row)
{
	const struct smcp_host_api *api = pp->api;

	api->json_array(j, key);
	for (uint32_t i = 0; i < ans->n_rows; i++) {
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		put_row(pp, j, ans, o, i);
		api->json_end(j);
		if (!smcp_json_item_fits_tail(api, j, PP_PAGE_TAIL_BYTES)) {
			api->json_end(j);
			return i;
		}
	}
	api->json_end(j);
	return ans->n_rows;
}

/* Files whose frames did not resolve, and why. */
static void put_unresolved(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
			   struct budget *b)
{
	const struct smcp_host_api *api = pp->api;
	int shown = 0;

	for (size_t i = 0; i < a->n_sym_order && shown < 5; i++) {
		const struct pp_symrow *r = &a->rows[a->sym_order[i]];
		const struct pp_module *m;
		const char *why;

		if (r->resolved || r->kernel || r->mod == PP_MOD_UNKNOWN ||
		    r->mod >= pp->prof.procs.n_mods || !r->self)
			continue;
		m = &pp->prof.procs.mods[r->mod];
		if (m->elf)
			why = m->elf->debug_note ? m->elf->debug_note :
						   "addresses outside every function symbol";
		else
			why = pp_elf_strerror(m->load_err);
		if (over(b, strlen(m->path) + strlen(why) + 80))
			break;
		if (!shown)
			api->json_array(j, "unresolved");
		api->json_object(j, NULL);
		api->json_string(j, "file", m->path);
		api->json_uint(j, "self", r->self);
		api->json_string(j, "why", why);
		api->json_end(j);
		shown++;
	}
	if (shown)
		api->json_end(j);
}


int pp_out_results(struct pp_plugin *pp, struct smcp_result *res, const struct pp_answer *ans,
		   const struct pp_report_opts *o)
{
	const struct smcp_host_api *api = pp->api;
	static const char *const group_names[] = { "symbol", "stack", "process", "cpu" };
	const struct pp_agg *a = &ans->agg;
	struct budget b = ans->b;
	struct smcp_json *j;
	uint32_t n = ans->n_rows;
	int err;

	if (ans->err)
		return ans->err;
	if (ans->tree)
		return pp_tree_out(pp, res, ans, o);
	if (o->png) {
		if (ans->err_text)
			return api->result_error(res, "%s", ans->err_text);
		err = api->result_text(res, ans->text);
		return err ? err : api->result_image(res, "image/png", ans->png, ans->png_len);
	}
	if (o->folded) {
		err = api->result_text(res, ans->text);
		return err ? err : api->result_text(res, ans->trailer);
	}
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	pp_out_summary(pp, j);
	api->json_string(j, "group_by", group_names[o->group]);
	if (o->pid >= 0) {
		api->json_int(j, "filter_pid", o->pid);
		api->json_uint(j, "filtered_samples", a->total);
	}
	switch (o->group) {
	case PP_GROUP_SYMBOL:
		n = put_rows(pp, j, ans, o, "symbols", put_symbol);
		break;
	case PP_GROUP_STACK:
		n = put_rows(pp, j, ans, o, "stacks", put_stack);
		break;
	default:
		n = put_rows(pp, j, ans, o, o->group == PP_GROUP_PROCESS ? "processes" : "cpus",
			     put_group);
		break;
	}
	if (n < ans->n_rows)
		b.cut = true; /* the client's max_result_bytes, below result_bytes */
	api->json_object(j, "page");
	api->json_uint(j, "offset", o->offset);
	api->json_uint(j, "returned", n);
	api->json_uint(j, "total", ans->total_rows);
	if (o->offset + n < ans->total_rows)
		api->json_uint(j, "next_offset", o->offset + n);
	api->json_end(j);
	api->json_object(j, "symbolisation");
	api->json_uint(j, "distinct_frames", a->frames_symbolised);
	api->json_uint(j, "resolved", a->frames_resolved);
	if (pp->meta.kernel_excluded)
		api->json_string(j, "kernel", "not sampled");
	else if (pp->view.ks_err)
		api->json_string(j, "kernel", "no /proc/kallsyms: kernel frames unresolved");
	else if (pp->view.ks_restricted)
		api->json_string(j, "kernel",
				 "kallsyms addresses hidden (kernel.kptr_restrict or no privilege)");
	api->json_end(j);
	put_unresolved(pp, j, a, &b);
	api->json_array(j, "notes");
	if (b.cut)
		api->json_string(j, NULL,
				 "cut to keep the answer small: call again with offset set to "
				 "page.next_offset, a smaller limit, include_stacks false, or pid");
	else if (o->offset + n < ans->total_rows)
		api->json_string(j, NULL, "more rows: call again with offset set to page.next_offset");
	if (pp->view.lost_samples)
		api->json_string(j, NULL,
				 "the kernel dropped samples when the ring buffer filled: lower "
				 "frequency_hz or raise ring_pages in the config");
	if (pp->view.dropped_samples)
		api->json_string(j, NULL,
				 "samples with new stacks were dropped after max_stacks distinct "
				 "stacks (config max_stacks)");
	if (o->group == PP_GROUP_SYMBOL)
		api->json_string(j, NULL,
				 "self: samples with the symbol as leaf; total: samples with it "
				 "anywhere on the stack. format folded gives flame-graph input, "
				 "format png the flame graph itself");
	api->json_end(j);
	return 0;
}
