/* SPDX-License-Identifier: MIT */
/*
 * The life of one profile, on the loop: open the perf session, watch its
 * rings and have them drained by jobs (pp_work.c; on fd wake-ups at a
 * quarter full and a 100 ms timer), stop it on request, at its duration,
 * at max_samples, when its process exits or when a waiting call is
 * cancelled. Stopping disables sampling at once; the next job drains what
 * is left and closes every perf fd and unmaps every ring, and then the
 * calls that waited for the end are answered. The aggregated profile stays
 * for the results.
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
#define NOTIFY_MIN_NS 2000000000ULL

static void notify(struct pp_plugin *pp)
{
	(void)pp->api->notify_resource_updated(pp->host, "profiling://perf/status");
	(void)pp->api->notify_resource_updated(pp->host, "profiling://perf/results");
	pp->last_notify_ns = pp->api->now_ns(pp->host);
	pp->last_notify_samples = pp->view.samples;
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

/* Records to drain: the next job does it. */
static void want_drain(struct pp_plugin *pp)
{
	pp->want_drain = true;
	pp_pump(pp);
}

void pp_run_stop(struct pp_plugin *pp, const char *reason)
{
	if (pp->state != PP_RUNNING)
		return;
	/* an ioctl on fds that stay open: fine while a job drains the rings */
	(void)pp_session_enable(&pp->sess, false);
	unwatch_rings(pp);
	remove_timer(pp, &pp->drain_timer);
	remove_timer(pp, &pp->stop_timer);
	remove_timer(pp, &pp->progress_timer);
	pp->state = PP_STOPPING;
	pp->meta.stop_ns = pp->api->now_ns(pp->host);
	snprintf(pp->meta.stop_reason, sizeof(pp->meta.stop_reason), "%s", reason);
	pp->closing = true;
	pp_req_wake_waiters(pp);
	pp_pump(pp);
}

void pp_run_closed(struct pp_plugin *pp)
{
	pp->sess_open = false;
	free(pp->in);
	pp->in = NULL;
	pp->state = PP_STOPPED;
	pp->api->log(pp->host, SMCP_LOG_INFO, "profile stopped (%s): %llu samples in %.1f s",
		     pp->meta.stop_reason, (unsigned long long)pp->view.samples, pp_elapsed_s(pp));
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
	if (pp->view.limit_reached) {
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
	want_drain(pp);
}

static void on_drain_timer(void *data)
{
	struct pp_plugin *pp = data;

	want_drain(pp);
	if (pp->state != PP_RUNNING)
		return;
	if (pp->meta.pid >= 0 && !pp_pid_alive(pp->meta.pid)) {
		pp_run_stop(pp, "the profiled process exited");
		return;
	}
	if (pp->view.samples != pp->last_notify_samples &&
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
	rc = pp_profile_init(&pp->prof, pp->root, &pp->cache, pp->cfg.max_stacks);
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
	pp_view_refresh(pp);
	pp->last_notify_samples = 0;
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
	/* the host ran every job's done before fini: the engine is ours */
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
