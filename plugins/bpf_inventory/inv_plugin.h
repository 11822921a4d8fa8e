/* SPDX-License-Identifier: MIT */
/*
 * The bpf_inventory plugin's state, shared by its resources, tool and
 * sampler (bpf_inventory.c) and the queue of calls answered from a
 * snapshot taken on the core's workers (inv_queue.c).
 *
 * Threads: everything here belongs to the loop, except what a worker job
 * is given. A snapshot job uses btf (the names BTF gave and kernel BTF,
 * kept between reads), so one runs at a time and the loop leaves btf alone
 * until its done; a counters job reads into memory of its own.
 */
#ifndef SMCP_INV_PLUGIN_H
#define SMCP_INV_PLUGIN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

#include "inv.h"
#include "inv_stats.h"

#define INV_MAX_PENDING 8

enum inv_req_kind {
	INV_REQ_PROGRAMS, /* bpf://programs */
	INV_REQ_PROGRAM,  /* bpf://programs/{id} */
	INV_REQ_MAPS,     /* bpf://maps */
	INV_REQ_REPORT,   /* control_stats_collection */
};

/* A call answered from a snapshot: what it asked for, and where it is. */
struct inv_req {
	struct inv_req *next;
	struct inv_plugin *p;
	enum inv_req_kind kind;
	enum {
		INV_REQ_NEW,
		INV_REQ_WINDOW,   /* a sample waiting for its window (p->pend) */
		INV_REQ_QUEUED,   /* waiting for the next snapshot (p->queue) */
		INV_REQ_SCANNING, /* its snapshot is being taken on a worker */
	} state;
	bool cancelled; /* while scanning: the job's done only frees it */
	unsigned want;  /* enum inv_want */
	struct smcp_call *call;
	struct smcp_result *res;
	uint32_t id;         /* INV_REQ_PROGRAM */
	const char *action;  /* INV_REQ_REPORT: a string literal */
	size_t top;
	char message[256];   /* INV_REQ_REPORT: "" for none */
};

struct inv_scan_job;

struct inv_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	char root[PATH_MAX];
	size_t max_rows;
	uint64_t default_interval_ms, default_duration_s;
	struct inv_btf *btf;
	int btf_timer;
	struct inv_stats st;
	int stats_timer;
	bool user_started; /* start was asked for (not just a one-window sample) */
	/* counters are read on a worker: a job reads for collection stats_gen
	 * (bumped by every start and stop, so a late read is dropped) */
	uint64_t stats_gen;
	bool counting; /* a read for the current collection is under way */
	struct inv_req *pend[INV_MAX_PENDING]; /* samples waiting for their window */
	size_t n_pend;
	/* inv_queue.c */
	struct inv_req *queue;         /* for the next snapshot, in arrival order */
	struct inv_scan_job *scanning; /* the snapshot being taken, or NULL */
};

/* bpf_inventory.c: keep kernel BTF a while after a read. */
void inv_btf_touch(struct inv_plugin *p);

/* inv_queue.c */

/* A request of p for call/res, not yet submitted; NULL on -ENOMEM. */
struct inv_req *inv_req_new(struct inv_plugin *p, enum inv_req_kind kind, unsigned want,
			    struct smcp_call *call, struct smcp_result *res);
/*
 * Answer req from a snapshot taken on a worker: SMCP_PENDING (calls that
 * arrive while one is taken share the next), or the answer at once when
 * there is no call to complete later or no worker to take it. Takes req.
 */
int inv_req_submit(struct inv_req *req);
/* A request whose call is pending already (a sample whose window ended):
 * answer it from the next snapshot. Takes req. */
void inv_req_queue(struct inv_req *req);
/* Answer a pending request with an error now, and free it. */
void inv_req_fail(struct inv_req *req, const char *why);
void inv_req_free(struct inv_req *req);
/* Every request still held (none: the core cancels calls before fini). */
void inv_queue_fini(struct inv_plugin *p);

#endif
