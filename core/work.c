/* SPDX-License-Identifier: MIT */
#include "work.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "privs.h"

#define MAX_THREADS 16
#define WORK_NICE 10

struct job {
	struct job *next;
	const void *owner;
	int (*fn)(void *data);
	void (*done)(void *data, int result);
	void *data;
	int result;
};

/* A FIFO of jobs and the threads that run them. Lane 0 is the long work
 * (the loop's nice +10, up to [core] workers threads); lane 1 the paced work
 * (work_submit_paced: the loop's nice, one thread shared by every plugin, so
 * its jobs also run in order). */
struct lane {
	struct job *head, *tail;
	uint32_t queued, running;
	pthread_cond_t more; /* a job was queued, or stop */
	pthread_t th[MAX_THREADS];
	uint32_t n_threads, max_threads;
	int nice;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t idle; /* nothing queued or running */
	struct lane lane[2];
	struct job *d_head, *d_tail; /* finished, done not yet run */
	bool stop;
	int efd; /* a worker's "something finished" to the loop */
	struct work_stats st;
} W = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.lane = { { .more = PTHREAD_COND_INITIALIZER, .max_threads = 2, .nice = WORK_NICE },
		  { .more = PTHREAD_COND_INITIALIZER, .max_threads = 1, .nice = 0 } },
	.efd = -1,
};

static bool all_idle(void)
{
	return !W.lane[0].queued && !W.lane[0].running && !W.lane[1].queued &&
	       !W.lane[1].running;
}

void work_configure(uint32_t threads)
{
	W.lane[0].max_threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker(void *arg)
{
	struct lane *l = arg;

	/* long work yields to the loop, which answers every session: 10 nice
	 * levels below it a busy worker gets a tenth of the CPU the loop gets
	 * when both want it (a thread's own nice, Linux only; lowering it needs
	 * nothing). Paced work stays at the loop's nice: it loses data when it
	 * waits */
	if (l->nice) {
		/* relative to the nice the thread inherited from the loop's */
		int base;

		errno = 0;
		base = getpriority(PRIO_PROCESS, (id_t)gettid());
		if (errno)
			base = 0;
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(),
				  base + l->nice > 19 ? 19 : base + l->nice);
	}
	pthread_mutex_lock(&W.mu);
	for (;;) {
		struct job *j;
		uint64_t t0, dt, one = 1;

		while (!l->head && !W.stop)
			pthread_cond_wait(&l->more, &W.mu);
		if (!l->head)
			break;
		j = l->head;
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->queued--;
		l->running++;
		pthread_mutex_unlock(&W.mu);

		/* this thread's capabilities: those of the job's plugin */
		privs_thread_enter(j->owner);
		t0 = now_ns();
		j->result = j->fn(j->data);
		dt = now_ns() - t0;

		pthread_mutex_lock(&W.mu);
		l->running--;
		j->next = NULL;
		if (W.d_tail)
			W.d_tail->next = j;
		else
			W.d_head = j;
		W.d_tail = j;
		if (dt > W.st.longest_ns)
			W.st.longest_ns = dt;
		if (all_idle())
			pthread_cond_broadcast(&W.idle);
		(void)!write(W.efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* Run the done callbacks of what has finished, on the loop. */
static void run_done(void)
{
	struct job *j;

	pthread_mutex_lock(&W.mu);
	j = W.d_head;
	W.d_head = W.d_tail = NULL;
	pthread_mutex_unlock(&W.mu);
	while (j) {
		struct job *next = j->next;
		uint64_t caps = privs_enter(j->owner);

		j->done(j->data, j->result);
		privs_leave(caps);
		W.st.completed++;
		free(j);
		j = next;
	}
}

static void on_done(void *data, int fd, uint32_t revents)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	run_done();
}

static int submit(struct lane *l, const void *owner, int (*fn)(void *data),
		  void (*done)(void *data, int result), void *data)
{
	struct job *j;
	int err;

	if (!fn || !done)
		return -EINVAL;
	if (W.efd < 0) {
		W.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (W.efd < 0)
			return -errno;
		err = loop_watch(W.efd, EPOLLIN, on_done, NULL, &W);
		if (err) {
			close(W.efd);
			W.efd = -1;
			return err;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){ .owner = owner, .fn = fn, .done = done, .data = data };
	pthread_mutex_lock(&W.mu);
	if (l->queued >= WORK_MAX_QUEUED) {
		W.st.busy_refused++;
		pthread_mutex_unlock(&W.mu);
		free(j);
		return -EBUSY;
	}
	/* one more thread when every one is busy */
	if (l->n_threads < l->max_threads && l->queued + l->running >= l->n_threads) {
		err = pthread_create(&l->th[l->n_threads], NULL, worker, l);
		if (!err)
			l->n_threads++;
		else if (!l->n_threads) {
			pthread_mutex_unlock(&W.mu);
			free(j);
			log_err("cannot start a worker thread: %s", strerror(err));
			return -err;
		}
	}
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->queued++;
	W.st.submitted++;
	pthread_cond_signal(&l->more);
	pthread_mutex_unlock(&W.mu);
	return 0;
}

int work_submit(const void *owner, int (*fn)(void *data), void (*done)(void *data, int result),
		void *data)
{
	return submit(&W.lane[0], owner, fn, done, data);
}

int work_submit_paced(const void *owner, int (*fn)(void *data),
		      void (*done)(void *data, int result), void *data)
{
	return submit(&W.lane[1], owner, fn, done, data);
}

void work_drain(void)
{
	for (;;) {
		bool more;

		pthread_mutex_lock(&W.mu);
		while (!all_idle())
			pthread_cond_wait(&W.idle, &W.mu);
		more = W.d_head != NULL;
		pthread_mutex_unlock(&W.mu);
		if (!more)
			return;
		/* a done callback may submit more */
		run_done();
	}
}

void work_stop_threads(void)
{
	work_drain();
	pthread_mutex_lock(&W.mu);
	W.stop = true;
	for (int k = 0; k < 2; k++)
		pthread_cond_broadcast(&W.lane[k].more);
	pthread_mutex_unlock(&W.mu);
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < W.lane[k].n_threads; i++)
			pthread_join(W.lane[k].th[i], NULL);
	pthread_mutex_lock(&W.mu);
	W.lane[0].n_threads = W.lane[1].n_threads = 0;
	W.stop = false;
	pthread_mutex_unlock(&W.mu);
	if (W.efd >= 0) {
		loop_remove_owner(&W);
		close(W.efd);
		W.efd = -1;
	}
}

void work_stats(struct work_stats *ret)
{
	pthread_mutex_lock(&W.mu);
	*ret = W.st;
	ret->threads = W.lane[0].n_threads + W.lane[1].n_threads;
	ret->queued = W.lane[0].queued + W.lane[1].queued;
	ret->running = W.lane[0].running + W.lane[1].running;
	pthread_mutex_unlock(&W.mu);
}
