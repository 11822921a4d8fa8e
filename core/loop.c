/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "privs.h"
#include "util.h"

/*
 * Each timer is its own timerfd: the loop has a handful of timers (sampling
 * ticks, request time-outs), so a heap would cost more code than it saves.
 * Watches live in a small array; the loop has tens of fds at most.
 */
struct watch {
	int fd;
	bool timer;
	bool repeat;
	bool dead;
	int id;
	loop_fd_fn fd_cb;
	loop_timer_fn timer_cb;
	void *data;
	const void *owner;
};

static int epfd = -1;
static struct watch **watches;
static size_t n_watches, cap_watches;
static int next_timer_id = 1;
static bool quitting;
static bool breaking;
static int quit_code;
static int dispatch_depth;
static struct loop_stats stats;

int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

static void watch_free(struct watch *w)
{
	if (w->timer && w->fd >= 0)
		close(w->fd);
	free(w);
}

static void sweep(void)
{
	size_t j = 0;

	if (dispatch_depth)
		return;
	for (size_t i = 0; i < n_watches; i++) {
		if (watches[i]->dead)
			watch_free(watches[i]);
		else
			watches[j++] = watches[i];
	}
	n_watches = j;
}

void loop_fini(void)
{
	UTIL_FREE_ALL(watches, n_watches, watch_free);
	cap_watches = 0;
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

static struct watch *find_fd(int fd)
{
	for (size_t i = 0; i < n_watches; i++)
		if (!watches[i]->dead && watches[i]->fd == fd)
			return watches[i];
	return NULL;
}

static int add_watch(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (n_watches == cap_watches) {
		size_t cap = cap_watches ? cap_watches * 2 : 16;
		struct watch **nw = realloc(watches, cap * sizeof(*nw));

		if (!nw)
			return -ENOMEM;
		watches = nw;
		cap_watches = cap;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	watches[n_watches++] = w;
	return 0;
}

int loop_watch(int fd, uint32_t events, loop_fd_fn cb, void *data, const void *owner)
{
	struct watch *w;
	int err;

	if (fd < 0 || !cb)
		return -EBADF;
	if (find_fd(fd))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct watch){ .fd = fd, .fd_cb = cb, .data = data, .owner = owner };
	err = add_watch(w, events);
	if (err)
		free(w);
	return err;
}

int loop_modify(int fd, uint32_t events)
{
	struct watch *w = find_fd(fd);
	struct epoll_event ev = { .events = events };

	if (!w || w->timer)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

static void kill_watch(struct watch *w)
{
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = true;
}

int loop_unwatch(int fd)
{
	struct watch *w = find_fd(fd);

	if (!w || w->timer)
		return -ENOENT;
	kill_watch(w);
	sweep();
	return 0;
}

int loop_timer_add(uint64_t interval_ms, bool repeat, loop_timer_fn cb, void *data,
		   const void *owner)
{
	struct itimerspec its = { 0 };
	struct watch *w;
	int err;

	if (!cb || interval_ms == 0 || interval_ms > 365ull * 24 * 3600 * 1000)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (w->fd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	its.it_value.tv_sec = interval_ms / 1000;
	its.it_value.tv_nsec = (interval_ms % 1000) * 1000000;
	if (repeat)
		its.it_interval = its.it_value;
	if (timerfd_settime(w->fd, 0, &its, NULL) < 0) {
		err = -errno;
		goto fail;
	}
	w->timer = true;
	w->repeat = repeat;
	w->timer_cb = cb;
	w->data = data;
	w->owner = owner;
	w->id = next_timer_id++;
	if (next_timer_id <= 0)
		next_timer_id = 1;
	err = add_watch(w, EPOLLIN);
	if (err)
		goto fail;
	return w->id;
fail:
	close(w->fd);
	free(w);
	return err;
}

int loop_timer_remove(int id)
{
	for (size_t i = 0; i < n_watches; i++) {
		struct watch *w = watches[i];

		if (!w->dead && w->timer && w->id == id) {
			kill_watch(w);
			sweep();
			return 0;
		}
	}
	return -ENOENT;
}

void loop_remove_owner(const void *owner)
{
	for (size_t i = 0; i < n_watches; i++)
		if (!watches[i]->dead && watches[i]->owner == owner)
			kill_watch(watches[i]);
	sweep();
}

void loop_quit(int code)
{
	if (!quitting)
		quit_code = code;
	quitting = true;
}

void loop_break(void)
{
	breaking = true;
}

bool loop_quitting(void)
{
	return quitting;
}

void loop_stats(struct loop_stats *ret)
{
	*ret = stats;
}

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void dispatch(struct watch *w, uint32_t revents)
{
	uint64_t caps;

	if (w->dead)
		return;
	if (w->timer) {
		uint64_t expirations;

		if (read(w->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
			return;
		if (!w->repeat)
			kill_watch(w);
		caps = privs_enter(w->owner);
		w->timer_cb(w->data);
		privs_leave(caps);
		return;
	}
	caps = privs_enter(w->owner);
	w->fd_cb(w->data, w->fd, revents);
	privs_leave(caps);
}

int loop_run(void)
{
	struct epoll_event evs[32];

	breaking = false;
	while (!quitting && !breaking) {
		int n = epoll_wait(epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* callbacks may remove watches: mark dead, free after the batch */
		dispatch_depth++;
		for (int i = 0; i < n && !quitting && !breaking; i++) {
			struct watch *w = evs[i].data.ptr;
			const void *owner = w->owner;
			uint64_t t0 = loop_now_ns(), dt;

			dispatch(w, evs[i].events);
			/* how long one callback held every session (the service
			 * promises under 50 ms: long work goes to core/work.h) */
			dt = loop_now_ns() - t0;
			stats.dispatches++;
			if (dt > LOOP_STALL_NS)
				stats.stalls++;
			if (dt > stats.longest_ns) {
				stats.longest_ns = dt;
				stats.longest_owner = owner;
			}
		}
		dispatch_depth--;
		sweep();
	}
	return quit_code;
}
