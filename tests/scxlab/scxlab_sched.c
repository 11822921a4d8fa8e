/* SPDX-License-Identifier: MIT */
/*
 * scxlab-sched: load one of the lab's test schedulers (fifo, vtime, pcpu),
 * keep it attached until SIGTERM/SIGINT (or until the kernel ejects it),
 * then detach and print what it counted and why it stopped. SIGUSR1 prints
 * what it counted so far (the truth the lab prints beside the daemon's).
 *
 * Built by scxlab.sh at lab run time, because the BPF side needs the guest
 * kernel's sched_ext types. libbpf 1.1 quirks (see MACHINE.md): ops.init
 * is marked sleepable here before load, and the struct_ops map is attached
 * with bpf_map__attach_struct_ops.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "scxlab.h"

#include "scx_fifo.skel.h"
#include "scx_pcpu.skel.h"
#include "scx_vtime.skel.h"

static volatile sig_atomic_t stop, report;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = sig;
}

static int print_warn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level <= LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Everything below is the same for the three skeletons. */
struct lab {
	const char *name;
	struct bpf_object *obj;
	struct bpf_map *ops;
	struct bpf_program *init;
	struct scxlab_exit *exit;
	struct scxlab_counts *counts;
	const char *const *dsq_names;
	int ndsq;
};

static void print_counts(const struct lab *l, const char *when)
{
	for (int i = 0; i < l->ndsq; i++)
		printf("scxlab-sched: %s counted %s, dsq %s: inserted %llu, moved to local %llu\n",
		       l->name, when, l->dsq_names[i], (unsigned long long)l->counts->inserted[i],
		       (unsigned long long)l->counts->moved[i]);
	fflush(stdout);
}

static int run(struct lab *l, int (*load)(void *), void *skel)
{
	struct bpf_link *link;
	double t0 = now_s(), t_load;
	int err;

	err = bpf_program__set_flags(l->init, bpf_program__flags(l->init) | BPF_F_SLEEPABLE);
	if (!err)
		err = load(skel);
	if (err) {
		fprintf(stderr, "scxlab-sched: %s: load failed: %s\n", l->name, strerror(-err));
		return 1;
	}
	t_load = now_s() - t0;
	link = bpf_map__attach_struct_ops(l->ops);
	if (!link) {
		err = -errno;
		fprintf(stderr, "scxlab-sched: %s: attach failed: %s\n", l->name, strerror(-err));
		return 1;
	}
	printf("scxlab-sched: %s loaded (verified) in %.2f s, attached (enabled) after %.2f s\n",
	       l->name, t_load, now_s() - t0);
	fflush(stdout);
	while (!stop && !l->exit->kind) {
		usleep(50 * 1000);
		if (report) { /* SIGUSR1: what it counted so far */
			report = 0;
			print_counts(l, "so far");
		}
	}
	bpf_link__destroy(link);
	for (int i = 0; i < 20 && !l->exit->kind; i++)
		usleep(10 * 1000); /* ops.exit runs during the detach */
	printf("scxlab-sched: %s detached (%s) after %.2f s: exit kind %lld, reason \"%s\"%s%s%s\n",
	       l->name, stop ? "signal" : "kernel ejected it", now_s() - t0,
	       (long long)l->exit->kind, l->exit->reason, l->exit->msg[0] ? ", message \"" : "",
	       l->exit->msg, l->exit->msg[0] ? "\"" : "");
	print_counts(l, "in all");
	/* detached by the kernel on its own (error, stall): a failure */
	return stop ? 0 : 2;
}

static int load_fifo(void *s)
{
	return scx_fifo_bpf__load(s);
}

static int load_vtime(void *s)
{
	return scx_vtime_bpf__load(s);
}

static int load_pcpu(void *s)
{
	return scx_pcpu_bpf__load(s);
}

int main(int argc, char **argv)
{
	static const char *const fifo_dsqs[] = { "1000" };
	static const char *const vtime_dsqs[] = { "2000 (wake)", "2001 (batch)" };
	static const char *const pcpu_dsqs[] = { "3000 (cpu0)", "3001 (cpu1)", "3002 (cpu2)",
						 "3003+ (cpu3+)" };
	struct sigaction sa = { .sa_handler = on_signal };
	struct lab l = { 0 };
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: scxlab-sched fifo|vtime|pcpu\n");
		return 64;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	libbpf_set_print(print_warn);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "fifo") == 0) {
		struct scx_fifo_bpf *s = scx_fifo_bpf__open();

		if (!s)
			goto open_fail;
		l = (struct lab){ "scxlab_fifo", s->obj, s->maps.fifo_ops, s->progs.fifo_init,
				  &s->bss->scxlab_exit, &s->bss->scxlab_counts, fifo_dsqs, 1 };
		rc = run(&l, load_fifo, s);
		scx_fifo_bpf__destroy(s);
	} else if (strcmp(argv[1], "vtime") == 0) {
		struct scx_vtime_bpf *s = scx_vtime_bpf__open();

		if (!s)
			goto open_fail;
		l = (struct lab){ "scxlab_vtime", s->obj, s->maps.vtime_ops, s->progs.vtime_init,
				  &s->bss->scxlab_exit, &s->bss->scxlab_counts, vtime_dsqs, 2 };
		rc = run(&l, load_vtime, s);
		scx_vtime_bpf__destroy(s);
	} else if (strcmp(argv[1], "pcpu") == 0) {
		struct scx_pcpu_bpf *s = scx_pcpu_bpf__open();
		long n = sysconf(_SC_NPROCESSORS_CONF);

		if (!s)
			goto open_fail;
		l = (struct lab){ "scxlab_pcpu", s->obj, s->maps.pcpu_ops, s->progs.pcpu_init,
				  &s->bss->scxlab_exit, &s->bss->scxlab_counts, pcpu_dsqs,
				  n < 4 ? (int)n : 4 };
		rc = run(&l, load_pcpu, s);
		scx_pcpu_bpf__destroy(s);
	} else {
		fprintf(stderr, "scxlab-sched: unknown scheduler '%s' (fifo, vtime, pcpu)\n", argv[1]);
		return 64;
	}
	return rc;
open_fail:
	fprintf(stderr, "scxlab-sched: opening the %s BPF object failed: %s\n", argv[1],
		strerror(errno));
	return 1;
}
