/* SPDX-License-Identifier: MIT */
/*
 * The parser of /proc/interrupts and /proc/softirqs behind tr_kstat.c, apart
 * so that it is tested without a kernel (tests/plugins/trace_record/
 * tr_kstat_test.c).
 */
#ifndef TR_KSTAT_H
#define TR_KSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds buf's (len bytes, NUL-terminated) per-CPU counts into out[0..ncpus)
 * (columns named by the "CPUn" header; CPUs at or past ncpus are left out).
 * /proc/softirqs: every row. /proc/interrupts (irqs): only the "NN:" rows,
 * whose interrupts run irq_handler_entry (local timer, IPIs, NMIs... do not),
 * each times its actions, the ", "-separated names that end a shared line.
 * *shape: a hash of the CPU columns and of each counted row's label, action
 * count and columns; two texts of one shape sum the same lines, so their
 * difference counts what happened between them (an irq freed or requested,
 * a CPU on- or offline, a second action on a line change it). 0, or -EINVAL
 * when the header is not a CPU list. */
int tr_kstat_parse(const char *buf, size_t len, bool irqs, uint64_t *out, uint32_t ncpus,
		   uint64_t *shape);

#endif
