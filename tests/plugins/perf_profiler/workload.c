/* SPDX-License-Identifier: MIT */
/*
 * A CPU-bound workload with known hot functions, for the profiler tests.
 *
 *   main -> run -> caller_a -> leaf_a   (7 of every 10 work units)
 *               -> caller_b -> leaf_b   (3 of every 10)
 *
 * leaf_a and leaf_b do the same work per unit, so a profile must show them
 * as the top user symbols at about 70% and 30% of the workload's samples,
 * with caller_a/caller_b beneath them. The build compiles this file with
 * and without frame pointers, and once with only .debug_frame CFI.
 *
 * Usage: workload SECONDS   (prints "ready PID" on stdout, then spins)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define UNIT 20000

volatile uint64_t sink;

uint64_t leaf_a(uint64_t n);
uint64_t leaf_b(uint64_t n);
uint64_t caller_a(uint64_t seed);
uint64_t caller_b(uint64_t seed);
uint64_t run(double seconds);

/*
 * Not static: the names must survive as they are (no .constprop clones).
 * The leaves keep a value on the stack: GCC gives a leaf that touches no
 * stack no frame even with -fno-omit-frame-pointer, and the frame-pointer
 * build must have real frames everywhere.
 */
__attribute__((noinline, noclone)) uint64_t leaf_a(uint64_t n)
{
	volatile uint64_t keep = n;
	uint64_t x = keep;

	for (int i = 0; i < UNIT; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	keep = x;
	return keep;
}

__attribute__((noinline, noclone)) uint64_t leaf_b(uint64_t n)
{
	volatile uint64_t keep = n ^ 0x9e3779b97f4a7c15ULL;
	uint64_t x = keep;

	for (int i = 0; i < UNIT; i++) {
		x = x * 2862933555777941757ULL + 3037000493ULL;
		__asm__ volatile("" : "+r"(x));
	}
	keep = x;
	return keep;
}

__attribute__((noinline, noclone)) uint64_t caller_a(uint64_t seed)
{
	uint64_t acc = 0;

	for (int i = 0; i < 7; i++)
		acc += leaf_a(seed + (uint64_t)i);
	__asm__ volatile("" : "+r"(acc));
	return acc;
}

__attribute__((noinline, noclone)) uint64_t caller_b(uint64_t seed)
{
	uint64_t acc = 0;

	for (int i = 0; i < 3; i++)
		acc += leaf_b(seed + (uint64_t)i);
	__asm__ volatile("" : "+r"(acc));
	return acc;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline, noclone)) uint64_t run(double seconds)
{
	double end = now_s() + seconds;
	uint64_t rounds = 0, acc = 0;

	while (now_s() < end) {
		/* check the clock every 64 rounds: clock_gettime stays out of the profile */
		for (int k = 0; k < 64; k++) {
			acc += caller_a(rounds);
			acc += caller_b(rounds);
			rounds++;
		}
	}
	sink = acc;
	return rounds;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;
	uint64_t rounds;

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	rounds = run(seconds);
	printf("rounds %llu\n", (unsigned long long)rounds);
	return 0;
}
