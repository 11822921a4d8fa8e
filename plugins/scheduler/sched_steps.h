/* SPDX-License-Identifier: MIT */
/*
 * The scheduler plugin in the core's workflow prompts (ABI 1.2): its steps
 * (sched_steps.c: which scheduler is in charge, what the running sched_ext
 * scheduler is designed for, the fair class's tunables, the task a pid
 * names) and the completion of the prompts' pid and scheduler_name.
 * sched_tasks.c reads tasks from /proc for both. Private to the plugin.
 */
#ifndef SCHED_STEPS_H
#define SCHED_STEPS_H

#include <stdbool.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

#include "sched_read.h"

/* Register the steps and completions (in init); 0 on a host without them
 * (before ABI 1.2). kernel stays the plugin's, read by the steps; fair
 * gives the plugin's current fair-class state (cached). */
int sched_steps_register(struct smcp_host *host, const struct smcp_host_api *api,
			 const struct kernel_release *kernel,
			 const struct fair_state *(*fair)(void));

struct task_info {
	int64_t tgid;        /* its process */
	char comm[64];       /* the task's name (made printable) */
	char proc_comm[64];  /* its process's name, "" when it is the process */
	int policy;          /* SCHED_* from /proc/PID/stat; -1 unknown */
	int nice;
};

/* Task pid as /proc under root shows it: 0, -ENOENT when it is gone. */
int sched_tasks_info_read(const char *root, int64_t pid, struct task_info *ret);

/* "SCHED_OTHER"..., with what it means for waiting ("" for the usual). */
const char *sched_tasks_policy_name(int policy, const char **ret_meaning);

/*
 * Offer the pids under root's /proc that start with prefix, or, when prefix
 * is not a number, those of the processes whose name starts with it
 * ("ngi": nginx's), in order. Returns how many matched.
 */
uint32_t sched_tasks_complete_pid(const struct smcp_host_api *api, const char *root,
				  const char *prefix, struct smcp_completion *out);

#endif
