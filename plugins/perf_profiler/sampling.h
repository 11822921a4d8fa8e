/* SPDX-License-Identifier: MIT */
/*
 * Sampling: event names, perf_event_open per CPU (system-wide) or per
 * thread and CPU (one process and the threads it creates), one mmap ring
 * per CPU, and draining the rings into the ingest pipeline.
 */
#ifndef SMCP_PP_SAMPLING_H
#define SMCP_PP_SAMPLING_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

struct pp_event {
	char name[128];  /* canonical: "hw:cycles", "sw:cpu-clock", "tp:sched:sched_switch" */
	uint32_t type;
	uint64_t config;
	bool is_hw, is_clock, is_tracepoint;
};

/* Parse an event name ("cycles", "hw:cycles", "sw:task-clock",
 * "tp:sched:sched_switch" or "sched:sched_switch"). On failure returns
 * -EINVAL with err saying why and what is valid. root: fs root for tracefs. */
int pp_event_parse(const char *root, const char *text, struct pp_event *ev, char *err,
		   size_t err_len);
/* Comma-separated names of the built-in events, for descriptions. */
const char *pp_event_names(void);

struct pp_session_opts {
	struct pp_event ev;
	uint32_t freq_hz;
	int32_t pid;          /* -1: every process (per CPU) */
	int32_t cpu;          /* -1: every online CPU */
	bool dwarf;           /* capture user registers and stack bytes */
	uint32_t stack_bytes; /* multiple of 8 */
	uint32_t ring_pages;  /* data pages per ring, a power of two */
	uint32_t max_fds;
};

struct pp_ring {
	int fd;
	void *base;
	size_t len;
	uint64_t head, pos;  /* while draining: snapshot of data_head, next record */
	const struct perf_event_header *cur; /* next record, or NULL when drained */
	uint64_t cur_time;
	unsigned char *scratch; /* a record that wraps around the ring end */
	bool hup;
};

struct pp_session {
	struct pp_ring *rings;
	unsigned int n_rings;
	int *fds;
	unsigned int n_fds;
	size_t cap_fds;
	unsigned int n_threads;
	struct perf_event_attr attr;
	struct pp_sample_fmt fmt;
	struct pp_event ev;       /* what is really sampled (after a fallback) */
	char note[384];           /* fallbacks, in words */
	bool kernel_excluded;
	bool build_id_maps;
	bool ksymbols;            /* PERF_RECORD_KSYMBOL wanted and accepted */
	size_t ring_bytes;
	uint64_t records, bytes;
};

/*
 * Open and map everything, disabled. 0, or -errno with err set to a
 * reason a user can act on (permissions, paranoid level, missing pid...).
 * On failure nothing stays open.
 */
int pp_session_open(struct pp_session *s, const struct pp_session_opts *o, char *err,
		    size_t err_len);
int pp_session_enable(struct pp_session *s, bool on);
/* Drain every ring into in, merging the rings' records in time order;
 * returns the number of records handled. */
uint64_t pp_session_drain(struct pp_session *s, struct pp_ingest *in);
/* Close every fd and unmap every ring. Safe on a closed session. */
void pp_session_close(struct pp_session *s);

/* Online CPUs (the kernel's, not the fs root's): count, and whether cpu is one. */
int pp_online_cpus(bool *online, int max);

#endif
