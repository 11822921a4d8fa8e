/* SPDX-License-Identifier: MIT */
/* Inside persistence (persist.c, persist_file.c, persist_encode.c,
 * persist_decode.c): the file's layout, the payload encoder's sink, the
 * file's reader and writer. */
#ifndef SMCP_PERSIST_IMPL_H
#define SMCP_PERSIST_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "metrics.h"
#include "persist.h"

/*
 * The file: a header of PERSIST_HDR_BYTES, then the payload compressed
 * with zlib (deflate in the zlib format, whose Adler-32 covers it again).
 * All numbers little-endian.
 *
 *   0  "SMCPSTAT"         8 bytes
 *   8  u32 version        PERSIST_VERSION
 *  12  u32 header bytes   PERSIST_HDR_BYTES
 *  16  u64 step_ns        the history geometry the payload was written with
 *  24  u32 fine_slots, coarse_slots, factor, fine_hist_bytes, coarse_hist_bytes
 *  44  u32 flags          PERSIST_F_*
 *  48  u64 raw_len        the payload's length uncompressed
 *  56  u64 comp_len       compressed: the file is exactly header + comp_len
 *  64  u32 raw_crc        zlib crc32 of the uncompressed payload
 *  68  u32 header_crc     crc32 of bytes 0..67
 *
 * The payload: records, each a tag byte and its fields, in this order:
 * T, W*, (M S*)*, F*, E.
 *
 * Records (little-endian; str: u16 length then bytes; varint: LEB128):
 *   T  i64 t0_unix_ms, u64 next_step, u64 last_step, u8 any_step,
 *      i64 saved_unix_ms
 *   W  u32 id, str name, str metric, str labels, str condition, str agg,
 *      f64 for_secs, window_secs, clear_secs, hysteresis_pct,
 *      u32 min_samples, i64 created_ms
 *   M  str name, u8 type, u8 n_labels, str label x n_labels, u32 nb,
 *      f64 bound x nb                               (a metric; its S follow)
 *   S  str value x n_labels, u64 pub_step, f64 last_score, u8 any,
 *      u64 first, u64 last, u64 acc_idx, u32 acc_n, f64 acc_sum,
 *      f32 acc_min, f32 acc_max, [histograms: varint acc_count x nb,
 *      u64 fine_dropped, u64 coarse_dropped], u64 from, u32 count, then
 *      count coarse slots from slot `from`
 *   F  u32 series (index among all S), u64 from, u32 count, then count
 *      fine slots from step `from`
 *   E  u32 S records, u32 F records
 * A scalar slot is f32 (fine) or 3 x f32 mean/min/max (coarse), NaN for no
 * data; a histogram slot is varint length (0: no data) and the record as
 * history_encode() wrote it.
 *
 * The coarse tier of every series comes before any fine tier, so that a
 * file cut short for state_max_mb loses fine tiers first (F), then whole
 * series (S), never the timeline or the watches.
 */
/* The longest string a payload holds (a watch's labels: 1039 bytes). */
#define PERSIST_STR_MAX 2048
#define PERSIST_MAGIC "SMCPSTAT"
#define PERSIST_VERSION 1
#define PERSIST_HDR_BYTES 72

#define PERSIST_F_FINE_CUT 1u	/* some series' fine tier left out (state_max_mb) */
#define PERSIST_F_SERIES_CUT 2u /* some series left out entirely (state_max_mb) */

/* What the compressed file costs beyond the raw bytes handed to it and not
 * yet accounted for by persist_sink.bound: deflate's block under
 * construction (16 Ki symbols of at most 6 bytes each) and rounding. */
#define PERSIST_DEFLATE_SLACK (256u << 10)

/* Where the encoder's raw payload bytes go (the compressor, or memory in
 * the tests). bound: the size the file would have if the payload ended
 * with what was emitted so far. */
struct persist_sink {
	int (*emit)(void *ctx, const uint8_t *p, size_t n);
	uint64_t (*bound)(void *ctx);
	void *ctx;
	uint64_t max_bytes; /* the file's cap; 0: none */
};

/* A metric whose plugin is still there (a failed init() leaves its
 * metrics registered until the next tick). */
static inline bool persist_metric_live(const struct metric *m)
{
	return !m->dead && (m->owner->state == PLUGIN_LOADED || m->owner->state == PLUGIN_DEGRADED);
}

/* Write the store and the watches as a payload (persist_encode.c); flags
 * gets PERSIST_F_*.
 * 0 or the sink's -errno, -ENOMEM. */
int persist_encode(const struct persist_sink *sink, int64_t saved_unix_ms, uint32_t *flags,
		   struct persist_stats *st);

/* The state file (persist_file.c) in the directory dirfd (named dir in
 * messages). persist_file_write(): write the store as PERSIST_FILE, at
 * most max_bytes; 0 or -errno with st->why set. persist_file_read(): the
 * payload, checked and inflated into *raw (the caller frees it); why says
 * what is wrong with the file when it is not PREAD_OK or PREAD_MISSING.
 * persist_file_set_aside(): rename PERSIST_FILE to PERSIST_FILE.kind-<unix
 * s>, log why, and keep the newest PERSIST_KEEP_ASIDE of those.
 * persist_file_tidy(): with newest NULL, remove temporary files (a writer
 * killed mid-way); else keep newest and the PERSIST_KEEP_ASIDE - 1 newest
 * other set-aside files, and remove the rest. */
enum persist_read {
	PREAD_OK,
	PREAD_GEOMETRY, /* intact, written with another history geometry */
	PREAD_CORRUPT,	/* not what a writer wrote: set it aside */
	PREAD_MISSING,
	PREAD_ERROR, /* memory or I/O: not the file's fault */
};
int persist_file_write(int dirfd, const char *dir, uint64_t max_bytes, struct persist_stats *st);
enum persist_read persist_file_read(int dirfd, uint64_t max_bytes, uint8_t **raw, size_t *raw_len,
				    uint32_t *flags, char *why, size_t len);
void persist_file_set_aside(int dirfd, const char *dir, const char *kind, const char *why);
void persist_file_tidy(int dirfd, const char *newest);

#endif
