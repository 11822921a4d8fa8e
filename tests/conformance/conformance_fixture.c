/* SPDX-License-Identifier: MIT */
/*
 * conformance_fixture: a test-only plugin that gives the official MCP
 * conformance suite (@modelcontextprotocol/conformance, server scenarios)
 * the fixture tools, resources, templates and prompts it looks for, the way
 * the suite's reference "everything" server names them.
 *
 * The point is to drive every path of the plugin SDK a real plugin may use
 * through the real daemon: every content builder (text, image, audio,
 * embedded text and blob, resource link, structured JSON), progress and
 * logging sent while a call is pending (timers + SMCP_PENDING, never a
 * blocking wait), requests to the client (sampling, elicitation) answered
 * later through call_complete(), cancellation, templates with completion,
 * prompts with arguments, images and embedded resources.
 *
 * Built into the build tree only; never installed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/plugin.h>


/* how long sampling and elicitation wait for the client */
#define ASK_TIMEOUT_MS 30000

static struct smcp_host *host;
static const struct smcp_host_api *api;
static uint64_t step_ms = 50;

/* A 1x1 RGBA PNG: the suite's TEST_IMAGE_BASE64, decoded. */
static const unsigned char png_1x1[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
	0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0xf0,
	0x1f, 0x00, 0x05, 0x05, 0x02, 0x00, 0x5f, 0xc8, 0xf1, 0xd2, 0x00, 0x00,
	0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/*
 * A mono 16-bit 8 kHz WAV holding one silent sample. The suite's
 * TEST_AUDIO_BASE64 announces a 2-byte data chunk but stops before it; the
 * two zero bytes at the end make the file whole.
 */
static const unsigned char wav_silence[] = {
	0x52, 0x49, 0x46, 0x46, 0x26, 0x00, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45,
	0x66, 0x6d, 0x74, 0x20, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x40, 0x1f, 0x00, 0x00, 0x00, 0x7d, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00,
	0x64, 0x61, 0x74, 0x61, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ------------------------------------------------------------- helpers */

/* s as a quoted JSON string, newly allocated; NULL on -ENOMEM. */
static char *json_quote(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 6 + 3), *o = out;

	if (!out)
		return NULL;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = (char)*p;
		} else if (*p < 0x20) {
			o += sprintf(o, "\\u%04x", *p);
		} else {
			*o++ = (char)*p;
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Offer each of values[] that starts with prefix. */
static int complete_from(const char *const *values, size_t n, const char *prefix,
			 struct smcp_completion *out)
{
	uint32_t matches = 0;

	for (size_t i = 0; i < n; i++) {
		if (!has_prefix(values[i], prefix))
			continue;
		matches++;
		/* -ENOSPC once the answer is full: keep counting for the total */
		(void)api->completion_add(out, values[i]);
	}
	return api->completion_total(out, matches);
}

/* --------------------------------------------------- immediate tools */

static int tool_simple_text(void *data, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res)
{
	return api->result_text(res, "This is a simple text response for testing.");
}

static int tool_image(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	return api->result_image(res, "image/png", png_1x1, sizeof(png_1x1));
}

static int tool_audio(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	return api->result_audio(res, "audio/wav", wav_silence, sizeof(wav_silence));
}

static int tool_embedded_resource(void *data, struct smcp_call *call,
				  const struct smcp_args *args, struct smcp_result *res)
{
	return api->result_embedded_text(res, "test://embedded-resource", "text/plain",
					 "This is an embedded resource content.");
}

static int tool_multiple_content(void *data, struct smcp_call *call, const struct smcp_args *args,
				 struct smcp_result *res)
{
	int err;

	err = api->result_text(res, "Multiple content types test:");
	if (!err)
		err = api->result_image(res, "image/png", png_1x1, sizeof(png_1x1));
	if (!err)
		err = api->result_embedded_text(res, "test://mixed-content-resource",
						"application/json", "{\"test\":\"data\",\"value\":123}");
	return err;
}

/* Not a suite scenario: one item of every content type the SDK builds. */
static int tool_all_content(void *data, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res)
{
	int err;

	err = api->result_text(res, "One item of every content type:");
	if (!err)
		err = api->result_image(res, "image/png", png_1x1, sizeof(png_1x1));
	if (!err)
		err = api->result_audio(res, "audio/wav", wav_silence, sizeof(wav_silence));
	if (!err)
		err = api->result_embedded_text(res, "test://static-text", "text/plain",
						"This is the content of the static text resource.");
	if (!err)
		err = api->result_embedded_blob(res, "test://static-binary", "image/png", png_1x1,
						sizeof(png_1x1));
	if (!err)
		err = api->result_resource_link(res, "test://watched-resource", "watched-resource",
						"A resource that can be subscribed to",
						"text/plain");
	return err;
}

static const char structured_output_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"count\":{\"type\":\"integer\",\"description\":\"how many items\"},"
	"\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
	"\"name\":{\"type\":\"string\"},\"value\":{\"type\":\"number\"}},"
	"\"required\":[\"name\",\"value\"]}},"
	"\"complete\":{\"type\":\"boolean\"}},"
	"\"required\":[\"count\",\"items\",\"complete\"]}";

/* Not a suite scenario: structuredContent that matches an outputSchema. */
static int tool_structured(void *data, struct smcp_call *call, const struct smcp_args *args,
			   struct smcp_result *res)
{
	static const struct {
		const char *name;
		double value;
	} items[] = { { "alpha", 1.5 }, { "beta", 2 }, { "gamma", -3.25 } };
	struct smcp_json *j = api->result_json(res);

	if (!j)
		return -ENOMEM;
	api->json_int(j, "count", (int64_t)SMCP_COUNT(items));
	api->json_array(j, "items");
	for (size_t i = 0; i < SMCP_COUNT(items); i++) {
		api->json_object(j, NULL);
		api->json_string(j, "name", items[i].name);
		api->json_double(j, "value", items[i].value);
		api->json_end(j);
	}
	api->json_end(j);
	/* errors are sticky: the last call reports any earlier failure */
	return api->json_bool(j, "complete", true);
}

static int tool_error(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	/* a failure the model reads: an isError result, not a protocol error */
	return api->result_error(res, "This tool intentionally returns an error for testing");
}

static int tool_json_schema_2020_12(void *data, struct smcp_call *call,
				    const struct smcp_args *args, struct smcp_result *res)
{
	const char *name = NULL, *city = NULL;

	(void)api->arg_string(args, "name", &name);
	(void)api->arg_string(args, "address.city", &city);
	return api->result_textf(res, "JSON Schema 2020-12 tool called with: name=%s, city=%s",
				 name ? name : "(none)", city ? city : "(none)");
}

/* Not a suite scenario: tell subscribers of the watched resource it changed. */
static int tool_update_watched(void *data, struct smcp_call *call, const struct smcp_args *args,
			       struct smcp_result *res)
{
	int err = api->notify_resource_updated(host, "test://watched-resource");

	if (err)
		return err;
	return api->result_text(res, "Sent notifications/resources/updated for "
				     "test://watched-resource to its subscribers.");
}

/* ----------------------------------------- paced tools (timer-driven) */

/*
 * A call that emits one notification per step, step_ms apart, and answers
 * step_ms after the last one. Step 0 runs in the handler; the rest run from
 * a repeating timer while the call is pending.
 */
struct paced {
	struct smcp_call *call;
	struct smcp_result *res;
	unsigned step, n_steps;
	void (*run_step)(struct paced *p);
	const char *done_text;
	int timer;
};

static const double progress_steps[] = { 0, 50, 100 };
static const char *const log_steps[] = { "Tool execution started", "Tool processing data",
					 "Tool execution completed" };

static void progress_step(struct paced *p)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "Completed step %.0f of 100", progress_steps[p->step]);
	/* without a progressToken this sends nothing and returns 0 */
	(void)api->call_progress(p->call, progress_steps[p->step], 100, msg);
}

static void log_step(struct paced *p)
{
	api->log(host, SMCP_LOG_INFO, "%s", log_steps[p->step]);
}

static void paced_free(struct paced *p)
{
	if (p->timer > 0)
		(void)api->timer_remove(host, p->timer);
	free(p);
}

/*
 * The answer goes out one tick after the last notification, not in the same
 * write burst: the TypeScript SDK client handles a notification a microtask
 * after reading it but a response at once, so progress read together with
 * its response finds the handler gone ("unknown token";
 * modelcontextprotocol/typescript-sdk#2580), and some hosts then drop the
 * connection.
 */
static void paced_tick(void *data)
{
	struct paced *p = data;
	struct smcp_call *call = p->call;
	int err;

	if (p->step < p->n_steps) {
		p->run_step(p);
		p->step++;
		return;
	}
	err = api->result_text(p->res, p->done_text);
	paced_free(p);
	(void)api->call_complete(call, err);
}

static void paced_cancelled(void *data, struct smcp_call *call)
{
	/* the host sends no response and frees the call after this */
	paced_free(data);
}

static int paced_start(struct smcp_call *call, struct smcp_result *res, unsigned n_steps,
		       void (*run_step)(struct paced *p), const char *done_text)
{
	struct paced *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	*p = (struct paced){ .call = call, .res = res, .n_steps = n_steps,
			     .run_step = run_step, .done_text = done_text };
	p->run_step(p);
	p->step = 1;
	err = api->timer_add(host, step_ms, true, paced_tick, p);
	if (err < 0) {
		free(p);
		return err;
	}
	p->timer = err;
	err = api->call_on_cancel(call, paced_cancelled, p);
	if (err) {
		paced_free(p);
		return err;
	}
	return SMCP_PENDING;
}

static int tool_with_progress(void *data, struct smcp_call *call, const struct smcp_args *args,
			      struct smcp_result *res)
{
	return paced_start(call, res, SMCP_COUNT(progress_steps), progress_step,
			   "Tool with progress executed successfully (3 progress steps)");
}

static int tool_with_logging(void *data, struct smcp_call *call, const struct smcp_args *args,
			     struct smcp_result *res)
{
	return paced_start(call, res, SMCP_COUNT(log_steps), log_step,
			   "Tool with logging executed successfully");
}

/* ---------------------------------------- requests to the client */

/*
 * Sampling and elicitation: the handler sends the request and answers
 * SMCP_PENDING; the response callback builds the result and completes the
 * call. The callback's data is the call's result builder, which stays
 * valid until call_complete(), so nothing is allocated and a cancelled
 * call leaves nothing behind.
 */

static void sampling_answered(void *data, struct smcp_call *call, int err,
			      const struct smcp_args *result, const char *message)
{
	struct smcp_result *res = data;
	const char *text = NULL, *model = NULL;

	if (err == -ECANCELED)
		return; /* the call is gone: touch nothing */
	if (err) {
		err = api->result_error(res, "Sampling failed: %s", message ? message : strerror(-err));
		goto out;
	}
	(void)api->arg_string(result, "model", &model);
	if (api->arg_string(result, "content.text", &text)) {
		err = api->result_error(res, "Sampling answer from model %s has no text content",
					model ? model : "(unknown)");
		goto out;
	}
	err = api->result_textf(res, "LLM response: %s", text);
out:
	(void)api->call_complete(call, err);
}

/* Ask the client; on failure the call is answered at once with an isError
 * result. */
static int ask_client(struct smcp_call *call, struct smcp_result *res, const char *method,
		      const char *params_json, smcp_response_fn cb)
{
	int err = api->call_client_request(call, method, params_json, ASK_TIMEOUT_MS, cb, res);

	if (err == -ENOTSUP)
		return api->result_error(res, "The client did not declare the capability %s needs",
					 method);
	if (err)
		return api->result_error(res, "Cannot send %s: %s", method, strerror(-err));
	return SMCP_PENDING;
}

static int tool_sampling(void *data, struct smcp_call *call, const struct smcp_args *args,
			 struct smcp_result *res)
{
	const char *prompt = "";
	char *quoted, *params = NULL;
	int err;

	(void)api->arg_string(args, "prompt", &prompt);
	if (!api->client_has_capability(host, "sampling"))
		return api->result_error(res, "Client does not support sampling");
	quoted = json_quote(prompt);
	if (!quoted || asprintf(&params,
				"{\"messages\":[{\"role\":\"user\",\"content\":"
				"{\"type\":\"text\",\"text\":%s}}],\"maxTokens\":100}",
				quoted) < 0) {
		free(quoted);
		return -ENOMEM;
	}
	err = ask_client(call, res, "sampling/createMessage", params, sampling_answered);
	free(quoted);
	free(params);
	return err;
}

/* The form fields each elicitation tool reports back, and how. */
struct elicit_kind {
	const char *prefix;
	const char *const *fields;
	size_t n_fields;
};

static const char *const user_fields[] = { "username", "email" };
static const char *const defaults_fields[] = { "name", "age", "score", "status", "verified" };
static const char *const enum_fields[] = { "untitledSingle", "titledSingle", "legacyEnum",
					   "untitledMulti", "titledMulti" };

static const struct elicit_kind elicit_user = {
	"User response: ", user_fields, SMCP_COUNT(user_fields)
};
static const struct elicit_kind elicit_defaults = {
	"Elicitation completed: ", defaults_fields, SMCP_COUNT(defaults_fields)
};
static const struct elicit_kind elicit_enums = {
	"Elicitation completed: ", enum_fields, SMCP_COUNT(enum_fields)
};

/* Append ", field=value" for one answered form field, if present. */
static void describe_field(char *buf, size_t len, const struct smcp_args *result,
			   const char *field)
{
	size_t n = strlen(buf);
	char path[96];
	const char *s;
	double d;
	bool b;
	int err;

	snprintf(path, sizeof(path), "content.%s", field);
	err = api->arg_string(result, path, &s);
	if (err == -ENOENT)
		return;
	if (!err)
		snprintf(buf + n, len - n, ", %s=\"%s\"", field, s);
	else if (!api->arg_bool(result, path, &b))
		snprintf(buf + n, len - n, ", %s=%s", field, b ? "true" : "false");
	else if (!api->arg_double(result, path, &d))
		snprintf(buf + n, len - n, ", %s=%g", field, d);
	else
		snprintf(buf + n, len - n, ", %s=(a list)", field); /* the SDK reads no arrays */
}

static void elicit_answered(const struct elicit_kind *k, struct smcp_result *res,
			    struct smcp_call *call, int err, const struct smcp_args *result,
			    const char *message)
{
	const char *action = NULL;
	char fields[1024] = "";

	if (err == -ECANCELED)
		return; /* the call is gone: touch nothing */
	if (err) {
		err = api->result_error(res, "Elicitation failed: %s",
					message ? message : strerror(-err));
		goto out;
	}
	if (api->arg_string(result, "action", &action)) {
		err = api->result_error(res, "Elicitation answer has no action");
		goto out;
	}
	for (size_t i = 0; i < k->n_fields; i++)
		describe_field(fields, sizeof(fields), result, k->fields[i]);
	err = api->result_textf(res, "%saction=%s%s", k->prefix, action, fields);
out:
	(void)api->call_complete(call, err);
}

static void elicit_user_answered(void *data, struct smcp_call *call, int err,
				 const struct smcp_args *result, const char *message)
{
	elicit_answered(&elicit_user, data, call, err, result, message);
}

static void elicit_defaults_answered(void *data, struct smcp_call *call, int err,
				     const struct smcp_args *result, const char *message)
{
	elicit_answered(&elicit_defaults, data, call, err, result, message);
}

static void elicit_enums_answered(void *data, struct smcp_call *call, int err,
				  const struct smcp_args *result, const char *message)
{
	elicit_answered(&elicit_enums, data, call, err, result, message);
}

static int tool_elicitation(void *data, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res)
{
	const char *message = "";
	char *quoted, *params = NULL;
	int err;

	(void)api->arg_string(args, "message", &message);
	if (!api->client_has_capability(host, "elicitation"))
		return api->result_error(res, "Client does not support elicitation");
	quoted = json_quote(message);
	if (!quoted ||
	    asprintf(&params,
		     "{\"message\":%s,\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
		     "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
		     "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
		     "\"required\":[\"username\",\"email\"]}}",
		     quoted) < 0) {
		free(quoted);
		return -ENOMEM;
	}
	err = ask_client(call, res, "elicitation/create", params, elicit_user_answered);
	free(quoted);
	free(params);
	return err;
}

/* SEP-1034: every primitive field type with a default. */
static const char elicit_defaults_params[] =
	"{\"message\":\"Please review and update the form fields with defaults\","
	"\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
	"\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
	"\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
	"\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
	"\"status\":{\"type\":\"string\",\"description\":\"User status\","
	"\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
	"\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
	"\"default\":true}},\"required\":[]}}";

/* SEP-1330: single and multi select, untitled, titled and legacy enums. */
static const char elicit_enums_params[] =
	"{\"message\":\"Please select options from the enum fields\","
	"\"requestedSchema\":{\"type\":\"object\",\"properties\":{"
	"\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
	"\"enum\":[\"option1\",\"option2\",\"option3\"]},"
	"\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
	"\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
	"{\"const\":\"value2\",\"title\":\"Second Option\"},"
	"{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
	"\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
	"\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
	"\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
	"\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
	"\"minItems\":1,\"maxItems\":3,"
	"\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
	"\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with titles\","
	"\"minItems\":1,\"maxItems\":3,\"items\":{\"anyOf\":["
	"{\"const\":\"value1\",\"title\":\"First Choice\"},"
	"{\"const\":\"value2\",\"title\":\"Second Choice\"},"
	"{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},\"required\":[]}}";

static int tool_elicitation_defaults(void *data, struct smcp_call *call,
				     const struct smcp_args *args, struct smcp_result *res)
{
	if (!api->client_has_capability(host, "elicitation"))
		return api->result_error(res, "Client does not support elicitation");
	return ask_client(call, res, "elicitation/create", elicit_defaults_params,
			  elicit_defaults_answered);
}

static int tool_elicitation_enums(void *data, struct smcp_call *call,
				  const struct smcp_args *args, struct smcp_result *res)
{
	if (!api->client_has_capability(host, "elicitation"))
		return api->result_error(res, "Client does not support elicitation");
	return ask_client(call, res, "elicitation/create", elicit_enums_params,
			  elicit_enums_answered);
}

/* ------------------------------------------------------------- tools */

static const char sampling_input[] =
	"{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
	"\"description\":\"The prompt to send to the LLM\"}},\"required\":[\"prompt\"]}";

static const char elicitation_input[] =
	"{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
	"\"description\":\"The message to show the user\"}},\"required\":[\"message\"]}";

static const char json_schema_2020_12_input[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
	"\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{"
	"\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
	"\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"}},"
	"\"additionalProperties\":false}";

#define TOOL(n, d, fn, ...)                                                                        \
	{ .sz = sizeof(struct smcp_tool_desc), .name = n, .description = d, .call = fn,           \
	  __VA_ARGS__ }

static const struct smcp_tool_desc tools[] = {
	TOOL("test_simple_text", "Returns one text item", tool_simple_text,
	     .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_image_content", "Returns one image item (a 1x1 PNG)", tool_image,
	     .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_audio_content", "Returns one audio item (audio/wav, one silent sample)",
	     tool_audio, .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_embedded_resource", "Returns one embedded text resource",
	     tool_embedded_resource, .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_multiple_content_types", "Returns text, an image and an embedded resource",
	     tool_multiple_content, .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_all_content_types",
	     "Returns one item of every content type: text, image, audio, embedded text, "
	     "embedded blob and a resource link",
	     tool_all_content, .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_structured_content",
	     "Returns structuredContent that matches its outputSchema, mirrored as text",
	     tool_structured, .output_schema = structured_output_schema,
	     .flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT),
	TOOL("test_tool_with_logging",
	     "Sends three info log notifications 50 ms apart, then returns text",
	     tool_with_logging, .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_tool_with_progress",
	     "Sends progress 0, 50 and 100 of 100 (when the request has a progressToken) "
	     "50 ms apart, then returns text",
	     tool_with_progress, .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_error_handling", "Always fails with an isError result", tool_error,
	     .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_sampling", "Asks the client's LLM (sampling/createMessage) and returns its answer",
	     tool_sampling, .input_schema = sampling_input),
	TOOL("test_elicitation", "Asks the user for a username and an email (elicitation/create)",
	     tool_elicitation, .input_schema = elicitation_input),
	TOOL("test_elicitation_sep1034_defaults",
	     "Asks the user for a form whose string, integer, number, enum and boolean fields "
	     "have defaults (SEP-1034)",
	     tool_elicitation_defaults),
	TOOL("test_elicitation_sep1330_enums",
	     "Asks the user to pick from untitled, titled and legacy single and multi-select "
	     "enums (SEP-1330)",
	     tool_elicitation_enums),
	TOOL("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features",
	     tool_json_schema_2020_12, .input_schema = json_schema_2020_12_input,
	     .flags = SMCP_TOOL_READ_ONLY),
	TOOL("test_update_watched_resource",
	     "Sends notifications/resources/updated for test://watched-resource to subscribers",
	     tool_update_watched, .flags = SMCP_TOOL_IDEMPOTENT),
};

/* --------------------------------------------------------- resources */

static int read_static_text(void *data, struct smcp_call *call, const char *uri,
			    const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_text(res, data);
}

static int read_static_binary(void *data, struct smcp_call *call, const char *uri,
			      const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_blob(res, "image/png", png_1x1, sizeof(png_1x1));
}

static int read_template(void *data, struct smcp_call *call, const char *uri,
			 const struct smcp_args *vars, struct smcp_result *res)
{
	const char *id;
	char text[160];
	struct smcp_json *j;

	if (api->arg_string(vars, "id", &id))
		return -ENOENT;
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	snprintf(text, sizeof(text), "Data for ID: %.100s", id);
	api->json_string(j, "id", id);
	api->json_bool(j, "templateTest", true);
	return api->json_string(j, "data", text);
}

static int complete_template_id(void *data, const char *arg_name, const char *prefix,
				const struct smcp_args *context, struct smcp_completion *out)
{
	static const char *const ids[] = { "1", "2", "3", "42", "123" };

	if (strcmp(arg_name, "id") != 0)
		return 0;
	return complete_from(ids, SMCP_COUNT(ids), prefix, out);
}

static const struct smcp_resource_desc resources[] = {
	{
		.sz = sizeof(struct smcp_resource_desc),
		.uri = "test://static-text",
		.name = "static-text",
		.title = "Static text",
		.description = "A static text resource for testing",
		.mime_type = "text/plain",
		.read = read_static_text,
		.data = "This is the content of the static text resource.",
	},
	{
		.sz = sizeof(struct smcp_resource_desc),
		.uri = "test://static-binary",
		.name = "static-binary",
		.title = "Static binary",
		.description = "A static binary resource (a 1x1 PNG image) for testing",
		.mime_type = "image/png",
		.read = read_static_binary,
	},
	{
		.sz = sizeof(struct smcp_resource_desc),
		.uri = "test://watched-resource",
		.name = "watched-resource",
		.title = "Watched resource",
		.description = "A resource that can be subscribed to",
		.mime_type = "text/plain",
		.read = read_static_text,
		.data = "Watched resource content",
	},
};

static const struct smcp_resource_desc template = {
	.sz = sizeof(struct smcp_resource_desc),
	.uri = "test://template/{id}/data",
	.name = "template",
	.title = "Template",
	.description = "A resource template with parameter substitution",
	.mime_type = "application/json",
	.read = read_template,
	.complete = complete_template_id,
};

/* ----------------------------------------------------------- prompts */

static int prompt_simple(void *data, struct smcp_call *call, const struct smcp_args *args,
			 struct smcp_result *res)
{
	return api->result_text(res, "This is a simple prompt for testing.");
}

static int prompt_with_arguments(void *data, struct smcp_call *call, const struct smcp_args *args,
				 struct smcp_result *res)
{
	const char *a1 = "", *a2 = "";

	/* the host has checked that both are present */
	(void)api->arg_string(args, "arg1", &a1);
	(void)api->arg_string(args, "arg2", &a2);
	api->result_description(res, "A prompt with required arguments");
	return api->result_textf(res, "Prompt with arguments: arg1='%s', arg2='%s'", a1, a2);
}

static int prompt_with_embedded_resource(void *data, struct smcp_call *call,
					 const struct smcp_args *args, struct smcp_result *res)
{
	const char *uri = NULL;
	int err;

	if (api->arg_string(args, "resourceUri", &uri) || !strstr(uri, "://")) {
		api->result_error(res, "resourceUri must be a URI such as test://static-text");
		return -EINVAL;
	}
	err = api->result_embedded_text(res, uri, "text/plain",
					"Embedded resource content for testing.");
	if (!err)
		err = api->result_text(res, "Please process the embedded resource above.");
	return err;
}

static int prompt_with_image(void *data, struct smcp_call *call, const struct smcp_args *args,
			     struct smcp_result *res)
{
	int err = api->result_image(res, "image/png", png_1x1, sizeof(png_1x1));

	if (!err)
		err = api->result_text(res, "Please analyze the image above.");
	return err;
}

/* Not a suite scenario: a conversation with both roles and an integer argument. */
static int prompt_multi_turn(void *data, struct smcp_call *call, const struct smcp_args *args,
			     struct smcp_result *res)
{
	int64_t turns = 2;
	int err = 0;

	(void)api->arg_int(args, "turns", &turns);
	if (turns < 1 || turns > 10) {
		api->result_error(res, "turns must be between 1 and 10");
		return -EINVAL;
	}
	api->result_description(res, "A conversation alternating user and assistant turns");
	for (int64_t i = 1; i <= turns && !err; i++) {
		api->result_role(res, SMCP_ROLE_USER);
		err = api->result_textf(res, "Question %lld?", (long long)i);
		api->result_role(res, SMCP_ROLE_ASSISTANT);
		if (!err)
			err = api->result_textf(res, "Answer %lld.", (long long)i);
	}
	return err;
}

static int complete_prompt_arg(void *data, const char *arg_name, const char *prefix,
			       const struct smcp_args *context, struct smcp_completion *out)
{
	static const char *const arg1[] = { "testValue1", "test-a", "other" };
	static const char *const arg2[] = { "testValue2", "test-b", "other" };
	static const char *const uris[] = { "test://static-text", "test://static-binary",
					    "test://watched-resource", "test://example-resource" };
	static const char *const turns[] = { "1", "2", "3" };

	if (strcmp(arg_name, "arg1") == 0)
		return complete_from(arg1, SMCP_COUNT(arg1), prefix, out);
	if (strcmp(arg_name, "arg2") == 0)
		return complete_from(arg2, SMCP_COUNT(arg2), prefix, out);
	if (strcmp(arg_name, "resourceUri") == 0)
		return complete_from(uris, SMCP_COUNT(uris), prefix, out);
	if (strcmp(arg_name, "turns") == 0)
		return complete_from(turns, SMCP_COUNT(turns), prefix, out);
	return 0;
}

static const struct smcp_prompt_arg with_arguments_args[] = {
	{ sizeof(struct smcp_prompt_arg), "arg1", "First test argument", true, SMCP_ARG_STRING },
	{ sizeof(struct smcp_prompt_arg), "arg2", "Second test argument", true, SMCP_ARG_STRING },
};

static const struct smcp_prompt_arg embedded_resource_args[] = {
	{ sizeof(struct smcp_prompt_arg),
	  "resourceUri", "URI of the resource to embed", true, SMCP_ARG_STRING },
};

static const struct smcp_prompt_arg multi_turn_args[] = {
	{ sizeof(struct smcp_prompt_arg),
	  "turns", "How many question/answer pairs (1 to 10, default 2)", false, SMCP_ARG_INT },
};

static const struct smcp_prompt_desc prompts[] = {
	{ .sz = sizeof(struct smcp_prompt_desc), .name = "test_simple_prompt",
	  .description = "A simple prompt without arguments", .get = prompt_simple },
	{ .sz = sizeof(struct smcp_prompt_desc), .name = "test_prompt_with_arguments",
	  .description = "A prompt with required arguments", .get = prompt_with_arguments,
	  .args = with_arguments_args, .n_args = SMCP_COUNT(with_arguments_args),
	  .complete = complete_prompt_arg },
	{ .sz = sizeof(struct smcp_prompt_desc), .name = "test_prompt_with_embedded_resource",
	  .description = "A prompt that includes an embedded resource",
	  .get = prompt_with_embedded_resource, .args = embedded_resource_args,
	  .n_args = SMCP_COUNT(embedded_resource_args), .complete = complete_prompt_arg },
	{ .sz = sizeof(struct smcp_prompt_desc), .name = "test_prompt_with_image",
	  .description = "A prompt that includes image content", .get = prompt_with_image },
	{ .sz = sizeof(struct smcp_prompt_desc), .name = "test_prompt_multi_turn",
	  .description = "A conversation alternating user and assistant messages",
	  .get = prompt_multi_turn, .args = multi_turn_args,
	  .n_args = SMCP_COUNT(multi_turn_args), .complete = complete_prompt_arg },
};

/* ------------------------------------------------------------ plugin */

static const struct smcp_config_key config_keys[] = {
	{ sizeof(struct smcp_config_key), "step_ms", SMCP_CONFIG_INT, "50",
	  "milliseconds between the progress and log notifications of the paced tools", 1, 1000 },
	{ 0 },
};

static int fixture_init(struct smcp_host *h, const struct smcp_host_api *a)
{
	int64_t ms;
	int err;

	host = h;
	api = a;
	if (!api->config_int(host, "step_ms", &ms))
		step_ms = (uint64_t)ms;
	err = smcp_register_resources(host, api, resources, SMCP_COUNT(resources));
	if (!err)
		err = smcp_register_resources(host, api, &template, 1);
	if (!err)
		err = smcp_register_tools(host, api, tools, SMCP_COUNT(tools));
	if (!err)
		err = smcp_register_prompts(host, api, prompts, SMCP_COUNT(prompts));
	if (err)
		return err;
	return 0;
}

static void fixture_fini(struct smcp_host *h)
{
	/* timers and pending calls are gone by now; nothing is left to free */
	host = NULL;
	api = NULL;
}

SMCP_PLUGIN_DEFINE("conformance_fixture", "1.0.0",
		   "test only: the fixtures of the official MCP conformance suite",
		   .config_keys = config_keys, .init = fixture_init, .fini = fixture_fini)
