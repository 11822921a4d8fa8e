/* SPDX-License-Identifier: MIT */
/*
 * diagnose_cgroup and stats://cgroup/{+path} (sl_cgtool.c), and the
 * throttling notable events (sl_cgnotable.c), and their prompt steps
 * (sl_cgsteps.c).
 */
#ifndef SL_CGTOOL_H
#define SL_CGTOOL_H

struct sl;

/* Register the tool and the resource template (inside init). -errno. */
int sl_cgtool_register(struct sl *p);

/* diagnose_cgroup in the workflow prompts (sl_cgsteps.c). -errno. */
int sl_cgsteps_register(struct sl *p);

/* Start watching the cgroups that have a quota for notable.throttling
 * events (no BPF needed). 0, also when there is no cpu controller, or
 * -errno; fini accepts a plugin that never started it. */
int sl_cgnotable_init(struct sl *p);
void sl_cgnotable_fini(struct sl *p);

#endif
