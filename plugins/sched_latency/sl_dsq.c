/* SPDX-License-Identifier: MIT */
/*
 * sched_ext dispatch queues: decide from vmlinux BTF which kfuncs this
 * kernel has, load only the matching programs of sched_latency_dsq.bpf.c,
 * attach them while a BPF scheduler is enabled (/sys/kernel/sched_ext/state)
 * and detach them when it goes away, and fold the per-DSQ counters into
 * windows. Without sched_ext in the kernel nothing is loaded and
 * stats://aggregated/dsq says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <schedmcp/fsread.h>

#include "sl.h"
#include "sched_latency_dsq.skel.h"
#include "scx_dsq_hooks.h"

#define MAX_LINKS 16
#define DSQ_ROWS 32

struct sl_dsq {
	bool kernel_has_scx;
	bool present[SCX_DSQ_NHOOKS], chosen[SCX_DSQ_NHOOKS];
	struct sched_latency_dsq_bpf *skel;
	bool depth_ok;
	bool shared; /* uses the main object's stream maps (sl_bpf_share) */
	struct bpf_link *links[MAX_LINKS];
	int n_links;
	char state[32], ops[64];
	char reason[384];
	uint64_t attached_ns, attaches;
	__s64 depth[DSQ_ROWS];
	__u64 depth_id[DSQ_ROWS];
	int n_depth;
};

static struct bpf_program *prog_of(struct sched_latency_dsq_bpf *s, size_t i)
{
	struct bpf_program *progs[] = {
		s->progs.sl_dsq_insert_v2,	  s->progs.sl_dsq_insert,
		s->progs.sl_dsq_dispatch,	  s->progs.sl_dsq_insert_vtime_args,
		s->progs.sl_dsq_insert_vtime,	  s->progs.sl_dsq_dispatch_vtime,
		s->progs.sl_dsq_move_to_local,	  s->progs.sl_dsq_consume,
		s->progs.sl_dsq_move,		  s->progs.sl_dsq_dispatch_from_dsq,
		s->progs.sl_dsq_move_vtime,	  s->progs.sl_dsq_dispatch_vtime_from_dsq,
		s->progs.sl_dsq_depth,
	};

	_Static_assert(SMCP_COUNT(progs) == SCX_DSQ_NHOOKS, "one program per hook");
	return i < SCX_DSQ_NHOOKS ? progs[i] : NULL;
}

static bool btf_has(void *ctx, const char *kfunc)
{
	return btf__find_by_name_kind(ctx, kfunc, BTF_KIND_FUNC) >= 0;
}

static int load(struct sl *p, struct sl_dsq *d, bool with_depth)
{
	struct sched_latency_dsq_bpf *s = sched_latency_dsq_bpf__open();
	int err;

	if (!s)
		return -errno;
	/* without the main object's maps the DSQ counters still work; only
	 * the stream's DSQ fields and dsq_insert events are lost */
	d->shared = sl_bpf_share(p, s->obj) == 0;
	s->rodata->rb_wakeup_bytes = sl_bpf_rb_wakeup_bytes(p);
	for (size_t i = 0; i < SCX_DSQ_NHOOKS; i++) {
		const struct scx_dsq_hook *h = &scx_dsq_hooks[i];
		struct bpf_program *prog = prog_of(s, i);
		bool on = d->chosen[i] && (h->group != SCX_DSQ_DEPTH || with_depth);

		bpf_program__set_autoload(prog, on);
		if (on && h->group != SCX_DSQ_DEPTH)
			bpf_program__set_attach_target(prog, 0, h->kfunc);
	}
	bpf_program__set_autoload(s->progs.sl_dsq_switch, true);
	err = sched_latency_dsq_bpf__load(s);
	if (err) {
		sched_latency_dsq_bpf__destroy(s);
		return err;
	}
	d->skel = s;
	d->depth_ok = with_depth && d->chosen[SCX_DSQ_NHOOKS - 1];
	return 0;
}

int sl_dsq_init(struct sl *p)
{
	struct sl_dsq *d = calloc(1, sizeof(*d));
	struct btf *btf;
	int err;

	if (!d)
		return -ENOMEM;
	p->dsq = d;
	err = sl_window_init(&p->w_dsq, SLD_N, 1, 1024, 64 * 1024);
	if (err)
		return err;
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		snprintf(
			d->reason, sizeof(d->reason),
			"cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): %s; the sched_ext "
			"kfuncs cannot be looked up",
			strerror(errno));
		return 0;
	}
	d->kernel_has_scx = scx_dsq_choose(btf_has, btf, d->present, d->chosen);
	btf__free(btf);
	if (!d->kernel_has_scx) {
		snprintf(d->reason, sizeof(d->reason),
			 "sched_ext is not available on this kernel: its BTF has none of the DSQ "
			 "kfuncs (scx_bpf_dsq_insert*, scx_bpf_dispatch*); sched_ext needs Linux "
			 "6.12+ built with CONFIG_SCHED_CLASS_EXT=y");
		return 0;
	}
	if (!p->running) {
		snprintf(d->reason, sizeof(d->reason), "%s", p->reason);
		return 0;
	}
	if (!p->cfg.dsq) {
		snprintf(d->reason, sizeof(d->reason),
			 "DSQ tracking is off ([plugin sched_latency] dsq = false)");
		return 0;
	}
	{
		libbpf_print_fn_t old = libbpf_set_print(NULL);

		err = load(p, d, true);
		if (err)
			err = load(p, d, false); /* the depth kfunc may not be callable here */
		libbpf_set_print(old);
	}
	if (err) {
		snprintf(d->reason, sizeof(d->reason),
			 "the kernel has sched_ext but refused the DSQ programs: %s",
			 strerror(-err));
		p->api->log(p->h, SMCP_LOG_WARNING, "%s", d->reason);
		return 0;
	}
	if (!d->shared)
		p->api->log(p->h, SMCP_LOG_WARNING,
			    "the DSQ object cannot share the event stream's maps: stream events "
			    "will carry no DSQ fields");
	sl_bpf_stream_apply(p); /* a filter set before this load */
	return 0;
}

void sl_dsq_stream_apply(struct sl *p, const struct sl_stream_ctl *c)
{
	struct sl_dsq *d = p->dsq;

	if (d && d->skel && d->shared)
		sl_bpf_stream_store(&d->skel->bss->stream, c);
}

bool sl_dsq_stream_fields(const struct sl *p)
{
	return p->dsq && p->dsq->shared && p->dsq->n_links > 0;
}

static void detach(struct sl *p, struct sl_dsq *d)
{
	sl_bpf_dsq_hooked(p, false);
	for (int i = 0; i < d->n_links; i++)
		bpf_link__destroy(d->links[i]);
	d->n_links = 0;
}

/*
 * The switch program first: an insert it did not see end in a run would
 * stay open, so the task's next insert into the same DSQ would look like a
 * duplicate sighting and its run would be timed from the old insert
 * (attaching takes hundreds of ms under emulation).
 */
static int attach(struct sl *p, struct sl_dsq *d)
{
	struct bpf_program *sw = d->skel->progs.sl_dsq_switch, *prog;
	int err = 0;
	struct timespec ts;

	/* inserts still open from an earlier scheduler end here (the BPF side
	 * compares with bpf_ktime_get_ns, CLOCK_MONOTONIC) */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d->skel->bss->attach_ts = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;

	for (int pass = 0; pass < 2; pass++) {
		bpf_object__for_each_program(prog, d->skel->obj) {
			struct bpf_link *l;

			if (!bpf_program__autoload(prog) || prog == d->skel->progs.sl_dsq_depth ||
			    (prog == sw) != (pass == 0))
				continue;
			if (d->n_links == MAX_LINKS)
				break;
			l = bpf_program__attach(prog);
			if (!l) {
				err = -errno;
				detach(p, d);
				return err;
			}
			d->links[d->n_links++] = l;
		}
	}
	sl_bpf_dsq_hooked(p, d->shared);
	return 0;
}

int sl_dsq_stats_fd(const struct sl *p)
{
	return p->dsq && p->dsq->skel ? bpf_map__fd(p->dsq->skel->maps.dsq_stats) : -1;
}

bool sl_dsq_attached(const struct sl *p)
{
	return p->dsq && p->dsq->n_links > 0;
}

uint64_t sl_dsq_attach_count(const struct sl *p)
{
	return p->dsq ? p->dsq->attaches : 0;
}

bool sl_dsq_depth_of(const struct sl *p, uint64_t id, int64_t *depth)
{
	const struct sl_dsq *d = p->dsq;

	for (int k = 0; d && k < d->n_depth; k++)
		if (d->depth_id[k] == id && d->depth[k] >= 0) {
			*depth = d->depth[k];
			return true;
		}
	return false;
}

void sl_dsq_fini(struct sl *p)
{
	struct sl_dsq *d = p->dsq;

	if (!d)
		return;
	detach(p, d);
	sched_latency_dsq_bpf__destroy(d->skel);
	sl_window_free(&p->w_dsq);
	free(d);
	p->dsq = NULL;
}

static void query_depth(struct sl_dsq *d, const __u64 *ids, int n)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int fd;

	d->n_depth = 0;
	if (!d->depth_ok || !n)
		return;
	if (n > SL_DEPTH_IDS)
		n = SL_DEPTH_IDS;
	if (n > DSQ_ROWS)
		n = DSQ_ROWS;
	memcpy(d->skel->bss->depth_ids, ids, sizeof(*ids) * (size_t)n);
	d->skel->bss->depth_n = (__u32)n;
	fd = bpf_program__fd(d->skel->progs.sl_dsq_depth);
	if (bpf_prog_test_run_opts(fd, &opts))
		return;
	for (int i = 0; i < n; i++) {
		d->depth_id[i] = ids[i];
		d->depth[i] = d->skel->bss->depth_out[i];
	}
	d->n_depth = n;
}

void sl_dsq_tick(struct sl *p, uint64_t now_ns)
{
	struct sl_dsq *d = p->dsq;
	struct sl_window_input *in = NULL;
	__u64 *keys = NULL, key, next, user_ids[DSQ_ROWS];
	struct sl_dsq_stats *vals = NULL;
	uint64_t *store = NULL;
	size_t n = 0, cap = 1024;
	int fd, err, n_user = 0;
	bool on;

	if (!d || !d->kernel_has_scx)
		return;
	/* no sched_ext (or no scheduler): empty strings */
	if (smcp_read_file(p->api->fs_root(p->h), "/sys/kernel/sched_ext/state", d->state,
			   sizeof(d->state)) < 0)
		d->state[0] = '\0';
	if (smcp_read_file(p->api->fs_root(p->h), "/sys/kernel/sched_ext/root/ops", d->ops,
			   sizeof(d->ops)) < 0)
		d->ops[0] = '\0';
	if (!d->skel)
		return;
	on = strcmp(d->state, "enabled") == 0 || strcmp(d->state, "enabling") == 0;
	if (on && !d->n_links) {
		err = attach(p, d);
		if (err)
			p->api->log(p->h, SMCP_LOG_WARNING, "attaching the DSQ programs failed: %s",
				    strerror(-err));
		else {
			d->attached_ns = now_ns;
			d->attaches++;
		}
	} else if (!on && d->n_links) {
		detach(p, d);
	}

	fd = bpf_map__fd(d->skel->maps.dsq_stats);
	keys = malloc(cap * sizeof(*keys));
	vals = malloc(cap * sizeof(*vals));
	in = malloc(cap * sizeof(*in));
	store = malloc(cap * SLD_N * sizeof(*store));
	if (!keys || !vals || !in || !store)
		goto out;
	err = bpf_map_get_next_key(fd, NULL, &key);
	while (!err && n < cap) {
		if (bpf_map_lookup_elem(fd, &key, &vals[n]) == 0) {
			uint64_t *c = store + n * SLD_N;

			keys[n] = key;
			c[SLD_INSERTED] = vals[n].inserted;
			c[SLD_CONSUMED] = vals[n].consumed;
			c[SLD_RAN] = vals[n].ran;
			c[SLD_WAIT_NS] = vals[n].wait_ns;
			c[SLD_WAIT_MAX] = vals[n].wait_max_ns;
			in[n] = (struct sl_window_input){ .key = key,
							  .c = c,
							  .h = (const uint64_t *)vals[n].hist };
			if (!(key >> 63) && n_user < DSQ_ROWS)
				user_ids[n_user++] = key;
			n++;
		}
		err = bpf_map_get_next_key(fd, &key, &next);
		key = next;
	}
	(void)sl_window_tick(&p->w_dsq, now_ns, in, n, p->start_ns);
	query_depth(d, user_ids, n_user);
out:
	free(keys);
	free(vals);
	free(in);
	free(store);
}

/* ------------------------------------------------------------------- emit */

void sl_dsq_name(uint64_t id, char *buf, size_t len)
{
	if (!(id >> 63)) {
		snprintf(buf, len, "user:%llu", (unsigned long long)id);
		return;
	}
	if (id & (1ull << 62)) {
		snprintf(buf, len, "local_on:cpu%u", (unsigned)(id & 0xffffffffu));
		return;
	}
	switch (id & 0xffffffffu) {
	case 1:
		snprintf(buf, len, "global");
		break;
	case 2:
		snprintf(buf, len, "local");
		break;
	case 3:
		snprintf(buf, len, "bypass");
		break;
	default:
		snprintf(buf, len, "builtin:0x%llx", (unsigned long long)id);
	}
}

static int cmp_ran(const void *a, const void *b)
{
	const struct sl_window_row *x = a, *y = b;

	return x->c[SLD_RAN] < y->c[SLD_RAN] ? 1 : x->c[SLD_RAN] > y->c[SLD_RAN] ? -1 : 0;
}

static void emit_rows(struct sl *p, struct smcp_json *j, const char *window,
		      struct sl_window_result *r, bool since_start)
{
	const struct smcp_host_api *api = p->api;
	double span = since_start ? (double)(p->api->now_ns(p->h) - p->start_ns) / 1e9
				  : sl_span_s(r);
	struct sl_dsq *d = p->dsq;
	size_t n = r->n < DSQ_ROWS ? r->n : DSQ_ROWS;

	qsort(r->rows, r->n, sizeof(*r->rows), cmp_ran);
	api->json_object(j, window);
	sl_emit_window(p, j, "window", window, since_start ? NULL : r);
	api->json_uint(j, "dsqs_total", r->n);
	api->json_bool(j, "truncated", r->n > n);
	api->json_array(j, "dsqs");
	for (size_t i = 0; i < n; i++) {
		struct sl_window_row *row = &r->rows[i];
		char name[48];

		sl_dsq_name(row->key, name, sizeof(name));
		api->json_object(j, NULL);
		api->json_string(j, "dsq", name);
		api->json_uint(j, "id", row->key);
		api->json_double(j, "inserted_per_s", span > 0 ? row->c[SLD_INSERTED] / span : 0);
		api->json_double(j, "consumed_per_s", span > 0 ? row->c[SLD_CONSUMED] / span : 0);
		api->json_double(j, "ran_per_s", span > 0 ? row->c[SLD_RAN] / span : 0);
		for (int k = 0; k < d->n_depth; k++)
			if (d->depth_id[k] == row->key && d->depth[k] >= 0)
				api->json_int(j, "depth_now", d->depth[k]);
		sl_emit_latency(p, j, "insert_to_run", row->h, row->c[SLD_WAIT_NS],
				since_start ? (int64_t)row->c[SLD_WAIT_MAX] : -1);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_end(j);
}

int sl_dsq_emit(struct sl *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	struct sl_dsq *d = p->dsq;
	struct sl_window_result r;

	api->json_object(j, "sched_ext");
	api->json_bool(j, "in_kernel", d && d->kernel_has_scx);
	if (d && d->kernel_has_scx) {
		api->json_string(j, "state", d->state[0] ? d->state : "unknown");
		api->json_string(j, "scheduler", d->ops[0] ? d->ops : NULL);
	}
	api->json_end(j);
	if (!d || !d->skel) {
		api->json_bool(j, "available", false);
		api->json_string(j, "reason", d ? d->reason : "not initialised");
		return 0;
	}
	api->json_bool(j, "available", true);
	api->json_bool(j, "attached", d->n_links > 0);
	if (!d->n_links)
		api->json_string(j, "note",
				 "no BPF scheduler is enabled: the DSQ hooks attach when one is, "
				 "and the counters below are from earlier runs");
	api->json_array(j, "kfuncs_hooked");
	for (size_t i = 0; i < SCX_DSQ_NHOOKS; i++)
		if (d->chosen[i] && (scx_dsq_hooks[i].group != SCX_DSQ_DEPTH || d->depth_ok))
			api->json_string(j, NULL, scx_dsq_hooks[i].kfunc);
	api->json_end(j);
	api->json_bool(j, "depth_available", d->depth_ok);
	{
		__u64 untracked = d->skel->bss->untracked;

		api->json_uint(j, "untracked_events", untracked);
	}
	if (sl_window_window_last(&p->w_dsq, 10000000000ull, &r) == 0) {
		emit_rows(p, j, "10s", &r, false);
		sl_window_result_free(&r);
	}
	/* since start: a fresh read of the cumulative map */
	{
		int fd = bpf_map__fd(d->skel->maps.dsq_stats), err;
		size_t cap = 1024, n = 0;
		struct sl_window_input *in = malloc(cap * sizeof(*in));
		struct sl_dsq_stats *v = malloc(cap * sizeof(*v));
		uint64_t *c = malloc(cap * SLD_N * sizeof(*c));
		__u64 key, next;

		err = in && v && c ? bpf_map_get_next_key(fd, NULL, &key) : -ENOMEM;
		while (!err && n < cap) {
			if (bpf_map_lookup_elem(fd, &key, &v[n]) == 0) {
				uint64_t *cn = c + n * SLD_N;

				cn[SLD_INSERTED] = v[n].inserted;
				cn[SLD_CONSUMED] = v[n].consumed;
				cn[SLD_RAN] = v[n].ran;
				cn[SLD_WAIT_NS] = v[n].wait_ns;
				cn[SLD_WAIT_MAX] = v[n].wait_max_ns;
				in[n] = (struct sl_window_input){
					.key = key, .c = cn, .h = (const uint64_t *)v[n].hist
				};
				n++;
			}
			err = bpf_map_get_next_key(fd, &key, &next);
			key = next;
		}
		if (in && v && c && sl_window_result_from_inputs(SLD_N, 1, in, n, &r) == 0) {
			emit_rows(p, j, "since_start", &r, true);
			sl_window_result_free(&r);
		}
		free(in);
		free(v);
		free(c);
	}
	return 0;
}
