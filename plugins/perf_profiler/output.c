/* SPDX-License-Identifier: MIT */
/*
 * What every answer starts with (the profile summary) and the status
 * resource, both from the loop's view of the profile (pp_plugin.h), so
 * they answer at once while a job owns the profile.
 */
#include <math.h>
#include <string.h>

#include "pp_plugin.h"

double pp_elapsed_s(const struct pp_plugin *pp)
{
	uint64_t end;

	if (pp->state == PP_IDLE || !pp->meta.start_ns)
		return 0;
	end = pp->state == PP_RUNNING ? pp->api->now_ns(pp->host) : pp->meta.stop_ns;
	return round((double)(end - pp->meta.start_ns) / 1e7) / 100.0;
}

static const char *state_name(enum pp_state s)
{
	static const char *const names[] = {
		[PP_IDLE] = "idle",
		[PP_RUNNING] = "running",
		[PP_STOPPING] = "stopping",
		[PP_STOPPED] = "stopped",
	};

	return (size_t)s < SMCP_COUNT(names) ? names[s] : "idle";
}

void pp_out_summary(struct pp_plugin *pp, struct smcp_json *j)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_meta *m = &pp->meta;
	const struct pp_view *v = &pp->view;

	api->json_string(j, "state", state_name(pp->state));
	if (pp->state == PP_IDLE)
		return;
	api->json_string(j, "event", m->ev.name);
	if (strcmp(m->requested, m->ev.name) != 0)
		api->json_string(j, "requested_event", m->requested);
	if (m->note[0])
		api->json_string(j, "note", m->note);
	if (m->ev.is_tracepoint)
		api->json_string(j, "sampling", "every tracepoint hit");
	else
		api->json_int(j, "frequency_hz", m->freq_hz);
	if (m->pid >= 0)
		api->json_int(j, "pid", m->pid);
	else
		api->json_string(j, "scope", "all processes");
	if (m->cpu >= 0)
		api->json_int(j, "cpu", m->cpu);
	api->json_string(j, "unwind", m->dwarf ? "dwarf+frame_pointer" : "frame_pointer");
	api->json_double(j, "elapsed_secs", pp_elapsed_s(pp));
	if (m->duration_s > 0)
		api->json_double(j, "duration_secs", m->duration_s);
	if (pp->state == PP_STOPPED || pp->state == PP_STOPPING)
		api->json_string(j, "stopped_because", m->stop_reason);
	api->json_uint(j, "samples", v->samples);
	if (v->lost_samples)
		api->json_uint(j, "lost_samples", v->lost_samples);
	if (v->dropped_samples)
		api->json_uint(j, "dropped_samples", v->dropped_samples);
	api->json_object(j, "unwind_methods");
	for (int i = 0; i < PP_UNW__N; i++)
		api->json_uint(j, pp_unwind_method_name(i), v->by_method[i]);
	api->json_end(j);
}

/* "leaf_a (workload)", "schedule [k]", "bpf_prog_x_y [bpf]" */int pp_out_status(struct pp_plugin *pp, struct smcp_json *j)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_view *v = &pp->view;
	const struct pp_elf_cache_stats *cs = &v->cache;
	const char *doing = pp_job_doing(pp);

	pp_out_summary(pp, j);
	if (doing)
		api->json_string(j, "working_on", doing);
	/* the long work runs on the core's workers; on_the_loop counts the
	 * jobs that found none (and held every session while they ran) */
	api->json_object(j, "jobs");
	api->json_uint(j, "run", pp->jobs_run);
	api->json_uint(j, "on_the_loop", pp->jobs_inline);
	api->json_end(j);
	api->json_object(j, "capabilities");
	api->json_bool(j, "perf_event_open", pp->perf_ok);
	if (!pp->perf_ok)
		api->json_string(j, "perf_error", pp->perf_err);
	api->json_bool(j, "privileged", pp->privileged);
	api->json_int(j, "perf_event_paranoid", pp->paranoid);
	api->json_bool(j, "system_wide", pp->perf_ok && (pp->privileged || pp->paranoid <= 0));
	api->json_bool(j, "kernel_stacks", pp->perf_ok && (pp->privileged || pp->paranoid <= 1));
	api->json_bool(j, "hardware_events", pp->hw_ok);
	api->json_bool(j, "dwarf_unwinding", pp->unw && pp->cfg.stack_bytes > 0);
	api->json_int(j, "max_frequency_hz", pp->max_rate);
	api->json_end(j);
	if (pp->sess_open) {
		api->json_object(j, "resources_held");
		api->json_uint(j, "perf_fds", pp->meta.n_fds);
		api->json_uint(j, "ring_buffers", pp->meta.n_rings);
		api->json_uint(j, "ring_bytes", pp->meta.ring_bytes);
		if (pp->meta.pid >= 0)
			api->json_uint(j, "threads_at_start", pp->meta.n_threads);
		api->json_end(j);
	}
	if (pp->have_prof) {
		api->json_object(j, "profile_memory");
		api->json_uint(j, "distinct_stacks", v->distinct_stacks);
		api->json_uint(j, "processes", v->processes);
		api->json_uint(j, "files", v->files);
		api->json_uint(j, "bytes", v->profile_bytes);
		api->json_uint(j, "dwarf_attempts", v->dwarf_attempts);
		api->json_uint(j, "dwarf_failures", v->dwarf_failures);
		api->json_end(j);
	}
	api->json_object(j, "symbol_cache");
	api->json_uint(j, "files", v->cache_files);
	api->json_uint(j, "max_files", v->cache_max);
	api->json_uint(j, "lookups", cs->lookups);
	api->json_uint(j, "hits", cs->hits);
	api->json_uint(j, "loads", cs->loads);
	api->json_uint(j, "debug_files", cs->debug_files);
	api->json_uint(j, "evictions", cs->evictions);
	api->json_string(j, "debug_dir", pp->cfg.debug_dir);
	api->json_end(j);
	api->json_object(j, "kallsyms");
	if (!v->ks_loaded) {
		api->json_string(j, "state", "read when the first results with kernel frames are");
	} else if (v->ks_err) {
		api->json_string(j, "error", strerror(-v->ks_err));
	} else {
		api->json_uint(j, "symbols", v->ks_syms);
		api->json_uint(j, "module_symbols", v->ks_module_syms);
		api->json_uint(j, "bpf_programs", v->ks_bpf);
		api->json_bool(j, "restricted", v->ks_restricted);
	}
	api->json_end(j);
	return 0;
}
