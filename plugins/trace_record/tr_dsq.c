/* SPDX-License-Identifier: MIT */
/*
 * sched_ext DSQs in a recording: at init, decide from vmlinux BTF whether
 * the kernel has sched_ext and which kfuncs to hook (the choice
 * sched_latency makes, plugins/common/scx_dsq_hooks.h); per recording,
 * load trace_record_dsq.bpf.c with a ring buffer of its own, read with the CPUs' rings, attach
 * it, keep its records apart from the per-CPU ftrace ones (they need one
 * order across CPUs: a DSQ is shared), and write them, sorted by time up
 * to the drain's watermark, as counter tracks (tr_enc.c). Without sched_ext
 * the object is never opened: no cost, and the recording says why it has
 * no DSQ tracks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "scx_dsq_hooks.h"
#include "tr.h"
#include "trace_record.skel.h"
#include "trace_record_dsq.skel.h"

#define DSQ_PENDING_MAX (256u << 10) /* records waiting for the watermark */

static bool btf_has(void *ctx, const char *kfunc)
{
	return btf__find_by_name_kind(ctx, kfunc, BTF_KIND_FUNC) >= 0;
}

void tr_dsq_probe(struct tr_plugin *p)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool present[SCX_DSQ_NHOOKS];

	p->dsq_kernel = false;
	if (!btf) {
		snprintf(p->dsq_why, sizeof(p->dsq_why),
			 "no sched_ext DSQ tracks: the kernel's BTF (/sys/kernel/btf/vmlinux) cannot "
			 "be read (%s), so its sched_ext kfuncs cannot be looked up",
			 strerror(errno));
		return;
	}
	p->dsq_kernel = scx_dsq_choose(btf_has, btf, present, p->dsq_chosen);
	btf__free(btf);
	if (!p->dsq_kernel)
		snprintf(p->dsq_why, sizeof(p->dsq_why),
			 "no sched_ext DSQ tracks: this kernel has no sched_ext (its BTF has none "
			 "of the DSQ kfuncs scx_bpf_dsq_insert*, scx_bpf_dispatch*; sched_ext needs "
			 "Linux 6.12+ built with CONFIG_SCHED_CLASS_EXT=y), so the DSQ programs are "
			 "not loaded");
	else
		p->dsq_why[0] = '\0';
}

static struct bpf_program *prog_of(struct trace_record_dsq_bpf *s, size_t i)
{
	struct bpf_program *progs[] = {
		s->progs.tr_dsq_insert_v2,	  s->progs.tr_dsq_insert,
		s->progs.tr_dsq_dispatch,	  s->progs.tr_dsq_insert_vtime_args,
		s->progs.tr_dsq_insert_vtime,	  s->progs.tr_dsq_dispatch_vtime,
		s->progs.tr_dsq_move_to_local,	  s->progs.tr_dsq_consume,
		s->progs.tr_dsq_move,		  s->progs.tr_dsq_dispatch_from_dsq,
		s->progs.tr_dsq_move_vtime,	  s->progs.tr_dsq_dispatch_vtime_from_dsq,
		NULL, /* scx_bpf_dsq_nr_queued: not called (the depth counts records) */
	};

	_Static_assert(SMCP_COUNT(progs) == SCX_DSQ_NHOOKS, "one entry per hook");
	return i < SCX_DSQ_NHOOKS ? progs[i] : NULL;
}

static void give_up(struct tr_rec *r, int err, const char *what)
{
	struct tr_dsq_rec *d = &r->dsq;

	snprintf(d->why, sizeof(d->why), "no sched_ext DSQ tracks: %s: %s", what, strerror(-err));
	for (int i = 0; i < d->nlinks; i++)
		bpf_link__destroy(d->links[i]);
	d->nlinks = 0;
	trace_record_dsq_bpf__destroy(d->skel);
	d->skel = NULL;
	r->p->api->log(r->p->h, SMCP_LOG_WARNING, "%s", d->why);
}

void tr_dsq_start(struct tr_rec *r)
{
	struct tr_dsq_rec *d = &r->dsq;
	struct tr_plugin *p = r->p;
	struct trace_record_dsq_bpf *s;
	struct bpf_program *prog;
	struct timespec ts;
	int err;

	if (!p->dsq_kernel) {
		snprintf(d->why, sizeof(d->why), "%s", p->dsq_why);
		return;
	}
	s = trace_record_dsq_bpf__open();
	if (!s) {
		give_up(r, -errno, "opening the DSQ object failed");
		return;
	}
	d->skel = s;
	/* a ring of its own, half of ring_mb: the sched events' rings are
	 * per CPU, and DSQ records are fewer (one insert and one dispatch a
	 * queued task) */
	err = bpf_map__set_max_entries(s->maps.events, tr_ring_bytes(p->cfg.ring_mb, 2));
	if (err) {
		give_up(r, err, "sizing the DSQ ring buffer failed");
		return;
	}
	for (size_t i = 0; i < SCX_DSQ_NHOOKS; i++) {
		prog = prog_of(s, i);
		if (!prog)
			continue;
		bpf_program__set_autoload(prog, p->dsq_chosen[i]);
		if (p->dsq_chosen[i])
			(void)bpf_program__set_attach_target(prog, 0, scx_dsq_hooks[i].kfunc);
	}
	bpf_program__set_autoload(s->progs.tr_dsq_switch, true);
	err = trace_record_dsq_bpf__load(s);
	if (err) {
		give_up(r, err, "the kernel has sched_ext but refused the DSQ programs");
		return;
	}
	err = tr_ring_add(r, bpf_map__fd(s->maps.events));
	if (err) {
		give_up(r, err, "reading the DSQ ring buffer failed");
		return;
	}
	/* entries older than this are from an earlier recording (BOOTTIME,
	 * what the BPF side reads) */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	s->bss->attach_ts = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* the switch program first: an insert whose run it did not see would
	 * stay open and hide the task's next insert into that DSQ */
	for (int pass = 0; pass < 2; pass++) {
		bpf_object__for_each_program(prog, s->obj) {
			struct bpf_link *l;

			if (!bpf_program__autoload(prog) ||
			    (prog == s->progs.tr_dsq_switch) != (pass == 0))
				continue;
			l = bpf_program__attach(prog);
			if (!l) {
				char what[96];

				snprintf(what, sizeof(what), "attaching %s failed",
					 bpf_program__name(prog));
				give_up(r, -errno, what);
				return;
			}
			if (d->nlinks < TR_DSQ_LINKS)
				d->links[d->nlinks++] = l;
			else
				bpf_link__destroy(l);
		}
	}
	d->why[0] = '\0';
}

bool tr_dsq_is(const struct tr_event *e)
{
	return e->type == TR_DSQ_INSERT || e->type == TR_DSQ_DISPATCH;
}

void tr_dsq_record(struct tr_rec *r, const struct tr_event *e)
{
	struct tr_dsq_rec *d = &r->dsq;

	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 4096;
		struct tr_event *ev;

		if (cap > DSQ_PENDING_MAX || !(ev = realloc(d->ev, (size_t)cap * sizeof(*ev)))) {
			d->lost_buffer++;
			return;
		}
		d->ev = ev;
		d->cap = cap;
	}
	memset(&d->ev[d->n], 0, sizeof(d->ev[0]));
	memcpy(&d->ev[d->n], e, TR_EV_SMALL);
	d->n++;
}

void tr_dsq_write(struct tr_rec *r, uint64_t watermark)
{
	struct tr_dsq_rec *d = &r->dsq;
	uint32_t n, i, rest = 0;

	if (!d->n)
		return;
	n = tr_pending_sort(d->ev, &d->n, &d->sorted, &d->sorted_cap, watermark,
			    &d->lost_buffer);
	for (i = 0; i < n && !r->out.err && !r->size_reached; i++) {
		const struct tr_event *e = d->sorted[i];
		struct tr_dsq_step step;

		if (e->ts_ns < d->last_ts)
			d->late++; /* written anyway: Perfetto sorts; the depth took it late */
		else
			d->last_ts = e->ts_ns;
		if (tr_dsq_step(&d->st, e, &step)) {
			if (!tr_jobs_emit_dsq(r, &step)) {
				if (r->out.packets_dropped_cap)
					r->size_reached = true;
				break;
			}
			r->written[e->type]++;
		}
	}
	/* the written ones out, the rest (newer than the watermark) kept */
	if (!r->size_reached && !r->out.err)
		rest = tr_pending_keep(d->ev, d->n, d->sorted, i);
	d->n = rest;
}

void tr_dsq_counters(struct tr_rec *r)
{
	struct tr_dsq_rec *d = &r->dsq;

	if (!d->skel)
		return;
	for (int k = 0; k < 2; k++) {
		uint64_t seen = 0, lost = 0;

		for (uint32_t c = 0; c < r->ncpus && c < 1024; c++) {
			seen += d->skel->bss->dsq_stats[c].seen[k];
			lost += d->skel->bss->dsq_stats[c].lost[k];
		}
		r->seen[TR_DSQ_INSERT + k] = seen;
		r->lost_ring[TR_DSQ_INSERT + k] = lost;
	}
}

uint64_t tr_dsq_misses(struct tr_rec *r)
{
	struct bpf_program *prog;
	uint64_t n = 0;

	if (!r->dsq.skel)
		return 0;
	bpf_object__for_each_program(prog, r->dsq.skel->obj) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		if (!bpf_program__autoload(prog))
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
			n += info.recursion_misses;
	}
	return n;
}

void tr_dsq_detach(struct tr_rec *r)
{
	struct tr_dsq_rec *d = &r->dsq;

	for (int i = 0; i < d->nlinks; i++)
		bpf_link__destroy(d->links[i]);
	d->nlinks = 0;
}

void tr_dsq_free(struct tr_rec *r)
{
	struct tr_dsq_rec *d = &r->dsq;

	tr_dsq_detach(r);
	trace_record_dsq_bpf__destroy(d->skel);
	d->skel = NULL;
	free(d->ev);
	free(d->sorted);
	d->ev = NULL;
	d->sorted = NULL;
	d->n = d->cap = d->sorted_cap = 0;
}
