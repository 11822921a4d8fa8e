/* SPDX-License-Identifier: MIT */
/*
 * Long work off the loop. Everything else runs on the loop thread, so one
 * slow request (symbolising a large binary, detaching BPF programs, which
 * waits for an RCU grace period, walking every process's fds) would hold
 * every session. A plugin hands such work to the core (host API
 * work_submit): fn runs on a worker thread the core owns, and done runs on
 * the loop afterwards with fn's result. Plugins never start threads.
 *
 * fn must not call the host API, and touches only memory the plugin does
 * not use from the loop until done runs. While fn runs, the worker thread
 * has the capabilities its plugin declared (core/privs.h), as the plugin's
 * loop callbacks do.
 *
 * At most [core] workers threads (2 by default), started on first use, at
 * nice +10; jobs wait in a FIFO of at most WORK_MAX_QUEUED. Paced work
 * (work_submit_paced) has a FIFO and one thread of its own at nice 0. At shutdown and when a
 * plugin is unloaded, work_drain() waits for every job and runs its done.
 */
#ifndef SMCP_WORK_H
#define SMCP_WORK_H

#include <stdbool.h>
#include <stdint.h>

#define WORK_MAX_QUEUED 1024

void work_configure(uint32_t threads);

/* 0, -EBUSY (the queue is full), -EINVAL, -ENOMEM, or -errno when no thread
 * can be started. done is always called exactly once when 0 is returned. */
int work_submit(const void *owner, int (*fn)(void *data), void (*done)(void *data, int result),
		void *data);

/* work_submit for work that loses data when it waits (draining a ring
 * buffer the kernel fills): one thread of its own at nice 0, in order. */
int work_submit_paced(const void *owner, int (*fn)(void *data),
		      void (*done)(void *data, int result), void *data);

/* Wait for every queued and running job and run the done callbacks. */
void work_drain(void);
/* Stop the threads (after draining); they start again on the next submit.
 * privs_drop() calls it so that no thread outlives the drop with the
 * capabilities it was started with. */
void work_stop_threads(void);

struct work_stats {
	uint64_t submitted, completed, busy_refused;
	uint64_t longest_ns; /* the longest fn */
	uint32_t threads, queued, running;
};
void work_stats(struct work_stats *ret);

#endif
