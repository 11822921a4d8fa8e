/* SPDX-License-Identifier: MIT */
/*
 * Calls and jobs. What takes time (draining the rings: DWARF unwinding,
 * /proc reads, ELF loads; kallsyms; symbolisation and grouping; closing a
 * session) runs on the host's worker threads (work_submit), one job at a
 * time, so the loop keeps serving every session meanwhile. pp_plugin.h
 * says who owns what while a job runs.
 *
 * A call that needs the profile (start, stop, results) is a pp_req. It
 * runs at once when no job is in flight and none waits before it, else it
 * queues and runs, in arrival order, when the job in flight is done: a
 * start cannot free the profile a job is reading, and a stop or a results
 * call sent behind a start must see that start. Status reads never wait:
 * they show view, the counters as of the last job.
 *
 * A job drains the rings if the session is open (and closes it if the
 * profile is stopping), then builds the answers of the results calls it
 * holds. Its done, on the loop, answers them while the engine is still as
 * the job left it (the answers point into its symbol tables), and only then
 * hands the engine to the next job. A call cancelled while a job holds it
 * is only marked; done frees it without answering. At unload the host runs
 * every done before fini.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_plugin.h"

#define PROGRESS_MS 1000

static void req_free(struct pp_req *r)
{
	if (!r)
		return;
	pp_answer_free(r->ans);
	free(r);
}

/* Answer r: through the host, or to its handler if that has not returned. */
static void req_finish(struct pp_plugin *pp, struct pp_req *r, int rc)
{
	r->where = PP_AT_NONE;
	if (r->in_handler) {
		r->finished = true;
		r->rc = rc;
		return;
	}
	(void)pp->api->call_complete(r->call, rc);
	req_free(r);
}

static struct pp_req **list_of(struct pp_plugin *pp, enum pp_req_where where)
{
	switch (where) {
	case PP_AT_QUEUE:
		return &pp->queue;
	case PP_AT_WAIT:
		return &pp->waiters;
	case PP_AT_READY:
		return &pp->ready;
	default:
		return NULL;
	}
}

static void append(struct pp_plugin *pp, enum pp_req_where where, struct pp_req *r)
{
	struct pp_req **pr = list_of(pp, where);

	while (*pr)
		pr = &(*pr)->next;
	r->next = NULL;
	r->where = where;
	*pr = r;
}

static void unlink_req(struct pp_plugin *pp, struct pp_req *r)
{
	struct pp_req **pr = list_of(pp, r->where);

	for (; pr && *pr; pr = &(*pr)->next) {
		if (*pr == r) {
			*pr = r->next;
			break;
		}
	}
	r->next = NULL;
	r->where = PP_AT_NONE;
}

static void on_progress(void *data)
{
	struct pp_plugin *pp = data;
	double el = pp_elapsed_s(pp);
	char msg[128];

	snprintf(msg, sizeof(msg), "%llu samples after %.0f of %.0f s",
		 (unsigned long long)pp->view.samples, el, pp->meta.duration_s);
	for (struct pp_req *r = pp->waiters; r; r = r->next) {
		if (el <= r->last_progress)
			continue;
		r->last_progress = el;
		(void)pp->api->call_progress(r->call, el, pp->meta.duration_s, msg);
	}
}

static void stop_progress(struct pp_plugin *pp)
{
	if (pp->progress_timer > 0)
		(void)pp->api->timer_remove(pp->host, pp->progress_timer);
	pp->progress_timer = 0;
}

void pp_req_wait(struct pp_plugin *pp, struct pp_req *r)
{
	append(pp, PP_AT_WAIT, r);
	r->last_progress = -1;
	if (!pp->progress_timer) {
		int id = pp->api->timer_add(pp->host, PROGRESS_MS, true, on_progress, pp);

		pp->progress_timer = id > 0 ? id : 0;
	}
}

void pp_req_ready(struct pp_plugin *pp, struct pp_req *r)
{
	append(pp, PP_AT_READY, r);
}

void pp_req_wake_waiters(struct pp_plugin *pp)
{
	struct pp_req *r;

	stop_progress(pp);
	while ((r = pp->waiters)) {
		unlink_req(pp, r);
		append(pp, PP_AT_READY, r);
	}
}

static void on_cancel(void *data, struct smcp_call *call)
{
	struct pp_req *r = data;
	struct pp_plugin *pp = r->pp;
	bool stop = r->stops_profile && r->where == PP_AT_WAIT;

	if (r->where == PP_AT_JOB) {
		/* the job reads r (its options) and writes r->ans: done frees it */
		r->cancelled = true;
		return;
	}
	unlink_req(pp, r);
	req_free(r);
	if (!pp->waiters)
		stop_progress(pp);
	if (stop)
		pp_run_stop(pp, "the waiting call was cancelled");
}

int pp_req_submit(struct pp_plugin *pp, struct pp_req *r)
{
	int rc;

	r->pp = pp;
	r->in_handler = true;
	append(pp, PP_AT_QUEUE, r);
	if (r->call)
		(void)pp->api->call_on_cancel(r->call, on_cancel, r);
	pp_pump(pp);
	if (r->finished) {
		rc = r->rc;
		req_free(r);
		return rc;
	}
	r->in_handler = false;
	return SMCP_PENDING;
}

/* ------------------------------------------------------------ the view */

void pp_view_refresh(struct pp_plugin *pp)
{
	struct pp_view *v = &pp->view;
	const struct pp_profile *p = &pp->prof;

	memset(v, 0, sizeof(*v));
	if (pp->have_prof) {
		v->samples = p->samples;
		v->lost_samples = p->lost_samples;
		v->dropped_samples = p->dropped_samples;
		memcpy(v->by_method, p->by_method, sizeof(v->by_method));
		v->dwarf_attempts = p->dwarf_attempts;
		v->dwarf_failures = p->dwarf_failures;
		v->distinct_stacks = p->n_stacks;
		v->processes = p->procs.n;
		v->files = p->procs.n_mods ? p->procs.n_mods - 1 : 0;
		v->profile_bytes = pp_profile_mem(p);
	}
	v->limit_reached = pp->in && pp->in->limit_reached;
	v->cache_files = pp->cache.n_entries;
	v->cache_max = pp->cache.max_entries;
	v->cache = pp->cache.st;
	v->ks_loaded = pp->ks_loaded;
	v->ks_err = pp->ks_err;
	v->ks_restricted = pp->ks.restricted;
	v->ks_syms = pp->ks.n;
	v->ks_module_syms = pp->ks.n_modules_syms;
	v->ks_bpf = pp->ks.n_bpf;
}

/* ------------------------------------------------------------ jobs */

/* On a worker: no host API, nothing the loop uses (pp_plugin.h). */
static int job_run(void *data)
{
	struct pp_job *job = data;
	struct pp_plugin *pp = job->pp;

	if (job->drain) {
		pp->in->now_ns = job->now_ns;
		(void)pp_session_drain(&pp->sess, pp->in);
	}
	if (job->close)
		pp_session_close(&pp->sess);
	for (struct pp_req *r = job->reqs; r; r = r->next)
		if (r->kind != PP_REQ_STOP) /* results, or a start that waited */
			r->ans = pp_out_prepare(pp, job, &r->opts);
	return 0;
}

/* On the loop, once the job has run. */
static void job_done(void *data, int result)
{
	struct pp_job *job = data;
	struct pp_plugin *pp = job->pp;
	bool nested = pp->in_pump;
	struct pp_req *r, *next;

	(void)result;
	pp->job = NULL;
	/* no next job before the answers are out (a stop below pumps) */
	pp->in_pump = true;
	pp_view_refresh(pp);
	if (job->close)
		pp_run_closed(pp);
	/* before the answers, as when the loop drained: a results call that
	 * saw max_samples reached says the profile stopped */
	pp_run_check_limits(pp);
	/* answer while the engine is as the job left it: prepared answers
	 * point into its symbol tables and profile */
	for (r = job->reqs; r; r = next) {
		next = r->next;
		r->next = NULL;
		r->where = PP_AT_NONE;
		if (r->cancelled) {
			req_free(r);
			continue;
		}
		if (r->kind == PP_REQ_STOP)
			req_finish(pp, r, pp_stop_answer(pp, r->res, true));
		else
			req_finish(pp, r, r->ans ? pp_out_results(pp, r->res, r->ans, &r->opts) :
						   -ENOMEM);
	}
	pp->in_pump = nested;
	pp_pump(pp);
}

static void submit(struct pp_plugin *pp)
{
	/* one job at a time: its memory is the plugin's, nothing to fail */
	struct pp_job *job = &pp->job_mem;
	struct pp_req *r;
	int err;

	memset(job, 0, sizeof(*job));
	job->pp = pp;
	job->drain = pp->sess_open;
	job->close = pp->closing;
	job->kernel = !pp->meta.kernel_excluded;
	job->profile = pp->profiles_run;
	job->now_ns = pp->api->now_ns(pp->host);
	job->reqs = pp->ready;
	pp->ready = NULL;
	for (r = job->reqs; r; r = r->next)
		r->where = PP_AT_JOB;
	pp->want_drain = false;
	pp->closing = false;
	pp->job = job;
	pp->jobs_run++;
	err = SMCP_API_HAS(pp->api, work_submit) ?
		      pp->api->work_submit(pp->host, job_run, job_done, job) :
		      -ENOTSUP;
	if (err) {
		/* no worker (an older host, none could start, its queue full):
		 * the job runs here, slower for the others but still right */
		pp->jobs_inline++;
		job_done(job, job_run(job));
	}
}

void pp_pump(struct pp_plugin *pp)
{
	/* a done run inline from submit() comes back here: the outer call
	 * goes on with the loop below */
	if (pp->in_pump)
		return;
	pp->in_pump = true;
	while (!pp->job) {
		struct pp_req *r;
		int rc;

		/* run the queued calls in order; a start waits for the job that
		 * builds the answers before it and for the closing of a stop */
		while ((r = pp->queue) && !(r->kind == PP_REQ_START && (pp->ready || pp->closing))) {
			unlink_req(pp, r);
			rc = r->kind == PP_REQ_START ? pp_exec_start(pp, r) :
			     r->kind == PP_REQ_STOP  ? pp_exec_stop(pp, r) :
						       pp_exec_results(pp, r);
			if (rc != SMCP_PENDING)
				req_finish(pp, r, rc);
		}
		if (!pp->ready && !pp->closing && !(pp->want_drain && pp->sess_open))
			break;
		submit(pp);
	}
	pp->in_pump = false;
}

const char *pp_job_doing(const struct pp_plugin *pp)
{
	const struct pp_job *job = pp->job;

	if (!job)
		return NULL;
	if (job->reqs)
		return "building results (symbolisation)";
	if (job->close)
		return "reading the last samples and closing the profile";
	return "reading samples from the ring buffers";
}

void pp_work_fini(struct pp_plugin *pp)
{
	struct pp_req **lists[] = { &pp->queue, &pp->ready, &pp->waiters };

	for (size_t i = 0; i < SMCP_COUNT(lists); i++) {
		while (*lists[i]) {
			struct pp_req *r = *lists[i];

			*lists[i] = r->next;
			req_free(r);
		}
	}
}
