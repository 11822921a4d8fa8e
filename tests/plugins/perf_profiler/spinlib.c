/* SPDX-License-Identifier: MIT */
/*
 * A shared library that burns CPU in its own code, for the hostile-file
 * tests (test_hostile.py): the profiled process spins in pp_spin_ms, so its
 * samples land in this file's mapping and the profiler must read the file.
 */
#include <stdint.h>
#include <time.h>

__attribute__((visibility("default"))) uint64_t pp_spin_ms(unsigned int ms);

volatile uint64_t pp_spin_sink;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Spin for ms milliseconds, nearly all of it in this loop (not the vDSO). */
__attribute__((noinline)) uint64_t pp_spin_ms(unsigned int ms)
{
	uint64_t end = now_ms() + ms, x = pp_spin_sink;

	do {
		for (int i = 0; i < 200000; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			__asm__ volatile("" : "+r"(x));
		}
	} while (now_ms() < end);
	pp_spin_sink = x;
	return x;
}
