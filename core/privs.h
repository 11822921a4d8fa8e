/* SPDX-License-Identifier: MIT */
/*
 * Least privilege: once every plugin's init() has run (BPF loaded, perf and
 * tracefs opened), the daemon leaves uid 0 for its own account ([core]
 * user), keeps in its permitted set only the capabilities that loaded
 * plugins declared for what they do on demand (host API
 * keep_capabilities, ABI 1.2), empties the inheritable, ambient and
 * bounding sets of the rest and sets no_new_privs. Effective capabilities
 * are per plugin: none while the core runs (parsing what clients send
 * among other things), a plugin's own while its callbacks run
 * (privs_enter/privs_leave around each call into a plugin).
 * SECURITY.md lists what each plugin keeps and why.
 */
#ifndef SMCP_PRIVS_H
#define SMCP_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

#include "host.h"

#define PRIVS_CAP(c) (1ull << (c))

/*
 * Record that plugin h needs caps (a mask of PRIVS_CAP(CAP_...)) after
 * init() returns (host API keep_capabilities). Only inside init() (-EPERM
 * after), -EINVAL for a NULL host or a capability this kernel does not
 * know. Repeated calls add up. A plugin built for ABI 1.2 or later that
 * never calls it keeps nothing; one built before keeps PRIVS_UNDECLARED.
 */
int privs_keep_caps(struct smcp_host *h, uint64_t caps);

/*
 * After loader_init_all(): keep in the permitted set the union of what
 * every loaded or degraded plugin declared (failed, disabled and refused
 * ones keep nothing), drop the rest from every set, switch to the account
 * user (root or "" stays uid 0; a missing account is a warning and uid 0
 * stays), set no_new_privs, and leave no capability effective. Logs what
 * was kept and for whom. Returns 0, or -errno when the daemon must not go
 * on (it could not leave uid 0 for an account that exists); other
 * failures are logged and the daemon carries on with what it has.
 */
int privs_drop(const char *user);

/*
 * Around every call into a plugin (owner: its struct smcp_host, or any
 * other pointer for the core's own callbacks): make owner's declared
 * capabilities the effective set, and give back the previous set after.
 * Cheap when nothing changes (no system call); no-ops before privs_drop().
 */
uint64_t privs_enter(const void *owner);
void privs_leave(uint64_t saved);
/* On a worker thread (core/work.h): owner's capabilities for this thread,
 * for the job about to run. */
void privs_thread_enter(const void *owner);

/*
 * Raise the soft limit on open files to the hard limit. The loop costs one
 * fd per timer and plugins keep one per timer, watch, perf event and BPF
 * object, so max_pending_requests calls with a timer each do not fit under
 * the usual soft limit of 1024; nothing in the daemon uses select(), which
 * is why that soft limit exists. Returns the new soft limit or -errno.
 */
long privs_raise_fd_limit(void);

/* The capabilities kept by privs_drop_unneeded() (0 before it ran). */
uint64_t privs_kept(void);

/* "cap_bpf,cap_perfmon" for mask into buf ("none" when empty). */
const char *privs_format(uint64_t mask, char *buf, size_t len);

/* Forget every declaration (at shutdown, and between unit tests). */
void privs_reset(void);

#endif
