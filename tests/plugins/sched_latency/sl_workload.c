/* SPDX-License-Identifier: MIT */
/*
 * Workloads with a known shape for the sched_latency tests and benchmark.
 *
 *   sl-workload pingpong SECONDS [CPU]   two processes bounce a byte through
 *                                        pipes; prints "pids A B" at start and
 *                                        "round_trips N" at the end
 *   sl-workload hog SECONDS CPU          one busy loop pinned to CPU
 *   sl-workload spawn N                  N children that exit at once, one
 *                                        after another; prints "spawned N"
 *   sl-workload sleeper SECONDS          sleeps (a process that exists but
 *                                        hardly runs)
 *   sl-workload threads N ROUNDS HOLD_S  N threads (N even, at most 4096)
 *                                        ping-pong ROUNDS round trips in pairs,
 *                                        then block; prints "pids PID", "tids
 *                                        T...", "parked" once all are blocked
 *                                        (give them a moment), holds them
 *                                        HOLD_S seconds, lets them exit, joins
 *                                        them, prints "joined", holds HOLD_S
 *                                        seconds more
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("sched_setaffinity");
}

static int pingpong(double seconds, int cpu)
{
	int ab[2], ba[2];
	unsigned long long n = 0;
	char c = 'x';
	pid_t child;
	double end;

	if (pipe(ab) || pipe(ba))
		return 1;
	pin(cpu);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &c, 1) == 1)
			if (write(ba[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(ab[0]);
	close(ba[1]);
	printf("pids %d %d\n", (int)getpid(), (int)child);
	fflush(stdout);
	end = now_s() + seconds;
	while (now_s() < end) {
		for (int i = 0; i < 256; i++, n++)
			if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
				return 1;
	}
	close(ab[1]);
	waitpid(child, NULL, 0);
	printf("round_trips %llu\n", n);
	return 0;
}

static int hog(double seconds, int cpu)
{
	volatile unsigned long x = 0;
	double end = now_s() + seconds;

	pin(cpu);
	printf("pids %d\n", (int)getpid());
	fflush(stdout);
	while (now_s() < end)
		for (int i = 0; i < 100000; i++)
			x++;
	return 0;
}

static int spawn(long n)
{
	long done = 0;

	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0) {
			perror("fork");
			break;
		}
		if (p == 0)
			_exit(0);
		if (waitpid(p, NULL, 0) == p)
			done++;
	}
	printf("spawned %ld\n", done);
	return done == n ? 0 : 1;
}

#define MAX_THREADS 4096

struct worker {
	pthread_t th;
	int rd, wr; /* this thread's end of its pair's two pipes */
	bool first; /* writes first */
	long rounds;
	int park; /* read end that blocks until the test is done */
	volatile pid_t tid;
};

static volatile int workers_parked;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char c = 'x';

	w->tid = gettid();
	for (long i = 0; i < w->rounds; i++) {
		if (w->first && write(w->wr, &c, 1) != 1)
			break;
		if (read(w->rd, &c, 1) != 1)
			break;
		if (!w->first && write(w->wr, &c, 1) != 1)
			break;
	}
	__sync_fetch_and_add(&workers_parked, 1);
	/* blocks until main closes the other end */
	while (read(w->park, &c, 1) > 0)
		;
	return NULL;
}

static int threads(long n, long rounds, unsigned hold)
{
	static struct worker w[MAX_THREADS];
	int park[2];

	if (n < 2 || n > MAX_THREADS || n % 2 || pipe(park))
		return 2;
	printf("pids %d\n", (int)getpid());
	for (long i = 0; i < n; i += 2) {
		int ab[2], ba[2];

		if (pipe(ab) || pipe(ba)) {
			perror("pipe");
			return 1;
		}
		w[i] = (struct worker){ .rd = ba[0], .wr = ab[1], .first = true, .rounds = rounds,
					.park = park[0] };
		w[i + 1] = (struct worker){ .rd = ab[0], .wr = ba[1], .first = false,
					    .rounds = rounds, .park = park[0] };
	}
	for (long i = 0; i < n; i++) {
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i])) {
			fprintf(stderr, "pthread_create failed at %ld\n", i);
			return 1;
		}
	}
	while (workers_parked < n)
		usleep(10000);
	printf("tids");
	for (long i = 0; i < n; i++)
		printf(" %d", (int)w[i].tid);
	printf("\nparked\n");
	fflush(stdout);
	sleep(hold);
	close(park[1]);
	for (long i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);
	printf("joined\n");
	fflush(stdout);
	sleep(hold);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "pingpong") == 0)
		return pingpong(atof(argv[2]), argc > 3 ? atoi(argv[3]) : -1);
	if (argc >= 4 && strcmp(argv[1], "hog") == 0)
		return hog(atof(argv[2]), atoi(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "spawn") == 0)
		return spawn(atol(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "sleeper") == 0) {
		printf("pids %d\n", (int)getpid());
		fflush(stdout);
		sleep((unsigned)atoi(argv[2]));
		return 0;
	}
	if (argc >= 5 && strcmp(argv[1], "threads") == 0)
		return threads(atol(argv[2]), atol(argv[3]), (unsigned)atoi(argv[4]));
	fprintf(stderr, "usage: sl-workload pingpong SECONDS [CPU] | hog SECONDS CPU | spawn N | "
			"sleeper SECONDS | threads N ROUNDS HOLD_S\n");
	return 2;
}
