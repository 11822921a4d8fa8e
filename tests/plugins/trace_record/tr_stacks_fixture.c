/* SPDX-License-Identifier: MIT */
/*
 * Writes a Perfetto trace of synthetic perf records through trace_record's
 * stack-sample encoder (tr_stacks.c) to argv[1], naming frames from the
 * fixture tree argv[2] (proc/kallsyms, proc/4242/maps as test_stacks_enc.py
 * writes them), in two drains so the second interned packet adds to the
 * first. test_stacks_enc.py knows the samples below and checks what protoc
 * and trace_analysis's decoder read back.
 *
 * With argv[3] "open": opens real events at 99 Hz on every CPU instead,
 * drains once and prints "sampling 0|1 why <text>" (the test runs it
 * without privilege: the events are refused and the reason is given).
 */
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_stacks.h"

#define KADDR(off) (0xffffffff81000000ull + (off))
#define UADDR(off) (0x7f0000000000ull + (off))
#define CTX_K ((uint64_t)PERF_CONTEXT_KERNEL)
#define CTX_U ((uint64_t)PERF_CONTEXT_USER)

static uint64_t ts = 1000000000ull;

static int sample(struct tr_stacks *s, uint32_t cpu, uint32_t pid, uint32_t tid,
		  const uint64_t *ips, uint64_t nr)
{
	uint8_t rec[512];
	struct perf_event_header h = { PERF_RECORD_SAMPLE, 0, 0 };
	size_t at = sizeof(h);
	uint32_t res = 0;

	memcpy(rec + at, &pid, 4), at += 4;
	memcpy(rec + at, &tid, 4), at += 4;
	memcpy(rec + at, &ts, 8), at += 8;
	memcpy(rec + at, &cpu, 4), at += 4;
	memcpy(rec + at, &res, 4), at += 4;
	memcpy(rec + at, &nr, 8), at += 8;
	memcpy(rec + at, ips, nr * 8), at += nr * 8;
	h.size = (uint16_t)at;
	memcpy(rec, &h, sizeof(h));
	ts += 1000000;
	return tr_stacks_inject(s, rec, at, cpu);
}

static int lost(struct tr_stacks *s, uint32_t cpu, uint64_t n)
{
	uint8_t rec[sizeof(struct perf_event_header) + 16];
	struct perf_event_header h = { PERF_RECORD_LOST, 0, sizeof(rec) };
	uint64_t id = 0;

	memcpy(rec, &h, sizeof(h));
	memcpy(rec + sizeof(h), &id, 8);
	memcpy(rec + sizeof(h) + 8, &n, 8);
	return tr_stacks_inject(s, rec, sizeof(rec), cpu);
}

int main(int argc, char **argv)
{
	static const uint64_t a[] = { CTX_K, KADDR(0x150), KADDR(0x10), CTX_U, UADDR(0x123),
				      UADDR(0x456) };
	static const uint64_t b[] = { CTX_U, UADDR(0x789), UADDR(0x456) };
	static const uint64_t c[] = { CTX_K, KADDR(0x150) };
	static const uint64_t d[] = { CTX_K, KADDR(0x110), KADDR(0x10) };
	uint8_t *chunk = malloc(1 << 20);
	struct tr_stacks_snap st;
	struct tr_stacks *s;
	struct tr_out o;
	int fd, err = 0;

	if (argc < 3 || !chunk)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || tr_stacks_open(&s, 2, 0, argv[2]))
		return 2;
	tr_out_init(&o, fd, chunk, 1 << 20, 0);
	if (argc > 3 && !strcmp(argv[3], "open")) {
		long n = sysconf(_SC_NPROCESSORS_CONF);
		struct tr_stacks *e;

		tr_stacks_free(s);
		if (tr_stacks_open(&e, n > 0 ? (uint32_t)n : 1, 99, "/"))
			return 2;
		usleep(50000);
		(void)tr_stacks_drain(e, &o, true);
		err = tr_out_flush(&o);
		tr_stacks_snap(e, &st);
		printf("sampling %d why %s\n", st.sampling, st.why);
		tr_stacks_free(e);
		close(fd);
		free(chunk);
		return err ? 1 : 0;
	}
	for (int i = 0; i < 30 && !err; i++)
		err = sample(s, 0, 4242, 4243, a, 6);
	for (int i = 0; i < 12 && !err; i++)
		err = sample(s, 1, 4242, 4244, b, 3);
	for (int i = 0; i < 5 && !err; i++)
		err = sample(s, 1, 0, 0, c, 2);
	err = err ?: lost(s, 1, 7);
	(void)tr_stacks_drain(s, &o, true);
	/* a second drain: new frames, names already interned */
	for (int i = 0; i < 3 && !err; i++)
		err = sample(s, 0, 4242, 4243, d, 3);
	(void)tr_stacks_drain(s, &o, true);
	err = err ?: tr_out_flush(&o);
	tr_stacks_snap(s, &st);
	printf("samples %llu lost %llu callstacks %llu frames %llu names %llu mappings %llu\n",
	       (unsigned long long)st.samples, (unsigned long long)st.lost_kernel,
	       (unsigned long long)st.callstacks, (unsigned long long)st.frames,
	       (unsigned long long)st.names, (unsigned long long)st.mappings);
	tr_stacks_free(s);
	close(fd);
	free(chunk);
	return err ? 1 : 0;
}
