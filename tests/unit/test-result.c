/* SPDX-License-Identifier: MIT */
/* Host-owned builders (core/result.c): the JSON writer and its misuse,
 * result content items, argument accessors. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "result.h"
#include "unit.h"
#include "util.h"

static char *print(const cJSON *v)
{
	return v ? cJSON_PrintUnformatted(v) : NULL;
}

#define CHECK_JSON(node, want)                                                                     \
	do {                                                                                       \
		char *t_ = print(node);                                                            \
		CHECK_STR(t_, want);                                                               \
		free(t_);                                                                          \
	} while (0)

static void test_writer_ok(void)
{
	struct smcp_result r;
	struct smcp_json *j;
	cJSON *root;

	UNIT_CASE("writer: well-formed use");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK(j != NULL);
	CHECK(api_result_json(&r) == j); /* one writer per result */
	CHECK_INT(api_json_string(j, "s", "x"), 0);
	CHECK_INT(api_json_int(j, "i", -3), 0);
	CHECK_INT(api_json_uint(j, "u", 9007199254740991ull), 0);
	CHECK_INT(api_json_double(j, "d", 0.5), 0);
	CHECK_INT(api_json_double(j, "nan", NAN), 0);
	CHECK_INT(api_json_double(j, "inf", -INFINITY), 0);
	CHECK_INT(api_json_bool(j, "b", true), 0);
	CHECK_INT(api_json_null(j, "n"), 0);
	CHECK_INT(api_json_string(j, "sn", NULL), 0);
	CHECK_INT(api_json_array(j, "a"), 0);
	CHECK_INT(api_json_int(j, NULL, 1), 0);
	CHECK_INT(api_json_object(j, NULL), 0);
	CHECK_INT(api_json_raw(j, "raw", "{\"k\":[1,2]}"), 0);
	CHECK_INT(api_json_end(j), 0);
	CHECK_INT(api_json_end(j), 0);
	CHECK_INT(result_status(&r), 0);
	root = result_take_json(&r);
	CHECK_JSON(root, "{\"s\":\"x\",\"i\":-3,\"u\":9007199254740991,\"d\":0.5,\"nan\":null,"
			 "\"inf\":null,\"b\":true,\"n\":null,\"sn\":null,\"a\":[1,{\"raw\":{\"k\":[1,2]}}]}");
	cJSON_Delete(root);
	CHECK(result_take_json(&r) == NULL);
	result_release(&r);
}

static void test_writer_misuse(void)
{
	struct smcp_result r;
	struct smcp_json *j;

	UNIT_CASE("writer: key inside an array");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK_INT(api_json_array(j, "list"), 0);
	CHECK_INT(api_json_int(j, "key", 1), -EINVAL);
	/* sticky: later correct calls keep failing */
	CHECK_INT(api_json_int(j, NULL, 2), -EINVAL);
	CHECK_INT(api_json_end(j), -EINVAL);
	CHECK_INT(result_status(&r), -EINVAL);
	result_release(&r);

	UNIT_CASE("writer: no key inside an object");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK_INT(api_json_string(j, NULL, "v"), -EINVAL);
	CHECK(result_status(&r) != 0);
	result_release(&r);

	UNIT_CASE("writer: object left open");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK_INT(api_json_object(j, "o"), 0);
	CHECK_INT(api_json_int(j, "x", 1), 0);
	CHECK(result_status(&r) != 0);
	CHECK_INT(api_json_end(j), 0);
	CHECK_INT(result_status(&r), 0);
	result_release(&r);

	UNIT_CASE("writer: array left open");
	result_init(&r, RESULT_READ, "x://y", "application/json");
	j = api_result_json(&r);
	CHECK_INT(api_json_array(j, "a"), 0);
	CHECK_INT(api_json_array(j, NULL), 0);
	CHECK_INT(api_json_end(j), 0);
	CHECK(result_status(&r) != 0);
	result_release(&r);

	UNIT_CASE("writer: closing the root");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK_INT(api_json_end(j), -EINVAL);
	CHECK(result_status(&r) != 0);
	result_release(&r);

	UNIT_CASE("writer: too deep");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	{
		int e = 0, i;

		for (i = 0; i < 100 && !e; i++)
			e = api_json_array(j, i ? NULL : "deep");
		CHECK_INT(e, -E2BIG);
		CHECK(i <= JSON_MAX_DEPTH);
	}
	CHECK_INT(result_status(&r), -E2BIG);
	result_release(&r);

	UNIT_CASE("writer: NULL writer");
	CHECK_INT(api_json_int(NULL, "x", 1), -EINVAL);
	CHECK_INT(api_json_end(NULL), -EINVAL);
	CHECK_INT(api_json_object(NULL, "x"), -EINVAL);
	CHECK_INT(api_json_raw(NULL, "x", "1"), -EINVAL);

	UNIT_CASE("writer: json_raw refuses non-JSON without poisoning the writer");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK_INT(api_json_raw(j, "r", "{not json"), -EINVAL);
	CHECK_INT(api_json_raw(j, "r", "\"\xff\""), -EINVAL);
	CHECK_INT(api_json_raw(j, "r", NULL), -EINVAL);
	CHECK_INT(api_json_raw(j, "r", "[1]"), 0);
	CHECK_INT(result_status(&r), 0);
	result_release(&r);
}

static void test_writer_utf8(void)
{
	struct smcp_result r;
	struct smcp_json *j;
	char *text;

	UNIT_CASE("writer: strings and keys made valid UTF-8");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = api_result_json(&r);
	CHECK_INT(api_json_string(j, "v", "bad\xff"), 0);
	CHECK_INT(api_json_string(j, "k\xc0", "ok"), 0);
	CHECK_INT(result_status(&r), 0);
	text = print(r.json.root);
	CHECK(text && utf8_valid(text, strlen(text)));
	CHECK_HAS(text, "\"v\":\"bad\xef\xbf\xbd\"");
	CHECK_HAS(text, "\"k\xef\xbf\xbd\":\"ok\"");
	free(text);
	result_release(&r);
}

static void test_content(void)
{
	struct smcp_result r;
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G' };

	UNIT_CASE("tool content items");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	CHECK_INT(api_result_text(&r, "hello"), 0);
	CHECK_INT(api_result_textf(&r, "%d cpus", 4), 0);
	CHECK_INT(api_result_image(&r, "image/png", png, sizeof(png)), 0);
	CHECK_INT(api_result_audio(&r, "audio/wav", "", 0), 0);
	CHECK_INT(api_result_resource_link(&r, "x://y", "y", NULL, "text/plain"), 0);
	CHECK_INT(api_result_embedded_text(&r, "x://t", "text/plain", "body"), 0);
	CHECK_INT(api_result_embedded_blob(&r, "x://b", "application/octet-stream", "foo", 3), 0);
	CHECK_INT(api_result_blob(&r, "application/octet-stream", "x", 1), -EINVAL);
	CHECK_INT(api_result_text(&r, NULL), -EINVAL);
	CHECK_INT(api_result_image(&r, "image/png", NULL, 4), -EINVAL);
	CHECK_INT(api_result_role(&r, SMCP_ROLE_USER), -EINVAL);
	CHECK(!r.is_error);
	CHECK_JSON(r.content,
		   "[{\"type\":\"text\",\"text\":\"hello\"},{\"type\":\"text\",\"text\":\"4 cpus\"},"
		   "{\"type\":\"image\",\"data\":\"iVBORw==\",\"mimeType\":\"image/png\"},"
		   "{\"type\":\"audio\",\"data\":\"\",\"mimeType\":\"audio/wav\"},"
		   "{\"type\":\"resource_link\",\"uri\":\"x://y\",\"name\":\"y\",\"mimeType\":\"text/plain\"},"
		   "{\"type\":\"resource\",\"resource\":{\"uri\":\"x://t\",\"mimeType\":\"text/plain\",\"text\":\"body\"}},"
		   "{\"type\":\"resource\",\"resource\":{\"uri\":\"x://b\",\"mimeType\":\"application/octet-stream\",\"blob\":\"Zm9v\"}}]");
	CHECK_INT(api_result_error(&r, "bad %s", "thing"), 0);
	CHECK(r.is_error);
	CHECK_STR(r.error, "bad thing");
	CHECK_INT(cJSON_GetArraySize(r.content), 8);
	CHECK_INT(api_result_error(&r, "second"), 0);
	CHECK_STR(r.error, "bad thing"); /* the first message is kept */
	CHECK_INT(result_status(&r), 0);
	result_release(&r);

	UNIT_CASE("read contents");
	result_init(&r, RESULT_READ, "x://r", "text/plain");
	CHECK_INT(api_result_text(&r, "t"), 0);
	CHECK_INT(api_result_blob(&r, "application/octet-stream", "foob", 4), 0);
	CHECK_INT(api_result_resource_link(&r, "x://y", "y", NULL, NULL), -EINVAL);
	CHECK_JSON(r.content, "[{\"uri\":\"x://r\",\"mimeType\":\"text/plain\",\"text\":\"t\"},"
			      "{\"uri\":\"x://r\",\"mimeType\":\"application/octet-stream\",\"blob\":\"Zm9vYg==\"}]");
	/* a failed read carries the message but adds no content */
	CHECK_INT(api_result_error(&r, "gone"), 0);
	CHECK_STR(r.error, "gone");
	CHECK_INT(cJSON_GetArraySize(r.content), 2);
	result_release(&r);

	UNIT_CASE("prompt messages");
	result_init(&r, RESULT_PROMPT, NULL, NULL);
	CHECK_INT(api_result_description(&r, "desc"), 0);
	CHECK_INT(api_result_text(&r, "q"), 0);
	CHECK_INT(api_result_role(&r, SMCP_ROLE_ASSISTANT), 0);
	CHECK_INT(api_result_text(&r, "a"), 0);
	CHECK_INT(api_result_role(&r, (enum smcp_role)7), -EINVAL);
	CHECK_STR(r.description, "desc");
	CHECK_JSON(r.content, "[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"q\"}},"
			      "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"a\"}}]");
	result_release(&r);

	UNIT_CASE("size limits");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	{
		size_t n = (8u << 20) + 1;
		char *big = malloc(n + 1);

		memset(big, 'a', n);
		big[n] = '\0';
		CHECK_INT(api_result_text(&r, big), -E2BIG);
		CHECK_INT(api_result_image(&r, "image/png", big, n), -E2BIG);
		free(big);
	}
	CHECK_INT(result_status(&r), 0);
	result_release(&r);
}

static void test_args(void)
{
	cJSON *o = cJSON_Parse("{\"s\":\"str\",\"n\":\"1234\",\"f\":1.5,\"i\":7,\"bad\":\"12x\","
			       "\"t\":\"true\",\"b\":false,\"big\":1e300,"
			       "\"nested\":{\"inner\":{\"v\":\"9\"}},\"dot.key\":1}");
	struct smcp_args a = { .obj = o };
	const char *s = NULL;
	int64_t i = -1;
	double d = 0;
	bool b = false;

	UNIT_CASE("argument accessors");
	CHECK_INT(api_arg_string(&a, "s", &s), 0);
	CHECK_STR(s, "str");
	CHECK_INT(api_arg_string(&a, "i", &s), -EINVAL);
	CHECK_INT(api_arg_string(&a, "missing", &s), -ENOENT);
	CHECK_INT(api_arg_int(&a, "n", &i), 0);
	CHECK_INT(i, 1234);
	CHECK_INT(api_arg_int(&a, "i", &i), 0);
	CHECK_INT(i, 7);
	i = -1;
	CHECK_INT(api_arg_int(&a, "f", &i), -EINVAL);
	CHECK_INT(api_arg_int(&a, "bad", &i), -EINVAL);
	CHECK_INT(api_arg_int(&a, "big", &i), -EINVAL);
	CHECK_INT(api_arg_int(&a, "s", &i), -EINVAL);
	CHECK_INT(api_arg_int(&a, "b", &i), -EINVAL);
	CHECK_INT(i, -1);
	CHECK_INT(api_arg_double(&a, "f", &d), 0);
	CHECK(d == 1.5);
	CHECK_INT(api_arg_double(&a, "n", &d), 0);
	CHECK(d == 1234);
	CHECK_INT(api_arg_bool(&a, "t", &b), 0);
	CHECK(b);
	CHECK_INT(api_arg_bool(&a, "b", &b), 0);
	CHECK(!b);
	CHECK_INT(api_arg_bool(&a, "i", &b), -EINVAL);
	CHECK_INT(api_arg_int(&a, "nested.inner.v", &i), 0);
	CHECK_INT(i, 9);
	CHECK_INT(api_arg_int(&a, "nested.missing.v", &i), -ENOENT);
	CHECK_INT(api_arg_int(&a, "s.x", &i), -ENOENT);
	CHECK_INT(api_arg_int(&a, "dot.key", &i), 0); /* a literal key wins */
	CHECK_INT(i, 1);
	CHECK_INT(api_arg_int(NULL, "i", &i), -ENOENT);
	{
		struct smcp_args empty = { .obj = NULL };

		CHECK_INT(api_arg_string(&empty, "s", &s), -ENOENT);
	}
	cJSON_Delete(o);
}

int main(void)
{
	test_writer_ok();
	test_writer_misuse();
	test_writer_utf8();
	test_content();
	test_args();
	return unit_done("test-result");
}
