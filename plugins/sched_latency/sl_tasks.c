/* SPDX-License-Identifier: MIT */
#include "sl_tasks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ index */

static uint32_t hash32(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x7feb352d;
	k ^= k >> 15;
	k *= 0x846ca68b;
	k ^= k >> 16;
	return k;
}

static int index_init(struct sl_index *x, size_t max)
{
	size_t n = 16;

	while (n < 2 * max)
		n <<= 1;
	x->slot = calloc(n, sizeof(*x->slot));
	x->mask = n - 1;
	return x->slot ? 0 : -ENOMEM;
}

typedef uint32_t (*key_fn)(const void *base, size_t i);

static uint32_t thr_key(const void *base, size_t i)
{
	return ((const struct sl_thr *)base)[i].tid;
}

static uint32_t proc_key(const void *base, size_t i)
{
	return ((const struct sl_proc *)base)[i].tgid;
}

/* Slot holding key, or the empty slot where it would go. */
static size_t index_find(const struct sl_index *x, const void *base, key_fn key, uint32_t k)
{
	size_t s = hash32(k) & x->mask;

	while (x->slot[s] && key(base, x->slot[s] - 1) != k)
		s = (s + 1) & x->mask;
	return s;
}

/* Linear-probing delete: shift later entries of the run back. */
static void index_del(struct sl_index *x, const void *base, key_fn key, size_t s)
{
	size_t hole = s, i = s;

	x->slot[hole] = 0;
	for (;;) {
		size_t home;

		i = (i + 1) & x->mask;
		if (!x->slot[i])
			return;
		home = hash32(key(base, x->slot[i] - 1)) & x->mask;
		/* move i into the hole unless its home lies in (hole, i] */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			x->slot[hole] = x->slot[i];
			x->slot[i] = 0;
			hole = i;
		}
	}
}

/* ------------------------------------------------------------ tables */

int sl_tasks_init(struct sl_tasks *t, size_t max_threads, size_t max_procs)
{
	memset(t, 0, sizeof(*t));
	t->max_thr = max_threads ? max_threads : 1;
	t->max_proc = max_procs ? max_procs : 1;
	t->thr = calloc(t->max_thr, sizeof(*t->thr));
	t->proc = calloc(t->max_proc, sizeof(*t->proc));
	if (!t->thr || !t->proc || index_init(&t->ithr, t->max_thr) ||
	    index_init(&t->iproc, t->max_proc)) {
		sl_tasks_free(t);
		return -ENOMEM;
	}
	return 0;
}

void sl_tasks_free(struct sl_tasks *t)
{
	if (!t)
		return;
	free(t->thr);
	free(t->proc);
	free(t->ithr.slot);
	free(t->iproc.slot);
	memset(t, 0, sizeof(*t));
}

void sl_tasks_begin(struct sl_tasks *t)
{
	t->tick++;
}

struct sl_thr *sl_tasks_thread(const struct sl_tasks *t, uint32_t tid)
{
	size_t s = index_find(&t->ithr, t->thr, thr_key, tid);

	return t->ithr.slot[s] ? &t->thr[t->ithr.slot[s] - 1] : NULL;
}

struct sl_proc *sl_tasks_process(const struct sl_tasks *t, uint32_t tgid)
{
	size_t s = index_find(&t->iproc, t->proc, proc_key, tgid);

	return t->iproc.slot[s] ? &t->proc[t->iproc.slot[s] - 1] : NULL;
}

/* Remove entry i of a dense array, moving the last entry into its place. */
static void remove_thr(struct sl_tasks *t, size_t i)
{
	size_t last = t->n_thr - 1;

	index_del(&t->ithr, t->thr, thr_key, index_find(&t->ithr, t->thr, thr_key, t->thr[i].tid));
	if (i != last) {
		size_t s = index_find(&t->ithr, t->thr, thr_key, t->thr[last].tid);

		t->thr[i] = t->thr[last];
		t->ithr.slot[s] = (uint32_t)i + 1;
	}
	t->n_thr--;
}

static void remove_proc(struct sl_tasks *t, size_t i)
{
	size_t last = t->n_proc - 1;

	index_del(&t->iproc, t->proc, proc_key,
		  index_find(&t->iproc, t->proc, proc_key, t->proc[i].tgid));
	if (i != last) {
		size_t s = index_find(&t->iproc, t->proc, proc_key, t->proc[last].tgid);

		t->proc[i] = t->proc[last];
		t->iproc.slot[s] = (uint32_t)i + 1;
	}
	t->n_proc--;
}

/* Make room: the least recently changed exited thread, else any. */
static void evict_thread(struct sl_tasks *t)
{
	size_t victim = 0;
	bool found_exited = false;

	for (size_t i = 0; i < t->n_thr; i++) {
		const struct sl_thr *e = &t->thr[i];

		if (e->exited && (!found_exited || e->changed < t->thr[victim].changed)) {
			victim = i;
			found_exited = true;
		} else if (!found_exited && e->changed < t->thr[victim].changed) {
			victim = i;
		}
	}
	if (!t->thr[victim].exited) {
		struct sl_proc *pr = sl_tasks_process(t, t->thr[victim].tgid);

		if (pr && pr->live_threads)
			pr->live_threads--;
	}
	remove_thr(t, victim);
	t->evicted_threads++;
}

static void evict_proc(struct sl_tasks *t)
{
	size_t victim = 0;
	bool found_dead = false;

	for (size_t i = 0; i < t->n_proc; i++) {
		const struct sl_proc *e = &t->proc[i];

		if (!e->live_threads && (!found_dead || e->changed < t->proc[victim].changed)) {
			victim = i;
			found_dead = true;
		} else if (!found_dead && e->changed < t->proc[victim].changed) {
			victim = i;
		}
	}
	remove_proc(t, victim);
	t->evicted_procs++;
}

static struct sl_proc *proc_get(struct sl_tasks *t, uint32_t tgid)
{
	struct sl_proc *pr = sl_tasks_process(t, tgid);
	size_t s;

	if (pr)
		return pr;
	if (t->n_proc == t->max_proc)
		evict_proc(t);
	s = index_find(&t->iproc, t->proc, proc_key, tgid);
	pr = &t->proc[t->n_proc];
	memset(pr, 0, sizeof(*pr));
	pr->tgid = tgid;
	t->iproc.slot[s] = (uint32_t)++t->n_proc;
	return pr;
}

static void rec_counters(const struct sl_task_stats *r, uint64_t *c)
{
	c[SLT_WAITS] = r->waits;
	c[SLT_WAIT_NS] = r->wait_ns;
	c[SLT_VOL] = r->switches_voluntary;
	c[SLT_INVOL] = r->switches_involuntary;
	c[SLT_RUN_NS] = r->run_ns;
	c[SLT_WAKEUPS] = r->wakeups;
	c[SLT_MIGRATIONS] = r->migrations;
	c[SLT_WAIT_MAX] = r->wait_max_ns;
}

int sl_tasks_update(struct sl_tasks *t, const struct sl_task_stats *rec)
{
	struct sl_thr *th = sl_tasks_thread(t, rec->tid);
	uint64_t c[SLT_N];
	struct sl_proc *pr;
	bool fresh = !th;

	if (!rec->tid)
		return 0;
	t->records++;
	rec_counters(rec, c);
	if (th) {
		/* a reused tid, or a thread of another process: start over */
		for (unsigned i = 0; i < SLT_N && !fresh; i++)
			fresh = c[i] < th->c[i];
		if (th->tgid != rec->tgid || (th->exited && !rec->exited))
			fresh = true;
		if (fresh) {
			struct sl_proc *old = sl_tasks_process(t, th->tgid);

			if (old && !th->exited && old->live_threads)
				old->live_threads--;
			t->restarts++;
		}
	} else {
		size_t s;

		if (t->n_thr == t->max_thr)
			evict_thread(t);
		s = index_find(&t->ithr, t->thr, thr_key, rec->tid);
		th = &t->thr[t->n_thr];
		t->ithr.slot[s] = (uint32_t)++t->n_thr;
	}
	if (fresh) {
		memset(th, 0, sizeof(*th));
		th->tid = rec->tid;
		th->tgid = rec->tgid;
	}
	pr = proc_get(t, rec->tgid);
	if (!pr)
		return -ENOMEM;
	/* add what changed since the last record to the process */
	for (unsigned i = 0; i < SLT_N; i++) {
		if (i == SLT_WAIT_MAX) {
			if (c[i] > pr->c[i])
				pr->c[i] = c[i];
			continue;
		}
		pr->c[i] += c[i] - th->c[i];
	}
	for (unsigned b = 0; b < SL_NB; b++)
		pr->h[b] += (uint32_t)(rec->hist[b] - th->h[b]);
	if (fresh && !rec->exited)
		pr->live_threads++;
	else if (!fresh && rec->exited && !th->exited && pr->live_threads)
		pr->live_threads--;
	if (rec->tid == rec->tgid || !pr->leader_comm) {
		memcpy(pr->comm, rec->comm, SL_COMM_LEN);
		pr->comm[SL_COMM_LEN - 1] = '\0';
		pr->leader_comm = rec->tid == rec->tgid;
	}
	pr->changed = t->tick;
	pr->last_cpu = rec->last_cpu;

	memcpy(th->c, c, sizeof(c));
	memcpy(th->h, rec->hist, sizeof(th->h));
	memcpy(th->comm, rec->comm, SL_COMM_LEN);
	th->comm[SL_COMM_LEN - 1] = '\0';
	th->last_cpu = rec->last_cpu;
	th->exited = rec->exited;
	th->changed = t->tick;
	return 0;
}

/* Entry i's values as series input; c and h are where they go (SLT_N and
 * SL_NB values). */
static void fill_input(const struct sl_tasks *t, bool procs, size_t i, struct slw_input *in,
		       uint64_t *c, uint64_t *h)
{
	if (procs) {
		const struct sl_proc *pr = &t->proc[i];

		memcpy(c, pr->c, sizeof(pr->c));
		memcpy(h, pr->h, sizeof(pr->h));
		in->key = pr->tgid;
		in->meta.tgid = pr->tgid;
		in->meta.last_cpu = pr->last_cpu;
		memcpy(in->meta.comm, pr->comm, SLW_COMM_LEN);
	} else {
		const struct sl_thr *th = &t->thr[i];

		memcpy(c, th->c, sizeof(th->c));
		for (int b = 0; b < SL_NB; b++)
			h[b] = th->h[b];
		in->key = th->tid;
		in->meta.tgid = th->tgid;
		in->meta.last_cpu = th->last_cpu;
		memcpy(in->meta.comm, th->comm, SLW_COMM_LEN);
	}
}

int sl_tasks_series_inputs(struct sl_tasks *t, bool procs, uint64_t quiet_since,
			   struct slw_input **ret_in, uint64_t **ret_store)
{
	size_t total = procs ? t->n_proc : t->n_thr, per = SLT_N + SL_NB, n = 0;
	struct slw_input *in;
	uint64_t *st;

	/* retire first, so the arrays are only as large as what is left */
	for (size_t i = 0; i < total; i++) {
		bool *retired = procs ? &t->proc[i].retired : &t->thr[i].retired;
		uint64_t changed = procs ? t->proc[i].changed : t->thr[i].changed;
		bool done = procs ? !t->proc[i].live_threads : t->thr[i].exited;

		if (!*retired && done && changed <= quiet_since)
			*retired = true;
		n += !*retired || changed > quiet_since;
	}
	in = calloc(n ? n : 1, sizeof(*in));
	st = malloc((n ? n : 1) * per * sizeof(*st));
	if (!in || !st) {
		free(in);
		free(st);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < total; i++) {
		bool *retired = procs ? &t->proc[i].retired : &t->thr[i].retired;
		uint64_t changed = procs ? t->proc[i].changed : t->thr[i].changed;
		uint64_t *c = st + n * per;

		if (*retired && changed <= quiet_since)
			continue;
		in[n].resumed = *retired;
		*retired = false;
		fill_input(t, procs, i, &in[n], c, c + SLT_N);
		in[n].c = c;
		in[n].h = c + SLT_N;
		n++;
	}
	*ret_in = in;
	*ret_store = st;
	return (int)n;
}

int sl_tasks_result(const struct sl_tasks *t, bool procs, struct slw_result *out)
{
	size_t n = procs ? t->n_proc : t->n_thr;
	int err = slw_result_alloc(out, SLT_N, 1, n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct slw_input in = { 0 };

		fill_input(t, procs, i, &in, out->rows[i].c, out->rows[i].h);
		out->rows[i].key = in.key;
		out->rows[i].meta = in.meta;
	}
	out->n = n;
	slw_result_sort(out);
	return 0;
}
