/* SPDX-License-Identifier: MIT */
/*
 * scx_stats: the running sched_ext scheduler's own statistics, read from the
 * stats socket it serves (scx_layered, scx_rusty, scx_lavd, scx_p2dq... all
 * Rust schedulers built on the scx_stats crate).
 *
 *   stats://scheduler/raw            the "top" target with its stats_meta
 *   stats://scheduler/raw/{target}   another target, or every instance of a
 *                                    stats_meta struct (e.g. LayerStats)
 *   sample_scheduler_stats           rates of the numeric fields over time
 *
 * Reads never block the loop: they queue a request on the connection and
 * answer SMCP_PENDING; the reply (or a time-out) completes them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include <schedmcp/fsread.h>

#include "sx.h"

#define DEFAULT_SOCKET "/var/run/scx/root/stats"

static const struct smcp_config_key sx_config[] = {
	{ sizeof(struct smcp_config_key), "socket_path", SMCP_CONFIG_PATH, DEFAULT_SOCKET,
	  "unix socket the scheduler serves scx_stats on (scx_* --stats sockets live under "
	  "/var/run/scx/<name>/stats)", 0, 0 },
	{ sizeof(struct smcp_config_key), "connect_timeout_ms", SMCP_CONFIG_INT, "1000",
	  "give up connecting to the socket after this long", 10, 60000 },
	{ sizeof(struct smcp_config_key), "read_timeout_ms", SMCP_CONFIG_INT, "3000",
	  "give up on a reply after this long (the connection is then reopened)", 10, 600000 },
	{ sizeof(struct smcp_config_key), "max_reply_bytes", SMCP_CONFIG_INT, "4194304",
	  "largest reply line read from the scheduler; a longer one is refused", 4096,
	  64 << 20 },
	{ sizeof(struct smcp_config_key), "max_reply_values", SMCP_CONFIG_INT, "100000",
	  "most JSON values (objects, arrays, members, items) in one reply; a reply with more "
	  "is refused before it is parsed (each costs ~80 bytes parsed)", 1000, 10000000 },
	{ sizeof(struct smcp_config_key), "max_answer_bytes", SMCP_CONFIG_INT, "65536",
	  "largest stats answer given to the client; bigger stats are cut with a note", 4096,
	  16 << 20 },
	{ 0 },
};

static struct sx_plugin plugin;

/* ------------------------------------------------------------------ misc */

bool sx_target_ok(const char *t)
{
	return smcp_name_ok(t, SX_TARGET_MAX);
}

void sx_sched_ext(struct sx_plugin *p, char *state, size_t slen, char *ops, size_t olen)
{
	const char *root = p->api->fs_root(p->host);

	/* no sched_ext, or no scheduler attached: empty strings */
	if (smcp_read_file(root, "/sys/kernel/sched_ext/state", state, slen) < 0)
		state[0] = '\0';
	if (smcp_read_file(root, "/sys/kernel/sched_ext/root/ops", ops, olen) < 0)
		ops[0] = '\0';
}

static void emit_sched_ext(struct sx_plugin *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	char state[64], ops[128];

	sx_sched_ext(p, state, sizeof(state), ops, sizeof(ops));
	api->json_object(j, "sched_ext");
	api->json_string(j, "state", state[0] ? state : NULL);
	api->json_string(j, "ops", ops[0] ? ops : NULL);
	api->json_end(j);
}

/* Why nothing answers, in terms of what the kernel says runs. */
static const char *unavailable_hint(struct sx_plugin *p)
{
	char state[64], ops[128];

	sx_sched_ext(p, state, sizeof(state), ops, sizeof(ops));
	if (!state[0])
		return "this kernel has no sched_ext (no /sys/kernel/sched_ext), so no scx "
		       "scheduler can run and nothing serves scheduler stats";
	if (strcmp(state, "enabled") != 0)
		return "no sched_ext scheduler is running (the kernel's fair class schedules "
		       "everything), so nothing serves scheduler stats";
	return "a sched_ext scheduler runs but serves no stats at this path: schedulers "
	       "written in C (scx_simple, scx_central...) have no stats socket, and Rust "
	       "ones serve /var/run/scx/root/stats unless started with another path";
}

/* Remember a target that answered; return the seconds since its previous
 * read on the same connection, or a negative number when unknown. */
static double seen_target(struct sx_plugin *p, const char *target)
{
	uint64_t now = p->api->now_ns(p->host), gen = sx_conn_generation(p->main);
	size_t i, free_slot = SX_SEEN_TARGETS, oldest = 0;
	double period = -1;

	for (i = 0; i < SX_SEEN_TARGETS; i++) {
		if (!p->seen[i].name[0]) {
			if (free_slot == SX_SEEN_TARGETS)
				free_slot = i;
			continue;
		}
		if (strcmp(p->seen[i].name, target) == 0)
			break;
		if (p->seen[i].at_ns < p->seen[oldest].at_ns)
			oldest = i;
	}
	if (i == SX_SEEN_TARGETS) {
		i = free_slot < SX_SEEN_TARGETS ? free_slot : oldest;
		snprintf(p->seen[i].name, sizeof(p->seen[i].name), "%s", target);
	} else if (p->seen[i].gen == gen && p->seen[i].at_ns) {
		period = (double)(now - p->seen[i].at_ns) / 1e9;
	}
	p->seen[i].gen = gen;
	p->seen[i].at_ns = now;
	return period;
}

/* ----------------------------------------------------------------- reads */

/*
 * A read: stats of the target first; then stats_meta when the one we hold
 * came from another connection (the scheduler may have been replaced since);
 * then, when the target is unknown to the scheduler but names a stats_meta
 * struct, top, from which that struct's instances are picked.
 */
enum read_phase {
	R_STATS,
	R_META,
	R_TOP,
};

struct sx_read {
	struct sx_plugin *p;
	struct smcp_call *call;
	struct smcp_result *res;
	struct sx_req *req;
	enum read_phase phase;
	char target[SX_TARGET_MAX + 1];
	char meta_note[300];
	/* the reply of R_STATS, kept while stats_meta is fetched */
	cJSON *stats_root;
	const cJSON *stats_resp;
	int stats_rc, stats_errno;
	char stats_why[512];
	struct sx_repair repair; /* of the stats reply answered with */
};

static void read_free(struct sx_read *rd)
{
	cJSON_Delete(rd->stats_root);
	free(rd);
}

static void read_done(struct sx_read *rd)
{
	struct smcp_call *call = rd->call;
	const struct smcp_host_api *api = rd->p->api;

	read_free(rd);
	(void)api->call_complete(call, 0);
}

static void on_read_cancel(void *data, struct smcp_call *call)
{
	struct sx_read *rd = data;

	sx_req_drop(rd->p->main, rd->req);
	read_free(rd);
}

static void answer_unavailable(struct sx_read *rd, int err, const char *why)
{
	struct sx_plugin *p = rd->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(rd->res);

	if (!j)
		return;
	api->json_bool(j, "available", false);
	api->json_string(j, "socket", p->socket_path);
	api->json_string(j, "target", rd->target);
	api->json_string(j, "reason", why);
	if (err == -ENOENT || err == -ECONNREFUSED)
		api->json_string(j, "hint", unavailable_hint(p));
	else if (err == -E2BIG || err == -EMSGSIZE)
		api->json_string(j, "hint", "the limits are max_reply_bytes and max_reply_values "
					    "in [plugin scx_stats]; raise them only for a "
					    "scheduler you trust");
	else if (err == -ETIMEDOUT)
		api->json_string(j, "hint", "the scheduler may be stuck or overloaded; its stats "
					    "thread did not answer in time. Try again, or raise "
					    "read_timeout_ms in [plugin scx_stats]");
	emit_sched_ext(p, j);
}

static void emit_targets(struct sx_plugin *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;

	api->json_array(j, "targets_seen");
	for (size_t i = 0; i < SX_SEEN_TARGETS; i++)
		if (p->seen[i].name[0])
			api->json_string(j, NULL, p->seen[i].name);
	api->json_end(j);
	api->json_array(j, "structs");
	for (size_t i = 0; p->meta && i < p->meta->n_structs; i++)
		api->json_string(j, NULL, p->meta->structs[i].name);
	api->json_end(j);
}

static void answer_unknown_target(struct sx_read *rd, const char *why)
{
	struct sx_plugin *p = rd->p;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->result_json(rd->res);

	if (!j)
		return;
	api->json_bool(j, "available", true);
	api->json_bool(j, "found", false);
	api->json_string(j, "socket", p->socket_path);
	api->json_string(j, "target", rd->target);
	api->json_string(j, "reason", why);
	api->json_string(j, "hint", "a target is a name the scheduler serves stats under "
				    "('top' always exists), or a struct name from stats_meta "
				    "(its instances are picked out of top)");
	emit_targets(p, j);
}

/* An estimate of what sx_meta_emit writes, to stay within max_answer_bytes. */
static size_t meta_size(const struct sx_meta *m, bool with_desc)
{
	size_t n = 64;

	for (size_t i = 0; m && i < m->n_structs; i++) {
		n += strlen(m->structs[i].name) + 40;
		if (with_desc && m->structs[i].desc)
			n += strlen(m->structs[i].desc) + 12;
		for (size_t k = 0; k < m->structs[i].n_fields; k++) {
			const struct sx_field *f = &m->structs[i].fields[k];

			n += strlen(f->name) + 32 + (f->struct_name ? strlen(f->struct_name) : 0);
			if (with_desc && f->desc)
				n += strlen(f->desc) + 12;
		}
	}
	return n;
}

/* A copy of v with containers deeper than depth replaced by a summary. */
static cJSON *cut_json(const cJSON *v, int depth)
{
	cJSON *out, *e;

	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return cJSON_Duplicate(v, false);
	if (depth <= 0) {
		int n = cJSON_GetArraySize(v), k = 0;
		cJSON *keys;

		out = cJSON_CreateObject();
		cJSON_AddBoolToObject(out, "cut", true);
		cJSON_AddNumberToObject(out, cJSON_IsArray(v) ? "items" : "members", n);
		if (cJSON_IsObject(v)) {
			keys = cJSON_AddArrayToObject(out, "keys");
			cJSON_ArrayForEach(e, v) {
				if (k++ == 20)
					break;
				cJSON_AddItemToArray(keys, cJSON_CreateString(e->string));
			}
		}
		return out;
	}
	out = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
	cJSON_ArrayForEach(e, v) {
		cJSON *c = cut_json(e, depth - 1);

		if (cJSON_IsArray(v))
			cJSON_AddItemToArray(out, c);
		else
			cJSON_AddItemToObject(out, e->string, c);
	}
	return out;
}

/* At most as long as cJSON prints number d: integers exactly, fractions as
 * their shortest ("0.5"), non-finite numbers as null. */
static size_t number_min_len(double d)
{
	size_t n = d < 0 ? 2 : 1;

	if (!isfinite(d) || fabs(d) >= 1e15)
		return 4;
	if (d != floor(d))
		return n + 2;
	for (d = fabs(d); d >= 10; d /= 10)
		n++;
	return n;
}

/*
 * A lower bound of the length of cJSON_PrintUnformatted(cut_json(v, depth))
 * (depth < 0: of v whole), counted only until it passes limit. A form that
 * cannot fit is then never copied nor printed: printing a reply of 100000
 * numbers only to find it too long cost 70 ms and a copy of the tree, for
 * each depth tried.
 */
static size_t min_printed(const cJSON *v, int depth, size_t limit)
{
	const cJSON *e;
	size_t n;
	int k = 0;

	if (cJSON_IsNumber(v))
		return number_min_len(v->valuedouble);
	if (cJSON_IsString(v))
		return 2 + strlen(v->valuestring);
	if (cJSON_IsFalse(v))
		return 5;
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return 4; /* true, null */
	if (depth == 0) {
		/* {"cut":true,"items":N} or {"cut":true,"members":N,"keys":[...]} */
		n = 20;
		if (cJSON_IsObject(v))
			cJSON_ArrayForEach(e, v) {
				if (k++ == 20)
					break;
				n += 2 + strlen(e->string);
			}
		return n;
	}
	n = 1; /* the opening bracket; each member adds its comma or the closing one */
	cJSON_ArrayForEach(e, v) {
		n += 1 + (cJSON_IsObject(v) ? 3 + strlen(e->string) : 0);
		n += min_printed(e, depth < 0 ? depth : depth - 1, limit - (n < limit ? n : limit));
		if (n > limit)
			break;
	}
	return n;
}

/*
 * Write value under key within budget bytes: whole, or cut deeper and
 * deeper. Sets *ret_cut when it was cut (or left out: null); returns 0, or
 * -errno when the host's writer refused the text (null written).
 */
static int emit_bounded(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
			const cJSON *value, size_t budget, bool *ret_cut)
{
	static const int depths[] = { -1, 4, 3, 2, 1 }; /* -1: whole */
	char *text = NULL;
	int err;

	*ret_cut = false;
	for (size_t i = 0; value && i < SMCP_COUNT(depths); i++) {
		cJSON *c = NULL;

		*ret_cut = i > 0;
		if (min_printed(value, depths[i], budget) > budget)
			continue;
		if (depths[i] >= 0 && !(c = cut_json(value, depths[i])))
			break;
		text = cJSON_PrintUnformatted(c ? c : value);
		cJSON_Delete(c);
		if (text && strlen(text) <= budget)
			break;
		free(text);
		text = NULL;
	}
	if (!text) {
		*ret_cut = true;
		api->json_null(j, key);
		return 0;
	}
	/* sx_reply_parse made the strings UTF-8, so this only fails for memory;
	 * never drop the member in silence */
	err = api->json_raw(j, key, text);
	free(text);
	if (err) {
		*ret_cut = true;
		api->json_null(j, key);
	}
	return err;
}

static void answer_stats(struct sx_read *rd, const cJSON *resp)
{
	struct sx_plugin *p = rd->p;
	const struct smcp_host_api *api = p->api;
	const struct sx_struct *root = NULL, *want = NULL;
	struct smcp_json *j = api->result_json(rd->res);
	size_t budget = p->max_answer_bytes, reserve;
	struct sx_extract_info xi = { 0 };
	cJSON *picked = NULL;
	bool cut = false, with_desc = true, meta_fits = true;
	char note[700];
	double period;
	int err;

	if (!j)
		return;
	if (p->meta) {
		root = p->meta->top;
		want = sx_meta_find(p->meta, rd->target);
		if (rd->phase != R_TOP && strcmp(rd->target, "top") != 0)
			root = want; /* a target named after its struct */
	}
	api->json_bool(j, "available", true);
	api->json_string(j, "socket", p->socket_path);
	api->json_string(j, "target", rd->target);
	emit_sched_ext(p, j);
	period = seen_target(p, rd->phase == R_TOP ? "top" : rd->target);
	if (period >= 0)
		api->json_double(j, "period_s", period);
	else
		api->json_null(j, "period_s");
	api->json_string(j, "period_note",
			 "schedulers such as scx_layered report counts and percentages over the "
			 "period since this client's previous read of the target (period_s; null: "
			 "first read on this connection); cumulative counters are totals");
	/* leave room for the meta and the envelope (notes included) */
	if (p->meta && meta_size(p->meta, true) > budget / 3)
		with_desc = false;
	if (p->meta && meta_size(p->meta, false) > budget / 3)
		meta_fits = false;
	reserve = budget / 4 < 4096 ? budget / 4 : 4096;
	budget -= reserve;
	if (p->meta && meta_fits)
		budget -= meta_size(p->meta, with_desc) < budget ? meta_size(p->meta, with_desc)
								 : budget;
	if (rd->phase == R_TOP) {
		picked = sx_meta_extract(p->meta, p->meta->top, resp, rd->target, &xi);
		api->json_string(j, "struct", rd->target);
		api->json_string(j, "picked_from", "top");
		err = emit_bounded(api, j, "instances", picked, budget, &cut);
		api->json_uint(j, "instances_found", xi.found);
		if (xi.skips.too_long || xi.skips.repeated)
			sx_skips_emit(api, j, "paths_skipped", &xi.skips);
		root = want;
	} else {
		err = emit_bounded(api, j, "stats", resp, budget, &cut);
	}
	sx_repair_emit(api, j, &rd->repair);
	if (p->meta && meta_fits)
		sx_meta_emit(api, j, "meta", p->meta, root, with_desc);
	else
		api->json_null(j, "meta");
	api->json_bool(j, "truncated", cut || !meta_fits || xi.cut[0]);
	api->json_array(j, "notes");
	if (err) {
		snprintf(note, sizeof(note), "the stats could not be written into the answer: %s",
			 strerror(-err));
		api->json_string(j, NULL, note);
	}
	if (cut)
		api->json_string(j, NULL, "the stats were cut to fit max_answer_bytes: nested "
					  "objects deeper than shown are summarised ({cut, members, "
					  "keys}); read stats://scheduler/raw/{target} with a struct "
					  "name from meta for its instances");
	if (xi.cut[0]) {
		snprintf(note, sizeof(note), "instances left out: %s", xi.cut);
		api->json_string(j, NULL, note);
	}
	if (sx_repair_note(&rd->repair, "the scheduler's reply", note, sizeof(note)))
		api->json_string(j, NULL, note);
	if (sx_meta_note(p->meta, note, sizeof(note)))
		api->json_string(j, NULL, note);
	if (!meta_fits)
		api->json_string(j, NULL, "stats_meta is too large to include; field types and "
					  "descriptions are left out");
	else if (!with_desc)
		api->json_string(j, NULL, "field descriptions left out to fit max_answer_bytes");
	if (rd->meta_note[0])
		api->json_string(j, NULL, rd->meta_note);
	api->json_end(j);
	api->json_string(j, "more", "stats://scheduler/raw/{target}: another target, or a "
				    "struct name from meta (e.g. every instance of it); "
				    "sample_scheduler_stats: rates of the numeric fields over an "
				    "interval");
	cJSON_Delete(picked);
}

static void read_submit(struct sx_read *rd, const char *req, const char *target);

static bool meta_stale(const struct sx_plugin *p)
{
	return !p->meta || p->meta_gen != sx_conn_generation(p->main);
}

/* Stats (and meta) are in: answer, or read top to pick a struct out of it. */
static void read_decide(struct sx_read *rd)
{
	struct sx_plugin *p = rd->p;

	if (rd->stats_rc == -EREMOTEIO && rd->stats_errno == EINVAL && p->meta && p->meta->top &&
	    sx_meta_find(p->meta, rd->target)) {
		rd->phase = R_TOP;
		read_submit(rd, "stats", "top");
		return;
	}
	if (rd->stats_rc == -EREMOTEIO)
		answer_unknown_target(rd, rd->stats_why);
	else
		answer_stats(rd, rd->stats_resp);
	read_done(rd);
}

static void on_read_reply(void *data, int err, const char *line, size_t len, const char *why)
{
	struct sx_read *rd = data;
	struct sx_plugin *p = rd->p;
	struct sx_repair repair = { 0 };
	const cJSON *resp = NULL;
	cJSON *root = NULL;
	char msg[512];
	int eno = 0, rc;

	rd->req = NULL;
	if (err && rd->phase != R_META) {
		answer_unavailable(rd, err, why);
		read_done(rd);
		return;
	}
	rc = err ? err
		 : sx_reply_parse(line, len, p->max_reply_values, &root, &resp, &eno, &repair, msg,
				  sizeof(msg));
	/* not a reply we can use (not the protocol, too big): only the scheduler's
	 * own errno tells something about the target */
	if (rc && rc != -EREMOTEIO && rd->phase != R_META) {
		answer_unavailable(rd, rc, msg);
		read_done(rd);
		return;
	}
	switch (rd->phase) {
	case R_STATS:
		rd->repair = repair;
		rd->stats_rc = rc;
		rd->stats_errno = eno;
		rd->stats_root = root;
		rd->stats_resp = resp;
		snprintf(rd->stats_why, sizeof(rd->stats_why), "%s", rc ? msg : "");
		if (meta_stale(p)) {
			rd->phase = R_META;
			read_submit(rd, "stats_meta", NULL);
			return;
		}
		read_decide(rd);
		return;
	case R_META:
		if (rc == 0) {
			struct sx_meta *m = sx_meta_parse(resp, msg, sizeof(msg));

			if (m) {
				m->repair = repair;
				sx_meta_free(p->meta);
				p->meta = m;
				p->meta_gen = sx_conn_generation(p->main);
			} else {
				snprintf(rd->meta_note, sizeof(rd->meta_note),
					 "stats_meta could not be used: %s", msg);
			}
			cJSON_Delete(root);
		} else {
			snprintf(rd->meta_note, sizeof(rd->meta_note),
				 "the scheduler gave no stats_meta: %s", err ? why : msg);
		}
		read_decide(rd);
		return;
	case R_TOP:
		rd->repair = repair;
		if (rc == -EREMOTEIO)
			answer_unknown_target(rd, msg);
		else
			answer_stats(rd, resp);
		cJSON_Delete(root);
		read_done(rd);
		return;
	}
}

/* The next request of a pending read (called from a reply). */
static void read_submit(struct sx_read *rd, const char *req, const char *target)
{
	struct smcp_call *call = rd->call;
	const struct smcp_host_api *api = rd->p->api;

	rd->req = sx_conn_request(rd->p->main, req, target, on_read_reply, rd);
	if (!rd->req) {
		read_free(rd);
		(void)api->call_complete(call, -ENOMEM);
	}
}

static int read_start(struct sx_plugin *p, struct smcp_call *call, const char *target,
		      struct smcp_result *res)
{
	const struct smcp_host_api *api = p->api;
	struct sx_read *rd;

	if (!sx_target_ok(target)) {
		struct smcp_json *j = api->result_json(res);

		if (!j)
			return -ENOMEM;
		api->json_bool(j, "available", false);
		api->json_string(j, "target", target);
		api->json_string(j, "reason", "a target is 1 to 64 of the characters "
					      "A-Z a-z 0-9 _ - . (e.g. top or LayerStats)");
		return 0;
	}
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->p = p;
	rd->call = call;
	rd->res = res;
	snprintf(rd->target, sizeof(rd->target), "%s", target);
	rd->phase = R_STATS;
	rd->req = sx_conn_request(p->main, "stats", target, on_read_reply, rd);
	if (!rd->req) {
		free(rd);
		return -ENOMEM;
	}
	(void)api->call_on_cancel(call, on_read_cancel, rd);
	return SMCP_PENDING;
}

static int raw_read(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	return read_start(data, call, "top", res);
}

static int raw_target_read(void *data, struct smcp_call *call, const char *uri,
			   const struct smcp_args *vars, struct smcp_result *res)
{
	struct sx_plugin *p = data;
	const char *target = NULL;

	if (p->api->arg_string(vars, "target", &target) || !target)
		return -ENOENT;
	return read_start(p, call, target, res);
}

/* ------------------------------------------------------------ completion */

static void on_meta_prefetch(void *data, int err, const char *line, size_t len, const char *why)
{
	struct sx_plugin *p = data;
	struct sx_repair repair;
	const cJSON *resp;
	struct sx_meta *m;
	cJSON *root;
	char msg[256];
	int eno;

	p->meta_prefetch = false;
	if (err || sx_reply_parse(line, len, p->max_reply_values, &root, &resp, &eno, &repair, msg,
				  sizeof(msg)))
		return;
	m = sx_meta_parse(resp, msg, sizeof(msg));
	if (m) {
		m->repair = repair;
		sx_meta_free(p->meta);
		p->meta = m;
		p->meta_gen = sx_conn_generation(p->main);
	}
	cJSON_Delete(root);
}

static void add_candidate(struct sx_plugin *p, struct smcp_completion *out, const char *v,
			  const char *prefix, uint32_t *n)
{
	if (strncmp(v, prefix, strlen(prefix)) != 0)
		return;
	(*n)++;
	(void)p->api->completion_add(out, v);
}

static int complete_target(void *data, const char *arg_name, const char *prefix,
			   const struct smcp_args *context, struct smcp_completion *out)
{
	struct sx_plugin *p = data;
	uint32_t n = 0;

	if (strcmp(arg_name, "target") != 0)
		return 0;
	/* completion answers at once: use what is known and refresh for next time */
	if ((!p->meta || p->meta_gen != sx_conn_generation(p->main)) && !p->meta_prefetch)
		p->meta_prefetch = sx_conn_request(p->main, "stats_meta", NULL, on_meta_prefetch,
						   p) != NULL;
	add_candidate(p, out, "top", prefix, &n);
	for (size_t i = 0; i < SX_SEEN_TARGETS; i++)
		if (p->seen[i].name[0] && strcmp(p->seen[i].name, "top") != 0)
			add_candidate(p, out, p->seen[i].name, prefix, &n);
	for (size_t i = 0; p->meta && i < p->meta->n_structs; i++) {
		const char *name = p->meta->structs[i].name;
		bool dup = false;

		for (size_t k = 0; k < SX_SEEN_TARGETS; k++)
			dup |= strcmp(p->seen[k].name, name) == 0;
		if (!dup)
			add_candidate(p, out, name, prefix, &n);
	}
	return p->api->completion_total(out, n);
}

/* ----------------------------------------------------------------- setup */

static const struct smcp_resource_desc sx_resources[] = { {
	SMCP_RESOURCE("stats://scheduler/raw"),
	.name = "scheduler_stats",
	.title = "The sched_ext scheduler's own statistics",
	.description = "The running scx scheduler's statistics from its stats socket "
		       "(target top), with stats_meta: every field's type and "
		       "description. available:false with the reason when no scheduler "
		       "serves stats.",
	.mime_type = "application/json",
	.flags = SMCP_RESOURCE_REPORT,
	.read = raw_read,
	.data = &plugin,
}, {
	SMCP_RESOURCE("stats://scheduler/raw/{target}"),
	.name = "scheduler_stats_target",
	.title = "One stats target or struct of the sched_ext scheduler",
	.description = "A stats target the scheduler serves (e.g. top), or a "
		       "struct name from stats_meta (e.g. LayerStats: every "
		       "instance of it picked out of top), with its field types "
		       "and descriptions.",
	.mime_type = "application/json",
	.read = raw_target_read,
	.complete = complete_target,
	.data = &plugin,
} };

static const struct smcp_tool_desc sx_tools[] = { {
	SMCP_TOOL("sample_scheduler_stats"),
	.description = "The sched_ext scheduler's own stats over duration_s, as rates or "
		       "gauges.",
	.input_schema = sx_sample_schema,
	.flags = SMCP_TOOL_READ_ONLY,
	.call = sx_sample_tool,
	.data = &plugin,
} };

static int sx_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct sx_plugin *p = &plugin;
	const char *path = DEFAULT_SOCKET;
	int err;

	memset(p, 0, sizeof(*p));
	p->host = host;
	p->api = api;
	/* connecting needs write permission on the socket, which a scheduler
	 * running as root creates for root alone */
	err = api->keep_capabilities(host, 1ull << CAP_DAC_OVERRIDE);
	if (err)
		return err;
	(void)api->config_string(host, "socket_path", &path);
	if (strlen(path) >= sizeof(p->socket_path)) {
		(void)api->set_status(host, false, "socket_path is longer than a unix socket "
						   "path can be (107 bytes)");
		return -ENAMETOOLONG;
	}
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", path);
	p->connect_timeout_ms = (uint32_t)smcp_config_int_or(host, api, "connect_timeout_ms", 1000);
	p->read_timeout_ms = (uint32_t)smcp_config_int_or(host, api, "read_timeout_ms", 3000);
	p->max_reply_bytes = (size_t)smcp_config_int_or(host, api, "max_reply_bytes", 4 << 20);
	p->max_reply_values = (size_t)smcp_config_int_or(host, api, "max_reply_values",
							 SX_REPLY_VALUES_DEFAULT);
	p->max_answer_bytes = (size_t)smcp_config_int_or(host, api, "max_answer_bytes", 65536);
	p->main = sx_conn_new(p);
	if (!p->main)
		return -ENOMEM;
	err = smcp_register_resources(host, api, sx_resources, SMCP_COUNT(sx_resources));
	if (!err)
		err = smcp_register_tools(host, api, sx_tools, SMCP_COUNT(sx_tools));
	if (!err)
		err = sx_steps_register(p);
	return err;
}

static void sx_fini(struct smcp_host *host)
{
	struct sx_plugin *p = &plugin;

	sx_samplers_free(p);
	sx_conn_free(p->main);
	sx_meta_free(p->meta);
	memset(p, 0, sizeof(*p));
}

SMCP_PLUGIN_DEFINE("scx_stats", "0.1.0",
		   "the sched_ext scheduler's own statistics from its scx_stats socket",
		   .config_keys = sx_config, .init = sx_init, .fini = sx_fini)
