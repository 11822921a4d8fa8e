/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should read of the sched_ext scheduler's own
 * statistics (host API register_prompt_step), while one runs: its top
 * target with every field's meaning, rates over time, and the structs it
 * nests (scx_layered's LayerStats, one per layer), named from the
 * stats_meta last read when there is one.
 */
#include "sx.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_NAMED 8

/* The sched_ext state as one prompt sees it: its three steps, and prompts
 * got in the same quarter second, share one reading of sysfs (two opens
 * each, most of a prompts/get otherwise). */
#define STATE_FRESH_NS 250000000ull

static bool scx_running(struct sx_plugin *p, char *ops, size_t olen)
{
	static struct {
		uint64_t at_ns;
		bool running;
		char ops[128];
	} seen;
	uint64_t now = p->api->now_ns(p->host);

	if (!seen.at_ns || now - seen.at_ns > STATE_FRESH_NS) {
		char state[64];

		sx_sched_ext(p, state, sizeof(state), seen.ops, sizeof(seen.ops));
		seen.running = strcmp(state, "enabled") == 0;
		seen.at_ns = now ? now : 1;
	}
	snprintf(ops, olen, "%s", seen.ops);
	return seen.running;
}

/* A struct name stats_meta gave that may go into a prompt: whoever binds
 * the socket path wrote it, so only what a struct name looks like. */
static bool plain_name(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_')
			return false;
	return n > 0 && n <= 64;
}

/* ", A, B" of the nested structs of the last stats_meta into buf; how
 * many. */
static size_t nested_structs(const struct sx_plugin *p, char *buf, size_t len, const char **first)
{
	size_t n = 0, at = 0;

	buf[0] = '\0';
	*first = NULL;
	for (size_t i = 0; p->meta && i < p->meta->n_structs && n < MAX_NAMED; i++) {
		const struct sx_struct *s = &p->meta->structs[i];
		int w;

		if (s == p->meta->top || !plain_name(s->name))
			continue;
		w = snprintf(buf + at, len - at, "%s%s", n ? ", " : "", s->name);
		if (w < 0 || (size_t)w >= len - at)
			break;
		at += (size_t)w;
		if (!n++)
			*first = s->name;
	}
	return n;
}

static int render_stats(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct sx_plugin *p = data;
	char ops[128], names[600];
	const char *first;
	int n;

	if (!scx_running(p, ops, sizeof(ops)))
		return 0;
	n = snprintf(buf, len, "Read stats://scheduler/raw: the scheduler's own statistics "
		     "(`stats`) with every field's type and meaning in `meta`. If `available` is "
		     "false, give its `reason` in one line. For nested structs (listed in "
		     "`meta`.`structs`, e.g. LayerStats for scx_layered), read "
		     "stats://scheduler/raw/{target} with the struct name: every instance of "
		     "it, by path.");
	if (n > 0 && (size_t)n < len && nested_structs(p, names, sizeof(names), &first))
		n += snprintf(buf + n, len - (size_t)n, " When last read, this scheduler "
			      "nested: %s.", names);
	return n;
}

static int render_sample(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	char ops[128];

	if (!scx_running(data, ops, sizeof(ops)))
		return 0;
	return snprintf(buf, len, "Call sample_scheduler_stats {\"duration_s\": 10}: `counters` "
			"give rates per second of its cumulative fields, `gauges` their mean, min "
			"and max; fields in `constant` did not move.");
}

/* The nested structs of the scheduler asked about (else the one running):
 * what its last stats_meta said, or scx_layered's layers before any read. */
static int render_nested(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct sx_plugin *p = data;
	const char *want = NULL, *first;
	char ops[128], names[600];

	if (!scx_running(p, ops, sizeof(ops)))
		return 0;
	if (p->api->arg_string(args, "scheduler_name", &want) || !want || !*want)
		want = ops;
	if (nested_structs(p, names, sizeof(names), &first))
		return snprintf(buf, len, "Its nested statistics (%s): read every instance of one "
				"with stats://scheduler/raw/NAME, e.g. "
				"stats://scheduler/raw/%s.", names, first);
	if (strstr(want, "layered"))
		return snprintf(buf, len, "Read every layer at once with "
				"stats://scheduler/raw/LayerStats.");
	return 0;
}

int sx_steps_register(struct sx_plugin *p)
{
	const struct smcp_prompt_step steps[] = {
		{ SMCP_STEP("scx.stats", 10),
		  .needs = "stats://scheduler/raw stats://scheduler/raw/{target}",
		  .missing = "the sched_ext scheduler's own statistics (its stats socket)",
		  .render = render_stats, .data = p },
		{ SMCP_STEP("scx.sample", 10),
		  .needs = "sample_scheduler_stats", .render = render_sample, .data = p },
		{ SMCP_STEP("scx.scheduler", 20),
		  .needs = "stats://scheduler/raw/{target}",
		  .render = render_nested,
		  .data = p },
	};

	return smcp_register_prompt_steps(p->host, p->api, steps, SMCP_COUNT(steps));
}
