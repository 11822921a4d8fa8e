/* SPDX-License-Identifier: MIT */
/*
 * Opening what the daemon trusts (plugins, its config file) without a race.
 *
 * Checking a path and then opening it by name is a race: between the two, a
 * user who owns any directory on the way can swap a symlink and make root
 * load their file. safeopen walks the path one component at a time from "/"
 * with openat(O_NOFOLLOW), checks each directory it opened (fstat on the fd,
 * never stat on a name), follows a symlink only when the symlink itself is
 * trusted, and hands back an fd of the very object it checked. Callers use
 * that fd and never the name again (dlopen("/proc/self/fd/N") for plugins).
 *
 * Trusted means: owned by root or by the daemon's effective user, and not
 * writable by group or others, except a root-owned sticky directory (/tmp),
 * where the sticky bit stops others from renaming what they do not own.
 */
#ifndef SMCP_SAFEOPEN_H
#define SMCP_SAFEOPEN_H

#include <stddef.h>

enum safeopen_kind {
	SAFEOPEN_DIR,  /* a directory: O_RDONLY | O_DIRECTORY */
	SAFEOPEN_FILE, /* a regular file: O_RDONLY */
};

/*
 * Open path (absolute, or relative to the working directory) as kind,
 * checking every directory on the way and the object itself; at most 40
 * symlinks are followed. dirfd: a directory already opened by safeopen to
 * resolve a relative path from (its ancestors were checked then), or -1.
 * Returns a close-on-exec fd, or -errno: -EPERM when something on the way
 * is not trusted, with the reason ("/x/y is writable by others") in why;
 * -ENOTDIR / -EISDIR / -EINVAL (not a regular file) / -ELOOP / -ENOENT
 * with the path in why.
 */
int safeopen(int dirfd, const char *path, enum safeopen_kind kind, char *why, size_t why_len);

#endif
