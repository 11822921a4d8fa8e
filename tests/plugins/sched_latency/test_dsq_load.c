/* SPDX-License-Identifier: MIT */
/*
 * The sched_ext object on this kernel (root): its maps and its sched_switch
 * program load and verify, and every kfunc hook whose target this kernel
 * has loads too; on a kernel without sched_ext the hooks are reported as
 * not applicable. The VM test with a real sched_ext kernel attaches them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/types.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sched_latency.h"
#include "sched_latency_dsq.skel.h"
#include "sl_dsq_hooks.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static bool btf_has(void *ctx, const char *kfunc)
{
	return btf__find_by_name_kind(ctx, kfunc, BTF_KIND_FUNC) >= 0;
}

int main(void)
{
	bool present[SL_DSQ_NHOOKS], chosen[SL_DSQ_NHOOKS], scx;
	struct sched_latency_dsq_bpf *s;
	struct bpf_program *prog;
	struct btf *btf;
	int err, hooked = 0;

	if (geteuid() != 0) {
		printf("SKIP: loading BPF needs root\n");
		return 77;
	}
	libbpf_set_print(quiet);
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		printf("SKIP: no kernel BTF\n");
		return 77;
	}
	scx = sl_dsq_choose(btf_has, btf, present, chosen);
	btf__free(btf);
	s = sched_latency_dsq_bpf__open();
	if (!s) {
		printf("FAIL: open: %s\n", strerror(errno));
		return 1;
	}
	/* program order in the object matches the hook table */
	bpf_object__for_each_program(prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		bpf_program__set_autoload(prog, false);
		for (int i = 0; i < SL_DSQ_NHOOKS; i++) {
			const char *k = sl_dsq_hooks[i].kfunc, *tail = strrchr(sec, '/');

			if (chosen[i] && sl_dsq_hooks[i].group != SL_DSQ_DEPTH && tail &&
			    strcmp(tail + 1, k) == 0) {
				bpf_program__set_autoload(prog, true);
				hooked++;
			}
		}
	}
	bpf_program__set_autoload(s->progs.sl_dsq_switch, true);
	err = sched_latency_dsq_bpf__load(s);
	sched_latency_dsq_bpf__destroy(s);
	if (err) {
		printf("FAIL: the DSQ object does not load here: %s\n", strerror(-err));
		return 1;
	}
	printf("sched_ext %s; the DSQ maps, the switch program and %d kfunc hooks load\n",
	       scx ? "present" : "absent (kfunc hooks not applicable here)", hooked);
	printf("1 passed, 0 failed\n");
	return 0;
}
