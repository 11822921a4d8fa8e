/* SPDX-License-Identifier: MIT */
/* scheduler://current and stats://scheduler/scx. */
#include "sched_emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool scx_running(const struct scx_state *s)
{
	/* enabling/disabling count too: tasks are moving between classes */
	return s->supported && s->have_ops && strcmp(s->state, "disabled") != 0 &&
	       s->state[0] != '\0';
}

const char *sched_emit_class(const struct sched_view *v)
{
	return scx_running(&v->scx) ? "sched_ext" : "fair";
}

const char *sched_emit_name(const struct sched_view *v)
{
	const char *fair = sched_read_fair_class_name(&v->kernel);

	if (scx_running(&v->scx))
		return v->scx.ops;
	return fair ? fair : "fair";
}

static void put_i64(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		    int64_t v)
{
	if (v < 0)
		api->json_null(j, key);
	else
		api->json_int(j, key, v);
}

static void emit_scx_state(const struct smcp_host_api *api, struct smcp_json *j,
			   const struct scx_state *s)
{
	api->json_object(j, "sched_ext");
	api->json_bool(j, "supported", s->supported);
	api->json_string(j, "state", s->state[0] ? s->state : NULL);
	api->json_string(j, "ops", s->have_ops ? s->ops : NULL);
	if (s->switch_all < 0)
		api->json_null(j, "switch_all");
	else
		api->json_bool(j, "switch_all", s->switch_all == 1);
	put_i64(api, j, "enable_seq", s->enable_seq);
	put_i64(api, j, "nr_rejected", s->nr_rejected);
	put_i64(api, j, "hotplug_seq", s->hotplug_seq);
	if (s->n_events < 0) {
		api->json_null(j, "events");
	} else {
		api->json_object(j, "events");
		for (int i = 0; i < s->n_events; i++)
			api->json_uint(j, s->events[i].name, s->events[i].value);
		api->json_end(j);
	}
	api->json_end(j);
}

static void describe(const struct sched_view *v, char *out, size_t len)
{
	const struct scx_state *s = &v->scx;
	const char *algo = sched_read_fair_class_name(&v->kernel);
	char fair[32];

	snprintf(fair, sizeof(fair), "fair class%s%s%s", algo ? " (" : "", algo ? algo : "",
		 algo ? ")" : "");
	if (scx_running(s) && strcmp(s->state, "enabled") != 0)
		snprintf(out, len, "sched_ext scheduler \"%s\" is %s", s->ops, s->state);
	else if (scx_running(s) && s->switch_all == 0)
		snprintf(out, len,
			 "sched_ext scheduler \"%s\" runs the tasks that chose SCHED_EXT; the "
			 "others stay in the kernel's %s (switch_all=0)",
			 s->ops, fair);
	else if (scx_running(s))
		snprintf(out, len, "sched_ext scheduler \"%s\" runs every normal task", s->ops);
	else if (s->supported && s->enable_seq > 0)
		snprintf(out, len,
			 "the kernel's %s; no sched_ext scheduler is loaded now (%lld were "
			 "loaded since boot)",
			 fair, (long long)s->enable_seq);
	else if (s->supported)
		snprintf(out, len,
			 "the kernel's %s; this kernel supports sched_ext but none is loaded",
			 fair);
	else
		snprintf(out, len, "the kernel's %s; this kernel has no sched_ext", fair);
}

static void emit_fair(const struct smcp_host_api *api, struct smcp_json *j,
		      const struct sched_view *v)
{
	const struct fair_state *f = v->fair;

	api->json_object(j, "fair");
	api->json_string(j, "algorithm", sched_read_fair_class_name(&v->kernel));
	api->json_object(j, "tunables");
	for (int i = 0; i < f->n; i++) {
		char *end;
		long long n = strtoll(f->t[i].value, &end, 10);

		/* numbers as numbers; "1 (logarithmic)", "1.400000" stay text */
		if (end != f->t[i].value && *end == '\0')
			api->json_int(j, f->t[i].name, n);
		else
			api->json_string(j, f->t[i].name, f->t[i].value);
	}
	api->json_end(j);
	api->json_object(j, "tunable_sources");
	for (int i = 0; i < f->n; i++)
		api->json_string(j, f->t[i].name, f->t[i].source);
	api->json_end(j);
	api->json_string(j, "preempt", f->preempt[0] ? f->preempt : NULL);
	if (f->features[0]) {
		char buf[sizeof(f->features)], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", f->features);
		api->json_array(j, "features");
		for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
			api->json_string(j, NULL, t);
		api->json_end(j);
	} else {
		api->json_null(j, "features");
	}
	api->json_string(j, "debugfs", f->debugfs_reason);
	api->json_end(j);
}

int sched_emit_current(const struct smcp_host_api *api, struct smcp_json *j,
		       const struct sched_view *v)
{
	char desc[512];

	describe(v, desc, sizeof(desc));
	/* scxtop's three fields first, with their intended meaning */
	api->json_string(j, "name", sched_emit_name(v));
	api->json_string(j, "class", sched_emit_class(v));
	api->json_bool(j, "active", scx_running(&v->scx));
	api->json_string(j, "description", desc);
	api->json_object(j, "kernel");
	api->json_string(j, "release", v->kernel.text[0] ? v->kernel.text : NULL);
	api->json_string(j, "fair_class", sched_read_fair_class_name(&v->kernel));
	api->json_end(j);
	emit_scx_state(api, j, &v->scx);
	emit_fair(api, j, v);
	api->json_array(j, "notes");
	if (!v->kernel.text[0])
		api->json_string(j, NULL,
				 "cannot read /proc/sys/kernel/osrelease: EEVDF or CFS unknown");
	if (scx_running(&v->scx))
		api->json_string(j, NULL,
				 "fair describes the kernel class that keeps every task "
				 "sched_ext does not own and takes all back if the BPF "
				 "scheduler exits");
	if (v->scx.supported && v->scx.n_events < 0)
		api->json_string(j, NULL,
				 "no root/events file: sched_ext event counters need a loaded "
				 "scheduler on a 6.15+ kernel");
	api->json_end(j);
	return api->json_bool(j, "truncated", false);
}

int sched_emit_scx(const struct smcp_host_api *api, struct smcp_json *j, const struct sched_view *v)
{
	const char *reason = NULL;
	bool cut = false;
	char *dump = sched_read_scx_debug_dump(v->root, v->debug, v->scx.supported,
					       SCX_DUMP_MAX_BYTES, &cut, &reason);

	api->json_bool(j, "available", v->scx.supported);
	if (!v->scx.supported)
		api->json_string(j, "reason",
				 "no sched_ext in this kernel (CONFIG_SCHED_CLASS_EXT off: "
				 "/sys/kernel/sched_ext is absent); Debian unstable's kernel and "
				 "most 6.12+ distribution kernels have it");
	emit_scx_state(api, j, &v->scx);
	api->json_object(j, "debug_dump");
	api->json_string(j, "path", "/sys/kernel/debug/sched/ext");
	api->json_bool(j, "available", dump != NULL);
	if (dump) {
		api->json_string(j, "text", dump);
		api->json_bool(j, "truncated", cut);
	} else {
		api->json_string(j, "reason", reason);
	}
	api->json_end(j);
	api->json_array(j, "notes");
	if (cut) {
		char note[160];

		snprintf(note, sizeof(note),
			 "debug_dump.text is cut at %d bytes; read the file directly for the rest",
			 SCX_DUMP_MAX_BYTES);
		api->json_string(j, NULL, note);
	}
	if (v->scx.n_events >= 0)
		api->json_string(j, NULL,
				 "events count since the current scheduler was loaded "
				 "(/sys/kernel/sched_ext/root/events)");
	api->json_end(j);
	free(dump);
	return api->json_bool(j, "truncated", cut);
}
