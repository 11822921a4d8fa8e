/* SPDX-License-Identifier: MIT */
/*
 * The state file on disk: written to a temporary file through zlib,
 * fsync'd and renamed over the old one (then the directory fsync'd), so a
 * crash at any point leaves the old file or the new one; read back whole
 * (bounded by state_max_mb, never mapped), header and checksums checked,
 * inflated (bounded by what history_max_mb can hold); set aside when it
 * cannot be what we wrote. The layout is in persist_impl.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "metrics.h"
#include "persist_impl.h"

/* Dirents looked at when tidying the directory. */
#define MAX_DIRENTS 4096
/* zlib level: the writer runs beside the daemon, on a shared machine;
 * level 1 gives most of the gain (NaN runs, repeated values) */
#define ZLEVEL 1

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ tidying */

static bool tmp_name(const char *name)
{
	return strncmp(name, PERSIST_FILE ".tmp-", sizeof(PERSIST_FILE ".tmp-") - 1) == 0;
}

_Static_assert(PERSIST_KEEP_ASIDE >= 2, "persist_file_tidy keeps the new one and others");

/* The order of a set-aside file's name (unix time, then the -N a second
 * one in the same second gets), or -1 if it is not one. */
static long long aside_key(const char *name)
{
	static const char *const kinds[] = { PERSIST_FILE ".corrupt-", PERSIST_FILE ".geometry-" };
	long long t, n = 0;
	char *end;

	for (size_t i = 0; i < 2; i++) {
		size_t len = strlen(kinds[i]);

		if (strncmp(name, kinds[i], len) != 0)
			continue;
		t = strtoll(name + len, &end, 10);
		if (*end == '-')
			n = strtoll(end + 1, NULL, 10);
		return t < 0 || n < 0 || n > 99 ? -1 : t * 100 + n;
	}
	return -1;
}

void persist_file_tidy(int dirfd, const char *newest)
{
	struct {
		long long key;
		char name[64];
	} keep[PERSIST_KEEP_ASIDE];
	/* a description of its own: a dup would share (and leave at the end)
	 * the directory offset */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n_keep = 0, seen = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) && seen++ < MAX_DIRENTS) {
		long long key;
		int i;

		if (!newest) {
			if (tmp_name(de->d_name))
				(void)unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		key = aside_key(de->d_name);
		if (key < 0 || strcmp(de->d_name, newest) == 0 ||
		    strlen(de->d_name) >= sizeof(keep[0].name))
			continue;
		/* the newest PERSIST_KEEP_ASIDE - 1 besides the new one, newest
		 * first; what falls off the end goes */
		if (n_keep == PERSIST_KEEP_ASIDE - 1 && keep[n_keep - 1].key >= key) {
			(void)unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		if (n_keep == PERSIST_KEEP_ASIDE - 1)
			(void)unlinkat(dirfd, keep[--n_keep].name, 0);
		for (i = n_keep; i > 0 && keep[i - 1].key < key; i--)
			keep[i] = keep[i - 1];
		keep[i].key = key;
		snprintf(keep[i].name, sizeof(keep[i].name), "%s", de->d_name);
		n_keep++;
	}
	closedir(d);
}

/* ----------------------------------------------------------- writing */

struct zsink {
	int fd;
	z_stream z;
	uint64_t written; /* bytes in the file, the header's included */
	uint64_t max;
	uint32_t crc;
	uint8_t out[1 << 18];
	char *why;
	size_t why_len;
};

static int write_all(struct zsink *k, const uint8_t *p, size_t n)
{
	if (k->max && k->written + n > k->max) {
		snprintf(k->why, k->why_len, "the file would pass state_max_mb");
		return -EFBIG;
	}
	while (n) {
		ssize_t w = write(k->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? -errno : -EIO;

			snprintf(k->why, k->why_len, "writing: %s", strerror(-err));
			return err;
		}
		p += w;
		n -= (size_t)w;
		k->written += (uint64_t)w;
	}
	return 0;
}

/* Run deflate over what is in k->z's input with flush, writing out what
 * it produces. */
static int zs_run(struct zsink *k, int flush)
{
	for (;;) {
		int zr, err;

		k->z.next_out = k->out;
		k->z.avail_out = sizeof(k->out);
		zr = deflate(&k->z, flush);
		if (zr == Z_STREAM_ERROR) {
			snprintf(k->why, k->why_len, "compressing failed");
			return -EIO;
		}
		err = write_all(k, k->out, sizeof(k->out) - k->z.avail_out);
		if (err)
			return err;
		if (flush == Z_FINISH ? zr == Z_STREAM_END : k->z.avail_out != 0)
			return 0;
	}
}

static int zs_emit(void *ctx, const uint8_t *p, size_t n)
{
	struct zsink *k = ctx;

	k->crc = (uint32_t)crc32(k->crc, p, (uInt)n);
	k->z.next_in = (Bytef *)(uintptr_t)p;
	k->z.avail_in = (uInt)n;
	return zs_run(k, Z_NO_FLUSH);
}

static uint64_t zs_bound(void *ctx)
{
	struct zsink *k = ctx;
	unsigned pending = 0;
	int bits = 0;

	(void)deflatePending(&k->z, &pending, &bits);
	return k->written + pending + 1;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void header_geom(uint8_t *h, const struct history_geom *g)
{
	put_le(h + 16, g->step_ns, 8);
	put_le(h + 24, g->fine_slots, 4);
	put_le(h + 28, g->coarse_slots, 4);
	put_le(h + 32, g->factor, 4);
	put_le(h + 36, g->fine_hist_bytes, 4);
	put_le(h + 40, g->coarse_hist_bytes, 4);
}

int persist_file_write(int dirfd, const char *dir, uint64_t max_bytes, struct persist_stats *st)
{
	struct zsink *k = calloc(1, sizeof(*k));
	uint8_t hdr[PERSIST_HDR_BYTES] = { 0 };
	struct persist_sink sink = { zs_emit, zs_bound, k, max_bytes };
	uint64_t t0 = mono_ns();
	char tmp[64];
	bool zinit = false;
	uint32_t flags = 0;
	struct stat sb;
	ssize_t w;
	int err;

	memset(st, 0, sizeof(*st));
	if (!k)
		return -ENOMEM;
	k->fd = -1;
	k->max = max_bytes;
	k->why = st->why;
	k->why_len = sizeof(st->why);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", PERSIST_FILE, (int)getpid());
	/* O_NONBLOCK: a FIFO of that name fails instead of waiting */
	k->fd = openat(dirfd, tmp,
		       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (k->fd < 0 || fstat(k->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		err = k->fd < 0 ? -errno : -EINVAL;
		snprintf(st->why, sizeof(st->why), "cannot create %s/%s: %s", dir, tmp,
			 strerror(-err));
		goto fail;
	}
	/* the header goes last, once the sizes and the checksum are known */
	err = write_all(k, hdr, sizeof(hdr));
	if (err)
		goto fail;
	if (deflateInit(&k->z, ZLEVEL) != Z_OK) {
		err = -ENOMEM;
		snprintf(st->why, sizeof(st->why), "cannot set up zlib");
		goto fail;
	}
	zinit = true;
	err = persist_encode(&sink, metrics_now_unix_ms(), &flags, st);
	if (!err)
		err = zs_run(k, Z_FINISH);
	if (err) {
		if (!st->why[0])
			snprintf(st->why, sizeof(st->why), "%s", strerror(-err));
		goto fail;
	}
	memcpy(hdr, PERSIST_MAGIC, 8);
	put_le(hdr + 8, PERSIST_VERSION, 4);
	put_le(hdr + 12, PERSIST_HDR_BYTES, 4);
	header_geom(hdr, &metrics_view()->geom);
	put_le(hdr + 44, flags, 4);
	put_le(hdr + 48, k->z.total_in, 8);
	put_le(hdr + 56, k->z.total_out, 8);
	put_le(hdr + 64, k->crc, 4);
	put_le(hdr + 68, crc32(0, hdr, 68), 4);
	w = pwrite(k->fd, hdr, sizeof(hdr), 0);
	if (w != (ssize_t)sizeof(hdr)) {
		err = w < 0 ? -errno : -EIO;
		snprintf(st->why, sizeof(st->why), "writing the header: %s", strerror(-err));
		goto fail;
	}
	/* crash safety: the data is on disk before the name points at it,
	 * and the new name is on disk before we say it is saved */
	err = fsync(k->fd) < 0 ? -errno : 0;
	if (close(k->fd) < 0 && !err)
		err = -errno;
	k->fd = -1;
	if (err) {
		snprintf(st->why, sizeof(st->why), "syncing %s: %s", tmp, strerror(-err));
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, PERSIST_FILE) < 0) {
		err = -errno;
		snprintf(st->why, sizeof(st->why), "renaming %s: %s", tmp, strerror(-err));
		goto fail;
	}
	(void)fsync(dirfd);
	st->file_bytes = k->written;
	st->write_ns = mono_ns() - t0;
	deflateEnd(&k->z);
	free(k);
	return 0;
fail:
	if (zinit)
		deflateEnd(&k->z);
	if (k->fd >= 0)
		close(k->fd);
	(void)unlinkat(dirfd, tmp, 0);
	free(k);
	return err;
}

/* ----------------------------------------------------------- reading */

void persist_file_set_aside(int dirfd, const char *dir, const char *kind, const char *why)
{
	long long t = (long long)time(NULL);
	char name[96] = "";
	int err = 0;

	for (int i = 0; i < 10; i++) {
		if (i)
			snprintf(name, sizeof(name), "%s.%s-%lld-%d", PERSIST_FILE, kind, t, i);
		else
			snprintf(name, sizeof(name), "%s.%s-%lld", PERSIST_FILE, kind, t);
		err = renameat2(dirfd, PERSIST_FILE, dirfd, name, RENAME_NOREPLACE) < 0
			      ? -errno
			      : 0;
		if (err != -EEXIST)
			break;
	}
	if (err) {
		log_warn("%s/%s %s; it could not be set aside (%s): it will be overwritten",
			 dir, PERSIST_FILE, why, strerror(-err));
		return;
	}
	log_warn("%s/%s %s; set aside as %s, starting without it", dir, PERSIST_FILE, why,
		 name);
	persist_file_tidy(dirfd, name);
}

/* The file, whole, into *ret (at most max bytes): 0, -ENOENT, -EFBIG,
 * -EINVAL (not a regular file, or changing under us), -errno. */
static int read_state(int dirfd, uint8_t **ret, size_t *ret_len, uint64_t max, char *why,
		      size_t len)
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, err;

	*ret = NULL;
	*ret_len = 0;
	/* O_NONBLOCK: a FIFO put here must not hang the start */
	fd = openat(dirfd, PERSIST_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		if (err == -ELOOP) {
			snprintf(why, len, "is a symlink");
			return -EINVAL;
		}
		snprintf(why, len, "cannot be opened: %s", strerror(-err));
		return err;
	}
	err = -EINVAL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, len, "is not a regular file");
		goto out;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		snprintf(why, len, "is owned by uid %u, not by this daemon", (unsigned)sb.st_uid);
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		snprintf(why, len, "is larger (%lld bytes) than state_max_mb allows",
			 (long long)sb.st_size);
		err = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		snprintf(why, len, "cannot be read: out of memory");
		goto out;
	}
	/* one byte more than fstat said: a file that grew is seen too */
	while (got < (size_t)sb.st_size + 1) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			snprintf(why, len, "cannot be read: %s", strerror(-err));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)sb.st_size) {
		snprintf(why, len, "changed size while it was read (%lld, then %zu bytes)",
			 (long long)sb.st_size, got);
		goto out;
	}
	*ret = buf;
	*ret_len = got;
	buf = NULL;
	err = 0;
out:
	free(buf);
	close(fd);
	return err;
}

/* Check the header and inflate the payload into *raw. */
static enum persist_read unpack(const uint8_t *f, size_t n, uint8_t **raw, size_t *raw_len,
				 uint32_t *flags, char *why, size_t len)
{
	uint8_t want[PERSIST_HDR_BYTES] = { 0 };
	uint64_t rlen, clen, raw_max = 2 * metrics_view()->budget.max + (16u << 20);
	z_stream z = { 0 };
	uint8_t *out;
	int zr;

	*raw = NULL;
	if (n < PERSIST_HDR_BYTES) {
		snprintf(why, len, "is truncated (%zu bytes, shorter than its header)", n);
		return PREAD_CORRUPT;
	}
	if (memcmp(f, PERSIST_MAGIC, 8) != 0) {
		snprintf(why, len, "is not a schedmcp state file");
		return PREAD_CORRUPT;
	}
	if (get_le(f + 8, 4) != PERSIST_VERSION || get_le(f + 12, 4) != PERSIST_HDR_BYTES) {
		snprintf(why, len, "has format version %llu; this schedmcp reads version %d",
			 (unsigned long long)get_le(f + 8, 4), PERSIST_VERSION);
		return PREAD_CORRUPT;
	}
	if (get_le(f + 68, 4) != crc32(0, f, 68)) {
		snprintf(why, len, "has a damaged header (checksum mismatch)");
		return PREAD_CORRUPT;
	}
	*flags = (uint32_t)get_le(f + 44, 4);
	rlen = get_le(f + 48, 8);
	clen = get_le(f + 56, 8);
	if (clen != n - PERSIST_HDR_BYTES) {
		if (clen > n - PERSIST_HDR_BYTES)
			snprintf(why, len, "is truncated (%zu of %llu bytes)", n,
				 (unsigned long long)(clen + PERSIST_HDR_BYTES));
		else
			snprintf(why, len, "has %llu bytes past its end",
				 (unsigned long long)(n - PERSIST_HDR_BYTES - clen));
		return PREAD_CORRUPT;
	}
	/* zlib counts in 32 bits; a payload is about the store's size */
	if (raw_max > UINT32_MAX)
		raw_max = UINT32_MAX;
	if (rlen > raw_max || !rlen) {
		snprintf(why, len, "holds %llu MiB of history, more than history_max_mb allows",
			 (unsigned long long)(rlen >> 20));
		return PREAD_CORRUPT;
	}
	out = malloc((size_t)rlen);
	if (!out || inflateInit(&z) != Z_OK) {
		free(out);
		snprintf(why, len, "cannot be read: out of memory");
		return PREAD_ERROR;
	}
	z.next_in = (Bytef *)(uintptr_t)(f + PERSIST_HDR_BYTES);
	z.avail_in = (uInt)clen;
	z.next_out = out;
	z.avail_out = (uInt)rlen;
	zr = inflate(&z, Z_FINISH);
	if (zr != Z_STREAM_END || z.total_out != rlen || z.avail_in) {
		snprintf(why, len, "has a damaged payload (zlib: %s)",
			 zr == Z_STREAM_END ? "length mismatch" : z.msg ? z.msg : "truncated");
		inflateEnd(&z);
		free(out);
		return PREAD_CORRUPT;
	}
	inflateEnd(&z);
	if (crc32(0, out, (uInt)rlen) != get_le(f + 64, 4)) {
		snprintf(why, len, "has a damaged payload (checksum mismatch)");
		free(out);
		return PREAD_CORRUPT;
	}
	*raw = out;
	*raw_len = (size_t)rlen;
	header_geom(want, &metrics_view()->geom);
	if (memcmp(want + 16, f + 16, 28) != 0) {
		snprintf(why, len,
			 "was written with another history geometry (%llu ms x %u fine, x %u "
			 "coarse of %u steps; now %llu ms x %u, x %u of %u): its history is not "
			 "read",
			 (unsigned long long)(get_le(f + 16, 8) / 1000000),
			 (unsigned)get_le(f + 24, 4), (unsigned)get_le(f + 28, 4),
			 (unsigned)get_le(f + 32, 4),
			 (unsigned long long)(metrics_view()->geom.step_ns / 1000000),
			 metrics_view()->geom.fine_slots, metrics_view()->geom.coarse_slots, metrics_view()->geom.factor);
		return PREAD_GEOMETRY;
	}
	return PREAD_OK;
}


enum persist_read persist_file_read(int dirfd, uint64_t max_bytes, uint8_t **raw, size_t *raw_len,
				    uint32_t *flags, char *why, size_t len)
{
	enum persist_read r;
	uint8_t *file;
	size_t n;
	int err;

	*raw = NULL;
	*raw_len = 0;
	*flags = 0;
	err = read_state(dirfd, &file, &n, max_bytes, why, len);
	if (err == -ENOENT)
		return PREAD_MISSING;
	if (err == -EINVAL || err == -EFBIG)
		return PREAD_CORRUPT;
	if (err)
		return PREAD_ERROR;
	r = unpack(file, n, raw, raw_len, flags, why, len);
	free(file);
	return r;
}
