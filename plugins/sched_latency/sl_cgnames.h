/* SPDX-License-Identifier: MIT */
/*
 * The names people use for cgroups, both ways: a cgroup path read as a
 * systemd unit (*.service, *.scope, *.slice), a Docker, containerd, CRI-O
 * or Podman container (docker-<id>.scope, cri-containerd-<id>.scope,
 * crio-<id>.scope, libpod-<id>.scope, Docker's cgroupfs driver /docker/<id>)
 * or a Kubernetes pod (kubepods-<qos>-pod<uid>.slice, uid with '_' for '-';
 * cgroupfs driver /kubepods/<qos>/pod<uid>); and what a user typed (a path,
 * a unit, a container id or its prefix of 12 or more hex digits, a pod uid)
 * found in the cpu hierarchy.
 *
 * Names come from the conventions of systemd and the container runtimes,
 * never from asking them; a name read from a plain directory (the cgroupfs
 * drivers, where anybody could have made it) is marked a guess, and so is
 * a match found by anything but the exact name given.
 */
#ifndef SL_CGNAMES_H
#define SL_CGNAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "sl_cgfs.h"

struct sl_cg_name {
	const char *kind;   /* "cgroup", "systemd service", "systemd scope",
			     * "systemd slice", "docker container",
			     * "containerd container", "cri-o container",
			     * "podman container", "kubernetes pod" */
	char unit[256];     /* the systemd unit, "" when none */
	char container[65]; /* container id, "" when none */
	char pod_uid[40];   /* pod uid with dashes, "" when not in a pod */
	char qos[16];       /* pod QoS class: besteffort, burstable, guaranteed */
	bool guess;
	const char *why;    /* why it is a guess, or NULL */
};

/* Read the names in path (a checked cgroup path). */
void sl_cgname_of_path(const char *path, struct sl_cg_name *out);

#define SL_CG_WALK_MAX 10000 /* cgroups looked at to resolve a name */
#define SL_CG_WALK_DEPTH 12

/*
 * Find the cgroup input names in the cpu hierarchy of fs: a path ("/..."),
 * taken as it is; a unit (NAME.service, .scope, .slice), by its directory;
 * a container id or a prefix of 12-64 hex digits; a pod uid; else a
 * directory of that exact name, or NAME.service. Writes the path, and
 * *guess (with why saying so) when the match was not by the exact name.
 * 0; -EINVAL (input not usable: why says), -ENOENT (not found),
 * -EEXIST (more than one match: why lists two), -E2BIG (the search
 * stopped at SL_CG_WALK_MAX cgroups), or -errno.
 */
int sl_cgname_resolve(const struct sl_cgfs *fs, const char *input, char *path, size_t len,
		      bool *guess, char *why, size_t why_len);

#endif
