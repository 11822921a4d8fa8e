/* SPDX-License-Identifier: MIT */
/*
 * scxlab-load: a small load generator for the lab, so the guest needs no
 * hackbench. PAIRS pairs of processes ping-pong one byte over pipes (each
 * round trip is two wakeups, so tasks keep entering the scheduler's DSQs)
 * while SPINNERS processes burn CPU (so woken tasks have to wait their
 * turn, which gives the DSQ latency histograms something to measure).
 * Runs until SIGTERM/SIGINT or for SECONDS (0: forever); prints the number
 * of round trips when it stops. It runs at nice NICE (default 10): the lab's
 * schedulers ignore nice (all but the vtime one), so the DSQs still fill,
 * while under the fair class (and in the lab's TCG guest, where the BPF
 * verifier is slow) loading the next scheduler is not starved.
 *
 * usage: scxlab-load [PAIRS [SPINNERS [SECONDS [NICE]]]]   (defaults 4 1 0 10)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void pinger(int rd, int wr, unsigned long *count)
{
	char b = 0;

	while (!stop) {
		if (write(wr, &b, 1) != 1 || read(rd, &b, 1) != 1)
			break;
		__atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

static void ponger(int rd, int wr)
{
	char b;

	while (!stop && read(rd, &b, 1) == 1)
		if (write(wr, &b, 1) != 1)
			break;
	_exit(0);
}

static void spinner(void)
{
	volatile unsigned long x = 0;

	while (!stop)
		x++;
	_exit(0);
}

static long arg(int argc, char **argv, int i, long def, long max)
{
	char *end;
	long v;

	if (argc <= i)
		return def;
	v = strtol(argv[i], &end, 10);
	if (*end || v < 0 || v > max) {
		fprintf(stderr, "scxlab-load: bad argument '%s' (0..%ld)\n", argv[i], max);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	long pairs = arg(argc, argv, 1, 4, MAX_PROCS / 2);
	long spinners = arg(argc, argv, 2, 1, MAX_PROCS);
	long seconds = arg(argc, argv, 3, 0, 86400);
	long nice_v = arg(argc, argv, 4, 10, 19);
	struct sigaction sa = { .sa_handler = on_signal };
	pid_t kids[MAX_PROCS * 2];
	int nkids = 0;
	unsigned long *count;
	struct timespec t0, t1;

	count = mmap(NULL, sizeof(*count), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (count == MAP_FAILED) {
		perror("scxlab-load: mmap");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (setpriority(PRIO_PROCESS, 0, (int)nice_v))
		perror("scxlab-load: setpriority");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < pairs; i++) {
		int ab[2], ba[2];
		pid_t a, b;

		if (pipe(ab) || pipe(ba)) {
			perror("scxlab-load: pipe");
			break;
		}
		a = fork();
		if (a == 0)
			pinger(ba[0], ab[1], count);
		b = fork();
		if (b == 0)
			ponger(ab[0], ba[1]);
		close(ab[0]);
		close(ab[1]);
		close(ba[0]);
		close(ba[1]);
		if (a > 0)
			kids[nkids++] = a;
		if (b > 0)
			kids[nkids++] = b;
	}
	for (long i = 0; i < spinners; i++) {
		pid_t s = fork();

		if (s == 0)
			spinner();
		if (s > 0)
			kids[nkids++] = s;
	}
	printf("scxlab-load: %ld ping-pong pairs and %ld spinners running at nice %ld\n", pairs,
	       spinners, nice_v);
	fflush(stdout);
	for (long waited = 0; !stop && (!seconds || waited < seconds * 10); waited++)
		usleep(100 * 1000);
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	for (int i = 0; i < nkids; i++)
		waitpid(kids[i], NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("scxlab-load: %lu round trips in %.1f s\n", *count,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
