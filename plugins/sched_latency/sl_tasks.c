/* SPDX-License-Identifier: MIT */
#include "sl_tasks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ tables */

int sl_tasks_init(struct sl_tasks *t, size_t max_threads, size_t max_procs)
{
	memset(t, 0, sizeof(*t));
	t->max_thr = max_threads ? max_threads : 1;
	t->max_proc = max_procs ? max_procs : 1;
	t->thr = calloc(t->max_thr, sizeof(*t->thr));
	t->proc = calloc(t->max_proc, sizeof(*t->proc));
	smcp_hashmap_init(&t->ithr, NULL, NULL, NULL, t->max_thr);
	smcp_hashmap_init(&t->iproc, NULL, NULL, NULL, t->max_proc);
	if (!t->thr || !t->proc || smcp_hashmap_reserve(&t->ithr, t->max_thr) ||
	    smcp_hashmap_reserve(&t->iproc, t->max_proc)) {
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
	smcp_hashmap_free(&t->ithr);
	smcp_hashmap_free(&t->iproc);
	memset(t, 0, sizeof(*t));
}

void sl_tasks_begin(struct sl_tasks *t)
{
	t->tick++;
}

struct sl_thr *sl_tasks_thread(const struct sl_tasks *t, uint32_t tid)
{
	const struct smcp_hashmap_entry *e = smcp_hashmap_find(&t->ithr, tid);

	return e ? &t->thr[e->value] : NULL;
}

struct sl_proc *sl_tasks_process(const struct sl_tasks *t, uint32_t tgid)
{
	const struct smcp_hashmap_entry *e = smcp_hashmap_find(&t->iproc, tgid);

	return e ? &t->proc[e->value] : NULL;
}

/*
 * Remove entry i of a dense array (key its key, last the last entry's),
 * moving the last entry into its place. Returns whether it moved.
 */
static bool remove_entry(struct smcp_hashmap *index, uint32_t key, size_t i, uint32_t last_key,
			 size_t last)
{
	(void)smcp_hashmap_delete(index, key, NULL);
	if (i == last)
		return false;
	smcp_hashmap_find(index, last_key)->value = i;
	return true;
}

static void remove_thr(struct sl_tasks *t, size_t i)
{
	size_t last = t->n_thr - 1;

	if (remove_entry(&t->ithr, t->thr[i].tid, i, t->thr[last].tid, last))
		t->thr[i] = t->thr[last];
	t->n_thr--;
}

static void remove_proc(struct sl_tasks *t, size_t i)
{
	size_t last = t->n_proc - 1;

	if (remove_entry(&t->iproc, t->proc[i].tgid, i, t->proc[last].tgid, last))
		t->proc[i] = t->proc[last];
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

	if (pr)
		return pr;
	if (t->n_proc == t->max_proc)
		evict_proc(t);
	if (smcp_hashmap_insert(&t->iproc, tgid, t->n_proc, NULL) < 0)
		return NULL; /* not after the reserve in sl_tasks_init */
	pr = &t->proc[t->n_proc++];
	memset(pr, 0, sizeof(*pr));
	pr->tgid = tgid;
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
		if (t->n_thr == t->max_thr)
			evict_thread(t);
		if (smcp_hashmap_insert(&t->ithr, rec->tid, t->n_thr, NULL) < 0)
			return -ENOMEM; /* not after the reserve in sl_tasks_init */
		th = &t->thr[t->n_thr++];
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
static void fill_input(const struct sl_tasks *t, bool procs, size_t i, struct sl_window_input *in,
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
			   struct sl_window_input **ret_in, uint64_t **ret_store)
{
	size_t total = procs ? t->n_proc : t->n_thr, per = SLT_N + SL_NB, n = 0;
	struct sl_window_input *in;
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

int sl_tasks_result(const struct sl_tasks *t, bool procs, struct sl_window_result *out)
{
	size_t n = procs ? t->n_proc : t->n_thr;
	int err = sl_window_result_alloc(out, SLT_N, 1, n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct sl_window_input in = { 0 };

		fill_input(t, procs, i, &in, out->rows[i].c, out->rows[i].h);
		out->rows[i].key = in.key;
		out->rows[i].meta = in.meta;
	}
	out->n = n;
	sl_window_result_sort(out);
	return 0;
}
