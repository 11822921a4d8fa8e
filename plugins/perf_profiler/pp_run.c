/* SPDX-License-Identifier: MIT */
/*
 * The life of one profile: open the perf session, watch its rings, drain
 * them (fd wake-ups at a quarter full and a 100 ms timer), stop it on
 * request, at its duration, at max_samples, when its process exits or when
 * a waiting call is cancelled, and answer the calls that wait for it, with
 * progress every second meanwhile. Stopping closes every perf fd and unmaps
 * every ring; the aggregated profile stays for the results.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pp_plugin.h"

#define DRAIN_MS 100
#define PROGRESS_MS 1000
#define NOTIFY_MIN_NS 2000000000ULL

struct pp_waiter {
	struct pp_waiter *next;
	struct pp_plugin *pp;
	struct smcp_call *call;
	struct smcp_result *res;
	struct pp_report_opts opts;
	bool stops_profile; /* start_perf_profiling wait: cancelling stops the profile */
	double last_progress;
};

static void notify(struct pp_plugin *pp)
{
	(void)pp->api->notify_resource_updated(pp->host, "profiling://perf/status");
	(void)pp->api->notify_resource_updated(pp->host, "profiling://perf/results");
	pp->last_notify_ns = pp->api->now_ns(pp->host);
	pp->last_notify_samples = pp->prof.samples;
}

static void unwatch_rings(struct pp_plugin *pp)
{
	for (unsigned int i = 0; pp->watched && i < pp->sess.n_rings; i++)
		if (pp->watched[i])
			(void)pp->api->unwatch_fd(pp->host, pp->sess.rings[i].fd);
	free(pp->watched);
	pp->watched = NULL;
}

static void remove_timer(struct pp_plugin *pp, int *id)
{
	if (*id > 0)
		(void)pp->api->timer_remove(pp->host, *id);
	*id = 0;
}

void pp_run_drain(struct pp_plugin *pp)
{
	if (!pp->sess_open)
		return;
	pp->in->now_ns = pp->api->now_ns(pp->host);
	(void)pp_session_drain(&pp->sess, pp->in);
}

static void complete_waiters(struct pp_plugin *pp)
{
	struct pp_waiter *w = pp->waiters, *next;

	pp->waiters = NULL;
	remove_timer(pp, &pp->progress_timer);
	for (; w; w = next) {
		int err;

		next = w->next;
		err = pp_out_results(pp, w->res, &w->opts);
		(void)pp->api->call_complete(w->call, err);
		free(w);
	}
}

void pp_run_stop(struct pp_plugin *pp, const char *reason)
{
	if (pp->state != PP_RUNNING)
		return;
	(void)pp_session_enable(&pp->sess, false);
	pp_run_drain(pp);
	unwatch_rings(pp);
	pp_session_close(&pp->sess);
	pp->sess_open = false;
	free(pp->in);
	pp->in = NULL;
	remove_timer(pp, &pp->drain_timer);
	remove_timer(pp, &pp->stop_timer);
	pp->state = PP_STOPPED;
	pp->meta.stop_ns = pp->api->now_ns(pp->host);
	snprintf(pp->meta.stop_reason, sizeof(pp->meta.stop_reason), "%s", reason);
	pp->api->log(pp->host, SMCP_LOG_INFO, "profile stopped (%s): %llu samples in %.1f s",
		     reason, (unsigned long long)pp->prof.samples, pp_elapsed_s(pp));
	complete_waiters(pp);
	notify(pp);
}

/* Alive and not a zombie: an exited child its parent has not reaped yet
 * still answers kill(pid, 0). The real /proc: perf samples this kernel. */
bool pp_pid_alive(int32_t pid)
{
	char path[64], buf[512], *p;

	if (kill(pid, 0) != 0 && errno != EPERM)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (smcp_read_file("", path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return false;
	return p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

void pp_run_check_limits(struct pp_plugin *pp)
{
	char why[96];

	if (pp->state != PP_RUNNING)
		return;
	if (pp->in->limit_reached) {
		snprintf(why, sizeof(why), "max_samples (%llu) reached",
			 (unsigned long long)pp->meta.max_samples);
		pp_run_stop(pp, why);
	}
}

static void on_ring(void *data, int fd, uint32_t revents)
{
	struct pp_plugin *pp = data;

	if (revents & (EPOLLHUP | EPOLLERR)) {
		/* the thread that owns this ring exited: the timer drains it now,
		 * a dead fd would wake us forever */
		for (unsigned int i = 0; pp->watched && i < pp->sess.n_rings; i++) {
			if (pp->sess.rings[i].fd == fd && pp->watched[i]) {
				(void)pp->api->unwatch_fd(pp->host, fd);
				pp->watched[i] = false;
			}
		}
	}
	pp_run_drain(pp);
	pp_run_check_limits(pp);
}

static void on_drain_timer(void *data)
{
	struct pp_plugin *pp = data;

	pp_run_drain(pp);
	pp_run_check_limits(pp);
	if (pp->state != PP_RUNNING)
		return;
	if (pp->meta.pid >= 0 && !pp_pid_alive(pp->meta.pid)) {
		pp_run_stop(pp, "the profiled process exited");
		return;
	}
	if (pp->prof.samples != pp->last_notify_samples &&
	    pp->api->now_ns(pp->host) - pp->last_notify_ns >= NOTIFY_MIN_NS)
		notify(pp);
}

static void on_stop_timer(void *data)
{
	struct pp_plugin *pp = data;

	pp->stop_timer = 0; /* one-shot: already gone */
	pp_run_stop(pp, pp->meta.duration_s > 0 ? "duration reached" :
						   "safety limit of 3600 s reached");
}

static void on_progress(void *data)
{
	struct pp_plugin *pp = data;
	double el = pp_elapsed_s(pp);
	char msg[128];

	snprintf(msg, sizeof(msg), "%llu samples after %.0f of %.0f s",
		 (unsigned long long)pp->prof.samples, el, pp->meta.duration_s);
	for (struct pp_waiter *w = pp->waiters; w; w = w->next) {
		if (el <= w->last_progress)
			continue;
		w->last_progress = el;
		(void)pp->api->call_progress(w->call, el, pp->meta.duration_s, msg);
	}
}

static void on_cancel(void *data, struct smcp_call *call)
{
	struct pp_waiter *w = data, **pw;
	struct pp_plugin *pp = w->pp;
	bool stop = w->stops_profile;

	for (pw = &pp->waiters; *pw; pw = &(*pw)->next) {
		if (*pw == w) {
			*pw = w->next;
			break;
		}
	}
	free(w);
	if (!pp->waiters)
		remove_timer(pp, &pp->progress_timer);
	if (stop)
		pp_run_stop(pp, "the waiting call was cancelled");
}

int pp_run_wait(struct pp_plugin *pp, struct smcp_call *call, struct smcp_result *res,
		const struct pp_report_opts *o, bool stops)
{
	struct pp_waiter *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->pp = pp;
	w->call = call;
	w->res = res;
	w->opts = *o;
	w->stops_profile = stops;
	w->last_progress = -1;
	err = pp->api->call_on_cancel(call, on_cancel, w);
	if (err) {
		free(w);
		return err;
	}
	if (!pp->progress_timer) {
		int id = pp->api->timer_add(pp->host, PROGRESS_MS, true, on_progress, pp);

		pp->progress_timer = id > 0 ? id : 0;
	}
	w->next = pp->waiters;
	pp->waiters = w;
	return SMCP_PENDING;
}

static int open_session(struct pp_plugin *pp, const struct pp_start_args *s,
			const struct pp_event *ev, struct smcp_result *res)
{
	const struct smcp_host_api *api = pp->api;
	struct pp_session_opts o = { 0 };
	char err[512];
	int rc;

	o.ev = *ev;
	o.freq_hz = (uint32_t)s->freq;
	o.pid = (int32_t)s->pid;
	o.cpu = (int32_t)s->cpu;
	o.dwarf = !s->fp_only && pp->unw && pp->cfg.stack_bytes > 0;
	o.stack_bytes = pp->cfg.stack_bytes;
	o.ring_pages = pp->cfg.ring_pages;
	o.max_fds = pp->cfg.max_fds;
	rc = pp_session_open(&pp->sess, &o, err, sizeof(err));
	if (rc) {
		(void)api->result_error(res, "cannot start profiling: %s", err);
		return rc;
	}
	pp->sess_open = true;
	memset(&pp->meta, 0, sizeof(pp->meta));
	snprintf(pp->meta.requested, sizeof(pp->meta.requested), "%s", ev->name);
	pp->meta.ev = pp->sess.ev;
	snprintf(pp->meta.note, sizeof(pp->meta.note), "%s", pp->sess.note);
	pp->meta.freq_hz = o.freq_hz;
	pp->meta.pid = o.pid;
	pp->meta.cpu = o.cpu;
	pp->meta.max_samples = (uint64_t)s->max_samples;
	pp->meta.duration_s = s->duration;
	pp->meta.dwarf = o.dwarf;
	pp->meta.n_fds = pp->sess.n_fds;
	pp->meta.n_rings = pp->sess.n_rings;
	pp->meta.n_threads = pp->sess.n_threads;
	pp->meta.ring_bytes = pp->sess.ring_bytes;
	pp->meta.kernel_excluded = pp->sess.kernel_excluded;
	return 0;
}

int pp_run_start(struct pp_plugin *pp, const struct pp_start_args *s, const struct pp_event *ev,
		 struct smcp_result *res)
{
	const struct smcp_host_api *api = pp->api;
	int rc;

	/* open first: a start the kernel refuses leaves the last results alone */
	if (open_session(pp, s, ev, res))
		return -EINVAL;
	/* the previous profile's results go now, the symbol cache stays */
	if (pp->have_prof) {
		pp_profile_free(&pp->prof);
		pp->have_prof = false;
	}
	pp->state = PP_IDLE;
	pp_unwinder_reset(pp->unw);
	rc = pp_profile_init(&pp->prof, api->fs_root(pp->host), &pp->cache, pp->cfg.max_stacks);
	if (rc)
		goto fail;
	pp->have_prof = true;
	pp->in = calloc(1, sizeof(*pp->in));
	if (!pp->in) {
		rc = -ENOMEM;
		goto fail;
	}
	pp->in->prof = &pp->prof;
	pp->in->unw = pp->meta.dwarf ? pp->unw : NULL;
	pp->in->fmt = pp->sess.fmt;
	pp->in->max_samples = pp->meta.max_samples;
	pp->in->read_proc = true;
	pp->watched = calloc(pp->sess.n_rings, sizeof(*pp->watched));
	for (unsigned int i = 0; pp->watched && i < pp->sess.n_rings; i++)
		pp->watched[i] = api->watch_fd(pp->host, pp->sess.rings[i].fd, EPOLLIN, on_ring,
					       pp) == 0;
	rc = api->timer_add(pp->host, DRAIN_MS, true, on_drain_timer, pp);
	pp->drain_timer = rc > 0 ? rc : 0;
	rc = api->timer_add(pp->host,
			    (uint64_t)llround((s->duration > 0 ? s->duration : PP_MAX_DURATION_S) *
					      1000),
			    false, on_stop_timer, pp);
	pp->stop_timer = rc > 0 ? rc : 0;
	pp->state = PP_RUNNING;
	pp->meta.start_ns = api->now_ns(pp->host);
	pp->profiles_run++;
	(void)pp_session_enable(&pp->sess, true);
	api->log(pp->host, SMCP_LOG_INFO, "profiling %s at %u Hz (%s%s)", pp->meta.ev.name,
		 pp->meta.freq_hz, pp->meta.pid >= 0 ? "one process" : "all processes",
		 pp->meta.note[0] ? "; fallback noted" : "");
	notify(pp);
	if (!pp->drain_timer || !pp->stop_timer) {
		pp_run_stop(pp, "could not add a timer");
		(void)api->result_error(res, "cannot start profiling: no timer available");
		return -EAGAIN;
	}
	return 0;
fail:
	pp_session_close(&pp->sess);
	pp->sess_open = false;
	free(pp->in);
	pp->in = NULL;
	if (pp->have_prof)
		pp_profile_free(&pp->prof);
	pp->have_prof = false;
	return rc;
}

void pp_run_fini(struct pp_plugin *pp)
{
	struct pp_waiter *w, *next;

	/* the host cancelled waiting calls already; drop what is left */
	for (w = pp->waiters; w; w = next) {
		next = w->next;
		free(w);
	}
	pp->waiters = NULL;
	if (pp->sess_open) {
		(void)pp_session_enable(&pp->sess, false);
		unwatch_rings(pp);
		pp_session_close(&pp->sess);
		pp->sess_open = false;
	}
	free(pp->in);
	pp->in = NULL;
	free(pp->watched);
	pp->watched = NULL;
}
