/* SPDX-License-Identifier: MIT */
/*
 * Writes a Perfetto trace of synthetic records through trace_record's encoder
 * (tr_enc.c, tr_pb.c) to argv[1], with a chunk of argv[2] bytes and a size
 * cap of argv[3] bytes (0: none), and prints each record it wrote, one a line
 * ("cpu ts type pid a b c d e comm comm2"), for test_format.py to compare
 * with what protoc and a hand-written reader find in the file. The records
 * are chosen to reach the edges: more distinct comms than a bundle interns,
 * more records than a bundle holds, negative and 64-bit values, empty and
 * 16-byte comms, every event type.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_enc.h"

#define N 12000

static struct tr_event ev[N];
static const struct tr_event *ptr[N];
static struct tr_intern it;

int main(int argc, char **argv)
{
	size_t chunk_sz = argc > 2 ? strtoul(argv[2], NULL, 0) : 1 << 20;
	uint64_t cap = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	uint8_t *chunk = malloc(chunk_sz);
	struct tr_out o;
	int fd;

	if (argc < 2 || !chunk)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 2;
	for (int i = 0; i < N; i++) {
		struct tr_event *e = &ev[i];

		e->ts_ns = 5000000000ull + (uint64_t)i * 1000 + (i % 7) * 3;
		e->cpu = 3;
		e->type = (uint16_t)(1 + i % TR_CPU_IDLE); /* the ftrace kinds */
		if (i % 5 < 3) /* mostly the compact kinds */
			e->type = i % 2 ? TR_SWITCH : TR_WAKING;
		e->pid = 100 + i % 50;
		e->a = i % 3 == 0 ? 0x100 : i % 3 == 1 ? 1 : 0;
		e->b = i % 11 == 0 ? -1 : 1000 + i;
		e->c = i % 13 == 0 ? -100 : 120;
		e->d = i % 2;
		e->e = 1 - i % 2;
		/* 1500 distinct comms in the first half: past TR_INTERN_MAX */
		if (i % 97 == 0)
			memcpy(e->comm, "exactly16bytes!!", 16);
		else if (i % 89 == 0)
			e->comm[0] = 0;
		else
			snprintf(e->comm, sizeof(e->comm), "t%d", i < N / 2 ? i % 1500 : i % 40);
		snprintf(e->comm2, sizeof(e->comm2), "c%d", i % 9);
		snprintf(e->str, sizeof(e->str), "/usr/bin/prog-%d", i % 17);
	}
	for (int i = 0; i < N; i++)
		ptr[i] = &ev[i];
	tr_out_init(&o, fd, chunk, chunk_sz, cap);
	tr_enc_clocks(tr_out_packet_begin(&o), 5000000000ull, 4000000000ull, 1700000000000000000ull, 1);
	(void)tr_out_packet_end(&o);
	for (size_t i = 0; i < N;) {
		size_t used = 0;
		enum tr_out_result res = TR_OUT_DROPPED;

		for (int t = 0; t < 2; t++) {
			used = tr_enc_bundle(tr_out_packet_begin(&o), &it, 3, ptr + i, N - i, i == 0);
			res = tr_out_packet_end(&o);
			if (res != TR_OUT_RETRY)
				break;
		}
		if (res != TR_OUT_KEPT || !used)
			break;
		for (size_t k = i; k < i + used; k++) {
			const struct tr_event *e = &ev[k];

			printf("%u %llu %u %u %lld %d %d %d %d %.16s|%.16s|%.64s\n", e->cpu,
			       (unsigned long long)e->ts_ns, e->type, e->pid, (long long)e->a, e->b,
			       e->c, e->d, e->e, e->comm, e->comm2, e->str);
		}
		i += used;
	}
	(void)tr_out_flush(&o);
	fprintf(stderr, "written %llu bytes, %llu packets, %llu dropped at the cap\n",
		(unsigned long long)o.written, (unsigned long long)o.packets,
		(unsigned long long)o.packets_dropped_cap);
	close(fd);
	free(chunk);
	return o.err ? 1 : 0;
}
