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

/* What sl_cgname_find found. */
struct sl_cg_found {
	char path[SL_CGFS_PATH_MAX];
	bool guess;         /* matched by a prefix or a derived name (why says) */
	char why[1024];     /* the guess's reason, or the error's */
	const char *from;   /* resolved through a runtime's state: "docker state",
			     * "podman state", "kubelet pod logs"; NULL otherwise */
	const char *kind;   /* with from: "docker container", "podman container",
			     * "kubernetes pod", "kubernetes container" */
	char name[320];     /* with from: the name as the runtime has it */
};

/*
 * sl_cgname_resolve, and then the names people type for containers, from
 * the runtimes' state below state_root (sl_cgstate.h; NULL: none, as
 * sl_cgname_resolve): when no cgroup has the exact name given, a Docker or
 * Podman container name, a pod name, "namespace/pod" or
 * "namespace/pod/container" is looked up there and its id (or pod uid)
 * found in the cpu hierarchy, in the same walk as the NAME.service guess.
 * Since sched_latency's cgroup names (issue 18).
 * 0 with out filled; -EINVAL, -ENOENT (why says what was tried and how
 * to list the cgroups), -EEXIST (more than one match: why lists them),
 * -E2BIG, or -errno.
 */
int sl_cgname_find(const struct sl_cgfs *fs, const char *state_root, const char *input,
		   struct sl_cg_found *out);

#endif
