/* SPDX-License-Identifier: MIT */
/* The trace model (ta.h): growth under a memory limit, the thread table,
 * per-CPU time order and the merge across CPUs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#include "ta.h"
#include "ta_stacks.h"

#define TA_MAX_CPUS 4096

struct ta_trace *ta_trace_new(const char *name, const char *format, size_t mem_limit)
{
	struct ta_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	snprintf(t->format, sizeof(t->format), "%s", format ? format : "");
	smcp_hashmap_init(&t->th_idx, NULL, NULL, NULL, 1u << 22);
	t->mem_limit = mem_limit;
	return t;
}

void ta_trace_free(struct ta_trace *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n_cpus; i++)
		free(t->cpus[i].ev);
	free(t->cpus);
	free(t->th);
	for (uint32_t i = 0; i < t->n_ctracks; i++)
		free(t->ctracks[i].s);
	free(t->ctracks);
	ta_stacks_free(t->stacks);
	smcp_hashmap_free(&t->th_idx);
	free(t);
}

size_t ta_trace_mem(const struct ta_trace *t)
{
	size_t m = sizeof(*t) + t->n_cpus * sizeof(struct ta_cpu) +
		   t->cap_th * sizeof(struct ta_thread) + smcp_hashmap_bytes(&t->th_idx);

	for (uint32_t i = 0; i < t->n_cpus; i++)
		m += t->cpus[i].cap * sizeof(struct ta_ev);
	m += t->n_ctracks * sizeof(struct ta_ctrack);
	for (uint32_t i = 0; i < t->n_ctracks; i++)
		m += t->ctracks[i].cap_s * sizeof(struct ta_csample);
	return m + ta_stacks_mem(t->stacks);
}

/* Whether growing by add bytes stays within the limit. */
static bool fits(const struct ta_trace *t, size_t add)
{
	return !t->mem_limit || ta_trace_mem(t) + add <= t->mem_limit;
}

int ta_trace_csample(struct ta_trace *t, struct ta_ctrack *c, uint64_t ts, double v)
{
	if (c->ns == c->cap_s) {
		size_t cap = c->cap_s ? c->cap_s * 2 : 256;
		struct ta_csample *ns;

		if (!fits(t, (cap - c->cap_s) * sizeof(*ns)))
			return -EFBIG;
		ns = realloc(c->s, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		c->s = ns;
		c->cap_s = cap;
	}
	c->s[c->ns].ts = ts;
	c->s[c->ns++].v = v;
	return 0;
}

int ta_trace_add(struct ta_trace *t, uint32_t cpu, const struct ta_ev *ev)
{
	struct ta_cpu *c;

	if (cpu >= TA_MAX_CPUS)
		return -EINVAL;
	if (cpu >= t->n_cpus) {
		struct ta_cpu *nc;

		if (!fits(t, (cpu + 1 - t->n_cpus) * sizeof(*nc)))
			return -EFBIG;
		nc = realloc(t->cpus, (cpu + 1) * sizeof(*nc));
		if (!nc)
			return -ENOMEM;
		memset(nc + t->n_cpus, 0, (cpu + 1 - t->n_cpus) * sizeof(*nc));
		t->cpus = nc;
		t->n_cpus = cpu + 1;
	}
	c = &t->cpus[cpu];
	if (c->n >= c->cap) {
		if (!fits(t, (c->cap ? c->cap : 256) * sizeof(struct ta_ev)))
			return -EFBIG;
		if (smcp_array_grow(&c->ev, &c->cap, c->n, sizeof(struct ta_ev), 256))
			return -ENOMEM;
	}
	c->ev[c->n++] = *ev;
	if (ev->type < TA_EV_N)
		t->counts[ev->type]++;
	/* read by the loop's progress timer while a worker loads */
	__atomic_store_n(&t->n_events, t->n_events + 1, __ATOMIC_RELAXED);
	return 0;
}

struct ta_thread *ta_trace_thread(struct ta_trace *t, int32_t tid, int32_t tgid,
				  const char *comm, size_t comm_len, bool overwrite)
{
	struct smcp_hashmap_entry *e = smcp_hashmap_find(&t->th_idx, (uint64_t)(uint32_t)tid);
	struct ta_thread *th;

	if (e) {
		th = &t->th[e->value];
	} else {
		if (t->n_th >= t->cap_th && !fits(t, (t->cap_th ? t->cap_th : 64) * (sizeof(*th) + 40)))
			return NULL;
		if (smcp_array_grow(&t->th, &t->cap_th, t->n_th, sizeof(*th), 64))
			return NULL;
		if (smcp_hashmap_insert(&t->th_idx, (uint64_t)(uint32_t)tid, t->n_th, &e) < 0)
			return NULL;
		th = &t->th[t->n_th++];
		memset(th, 0, sizeof(*th));
		th->tid = tid;
		th->prio = INT32_MIN;
		overwrite = true;
	}
	if (tgid > 0)
		th->tgid = tgid;
	if (comm && comm_len && (overwrite || !th->comm[0])) {
		size_t n = strnlen(comm, comm_len);

		if (n >= sizeof(th->comm))
			n = sizeof(th->comm) - 1;
		memcpy(th->comm, comm, n);
		th->comm[n] = '\0';
	}
	return th;
}

const struct ta_thread *ta_trace_find(const struct ta_trace *t, int32_t tid)
{
	const struct smcp_hashmap_entry *e = smcp_hashmap_find(&t->th_idx, (uint64_t)(uint32_t)tid);

	return e ? &t->th[e->value] : NULL;
}

/* Stable merge sort by time: bundles of one CPU may come out of order. */
static int sort_events(struct ta_ev *ev, size_t n, uint64_t *unordered)
{
	struct ta_ev *tmp;
	size_t bad = 0;

	for (size_t i = 1; i < n; i++)
		bad += ev[i].ts < ev[i - 1].ts;
	*unordered += bad;
	if (!bad)
		return 0;
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				tmp[k++] = ev[j].ts < ev[i].ts ? ev[j++] : ev[i++];
			while (i < mid)
				tmp[k++] = ev[i++];
			while (j < hi)
				tmp[k++] = ev[j++];
		}
		memcpy(ev, tmp, n * sizeof(*tmp));
	}
	free(tmp);
	return 0;
}

int ta_trace_finish(struct ta_trace *t)
{
	bool any = false;

	for (uint32_t c = 0; c < t->n_cpus; c++) {
		struct ta_cpu *cp = &t->cpus[c];
		int32_t cur = TA_PID_UNKNOWN;
		int err = sort_events(cp->ev, cp->n, &t->unordered_events);

		if (err)
			return err;
		for (size_t i = 0; i < cp->n; i++) {
			struct ta_ev *e = &cp->ev[i];

			int32_t pa = e->a, pb = 0;

			if (e->type == TA_EV_SWITCH) {
				if (e->a == TA_PID_UNKNOWN)
					e->a = cur; /* compact_sched: the previous switch's next */
				pa = e->a;
				pb = cur = e->b;
			} else if (e->type == TA_EV_FORK) {
				pb = e->b;
			} else if (e->type > TA_EV_MIGRATE && e->type != TA_EV_EXIT &&
				   e->type != TA_EV_WAKEUP) {
				continue;
			}
			/* every pid an event names has a thread (the replay only looks up) */
			struct ta_thread *ta = pa > 0 ? ta_trace_thread(t, pa, 0, NULL, 0, false) : NULL;
			struct ta_thread *tb = pb > 0 ? ta_trace_thread(t, pb, 0, NULL, 0, false) : NULL;

			if ((pa > 0 && !ta) || (pb > 0 && !tb))
				return -EFBIG;
			/* the latest priority seen: a switch's next_prio, a wakeup's prio */
			if (e->type == TA_EV_SWITCH && tb)
				tb->prio = e->c;
			else if (ta && e->type != TA_EV_MIGRATE && e->type != TA_EV_EXIT &&
				 e->type != TA_EV_FORK)
				ta->prio = e->c;
		}
		if (cp->n) {
			if (!any || cp->ev[0].ts < t->first_ts)
				t->first_ts = cp->ev[0].ts;
			if (!any || cp->ev[cp->n - 1].ts > t->last_ts)
				t->last_ts = cp->ev[cp->n - 1].ts;
			any = true;
		}
		t->lost_events += cp->lost;
	}
	return 0;
}

uint8_t ta_pstate_of(int64_t s)
{
	/* The kernel's report bits: 0 R, 1 S, 2 D, 4 T, 8 t, 0x10 X, 0x20 Z,
	 * 0x40 P, 0x80 I; a bit above them (TASK_REPORT_MAX) marks preemption. */
	if (s == 0 || (s & ~0xffLL))
		return TA_PS_RUNNABLE;
	if (s & 0x02)
		return TA_PS_BLOCKED;
	if (s & (0x01 | 0x80))
		return TA_PS_SLEEP;
	if (s & (0x10 | 0x20))
		return TA_PS_DEAD;
	return TA_PS_OTHER;
}

const char *ta_ev_name(int type)
{
	static const char *const names[TA_EV_N] = {
		[TA_EV_SWITCH] = "sched_switch",	 [TA_EV_WAKING] = "sched_waking",
		[TA_EV_WAKEUP_NEW] = "sched_wakeup_new", [TA_EV_MIGRATE] = "sched_migrate_task",
		[TA_EV_IRQ_ENTRY] = "irq_handler_entry", [TA_EV_IRQ_EXIT] = "irq_handler_exit",
		[TA_EV_SOFTIRQ_ENTRY] = "softirq_entry", [TA_EV_SOFTIRQ_EXIT] = "softirq_exit",
		[TA_EV_FORK] = "sched_process_fork",	 [TA_EV_EXIT] = "sched_process_exit",
		[TA_EV_WAKEUP] = "sched_wakeup",
	};

	return type > 0 && type < TA_EV_N ? names[type] : "unknown";
}

int ta_merge_init(struct ta_merge *m, const struct ta_trace *t)
{
	m->t = t;
	m->pos = calloc(t->n_cpus ? t->n_cpus : 1, sizeof(*m->pos));
	return m->pos ? 0 : -ENOMEM;
}

const struct ta_ev *ta_merge_next(struct ta_merge *m, uint32_t *ret_cpu)
{
	const struct ta_trace *t = m->t;
	const struct ta_ev *best = NULL;
	uint32_t bc = 0;

	for (uint32_t c = 0; c < t->n_cpus; c++) {
		const struct ta_cpu *cp = &t->cpus[c];

		if (m->pos[c] < cp->n && (!best || cp->ev[m->pos[c]].ts < best->ts)) {
			best = &cp->ev[m->pos[c]];
			bc = c;
		}
	}
	if (best) {
		m->pos[bc]++;
		*ret_cpu = bc;
	}
	return best;
}

void ta_merge_free(struct ta_merge *m)
{
	free(m->pos);
	m->pos = NULL;
}
