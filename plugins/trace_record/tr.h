/* SPDX-License-Identifier: MIT */
/*
 * The trace_record plugin's user side: one context shared by its files.
 *
 *   trace_record.c   entry, config, the trace directory, the tool and resource
 *   tr_rec.c         one recording on the loop: start, drain timer, caps,
 *                    stop, the calls that wait, its JSON
 *   tr_jobs.c        its work jobs: BPF load/attach/detach, the drain (ring
 *                    buffer -> per-CPU sort -> Perfetto packets -> file),
 *                    finish; the probe at init
 *   tr_proc.c        the ProcessTree packet from /proc at the start
 *   tr_kstat.c       irq and softirq episodes the kernel ran no BPF program
 *                    for, counted from /proc/interrupts and /proc/softirqs
 *   tr_dsq.c         sched_ext: whether the kernel has it, the DSQ object
 *                    (trace_record_dsq.bpf.c) per recording, its records
 *                    in one time order into counter tracks
 *   tr_enc.c         Perfetto packets from records (pure; unit-tested)
 *   tr_pb.c          the streaming protobuf encoder's file side
 *   tr_stacks.c      stack samples (stack_hz): perf events, their rings,
 *                    PerfSample packets; tr_stacks_intern.c their interned
 *                    callstacks, frames, names, mappings (tr_stacks_int.h)
 *   trace_record.bpf.c / trace_record.h   the kernel side and its record
 *
 * Threads: the loop owns struct tr_plugin and the loop-side fields of
 * struct tr_rec; at most one work job per recording is in flight, and while
 * it is (rec->busy) the job alone touches the worker-side fields.
 */
#ifndef TR_H
#define TR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <schedmcp/plugin.h>

#include "scx_dsq_hooks.h"
#include "tr_enc.h"
#include "tr_stacks.h"
#include "trace_record.h"

#define TR_ID_LEN 20 /* "YYYYMMDD-HHMMSS-xxxx" */
#define TR_SUFFIX ".perfetto-trace"

/* The file of a recording: "<id>.perfetto-trace". */
#define TR_FILE_LEN (TR_ID_LEN + sizeof(TR_SUFFIX))
static inline void tr_file_name(char *buf, size_t n, const char *id)
{
	snprintf(buf, n, "%s%s", id, TR_SUFFIX);
}

struct tr_cfg {
	const char *dir, *owner;
	int64_t max_duration_s, default_duration_s, max_mb, ring_mb, max_files, drain_ms;
	int64_t max_stack_hz;	/* cap of stack_hz (tr_stacks.c) */
};

enum tr_state { TR_STARTING, TR_RUNNING, TR_STOPPING, TR_DONE, TR_FAILED };

struct tr_cpu_buf {
	struct tr_event *ev; /* in arrival order */
	uint32_t n, cap;
	uint64_t last_ts;     /* newest timestamp written for this CPU */
	uint64_t written;     /* events written */
	uint64_t lost_seen;   /* BPF lost count already flagged in a bundle */
	uint64_t lost_buffer; /* dropped: this CPU's pending buffer was full */
	uint64_t hidden;      /* irq/softirq entries and exits the kernel ran no BPF for */
	/* switches written (tr_jobs.c): one whose prev is not the last one's
	 * next means the CPU ran a task whose switch away no program saw */
	int32_t last_next;    /* next pid of the last switch written */
	bool have_next;
	uint64_t blind;       /* such intervals, counted while the CPU lost nothing */
};

/* The kernel's per-CPU counts of handled interrupts (times their actions)
 * and softirq runs, with our programs' entries seen at the same instant
 * (tr_kstat.c). One allocation, freed by tr_kstat_free. */
struct tr_kstat {
	uint64_t *irq, *soft, *seen_irq, *seen_soft;
	uint64_t shape_irq, shape_soft;	/* tr_kstat_parse's shapes */
	bool ok;
};

/* The three clocks read together, for a ClockSnapshot. */
struct clocks {
	uint64_t boot, mono, real;
};

struct trace_record_bpf;
struct trace_record_dsq_bpf;
struct ring_buffer;
struct bpf_link;

#define TR_DSQ_LINKS 16

/* A recording's sched_ext DSQ part (worker side, like the ring buffer). */
struct tr_dsq_rec {
	struct trace_record_dsq_bpf *skel; /* NULL: no DSQ tracks (why says why) */
	struct bpf_link *links[TR_DSQ_LINKS];
	int nlinks;
	struct tr_event *ev;	/* pending, in arrival order */
	uint32_t n, cap;
	const struct tr_event **sorted;
	uint32_t sorted_cap;
	struct tr_dsq_state st;	/* depth per DSQ, tracks described */
	uint64_t last_ts, late, lost_buffer;
	char why[320];
};

struct tr_rec {
	struct tr_plugin *p;
	char id[TR_ID_LEN + 1];
	int fd;

	/* loop side */
	enum tr_state state;
	char reason[200];	/* why it stopped, or failed */
	uint64_t max_bytes;
	uint64_t duration_ms;
	uint64_t t0_ns;		/* loop clock at start */
	uint64_t elapsed_ns;	/* at stop */
	int timer_drain, timer_end, timer_progress;
	bool busy;		/* a job is in flight */
	bool stop_wanted;
	struct smcp_call *call;	/* a call waiting for the end (record, stop) */
	struct smcp_result *res;

	/* worker side (touched by jobs only while busy, by the loop otherwise) */
	struct trace_record_bpf *skel;
	struct bpf_link **links;
	int nlinks;
	struct ring_buffer *rb;
	int *ring_fds;		/* one ring buffer per CPU online at the start */
	uint32_t n_rings;
	bool *online;		/* by possible CPU: had a ring */
	uint32_t ncpus;
	struct tr_cpu_buf *cpu;
	uint32_t cpu_cap_events;	/* per-CPU pending bound */
	const struct tr_event **sorted;
	uint32_t sorted_cap;
	struct tr_intern *intern;
	uint8_t *chunk;
	struct tr_out out;
	uint64_t start_boot_ns, end_boot_ns;
	struct clocks end_clocks;	/* read by the loop when it stops */
	uint64_t written[TR_NTYPES];	/* events written, by type */
	uint64_t seen[TR_NTYPES], lost_ring[TR_NTYPES];	/* from the BPF counters */
	uint64_t late;		/* reached us after later events were written */
	uint64_t recursion_misses;	/* program runs the kernel skipped */
	struct tr_kstat kstat0;		/* at the start, after the attach */
	uint64_t hidden[TR_NTYPES];	/* the kernel ran no BPF for them (tr_kstat.c) */
	bool hidden_counted;		/* hidden[] holds a count */
	bool size_reached;
	bool consume_stopped;	/* a CPU's pending buffer filled during a consume */
	int err;		/* a job's failure, -errno, with why */
	char why[200];
	struct tr_dsq_rec dsq;
	int (*job)(void *);	/* the job in flight */
	uint64_t job_t0_ns, job_max_ns;	/* when it was submitted; the longest */

	/* the loop's copy of the counters, taken when a job ends */
	struct tr_snap {
		uint64_t bytes, late, recursion_misses, lost_buffer, packets_dropped_cap;
		uint64_t written[TR_NTYPES], seen[TR_NTYPES], lost_ring[TR_NTYPES];
		uint64_t hidden[TR_NTYPES], blind;
		bool hidden_counted;
		uint64_t start_boot_ns, end_boot_ns;
		uint64_t dsq_late, dsq_lost_buffer, dsq_untracked;
		uint32_t dsq_n;
		bool dsq_on;
		char dsq_why[320];
	} snap;

	/* stack samples (tr_stacks.c): worker side, and the loop's copy */
	uint32_t stack_hz;
	struct tr_stacks *stacks;
	struct tr_stacks_snap stacks_snap;
};

struct tr_plugin {
	struct smcp_host *h;
	const struct smcp_host_api *api;
	struct tr_cfg cfg;
	int dirfd;
	uint32_t ncpus;
	char reason[256];	/* why recording cannot work here, "" when it can */
	bool dsq_kernel;	/* the kernel has sched_ext (tr_dsq_probe) */
	bool dsq_chosen[SCX_DSQ_NHOOKS]; /* the kfuncs to hook */
	char dsq_why[320];	/* why recordings have no DSQ tracks, "" when they can */
	struct tr_rec *rec;	/* the running recording, or the last one */
	uint32_t next_stack_hz;	/* stack_hz of the recording being started */
};

#define TR_CHUNK_BYTES (4u << 20)	/* the output chunk */
#define TR_CPU_PENDING_MAX (256u << 10)	/* pending records per CPU, at most */
#define TR_RING_MIN (256u << 10)	/* a CPU's ring buffer, bytes, at least */
#define TR_RING_MAX (1u << 30)		/* and at most */

/* Each CPU's ring: the largest power of two within ring_mb / ncpus, at
 * least TR_RING_MIN. */
uint32_t tr_ring_bytes(int64_t ring_mb, uint32_t ncpus);
/* Reads ring buffer fd (another object's) with the CPUs' rings: 0, -errno. */
int tr_ring_add(struct tr_rec *r, int fd);
/* Closes the CPUs' ring buffers (after ring_buffer__free). */
void tr_close_rings(struct tr_rec *r);

/* tr_jobs.c: work jobs (data: the struct tr_rec); 0 or -errno, with why */
int tr_job_start(void *data);
int tr_job_drain(void *data);
int tr_job_finish(void *data);
void tr_read_clocks(struct clocks *c);

/* tr_rec.c */
int tr_rec_start(struct tr_plugin *p, const char *id, int fd, uint64_t duration_ms,
		 uint64_t max_bytes, struct tr_rec **ret);
void tr_rec_stop(struct tr_rec *r, const char *reason);
/* Answer call (pending) with the recording's summary when it ends; a
 * cancelled call stops the recording when stop_on_cancel. */
void tr_rec_wait(struct tr_rec *r, struct smcp_call *call, struct smcp_result *res,
		 bool stop_on_cancel);
/* tr_jobs.c: probe at init whether the BPF object loads here; 0, or
 * -errno with a reason in why. */
int tr_rec_probe(struct tr_plugin *p, char *why, size_t len);
/* At fini: finish a running recording synchronously, free it. */
void tr_rec_free(struct tr_rec *r);
/* The recording as JSON members of the open object j. */
void tr_rec_json(const struct tr_rec *r, struct smcp_json *j);
/* The stack samples' part of it (an object "stacks" when stack_hz > 0). */
void tr_rec_stacks_json(const struct tr_rec *r, struct smcp_json *j);
/* Called by tr_rec.c when a recording reached DONE or FAILED. */
void tr_plugin_finished(struct tr_plugin *p, struct tr_rec *r);

/* tr_dsq.c (worker side but tr_dsq_probe, at init) */
void tr_dsq_probe(struct tr_plugin *p);
/* Load and attach the DSQ object into r's ring buffer; on failure r->dsq.why
 * says why and the recording goes on without it. */
void tr_dsq_start(struct tr_rec *r);
bool tr_dsq_is(const struct tr_event *e);
/* Keep one DSQ record (dropped, counted, past the pending bound). */
void tr_dsq_record(struct tr_rec *r, const struct tr_event *e);
/* Write the pending records up to watermark, in time order. */
void tr_dsq_write(struct tr_rec *r, uint64_t watermark);
/* The BPF counters of the DSQ types into r->seen and r->lost_ring. */
void tr_dsq_counters(struct tr_rec *r);
uint64_t tr_dsq_misses(struct tr_rec *r);
void tr_dsq_detach(struct tr_rec *r);
void tr_dsq_free(struct tr_rec *r);
/* tr_jobs.c: one step's packets into the file; false when dropped. */
bool tr_jobs_emit_dsq(struct tr_rec *r, const struct tr_dsq_step *s);
/* Pending records (ev[0..*n), arrival order) sorted by time into *sorted
 * (grown to *n, *cap its size): how many are at or before watermark. When
 * *sorted cannot grow, the *n records are dropped, added to *lost, and 0
 * returned. */
uint32_t tr_pending_sort(struct tr_event *ev, uint32_t *n, const struct tr_event ***sorted,
			 uint32_t *cap, uint64_t watermark, uint64_t *lost);
/* Drop the first done records of sorted (written) from ev, keeping the
 * others in arrival order: the new count. */
uint32_t tr_pending_keep(struct tr_event *ev, uint32_t n, const struct tr_event **sorted,
			 uint32_t done);

/* tr_kstat.c: read the kernel's irq and softirq counts and our programs'
 * seen counters at one instant into k (allocated on first use): 0, -EAGAIN
 * when events kept coming during every try, or the error reading /proc. */
int tr_kstat_snap(struct tr_rec *r, struct tr_kstat *k);
/* From two snapshots: r->hidden[], r->cpu[].hidden, r->hidden_counted. */
void tr_kstat_count(struct tr_rec *r, const struct tr_kstat *k0, const struct tr_kstat *k1);
void tr_kstat_free(struct tr_kstat *k);

/* tr_proc.c: a ProcessTree packet of every process and thread under
 * root/proc (at most max_threads threads); returns threads written. */
int tr_proc_tree(struct tr_out *out, const char *root, uint64_t boot_ns, uint32_t max_threads);

#endif
