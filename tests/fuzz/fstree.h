/* SPDX-License-Identifier: MIT */
/*
 * A fake /proc and /sys tree made from a fuzz input, for the targets that
 * run a plugin's own parsing code against files (the plugins read through
 * api->fs_root(), so a private root directory is all they need).
 *
 * Input format: records "PATH\0CONTENT\0" one after the other. PATH is
 * absolute ("/proc/stat"); components are [A-Za-z0-9_.:-], no "..", at most
 * 12 deep. A record whose PATH is "--" ends a phase (fstree_load returns
 * and the next call continues after it), so a target can sample, change
 * files and sample again. A record whose PATH starts with "@" is not a
 * file: targets read it with fstree_param() (a query argument, say).
 * A malformed record is skipped. Seeds are made from real trees with
 * tests/fuzz/mkseed.py.
 *
 * Everything written is removed by fstree_clear(), in reverse order, so
 * each input sees only its own files (and a crash reproduces alone).
 */
#ifndef SMCP_FUZZ_FSTREE_H
#define SMCP_FUZZ_FSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSTREE_MAX_PARAMS 8

struct fstree {
	char root[128];      /* the fake "/", no trailing slash */
	char **made;         /* files and directories created, in order */
	size_t n_made, cap_made;
	struct {
		char name[32];
		char *value;
	} params[FSTREE_MAX_PARAMS];
	size_t n_params;
	size_t off; /* where the next phase starts in the input */
};

/* Make the root directory once (under /dev/shm when it exists). 0 or -errno. */
int fstree_init(struct fstree *t, const char *prefix);

/* Write the records of the next phase. Returns true when a phase was read
 * (possibly empty), false when the input is used up. */
bool fstree_load(struct fstree *t, const uint8_t *data, size_t size);

/* The value of parameter record "@name" (last one wins), or NULL. */
const char *fstree_param(const struct fstree *t, const char *name);

/* Remove every file and directory this input created; forget params. */
void fstree_clear(struct fstree *t);

#endif
