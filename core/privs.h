/* SPDX-License-Identifier: MIT */
/*
 * Least privilege: once every plugin's init() has run (BPF loaded, perf and
 * tracefs opened), the daemon drops every capability that no loaded plugin
 * still needs for what it does on demand, from all five capability sets,
 * and sets no_new_privs. SECURITY.md lists what each plugin keeps and why.
 *
 * A plugin says what it still needs with privs_keep_caps(), meant to be
 * offered to plugins as host API member keep_capabilities (Since: 1.2).
 * Until a plugin calls it, the built-in table in privs.c speaks for the
 * plugins of this tree, and a plugin it does not know keeps
 * PRIVS_UNDECLARED (what an observability plugin may plausibly need).
 */
#ifndef SMCP_PRIVS_H
#define SMCP_PRIVS_H

#include <stdbool.h>
#include <stdint.h>

#include "host.h"

#define PRIVS_CAP(c) (1ull << (c))

/*
 * Record that plugin h needs caps (a mask of PRIVS_CAP(CAP_...)) after
 * init() returns; replaces the built-in default for h. Only inside init()
 * (-EPERM after), -EINVAL for a NULL host. Repeated calls add up.
 */
int privs_keep_caps(struct smcp_host *h, uint64_t caps);

/*
 * After loader_init_all(): keep the union of what every loaded or degraded
 * plugin needs (failed, disabled and refused ones need nothing), drop the
 * rest from the bounding, ambient, inheritable, permitted and effective
 * sets, and set no_new_privs (the daemon never executes anything). Logs
 * what was kept and for whom. Returns 0 or -errno; on failure the daemon
 * carries on with what it has (it is then no worse than before).
 */
int privs_drop_unneeded(void);

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
