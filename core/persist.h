/* SPDX-License-Identifier: MIT */
/*
 * Metric history and watch definitions kept across restarts, in one file of
 * a state directory ([core] state_dir, default /var/lib/schedmcp).
 *
 * Start-up, in this order (core/main.c):
 *   persist_open()     as root, before privs_drop(): create or check the
 *                      directory, hold it open, lock it against a second
 *                      daemon;
 *   persist_restore()  after every plugin's init() (their metrics exist),
 *                      after privs_drop() (the file is parsed as the account
 *                      that wrote it) and before the first tick: continue
 *                      the saved timeline, bring back the series whose
 *                      metrics are still registered the same way, recreate
 *                      the watches; then save every persist_interval_s;
 *   persist_save_final() once the loop has ended (SIGTERM, stdin closed);
 *   persist_close().
 *
 * Saving forks: the child writes a snapshot of its copy of the store (the
 * daemon is single-threaded, so the copy is consistent and fork is safe)
 * while the loop goes on; the parent reaps it from a timer and logs what
 * went wrong. Writing is crash-safe: a temporary file, fsync, renameat,
 * fsync of the directory. A file that cannot be read as written (corrupt,
 * truncated, unknown version, another history geometry, too large) is
 * renamed aside (state.v1.corrupt-<unix s>, state.v1.geometry-<unix s>; the
 * newest PERSIST_KEEP_ASIDE are kept) with a log line, and start-up goes on.
 * docs/metrics.md ("Persistence") has the file format and the bounds.
 */
#ifndef SMCP_PERSIST_H
#define SMCP_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define PERSIST_FILE "state.v1"
#define PERSIST_KEEP_ASIDE 3

/* Read [core] state_dir, persist_interval_s and state_max_mb (declared in
 * keys, the core's key table) from the validated [core] section. */
void persist_configure(const struct config_section *core, const struct smcp_config_key *keys);
/* The configured state directory (the default when none was named), and
 * in *ret_explicit whether the config or --state-dir named one (core/main.c
 * keeps state only then, for now). */
const char *persist_configured_dir(bool *ret_explicit);

/*
 * Open (creating it 0750, owned by the account privs_drop() will switch
 * to, when missing) the state directory dir, an absolute path whose parent
 * is trusted (safeopen.h); check that it is owned by root or that account
 * and not writable by group or others; hold it open and take a write lock
 * on its lock file. user: [core] user, the account the daemon runs as
 * after start-up (NULL, "" or root: uid 0 stays). Returns 0, or -errno
 * with the reason in why: -EBUSY "state dir DIR in use by pid N", -EPERM
 * (ownership, permissions), -ENOENT, -ENOTDIR... The daemon then runs
 * without persistence.
 */
int persist_open(const char *dir, const char *user, char *why, size_t len);
/* Restore what the state file holds (if anything) into the store and the
 * watches, log what came back and what was left out and why, and start
 * saving every persist_interval_s. 0 (also when nothing was restored), or
 * -errno when persistence could not start (it is then off). */
int persist_restore(void);
/* Save now, in the background (what the timer does): 0 when a writer was
 * started, -EBUSY while one runs, -errno. */
int persist_save(void);
/* Save at shutdown and wait for it: a writer in progress is stopped, a
 * new one writes the store as it is now and is given at most
 * PERSIST_FINAL_TIMEOUT_MS. 0, -ETIMEDOUT, -errno (logged). */
#define PERSIST_FINAL_TIMEOUT_MS 10000
int persist_save_final(void);
/* Stop saving, release the lock and the directory. Safe to call twice. */
void persist_close(void);
bool persist_active(void);

/* ---------------------------------------------- for tests and the bench */

struct persist_stats {
	/* saving */
	uint64_t file_bytes, raw_bytes;
	uint32_t series_saved, watches_saved;
	uint32_t fine_cut; /* series whose fine tier did not fit state_max_mb */
	uint32_t series_cut; /* series left out entirely for state_max_mb */
	uint64_t write_ns;   /* building, compressing, writing, syncing */
	/* restoring */
	bool history_restored;
	uint32_t series_restored, watches_restored;
	uint32_t series_gone;	 /* metric no longer registered, or changed */
	uint32_t series_limits;	 /* over top-N, the series limit or the budget */
	uint32_t watches_failed; /* metric gone, or no longer valid */
	uint64_t gap_steps;	 /* steps between the saved newest and now */
	uint64_t read_ns, restore_ns;
	char why[256]; /* what was set aside or not restored, and why */
};

/* Write the snapshot from this process (what the forked writer runs). */
int persist_write_now(struct persist_stats *st);
/* persist_restore() with given clocks (monotonic ns, wall ms), without
 * starting the timer. */
int persist_restore_at(uint64_t now_ns, int64_t now_unix_ms, struct persist_stats *st);
/* Set the limits persist_configure() reads (tests). */
void persist_set_limits(uint32_t interval_s, uint64_t max_file_bytes);
/* The statistics of the newest background save (parent side): how long
 * fork() held the loop, and the writer's own figures. */
struct persist_bg_stats {
	uint64_t saves, failures;
	uint64_t fork_ns_last, fork_ns_max;
	struct persist_stats last;
};
const struct persist_bg_stats *persist_bg_stats(void);
/* Wait up to timeout_ms for a background writer to end (reaping it as the
 * timer would): 0 when none runs or it succeeded, -EIO when it failed,
 * -ETIMEDOUT. */
int persist_wait(uint64_t timeout_ms);

/*
 * The payload decoder (core/persist_decode.c), exposed for the fuzzer: decode
 * a payload (the file's uncompressed body) against the current store. With
 * apply false it only checks it; with apply true it restores (history only
 * when history is true, watches always). meta receives the saved timeline.
 * 0 or -EINVAL (malformed; nothing applied when apply is false).
 */
struct persist_meta {
	int64_t t0_unix_ms;
	uint64_t next_step, last_step;
	bool any_step;
	int64_t saved_unix_ms;
};
int persist_decode(const uint8_t *buf, size_t len, bool apply, bool history,
		   struct persist_meta *meta, struct persist_stats *st);

#endif
