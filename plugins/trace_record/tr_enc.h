/* SPDX-License-Identifier: MIT */
/*
 * Perfetto packets from tr_event records (field numbers: tests/traces/
 * perfetto.proto, from Perfetto's published protos). Pure functions of their
 * input, no allocation: used by the plugin, its unit test and the benchmark.
 */
#ifndef TR_ENC_H
#define TR_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_pb.h"
#include "trace_record.h"

/* Events per ftrace bundle and distinct comms per bundle, at most. */
#define TR_BUNDLE_MAX 4096
#define TR_INTERN_MAX 1024
#define TR_INTERN_SLOTS 2048

/* Per-bundle scratch: the comm intern table and each event's index in it. */
struct tr_intern {
	uint32_t n;
	char names[TR_INTERN_MAX][TR_COMM_LEN];
	uint16_t slot[TR_INTERN_SLOTS]; /* 0 empty, else index + 1 */
	uint16_t idx[TR_BUNDLE_MAX];
};

/* The clock ids we write (BuiltinClock). */
#define TR_CLOCK_REALTIME 1
#define TR_CLOCK_MONOTONIC 3
#define TR_CLOCK_BOOTTIME 6

/*
 * One FtraceEventBundle packet for one CPU from ev[0..n) (sorted by time,
 * all of that CPU): sched_switch and sched_waking in compact form, the rest
 * as FtraceEvents. lost marks that events were lost before these. Writes
 * fewer events when the bundle or intern table fills: returns how many it
 * consumed (>= 1 when n >= 1), or 0 with out->pb overflowed.
 */
size_t tr_enc_bundle(struct tr_pb *pb, struct tr_intern *it, uint32_t cpu,
		     const struct tr_event *const *ev, size_t n, bool lost);

/* ClockSnapshot packet: BOOTTIME primary, and MONOTONIC, REALTIME then. */
void tr_enc_clocks(struct tr_pb *pb, uint64_t boot_ns, uint64_t mono_ns, uint64_t real_ns,
		   uint32_t seq);

/* SystemInfo packet: utsname and the CPU count. */
void tr_enc_system_info(struct tr_pb *pb, const char *sysname, const char *release,
			const char *version, const char *machine, uint32_t ncpus, uint32_t seq);

/* What the recorder counted, written last as FtraceStats (END_OF_TRACE),
 * per CPU, and TraceStats. */
struct tr_cpu_totals {
	uint64_t entries;	/* events written */
	uint64_t lost;		/* found the ring buffer full, or dropped at a cap */
};
void tr_enc_stats(struct tr_pb *pb, const struct tr_cpu_totals *cpus, uint32_t ncpus,
		  uint64_t bytes_written, uint64_t packets_lost, uint32_t seq);

/*
 * sched_ext DSQ counter tracks, from TR_DSQ_INSERT and TR_DSQ_DISPATCH
 * records taken in time order (across CPUs). Under a parent track
 * "sched_ext DSQs", each DSQ gets two counter tracks (TrackDescriptor with a
 * CounterDescriptor), described before their first value:
 *   "dsq <name> depth"    tasks queued after each insert or dispatch (UNIT_COUNT),
 *                         counted from the records: relative to the start, the
 *                         tasks already queued then are not counted
 *   "dsq <name> latency"  each dispatch's insert -> dispatch time (UNIT_TIME_NS)
 * <name>: a user DSQ's id in decimal; built-in ones "global", "local",
 * "local_on:<cpu>", else the id in hex. Track uuids: TR_DSQ_UUID for the
 * parent, + 1 + 2i and + 2 + 2i for the i-th DSQ seen. The state is updated
 * by tr_dsq_step() once per record, and its result written (and rewritten,
 * when a packet must be retried) by tr_enc_dsq().
 */
#define TR_DSQ_MAX 256
#define TR_DSQ_UUID 0x5c4e0d5100000000ull
#define TR_DSQ_SEQ 2 /* the DSQ packets' trusted_packet_sequence_id */

struct tr_dsq_state {
	uint32_t n;
	bool parent_written;
	uint64_t untracked; /* records of DSQs past TR_DSQ_MAX, not written */
	uint64_t id[TR_DSQ_MAX];
	int64_t depth[TR_DSQ_MAX];
};

struct tr_dsq_step {
	uint64_t ts, dsq_id, lat_ns;
	int64_t depth;
	uint32_t idx;
	bool parent, describe, dispatch;
};

/* Apply record e (TR_DSQ_INSERT or TR_DSQ_DISPATCH) to st and say what to
 * write in *out; false (nothing to write) for another type or a DSQ past
 * TR_DSQ_MAX (counted in st->untracked). A dispatch at depth 0 (its insert
 * was lost) leaves the depth at 0. */
bool tr_dsq_step(struct tr_dsq_state *st, const struct tr_event *e, struct tr_dsq_step *out);

/* The packets of one step: the descriptors it needs, then the depth value
 * and, for a dispatch, the latency value. */
void tr_enc_dsq(struct tr_pb *pb, const struct tr_dsq_step *s);

/* A DSQ's name in its tracks' names (see above); buf of at least 32 bytes. */
void tr_dsq_name(char *buf, size_t n, uint64_t id);

#endif
