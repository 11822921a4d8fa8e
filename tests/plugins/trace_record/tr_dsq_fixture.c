/* SPDX-License-Identifier: MIT */
/*
 * Writes to argv[1] a Perfetto trace of synthetic sched_ext DSQ records
 * through trace_record's own encoder (tr_dsq_step + tr_enc_dsq, the path
 * the plugin takes), with two sched_switch records around them so the trace
 * has a first and last event. test_dsq.py reads it back with protoc and
 * through trace_analysis's dsq analysis, against hand-computed depth and
 * latency. The records (ts ns, type, DSQ, pid, latency) are the table
 * below; the last dispatch of "local" has no insert (as when the ring
 * buffer lost it): the depth stays at 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_enc.h"

#define LOCAL 0x8000000000000002ull

static const struct {
	uint64_t ts;
	uint16_t type;
	uint64_t dsq;
	int32_t pid;
	uint64_t lat;
} recs[] = {
	{ 1000, TR_DSQ_INSERT, 1000, 10, 0 },
	{ 1500, TR_DSQ_INSERT, LOCAL, 20, 0 },
	{ 1600, TR_DSQ_DISPATCH, LOCAL, 20, 100 },
	{ 2000, TR_DSQ_INSERT, 1000, 11, 0 },
	{ 3500, TR_DSQ_DISPATCH, 1000, 10, 2500 },
	{ 4000, TR_DSQ_INSERT, 1000, 12, 0 },
	{ 6000, TR_DSQ_DISPATCH, 1000, 11, 4000 },
	{ 7000, TR_DSQ_DISPATCH, LOCAL, 21, 300 },
	{ 9000, TR_DSQ_DISPATCH, 1000, 12, 5000 },
	/* a latency past 32 bits (d:e halves): 5 s */
	{ 9500, TR_DSQ_INSERT, 7, 30, 0 },
	{ 9600, TR_DSQ_DISPATCH, 7, 30, 5000000000ull },
};

static bool emit(struct tr_out *o, const struct tr_dsq_step *s)
{
	for (int t = 0; t < 2; t++) {
		tr_enc_dsq(tr_out_packet_begin(o), s);
		switch (tr_out_packet_end(o)) {
		case TR_OUT_KEPT: return true;
		case TR_OUT_RETRY: continue;
		case TR_OUT_DROPPED: return false;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	static uint8_t chunk[1 << 16];
	static struct tr_intern it;
	struct tr_dsq_state st;
	struct tr_event sw[2];
	const struct tr_event *p;
	struct tr_out o;
	int fd;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 2;
	memset(&st, 0, sizeof(st));
	memset(sw, 0, sizeof(sw));
	tr_out_init(&o, fd, chunk, sizeof(chunk), 0);
	tr_enc_clocks(tr_out_packet_begin(&o), 1000, 1000, 1000, 1);
	(void)tr_out_packet_end(&o);
	for (int i = 0; i < 2; i++) {
		sw[i].ts_ns = i ? 10000 : 1000;
		sw[i].type = TR_SWITCH;
		sw[i].b = i ? 0 : 10;
		sw[i].c = 120;
		snprintf(sw[i].comm, sizeof(sw[i].comm), "%s", i ? "swapper/0" : "t10");
		p = &sw[i];
		(void)tr_enc_bundle(tr_out_packet_begin(&o), &it, 0, &p, 1, false);
		(void)tr_out_packet_end(&o);
	}
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		struct tr_event e;
		struct tr_dsq_step s;

		memset(&e, 0, sizeof(e));
		e.ts_ns = recs[i].ts;
		e.type = recs[i].type;
		e.a = (int64_t)recs[i].dsq;
		e.b = recs[i].pid;
		e.d = (int32_t)(uint32_t)(recs[i].lat >> 32);
		e.e = (int32_t)(uint32_t)recs[i].lat;
		if (!tr_dsq_step(&st, &e, &s) || !emit(&o, &s))
			return 1;
		printf("%llu %s %llu depth %lld%s\n", (unsigned long long)s.ts,
		       s.dispatch ? "dispatch" : "insert", (unsigned long long)s.dsq_id,
		       (long long)s.depth, s.describe ? " new" : "");
	}
	(void)tr_out_flush(&o);
	close(fd);
	return o.err ? 1 : 0;
}
