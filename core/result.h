/* SPDX-License-Identifier: MIT */
/* Host-owned result builders (struct smcp_result, struct smcp_json),
 * argument views (struct smcp_args) and in-flight calls (struct smcp_call).
 * The MCP layer turns a finished result into the wire shape; the report
 * command reads the same results in-process. */
#ifndef SMCP_RESULT_H
#define SMCP_RESULT_H

#include <cjson/cJSON.h>
#include <schedmcp/plugin.h>

#include "jbuf.h"

#define JSON_MAX_DEPTH 32
/* Nesting a json_raw text may add (cJSON, which clients and the report
 * parse with, stops at 1000). */
#define JSON_RAW_MAX_DEPTH 512

enum result_kind {
	RESULT_TOOL,   /* content[] + structuredContent + isError */
	RESULT_READ,   /* contents[] of one resource */
	RESULT_PROMPT, /* messages[] + description */
};

/*
 * The writer behind the json_* host API: JSON text written straight into
 * out (its own buffer, or one the caller gave), checking as it goes that
 * keys are used inside objects only. The root object opens with the
 * writer; result_json_writer_close() ends it.
 */
/*
 * How the body of an answer is sent, so that a paged list can end at an
 * item before the answer passes its bound (json_item_begin/end): the
 * answer is about plain * body + escaped * (body + its '"' and '\\') +
 * the content items. limit 0: no bound, nothing is cut.
 */
struct json_page {
	size_t limit;		  /* bytes of the whole answer */
	uint8_t plain, escaped;	  /* copies of the body as written, escaped once more */
	const struct jbuf *items; /* content items sent beside the body; may be NULL */
	size_t scanned, quotes;	  /* out's bytes looked at, '"' and '\\' among them */
	/* json_item_begin's mark */
	size_t mark_len, mark_total, mark_quotes;
	uint64_t mark_empty;
	int mark_depth; /* 0: no mark */
	uint32_t kept;	/* items kept */
};

struct smcp_json {
	struct jbuf *out;
	struct jbuf own;
	uint64_t obj;	/* bit d: the container at depth d + 1 is an object */
	uint64_t empty; /* bit d: ... has no member yet */
	int depth;	/* open containers, the root included; 0 once closed */
	int err;	/* sticky */
	struct json_page page;
};

/*
 * A result is kept as the text of its parts, each written once: the
 * content items (tool content, read contents, prompt messages) joined by
 * commas in items, and the JSON body in json's buffer. mcp/ writes them
 * into the answer; the body of a read can even be written straight into
 * the answer (result_json_into).
 */
struct smcp_result {
	enum result_kind kind;
	char *uri;       /* RESULT_READ */
	char *mime_type; /* RESULT_READ */
	struct jbuf items;
	uint32_t n_items;
	struct jbuf *json_out; /* where the JSON body goes; NULL: json.own */
	size_t limit;          /* bytes each part may hold (max_result_bytes) */
	struct smcp_json json;
	struct json_page page; /* given to json when it opens */
	bool has_json;
	bool is_error;
	char *error; /* first error message */
	enum smcp_role role;
	char *description;
	int err; /* sticky internal error */
};

struct smcp_args {
	cJSON *obj; /* borrowed; an object */
};

struct smcp_call;

/* What the layer that owns a call does for it (MCP server or report). */
struct call_ops {
	int (*progress)(struct smcp_call *c, double progress, double total, const char *msg);
	void (*complete)(struct smcp_call *c, int err);
	int (*client_request)(struct smcp_call *c, const char *method, const char *params_json,
			      uint32_t timeout_ms, smcp_response_fn cb, void *data);
};

struct smcp_call {
	const struct call_ops *ops;
	void *ctx;
	struct smcp_host *owner;
	struct smcp_result result;
	smcp_cancel_fn cancel_cb;
	void *cancel_data;
	bool pending;  /* handler returned SMCP_PENDING */
	bool finished; /* complete() ran */
};

void result_init(struct smcp_result *r, enum result_kind kind, const char *uri,
		 const char *mime_type);
void result_release(struct smcp_result *r);
/* Keep at most limit bytes of each part: past it the parts are only
 * counted (the answer is then too large and is refused). */
void result_set_limit(struct smcp_result *r, size_t limit);
/* Let paged lists end before the answer passes limit bytes, the body being
 * sent plain times as written and escaped times escaped once more (a
 * tool: its text and structuredContent). Before the handler runs. */
void result_set_page(struct smcp_result *r, size_t limit, unsigned plain, unsigned escaped);
/* Write the JSON body into out, after what it holds (escaped when out->esc)
 * instead of into the result. Before the handler runs; out outlives r's
 * use of it. */
void result_json_into(struct smcp_result *r, struct jbuf *out);
/* The first internal error of the builder or its JSON writer, or 0. */
int result_status(const struct smcp_result *r);
/* Close the JSON body's root object (once; nothing when there is none). */
void result_json_end(struct smcp_result *r);
/* The JSON body's text (closed), or NULL when there is none. */
const struct jbuf *result_json_text(struct smcp_result *r);
/* The body parsed into a tree (the report, tests); the caller owns it;
 * NULL if none. Only for a result that kept its body itself. */
cJSON *result_take_json(struct smcp_result *r);
/* The content items parsed into an array (the report, tests); the caller
 * owns it. */
cJSON *result_take_items(struct smcp_result *r);

/* A writer with its own buffer, root object opened (the CLI, events). */
int result_json_writer_init(struct smcp_json *j);
/* ... or writing into out. */
int result_json_writer_open(struct smcp_json *j, struct jbuf *out);
/* End the root object: 0, the sticky error, or -EINVAL when a container
 * is still open. */
int result_json_writer_close(struct smcp_json *j);
/* The writer's text parsed into a tree (closing it first); NULL on error. */
cJSON *result_json_writer_parse(struct smcp_json *j);
/* ... printed indented for people (the CLI); the caller frees it. */
char *result_json_writer_pretty(struct smcp_json *j);
void result_json_writer_release(struct smcp_json *j);
/* A member whose value is JSON text the core wrote itself (an event kept
 * as text): copied with no check. */
int result_json_put_trusted(struct smcp_json *j, const char *key, const char *text, size_t len);

/* Host API members (see plugin.h). */
int result_api_result_text(struct smcp_result *r, const char *text);
int result_api_result_textf(struct smcp_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int result_api_result_error(struct smcp_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct smcp_json *result_api_result_json(struct smcp_result *r);
int result_api_result_blob(struct smcp_result *r, const char *mime, const void *data, size_t len);
int result_api_result_image(struct smcp_result *r, const char *mime, const void *data, size_t len);
int result_api_result_audio(struct smcp_result *r, const char *mime, const void *data, size_t len);
int result_api_result_resource_link(struct smcp_result *r, const char *uri, const char *name,
				    const char *description, const char *mime);
int result_api_result_embedded_text(struct smcp_result *r, const char *uri, const char *mime,
				    const char *text);
int result_api_result_embedded_blob(struct smcp_result *r, const char *uri, const char *mime,
				    const void *data, size_t len);
int result_api_result_role(struct smcp_result *r, enum smcp_role role);
int result_api_result_description(struct smcp_result *r, const char *text);

int result_api_json_object(struct smcp_json *j, const char *key);
int result_api_json_array(struct smcp_json *j, const char *key);
int result_api_json_end(struct smcp_json *j);
int result_api_json_string(struct smcp_json *j, const char *key, const char *val);
int result_api_json_int(struct smcp_json *j, const char *key, int64_t val);
int result_api_json_uint(struct smcp_json *j, const char *key, uint64_t val);
int result_api_json_double(struct smcp_json *j, const char *key, double val);
int result_api_json_bool(struct smcp_json *j, const char *key, bool val);
int result_api_json_null(struct smcp_json *j, const char *key);
int result_api_json_raw(struct smcp_json *j, const char *key, const char *json_text);
int result_api_json_item_begin(struct smcp_json *j);
int result_api_json_item_end(struct smcp_json *j, size_t tail_bytes);

int result_api_arg_string(const struct smcp_args *a, const char *name, const char **ret);
int result_api_arg_int(const struct smcp_args *a, const char *name, int64_t *ret);
int result_api_arg_double(const struct smcp_args *a, const char *name, double *ret);
int result_api_arg_bool(const struct smcp_args *a, const char *name, bool *ret);

/* The value of a number node, including the raw integers the writer makes. */
bool json_number(const cJSON *v, double *ret);

/* A JSON string node holding valid UTF-8 (ill-formed bytes replaced). */
cJSON *result_json_string_node(const char *s);

#endif
