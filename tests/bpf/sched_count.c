/* SPDX-License-Identifier: MIT */
/* Proves the BPF chain end to end on the running kernel: the skeleton loads,
 * attaches, counts context switches, and detaches leaving nothing behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "sched_count.skel.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(void)
{
	struct sched_count_bpf *skel;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	__u64 *vals, total = 0;
	__u32 zero = 0;
	int err;

	if (geteuid() != 0) {
		printf("SKIP: loading BPF needs root\n");
		return 77;
	}
	libbpf_set_print(quiet);
	skel = sched_count_bpf__open();
	if (!skel) {
		printf("SKIP: cannot open the BPF object: %s\n", strerror(errno));
		return 77;
	}
	/* try tp_btf first; fall back to raw_tp if the kernel refuses it */
	bpf_program__set_autoload(skel->progs.count_raw, false);
	err = sched_count_bpf__load(skel);
	if (err) {
		sched_count_bpf__destroy(skel);
		skel = sched_count_bpf__open();
		if (!skel)
			return 1;
		bpf_program__set_autoload(skel->progs.count_btf, false);
		err = sched_count_bpf__load(skel);
		if (err) {
			printf("SKIP: kernel refused both tp_btf and raw_tp: %s\n", strerror(-err));
			sched_count_bpf__destroy(skel);
			return 77;
		}
		printf("using raw_tp/sched_switch\n");
	} else {
		printf("using tp_btf/sched_switch\n");
	}
	err = sched_count_bpf__attach(skel);
	if (err) {
		printf("FAIL: attach: %s\n", strerror(-err));
		sched_count_bpf__destroy(skel);
		return 1;
	}
	for (int i = 0; i < 50; i++)
		usleep(1000); /* each sleep is at least two context switches */
	vals = calloc((size_t)ncpu, sizeof(*vals));
	err = vals ? bpf_map__lookup_elem(skel->maps.switches, &zero, sizeof(zero), vals,
					 sizeof(*vals) * (size_t)ncpu, 0)
		   : -ENOMEM;
	for (long c = 0; !err && c < ncpu; c++)
		total += vals[c];
	free(vals);
	sched_count_bpf__destroy(skel);
	if (err) {
		printf("FAIL: map lookup: %s\n", strerror(-err));
		return 1;
	}
	printf("%llu context switches counted during 50 sleeps\n", (unsigned long long)total);
	if (total < 100) {
		printf("FAIL: expected at least 100\n");
		return 1;
	}
	printf("1 passed, 0 failed\n");
	return 0;
}
