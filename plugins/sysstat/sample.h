/* SPDX-License-Identifier: MIT */
/*
 * Samples of /proc counters, one per history step of the core. Counters
 * stay cumulative as the kernel reports them; nothing is reset. Only three
 * samples are kept: the first (the base of "since start"), the previous
 * and the newest (the per-step percentages the metrics publish); windows
 * of the last 1 s, 10 s and 60 s are the core's history (stat_metrics.c).
 */
#ifndef SMCP_SYSSTAT_SAMPLE_H
#define SMCP_SYSSTAT_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_IFACES 128
#define IFACE_NAME_LEN 16
#define MAX_CPU_SLOTS 8192

enum cpu_field {
	CPU_USER, CPU_NICE, CPU_SYSTEM, CPU_IDLE, CPU_IOWAIT, CPU_IRQ, CPU_SOFTIRQ, CPU_STEAL,
	CPU_NR_FIELDS,
};

/* CPU and memory pressure; io pressure is not reported, so not read */
enum psi_res { PSI_CPU, PSI_MEMORY, PSI_NR };
enum psi_kind { PSI_SOME, PSI_FULL };

enum net_field {
	NET_RX_BYTES, NET_RX_PACKETS, NET_RX_ERRS, NET_RX_DROP,
	NET_TX_BYTES, NET_TX_PACKETS, NET_TX_ERRS, NET_TX_DROP,
	NET_NR_FIELDS,
};

enum vm_field { VM_PGFAULT, VM_PGMAJFAULT, VM_PSWPIN, VM_PSWPOUT, VM_NR_FIELDS };

struct cpu_times {
	uint64_t v[CPU_NR_FIELDS]; /* USER_HZ ticks, guest time included in user/nice */
};

struct sample {
	uint64_t t_ns; /* host monotonic clock; 0: empty slot */
	bool have_stat;
	struct cpu_times total;
	struct cpu_times *cpu; /* cpu_slots entries */
	uint8_t *cpu_seen;     /* cpu line present in /proc/stat */
	uint64_t ctxt, forks;
	uint32_t procs_running, procs_blocked;
	bool psi_have[PSI_NR][2];
	uint64_t psi_us[PSI_NR][2]; /* total stall time, microseconds */
	bool have_vm;
	uint64_t vm[VM_NR_FIELDS];
	uint64_t (*net)[NET_NR_FIELDS]; /* MAX_IFACES entries, by sampler iface slot */
	uint8_t *net_seen;
};

enum mem_field {
	MEM_TOTAL, MEM_FREE, MEM_AVAILABLE, MEM_BUFFERS, MEM_CACHED, MEM_SWAP_TOTAL,
	MEM_SWAP_FREE, MEM_DIRTY, MEM_WRITEBACK, MEM_ANON, MEM_SHMEM, MEM_SLAB,
	MEM_SRECLAIMABLE, MEM_COMMITTED, MEM_HUGE_TOTAL, MEM_HUGE_FREE, MEM_NR_FIELDS,
};

/* Gauges kept from the newest sample only. */
struct latest {
	bool have_loadavg;
	double load[3];
	uint32_t runnable, threads;
	bool psi_avg_have[PSI_NR][2];
	double psi_avg[PSI_NR][2][3]; /* avg10, avg60, avg300 */
	bool have_meminfo;
	int64_t mem_kb[MEM_NR_FIELDS]; /* kB (huge pages: a count); -1 absent */
};

struct sampler {
	const char *root;
	int cpu_slots; /* per-CPU arrays are this long */
	int cpus_dropped; /* cpu lines beyond cpu_slots, last sample */
	char ifname[MAX_IFACES][IFACE_NAME_LEN];
	int n_ifaces;
	int ifaces_dropped; /* interfaces seen beyond MAX_IFACES, last sample */
	struct sample first;	     /* the first sample, for "since start" */
	struct sample bufs[2];	     /* what prev and newest point into */
	struct sample *prev, *newest; /* NULL until two (one) samples were taken */
	struct latest latest;
	char *buf;         /* read buffer, grown as /proc/stat needs */
	size_t buf_len;
	const char *stat_error; /* why the last /proc/stat read failed, or NULL */
};

/* 0 or -ENOMEM. root is borrowed for the sampler's life. */
int sample_init(struct sampler *s, const char *root);
void sample_fini(struct sampler *s);

/* Take the newest sample at time now_ns (the newest before it becomes the
 * previous). 0 or -errno (-ENOENT when /proc/stat is unreadable; the
 * sample then holds whatever else was read). */
int sample_take(struct sampler *s, uint64_t now_ns);

#endif
