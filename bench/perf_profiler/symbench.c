/* SPDX-License-Identifier: MIT */
/*
 * perf-symbench: read a perf.data file (from `perf record -g` or
 * `--call-graph dwarf`) through the profiler's own ingest, unwinding and
 * symbolisation code, twice: once with an empty symbol cache (cold) and
 * once reusing it (warm). Prints timings and the top self symbols as JSON,
 * so bench/perf_profiler/run can put them beside `perf report` on the same
 * data. With --folded, every stack of the cold run too, folded (root first,
 * as pp_agg_folded writes them) with its count: the whole symbolised
 * profile, for tests that compare two builds on one perf.data. A benchmark
 * helper: its output goes to stdout.
 *
 * Usage: perf-symbench [--top N] [--pid PID] [--debug-dir DIR] [--folded] FILE
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate.h"
#include "ingest.h"
#include "perfdata.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct run {
	double kallsyms_ms, ingest_ms, symbolise_ms;
	uint64_t records, samples, frames, resolved;
};

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

struct rec {
	const struct perf_event_header *h;
	uint64_t time;
	size_t seq;
};

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "folded":[{"stack":..., "count":N}, ...] of every stack of prof (the
 * aggregation by stack, after the timed one). */
static int print_folded(struct pp_profile *prof, const struct pp_kallsyms *ks,
			const char *debug_dir, int32_t pid)
{
	struct pp_agg a = { 0 };
	size_t cap = 4096;
	char *buf = malloc(cap); /* pp_agg_folded writes to buf even to measure */
	int err = -ENOMEM;

	if (!buf)
		goto out;
	err = pp_agg_build(&a, prof, ks, debug_dir, PP_GROUP_STACK, pid);
	if (err)
		goto out;
	printf("\"folded\":[");
	for (size_t i = 0; i < a.n_stacks; i++) {
		size_t need = pp_agg_folded(&a, a.stacks[i].stack, a.stacks[i].comm, buf, cap);

		if (need >= cap) {
			char *nb = realloc(buf, need + 1);

			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = need + 1;
			(void)pp_agg_folded(&a, a.stacks[i].stack, a.stacks[i].comm, buf, cap);
		}
		printf("%s{\"stack\":", i ? "," : "");
		json_str(buf);
		printf(",\"count\":%llu}", (unsigned long long)a.stacks[i].count);
	}
	printf("],");
out:
	free(buf);
	pp_agg_free(&a);
	return err;
}

static int one_run(const struct perfdata *pd, struct pp_elf_cache *cache, struct pp_kallsyms *ks,
		   struct pp_unwinder *unw, int32_t pid, int top, bool print, bool folded,
		   struct run *r)
{
	struct pp_ingest *in = calloc(1, sizeof(*in));
	struct rec *recs = NULL;
	size_t n_recs = 0, cap_recs = 0;
	struct pp_profile prof;
	struct pp_agg a = { 0 };
	const struct perf_event_header *h;
	size_t off;
	double t;
	int err;

	if (!in)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	t = now_ms();
	if (!ks->n) {
		err = pp_kallsyms_load(ks, "");
		if (err)
			fprintf(stderr, "perf-symbench: /proc/kallsyms: %s\n", strerror(-err));
	}
	r->kallsyms_ms = now_ms() - t;
	pp_unwinder_reset(unw);
	err = pp_profile_init(&prof, "", cache, 5000000);
	if (err) {
		free(in);
		return err;
	}
	in->prof = &prof;
	in->unw = (pd->attr.sample_type & PERF_SAMPLE_STACK_USER) ? unw : NULL;
	in->fmt.sample_type = pd->attr.sample_type;
	in->fmt.regs_user_mask = pd->attr.sample_regs_user;
	in->fmt.read_format = pd->attr.read_format;
	in->fmt.sample_id_all = pd->attr.sample_id_all;
	t = now_ms();
	/* perf.data holds the rings' records round by round, not in time
	 * order: sort them, as the live drain merges its rings */
	for (off = 0; (h = perfdata_next(pd, &off));) {
		if (h->type >= PERF_RECORD_MAX)
			continue; /* perf's own header records */
		if (n_recs == cap_recs) {
			struct rec *nr;

			cap_recs = cap_recs ? cap_recs * 2 : 65536;
			nr = realloc(recs, cap_recs * sizeof(*nr));
			if (!nr) {
				err = -ENOMEM;
				goto out;
			}
			recs = nr;
		}
		recs[n_recs].h = h;
		recs[n_recs].time = pp_record_time(&in->fmt, h);
		recs[n_recs].seq = n_recs;
		n_recs++;
	}
	qsort(recs, n_recs, sizeof(*recs), cmp_rec);
	for (size_t i = 0; i < n_recs; i++)
		pp_ingest_record(in, recs[i].h);
	r->records = n_recs;
	r->ingest_ms = now_ms() - t;
	r->samples = prof.samples;
	t = now_ms();
	err = pp_agg_build(&a, &prof, ks->n ? ks : NULL, cache->debug_dir, PP_GROUP_SYMBOL, pid);
	r->symbolise_ms = now_ms() - t;
	if (err)
		goto out;
	r->frames = a.frames_symbolised;
	r->resolved = a.frames_resolved;
	if (print) {
		printf("\"unwind\":{");
		for (int i = 0; i < PP_UNW__N; i++)
			printf("%s\"%s\":%llu", i ? "," : "", pp_unwind_method_name(i),
			       (unsigned long long)prof.by_method[i]);
		printf("},\"filtered_samples\":%llu,\"lost_samples\":%llu,\"top\":[",
		       (unsigned long long)a.total, (unsigned long long)prof.lost_samples);
		for (size_t i = 0; i < a.n_sym_order && (int)i < top; i++) {
			const struct pp_symrow *row = &a.rows[a.sym_order[i]];

			if (!row->self)
				break;
			printf("%s{\"symbol\":", i ? "," : "");
			json_str(row->name);
			printf(",\"module\":");
			json_str(row->module);
			printf(",\"self_pct\":%.2f,\"total_pct\":%.2f}",
			       100.0 * (double)row->self / (double)(a.total ? a.total : 1),
			       100.0 * (double)row->total / (double)(a.total ? a.total : 1));
		}
		printf("],");
		if (folded)
			err = print_folded(&prof, ks->n ? ks : NULL, cache->debug_dir, pid);
	}
out:
	pp_agg_free(&a);
	pp_profile_free(&prof);
	free(recs);
	free(in);
	return err;
}

static void print_run(const char *name, const struct run *r)
{
	printf("\"%s\":{\"kallsyms_ms\":%.2f,\"ingest_ms\":%.2f,\"symbolise_ms\":%.2f,"
	       "\"total_ms\":%.2f,\"records\":%llu,\"samples\":%llu,\"distinct_frames\":%llu,"
	       "\"resolved_frames\":%llu}",
	       name, r->kallsyms_ms, r->ingest_ms, r->symbolise_ms,
	       r->kallsyms_ms + r->ingest_ms + r->symbolise_ms, (unsigned long long)r->records,
	       (unsigned long long)r->samples, (unsigned long long)r->frames,
	       (unsigned long long)r->resolved);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "top", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'p' },
		{ "debug-dir", required_argument, NULL, 'd' },
		{ "folded", no_argument, NULL, 'f' },
		{ 0 },
	};
	const char *debug_dir = "/usr/lib/debug";
	struct pp_elf_cache cache;
	struct pp_kallsyms ks = { 0 };
	struct pp_unwinder *unw = NULL;
	struct perfdata pd;
	struct run cold, warm;
	int top = 10, c, err;
	bool folded = false;
	int32_t pid = -1;
	char msg[256];

	while ((c = getopt_long(argc, argv, "t:p:d:f", longs, NULL)) != -1) {
		switch (c) {
		case 't':
			top = atoi(optarg);
			break;
		case 'p':
			pid = atoi(optarg);
			break;
		case 'd':
			debug_dir = optarg;
			break;
		case 'f':
			folded = true;
			break;
		default:
			optind = argc; /* the usage below */
			break;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: perf-symbench [--top N] [--pid PID] [--debug-dir DIR] "
				"[--folded] FILE\n");
		return 2;
	}
	err = perfdata_open(&pd, argv[optind], msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "perf-symbench: %s\n", msg);
		return 1;
	}
	if (pp_elf_cache_init(&cache, debug_dir, 4096) || pp_unwinder_new(&unw)) {
		fprintf(stderr, "perf-symbench: out of memory\n");
		return 1;
	}
	printf("{\"file\":");
	json_str(argv[optind]);
	printf(",\"sample_type\":%llu,\"dwarf\":%s,",
	       (unsigned long long)pd.attr.sample_type,
	       (pd.attr.sample_type & PERF_SAMPLE_STACK_USER) ? "true" : "false");
	err = one_run(&pd, &cache, &ks, unw, pid, top, true, folded, &cold);
	if (!err)
		err = one_run(&pd, &cache, &ks, unw, pid, top, false, false, &warm);
	if (err) {
		printf("\"error\":");
		json_str(strerror(-err));
		printf("}\n");
		return 1;
	}
	print_run("cold", &cold);
	putchar(',');
	print_run("warm", &warm);
	printf(",\"cache_files\":%zu,\"debug_files\":%llu}\n", cache.n_entries,
	       (unsigned long long)cache.st.debug_files);
	pp_kallsyms_free(&ks);
	pp_unwinder_free(unw);
	pp_elf_cache_fini(&cache);
	perfdata_close(&pd);
	return 0;
}
