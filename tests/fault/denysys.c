/* SPDX-License-Identifier: MIT */
/*
 * denysys: run a program with some system calls failing, for fault
 * injection (a seccomp filter installed before exec, kept across it).
 *
 *   denysys RULE... -- PROGRAM [ARGS...]
 *   RULE: NAME=ERRNO        every call of NAME fails with ERRNO
 *         NAME:ARG0=ERRNO   only calls whose first argument is ARG0
 *   NAME: bpf, perf_event_open, mount, connect, openat, socket
 *   ERRNO: a number or EPERM, EACCES, ENOSYS, ENOMEM, EINVAL, ENODEV
 *
 * e.g. denysys bpf:28=EPERM bpf:17=EPERM -- schedmcp   (BPF programs load,
 * but attaching them fails: BPF_LINK_CREATE and BPF_RAW_TRACEPOINT_OPEN)
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RULES 16

static const struct {
	const char *name;
	long nr;
} calls[] = {
	{ "bpf", SYS_bpf },
	{ "perf_event_open", SYS_perf_event_open },
	{ "mount", SYS_mount },
	{ "connect", SYS_connect },
	{ "openat", SYS_openat },
	{ "socket", SYS_socket },
};

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EPERM", EPERM }, { "EACCES", EACCES }, { "ENOSYS", ENOSYS },
	{ "ENOMEM", ENOMEM }, { "EINVAL", EINVAL }, { "ENODEV", ENODEV },
};

struct rule {
	long nr;
	bool any_arg;
	unsigned long arg0;
	int err;
};

static int parse_rule(const char *s, struct rule *r)
{
	char name[64], *eq, *colon;
	size_t i;

	if (strlen(s) >= sizeof(name))
		return -1;
	strcpy(name, s);
	eq = strchr(name, '=');
	if (!eq)
		return -1;
	*eq++ = '\0';
	r->err = -1;
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(eq, errnos[i].name) == 0)
			r->err = errnos[i].value;
	if (r->err < 0)
		r->err = atoi(eq);
	if (r->err <= 0 || r->err > 4095)
		return -1;
	colon = strchr(name, ':');
	r->any_arg = !colon;
	if (colon) {
		*colon++ = '\0';
		r->arg0 = strtoul(colon, NULL, 0);
	}
	r->nr = -1;
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (strcmp(name, calls[i].name) == 0)
			r->nr = calls[i].nr;
	return r->nr < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sock_filter f[8 + MAX_RULES * 4];
	struct rule rules[MAX_RULES];
	struct sock_fprog prog;
	int n = 0, k = 0, i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (n == MAX_RULES || parse_rule(argv[i], &rules[n])) {
			fprintf(stderr, "denysys: bad rule '%s'\n", argv[i]);
			return 2;
		}
		n++;
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: denysys NAME[:ARG0]=ERRNO... -- PROGRAM [ARGS...]\n");
		return 2;
	}
	/* x86_64 only: anything else is let through untouched */
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (int r = 0; r < n; r++) {
		/* A = nr; if A != rule.nr skip; [A = arg0 (low 32 bits); if A != arg skip];
		 * return errno */
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, nr));
		if (rules[r].any_arg) {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							      (unsigned)rules[r].nr, 0, 1);
		} else {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							      (unsigned)rules[r].nr, 0, 3);
			f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							      offsetof(struct seccomp_data, args[0]));
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							      (unsigned)rules[r].arg0, 0, 1);
		}
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ERRNO | (unsigned)rules[r].err);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("denysys: seccomp");
		return 2;
	}
	execvp(argv[i + 1], argv + i + 1);
	perror("denysys: exec");
	return 127;
}
