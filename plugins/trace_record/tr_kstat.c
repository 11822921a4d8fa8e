// SPDX-License-Identifier: MIT
/*
 * Interrupts the kernel ran no BPF program for, counted.
 *
 * A kernel can leave our programs out of some contexts while ftrace's own
 * probes on the same tracepoints run: the sandbox kernel of our development
 * VM runs no BPF program while a thread of pid 1 (its agent) is current,
 * even in a hardirq or softirq that lands on that thread (docs/plugins/
 * trace_record.md, "Events the kernel hides from BPF"). Nothing in our
 * programs runs then, so they cannot count it. The kernel counts every
 * handled interrupt and every softirq run per CPU anyway (/proc/interrupts,
 * /proc/softirqs, bumped right before the tracepoints fire); our programs
 * count the entries they see per CPU. Read both at the same instant after the
 * attach and again before the detach: per CPU, the kernel's delta less ours
 * is the number of irq (softirq) episodes we were not called for, each an
 * entry and an exit. Wakeups and migrations made inside them are lost too;
 * nothing counts those (the docs say so).
 *
 * An irq line with shared handlers runs one handler (one irq_handler_entry)
 * per action per interrupt: its count is multiplied by the actions listed.
 * When the lines or the CPUs differ between the two reads (an irq freed or
 * requested, a CPU on- or offline) there is no count. The count can be off
 * by a few either way: a handler the kernel counted but did not call (a line
 * disabled meanwhile) reads as hidden; an edge irq replayed from its pending
 * flag runs the handler without a second kernel count and hides one; an
 * entry between the kernel's count and the tracepoint at the second read is
 * counted as hidden (at most one a CPU).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <schedmcp/fsread.h>

#include "tr.h"
#include "tr_kstat.h"
#include "trace_record.skel.h"

#define PROC_MAX (16u << 20) /* /proc/interrupts of 1024 CPUs stays far below */
#define SNAP_TRIES 50
#define SNAP_NS 50000000ull /* reading at most 50 ms for one snapshot */

static int read_proc(const char *root, const char *path, bool irqs, uint64_t *out,
		     uint32_t ncpus, uint64_t *shape, char **buf, size_t *cap)
{
	ssize_t len = smcp_read_all(root, path, PROC_MAX, buf, cap);

	if (len < 0)
		return (int)len;
	memset(out, 0, ncpus * sizeof(*out));
	return tr_kstat_parse(*buf, (size_t)len, irqs, out, ncpus, shape);
}

static void read_seen(const struct tr_rec *r, uint32_t n, uint64_t *irq, uint64_t *soft)
{
	for (uint32_t c = 0; c < n; c++) {
		irq[c] = __atomic_load_n(&r->skel->bss->stats[c].s.seen[TR_IRQ_ENTRY],
					 __ATOMIC_RELAXED);
		soft[c] = __atomic_load_n(&r->skel->bss->stats[c].s.seen[TR_SOFTIRQ_ENTRY],
					  __ATOMIC_RELAXED);
	}
}

void tr_kstat_free(struct tr_kstat *k)
{
	free(k->irq);
	k->irq = k->soft = k->seen_irq = k->seen_soft = NULL;
	k->ok = false;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tr_kstat_snap(struct tr_rec *r, struct tr_kstat *k)
{
	const char *root = r->p->api->fs_root(r->p->h);
	uint32_t n = r->ncpus < TR_MAX_CPUS ? r->ncpus : TR_MAX_CPUS, left = n;
	uint64_t *irq, *soft, *i0, *s0, *i1, *s1, t_end = mono_ns() + SNAP_NS;
	uint64_t shape_irq = 0, shape_soft = 0;
	bool *done;
	char *buf = NULL;
	size_t cap = 0;
	int err = 0;

	k->ok = false;
	if (!k->irq) {
		k->irq = calloc((size_t)n * 4, sizeof(uint64_t));
		if (!k->irq)
			return -ENOMEM;
		k->soft = k->irq + n;
		k->seen_irq = k->soft + n;
		k->seen_soft = k->seen_irq + n;
	}
	irq = calloc((size_t)n * 6, sizeof(uint64_t));
	done = calloc(n, sizeof(*done));
	if (!irq || !done) {
		free(irq);
		free(done);
		return -ENOMEM;
	}
	soft = irq + n;
	i0 = soft + n; /* the programs' counts before the read, and after */
	s0 = i0 + n;
	i1 = s0 + n;
	s1 = i1 + n;
	/* A CPU's pair is one instant when no entry our programs saw on it
	 * happened while /proc was read (one that we did not see is the
	 * kernel's either way). CPUs are taken one by one, from whichever read
	 * they were quiet in, as long as the lines and CPUs (the shapes) stay
	 * the same; a busy CPU is retried, for SNAP_TRIES reads and SNAP_NS at
	 * most. */
	for (int t = 0; t < SNAP_TRIES && left && mono_ns() < t_end; t++) {
		uint64_t si, ss;

		read_seen(r, n, i0, s0);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		err = read_proc(root, "/proc/interrupts", true, irq, n, &si, &buf, &cap);
		if (!err)
			err = read_proc(root, "/proc/softirqs", false, soft, n, &ss, &buf, &cap);
		if (err)
			break;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (left < n && (si != shape_irq || ss != shape_soft)) {
			memset(done, 0, n * sizeof(*done)); /* lines changed: start over */
			left = n;
		}
		shape_irq = si;
		shape_soft = ss;
		read_seen(r, n, i1, s1);
		for (uint32_t c = 0; c < n; c++) {
			if (done[c] || i1[c] != i0[c] || s1[c] != s0[c])
				continue;
			k->irq[c] = irq[c];
			k->soft[c] = soft[c];
			k->seen_irq[c] = i1[c];
			k->seen_soft[c] = s1[c];
			done[c] = true;
			left--;
		}
	}
	k->shape_irq = shape_irq;
	k->shape_soft = shape_soft;
	free(buf);
	free(irq);
	free(done);
	if (!err && left)
		err = -EAGAIN;
	k->ok = !err;
	return err;
}

void tr_kstat_count(struct tr_rec *r, const struct tr_kstat *k0, const struct tr_kstat *k1)
{
	uint32_t n = r->ncpus < TR_MAX_CPUS ? r->ncpus : TR_MAX_CPUS;

	/* other lines or CPUs at the end than at the start: the sums' difference
	 * would be a line's or a CPU's whole history (or wrap), so no count */
	if (k0->shape_irq != k1->shape_irq || k0->shape_soft != k1->shape_soft)
		return;
	for (uint32_t c = 0; c < n; c++)
		if (k1->irq[c] < k0->irq[c] || k1->soft[c] < k0->soft[c])
			return;
	for (uint32_t c = 0; c < n; c++) {
		uint64_t dk = k1->irq[c] - k0->irq[c], ds = k1->seen_irq[c] - k0->seen_irq[c];
		uint64_t hi = dk > ds ? dk - ds : 0, hs;

		dk = k1->soft[c] - k0->soft[c];
		ds = k1->seen_soft[c] - k0->seen_soft[c];
		hs = dk > ds ? dk - ds : 0;
		r->cpu[c].hidden = 2 * (hi + hs);
		r->hidden[TR_IRQ_ENTRY] += hi;
		r->hidden[TR_IRQ_EXIT] += hi;
		r->hidden[TR_SOFTIRQ_ENTRY] += hs;
		r->hidden[TR_SOFTIRQ_EXIT] += hs;
	}
	r->hidden_counted = true;
}
