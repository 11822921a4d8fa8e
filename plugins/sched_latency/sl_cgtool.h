/* SPDX-License-Identifier: MIT */
/*
 * diagnose_cgroup and stats://cgroup/{+path} (sl_cgtool.c), and the
 * throttling notable events (sl_cgnotable.c).
 */
#ifndef SL_CGTOOL_H
#define SL_CGTOOL_H

struct sl;

/* Register the tool and the resource template (inside init). -errno. */
int sl_cgtool_register(struct sl *p);

#endif
