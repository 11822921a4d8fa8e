/* SPDX-License-Identifier: MIT */
/*
 * trace_analysis: the in-memory trace model every reader fills and every
 * analysis reads.
 *
 * Files of the plugin:
 *   ta.h, ta_model.c   this model: per-CPU event arrays, the thread table,
 *                      memory accounting, the time-ordered merge
 *   ta_pb.c            the Perfetto protobuf reader (no library)
 *   ta_dat.c           trace-cmd's trace.dat, through libtracecmd (optional)
 *   ta_replay.c        one pass over a trace that rebuilds each thread's
 *                      state (running, runnable, sleeping, blocked) and the
 *                      latency samples the analyses share
 *   ta_analyze.c       the analyses: rows of JSON text, sorted, paged later
 *   ta_stacks.c        stack samples (PerfSample) and the `samples` analysis
 *   trace_analysis.c   the plugin: config, cache (memory bound, LRU), tools
 *
 * Memory: one event is 24 bytes (struct ta_ev); a thread 32 bytes plus 20
 * bytes of index. ta_trace_mem() is what the cache counts.
 */
#ifndef TA_H
#define TA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <schedmcp/hashmap.h>

enum ta_ev_type {
	TA_EV_SWITCH = 1, /* a prev pid, b next pid, c next prio, state prev state */
	TA_EV_WAKING,     /* a pid, b target cpu, c prio */
	TA_EV_WAKEUP_NEW, /* a pid, b target cpu, c prio */
	TA_EV_MIGRATE,    /* a pid, b orig cpu, c dest cpu */
	TA_EV_IRQ_ENTRY,  /* a irq */
	TA_EV_IRQ_EXIT,
	TA_EV_SOFTIRQ_ENTRY, /* a vector */
	TA_EV_SOFTIRQ_EXIT,
	TA_EV_FORK, /* a parent, b child */
	TA_EV_EXIT, /* a pid */
	TA_EV_WAKEUP, /* a pid, b target cpu, c prio: the task is on a run queue */
	TA_EV_N,
};

/* What a switched-out task went to (from the kernel's prev_state). */
enum ta_pstate {
	TA_PS_RUNNABLE = 0, /* preempted: still runnable */
	TA_PS_SLEEP,        /* S, I (idle kthreads): voluntary sleep */
	TA_PS_BLOCKED,      /* D: uninterruptible */
	TA_PS_DEAD,         /* X, Z: exiting */
	TA_PS_OTHER,        /* T, t, P and unknown bits */
};

#define TA_PID_UNKNOWN INT32_MIN

struct ta_ev {
	uint64_t ts;
	int32_t a, b, c;
	uint8_t type;  /* enum ta_ev_type */
	uint8_t state; /* enum ta_pstate (switch) */
	uint16_t pad;
};

struct ta_cpu {
	struct ta_ev *ev;
	size_t n, cap;
	uint64_t lost; /* events the producer says it dropped on this CPU */
};

struct ta_thread {
	int32_t tid, tgid; /* tgid 0: unknown */
	int32_t prio;      /* the latest seen; INT32_MIN unknown */
	char comm[20];
};

/* One value of a counter track, at its packet's timestamp. */
struct ta_csample {
	uint64_t ts;
	double v;
};

/* A counter track of a Perfetto trace (DSQ depth and latency, frequency):
 * its values summarised, and each kept (s[0..ns), file order) for the
 * analyses that window or rank them (the dsq analysis). */
struct ta_ctrack {
	uint64_t uuid, parent_uuid;
	char name[48];
	uint64_t n;
	double sum, min, max, last;
	struct ta_csample *s;
	size_t ns, cap_s;
};
#define TA_MAX_CTRACKS 256

struct ta_trace {
	char name[256];   /* the file, relative to the trace directory */
	char format[24];  /* "perfetto", "trace.dat" */
	struct ta_cpu *cpus;
	uint32_t n_cpus;
	struct ta_thread *th;
	size_t n_th, cap_th;
	struct smcp_hashmap th_idx; /* tid -> index in th */
	uint64_t counts[TA_EV_N];
	uint64_t n_events;
	uint64_t first_ts, last_ts;
	uint64_t lost_events;      /* summed over CPUs and bundles flagged lossy */
	uint64_t lossy_bundles;    /* Perfetto bundles with lost_events set */
	uint64_t track_slices, track_instants, track_counters, track_other;
	uint64_t dsq_events;       /* sched_ext DSQ data, when a producer wrote it */
	uint64_t file_bytes;
	uint64_t unordered_events; /* events that came out of time order (sorted) */
	char uname[192];           /* the producer's machine, when it says */
	struct ta_ctrack *ctracks; /* counter tracks (TrackDescriptor.counter) */
	uint32_t n_ctracks;
	uint64_t counters_untracked; /* counter values on tracks not described before */
	uint32_t producer_cpus;    /* SystemInfo.num_cpus / the file's CPU count */
	size_t mem_limit;          /* a reader stops past this (-EFBIG) */
	struct ta_stacks *stacks;  /* stack samples (ta_stacks.h), NULL when none */
};

/* A new empty trace (NULL on -ENOMEM) that may grow to mem_limit bytes. */
struct ta_trace *ta_trace_new(const char *name, const char *format, size_t mem_limit);
void ta_trace_free(struct ta_trace *t);
/* Bytes the trace holds in memory. */
size_t ta_trace_mem(const struct ta_trace *t);
/* Append one event of cpu: 0, -EINVAL (cpu beyond 4095), -EFBIG (past the
 * memory limit), -ENOMEM. */
int ta_trace_add(struct ta_trace *t, uint32_t cpu, const struct ta_ev *ev);
/* The thread tid (created when absent with comm NULL/empty: unnamed); NULL
 * on -ENOMEM or past the limit. comm, when not empty, names it when it has
 * no name yet or when overwrite. tgid > 0 sets it. */
struct ta_thread *ta_trace_thread(struct ta_trace *t, int32_t tid, int32_t tgid,
				  const char *comm, size_t comm_len, bool overwrite);
const struct ta_thread *ta_trace_find(const struct ta_trace *t, int32_t tid);
/* Keep one value of counter track c (memory counted): 0, -EFBIG (past the
 * memory limit), -ENOMEM. */
int ta_trace_csample(struct ta_trace *t, struct ta_ctrack *c, uint64_t ts, double v);
/* After reading: sort each CPU's events by time (stable), fill in the
 * implied previous task of compact switches, set first/last timestamps. */
int ta_trace_finish(struct ta_trace *t);
/* enum ta_pstate of a kernel prev_state value. */
uint8_t ta_pstate_of(int64_t prev_state);
const char *ta_ev_name(int type);

/* A merge of every CPU's events in time order. */
struct ta_merge {
	const struct ta_trace *t;
	size_t *pos; /* per CPU */
};
int ta_merge_init(struct ta_merge *m, const struct ta_trace *t);
/* The next event (and its CPU), or NULL at the end. */
const struct ta_ev *ta_merge_next(struct ta_merge *m, uint32_t *ret_cpu);
void ta_merge_free(struct ta_merge *m);

/* Readers. 0, or -errno with a message in err (err_len bytes) that names
 * the byte offset where the file went wrong. */
int ta_read_perfetto(struct ta_trace *t, const uint8_t *buf, size_t len, char *err,
		     size_t err_len);
/* trace.dat from an open fd (read, never written); -ENOTSUP without
 * libtracecmd. */
int ta_read_tracedat(struct ta_trace *t, int fd, char *err, size_t err_len);
/* Whether buf starts like a trace.dat. */
bool ta_is_tracedat(const uint8_t *buf, size_t len);
/* Why trace.dat cannot be read in this build (NULL: it can). */
const char *ta_tracedat_unavailable(void);

#endif /* TA_H */
