/* SPDX-License-Identifier: MIT */
/*
 * The replay (ta_replay.h). A thread's time is counted from the first event
 * that tells its state; pid 0 (the idle tasks) is not a thread here. The
 * states: running from switch-in to switch-out; runnable from a waking (or
 * wakeup_new) or a switch-out in state R to the next switch-in; sleeping
 * (S, I) or blocked (D) from a switch-out in that state to the waking.
 * Latency samples: waking -> switch-in (kind wake) and preempted switch-out
 * -> switch-in (kind preempt), as perf sched counts scheduling delay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#include "ta_replay.h"

uint32_t ta_thread_index(const struct ta_trace *t, int32_t tid)
{
	const struct smcp_hashmap_entry *e;

	if (tid <= 0)
		return UINT32_MAX;
	e = smcp_hashmap_find(&t->th_idx, (uint64_t)(uint32_t)tid);
	return e ? (uint32_t)e->value : UINT32_MAX;
}

const char *ta_tstate_name(int st)
{
	static const char *const n[TS_N] = { "unknown", "running", "runnable", "sleeping",
					     "blocked", "other", "dead" };

	return st >= 0 && st < TS_N ? n[st] : "unknown";
}

static int close_state(struct ta_replay *r, uint32_t th, uint64_t now, uint32_t other,
		       bool keep)
{
	struct ta_tstat *s = &r->ts[th];

	if (s->st != TS_UNKNOWN && now >= s->since) {
		s->ns[s->st] += now - s->since;
		if (s->st == TS_RUNNING && s->cpu >= 0 && (uint32_t)s->cpu < r->t->n_cpus)
			r->cpu_busy_ns[s->cpu] += now - s->since;
		if (keep && r->iv) {
			if (smcp_array_grow(&r->iv, &r->cap_iv, r->n_iv, sizeof(*r->iv), 4096) ||
			    smcp_array_grow(&r->iv_prev, &r->cap_prev, r->n_iv, sizeof(*r->iv_prev),
					    4096) || r->n_iv >= UINT32_MAX)
				return -ENOMEM;
			r->iv_prev[r->n_iv] = r->iv_last[th];
			r->iv_last[th] = (uint32_t)r->n_iv;
			r->iv[r->n_iv++] = (struct ta_ival){ s->since, now, th, other,
							    (uint16_t)(s->cpu & 0xffff), s->st };
		}
	}
	return 0;
}

static int add_lat(struct ta_replay *r, uint32_t th, uint64_t ns, uint64_t at, uint32_t cpu,
		   uint8_t kind, uint64_t enq_ns)
{
	if (smcp_array_grow(&r->lat, &r->cap_lat, r->n_lat, sizeof(*r->lat), 4096))
		return -ENOMEM;
	r->lat[r->n_lat++] = (struct ta_lat){ .ns = ns, .at = at, .th = th,
					      .enq_ns = enq_ns < UINT32_MAX ? (uint32_t)enq_ns :
					      UINT32_MAX, .cpu = (uint16_t)cpu, .kind = kind };
	if (ns > r->ts[th].max_wait_ns)
		r->ts[th].max_wait_ns = ns;
	return 0;
}

static int count_pair(struct smcp_hashmap *m, uint32_t a, uint32_t b)
{
	struct smcp_hashmap_entry *e;

	if (a == UINT32_MAX || b == UINT32_MAX)
		return 0;
	if (smcp_hashmap_insert(m, (uint64_t)a << 32 | b, 0, &e) < 0)
		return -ENOMEM;
	e->value++;
	return 0;
}

static int on_switch(struct ta_replay *r, const struct ta_ev *e, uint32_t cpu, int32_t *cur)
{
	const struct ta_trace *t = r->t;
	uint32_t prev = ta_thread_index(t, e->a), next = ta_thread_index(t, e->b);
	int err = 0;

	if (prev != UINT32_MAX) {
		struct ta_tstat *s = &r->ts[prev];
		static const uint8_t to[] = { [TA_PS_RUNNABLE] = TS_RUNNABLE,
					      [TA_PS_SLEEP] = TS_SLEEP,
					      [TA_PS_BLOCKED] = TS_BLOCKED,
					      [TA_PS_DEAD] = TS_DEAD,
					      [TA_PS_OTHER] = TS_OTHER };

		if (s->st == TS_RUNNING || s->st == TS_UNKNOWN)
			err = close_state(r, prev, e->ts, UINT32_MAX, true);
		s->st = e->state < sizeof(to) ? to[e->state] : TS_OTHER;
		s->since = e->ts;
		s->cpu = (int32_t)cpu;
		s->woken = 0;
		s->waker = -1;
		if (s->st == TS_RUNNABLE) {
			s->preempted++;
			s->waker = (int32_t)next; /* the preempter, for the interval */
			err = err ?: count_pair(&r->pairs, next, prev);
		} else {
			s->voluntary++;
		}
	}
	if (next != UINT32_MAX && !err) {
		struct ta_tstat *s = &r->ts[next];
		/* a runnable interval names its preempter, not its waker */
		uint32_t other = s->waker >= 0 && !s->woken ? (uint32_t)s->waker : UINT32_MAX;

		if (s->st == TS_RUNNABLE && e->ts >= s->since)
			err = add_lat(r, next, e->ts - s->since, e->ts, cpu,
				      s->woken ? TA_LAT_WAKE : TA_LAT_PREEMPT,
				      s->woken && s->enq_ts >= s->since ? s->enq_ts - s->since :
				      UINT32_MAX);
		err = err ?: close_state(r, next, e->ts, other, true);
		s->st = TS_RUNNING;
		s->since = e->ts;
		s->cpu = (int32_t)cpu;
		s->switches_in++;
		s->waker = -1;
	}
	cur[cpu] = e->b;
	return err;
}

static int on_waking(struct ta_replay *r, const struct ta_ev *e, uint32_t cpu,
		     const int32_t *cur)
{
	uint32_t th = ta_thread_index(r->t, e->a), waker = ta_thread_index(r->t, cur[cpu]);
	struct ta_tstat *s;
	int err;

	if (th == UINT32_MAX)
		return 0;
	s = &r->ts[th];
	if (s->st == TS_RUNNING || s->st == TS_RUNNABLE)
		return 0; /* already on a run queue: nothing changes */
	err = close_state(r, th, e->ts, waker, true);
	s->st = TS_RUNNABLE;
	s->since = e->ts;
	s->woken = 1;
	s->enq_ts = 0;
	s->waker = waker == UINT32_MAX ? -1 : (int32_t)waker;
	s->wakeups++;
	return err ?: count_pair(&r->wakes, waker, th);
}

size_t ta_replay_mem(const struct ta_replay *r)
{
	return sizeof(*r) + r->t->n_th * sizeof(*r->ts) + r->cap_lat * sizeof(*r->lat) +
	       r->cap_iv * sizeof(*r->iv) + r->cap_prev * sizeof(*r->iv_prev) +
	       (r->iv_last ? r->t->n_th * sizeof(*r->iv_last) : 0) + smcp_hashmap_bytes(&r->pairs) +
	       smcp_hashmap_bytes(&r->wakes) + r->t->n_cpus * sizeof(*r->cpu_busy_ns);
}

int ta_replay_run(struct ta_replay *r, const struct ta_trace *t, bool with_intervals)
{
	struct ta_merge m;
	const struct ta_ev *e;
	int32_t *cur = NULL;
	uint64_t *irq_since = NULL;
	uint32_t cpu;
	int err;

	memset(r, 0, sizeof(*r));
	r->t = t;
	smcp_hashmap_init(&r->pairs, NULL, NULL, NULL, 0);
	smcp_hashmap_init(&r->wakes, NULL, NULL, NULL, 0);
	r->ts = calloc(t->n_th ? t->n_th : 1, sizeof(*r->ts));
	cur = calloc(t->n_cpus ? t->n_cpus : 1, sizeof(*cur));
	irq_since = calloc(t->n_cpus ? t->n_cpus : 1, sizeof(*irq_since));
	r->cpu_busy_ns = calloc(t->n_cpus ? t->n_cpus : 1, sizeof(*r->cpu_busy_ns));
	/* sized once from the counts (a switch closes at most two intervals, a
	 * waking one; each switch-in may be a delay): no regrowth, no copies */
	r->cap_lat = t->counts[TA_EV_SWITCH] + 16;
	r->lat = malloc(r->cap_lat * sizeof(*r->lat));
	if (!r->lat)
		r->cap_lat = 0;
	if (with_intervals) {
		r->cap_iv = 2 * t->counts[TA_EV_SWITCH] + t->counts[TA_EV_WAKING] +
			    t->counts[TA_EV_WAKEUP_NEW] + t->counts[TA_EV_WAKEUP] + t->n_th + 16;
		r->iv = malloc(sizeof(*r->iv) * r->cap_iv);
		r->cap_prev = r->cap_iv;
		r->iv_prev = malloc(sizeof(*r->iv_prev) * r->cap_prev);
		if (!r->iv_prev)
			r->cap_prev = 0;
		r->iv_last = malloc((t->n_th ? t->n_th : 1) * sizeof(*r->iv_last));
		if (r->iv_last)
			memset(r->iv_last, 0xff, (t->n_th ? t->n_th : 1) * sizeof(*r->iv_last));
	}
	err = ta_merge_init(&m, t);
	if (err || !r->ts || !cur || !irq_since || !r->cpu_busy_ns ||
	    (with_intervals && (!r->iv || !r->iv_last))) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->n_th; i++)
		r->ts[i].waker = -1;
	for (uint32_t c = 0; c < t->n_cpus; c++)
		cur[c] = TA_PID_UNKNOWN;
	while (!err && (e = ta_merge_next(&m, &cpu))) {
		switch (e->type) {
		case TA_EV_SWITCH:
			err = on_switch(r, e, cpu, cur);
			break;
		case TA_EV_WAKING:
		case TA_EV_WAKEUP_NEW:
			err = on_waking(r, e, cpu, cur);
			break;
		case TA_EV_WAKEUP: {
			uint32_t th = ta_thread_index(t, e->a);

			/* the enqueue after a waking; a wakeup with no waking
			 * before it (not recorded) wakes the task itself */
			if (th != UINT32_MAX && r->ts[th].st == TS_RUNNABLE && r->ts[th].woken) {
				if (!r->ts[th].enq_ts)
					r->ts[th].enq_ts = e->ts;
			} else {
				err = on_waking(r, e, cpu, cur);
				if (!err && th != UINT32_MAX && r->ts[th].st == TS_RUNNABLE)
					r->ts[th].enq_ts = e->ts;
			}
			break;
		}
		case TA_EV_MIGRATE: {
			uint32_t th = ta_thread_index(t, e->a);

			if (th != UINT32_MAX)
				r->ts[th].migrations++;
			break;
		}
		case TA_EV_IRQ_ENTRY:
		case TA_EV_SOFTIRQ_ENTRY:
			irq_since[cpu] = e->ts;
			break;
		case TA_EV_IRQ_EXIT:
		case TA_EV_SOFTIRQ_EXIT:
			if (irq_since[cpu] && e->ts >= irq_since[cpu])
				*(e->type == TA_EV_IRQ_EXIT ? &r->irq_ns : &r->softirq_ns) +=
					e->ts - irq_since[cpu];
			irq_since[cpu] = 0;
			break;
		default:
			break;
		}
	}
	for (size_t i = 0; !err && i < t->n_th; i++)
		err = close_state(r, (uint32_t)i, t->last_ts, UINT32_MAX, true);

out:
	ta_merge_free(&m);
	free(cur);
	free(irq_since);
	if (err)
		ta_replay_free(r);
	return err;
}

void ta_replay_free(struct ta_replay *r)
{
	free(r->ts);
	free(r->lat);
	free(r->iv);
	free(r->iv_prev);
	free(r->iv_last);
	free(r->cpu_busy_ns);
	smcp_hashmap_free(&r->pairs);
	smcp_hashmap_free(&r->wakes);
	memset(r, 0, sizeof(*r));
}
