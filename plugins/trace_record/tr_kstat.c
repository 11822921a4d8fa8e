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
 * A handler the kernel counted but did not call (a line disabled meanwhile)
 * would read as hidden: the count errs on the side of a loss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/fsread.h>

#include "tr.h"
#include "tr_kstat.h"
#include "trace_record.skel.h"

#define PROC_MAX (16u << 20) /* /proc/interrupts of 1024 CPUs stays far below */
#define SNAP_TRIES 50

static int read_proc(const char *root, const char *path, bool irqs, uint64_t *out,
		     uint32_t ncpus)
{
	char *buf;
	size_t len;
	int err = smcp_slurp(root, path, PROC_MAX, &buf, &len);

	if (err)
		return err;
	memset(out, 0, ncpus * sizeof(*out));
	err = tr_kstat_parse(buf, len, irqs, out, ncpus);
	free(buf);
	return err;
}

static void read_seen(const struct tr_rec *r, uint64_t *irq, uint64_t *soft)
{
	for (uint32_t c = 0; c < r->ncpus && c < 1024; c++) {
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

int tr_kstat_snap(struct tr_rec *r, struct tr_kstat *k)
{
	const char *root = r->p->api->fs_root(r->p->h);
	uint32_t n = r->ncpus < 1024 ? r->ncpus : 1024;
	uint64_t *again;
	int err = -EAGAIN;

	k->ok = false;
	if (!k->irq) {
		k->irq = calloc((size_t)n * 6, sizeof(uint64_t)); /* and a copy of the seen pair */
		if (!k->irq)
			return -ENOMEM;
		k->soft = k->irq + n;
		k->seen_irq = k->soft + n;
		k->seen_soft = k->seen_irq + n;
	}
	again = k->seen_soft + n;
	/* the pair is one instant when no entry our programs saw happened while
	 * /proc was read (one that we did not see is the kernel's either way) */
	for (int t = 0; t < SNAP_TRIES && err == -EAGAIN; t++) {
		read_seen(r, k->seen_irq, k->seen_soft);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		err = read_proc(root, "/proc/interrupts", true, k->irq, n);
		if (!err)
			err = read_proc(root, "/proc/softirqs", false, k->soft, n);
		if (err)
			break;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		read_seen(r, again, again + n);
		err = memcmp(again, k->seen_irq, n * sizeof(uint64_t)) ||
		      memcmp(again + n, k->seen_soft, n * sizeof(uint64_t)) ? -EAGAIN : 0;
	}
	k->ok = !err;
	return err;
}

void tr_kstat_count(struct tr_rec *r, const struct tr_kstat *k0, const struct tr_kstat *k1)
{
	uint32_t n = r->ncpus < 1024 ? r->ncpus : 1024;

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
