/* SPDX-License-Identifier: MIT */
/*
 * The two lists, read on the core's worker threads (host API work_submit).
 *
 * Reading them scales with the machine: kallsyms has 120 000 text symbols
 * (80-100 ms of CPU to build the function list), tracefs can list
 * thousands of events, and the daemon's one loop serves every session, so
 * a read on the loop stalled them all (issue 13). Here:
 *
 * - A call whose list is cached is answered at once. A list older than
 *   cache_ttl_s still answers, and a worker reads the next one meanwhile
 *   (stale-while-revalidate), so only the first call ever waits.
 * - A call whose list is not there (first use, or the last read failed)
 *   waits (SMCP_PENDING) for the read, and is answered from its done, with
 *   the list or with why there is none.
 * - One refresh runs at a time; lists asked for meanwhile are read right
 *   after it, and every call waiting for a list is answered by one read.
 *
 * The worker reads into a job of its own (a copy of the tracefs state, new
 * lists); its done, on the loop, publishes them exactly as the synchronous
 * reads did: the same reasons, logs and plugin state, the last good list
 * kept when a re-read fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "el.h"

static uint64_t now_ns(struct el_plugin *p)
{
	return p->api->now_ns(p->host);
}

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void el_events_put(struct el_events *e)
{
	if (!e || --e->refs)
		return;
	el_catalog_free(&e->c);
	free(e);
}

void el_kfuncs_put(struct el_kfuncs *k)
{
	if (!k || --k->refs)
		return;
	el_kf_list_free(&k->l);
	free(k);
}

static void el_update_status(struct el_plugin *p)
{
	char reason[512];

	if (!p->ev && p->ev_reason[0]) {
		snprintf(reason, sizeof(reason), "tracepoints unavailable: %s", p->ev_reason);
		(void)p->api->set_status(p->host, true, reason);
	} else if (!p->kf && p->kf_reason[0]) {
		snprintf(reason, sizeof(reason), "kernel function list unavailable: %s",
			 p->kf_reason);
		(void)p->api->set_status(p->host, true, reason);
	} else {
		(void)p->api->set_status(p->host, false, NULL);
	}
}

/* ------------------------------------------------------ on the worker */

/* Find tracefs (again, when it may have been mounted, unmounted or moved)
 * and read available_events. Touches only the job, and reads the
 * plugin's root and may_mount, which never change after init. */
static void read_events(struct el_refresh *r)
{
	struct ev_catalog c;
	int err = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!r->tfs.found || attempt) {
			bool ours = r->tfs.mounted_by_us;

			err = tracefs_find(r->p->root, r->p->may_mount, &r->tfs);
			/* found again in /proc/mounts, it is still the one we mounted */
			r->tfs.mounted_by_us |= ours && !err;
			if (err) {
				snprintf(r->ev_reason, sizeof(r->ev_reason), "%s", r->tfs.reason);
				break;
			}
			r->mounted_now |= r->tfs.mounted_by_us && !ours;
		}
		err = el_catalog_read(r->tfs.dir, &c);
		if (!err) {
			r->ev = calloc(1, sizeof(*r->ev));
			if (!r->ev) {
				el_catalog_free(&c);
				err = -ENOMEM;
				snprintf(r->ev_reason, sizeof(r->ev_reason), "%s/available_events: %s",
					 r->tfs.where, strerror(-err));
				break;
			}
			r->ev->refs = 1;
			r->ev->c = c;
			break;
		}
		snprintf(r->ev_reason, sizeof(r->ev_reason), "%s/available_events: %s",
			 r->tfs.where, strerror(-err));
		r->tfs.found = false;
	}
}

static void read_kfuncs(struct el_refresh *r)
{
	uint64_t t0 = wall_us();
	struct el_kfuncs *k = calloc(1, sizeof(*k));

	if (!k) {
		snprintf(r->kf_reason, sizeof(r->kf_reason), "%s", strerror(ENOMEM));
		return;
	}
	if (el_kf_list_read(r->p->root, r->tfs.found ? r->tfs.dir : NULL, r->tfs.reason, &k->l,
			    r->kf_reason, sizeof(r->kf_reason))) {
		free(k);
		return;
	}
	k->refs = 1;
	k->build_us = wall_us() - t0;
	r->kf = k;
}

static int refresh_work(void *data)
{
	struct el_refresh *r = data;

	if (r->lists & EL_EVENTS)
		read_events(r);
	if (r->lists & EL_KFUNCS)
		read_kfuncs(r);
	return 0;
}

/* -------------------------------------------------------- on the loop */

static void publish(struct el_plugin *p, struct el_refresh *r)
{
	if (r->lists & EL_EVENTS) {
		p->tfs = r->tfs;
		if (r->mounted_now)
			p->api->log(p->host, SMCP_LOG_NOTICE,
				    "tracefs was not mounted: mounted it on %s", p->tfs.where);
		if (r->ev) {
			el_events_put(p->ev);
			p->ev = r->ev;
			r->ev = NULL;
			p->ev_at_ns = now_ns(p);
			p->ev_reason[0] = '\0';
		} else {
			snprintf(p->ev_reason, sizeof(p->ev_reason), "%s", r->ev_reason);
			if (p->ev) {
				/* keep serving the last good list; say it is stale in the log */
				p->api->log(p->host, SMCP_LOG_WARNING,
					    "re-reading tracepoints failed: %s", p->ev_reason);
				p->ev_at_ns = now_ns(p);
			}
		}
	}
	if (r->lists & EL_KFUNCS) {
		if (r->kf) {
			el_kfuncs_put(p->kf);
			p->kf = r->kf;
			r->kf = NULL;
			p->kf_reason[0] = '\0';
		} else {
			snprintf(p->kf_reason, sizeof(p->kf_reason), "%s", r->kf_reason);
			if (p->kf)
				p->api->log(p->host, SMCP_LOG_WARNING,
					    "re-reading kernel functions failed: %s", p->kf_reason);
		}
		if (p->kf)
			p->kf_at_ns = now_ns(p);
	}
	el_update_status(p);
}

static void refresh_clear(struct el_refresh *r)
{
	el_events_put(r->ev);
	el_kfuncs_put(r->kf);
	memset(r, 0, sizeof(*r));
}

static bool fresh(struct el_plugin *p, unsigned list)
{
	if (list == EL_EVENTS)
		return p->ev && now_ns(p) - p->ev_at_ns < p->ttl_ns;
	return p->kf && now_ns(p) - p->kf_at_ns < p->ttl_ns;
}

/* The job reading lists: p->job, which only one read uses at a time. */
static struct el_refresh *refresh_new(struct el_plugin *p, unsigned lists)
{
	struct el_refresh *r = &p->job;

	memset(r, 0, sizeof(*r));
	/* the function list needs to know where tracefs is: find it first,
	 * as reading the tracepoints does, unless they were just read */
	if ((lists & EL_KFUNCS) && !p->tfs.found && !fresh(p, EL_EVENTS))
		lists |= EL_EVENTS;
	r->p = p;
	r->lists = lists;
	r->tfs = p->tfs;
	return r;
}

static void refresh_done(void *data, int result);

/* Start reading what refresh_next asks for, on a worker; on the loop when
 * no job can be submitted (the synchronous read it always was). */
static void refresh_start(struct el_plugin *p)
{
	struct el_refresh *r;

	if (p->refreshing || !p->refresh_next)
		return;
	r = refresh_new(p, p->refresh_next);
	p->refresh_next = 0;
	p->refreshing = r->lists;
	if (p->api->work_submit(p->host, refresh_work, refresh_done, r)) {
		refresh_work(r);
		refresh_done(r, 0);
	}
}

/* Read these lists soon, unless a read of them is under way. */
static void refresh(struct el_plugin *p, unsigned lists)
{
	p->refresh_next |= lists & ~p->refreshing;
	refresh_start(p);
}

static int step(struct el_call *c);

static void refresh_done(void *data, int result)
{
	struct el_refresh *r = data;
	struct el_plugin *p = r->p;
	struct el_call *ready = NULL, **tail = &ready, **pp = &p->waiting;

	(void)result;
	publish(p, r);
	p->refreshing = 0;
	/* the calls this read was for: whatever it found, they are answered */
	while (*pp) {
		struct el_call *c = *pp;

		c->missing &= ~r->lists;
		if (c->missing) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = NULL;
		*tail = c;
		tail = &c->next;
	}
	refresh_clear(r);
	refresh_start(p);
	while (ready) {
		struct el_call *c = ready;
		int rc;

		ready = c->next;
		c->next = NULL;
		c->state = EL_CALL_NEW;
		c->resumed = true;
		rc = step(c);
		if (rc != SMCP_PENDING)
			el_call_finish(c, rc);
	}
}

void el_cache_init(struct el_plugin *p)
{
	struct el_refresh *r = refresh_new(p, EL_EVENTS);

	/* at start-up, before the loop runs: read it here and now */
	refresh_work(r);
	publish(p, r);
	refresh_clear(r);
}

void el_cache_fini(struct el_plugin *p)
{
	/* the core ran every job's done and cancelled every call before
	 * fini, so nothing waits; free what would, unanswered */
	while (p->waiting) {
		struct el_call *c = p->waiting;

		p->waiting = c->next;
		el_call_free(c);
	}
	el_events_put(p->ev);
	el_kfuncs_put(p->kf);
	p->ev = NULL;
	p->kf = NULL;
}

/* ------------------------------------------------------------ calls */

struct el_call *el_call_new(struct el_plugin *p, struct smcp_call *call, struct smcp_result *res,
			    int (*run)(struct el_plugin *, struct el_call *), unsigned want)
{
	struct el_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->p = p;
	c->call = call;
	c->res = res;
	c->run = run;
	c->want = want;
	return c;
}

int el_call_str(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

void el_call_free(struct el_call *c)
{
	free(c->sub);
	free(c->name);
	free(c->filter);
	free(c);
}

unsigned el_cache_need(struct el_plugin *p, unsigned want)
{
	unsigned kick = 0, missing = 0;

	if ((want & EL_EVENTS) && !fresh(p, EL_EVENTS))
		kick |= EL_EVENTS;
	if ((want & EL_KFUNCS) && !fresh(p, EL_KFUNCS))
		kick |= EL_KFUNCS;
	if (kick)
		refresh(p, kick);
	if ((want & EL_EVENTS) && !p->ev)
		missing |= EL_EVENTS;
	if ((want & EL_KFUNCS) && !p->kf)
		missing |= EL_KFUNCS;
	return missing;
}

static int step(struct el_call *c)
{
	struct el_plugin *p = c->p;
	unsigned missing;

	/* a call that waited answers with what the read left, the list or
	 * why there is none, without asking for another read */
	if (c->resumed)
		return c->run(p, c);
	missing = el_cache_need(p, c->want);
	/* nothing to complete later without a call: answer with what is there */
	if (missing && c->call) {
		struct el_call **tail = &p->waiting;

		/* in arrival order: answered in it too */
		while (*tail)
			tail = &(*tail)->next;
		c->missing = missing;
		c->state = EL_CALL_WAITING;
		c->next = NULL;
		*tail = c;
		return SMCP_PENDING;
	}
	return c->run(p, c);
}

static void call_cancelled(void *data, struct smcp_call *call)
{
	struct el_call *c = data;

	(void)call;
	if (c->state == EL_CALL_WORKING) {
		c->cancelled = true; /* its job's done frees it */
		return;
	}
	for (struct el_call **pp = &c->p->waiting; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	el_call_free(c);
}

int el_call_start(struct el_call *c)
{
	int rc;

	/* before the call can be waiting anywhere: a worker's done may come
	 * before this returns (a host that runs jobs inline) */
	if (c->call)
		(void)c->p->api->call_on_cancel(c->call, call_cancelled, c);
	rc = step(c);
	if (rc != SMCP_PENDING)
		el_call_free(c);
	return rc;
}

void el_call_working(struct el_call *c)
{
	c->state = EL_CALL_WORKING;
}

void el_call_finish(struct el_call *c, int rc)
{
	if (!c->cancelled && c->call)
		(void)c->p->api->call_complete(c->call, rc < 0 ? rc : 0);
	el_call_free(c);
}
