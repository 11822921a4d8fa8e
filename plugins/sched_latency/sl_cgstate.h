/* SPDX-License-Identifier: MIT */
/*
 * The names people type for containers, read from the runtimes' own state
 * on disk (never from their sockets), each source optional:
 *
 *   docker     /var/lib/docker/containers/<id>/config.v2.json: "Name"
 *              ("/my-nginx") and "ID";
 *   podman     /var/lib/containers/storage/overlay-containers/containers.json
 *              (root's storage): [{"id": ..., "names": [...]}, ...];
 *   kubelet    /var/log/pods/<namespace>_<pod>_<uid>/ (the pod uid that
 *              kubepods-*-pod<uid>.slice holds) and, for a container,
 *              its <container>/ below it and the container id from
 *              /var/log/containers/<pod>_<namespace>_<container>-<id>.log
 *              (the entry's name only: it is a symlink, never followed).
 *
 * The files are hostile: every directory from the state root down is opened
 * with O_NOFOLLOW below the one before (a symlink anywhere is refused), must
 * be owned by root (or by the daemon's own user, for unprivileged tests) and
 * not writable by others; the runtime's own directories and files not by
 * their group either. Files must be regular, and are bounded (config.v2.json
 * 1 MiB, containers.json 8 MiB, 4096 entries of each directory and list);
 * what was refused, and why, is said in the result's tried.
 *
 * The parsers are pure (fuzzed: tests/fuzz/fuzz_cgstate.c).
 */
#ifndef SL_CGSTATE_H
#define SL_CGSTATE_H

#include <stdbool.h>
#include <stddef.h>

#define SL_CGSTATE_HITS 8              /* hits kept (more are counted) */
#define SL_CGSTATE_ENTRIES 4096        /* directory entries or list items read */
#define SL_CGSTATE_DOCKER_MAX (1 << 20) /* config.v2.json */
#define SL_CGSTATE_PODMAN_MAX (8 << 20) /* containers.json */
#define SL_CGSTATE_DOCKER_TOTAL (64 << 20) /* all config.v2.json of one lookup */

struct sl_cgstate_hit {
	const char *source; /* "docker state", "podman state", "kubelet pod logs" */
	const char *kind;   /* "docker container", "podman container", "kubernetes pod",
			     * "kubernetes container" */
	char name[320];     /* as the runtime names it: my-nginx, ns/pod, ns/pod/container */
	char id[65];        /* the container's full id, "" for a pod */
	char pod_uid[40];   /* kubelet: the pod's uid (with dashes), "" otherwise */
};

struct sl_cgstate_result {
	struct sl_cgstate_hit hits[SL_CGSTATE_HITS];
	int n;           /* hits found; more than SL_CGSTATE_HITS are counted, not kept */
	char tried[768]; /* each source looked at: what it held, or why not */
};

/*
 * Look input up in the runtimes' state below root ("" or "/": the host's
 * root): a container name in Docker's and Podman's state (no '/' in it),
 * a pod name (any namespace), "namespace/pod" or "namespace/pod/container"
 * in the kubelet's. Sources that are absent or refused are skipped and
 * said in r->tried. 0 (r->n may be 0) or -EINVAL when input cannot be a
 * runtime name (r->tried says why).
 */
int sl_cgstate_lookup(const char *root, const char *input, struct sl_cgstate_result *r);

/* Parse one config.v2.json: the name without its leading '/' and the 64-hex
 * id. 0 or -EINVAL (not JSON, or either field missing or malformed). */
int sl_cgstate_docker_parse(const char *buf, size_t len, char *name, size_t name_len,
			    char *id, size_t id_len);

/* Parse containers.json and add a hit for each container named want.
 * The number of containers read, -E2BIG past SL_CGSTATE_ENTRIES (the hits
 * found so far kept), or -EINVAL (not a JSON array). */
int sl_cgstate_podman_parse(const char *buf, size_t len, const char *want,
			    struct sl_cgstate_result *r);

/* Split a /var/log/pods entry "<namespace>_<pod>_<uid>" (uid a UUID with
 * dashes, or a static pod's 32-hex hash): true, with the parts (ns 64,
 * pod 254, uid 37 bytes). */
bool sl_cgstate_pod_dir(const char *entry, char *ns, char *pod, char *uid);

/* Whether a /var/log/containers entry is "<pod>_<ns>_<container>-<id>.log"
 * with a 64-hex id: true, with the id (65 bytes). */
bool sl_cgstate_container_log(const char *entry, const char *pod, const char *ns,
			      const char *container, char *id);

#endif
