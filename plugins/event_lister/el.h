/* SPDX-License-Identifier: MIT */
/* State of the event_lister plugin, shared by its resources and its tools. */
#ifndef SMCP_EL_H
#define SMCP_EL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

#include "kfuncs.h"
#include "tracefs.h"

/* list_events: rows per page (default, maximum, and maximum with formats). */
#define EL_DEFAULT_LIMIT 100
#define EL_MAX_LIMIT 1000
#define EL_MAX_FORMAT_LIMIT 10
/* A page stops early once its names take this many bytes, so a page of
 * long module function names stays well inside the answer limit. */
#define EL_PAGE_BYTES 24576
/* events://perf/{subsystem} lists at most this many events. */
#define EL_SUBSYS_MAX_ROWS 400
/* events://kprobe shows this many names before pointing at list_events. */
#define EL_KPROBE_PREVIEW 100

/*
 * A list as one read produced it. Published on the loop and never changed
 * afterwards, so a worker can filter it while the loop serves the next
 * version: whoever uses it across a worker job holds a reference. refs is
 * counted on the loop thread only (taken before the job is submitted,
 * dropped in its done), so it needs no atomics.
 */
struct el_events {
	unsigned refs;
	struct ev_catalog c;
};

struct el_kfuncs {
	unsigned refs;
	struct kf_list l;
	uint64_t build_us;
};

/* Which lists a call needs or a refresh reads. */
enum {
	EL_EVENTS = 1u << 0,
	EL_KFUNCS = 1u << 1,
};

struct el_plugin;
struct el_call;

/* One read of the lists on a worker (el_cache.c): its own copy of the
 * tracefs state in, the new lists and reasons out. */
struct el_refresh {
	struct el_plugin *p;
	unsigned lists; /* EL_EVENTS | EL_KFUNCS */
	struct tracefs tfs;
	bool mounted_now;
	struct el_events *ev;
	char ev_reason[384];
	struct el_kfuncs *kf;
	char kf_reason[512];
};

struct el_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	char root[PATH_MAX];
	bool may_mount;
	uint64_t ttl_ns;

	/* the loop's; a refresh works on a copy and hands it back */
	struct tracefs tfs;

	struct el_events *ev; /* NULL until a read succeeded */
	uint64_t ev_at_ns;
	char ev_reason[384];

	struct el_kfuncs *kf; /* likewise */
	uint64_t kf_at_ns;
	char kf_reason[512];

	/* el_cache.c: the read under way (one at a time) and the lists it
	 * reads, those to read when it is done, and the calls waiting for a
	 * list they do not have */
	struct el_refresh job;
	unsigned refreshing;
	unsigned refresh_next;
	struct el_call *waiting;
};

/*
 * A call that needs a list: its arguments, copied (a call that waits
 * outlives the handler's), and the function that answers it once the
 * lists are there. run returns what a handler returns (SMCP_PENDING when
 * it handed the call to a worker job, which then owns it).
 */
struct el_call {
	struct el_call *next;
	struct el_plugin *p;
	int (*run)(struct el_plugin *p, struct el_call *c);
	struct smcp_call *call;
	struct smcp_result *res;
	unsigned want;    /* EL_EVENTS | EL_KFUNCS */
	unsigned missing; /* of want, the lists it waits for */
	enum { EL_CALL_NEW, EL_CALL_WAITING, EL_CALL_WORKING } state;
	bool resumed;   /* a refresh it waited for is done: answer with what is there */
	bool cancelled; /* while a worker job holds it */
	char *sub, *name, *filter; /* subsystem, event (templates), filter */
	int64_t limit, offset;
	bool has_limit, has_offset, formats;
};

/* el_cache.c */

/* Read the tracepoint catalog now, on the calling thread (init only). */
void el_cache_init(struct el_plugin *p);
void el_cache_fini(struct el_plugin *p);
/*
 * Of the lists in want, those not there (0: all are): each of them is
 * being read now, on a worker. A stale one is re-read too and serves
 * meanwhile. Never waits.
 */
unsigned el_cache_need(struct el_plugin *p, unsigned want);

/*
 * A new call of p answered by run once the lists in want are there, or
 * NULL (-ENOMEM). el_call_str copies an argument into it.
 */
struct el_call *el_call_new(struct el_plugin *p, struct smcp_call *call, struct smcp_result *res,
			    int (*run)(struct el_plugin *, struct el_call *), unsigned want);
int el_call_str(char **dst, const char *s);
/* Free a call that was never started (el_call_start takes it). */
void el_call_free(struct el_call *c);
/*
 * Answer c: at once when its lists are cached (a stale one is re-read in
 * the background and serves meanwhile), or SMCP_PENDING when a list has to
 * be read first, on a worker, and c is answered from there. Takes c.
 */
int el_call_start(struct el_call *c);
/* c now belongs to a worker job, whose done answers it with
 * el_call_finish; its run then returns SMCP_PENDING. A cancel meanwhile
 * only marks it. */
void el_call_working(struct el_call *c);
/* What a worker job's done calls for its call: answer it (unless it was
 * cancelled) with rc as the handler's return, and free it. */
void el_call_finish(struct el_call *c, int rc);

/* Drop a reference (taken with ->refs++ on the loop); NULL is fine. */
void el_events_put(struct el_events *e);
void el_kfuncs_put(struct el_kfuncs *k);

/* Writers shared by resources and tools. */
int el_emit_tracefs_source(struct el_plugin *p, const struct el_events *ev,
			   struct smcp_json *j);
int el_emit_kprobe_source(struct el_plugin *p, const struct el_kfuncs *kf, struct smcp_json *j);
int el_emit_format(struct el_plugin *p, struct smcp_json *j, const char *key,
		   const char *full_name, bool with_print_fmt);

/* Tools (el_tools.c). */
int el_register_tools(struct el_plugin *p);

#endif
