/* SPDX-License-Identifier: MIT */
/*
 * cgroupfs, read for one cgroup's CPU story: which layout carries the cpu
 * controller on this host (found at run time from the mount table), a
 * sample of a cgroup's CPU files, the difference of two samples, and the
 * judgement of which of three causes makes it wait:
 *
 *   throttled       its own quota (cpu.max, cfs_quota_us) stops it;
 *   contention      it waits for a CPU while the machine has room, or far
 *                   longer than the machine's average task, or its tasks
 *                   fill every CPU they may run on (affinity, cpuset): its
 *                   neighbours (its own tasks, or other cgroups on its
 *                   CPUs) hold it;
 *   machine_short   there is no idle CPU left and everybody waits.
 *
 * The files are hostile (a cgroup is named by whoever created it): paths
 * are checked (absolute, no "." or ".." or empty components, bounded),
 * files are opened below the hierarchy's root without following a symlink
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, O_NOFOLLOW where openat2
 * is missing), must be regular files, and are read to a bound.
 *
 * Pure code but for the file reads: unit-tested on fixture trees
 * (tests/plugins/sched_latency/fixtures/cg-*, test_cgfs.c).
 */
#ifndef SL_CGFS_H
#define SL_CGFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_CGFS_PATH_MAX 512
#define SL_CGFS_MNT_MAX 256

enum sl_cg_layout {
	SL_CGL_NONE,   /* no cpu controller mounted */
	SL_CGL_V2,     /* unified hierarchy with the cpu controller */
	SL_CGL_V1,     /* cpu controller in a v1 hierarchy, no cgroup2 mount */
	SL_CGL_HYBRID, /* v1 cpu hierarchy beside a cgroup2 mount without cpu */
};

struct sl_cgfs {
	enum sl_cg_layout layout;
	char fs_root[256];           /* prefix of every path ("" on a live host) */
	char cpu_root[SL_CGFS_MNT_MAX]; /* mount of the cpu hierarchy */
	char acct_root[SL_CGFS_MNT_MAX]; /* v1: mount of cpuacct ("" none) */
	char v2_root[SL_CGFS_MNT_MAX];  /* the cgroup2 mount, whichever layout ("" none) */
	char reason[256];            /* SL_CGL_NONE: why */
};

/* "v2", "v1", "hybrid" or "none". */
const char *sl_cgfs_layout_name(enum sl_cg_layout l);

/* Read fs_root/proc/self/mounts and decide. 0 (also for SL_CGL_NONE, with
 * the reason set), or -errno when the mount table cannot be read. */
int sl_cgfs_detect(const char *fs_root, struct sl_cgfs *fs);

/* Whether path is a cgroup path this reader accepts: "/" or "/a/b" with
 * no empty, "." or ".." component, no control characters, shorter than
 * SL_CGFS_PATH_MAX. */
bool sl_cgfs_path_ok(const char *path);

/* The cgroup (in the cpu hierarchy) of process pid, from /proc/PID/cgroup,
 * into buf. 0, -ENOENT (no such process, or no line for the cpu
 * hierarchy), -EINVAL (a path this reader refuses) or -errno. */
int sl_cgfs_pid_path(const struct sl_cgfs *fs, int pid, char *buf, size_t len);

/* Read file (a name, no '/') of the cgroup at path into buf (NUL-ended,
 * at most len - 1 bytes), from the cpu hierarchy or, with acct, the v1
 * cpuacct one. Returns the length, -EINVAL for a refused path, -ENOENT,
 * -ELOOP or -EXDEV (a symlink on the way), -EPERM (not a regular file),
 * or -errno. */
int sl_cgfs_read(const struct sl_cgfs *fs, bool acct, const char *path, const char *file,
		 char *buf, size_t len);

/* What one sample holds; has_* says which files answered. */
struct sl_cg_sample {
	uint64_t t_ns;
	bool exists;
	bool has_usage, has_throttle, has_limit, has_weight, has_psi;
	uint64_t usage_us;      /* v2 usage_usec; v1 cpuacct.usage / 1000 */
	uint64_t nr_periods, nr_throttled;
	uint64_t throttled_us;  /* v2 throttled_usec; v1 throttled_time / 1000 */
	int64_t quota_us;       /* -1: no limit */
	uint64_t period_us;
	uint64_t weight;        /* v2 cpu.weight (1-10000); v1 cpu.shares */
	uint64_t psi_some_us, psi_full_us; /* cpu.pressure totals */
	double psi_some_avg10, psi_full_avg10;
	uint32_t nr_procs;      /* lines of cgroup.procs, up to a bound */
};

/* Sample the cgroup at path at time t_ns. 0 with exists false when the
 * directory is not there; -EINVAL for a refused path. */
int sl_cgfs_sample(const struct sl_cgfs *fs, const char *path, uint64_t t_ns,
		   struct sl_cg_sample *s);

/* Whether the cgroup at path has a CPU quota (cpu.max not "max", or
 * cpu.cfs_quota_us > 0): one file read. */
bool sl_cgfs_has_quota(const struct sl_cgfs *fs, const char *path);

/* Only cpu.stat and the quota (the throttling watcher, every 2 s): exists
 * says whether either answered. 0 or -EINVAL. */
int sl_cgfs_sample_throttle(const struct sl_cgfs *fs, const char *path, uint64_t t_ns,
			    struct sl_cg_sample *s);

/* Pids of the cgroup (cgroup.procs, processes), at most max of them.
 * Returns the count or -errno. */
int sl_cgfs_procs(const struct sl_cgfs *fs, const char *path, int *pids, int max);

/* Names of the child cgroups of path (each < 256 bytes), up to max.
 * The count, -EINVAL for a refused path, or -errno. */
int sl_cgfs_children(const struct sl_cgfs *fs, const char *path, char (*names)[256], int max);

/* Visit the cgroups below the cpu hierarchy's root depth first (root
 * excluded), at most max_dirs of them and max_depth levels, following no
 * symlink: cb(ctx, path, name) for each; cb returning true stops the walk.
 * Returns the number visited, -E2BIG when max_dirs was reached, or -errno. */
int sl_cgfs_walk(const struct sl_cgfs *fs, unsigned max_dirs, unsigned max_depth,
		 bool (*cb)(void *ctx, const char *path, const char *name), void *ctx);

/* How many CPUs the processes pids may run on together (the union of
 * their Cpus_allowed_list in /proc/PID/status), looking at the first max
 * of them; ncpus bounds the ids. 0 when none could be read. */
int sl_cgfs_allowed_cpus(const struct sl_cgfs *fs, const int *pids, int n, int max, int ncpus);

/* Machine-wide CPU: idle and total jiffies (/proc/stat "cpu" line) and the
 * PSI some total (/proc/pressure/cpu, has_psi false without it). */
struct sl_cg_machine {
	uint64_t idle, total;
	bool has_psi;
	uint64_t psi_some_us;
	double psi_some_avg10;
};
int sl_cgfs_machine(const struct sl_cgfs *fs, struct sl_cg_machine *m);

/* Two samples of one cgroup (and of the machine) made into rates. */
struct sl_cg_delta {
	double span_s;
	bool has_usage, has_throttle, has_limit, has_psi;
	double cpus_used;       /* CPUs' worth of time it ran */
	double machine_pct;     /* of all CPUs */
	double limit_cpus;      /* quota / period; 0: none */
	double limit_used_pct;  /* cpus_used of limit_cpus */
	uint64_t d_periods, d_throttled;
	double throttled_periods_pct;
	double throttled_ms;
	double psi_some_pct, psi_full_pct; /* of the window (cgroup) */
	double machine_idle_pct, machine_psi_some_pct; /* machine; -1 unknown */
};
void sl_cgfs_delta(const struct sl_cg_sample *a, const struct sl_cg_sample *b,
		   const struct sl_cg_machine *ma, const struct sl_cg_machine *mb, int ncpus,
		   struct sl_cg_delta *d);

enum sl_cg_cause { SL_CG_CAUSE_NONE, SL_CG_THROTTLED, SL_CG_CONTENTION, SL_CG_MACHINE_SHORT,
		   SL_CG_NCAUSES };
extern const char *const sl_cg_cause_names[SL_CG_NCAUSES];

/* The wait of the cgroup's members and of the machine over the window,
 * from the BPF series; waits 0 or the mean < 0: unknown. */
struct sl_cg_wait {
	uint64_t waits;
	double mean_us, p99_us;
	uint64_t m_waits; /* machine */
	double m_mean_us, m_p99_us;
	int allowed_cpus, ncpus; /* CPUs its tasks may use, of all; 0 unknown */
};

#define SL_CG_THROTTLED_PCT 5.0   /* of periods throttled: its quota binds */
#define SL_CG_WAIT_P99_US 1000.0  /* run-queue p99 worth calling a wait */
#define SL_CG_WAIT_MEAN_US 200.0  /* or a mean wait this long */
#define SL_CG_IDLE_PCT 10.0       /* machine idle below this: short of CPU */
#define SL_CG_PSI_PCT 20.0        /* and its CPU pressure above this */
#define SL_CG_OVER_MACHINE 2.0    /* its mean wait this many times the machine's */
#define SL_CG_FILLS_PCT 90.0      /* it uses this much of the CPUs it may run on */

/* Which causes hold (bit 1 << cause) and the main one. */
struct sl_cg_judgement {
	unsigned causes;
	enum sl_cg_cause main;
	bool waits_known;
	bool waits_high;
	bool fills_own_cpus; /* its tasks keep busy every CPU they may use, fewer than all */
};
/* Throttling worth a notable event over one step: nr_throttled rose by at
 * least SL_CG_NOTE_MIN periods and SL_CG_NOTE_PCT % of the periods. */
#define SL_CG_NOTE_MIN 3
#define SL_CG_NOTE_PCT 10.0
bool sl_cg_throttle_notable(uint64_t d_periods, uint64_t d_throttled);

void sl_cg_judge(const struct sl_cg_delta *d, const struct sl_cg_wait *w,
		 struct sl_cg_judgement *out);

#endif
