/* SPDX-License-Identifier: MIT */
/*
 * The plugin's state, shared by the tool/resource glue (perf_profiler.c)
 * and the answer builders (output.c).
 */
#ifndef SMCP_PP_PLUGIN_H
#define SMCP_PP_PLUGIN_H

#include <stdbool.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

#include "aggregate.h"
#include "elf_cache.h"
#include "kallsyms.h"
#include "sampling.h"

enum pp_state {
	PP_IDLE = 0, /* nothing started yet */
	PP_RUNNING,
	PP_STOPPED,  /* results of the last profile stay readable */
};

struct pp_config {
	const char *debug_dir;
	uint32_t stack_bytes;
	uint32_t ring_pages;
	uint32_t max_stacks;
	uint32_t cache_entries;
	uint32_t result_bytes;
	uint32_t max_fds;
};

/* What was asked and what is really happening, for every answer. */
struct pp_meta {
	char requested[128];
	struct pp_event ev;  /* sampled, after any fallback */
	char note[512];
	uint32_t freq_hz;
	int32_t pid, cpu;
	uint64_t max_samples;
	double duration_s;   /* 0: until stopped (capped) */
	bool dwarf;
	uint64_t start_ns, stop_ns;
	char stop_reason[96];
	unsigned int n_fds, n_rings, n_threads;
	size_t ring_bytes;
	bool kernel_excluded;
};

struct pp_report_opts {
	enum pp_group group;
	uint32_t limit, offset;
	bool include_stacks;
	bool folded;
	int32_t pid; /* -1: all */
};

/* Validated arguments of start_perf_profiling. */
struct pp_start_args {
	const char *event;
	int64_t freq, cpu, pid, max_samples;
	double duration; /* 0: until stopped (at most PP_MAX_DURATION_S) */
	bool fp_only, wait;
};

#define PP_MAX_DURATION_S 3600.0

struct pp_waiter;

struct pp_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	struct pp_config cfg;

	/* what this machine allows, probed at init */
	bool privileged, perf_ok, hw_ok;
	int paranoid, max_rate;
	char perf_err[160];

	struct pp_elf_cache cache;
	struct pp_kallsyms ks;
	int ks_err;               /* of the last load; -ENOENT before the first */
	bool ks_loaded;
	uint64_t ks_modules_hash; /* /proc/modules when kallsyms was read */
	uint32_t ks_retried_for;  /* profile number a reload was tried for */
	struct pp_unwinder *unw;

	enum pp_state state;
	bool have_prof;
	struct pp_profile prof;
	struct pp_session sess;
	bool sess_open;
	bool *watched;       /* per ring: fd registered with the loop */
	struct pp_ingest *in;
	struct pp_meta meta;
	int drain_timer, stop_timer, progress_timer;
	uint64_t last_notify_ns, last_notify_samples;
	struct pp_waiter *waiters;
	uint32_t profiles_run;
};

/* pp_run.c */
/* Start a profile (the previous one's results go). 0; or -EINVAL/-EAGAIN
 * with the reason in res; or -errno. */
int pp_run_start(struct pp_plugin *pp, const struct pp_start_args *s, const struct pp_event *ev,
		 struct smcp_result *res);
/* Stop the running profile (no-op otherwise): every fd and ring released,
 * waiting calls answered. */
void pp_run_stop(struct pp_plugin *pp, const char *reason);
/* Drain the rings of the running profile (no-op otherwise). */
void pp_run_drain(struct pp_plugin *pp);
/* Stop if max_samples was reached. */
void pp_run_check_limits(struct pp_plugin *pp);
/* Keep call open until the profile stops; answer with results per o.
 * stops: cancelling the call stops the profile. Returns SMCP_PENDING or -errno. */
int pp_run_wait(struct pp_plugin *pp, struct smcp_call *call, struct smcp_result *res,
		const struct pp_report_opts *o, bool stops);
/* Release what a profile holds, for fini (no call is answered). */
void pp_run_fini(struct pp_plugin *pp);
/* Alive and not a zombie (the real /proc). */
bool pp_pid_alive(int32_t pid);

/* output.c */
/* Read /proc/kallsyms if never read, if modules changed since, or if force. */
void pp_kallsyms_refresh(struct pp_plugin *pp, bool force);
int pp_out_results(struct pp_plugin *pp, struct smcp_result *res, const struct pp_report_opts *o);
int pp_out_status(struct pp_plugin *pp, struct smcp_json *j);
/* Fill j (an open object) with the profile summary shared by every answer. */
void pp_out_summary(struct pp_plugin *pp, struct smcp_json *j);
double pp_elapsed_s(const struct pp_plugin *pp);

#endif
