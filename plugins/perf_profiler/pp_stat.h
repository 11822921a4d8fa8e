/* SPDX-License-Identifier: MIT */
/* perf_stat, the counter mode (pp_stat.c; its arithmetic is pstat.h's). */
#ifndef SMCP_PP_STAT_H
#define SMCP_PP_STAT_H

struct pp_plugin;

/* Register the perf_stat tool (init). 0 or -errno from register_tool. */
int pp_stat_register(struct pp_plugin *pp);
/* Close every counting fd and forget the last counts (fini; NULL-safe
 * when never registered). */
void pp_stat_fini(void);

#endif
