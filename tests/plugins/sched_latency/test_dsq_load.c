/* SPDX-License-Identifier: MIT */
/*
 * The sched_ext object on this kernel (root): its maps and its sched_switch
 * program load and verify, and every kfunc hook whose target this kernel
 * has loads too; on a kernel without sched_ext the hooks are reported as
 * not applicable. It loads on its own and, as the plugin loads it, with
 * the main object's stream maps (sl_shared.bpf.h: cpu_stats, dsq_task,
 * events through bpf_map__reuse_fd). The scxlab suite attaches them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/types.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sched_latency.h"
#include "sched_latency.skel.h"
#include "sched_latency_dsq.skel.h"
#include "scx_dsq_hooks.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static bool btf_has(void *ctx, const char *kfunc)
{
	return btf__find_by_name_kind(ctx, kfunc, BTF_KIND_FUNC) >= 0;
}

/* Load the DSQ object with the hooks chosen for this kernel; with main_obj,
 * its shared maps are main's. 0 or -errno; *hooked: kfunc programs loaded. */
static int load_dsq(const bool chosen[SCX_DSQ_NHOOKS], struct bpf_object *main_obj, int *hooked)
{
	static const char *const shared[] = { "cpu_stats", "dsq_task", "events" };
	struct sched_latency_dsq_bpf *s = sched_latency_dsq_bpf__open();
	struct bpf_program *prog;
	int err = 0;

	*hooked = 0;
	if (!s)
		return -errno;
	/* program order in the object matches the hook table */
	bpf_object__for_each_program(prog, s->obj) {
		const char *sec = bpf_program__section_name(prog);

		bpf_program__set_autoload(prog, false);
		for (int i = 0; i < SCX_DSQ_NHOOKS; i++) {
			const char *k = scx_dsq_hooks[i].kfunc, *tail = strrchr(sec, '/');

			if (chosen[i] && scx_dsq_hooks[i].group != SCX_DSQ_DEPTH && tail &&
			    strcmp(tail + 1, k) == 0) {
				bpf_program__set_autoload(prog, true);
				(*hooked)++;
			}
		}
	}
	bpf_program__set_autoload(s->progs.sl_dsq_switch, true);
	for (size_t i = 0; main_obj && i < sizeof(shared) / sizeof(shared[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(main_obj, shared[i]);
		struct bpf_map *d = bpf_object__find_map_by_name(s->obj, shared[i]);

		if (!m || !d) {
			printf("FAIL: map %s missing from an object\n", shared[i]);
			err = -ENOENT;
			goto out;
		}
		err = bpf_map__reuse_fd(d, bpf_map__fd(m));
		if (err)
			goto out;
	}
	err = sched_latency_dsq_bpf__load(s);
out:
	sched_latency_dsq_bpf__destroy(s);
	return err;
}

int main(void)
{
	bool present[SCX_DSQ_NHOOKS], chosen[SCX_DSQ_NHOOKS], scx;
	struct sched_latency_bpf *m;
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
	scx = scx_dsq_choose(btf_has, btf, present, chosen);
	btf__free(btf);
	err = load_dsq(chosen, NULL, &hooked);
	if (err) {
		printf("FAIL: the DSQ object does not load here: %s\n", strerror(-err));
		return 1;
	}
	printf("sched_ext %s; the DSQ maps, the switch program and %d kfunc hooks load\n",
	       scx ? "present" : "absent (kfunc hooks not applicable here)", hooked);

	/* the main object's maps only: its programs are the live tests' business */
	m = sched_latency_bpf__open();
	if (!m) {
		printf("FAIL: open the main object: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, m->obj)
		bpf_program__set_autoload(prog, false);
	err = sched_latency_bpf__load(m);
	if (!err)
		err = load_dsq(chosen, m->obj, &hooked);
	sched_latency_bpf__destroy(m);
	if (err) {
		printf("FAIL: the DSQ object does not load with the main object's stream maps: %s\n",
		       strerror(-err));
		return 1;
	}
	printf("... and with the main object's cpu_stats, dsq_task and events maps\n");
	printf("2 passed, 0 failed\n");
	return 0;
}
