/* SPDX-License-Identifier: MIT */
/* Host-owned result builders (struct smcp_result, struct smcp_json),
 * argument views (struct smcp_args) and in-flight calls (struct smcp_call).
 * The MCP layer turns a finished result into the wire shape; the report
 * command reads the same results in-process. */
#ifndef SMCP_RESULT_H
#define SMCP_RESULT_H

#include <cjson/cJSON.h>
#include <schedmcp/plugin.h>

#define JSON_MAX_DEPTH 32

enum result_kind {
	RESULT_TOOL,   /* content[] + structuredContent + isError */
	RESULT_READ,   /* contents[] of one resource */
	RESULT_PROMPT, /* messages[] + description */
};

struct smcp_json {
	cJSON *root;
	cJSON *stack[JSON_MAX_DEPTH];
	int depth;
	int err; /* sticky */
};

struct smcp_result {
	enum result_kind kind;
	char *uri;       /* RESULT_READ */
	char *mime_type; /* RESULT_READ */
	cJSON *content;  /* tool content, read contents or prompt messages */
	struct smcp_json json;
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
/* The first internal error of the builder or its JSON writer, or 0. */
int result_status(const struct smcp_result *r);
/* Move the JSON root out of the result (caller owns it); NULL if none. */
cJSON *result_take_json(struct smcp_result *r);

int json_writer_init(struct smcp_json *j);
void json_writer_release(struct smcp_json *j);

/* Host API members (see plugin.h). */
int api_result_text(struct smcp_result *r, const char *text);
int api_result_textf(struct smcp_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int api_result_error(struct smcp_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct smcp_json *api_result_json(struct smcp_result *r);
int api_result_blob(struct smcp_result *r, const char *mime, const void *data, size_t len);
int api_result_image(struct smcp_result *r, const char *mime, const void *data, size_t len);
int api_result_audio(struct smcp_result *r, const char *mime, const void *data, size_t len);
int api_result_resource_link(struct smcp_result *r, const char *uri, const char *name,
			     const char *description, const char *mime);
int api_result_embedded_text(struct smcp_result *r, const char *uri, const char *mime,
			     const char *text);
int api_result_embedded_blob(struct smcp_result *r, const char *uri, const char *mime,
			     const void *data, size_t len);
int api_result_role(struct smcp_result *r, enum smcp_role role);
int api_result_description(struct smcp_result *r, const char *text);

int api_json_object(struct smcp_json *j, const char *key);
int api_json_array(struct smcp_json *j, const char *key);
int api_json_end(struct smcp_json *j);
int api_json_string(struct smcp_json *j, const char *key, const char *val);
int api_json_int(struct smcp_json *j, const char *key, int64_t val);
int api_json_uint(struct smcp_json *j, const char *key, uint64_t val);
int api_json_double(struct smcp_json *j, const char *key, double val);
int api_json_bool(struct smcp_json *j, const char *key, bool val);
int api_json_null(struct smcp_json *j, const char *key);
int api_json_raw(struct smcp_json *j, const char *key, const char *json_text);

int api_arg_string(const struct smcp_args *a, const char *name, const char **ret);
int api_arg_int(const struct smcp_args *a, const char *name, int64_t *ret);
int api_arg_double(const struct smcp_args *a, const char *name, double *ret);
int api_arg_bool(const struct smcp_args *a, const char *name, bool *ret);

/* The value of a number node, including the raw integers the writer makes. */
bool json_number(const cJSON *v, double *ret);

/* A JSON string node holding valid UTF-8 (ill-formed bytes replaced). */
cJSON *json_string_node(const char *s);

#endif
