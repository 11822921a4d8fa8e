/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the scx_stats plugin's reply parsing: what a sched_ext scheduler's
 * stats socket sends back is read by a root daemon, so a hostile or broken
 * scheduler must not be able to crash it or make it use unbounded memory or
 * time. The plugin's sx_reply.c (sx_reply_parse: size checks and UTF-8
 * repair; the notes about what was left out) and sx_meta.c (stats_meta into
 * struct descriptions with repeated names dropped, their JSON, and the walk
 * that extracts one struct's instances from a stats reply) are compiled in.
 *
 * Input: newline-separated reply lines, as the connection hands them over
 * (NUL-terminated, without the newline). The first is the stats_meta reply;
 * each further one (at most 8) is a stats reply read against it.
 *
 * Besides crashes, it aborts when a promise of the code is broken: a parsed
 * reply that is not UTF-8 any more, a walk past its budgets, an extraction
 * with a repeated path, or one much larger than the reply it came from (each
 * instance is a disjoint part of it: a repeated field name in stats_meta once
 * copied the reply a thousand times).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/host.h"
#include "../../core/result.h"
#include "../../core/util.h"
#include "sx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STATS_LINES 8

static void emit_meta(const struct sx_meta *m, const struct sx_struct *root, bool desc)
{
	struct smcp_result r;
	struct smcp_json *j;
	cJSON *out;

	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = host_api.result_json(&r);
	if (j)
		sx_meta_emit(&host_api, j, "meta", m, root, desc);
	out = result_take_json(&r);
	if (out) {
		free(cJSON_PrintUnformatted(out));
		cJSON_Delete(out);
	}
	result_release(&r);
}

/* One line as the connection passes it: a NUL-terminated copy. */
static int parse_line(const char *p, size_t n, cJSON **root, const cJSON **resp)
{
	char *line = malloc(n + 1), why[512], note[400], *text;
	struct sx_repair repair;
	int eno, err;

	if (!line)
		return -1;
	memcpy(line, p, n);
	line[n] = '\0';
	err = sx_reply_parse(line, n, SX_REPLY_VALUES_DEFAULT, root, resp, &eno, &repair, why,
			     sizeof(why));
	free(line);
	if (err)
		return err;
	(void)sx_repair_note(&repair, "the reply", note, sizeof(note));
	/* the host's writer refuses raw JSON that is not UTF-8: after the
	 * repair, what is answered must be */
	text = cJSON_PrintUnformatted(*resp);
	if (text && !util_utf8_valid(text, strlen(text)))
		abort();
	free(text);
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_extract(cJSON *x, const struct sx_extract_info *in, size_t line_len)
{
	const char **keys = calloc(in->kept + 1, sizeof(*keys));
	char *text = cJSON_PrintUnformatted(x);
	size_t n = 0;
	cJSON *e;

	if (in->visited > SX_EXTRACT_MAX_NODES || in->kept > SX_EXTRACT_MAX_INSTANCES ||
	    in->kept > in->found || (size_t)cJSON_GetArraySize(x) != in->kept)
		abort();
	/* cJSON prints a number in up to ~4x its text ("1e14"), paths add
	 * their length; anything more means a part of the reply was copied twice */
	if (text && strlen(text) > 5 * line_len + in->kept * (SX_PATH_MAX + 8) + 16)
		abort();
	free(text);
	if (!keys)
		return;
	cJSON_ArrayForEach(e, x)
		keys[n++] = e->string;
	qsort(keys, n, sizeof(*keys), by_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			abort();
	free(keys);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	const struct sx_struct *root;
	struct sx_meta *m = NULL;
	cJSON *mroot = NULL;
	const cJSON *resp;
	char why[512], type[160];
	int lines = 0;

	nl = memchr(p, '\n', size);
	if (parse_line(p, nl ? (size_t)(nl - p) : size, &mroot, &resp) == 0)
		m = sx_meta_parse(resp, why, sizeof(why));
	cJSON_Delete(mroot);
	if (!m)
		return 0;
	(void)sx_meta_note(m, why, sizeof(why));
	root = m->top ? m->top : (m->n_structs ? &m->structs[0] : NULL);
	emit_meta(m, NULL, true);
	emit_meta(m, root, false);
	for (size_t i = 0; i < m->n_structs; i++) {
		if (sx_meta_find(m, m->structs[i].name) != &m->structs[i])
			abort(); /* struct names are unique */
		for (size_t k = 0; k < m->structs[i].n_fields; k++) {
			const struct sx_field *f = &m->structs[i].fields[k];

			(void)sx_field_type(f, type, sizeof(type));
			if (sx_struct_field(&m->structs[i], f->name) != f)
				abort(); /* field names are unique, and found */
		}
	}
	while (nl && ++lines <= MAX_STATS_LINES) {
		cJSON *sroot = NULL;
		size_t n;

		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (parse_line(p, n, &sroot, &resp))
			continue;
		for (size_t i = 0; i < m->n_structs && i < 16; i++) {
			struct sx_extract_info in;
			cJSON *x = sx_meta_extract(m, root, resp, m->structs[i].name, &in);

			if (x) {
				check_extract(x, &in, n);
				cJSON_Delete(x);
			}
		}
		cJSON_Delete(sroot);
	}
	sx_meta_free(m);
	return 0;
}
