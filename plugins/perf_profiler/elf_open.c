/* SPDX-License-Identifier: MIT */
/*
 * Opening the files the profiler reads on behalf of other processes.
 *
 * The daemon is root; the paths it is told are not its own. A user who maps
 * a file can rename it away and put a symlink (to /etc/shadow, a FIFO, a
 * watchdog device whose mere opening arms it) or a directory symlink in its
 * place, or bind-mount something there in a mount namespace of its own. So:
 *  - a path a user controls is walked one component at a time with
 *    O_NOFOLLOW (the kernel's d_path names in /proc/PID/maps and MMAP2
 *    records hold no symlinks, so nothing real is lost);
 *  - the last component is opened O_PATH first, which runs no driver code
 *    and cannot block, then fstat'ed: it must be a regular file and, when the
 *    kernel reported one for the mapping, the same device and inode;
 *  - only then is it opened for reading, through /proc/self/fd/N, which is
 *    that same inode whatever happens to the path meanwhile.
 */
#include "elf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define OPEN_READ (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* Walk rel from dirfd (consumed) with O_NOFOLLOW on every component; an O_PATH fd of
 * the last one (which may be a symlink itself: the caller's fstat refuses it). */
static int walk_nofollow(int dirfd, const char *rel)
{
	const char *p = rel;
	int fd = dirfd;

	for (;;) {
		char comp[NAME_MAX + 1];
		size_t n;
		bool last;
		int next;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0) /* "" or a trailing slash: a directory, not a file */
			break;
		if (n > NAME_MAX) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		last = *p == '\0';
		/* d_path never writes "..": one here is an attempt to climb out */
		if (strcmp(comp, "..") == 0) {
			close(fd);
			return -EXDEV;
		}
		if (strcmp(comp, ".") == 0 && !last)
			continue;
		/* a symlink in the middle fails as ENOTDIR (O_DIRECTORY with
		 * O_NOFOLLOW); the last one opens as the link itself */
		next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY));
		if (next < 0) {
			int err = -errno;
			struct stat st;

			if (err == -ENOTDIR && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				err = -ELOOP;
			close(fd);
			return err;
		}
		close(fd);
		fd = next;
		if (last)
			return fd;
	}
	close(fd);
	return -EISDIR;
}

static bool same_file(const struct stat *st, const struct pp_file_ident *want, bool ino_only)
{
	if (!want || !want->have)
		return true;
	/*
	 * map_files is resolved by the kernel to the mapped file itself, so the
	 * inode is only a cross-check there; the device is not compared
	 * because btrfs reports a subvolume's own st_dev, while maps and MMAP2
	 * give the superblock's.
	 */
	if ((uint64_t)st->st_ino != want->ino)
		return false;
	return ino_only ||
	       (major(st->st_dev) == want->dev_major && minor(st->st_dev) == want->dev_minor);
}

int pp_open_checked(const char *base, const char *rel, const struct pp_file_ident *want,
		    bool ino_only, struct stat *ret_st)
{
	char self[64];
	struct stat st, st2;
	int pfd, fd, err;

	/* a relative rel starts at the working directory, like open() */
	pfd = base ? open(base, O_PATH | O_CLOEXEC) : open(".", O_PATH | O_CLOEXEC | O_DIRECTORY);
	if (pfd < 0)
		return -errno;
	if (rel) {
		pfd = walk_nofollow(pfd, rel);
		if (pfd < 0)
			return pfd;
	}
	if (fstat(pfd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		err = -ELOOP;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -ENXIO;
		goto out;
	}
	if (!same_file(&st, want, ino_only)) {
		err = -ESTALE;
		goto out;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, OPEN_READ);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* the same inode, opened through its O_PATH twin: a cross-check */
	if (fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev ||
	    !S_ISREG(st2.st_mode)) {
		close(fd);
		err = -ESTALE;
		goto out;
	}
	*ret_st = st2;
	err = fd;
out:
	close(pfd);
	return err;
}
