/* SPDX-License-Identifier: MIT */
/* What the scheduler plugin reads: sched_ext state, the kernel release and
 * the fair class's tunables. Private to the plugin. */
#ifndef SMCP_SCHED_READ_H
#define SMCP_SCHED_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCX_MAX_EVENTS 48
#define FAIR_MAX_TUNABLES 40

struct scx_state {
	bool supported;   /* /sys/kernel/sched_ext exists */
	char state[16];   /* "enabled", "disabled", ...; "" unreadable */
	bool have_ops;    /* root/ops exists: a BPF scheduler is attached */
	char ops[128];
	int switch_all;   /* 0/1, -1 absent */
	int64_t enable_seq, nr_rejected, hotplug_seq; /* -1 absent */
	int n_events;     /* root/events lines; -1 when the file is absent */
	struct {
		char name[64];
		uint64_t value;
	} events[SCX_MAX_EVENTS];
};

struct kernel_release {
	char text[128]; /* "" unreadable */
	int major, minor; /* -1 unknown */
};

struct fair_tunable {
	char name[64];  /* file name, or "<name>_ms" from sched/debug */
	char value[96];
	const char *source; /* "procfs", "debugfs", "sched/debug" */
};

struct fair_state {
	struct fair_tunable t[FAIR_MAX_TUNABLES];
	int n;
	char preempt[64];   /* debugfs sched/preempt, "" unknown */
	char features[1024]; /* debugfs sched/features, "" unknown */
	const char *debugfs_reason; /* why debugfs tunables are missing, or NULL */
};

/* sched_ext sysfs state. "full": also events and counters (the 1 s poll
 * reads only state, ops and enable_seq to stay cheap). */
void sched_read_scx(const char *root, bool full, struct scx_state *ret);

/* True when the scheduler the user would name has changed. */
bool sched_read_scx_changed(const struct scx_state *a, const struct scx_state *b);

void sched_read_kernel_release(const char *root, struct kernel_release *ret);

/* EEVDF from 6.6, CFS before; NULL when the release is unknown. */
const char *sched_read_fair_class_name(const struct kernel_release *k);

/* debug: the debugfs sched directory (sched_read_debug_dir()). */
void sched_read_fair(const char *root, const char *debug, struct fair_state *ret);

/*
 * The sched_ext debug dump (/sys/kernel/debug/sched/ext, present only on
 * kernels that carried the early out-of-tree interface). Returns a
 * malloc'd text (caller frees) cut at max bytes, or NULL with *reason set
 * to a sentence a user can act on. *truncated says whether it was cut.
 */
char *sched_read_scx_debug_dump(const char *root, const char *debug, bool scx_supported, size_t max,
				bool *truncated, const char **reason);

/*
 * The debugfs sched directory as a path prefix into ret (len bytes): it is
 * opened now and named through /proc/self/fd, so that once the daemon has
 * left root for its own account it still reads what sits below debugfs's
 * root-only top directory, with no capability. Returns the fd to close at
 * the end, or -1 when it could not be opened (ret then names the path
 * under root, and reads say why they fail).
 */
int sched_read_debug_dir(const char *root, char *ret, size_t len);

/*
 * The kernel log as sched_ext writes into it when a BPF scheduler exits:
 * 'sched_ext: BPF scheduler "NAME" disabled (REASON)', then for errors
 * 'sched_ext: NAME: MESSAGE'. open gives an fd on root's /dev/kmsg
 * positioned at its end (-errno when it cannot be opened: kmsg needs
 * CAP_SYSLOG or dmesg_restrict 0, so it is opened in init). reason reads
 * every record since the last call and keeps the newest exit as
 * "REASON" or "REASON: MESSAGE" in buf; returns 1 when one was found, 0
 * when none, -errno on a read error. Reads records (/dev/kmsg) and plain
 * lines (a fixture file) alike.
 */
int sched_read_kmsg_open(const char *root);
int sched_read_kmsg_reason(int fd, char *buf, size_t len);

#endif
