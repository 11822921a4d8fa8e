/* SPDX-License-Identifier: MIT */
/*
 * sample_scheduler_stats: read a stats target every interval for a while on
 * a connection of its own, and turn every numeric leaf into a series:
 *
 *   counter   declared u64/i64 (or an integer without stats_meta) that never
 *             went down and grew: rate_per_s = increase / seconds covered
 *   gauge     anything else that changed: mean, min, max, last
 *   constant  never changed: listed apart, briefly
 *
 * A connection of its own matters: schedulers like scx_layered report their
 * numbers over the period since *this connection's* previous read, so a
 * resource read elsewhere must not shorten the sampler's periods.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/glob.h>
#include <schedmcp/hashmap.h>

#include "sx.h"

#define MAX_SERIES 4096
#define MAX_ARRAY_ELEMS 16
#define MAX_DEPTH 12
#define MAX_CONSTANTS 40

const char sx_sample_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":300,\"default\":10},"
	"\"interval_ms\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":60000,\"default\":1000},"
	"\"target\":{\"type\":\"string\",\"maxLength\":64,\"default\":\"top\"},"
	"\"fields\":{\"type\":\"string\",\"maxLength\":256,\"description\":\"globs, e.g. "
	"'layers.*.util'\"},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500,\"default\":60}"
	"},\"additionalProperties\":false}";

struct series {
	char *path;
	enum sx_kind kind;
	uint32_t n;
	uint32_t sample; /* sx_sampler.seq of the last value recorded */
	bool all_int, decreased, changed;
	double first, last, min, max, sum;
	uint64_t first_ns, last_ns;
};

struct sx_sampler {
	struct sx_plugin *p;
	struct smcp_call *call;
	struct smcp_result *res;
	struct sx_conn *conn;
	struct sx_req *req;
	struct sx_meta *meta;
	int timer;
	int slot;
	char target[SX_TARGET_MAX + 1];
	char fields[257];
	uint32_t interval_ms, want, got, failed, skipped, limit;
	uint64_t start_ns, deadline_ns;
	char error[300];
	int last_err;
	struct series *s;
	size_t n;
	struct smcp_hashmap by_path; /* series path (its own copy) -> index into s */
	uint32_t seq;   /* samples flattened so far */
	/* paths left out of the sample being read, and the most of any sample */
	struct sx_skips cur, skips;
	struct sx_repair repair; /* the reply with the most strings repaired */
	bool paths_cut;
	bool meta_phase;
	bool priming; /* the first stats read only opens the period (see on_sample) */
};

static bool wanted(const struct sx_sampler *sm, const char *path)
{
	char buf[257], *save = NULL, *g;

	if (!sm->fields[0])
		return true;
	snprintf(buf, sizeof(buf), "%s", sm->fields);
	for (g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
		while (*g == ' ')
			g++;
		if (*g && smcp_glob_match(g, path))
			return true;
	}
	return false;
}

static struct series *series_get(struct sx_sampler *sm, const char *path, enum sx_kind kind)
{
	struct smcp_hashmap_entry *e = smcp_hashmap_find(&sm->by_path, (uintptr_t)path);
	struct series *s;
	int err;

	if (e)
		return &sm->s[e->value];
	if (sm->n == MAX_SERIES) {
		sm->paths_cut = true;
		return NULL;
	}
	s = &sm->s[sm->n];
	*s = (struct series){ .kind = kind, .all_int = true };
	s->path = strdup(path);
	if (!s->path)
		return NULL;
	/* keyed by the series' own copy: path is the caller's buffer */
	err = smcp_hashmap_insert(&sm->by_path, (uintptr_t)s->path, sm->n, NULL);
	if (err < 0) {
		free(s->path);
		return NULL;
	}
	sm->n++;
	return s;
}

static void record(struct sx_sampler *sm, const char *path, enum sx_kind kind, double v,
		   uint64_t t)
{
	struct series *s;

	if (!wanted(sm, path) || !(s = series_get(sm, path, kind)))
		return;
	if (s->n && s->sample == sm->seq) {
		/* a second value with this path in one reading: merged, it would make
		 * one series go up and down; the first stays, the rest are counted */
		sx_skip_repeated(&sm->cur, path);
		return;
	}
	s->sample = sm->seq;
	if (s->n == 0) {
		s->first = s->min = s->max = v;
		s->first_ns = t;
	} else {
		if (v < s->last)
			s->decreased = true;
		if (v != s->last)
			s->changed = true;
	}
	if (v != floor(v))
		s->all_int = false;
	s->min = v < s->min ? v : s->min;
	s->max = v > s->max ? v : s->max;
	s->last = v;
	s->last_ns = t;
	s->sum += v;
	s->n++;
}

static void flatten(struct sx_sampler *sm, const struct sx_struct *st, const cJSON *v,
		    const char *path, int depth, uint64_t t);

static bool is_leaf_or_container(const cJSON *v)
{
	return cJSON_IsNumber(v) || cJSON_IsObject(v) || cJSON_IsArray(v);
}

/*
 * One member value of a field (datum, array element or dict value). Paths
 * are never cut: a path longer than SX_PATH_MAX is left out and counted
 * (cut, two fields would share one series).
 */
static void flatten_value(struct sx_sampler *sm, const struct sx_field *f, const cJSON *v,
			  const char *path, int depth, uint64_t t)
{
	const struct sx_struct *sub = f ? f->sub : NULL;
	char el[SX_PATH_MAX];
	const cJSON *e;
	int i = 0;

	if (cJSON_IsNumber(v)) {
		record(sm, path, f ? f->kind : SX_KIND_UNKNOWN, v->valuedouble, t);
	} else if (cJSON_IsObject(v)) {
		if (f && f->shape == SX_DICT && f->kind != SX_KIND_STRUCT) {
			cJSON_ArrayForEach(e, v) {
				if (cJSON_IsNumber(e) &&
				    sx_path_join(el, path, ".", e->string, &sm->cur))
					record(sm, el, f->kind, e->valuedouble, t);
			}
		} else if (f && f->shape == SX_DICT) {
			cJSON_ArrayForEach(e, v) {
				if (cJSON_IsObject(e) &&
				    sx_path_join(el, path, ".", e->string, &sm->cur))
					flatten(sm, sub, e, el, depth + 1, t);
			}
		} else {
			flatten(sm, sub, v, path, depth + 1, t);
		}
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(e, v) {
			if (i == MAX_ARRAY_ELEMS) {
				sm->paths_cut = true;
				break;
			}
			if (!cJSON_IsNumber(e) && !cJSON_IsObject(e)) {
				i++;
				continue;
			}
			if (!sx_path_index(el, path, i++, &sm->cur))
				continue;
			if (cJSON_IsNumber(e))
				record(sm, el, f ? f->kind : SX_KIND_UNKNOWN, e->valuedouble, t);
			else
				flatten(sm, sub, e, el, depth + 1, t);
		}
	}
}

static void flatten(struct sx_sampler *sm, const struct sx_struct *st, const cJSON *v,
		    const char *path, int depth, uint64_t t)
{
	char sub[SX_PATH_MAX];
	const cJSON *e;

	if (depth > MAX_DEPTH || !cJSON_IsObject(v))
		return;
	cJSON_ArrayForEach(e, v) {
		const struct sx_field *f = sx_struct_field(st, e->string);

		if (f && f->skip)
			continue; /* _om_skip: bitmaps, indexes, timestamps */
		if (is_leaf_or_container(e) && sx_path_join(sub, path, ".", e->string, &sm->cur))
			flatten_value(sm, f, e, sub, depth, t);
	}
}

/* One reading into the series; what it left out is kept when it is the most. */
static void flatten_sample(struct sx_sampler *sm, const struct sx_struct *st, const cJSON *v,
			   uint64_t t)
{
	memset(&sm->cur, 0, sizeof(sm->cur));
	sm->seq++;
	flatten(sm, st, v, "", 0, t);
	if (sm->cur.too_long > sm->skips.too_long) {
		sm->skips.too_long = sm->cur.too_long;
		memcpy(sm->skips.too_long_example, sm->cur.too_long_example,
		       sizeof(sm->skips.too_long_example));
	}
	if (sm->cur.repeated > sm->skips.repeated) {
		sm->skips.repeated = sm->cur.repeated;
		memcpy(sm->skips.repeated_example, sm->cur.repeated_example,
		       sizeof(sm->skips.repeated_example));
	}
}

/* -------------------------------------------------------------- results */

static bool is_counter(const struct series *s)
{
	bool int_kind = s->kind == SX_KIND_U64 || s->kind == SX_KIND_I64 ||
			(s->kind == SX_KIND_UNKNOWN && s->all_int);

	return int_kind && s->n >= 2 && s->changed && !s->decreased && s->last_ns > s->first_ns;
}

static double rate(const struct series *s)
{
	return (s->last - s->first) / ((double)(s->last_ns - s->first_ns) / 1e9);
}

static int by_rate(const void *a, const void *b)
{
	double x = rate(*(const struct series *const *)a), y = rate(*(const struct series *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp((*(const struct series *const *)a)->path,
		      (*(const struct series *const *)b)->path);
}

/* The declared numeric type, else what the values seen were. */
static const char *kind_str(const struct series *s)
{
	if (s->kind == SX_KIND_U64 || s->kind == SX_KIND_I64 || s->kind == SX_KIND_FLOAT)
		return sx_kind_name(s->kind);
	return s->all_int ? "integer" : "number";
}

/* Body bytes kept after the counter and gauge rows for the constants, the
 * repairs and the notes: json_item_end's tail; a gauge row takes about
 * SX_GAUGE_ROW_BYTES, kept for the gauges while the counters are written. */
#define SX_PAGE_TAIL_BYTES 6144
#define SX_GAUGE_ROW_BYTES 128

/* The rows, ending early (at a row) when the client's max_result_bytes
 * would be passed with tail bytes still to come; returns the rows written. */
static size_t emit_rows(struct sx_sampler *sm, struct smcp_json *j, struct series **rows,
			size_t n, bool counters, size_t tail)
{
	const struct smcp_host_api *api = sm->p->api;
	size_t i;

	api->json_array(j, counters ? "counters" : "gauges");
	for (i = 0; i < n && i < sm->limit; i++) {
		const struct series *s = rows[i];

		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_string(j, "path", s->path);
		api->json_string(j, "type", kind_str(s));
		if (counters) {
			api->json_double(j, "rate_per_s", rate(s));
			api->json_double(j, "increase", s->last - s->first);
		} else {
			api->json_double(j, "mean", s->sum / s->n);
			api->json_double(j, "min", s->min);
			api->json_double(j, "max", s->max);
		}
		api->json_double(j, "last", s->last);
		api->json_end(j);
		if (!smcp_json_item_fits_tail(api, j, tail))
			break;
	}
	api->json_end(j);
	api->json_uint(j, counters ? "counters_total" : "gauges_total", n);
	return i;
}

static void emit_result(struct sx_sampler *sm)
{
	const struct smcp_host_api *api = sm->p->api;
	struct series **cnt = calloc(sm->n + 1, sizeof(*cnt)), **gau = calloc(sm->n + 1, sizeof(*gau));
	size_t nc = 0, ng = 0, nk = 0, shown_c, shown_g;
	uint64_t first = 0, last = 0;
	struct smcp_json *j;
	bool cut, skipped = sm->skips.too_long || sm->skips.repeated;
	char note[700];

	if (!cnt || !gau || !(j = api->result_json(sm->res))) {
		free(cnt);
		free(gau);
		return;
	}
	for (size_t i = 0; i < sm->n; i++) {
		struct series *s = &sm->s[i];

		if (!first || s->first_ns < first)
			first = s->first_ns;
		if (s->last_ns > last)
			last = s->last_ns;
		if (is_counter(s))
			cnt[nc++] = s;
		else if (s->changed)
			gau[ng++] = s;
		else
			nk++;
	}
	qsort(cnt, nc, sizeof(*cnt), by_rate);
	qsort(gau, ng, sizeof(*gau), by_path);
	api->json_string(j, "socket", sm->p->socket_path);
	api->json_string(j, "target", sm->target);
	api->json_uint(j, "samples", sm->got);
	api->json_uint(j, "requested_samples", sm->want);
	api->json_uint(j, "failed_samples", sm->failed);
	api->json_uint(j, "skipped_ticks", sm->skipped);
	api->json_uint(j, "interval_ms", sm->interval_ms);
	api->json_double(j, "covered_s", last > first ? (double)(last - first) / 1e9 : 0);
	api->json_bool(j, "typed_by_stats_meta", sm->meta != NULL);
	shown_c = emit_rows(sm, j, cnt, nc, true,
			   SX_PAGE_TAIL_BYTES +
				   SX_GAUGE_ROW_BYTES * (ng < sm->limit ? ng : sm->limit));
	shown_g = emit_rows(sm, j, gau, ng, false, SX_PAGE_TAIL_BYTES);
	api->json_object(j, "constant");
	for (size_t i = 0, k = 0; i < sm->n && k < MAX_CONSTANTS; i++) {
		if (is_counter(&sm->s[i]) || sm->s[i].changed)
			continue;
		api->json_double(j, sm->s[i].path, sm->s[i].last);
		k++;
	}
	api->json_end(j);
	api->json_uint(j, "constant_total", nk);
	if (skipped)
		sx_skips_emit(api, j, "paths_skipped", &sm->skips);
	sx_repair_emit(api, j, &sm->repair);
	cut = shown_c < nc || shown_g < ng || nk > MAX_CONSTANTS || sm->paths_cut;
	api->json_bool(j, "truncated", cut || skipped);
	api->json_array(j, "notes");
	api->json_string(j, NULL,
			 "a u64 that goes up and down is a per-period value (scx_layered and "
			 "others report counts and percentages over the period since the previous "
			 "read, here interval_ms): it is a gauge, and its mean per interval is "
			 "the typical value per period");
	if (cut)
		api->json_string(j, NULL, "lists cut at limit or at the answer size limit (and "
					  "arrays at 16 elements); narrow with fields, e.g. "
					  "'layers.*.util', or raise limit");
	if (sx_skips_note(&sm->skips, note, sizeof(note)))
		api->json_string(j, NULL, note); /* the most in one sample (paths_skipped) */
	if (sx_repair_note(&sm->repair, "a reply", note, sizeof(note)))
		api->json_string(j, NULL, note);
	if (sx_meta_note(sm->meta, note, sizeof(note)))
		api->json_string(j, NULL, note);
	if (sm->got < 2)
		api->json_string(j, NULL, "fewer than two samples: no rates");
	if (sm->skipped)
		api->json_string(j, NULL, "skipped_ticks: reads still out when the next was due "
					  "(the scheduler answers slower than interval_ms)");
	api->json_end(j);
	if (sm->failed)
		api->json_string(j, "error", sm->error);
	free(cnt);
	free(gau);
}

/* -------------------------------------------------------------- driving */

static void sampler_free(struct sx_sampler *sm)
{
	struct sx_plugin *p = sm->p;

	if (sm->timer > 0)
		(void)p->api->timer_remove(p->host, sm->timer);
	if (sm->slot >= 0 && p->samplers[sm->slot] == sm)
		p->samplers[sm->slot] = NULL;
	sx_conn_free(sm->conn);
	sx_meta_free(sm->meta);
	for (size_t i = 0; i < sm->n; i++)
		free(sm->s[i].path);
	free(sm->s);
	smcp_hashmap_free(&sm->by_path);
	free(sm);
}

static void sampler_finish(struct sx_sampler *sm)
{
	const struct smcp_host_api *api = sm->p->api;
	struct smcp_call *call = sm->call;

	if (sm->got == 0) {
		(void)api->result_error(sm->res, "no sample of %s from %s: %s", sm->target,
					sm->p->socket_path,
					sm->error[0] ? sm->error : "no reply");
	} else {
		emit_result(sm);
	}
	if (sm->skips.too_long || sm->skips.repeated) {
		char note[700];

		(void)sx_skips_note(&sm->skips, note, sizeof(note));
		api->log(sm->p->host, SMCP_LOG_WARNING,
			 "sample_scheduler_stats of %s: in a sample, %s", sm->target, note);
	}
	sampler_free(sm);
	(void)api->call_complete(call, 0);
}

static void on_sample_cancel(void *data, struct smcp_call *call)
{
	sampler_free(data);
}

static void on_sample(void *data, int err, const char *line, size_t len, const char *why);

static void request_sample(struct sx_sampler *sm)
{
	sm->req = sx_conn_request(sm->conn, "stats", sm->target, on_sample, sm);
	if (!sm->req) {
		snprintf(sm->error, sizeof(sm->error), "out of memory");
		sm->failed++;
	}
}

static void on_tick(void *data)
{
	struct sx_sampler *sm = data;
	uint64_t now = sm->p->api->now_ns(sm->p->host);

	if (now >= sm->deadline_ns || sm->got + sm->failed >= sm->want) {
		sampler_finish(sm); /* removes this repeating timer */
		return;
	}
	if (sm->req) {
		sm->skipped++; /* the previous read is still out: the scheduler is slow */
		return;
	}
	request_sample(sm);
}

static void on_sample(void *data, int err, const char *line, size_t len, const char *why)
{
	struct sx_sampler *sm = data;
	const struct smcp_host_api *api = sm->p->api;
	const struct sx_struct *st = NULL;
	struct sx_repair repair;
	const cJSON *resp;
	cJSON *root = NULL;
	char msg[300];
	int eno, rc;

	sm->req = NULL;
	if (sm->meta_phase) {
		/* without stats_meta the fields are typed from their values */
		sm->meta_phase = false;
		if (!err && sx_reply_parse(line, len, sm->p->max_reply_values, &root, &resp, &eno,
					   &repair, msg, sizeof(msg)) == 0 &&
		    (sm->meta = sx_meta_parse(resp, msg, sizeof(msg))))
			sm->meta->repair = repair;
		cJSON_Delete(root);
		if (err == -ENOENT || err == -ECONNREFUSED || err == -EACCES) {
			snprintf(sm->error, sizeof(sm->error), "%s", why);
			sampler_finish(sm);
			return;
		}
		request_sample(sm);
		sm->timer = api->timer_add(sm->p->host, sm->interval_ms, true, on_tick, sm);
		return;
	}
	rc = err ? err
		 : sx_reply_parse(line, len, sm->p->max_reply_values, &root, &resp, &eno, &repair,
				  msg, sizeof(msg));
	if (!rc && sm->priming) {
		/*
		 * Per-period schedulers (scx_layered) answer a new connection's first
		 * read with the few milliseconds since it connected: a partial period
		 * that would skew every mean. Cumulative counters lose nothing.
		 */
		sm->priming = false;
		cJSON_Delete(root);
		return;
	}
	sm->priming = false;
	if (rc) {
		snprintf(sm->error, sizeof(sm->error), "%s", err ? why : msg);
		sm->failed++;
		sm->last_err = rc;
		/* the scheduler is gone (or never served this target): stop now with
		 * what was collected rather than fail every remaining tick */
		if (rc == -ENOENT || rc == -ECONNREFUSED || rc == -EACCES ||
		    (sm->got == 0 && rc == -EREMOTEIO)) {
			sampler_finish(sm);
			return;
		}
	} else {
		if (sm->meta)
			st = strcmp(sm->target, "top") == 0 ? sm->meta->top
							     : sx_meta_find(sm->meta, sm->target);
		flatten_sample(sm, st, resp, api->now_ns(sm->p->host));
		if (repair.bad_utf8 > sm->repair.bad_utf8)
			sm->repair = repair;
		cJSON_Delete(root);
		sm->got++;
		snprintf(msg, sizeof(msg), "sample %u of %u", sm->got, sm->want);
		(void)api->call_progress(sm->call, sm->got, sm->want, msg);
	}
	if (sm->got + sm->failed >= sm->want)
		sampler_finish(sm);
}

int sx_sample_tool(void *data, struct smcp_call *call, const struct smcp_args *args,
		   struct smcp_result *res)
{
	struct sx_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	int64_t duration_s = 10, interval_ms = 1000, limit = 60;
	const char *target = "top", *fields = NULL;
	struct sx_sampler *sm;
	int slot = -1;

	(void)api->arg_int(args, "duration_s", &duration_s);
	(void)api->arg_int(args, "interval_ms", &interval_ms);
	(void)api->arg_int(args, "limit", &limit);
	(void)api->arg_string(args, "target", &target);
	(void)api->arg_string(args, "fields", &fields);
	if (!sx_target_ok(target))
		return api->result_error(res, "target must be 1 to 64 of A-Z a-z 0-9 _ - . "
					      "(e.g. top); got \"%.70s\"", target);
	if (interval_ms > duration_s * 1000)
		return api->result_error(res, "interval_ms (%lld) is longer than duration_s (%lld "
					      "s): no two samples would fit",
					 (long long)interval_ms, (long long)duration_s);
	for (int i = 0; i < SX_MAX_SAMPLERS; i++)
		if (!p->samplers[i]) {
			slot = i;
			break;
		}
	if (slot < 0)
		return api->result_error(res, "%d samplings already run; wait for one to finish "
					      "or cancel it", SX_MAX_SAMPLERS);
	sm = calloc(1, sizeof(*sm));
	if (!sm)
		return -ENOMEM;
	sm->p = p;
	sm->slot = -1;
	sm->call = call;
	sm->res = res;
	sm->interval_ms = (uint32_t)interval_ms;
	/* samples at interval, 2 x interval ... duration_s after the priming read */
	sm->want = (uint32_t)(duration_s * 1000 / interval_ms);
	if (sm->want < 2)
		sm->want = 2;
	sm->limit = (uint32_t)limit;
	snprintf(sm->target, sizeof(sm->target), "%s", target);
	snprintf(sm->fields, sizeof(sm->fields), "%s", fields ? fields : "");
	sm->start_ns = api->now_ns(p->host);
	sm->deadline_ns = sm->start_ns + (uint64_t)duration_s * 1000000000ull +
			  2ull * p->read_timeout_ms * 1000000ull + 1000000000ull;
	sm->s = calloc(MAX_SERIES, sizeof(*sm->s));
	smcp_hashmap_init(&sm->by_path, smcp_hashmap_str_hash, smcp_hashmap_str_equal, NULL,
			  MAX_SERIES);
	sm->conn = sx_conn_new(p);
	if (!sm->s || !sm->conn) {
		sampler_free(sm);
		return -ENOMEM;
	}
	sm->meta_phase = true;
	sm->priming = true;
	sm->req = sx_conn_request(sm->conn, "stats_meta", NULL, on_sample, sm);
	if (!sm->req) {
		sampler_free(sm);
		return -ENOMEM;
	}
	sm->slot = slot;
	p->samplers[slot] = sm;
	(void)api->call_on_cancel(call, on_sample_cancel, sm);
	return SMCP_PENDING;
}

void sx_samplers_free(struct sx_plugin *p)
{
	for (int i = 0; i < SX_MAX_SAMPLERS; i++)
		if (p->samplers[i])
			sampler_free(p->samplers[i]);
}
