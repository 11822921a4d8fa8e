/* SPDX-License-Identifier: MIT */
/*
 * Header-only helper for plugins that read small /proc and /sys files below
 * the host's fs root (api->fs_root(h)). Not part of the host API table: it
 * is compiled into the plugin, so it needs no ABI version. Needs POSIX.1-2008
 * (O_CLOEXEC): build with _GNU_SOURCE or _POSIX_C_SOURCE >= 200809L.
 */
#ifndef SCHEDMCP_FSREAD_H
#define SCHEDMCP_FSREAD_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#error "schedmcp/fsread.h needs POSIX.1-2008: build with -D_GNU_SOURCE or -D_POSIX_C_SOURCE=200809L"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Open root + path for reading: the fd, or -ENAMETOOLONG or -errno.
 * O_NONBLOCK: a FIFO planted in a fixture tree must not hang the reader. */
static inline int smcp_open_under(const char *root, const char *path)
{
	char full[4096];
	int n = snprintf(full, sizeof(full), "%s%s", root ? root : "", path);

	if (n < 0 || (size_t)n >= sizeof(full))
		return -ENAMETOOLONG;
	n = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	return n < 0 ? -errno : n;
}

/* Read from fd until len bytes or the end: the count, or -errno. */
static inline ssize_t smcp_read_full(int fd, char *buf, size_t len)
{
	size_t at = 0;

	while (at < len) {
		ssize_t r = read(fd, buf + at, len - at);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		at += (size_t)r;
	}
	return (ssize_t)at;
}

/*
 * Read root + path into buf (at most len - 1 bytes), NUL-terminated, with
 * trailing newlines and spaces removed. Returns the length kept, -EINVAL
 * when len is 0, -ENAMETOOLONG, or -errno from open/read. A file longer
 * than the buffer is cut to it.
 */
static inline int smcp_read_file(const char *root, const char *path, char *buf, size_t len)
{
	ssize_t at;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = smcp_open_under(root, path);
	if (fd < 0)
		return fd;
	at = smcp_read_full(fd, buf, len - 1);
	close(fd);
	if (at < 0)
		return (int)at;
	while (at > 0 && (buf[at - 1] == '\n' || buf[at - 1] == ' '))
		at--;
	buf[at] = '\0';
	return (int)at;
}

/*
 * Read root + path whole into *buf, NUL-terminated, growing it with realloc
 * up to max + 2 bytes; *buf and *cap are kept for the next call, so a plugin
 * that rereads a file every tick allocates only until the buffer fits.
 * Returns the length, -EFBIG when the file is longer than max bytes,
 * -ENOMEM, -ENAMETOOLONG or -errno. *buf stays the caller's to free.
 */
static inline ssize_t smcp_read_all(const char *root, const char *path, size_t max, char **buf,
				    size_t *cap)
{
	size_t at = 0, limit = max + 2;
	ssize_t ret;
	int fd = smcp_open_under(root, path);

	if (fd < 0)
		return fd;
	for (;;) {
		if (!*buf || at + 1 >= *cap) {
			size_t want = *buf && *cap ? *cap * 2 : 16384;
			char *nb;

			if (*buf && *cap >= limit) {
				ret = -EFBIG;
				goto out;
			}
			if (want > limit)
				want = limit;
			nb = (char *)realloc(*buf, want);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			*buf = nb;
			*cap = want;
		}
		ret = smcp_read_full(fd, *buf + at, *cap - 1 - at);
		if (ret < 0)
			goto out;
		at += (size_t)ret;
		if (at + 1 < *cap)
			break; /* the end came before the buffer filled */
	}
	(*buf)[at] = '\0';
	ret = at > max ? -EFBIG : (ssize_t)at;
out:
	close(fd);
	return ret;
}

/*
 * Read root + path whole into a new buffer (*ret, the caller frees it,
 * NUL-terminated, *ret_len bytes). 0 or the errors of smcp_read_all
 * (then *ret is NULL).
 */
static inline int smcp_slurp(const char *root, const char *path, size_t max, char **ret,
			     size_t *ret_len)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	*ret = NULL;
	*ret_len = 0;
	n = smcp_read_all(root, path, max, &buf, &cap);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* SCHEDMCP_FSREAD_H */
