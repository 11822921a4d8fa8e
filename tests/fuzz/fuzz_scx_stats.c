/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the scx_stats plugin's reply parsing: what a sched_ext scheduler's
 * stats socket sends back is read by a root daemon, so a hostile or broken
 * scheduler must not be able to crash it or make it use unbounded memory.
 * The plugin's sx_reply.c (sx_reply_parse: size checks and UTF-8 repair)
 * and sx_meta.c (stats_meta into struct descriptions, their JSON, and the
 * extraction of one struct's instances from a stats reply) are compiled in.
 * Besides crashes, it aborts when a parsed reply is not UTF-8 any more.
 *
 * Input: newline-separated reply lines, as the connection hands them over
 * (NUL-terminated, without the newline). The first is the stats_meta reply;
 * each further one (at most 8) is a stats reply read against it.
 */
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
	if (text && !utf8_valid(text, strlen(text)))
		abort();
	free(text);
	return 0;
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
		(void)sx_meta_find(m, m->structs[i].name);
		for (size_t k = 0; k < m->structs[i].n_fields; k++) {
			(void)sx_field_type(&m->structs[i].fields[k], type, sizeof(type));
			(void)sx_struct_field(&m->structs[i], m->structs[i].fields[k].name);
		}
	}
	while (nl && ++lines <= MAX_STATS_LINES) {
		cJSON *sroot = NULL;

		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (parse_line(p, nl ? (size_t)(nl - p) : (size_t)(end - p), &sroot, &resp))
			continue;
		for (size_t i = 0; i < m->n_structs && i < 16; i++) {
			cJSON *x = sx_meta_extract(m, root, resp, m->structs[i].name);

			if (x) {
				free(cJSON_PrintUnformatted(x));
				cJSON_Delete(x);
			}
		}
		cJSON_Delete(sroot);
	}
	sx_meta_free(m);
	return 0;
}
