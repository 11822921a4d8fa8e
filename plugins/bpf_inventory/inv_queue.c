/* SPDX-License-Identifier: MIT */
/*
 * Calls answered from a snapshot taken on the core's worker threads.
 *
 * A snapshot walks every BPF program, map and link, resolves names in BTF
 * (parsing kernel BTF the first time) and every process's /proc/PID/fd and
 * fdinfo for owners: tens of ms with a few dozen programs, hundreds under
 * load or with thousands, and the daemon's one loop serves every session
 * (issue 13). So inv_scan runs in a job (host API work_submit) and the
 * answers are written on the loop, in its done, from the snapshot and the
 * sampler's state as they are then.
 *
 * One snapshot is taken at a time (the BTF names and kernel BTF kept
 * between reads, inv_btf.c, are not shared across threads). Calls that arrive meanwhile wait for the next
 * one, which serves them all with what each needs: every answer comes
 * from a walk that started after its call arrived, as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_emit.h"
#include "inv_plugin.h"

struct inv_scan_job {
	struct inv_plugin *p;
	struct inv_btf *btf;
	unsigned want;
	struct inv_snap s;
	int err;
	char why[320];
	struct inv_req *batch; /* the calls it answers, in arrival order */
};

struct inv_req *inv_req_new(struct inv_plugin *p, enum inv_req_kind kind, unsigned want,
			    struct smcp_call *call, struct smcp_result *res)
{
	struct inv_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->p = p;
	r->kind = kind;
	r->want = want;
	r->call = call;
	r->res = res;
	return r;
}

void inv_req_free(struct inv_req *req)
{
	free(req);
}

static struct inv_emit emitter(struct inv_plugin *p, struct smcp_json *j, const struct inv_snap *s)
{
	return (struct inv_emit){
		.api = p->api,
		.j = j,
		.s = s,
		.st = &p->st,
		.now_ns = p->api->now_ns(p->host),
		.default_duration_s = p->default_duration_s,
		.max_rows = p->max_rows,
	};
}

/* What the handler returned when the snapshot was taken on the loop. */
static int answer(struct inv_plugin *p, struct inv_req *r, const struct inv_scan_job *job)
{
	const struct smcp_host_api *api = p->api;
	const struct inv_snap *s = job->err ? NULL : &job->s;
	const struct inv_prog *prog = NULL;
	struct smcp_json *j;
	struct inv_emit e;
	int err;

	if (r->kind != INV_REQ_REPORT && !s) {
		(void)api->result_error(r->res, "%s", job->why[0] ? job->why : strerror(-job->err));
		return job->err;
	}
	if (r->kind == INV_REQ_PROGRAM) {
		prog = inv_find_prog(s, r->id);
		if (!prog) {
			(void)api->result_error(r->res,
						"no BPF program with id %u is loaded (%u are): "
						"bpf://programs lists their ids",
						r->id, (unsigned)s->n_progs);
			return -ENOENT;
		}
	}
	j = api->result_json(r->res);
	if (!j)
		return -ENOMEM;
	e = emitter(p, j, s);
	switch (r->kind) {
	case INV_REQ_PROGRAMS:
		err = inv_emit_programs(&e);
		break;
	case INV_REQ_PROGRAM:
		err = inv_emit_program(&e, prog);
		break;
	case INV_REQ_MAPS:
		err = inv_emit_maps(&e);
		break;
	default:
		err = inv_emit_stats_report(&e, r->action, r->top,
					    r->message[0] ? r->message : NULL);
		if (!s)
			api->json_string(j, "snapshot_error", job->why);
		break;
	}
	return err < 0 ? err : 0;
}

/* On a worker: only the job (its btf too, which the loop leaves alone). */
static int scan_work(void *data)
{
	struct inv_scan_job *job = data;

	job->err = inv_scan(&job->s, job->btf, job->p->root, job->want, job->why,
			    sizeof(job->why));
	return 0;
}

static void scan_done(void *data, int result);

/* A job for every queued call (p->scanning), or NULL (-ENOMEM). */
static struct inv_scan_job *scan_job(struct inv_plugin *p)
{
	struct inv_scan_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->p = p;
	job->btf = p->btf;
	job->batch = p->queue;
	p->queue = NULL;
	for (struct inv_req *r = job->batch; r; r = r->next) {
		job->want |= r->want;
		r->state = INV_REQ_SCANNING;
	}
	p->scanning = job;
	return job;
}

/* Take the snapshot for every queued call, on a worker; on the loop when
 * no job can be submitted (their calls are pending: done completes them). */
static void scan_start(struct inv_plugin *p)
{
	struct inv_scan_job *job;

	if (p->scanning || !p->queue)
		return;
	job = scan_job(p);
	if (!job) {
		while (p->queue) {
			struct inv_req *r = p->queue;

			p->queue = r->next;
			inv_req_fail(r, "out of memory taking a snapshot");
		}
		return;
	}
	if (p->api->work_submit(p->host, scan_work, scan_done, job)) {
		scan_work(job);
		scan_done(job, 0);
	}
}

static void scan_done(void *data, int result)
{
	struct inv_scan_job *job = data;
	struct inv_plugin *p = job->p;
	struct inv_req *r = job->batch;

	(void)result;
	p->scanning = NULL;
	inv_btf_touch(p);
	/* the next walk (the calls that came meanwhile) while these are written */
	scan_start(p);
	while (r) {
		struct inv_req *next = r->next;

		if (!r->cancelled)
			(void)p->api->call_complete(r->call, answer(p, r, job));
		inv_req_free(r);
		r = next;
	}
	inv_snap_free(&job->s);
	free(job);
}

static void req_cancelled(void *data, struct smcp_call *call)
{
	struct inv_req *r = data;

	(void)call;
	if (r->state == INV_REQ_SCANNING) {
		r->cancelled = true; /* the job's done frees it */
		return;
	}
	if (r->state == INV_REQ_QUEUED) {
		for (struct inv_req **pp = &r->p->queue; *pp; pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
	}
	inv_req_free(r);
}

static void enqueue(struct inv_req *req)
{
	struct inv_req **tail = &req->p->queue;

	while (*tail)
		tail = &(*tail)->next;
	req->next = NULL;
	req->state = INV_REQ_QUEUED;
	*tail = req;
	(void)req->p->api->call_on_cancel(req->call, req_cancelled, req);
}

void inv_req_queue(struct inv_req *req)
{
	enqueue(req);
	scan_start(req->p);
}

int inv_req_submit(struct inv_req *req)
{
	struct inv_plugin *p = req->p;
	struct inv_scan_job job = { .p = p, .want = req->want }, *w;
	int rc;

	if (req->call) {
		enqueue(req);
		if (p->scanning)
			return SMCP_PENDING; /* the next snapshot is for it */
		w = scan_job(p);
		if (w && p->api->work_submit(p->host, scan_work, scan_done, w) == 0)
			return SMCP_PENDING;
		/* no worker: back to the queue, and this call answered here */
		if (w) {
			p->queue = w->batch;
			p->scanning = NULL;
			free(w);
		}
		for (struct inv_req **pp = &p->queue; *pp;) {
			if (*pp == req) {
				*pp = req->next;
				continue;
			}
			(*pp)->state = INV_REQ_QUEUED;
			pp = &(*pp)->next;
		}
		req->state = INV_REQ_NEW;
	}
	/* no call to complete later, or no worker: the snapshot here and now,
	 * with a BTF cache of its own when a worker is using the plugin's */
	job.btf = p->scanning ? inv_btf_new() : p->btf;
	if (!job.btf) {
		rc = -ENOMEM;
		goto out;
	}
	scan_work(&job);
	if (job.btf == p->btf)
		inv_btf_touch(p);
	else
		inv_btf_free(job.btf);
	rc = answer(p, req, &job);
	inv_snap_free(&job.s);
out:
	inv_req_free(req);
	/* calls queued before it, if any, are pending: answered from their own */
	scan_start(p);
	return rc;
}

void inv_req_fail(struct inv_req *req, const char *why)
{
	(void)req->p->api->result_error(req->res, "%s", why);
	(void)req->p->api->call_complete(req->call, 0);
	inv_req_free(req);
}

void inv_queue_fini(struct inv_plugin *p)
{
	while (p->queue) {
		struct inv_req *r = p->queue;

		p->queue = r->next;
		inv_req_free(r);
	}
}
