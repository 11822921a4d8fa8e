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

static struct {
	pthread_mutex_t mu;
	pthread_cond_t more; /* a job was queued, or stop */
	pthread_cond_t idle; /* nothing queued or running */
	struct job *q_head, *q_tail;
	struct job *d_head, *d_tail; /* finished, done not yet run */
	uint32_t queued, running;
	pthread_t th[MAX_THREADS];
	uint32_t n_threads, max_threads;
	bool stop;
	int efd; /* a worker's "something finished" to the loop */
	struct work_stats st;
} W = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.more = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.max_threads = 2,
	.efd = -1,
};

void work_configure(uint32_t threads)
{
	W.max_threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker(void *arg)
{
	/* long work yields to the loop, which answers every session: at nice
	 * +10 a busy worker gets a tenth of the CPU the loop gets when both
	 * want it (a thread's own nice, Linux only; raising it needs nothing) */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORK_NICE);
	pthread_mutex_lock(&W.mu);
	for (;;) {
		struct job *j;
		uint64_t t0, dt, one = 1;

		while (!W.q_head && !W.stop)
			pthread_cond_wait(&W.more, &W.mu);
		if (!W.q_head)
			break;
		j = W.q_head;
		W.q_head = j->next;
		if (!W.q_head)
			W.q_tail = NULL;
		W.queued--;
		W.running++;
		pthread_mutex_unlock(&W.mu);

		/* this thread's capabilities: those of the job's plugin */
		privs_thread_enter(j->owner);
		t0 = now_ns();
		j->result = j->fn(j->data);
		dt = now_ns() - t0;

		pthread_mutex_lock(&W.mu);
		W.running--;
		j->next = NULL;
		if (W.d_tail)
			W.d_tail->next = j;
		else
			W.d_head = j;
		W.d_tail = j;
		if (dt > W.st.longest_ns)
			W.st.longest_ns = dt;
		if (!W.queued && !W.running)
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

int work_submit(const void *owner, int (*fn)(void *data), void (*done)(void *data, int result),
		void *data)
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
	if (W.queued >= WORK_MAX_QUEUED) {
		W.st.busy_refused++;
		pthread_mutex_unlock(&W.mu);
		free(j);
		return -EBUSY;
	}
	/* one more thread when every one is busy */
	if (W.n_threads < W.max_threads && W.queued + W.running >= W.n_threads) {
		err = pthread_create(&W.th[W.n_threads], NULL, worker, NULL);
		if (!err)
			W.n_threads++;
		else if (!W.n_threads) {
			pthread_mutex_unlock(&W.mu);
			free(j);
			log_err("cannot start a worker thread: %s", strerror(err));
			return -err;
		}
	}
	if (W.q_tail)
		W.q_tail->next = j;
	else
		W.q_head = j;
	W.q_tail = j;
	W.queued++;
	W.st.submitted++;
	pthread_cond_signal(&W.more);
	pthread_mutex_unlock(&W.mu);
	return 0;
}

void work_drain(void)
{
	for (;;) {
		bool more;

		pthread_mutex_lock(&W.mu);
		while (W.queued || W.running)
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
	pthread_cond_broadcast(&W.more);
	pthread_mutex_unlock(&W.mu);
	for (uint32_t i = 0; i < W.n_threads; i++)
		pthread_join(W.th[i], NULL);
	pthread_mutex_lock(&W.mu);
	W.n_threads = 0;
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
	ret->threads = W.n_threads;
	ret->queued = W.queued;
	ret->running = W.running;
	pthread_mutex_unlock(&W.mu);
}
