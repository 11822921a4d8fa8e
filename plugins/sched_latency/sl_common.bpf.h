/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the sched_latency BPF objects. Include after vmlinux.h. */
#ifndef SL_COMMON_BPF_H
#define SL_COMMON_BPF_H

#include "sched_latency.h"

static __always_inline __u32 sl_log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 sl_log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? sl_log2_u32(hi) + 32 : sl_log2_u32((__u32)v);
}

/* Bucket of a latency in ns; layout in sched_latency.h. */
static __always_inline __u32 sl_bucket(__u64 ns)
{
	/* quarter microseconds: ns / 250 as a multiply and shift, exact below
	 * 2^32 ns (ceil(2^36 / 250) * 250 - 2^36 = 14 <= 2^(36 - 32)); a
	 * division costs the hot path ~10 ns, twice per context switch */
	__u64 q = ns < (1ull << 32) ? (ns * 274877907ull) >> 36 : ns / 250;
	__u32 k, b;

	if (q < 4)
		return (__u32)q;
	k = sl_log2_u64(q) - 2; /* q in [4 * 2^k, 8 * 2^k) */
	if (k >= SL_HIST_OCTAVES)
		return SL_HIST_BUCKETS - 1;
	b = 4 + 4 * k + (__u32)((q >> k) - 4);
	return b < SL_HIST_BUCKETS ? b : SL_HIST_BUCKETS - 1;
}

/*
 * A bucket index the verifier can see is in bounds: the barrier makes the
 * compiler check the 64-bit value it then indexes with (a 32-bit index gets
 * zero-extended into a register the verifier no longer links to the check).
 */
static __always_inline __u64 sl_hidx(__u32 b)
{
	__u64 i = b;

	asm volatile("" : "+r"(i));
	if (i >= SL_HIST_BUCKETS)
		i = SL_HIST_BUCKETS - 1;
	return i;
}

#endif
