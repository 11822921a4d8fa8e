/* SPDX-License-Identifier: MIT */
/*
 * scx_stats plugin: a client for the statistics socket that sched_ext
 * schedulers written with the scx_stats crate serve (scx_layered, scx_rusty,
 * scx_lavd, scx_p2dq...). One JSON object per line on a unix stream socket:
 *
 *   -> {"req":"stats","args":{"target":"top"}}     (or "stats_meta")
 *   <- {"errno":0,"args":{"resp":<json>}}           (errno != 0: resp is a message)
 *
 * Everything is non-blocking on the host loop: a request is queued on a
 * connection, the reply completes a pending call later.
 */
#ifndef SX_H
#define SX_H

#include <cjson/cJSON.h>
#include <schedmcp/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SX_TARGET_MAX 64
#define SX_MAX_SAMPLERS 4
#define SX_SEEN_TARGETS 8
/*
 * Everything in a reply comes from whoever can bind the socket path, so the
 * work and memory spent on one are bounded up front:
 * - SX_REPLY_MAX_DEPTH: a reply nested deeper is refused (the scx_stats crate
 *   nests a handful of levels; our walks recurse over it);
 * - max_reply_values (config): a reply with more JSON values is refused
 *   before cJSON builds ~80 bytes for each;
 * - SX_PATH_MAX: the longest path of a field (a.b[3].c) we build; a longer
 *   one is skipped and reported, never cut (cut paths merge distinct fields).
 */
#define SX_REPLY_MAX_DEPTH 64
#define SX_REPLY_VALUES_DEFAULT 100000
#define SX_PATH_MAX 1024
/* Room for an example path in a note: its start, "...", its length. */
#define SX_EXAMPLE_MAX 128

struct sx_conn;
struct sx_req;
struct sx_meta;
struct sx_sampler;

struct sx_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	char socket_path[108]; /* sizeof(sockaddr_un.sun_path) */
	uint32_t connect_timeout_ms;
	uint32_t read_timeout_ms;
	size_t max_reply_bytes;
	size_t max_reply_values;
	size_t max_answer_bytes;
	struct sx_conn *main; /* resource reads */
	struct sx_meta *meta; /* last stats_meta, NULL until fetched */
	uint64_t meta_gen;    /* main connection generation it came from */
	bool meta_prefetch;   /* a background stats_meta (for completion) is out */
	struct sx_sampler *samplers[SX_MAX_SAMPLERS];
	/* targets that answered, with the time of the last read on main */
	struct {
		char name[SX_TARGET_MAX + 1];
		uint64_t gen, at_ns;
	} seen[SX_SEEN_TARGETS];
};

/* ------------------------------------------------------------ connection */

/*
 * Reply of one request: err is 0 and line/len hold the reply line (without
 * the newline; borrowed for the call), or err is -errno and why says what
 * happened in words (connect refused, timed out after N ms, closed after N
 * bytes, reply over N bytes...).
 */
typedef void (*sx_reply_fn)(void *data, int err, const char *line, size_t len, const char *why);

struct sx_conn *sx_conn_new(struct sx_plugin *p);
/* Close and free; queued requests are dropped without their callbacks. */
void sx_conn_free(struct sx_conn *c);
/* Queue request req ("stats" or "stats_meta") with target (NULL: none).
 * The callback runs exactly once, never from inside this call, unless the
 * request is dropped with sx_req_drop() or sx_conn_free(). Returns the
 * request handle or NULL (-ENOMEM). */
struct sx_req *sx_conn_request(struct sx_conn *c, const char *req, const char *target,
			       sx_reply_fn cb, void *data);
/* Forget the callback of a queued or in-flight request. */
void sx_req_drop(struct sx_conn *c, struct sx_req *r);
/* Bumped each time a new connection is established. */
uint64_t sx_conn_generation(const struct sx_conn *c);

/* ------------------------------------------------------------- replies */

/* What had to be repaired in a reply that was otherwise used. */
struct sx_repair {
	size_t bad_utf8;             /* keys and strings with bytes that are not UTF-8 */
	char bad_path[SX_EXAMPLE_MAX]; /* where the first was, e.g. doms_dict.1.name */
};

/*
 * Parse a reply line of at most max_values JSON values (containers, members,
 * array items; 0: no limit) nested at most SX_REPLY_MAX_DEPTH deep. Returns
 * 0 with *ret_resp set (owned by *ret_root, which the caller deletes), or
 * -EPROTO (not a reply object; why says so), -E2BIG (too many values or too
 * deep; why says which), or -EREMOTEIO when the scheduler answered a
 * non-zero errno (*ret_errno, and why holds its message).
 *
 * Invalid UTF-8 in resp does not lose the reply: each bad byte of a key or
 * string becomes U+FFFD, counted with the first path in *ret_repair (when
 * not NULL; zeroed first), so that answers can say what was changed.
 */
int sx_reply_parse(const char *line, size_t len, size_t max_values, cJSON **ret_root,
		   const cJSON **ret_resp, int *ret_errno, struct sx_repair *ret_repair, char *why,
		   size_t why_len);
/* A note for an answer about *r ("2 strings ... first at x.y ..."); false
 * with buf untouched when nothing was repaired. */
bool sx_repair_note(const struct sx_repair *r, const char *what, char *buf, size_t len);
/* {strings, first_path, replaced_with} under "invalid_utf8" when *r holds
 * a repair; nothing otherwise. */
void sx_repair_emit(const struct smcp_host_api *api, struct smcp_json *j,
		    const struct sx_repair *r);
/* Make path an example for a note: whole when it fits in len, else its
 * start, "..." and its length in bytes (need, or strlen(path) when 0). */
void sx_example(char *buf, size_t len, const char *path, size_t need);

/*
 * Paths left out rather than cut or merged: longer than SX_PATH_MAX (cut,
 * two fields would share one path), or repeating one already taken (a key
 * twice in an object, or "a.b" beside "a": {"b"}), with the first of each.
 */
struct sx_skips {
	size_t too_long, repeated;
	char too_long_example[SX_EXAMPLE_MAX], repeated_example[SX_EXAMPLE_MAX];
};

/* Join path, sep and key into buf (SX_PATH_MAX bytes); false, counted in k,
 * when that would be longer. */
bool sx_path_join(char *buf, const char *path, const char *sep, const char *key,
		  struct sx_skips *k);
/* Like sx_path_join for path[idx]. */
bool sx_path_index(char *buf, const char *path, int idx, struct sx_skips *k);
void sx_skip_repeated(struct sx_skips *k, const char *path);
/* A sentence about *k for a note; false with buf untouched when nothing. */
bool sx_skips_note(const struct sx_skips *k, char *buf, size_t len);
/* {too_long, too_long_example, repeated, repeated_example} under key. */
void sx_skips_emit(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		   const struct sx_skips *k);

/* ---------------------------------------------------------------- meta */

enum sx_kind {
	SX_KIND_UNKNOWN = 0,
	SX_KIND_I64,
	SX_KIND_U64,
	SX_KIND_FLOAT,
	SX_KIND_STRING,
	SX_KIND_STRUCT,
};

enum sx_shape {
	SX_DATUM = 0,
	SX_ARRAY,
	SX_DICT,
};

struct sx_struct;

struct sx_field {
	char *name;
	char *desc;
	enum sx_shape shape;
	enum sx_kind kind;   /* of the datum / array element / dict value */
	enum sx_kind key;    /* dict key */
	char *struct_name;   /* kind == SX_KIND_STRUCT */
	const struct sx_struct *sub; /* that struct, NULL when stats_meta lacks it */
	bool skip;           /* user attribute _om_skip: not a metric */
};

struct sx_struct {
	char *name;
	char *desc;
	bool top;
	struct sx_field *fields; /* in stats_meta's order, names unique */
	size_t n_fields;
	const struct sx_field **by_name; /* the same, sorted by name (sx_struct_field) */
};

struct sx_meta {
	struct sx_struct *structs; /* names unique */
	size_t n_structs;
	const struct sx_struct *top; /* the struct marked top, or NULL */
	/*
	 * A field or struct name that stats_meta repeats: only the first is kept
	 * (two fields of one name would be walked once for each, at every level
	 * of a path: repeat^depth steps). Counted, with the first, for answers.
	 */
	size_t dup_fields, dup_structs;
	char dup_first[SX_EXAMPLE_MAX]; /* "Struct.field" or "Struct" */
	struct sx_repair repair; /* of the stats_meta reply (set by the caller) */
};

/* Build from the resp of stats_meta; NULL with why set when it is not a
 * map of struct descriptions. */
struct sx_meta *sx_meta_parse(const cJSON *resp, char *why, size_t why_len);
void sx_meta_free(struct sx_meta *m);
const struct sx_struct *sx_meta_find(const struct sx_meta *m, const char *name);
/* The field of s called name (O(log fields)), or NULL. */
const struct sx_field *sx_struct_field(const struct sx_struct *s, const char *name);
/* A note for answers about what stats_meta repeated or held that was not
 * UTF-8; false with buf untouched when nothing. */
bool sx_meta_note(const struct sx_meta *m, char *buf, size_t len);
/* "u64", "float", "[u64]", "{string:LayerStats}"... into buf. */
const char *sx_field_type(const struct sx_field *f, char *buf, size_t len);
/* "i64", "u64", "float", "string", "struct" or "unknown". */
const char *sx_kind_name(enum sx_kind k);
/* Write {"top": ..., "structs": {NAME: {desc, fields: {F: {type, desc}}}}}
 * under key; only the structs reachable from root (all when root is NULL);
 * descriptions left out when with_desc is false. */
void sx_meta_emit(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		  const struct sx_meta *m, const struct sx_struct *root, bool with_desc);
/*
 * The walk of sx_meta_extract is bounded: it looks at most at
 * SX_EXTRACT_MAX_NODES values and keeps at most SX_EXTRACT_MAX_INSTANCES
 * instances, none with a path longer than SX_PATH_MAX or repeating an
 * earlier one. What it did, and why it left something out.
 */
#define SX_EXTRACT_MAX_NODES 200000
#define SX_EXTRACT_MAX_INSTANCES 1000

struct sx_extract_info {
	size_t found;   /* instances met, kept or not */
	size_t kept;    /* instances in the result */
	size_t visited; /* values looked at */
	struct sx_skips skips;
	char cut[600];  /* why something was left out, in words; "" when nothing was */
};

/* Every instance of struct name inside stats (typed as root): a new object
 * of path -> instance, or NULL when name is not reachable from root (or out
 * of memory). *ret_info (not NULL) says what was walked and cut. */
cJSON *sx_meta_extract(const struct sx_meta *m, const struct sx_struct *root, const cJSON *stats,
		       const char *name, struct sx_extract_info *ret_info);

/* ------------------------------------------------------------- sampler */

int sx_sample_tool(void *data, struct smcp_call *call, const struct smcp_args *args,
		   struct smcp_result *res);
void sx_samplers_free(struct sx_plugin *p);
extern const char sx_sample_schema[];

/* ---------------------------------------------------------------- steps */

/* Its steps in the core's workflow prompts (sx_steps.c); 0 on a host
 * without them (before ABI 1.2). */
int sx_steps_register(struct sx_plugin *p);

/* ---------------------------------------------------------------- misc */

/* Target names the socket accepts from us: [A-Za-z0-9_.-]{1,64}. */
bool sx_target_ok(const char *t);
/* The kernel's sched_ext state and root ops name (fs_root aware); empty
 * strings when unreadable. */
void sx_sched_ext(struct sx_plugin *p, char *state, size_t slen, char *ops, size_t olen);

#endif
