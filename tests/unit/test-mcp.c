/* SPDX-License-Identifier: MIT */
/* JSON-RPC framing and dispatch of the MCP server (mcp/server.c), driven
 * line by line with a capturing transport: no daemon, no pipes. */
#include <errno.h>
#include <stdlib.h>

#include "../mcp/server.h"
#include "log.h"
#include "registry.h"
#include "unit.h"
#include "util.h"

#define MAX_OUT 64

static char *out[MAX_OUT];
static size_t n_out;
static struct mcp_session *session;

static int capture(void *t, const char *line, size_t len, bool droppable)
{
	if (n_out < MAX_OUT)
		out[n_out++] = strndup(line, len);
	return 0;
}

static void reset(void)
{
	for (size_t i = 0; i < n_out; i++)
		free(out[i]);
	n_out = 0;
}

static void feed(const char *line)
{
	mcp_session_handle_line(session, line, strlen(line));
}

/* The only message sent since the last reset, parsed; NULL when there was
 * not exactly one. */
static cJSON *only(void)
{
	if (n_out != 1) {
		fprintf(stderr, "    expected exactly one message, got %zu\n", n_out);
		for (size_t i = 0; i < n_out; i++)
			fprintf(stderr, "    [%zu] %s\n", i, out[i]);
		return NULL;
	}
	return cJSON_Parse(out[0]);
}

static int error_code(const cJSON *m)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "error"), "code");

	return cJSON_IsNumber(c) ? c->valueint : 0;
}

/* Feed line; expect one answer with this error code and id text (as
 * printed: "null", "1", "\"a\""). */
#define EXPECT_ERROR(line, code, id_text)                                                          \
	do {                                                                                       \
		cJSON *m_;                                                                         \
		char *i_;                                                                          \
		reset();                                                                           \
		feed(line);                                                                        \
		m_ = only();                                                                       \
		i_ = m_ ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(m_, "id")) : NULL; \
		CHECK_MSG(m_ && error_code(m_) == (code), "%s -> %s", line, n_out ? out[0] : "nothing"); \
		CHECK_MSG(i_ && strcmp(i_, id_text) == 0, "%s: id %s, expected %s", line,          \
			  i_ ? i_ : "(none)", id_text);                                            \
		free(i_);                                                                          \
		cJSON_Delete(m_);                                                                  \
	} while (0)

#define EXPECT_RESULT(line, want_text)                                                             \
	do {                                                                                       \
		reset();                                                                           \
		feed(line);                                                                        \
		CHECK_MSG(n_out == 1 && strcmp(out[0], want_text) == 0, "%s -> %s", line,          \
			  n_out ? out[0] : "nothing");                                             \
	} while (0)

#define EXPECT_SILENCE(line)                                                                       \
	do {                                                                                       \
		reset();                                                                           \
		feed(line);                                                                        \
		CHECK_MSG(n_out == 0, "%s answered: %s", line, n_out ? out[0] : "");               \
	} while (0)

static const struct mcp_limits limits = {
	.max_line_bytes = 1 << 20, .max_pending = 4, .max_result_bytes = 1 << 20,
	.max_subscriptions = 2, .page_size = 2,
};

static void start(void)
{
	reset();
	static const struct mcp_peer peer = { .transport = "test" };

	CHECK_INT(mcp_server_init(&limits), 0);
	session = mcp_session_new(capture, NULL, &peer);
	CHECK(session != NULL);
}

static void stop(void)
{
	mcp_server_fini();
	reset();
}

static void test_lifecycle(void)
{
	static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26",
						"2024-11-05" };

	UNIT_CASE("before initialize");
	start();
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
		      "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", -32600, "2");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{}}", -32602, "3");

	UNIT_CASE("initialize");
	reset();
	feed("{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":\"initialize\",\"params\":{"
	     "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"u\",\"version\":\"1\"}}}");
	{
		cJSON *m = only();
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "result");

		CHECK(cJSON_IsObject(r));
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "protocolVersion")),
			  "2025-11-25");
		CHECK(cJSON_GetObjectItemCaseSensitive(r, "capabilities") != NULL);
		CHECK(cJSON_GetObjectItemCaseSensitive(r, "serverInfo") != NULL);
		cJSON_Delete(m);
	}
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}",
		     -32600, "4");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	stop();

	UNIT_CASE("version negotiation");
	for (size_t i = 0; i < 5; i++) {
		const char *asked = i < 4 ? versions[i] : "1999-01-01";
		const char *want = i < 4 ? versions[i] : versions[0];
		char line[256];
		cJSON *m;

		start();
		snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\",\"capabilities\":{}}}",
			 asked);
		feed(line);
		m = only();
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				  cJSON_GetObjectItemCaseSensitive(m, "result"), "protocolVersion")),
			  want);
		cJSON_Delete(m);
		stop();
	}
}

static void init_session(void)
{
	start();
	feed("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
	feed("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	reset();
}

static void test_framing(void)
{
	init_session();

	UNIT_CASE("ids keep their type");
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}",
		      "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}");
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"method\":\"ping\"}",
		      "{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"result\":{}}");
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":-7,\"method\":\"ping\"}",
		      "{\"jsonrpc\":\"2.0\",\"id\":-7,\"result\":{}}");
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":\"0\",\"method\":\"ping\"}",
		      "{\"jsonrpc\":\"2.0\",\"id\":\"0\",\"result\":{}}");
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"ping\"}",
		      "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"result\":{}}");
	EXPECT_RESULT("  {\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"} \r",
		      "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}");

	UNIT_CASE("invalid requests");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", -32600, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", -32600, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", -32600, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", -32600, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", -32600, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}", -32600, "null");
	EXPECT_ERROR("{\"id\":6,\"method\":\"ping\"}", -32600, "6");
	EXPECT_ERROR("{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}", -32600, "7");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":5}", -32600, "8");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":9}", -32600, "9");
	EXPECT_ERROR("[{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}]", -32600, "null");
	EXPECT_ERROR("[]", -32600, "null");
	EXPECT_ERROR("42", -32600, "null");
	EXPECT_ERROR("\"ping\"", -32600, "null");

	UNIT_CASE("parse errors");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"", -32700, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}}", -32700, "null");
	EXPECT_ERROR("not json", -32700, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"ping\",\"params\":{\"s\":\"\xff\"}}",
		     -32700, "null");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"ping\",\"params\":{\"x\":NaN}}",
		     -32700, "null");

	UNIT_CASE("nesting limit");
	{
		char deep[600];
		size_t n = 0;

		n += (size_t)snprintf(deep, sizeof(deep), "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"ping\",\"params\":{\"a\":");
		for (int i = 0; i < 200; i++)
			deep[n++] = '[';
		for (int i = 0; i < 200; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n++] = '}';
		deep[n] = '\0';
		reset();
		feed(deep);
		{
			cJSON *m = only();

			CHECK(m && error_code(m) != 0);
			cJSON_Delete(m);
		}
		/* brackets inside strings do not count */
		EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"ping\",\"params\":{\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}}",
			      "{\"jsonrpc\":\"2.0\",\"id\":16,\"result\":{}}");
	}

	UNIT_CASE("notifications are never answered");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\"}");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"method\":\"unknown/method\",\"params\":7}");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":999}}");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\"}");
	EXPECT_SILENCE("{\"jsonrpc\":\"1.0\",\"method\":\"notifications/initialized\"}");
	EXPECT_SILENCE("{\"method\":\"notifications/initialized\"}");
	EXPECT_SILENCE("");
	EXPECT_SILENCE("   \r");

	UNIT_CASE("responses from the client to unknown requests are ignored");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"id\":\"schedmcp-999\",\"result\":{}}");
	EXPECT_SILENCE("{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":1,\"message\":\"x\"}}");

	UNIT_CASE("method and params errors");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"no/such\"}", -32601, "20");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"no/such\"}", -32601, "\"s\"");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/list\",\"params\":[1]}", -32602, "21");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"tools/call\"}", -32602, "22");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":23,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}", -32602, "23");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":24,\"method\":\"prompts/get\",\"params\":{\"name\":\"nope\"}}", -32602, "24");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":25,\"method\":\"resources/read\",\"params\":{\"uri\":\"nope://x\"}}", -32002, "25");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":26,\"method\":\"resources/read\",\"params\":{}}", -32602, "26");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":27,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"nope://x\"}}", -32002, "27");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":28,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"loud\"}}", -32602, "28");
	EXPECT_RESULT("{\"jsonrpc\":\"2.0\",\"id\":29,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"error\"}}",
		      "{\"jsonrpc\":\"2.0\",\"id\":29,\"result\":{}}");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/list\",\"params\":{\"cursor\":\"bogus\"}}", -32602, "30");
	EXPECT_ERROR("{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"completion/complete\",\"params\":{}}", -32602, "31");

	UNIT_CASE("every answer is one valid UTF-8 line");
	reset();
	{
		/* "Method not found: %.100s" must not cut a character in half */
		char line[256];
		size_t n = (size_t)snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":40,\"method\":\"");

		memset(line + n, 'a', 99);
		n += 99;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\xc3\xa9\xc3\xa9\"}");
		feed(line);
	}
	CHECK(n_out == 1 && util_utf8_valid(out[0], strlen(out[0])) && !strchr(out[0], '\n'));
	stop();
}

static int tool_ok(void *data, struct smcp_call *call, const struct smcp_args *args,
		   struct smcp_result *res)
{
	return 0;
}

static void test_pagination(void)
{
	static struct smcp_host owner = { .name = "t" };
	char name[16], line[256];
	char *cursor = NULL;
	int seen = 0, pages = 0;

	UNIT_CASE("pagination");
	for (int i = 0; i < 5; i++) {
		struct smcp_tool_desc d = { .sz = sizeof(d), .name = name, .description = "d",
					    .call = tool_ok };

		snprintf(name, sizeof(name), "tool%d", i);
		CHECK_INT(registry_add_tool(&owner, &d), 0);
	}
	init_session();
	do {
		cJSON *m, *r, *tools, *nc;

		reset();
		if (cursor)
			snprintf(line, sizeof(line),
				 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\",\"params\":{\"cursor\":\"%s\"}}",
				 100 + pages, cursor);
		else
			snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\"}",
				 100 + pages);
		feed(line);
		free(cursor);
		cursor = NULL;
		m = only();
		r = cJSON_GetObjectItemCaseSensitive(m, "result");
		tools = cJSON_GetObjectItemCaseSensitive(r, "tools");
		CHECK(cJSON_GetArraySize(tools) <= 2 && cJSON_GetArraySize(tools) >= 1);
		for (int k = 0; k < cJSON_GetArraySize(tools); k++) {
			char want[16];

			snprintf(want, sizeof(want), "tool%d", seen++);
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
					  cJSON_GetArrayItem(tools, k), "name")),
				  want);
		}
		nc = cJSON_GetObjectItemCaseSensitive(r, "nextCursor");
		if (cJSON_IsString(nc))
			cursor = strdup(nc->valuestring);
		cJSON_Delete(m);
		pages++;
	} while (cursor && pages < 10);
	CHECK_INT(seen, 5);
	CHECK_INT(pages, 3);
	stop();
	registry_free();
}

int main(void)
{
	log_set_stderr_level(SMCP_LOG_EMERGENCY);
	test_lifecycle();
	test_framing();
	test_pagination();
	reset();
	return unit_done("test-mcp");
}
