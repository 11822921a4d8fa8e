/* SPDX-License-Identifier: MIT */
/*
 * Tool calls answered later (SMCP_PENDING): a per-second timer reports
 * progress and, when the duration is over, runs the call's finish
 * function, which completes it. A cancel (or the daemon stopping) runs the
 * cleanup instead and frees everything; nothing outlives the call.
 */
#ifndef SL_CALL_H
#define SL_CALL_H

#include "sl.h"

#define SL_DEFAULT_DURATION_S 5
#define SL_DEFAULT_LIMIT 20

enum sl_group { SL_G_NONE, SL_G_CPU, SL_G_LLC, SL_G_NODE, SL_G_PROCESS, SL_G_THREAD, SL_G_N };
extern const char *const sl_group_names[SL_G_N];

struct sl_call {
	struct sl_call *next;
	struct sl *p;
	struct smcp_call *call;
	struct smcp_result *res;
	void (*finish)(struct sl_call *c);  /* builds the result, then sl_call_complete() */
	void (*cleanup)(struct sl_call *c); /* releases what the call holds; may be NULL */
	int timer;
	unsigned elapsed_s, duration_s;
	uint64_t since_ns;
	int slot; /* measurement slot, -1 none */
	/* arguments */
	enum sl_group group;
	enum sl_sort sort;
	size_t limit, offset;
	bool histogram, by_thread;
	int64_t pid;
	int cpu;
	char cgroup[256];
	/* analyze_softirq */
	int softirq_mode, softirq_vec; /* vec -1: every vector */
	/* analyze_waker_wakee */
	int wake_mode;
	bool kernel_base_ok;
	uint64_t kernel_base[SL_NR_SOFTIRQS]; /* /proc/softirqs when tracking began */
	void *priv; /* the tool's own state, freed by its cleanup */
};

/* A call with the arguments every timed tool shares (duration_s, pid,
 * limit, offset) read from args, defaults (5 s, 20 rows, no filter) for
 * those absent; NULL on -ENOMEM. */
struct sl_call *sl_call_new(struct sl *p, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res, void (*finish)(struct sl_call *c),
			    void (*cleanup)(struct sl_call *c));
/* Keep the call and start its timer: SMCP_PENDING, or -errno (then the
 * caller still owns c and releases it). */
int sl_call_go(struct sl_call *c);
/* For analyses one call at a time (waker pairs, softirqs): start(p) turns
 * the BPF tracking on (-EBUSY while another call has it), then the call is
 * kept. Returns what the tool handler returns; c is released on failure,
 * and a busy analysis is an isError result naming tool. */
int sl_call_go_exclusive(struct sl_call *c, int (*start)(struct sl *p), const char *tool);
/* Finish: complete the client's request with err and free c. */
void sl_call_complete(struct sl_call *c, int err);
/* Run the cleanup and free c (also for calls never started). */
void sl_call_release(struct sl_call *c);
/* Release every call still in flight (plugin unload). */
void sl_calls_fini(struct sl *p);

int sl_parse_enum(const char *s, const char *const *names, int n);
/* The call's filter (pid, cpu, cgroup) as object "filter". */
void sl_emit_filter(const struct sl_call *c, struct smcp_json *j);

#endif
