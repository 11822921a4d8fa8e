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

#endif
