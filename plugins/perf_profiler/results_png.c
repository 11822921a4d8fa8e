/* SPDX-License-Identifier: MIT */
/*
 * get_perf_results {"format": "png"}: the whole profile (or one pid's part)
 * as a flame graph PNG through libsmcp-draw, with a one-paragraph summary
 * for the model beside it. Built in the job, on a worker: merging 100k
 * stacks and drawing takes tens of milliseconds that the loop must not
 * wait for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_plugin.h"
#include "results.h"

#define LINE_MAX_BYTES 8192

static void top_leaves(const struct pp_agg *a, char *buf, size_t len)
{
	const struct pp_symrow *top[3] = { 0 };
	size_t o = 0;

	for (size_t i = 0; i < a->n_rows; i++) {
		const struct pp_symrow *r = &a->rows[i];

		for (int k = 0; k < 3; k++) {
			if (!r->self || (top[k] && top[k]->self >= r->self))
				continue;
			memmove(&top[k + 1], &top[k], (size_t)(2 - k) * sizeof(top[0]));
			top[k] = r;
			break;
		}
	}
	buf[0] = '\0';
	for (int k = 0; k < 3 && top[k] && o < len; k++) {
		char c[120];

		o += (size_t)snprintf(buf + o, len - o, "%s%s%s (%.1f%%)", k ? ", " : "",
				      clip(top[k]->name, c, sizeof(c)),
				      top[k]->kernel ? " [k]" : "", pct(top[k]->self, a->total));
	}
}

int pp_png_plan(struct pp_plugin *pp, struct pp_answer *ans, const struct pp_report_opts *o)
{
	const struct pp_agg *a = &ans->agg;
	struct draw_flame_opts fo = { 0 };
	struct draw_flame f;
	uint64_t kernel = 0;
	char *line = malloc(LINE_MAX_BYTES), note[160], leaves[400], cut_note[96] = "";
	uint32_t cut = 0;
	int err;

	if (draw_png_missing()) {
		ans->err_text = draw_png_missing(); /* built without cairo: say so */
		free(line);
		return 0;
	}
	if (!line)
		return -ENOMEM;
	err = draw_flame_init(&f);
	for (size_t i = 0; !err && i < a->n_stacks; i++) {
		const struct pp_agg_stack *s = &a->stacks[i];
		size_t need = pp_agg_folded(a, s->stack, s->comm, line, LINE_MAX_BYTES - 24);

		if (need >= LINE_MAX_BYTES - 24)
			need = strlen(line); /* clipped: the deepest frames go */
		snprintf(line + need, 24, " %llu", (unsigned long long)s->count);
		if (strstr(line, "_[k]"))
			kernel += s->count;
		err = draw_flame_add(&f, line, strlen(line), 0);
	}
	free(line);
	if (err)
		goto out;
	if (!f.nodes[0].count[0]) {
		ans->err_text = "no samples to draw (the profile is empty, or the pid filter "
				"matched none)";
		goto out;
	}
	snprintf(note, sizeof(note), "%llu samples%s, %zu distinct stacks; process at the bottom",
		 (unsigned long long)a->total, o->pid >= 0 ? " of this pid" : "", a->n_stacks);
	fo.title = "Flame graph (get_perf_results)";
	fo.note = note;
	err = draw_flame_png(&f, &fo, DRAW_PNG_TOOL_BYTES, &ans->png, &ans->png_len, &cut);
	if (err == -E2BIG) {
		ans->err_text = "the flame graph did not fit in 64 KiB: narrow with pid";
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	if (cut)
		snprintf(cut_note, sizeof(cut_note), " Frames deeper than %u levels are not drawn "
						     "(format folded has them all).", cut);
	top_leaves(a, leaves, sizeof(leaves));
	ans->text = NULL;
	if (asprintf(&ans->text,
		     "Flame graph of %llu samples%s in %zu distinct stacks: one box per frame, "
		     "width by samples, callers below callees, the process name at the bottom, "
		     "kernel frames blue-green and user frames warm. %.1f%% of samples have "
		     "kernel frames. Most samples end in %s.%s Call get_perf_results with a "
		     "symbol for its callers and callees.",
		     (unsigned long long)a->total, o->pid >= 0 ? " of this pid" : "", a->n_stacks,
		     pct(kernel, a->total), leaves[0] ? leaves : "(no symbol)", cut_note) < 0) {
		ans->text = NULL;
		err = -ENOMEM;
	}
out:
	draw_flame_free(&f);
	return err;
}
