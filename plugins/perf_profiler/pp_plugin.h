/* SPDX-License-Identifier: MIT */
/*
 * The plugin's state, shared by the tool/resource glue (perf_profiler.c),
 * the life of a profile (pp_run.c), the calls and jobs (pp_work.c) and the
 * answer builders (results.c, results_tree.c, output.c).
 *
 * Who owns what. Everything runs on the loop thread except jobs (host API
 * work_submit): draining the rings (DWARF unwinding, /proc reads, ELF
 * loads), closing the session, kallsyms and symbolisation for answers. At
 * most one job is in flight (pp->job). While it is, the job owns the
 * engine: prof, in, cache, ks and its bookkeeping, unw, and the rings'
 * read state in sess; the loop touches none of them and shows counters
 * from view, copied whenever the loop owned the engine last. The loop
 * owns everything else: state, meta, the calls (queue, ready, waiters),
 * timers and fd watches. The session's fds and ring fds do not change
 * while it is open, so the loop may still watch, unwatch and disable them
 * while a job drains; only the closing job closes them, after the loop
 * unwatched every ring.
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
	PP_IDLE = 0,  /* nothing started yet */
	PP_RUNNING,
	PP_STOPPING,  /* no longer sampling; the last records are read, the fds closed */
	PP_STOPPED,   /* results of the last profile stay readable */
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
	bool png; /* a flame graph picture (results_png.c) */
	int32_t pid; /* -1: all */
	char symbol[256]; /* "": none; else its callers and callees */
};

/* Validated arguments of start_perf_profiling. */
struct pp_start_args {
	const char *event;
	int64_t freq, cpu, pid, max_samples;
	double duration; /* 0: until stopped (at most PP_MAX_DURATION_S) */
	bool fp_only, wait;
};

#define PP_MAX_DURATION_S 3600.0

/* Counters of the engine for answers the loop gives while a job owns it:
 * the summary, the status resource, progress and auto-stop. */
struct pp_view {
	uint64_t samples, lost_samples, dropped_samples;
	uint64_t by_method[PP_UNW__N];
	uint64_t dwarf_attempts, dwarf_failures;
	size_t distinct_stacks, processes, files, profile_bytes;
	bool limit_reached; /* max_samples reached by the last drain */
	size_t cache_files, cache_max;
	struct pp_elf_cache_stats cache;
	bool ks_loaded, ks_restricted;
	int ks_err;
	size_t ks_syms, ks_module_syms, ks_bpf;
};

enum pp_req_kind {
	PP_REQ_START,
	PP_REQ_STOP,
	PP_REQ_RESULTS,
};

/* Where a call waits: its list, or a job that holds it. */
enum pp_req_where {
	PP_AT_NONE = 0,
	PP_AT_QUEUE,  /* behind the job in flight, in arrival order */
	PP_AT_WAIT,   /* for the running profile's end (wait: true) */
	PP_AT_READY,  /* for the next job (results to build, the end of a stop) */
	PP_AT_JOB,    /* in the job in flight: a cancel only marks it */
};

struct pp_answer; /* results.c: results prepared by a job */

/* A tool call or resource read that needs the profile. */
struct pp_req {
	struct pp_req *next;
	struct pp_plugin *pp;
	enum pp_req_kind kind;
	enum pp_req_where where;
	struct smcp_call *call;
	struct smcp_result *res;
	struct pp_report_opts opts; /* the answer's results */
	struct pp_start_args start; /* PP_REQ_START, parsed (start.event unset) */
	struct pp_event ev;
	bool wait;          /* answer at the running profile's end */
	bool call_is_read;  /* profiling://perf/results: no profile is not an error */
	bool stops_profile; /* a waiting start: cancelling it stops the profile */
	bool cancelled;     /* while a job holds it: done only frees it */
	bool in_handler;    /* its handler has not returned yet */
	bool finished;      /* answered while in_handler: the handler returns rc */
	int rc;
	double last_progress;
	struct pp_answer *ans; /* results (or a waiting start): built by the job */
};

/* The one job in flight (pp_work.c); the worker reads it, only done and
 * the next submit write it. */
struct pp_job {
	struct pp_plugin *pp;
	bool drain;        /* drain the rings into prof first */
	bool close;        /* then close the session: the profile is stopping */
	bool kernel;       /* kernel frames were sampled (kallsyms wanted) */
	uint32_t profile;  /* profiles_run when submitted */
	uint64_t now_ns;
	struct pp_req *reqs; /* PP_AT_JOB: results to build, stops to answer */
};

struct pp_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	struct pp_config cfg;

	/* what this machine allows, probed at init */
	bool privileged, perf_ok, hw_ok;
	int paranoid, max_rate;
	char perf_err[160];

	const char *root; /* the host's fs_root, for jobs (which cannot ask) */

	/* the engine: the job in flight owns it (see the top of this file) */
	struct pp_elf_cache cache;
	struct pp_kallsyms ks;
	int ks_err;               /* of the last load; -ENOENT before the first */
	bool ks_loaded;
	uint64_t ks_modules_hash; /* /proc/modules when kallsyms was read */
	uint32_t ks_retried_for;  /* profile number a reload was tried for */
	struct pp_unwinder *unw;
	struct pp_profile prof;
	struct pp_session sess;
	struct pp_ingest *in;

	/* the loop's */
	enum pp_state state;
	bool have_prof;
	bool sess_open;
	bool *watched;       /* per ring: fd registered with the loop */
	struct pp_meta meta;
	struct pp_view view;
	int drain_timer, stop_timer, progress_timer;
	uint64_t last_notify_ns, last_notify_samples;
	uint32_t profiles_run;

	/* calls and jobs (pp_work.c) */
	struct pp_job *job;      /* in flight on a worker: &job_mem, or NULL */
	struct pp_job job_mem;
	bool want_drain;         /* the rings have records for the next job */
	bool closing;            /* stopping: the next job drains and closes */
	bool in_pump;
	struct pp_req *queue;    /* arrived while a job was in flight, in order */
	struct pp_req *ready;    /* for the next job */
	struct pp_req *waiters;  /* for the running profile's end */
	uint64_t jobs_run, jobs_inline; /* all, and those run on the loop (no worker) */
};

/* pp_run.c (loop) */
/* Start a profile (the previous one's results go). Only with no job in
 * flight. 0; or -EINVAL/-EAGAIN with the reason in res; or -errno. */
int pp_run_start(struct pp_plugin *pp, const struct pp_start_args *s, const struct pp_event *ev,
		 struct smcp_result *res);
/* Stop the running profile (no-op otherwise): sampling stops now, state
 * becomes PP_STOPPING; the next job drains the last records and closes
 * every fd and ring, and then the waiting calls are answered. */
void pp_run_stop(struct pp_plugin *pp, const char *reason);
/* Stop if the last drain reached max_samples. */
void pp_run_check_limits(struct pp_plugin *pp);
/* After the closing job: the session is gone, the profile stopped. */
void pp_run_closed(struct pp_plugin *pp);
/* Release what a profile holds, for fini (no job in flight, no call answered). */
void pp_run_fini(struct pp_plugin *pp);
/* Alive and not a zombie (the real /proc). */
bool pp_pid_alive(int32_t pid);

/* pp_work.c (loop, but for the job itself) */
/*
 * Run a call that needs the profile, in arrival order: now when nothing is
 * in flight, else once the job in flight is done. r (allocated, with
 * pp/kind/call/res and what its kind needs) is taken over. Returns the
 * call's result when it was answered at once, else SMCP_PENDING.
 */
int pp_req_submit(struct pp_plugin *pp, struct pp_req *r);
/* Keep r for the running profile's end (its progress is reported). */
void pp_req_wait(struct pp_plugin *pp, struct pp_req *r);
/* Keep r for the next job. */
void pp_req_ready(struct pp_plugin *pp, struct pp_req *r);
/* The waiting calls go to the next job: the profile is stopping. */
void pp_req_wake_waiters(struct pp_plugin *pp);
/* Hand the next job to a worker, if none is in flight and there is
 * something to do: calls to run, records to drain, a session to close. */
void pp_pump(struct pp_plugin *pp);
/* Copy the engine's counters into view (no job in flight). */
void pp_view_refresh(struct pp_plugin *pp);
/* What the job in flight does, for the status resource; NULL when none. */
const char *pp_job_doing(const struct pp_plugin *pp);
/* Free every call still kept (fini: the host cancelled them already). */
void pp_work_fini(struct pp_plugin *pp);

/* perf_profiler.c: a call's work once its turn came (loop). Each returns
 * the call's result, or SMCP_PENDING when it kept r (waiting or ready). */
int pp_exec_start(struct pp_plugin *pp, struct pp_req *r);
int pp_exec_stop(struct pp_plugin *pp, struct pp_req *r);
int pp_exec_results(struct pp_plugin *pp, struct pp_req *r);
/* The answer of a stop whose profile has closed. */
int pp_stop_answer(struct pp_plugin *pp, struct smcp_result *res, bool was_running);

/* results.c */
/* Read /proc/kallsyms if never read, if modules changed since, or if force
 * (job). */
void pp_kallsyms_refresh(struct pp_plugin *pp, bool force);
/* Symbolise and group for an answer, and choose the rows that fit (job:
 * no host API). NULL only when out of memory. */
struct pp_answer *pp_out_prepare(struct pp_plugin *pp, const struct pp_job *job,
				 const struct pp_report_opts *o);
/* Write a prepared answer into res (loop, before the next job). */
int pp_out_results(struct pp_plugin *pp, struct smcp_result *res, const struct pp_answer *ans,
		   const struct pp_report_opts *o);
void pp_answer_free(struct pp_answer *ans);

/* output.c (loop, from view) */
int pp_out_status(struct pp_plugin *pp, struct smcp_json *j);
/* Fill j (an open object) with the profile summary shared by every answer. */
void pp_out_summary(struct pp_plugin *pp, struct smcp_json *j);
double pp_elapsed_s(const struct pp_plugin *pp);

#endif
