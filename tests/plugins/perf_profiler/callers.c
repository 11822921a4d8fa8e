/* SPDX-License-Identifier: MIT */
/*
 * One leaf with two callers, for the callers tree (test_callers.py):
 *
 *   main -> run -> hot_path  -> work   (7 of every 10 work units)
 *               -> cold_path -> work   (3 of every 10)
 *
 * Built with -g, so every frame has a source line to compare with addr2line.
 *
 * Usage: pp-callers SECONDS   (prints "ready PID" on stdout, then spins)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define UNIT 20000

volatile uint64_t sink;

uint64_t work(uint64_t n);
uint64_t hot_path(uint64_t seed);
uint64_t cold_path(uint64_t seed);
uint64_t run(double seconds);

/* not static, noinline, noclone: the names must survive as written */
__attribute__((noinline, noclone)) uint64_t work(uint64_t n)
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

__attribute__((noinline, noclone)) uint64_t hot_path(uint64_t seed)
{
	uint64_t acc = 0;

	for (int i = 0; i < 7; i++)
		acc += work(seed + (uint64_t)i);
	__asm__ volatile("" : "+r"(acc));
	return acc;
}

__attribute__((noinline, noclone)) uint64_t cold_path(uint64_t seed)
{
	uint64_t acc = 0;

	for (int i = 0; i < 3; i++)
		acc += work(seed ^ (uint64_t)i);
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
		for (int k = 0; k < 64; k++) {
			acc += hot_path(rounds);
			acc += cold_path(rounds);
			rounds++;
		}
	}
	sink = acc;
	return rounds;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	printf("rounds %llu\n", (unsigned long long)run(seconds));
	return 0;
}
