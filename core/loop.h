/* SPDX-License-Identifier: MIT */
/* The core's single-threaded epoll loop: fd watches, timers and signals.
 * Every watch and timer has an owner tag so a plugin's are removed with it. */
#ifndef SMCP_LOOP_H
#define SMCP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*loop_fd_fn)(void *data, int fd, uint32_t revents);
typedef void (*loop_timer_fn)(void *data);

int loop_init(void);
void loop_fini(void);

/* 0, -EEXIST (fd already watched), or -errno from epoll_ctl. */
int loop_watch(int fd, uint32_t events, loop_fd_fn cb, void *data, const void *owner);
int loop_modify(int fd, uint32_t events);
int loop_unwatch(int fd);

/* Returns a timer id > 0 or -errno. The first expiry is after interval_ms. */
int loop_timer_add(uint64_t interval_ms, bool repeat, loop_timer_fn cb, void *data,
		   const void *owner);
int loop_timer_remove(int id);

/* Remove every watch and timer of owner. */
void loop_remove_owner(const void *owner);

/* Run until loop_quit(); returns the code given to loop_quit(). */
int loop_run(void);
void loop_quit(int code);
/* End the current loop_run() only; a later loop_run() runs again. */
void loop_break(void);
bool loop_quitting(void);

uint64_t loop_now_ns(void);

/* How long single callbacks held the loop (wall time, so a busy machine's
 * preemption counts too). */
#define LOOP_STALL_NS (50 * 1000000ull)
struct loop_stats {
	uint64_t dispatches;
	uint64_t stalls;	   /* callbacks over LOOP_STALL_NS */
	uint64_t longest_ns;	   /* the longest one */
	const void *longest_owner; /* its owner tag (a struct smcp_host for a plugin) */
};
void loop_stats(struct loop_stats *ret);

#endif
