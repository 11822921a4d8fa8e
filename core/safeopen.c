/* SPDX-License-Identifier: MIT */
#include "safeopen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* as the kernel's own limit on symlinks in one lookup */
#define MAX_LINKS 40

static bool owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Whether st may hold or be something root runs; the reason in why if not. */
static bool trusted(const struct stat *st, const char *shown, char *why, size_t why_len)
{
	if (!owner_ok(st)) {
		snprintf(why, why_len, "%s is owned by uid %u, not root", shown,
			 (unsigned)st->st_uid);
		return false;
	}
	/* a shared directory like /tmp is fine when root owns it and the
	 * sticky bit stops others from renaming what they do not own */
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)) {
		snprintf(why, why_len, "%s is writable by %s", shown,
			 (st->st_mode & S_IWOTH) ? "others" : "its group");
		return false;
	}
	return true;
}

/* shown = the directory walked so far (for messages); "" is "/". */
static void shown_push(char *shown, size_t len, const char *name)
{
	size_t at = strlen(shown);

	if (at < len - 1)
		snprintf(shown + at, len - at, "/%s", name);
}

static void shown_pop(char *shown)
{
	char *slash = strrchr(shown, '/');

	if (slash)
		*slash = '\0';
}

static const char *shown_or_root(const char *shown)
{
	return shown[0] ? shown : "/";
}

static int open_root(char *why, size_t why_len)
{
	struct stat st;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !trusted(&st, "/", why, why_len)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Take the next component off *rest (skipping "/" and "."): NULL at the end. */
static char *next_component(char **rest)
{
	for (;;) {
		char *s = *rest, *e;

		while (*s == '/')
			s++;
		if (!*s)
			return NULL;
		e = strchr(s, '/');
		if (e) {
			*e = '\0';
			*rest = e + 1;
		} else {
			*rest = s + strlen(s);
		}
		if (strcmp(s, ".") != 0)
			return s;
	}
}

static bool rest_is_empty(const char *rest)
{
	for (; *rest; rest++) {
		if (*rest == '/')
			continue;
		if (rest[0] == '.' && (rest[1] == '/' || rest[1] == '\0'))
			continue;
		return false;
	}
	return true;
}

/* Reopen the final object for real and make sure it is the one checked. */
static int reopen(int dir, const char *name, const struct stat *want, enum safeopen_kind kind)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int fd;

	if (kind == SAFEOPEN_DIR)
		flags |= O_DIRECTORY;
	fd = openat(dir, name, flags);
	if (fd < 0)
		return -errno;
	/* the parent is trusted, so only root could have swapped it since */
	if (fstat(fd, &st) < 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino) {
		close(fd);
		return -ESTALE;
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

int safeopen(int dirfd, const char *path, enum safeopen_kind kind, char *why, size_t why_len)
{
	char *buf = NULL, *rest, *name, shown[PATH_MAX] = "";
	int cur = -1, nfd = -1, links = 0, err;
	struct stat st;

	if (why_len)
		why[0] = '\0';
	if (!path || !*path)
		return -EINVAL;
	buf = malloc(PATH_MAX);
	if (!buf)
		return -ENOMEM;
	if (path[0] == '/' || dirfd < 0) {
		if (path[0] != '/') {
			/* getcwd has no symlinks in it: walking it is walking the real path */
			if (!getcwd(buf, PATH_MAX)) {
				err = -errno;
				goto out;
			}
			if (strlen(buf) + 1 + strlen(path) >= PATH_MAX) {
				err = -ENAMETOOLONG;
				goto out;
			}
			strcat(strcat(buf, "/"), path);
		} else if (strlen(path) >= PATH_MAX) {
			err = -ENAMETOOLONG;
			goto out;
		} else {
			strcpy(buf, path);
		}
		cur = open_root(why, why_len);
	} else {
		char link[32];
		ssize_t n;

		if (strlen(path) >= PATH_MAX) {
			err = -ENAMETOOLONG;
			goto out;
		}
		strcpy(buf, path);
		/* for messages only: the directory the caller opened */
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, shown, sizeof(shown) - 1);
		shown[n > 0 ? n : 0] = '\0';
		if (strcmp(shown, "/") == 0)
			shown[0] = '\0';
		cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
		if (cur < 0)
			cur = -errno;
	}
	if (cur < 0) {
		err = cur;
		goto out;
	}
	rest = buf;
	while ((name = next_component(&rest))) {
		bool last = rest_is_empty(rest);

		if (strcmp(name, "..") == 0) {
			/* the real parent of a directory reached from "/" was walked
			 * on the way down; check it again all the same */
			nfd = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
			shown_pop(shown);
		} else {
			nfd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			err = -errno;
			snprintf(why, why_len, "%s/%s: %s", shown, name, strerror(-err));
			goto out;
		}
		if (fstat(nfd, &st) < 0) {
			err = -errno;
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX], *nbuf;
			ssize_t n;

			if (++links > MAX_LINKS) {
				err = -ELOOP;
				snprintf(why, why_len, "%s/%s: too many symlinks", shown, name);
				goto out;
			}
			/* who owns the link matters in a sticky directory */
			if (!owner_ok(&st)) {
				snprintf(why, why_len, "symlink %s/%s is owned by uid %u, not root",
					 shown, name, (unsigned)st.st_uid);
				err = -EPERM;
				goto out;
			}
			n = readlinkat(nfd, "", target, sizeof(target) - 1);
			if (n <= 0) {
				err = n < 0 ? -errno : -ENOENT;
				goto out;
			}
			target[n] = '\0';
			if ((size_t)n + 1 + strlen(rest) >= PATH_MAX) {
				err = -ENAMETOOLONG;
				goto out;
			}
			nbuf = malloc(PATH_MAX);
			if (!nbuf) {
				err = -ENOMEM;
				goto out;
			}
			snprintf(nbuf, PATH_MAX, "%s/%s", target, rest);
			free(buf);
			buf = rest = nbuf;
			close(nfd);
			nfd = -1;
			if (target[0] == '/') {
				close(cur);
				shown[0] = '\0';
				cur = open_root(why, why_len);
				if (cur < 0) {
					err = cur;
					goto out;
				}
			}
			continue;
		}
		if (strcmp(name, "..") != 0)
			shown_push(shown, sizeof(shown), name);
		if (!trusted(&st, shown_or_root(shown), why, why_len)) {
			err = -EPERM;
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (!last) {
				err = -ENOTDIR;
				snprintf(why, why_len, "%s: not a directory", shown);
				goto out;
			}
			if (kind == SAFEOPEN_DIR || !S_ISREG(st.st_mode)) {
				err = kind == SAFEOPEN_DIR ? -ENOTDIR : -EINVAL;
				snprintf(why, why_len, "%s: not a %s", shown,
					 kind == SAFEOPEN_DIR ? "directory" : "regular file");
				goto out;
			}
			close(nfd);
			nfd = -1;
			err = reopen(cur, name, &st, kind);
			goto out;
		}
		close(cur);
		cur = nfd;
		nfd = -1;
	}
	/* the path ended on a directory (cur) */
	if (kind != SAFEOPEN_DIR) {
		err = -EISDIR;
		snprintf(why, why_len, "%s: is a directory", shown_or_root(shown));
		goto out;
	}
	if (fstat(cur, &st) < 0) {
		err = -errno;
		goto out;
	}
	err = reopen(cur, ".", &st, kind);
out:
	if (nfd >= 0)
		close(nfd);
	if (cur >= 0)
		close(cur);
	free(buf);
	if (err < 0 && why_len && !why[0])
		snprintf(why, why_len, "%s: %s", path, strerror(-err));
	return err;
}
