/* SPDX-License-Identifier: MIT */
/*
 * Loads the bpf_inventory test programs and keeps them loaded until stdin
 * closes: a tp_btf (or raw_tp) sched_switch counter and a struct_ops map
 * with three ops programs. Prints one JSON line naming their ids, so the
 * test can look for them in the daemon's answers. Exit 77 without root.
 *
 * inv-fixture --many N loads instead N small socket filters, each with an
 * array map of its own, so that listing programs, maps and their owners
 * takes long enough to measure (test_stall.py).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "inv_cc.skel.h"
#include "inv_counter.skel.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static __u32 prog_id(const struct bpf_program *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) ? 0 : info.id;
}

static __u32 map_id(const struct bpf_map *m)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(bpf_map__fd(m), &info, &len) ? 0 : info.id;
}

static struct inv_counter_bpf *load_counter(const char **how)
{
	struct inv_counter_bpf *skel = inv_counter_bpf__open();

	if (!skel)
		return NULL;
	bpf_program__set_autoload(skel->progs.smcp_inv_switch_raw, false);
	*how = "tp_btf";
	if (inv_counter_bpf__load(skel)) {
		inv_counter_bpf__destroy(skel);
		skel = inv_counter_bpf__open();
		if (!skel)
			return NULL;
		bpf_program__set_autoload(skel->progs.smcp_inv_switch, false);
		*how = "raw_tp";
		if (inv_counter_bpf__load(skel)) {
			inv_counter_bpf__destroy(skel);
			return NULL;
		}
	}
	if (inv_counter_bpf__attach(skel)) {
		inv_counter_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* N socket filters, each reading its own one-element array map. */
static int load_many(int n)
{
	struct rlimit rl;
	__u32 first = 0, last = 0;

	/* two fds per program; the soft limit is often 1024 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < n; i++) {
		char name[16];
		int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, NULL);
		struct bpf_insn insns[] = {
			/* r1 = map (ld_imm64 with a map fd), r0 = 0, exit */
			{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
			  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
			{ 0 },
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd;

		if (map < 0) {
			printf("{\"skip\":\"creating map %d: %s\"}\n", i, strerror(-map));
			return 77;
		}
		snprintf(name, sizeof(name), "smcp_many_%d", i % 100000);
		fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, name, "GPL", insns,
				   sizeof(insns) / sizeof(insns[0]), NULL);
		if (fd < 0) {
			printf("{\"skip\":\"loading program %d: %s\"}\n", i, strerror(-fd));
			return 77;
		}
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
			first = first ? first : info.id;
			last = info.id;
		}
	}
	printf("{\"pid\":%d,\"many\":%d,\"first_id\":%u,\"last_id\":%u}\n", getpid(), n,
	       first, last);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct inv_counter_bpf *counter;
	struct inv_cc_bpf *cc = NULL;
	struct bpf_link *cc_link = NULL;
	const char *how = "";
	char cc_err[160] = "";
	char buf[64];

	if (geteuid() != 0) {
		printf("{\"skip\":\"loading BPF needs root\"}\n");
		return 77;
	}
	libbpf_set_print(quiet);
	if (argc == 3 && strcmp(argv[1], "--many") == 0) {
		int err = load_many(atoi(argv[2]));

		while (!err && fgets(buf, sizeof(buf), stdin))
			;
		return err; /* the kernel frees the programs with our fds */
	}
	counter = load_counter(&how);
	if (!counter) {
		printf("{\"skip\":\"kernel refused tp_btf and raw_tp: %s\"}\n", strerror(errno));
		return 77;
	}
	cc = inv_cc_bpf__open_and_load();
	if (!cc) {
		snprintf(cc_err, sizeof(cc_err), "struct_ops load: %s", strerror(errno));
	} else {
		cc_link = bpf_map__attach_struct_ops(cc->maps.smcp_test_cc);
		if (!cc_link || libbpf_get_error(cc_link)) {
			snprintf(cc_err, sizeof(cc_err), "struct_ops attach: %s", strerror(errno));
			cc_link = NULL;
		}
	}
	printf("{\"pid\":%d,\"counter\":{\"id\":%u,\"how\":\"%s\",\"name\":\"%s\",\"map_id\":%u}",
	       getpid(),
	       prog_id(strcmp(how, "tp_btf") == 0 ? counter->progs.smcp_inv_switch
						  : counter->progs.smcp_inv_switch_raw),
	       how, "smcp_inv_switch", /* names are cut at 15 characters */
	       map_id(counter->maps.smcp_switches));
	if (cc && cc_link)
		printf(",\"cc\":{\"map_id\":%u,\"ops\":{\"ssthresh\":%u,\"undo_cwnd\":%u,"
		       "\"cong_avoid\":%u}}",
		       map_id(cc->maps.smcp_test_cc), prog_id(cc->progs.smcp_ssthresh),
		       prog_id(cc->progs.smcp_undo_cwnd), prog_id(cc->progs.smcp_cong_avoid));
	else
		printf(",\"cc_error\":\"%s\"", cc_err);
	printf("}\n");
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin))
		;
	bpf_link__destroy(cc_link);
	inv_cc_bpf__destroy(cc);
	inv_counter_bpf__destroy(counter);
	return 0;
}
