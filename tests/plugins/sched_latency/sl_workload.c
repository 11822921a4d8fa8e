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
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
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
	fprintf(stderr, "usage: sl-workload pingpong SECONDS [CPU] | hog SECONDS CPU | spawn N | "
			"sleeper SECONDS\n");
	return 2;
}
