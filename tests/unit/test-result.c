/* SPDX-License-Identifier: MIT */
/* Host-owned builders (core/result.c): the JSON writer and its misuse,
 * result content items, argument accessors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "result.h"
#include "unit.h"
#include "util.h"

static char *print(const cJSON *v)
{
	return v ? cJSON_PrintUnformatted(v) : NULL;
}

/* The content items as they go on the wire, in brackets. */
static char *items_text(const struct smcp_result *r)
{
	char *t = NULL;

	if (asprintf(&t, "[%.*s]", (int)r->items.len, r->items.p ? r->items.p : "") < 0)
		return NULL;
	return t;
}

#define CHECK_ITEMS(r, want)                                                                       \
	do {                                                                                       \
		char *t_ = items_text(r);                                                          \
		CHECK_STR(t_, want);                                                               \
		free(t_);                                                                          \
	} while (0)

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
	j = result_api_result_json(&r);
	CHECK(j != NULL);
	CHECK(result_api_result_json(&r) == j); /* one writer per result */
	CHECK_INT(result_api_json_string(j, "s", "x"), 0);
	CHECK_INT(result_api_json_int(j, "i", -3), 0);
	CHECK_INT(result_api_json_uint(j, "u", 9007199254740991ull), 0);
	CHECK_INT(result_api_json_double(j, "d", 0.5), 0);
	CHECK_INT(result_api_json_double(j, "nan", NAN), 0);
	CHECK_INT(result_api_json_double(j, "inf", -INFINITY), 0);
	CHECK_INT(result_api_json_bool(j, "b", true), 0);
	CHECK_INT(result_api_json_null(j, "n"), 0);
	CHECK_INT(result_api_json_string(j, "sn", NULL), 0);
	CHECK_INT(result_api_json_array(j, "a"), 0);
	CHECK_INT(result_api_json_int(j, NULL, 1), 0);
	CHECK_INT(result_api_json_object(j, NULL), 0);
	CHECK_INT(result_api_json_raw(j, "raw", "{\"k\":[1,2]}"), 0);
	CHECK_INT(result_api_json_end(j), 0);
	CHECK_INT(result_api_json_end(j), 0);
	CHECK_INT(result_status(&r), 0);
	/* the text as it goes on the wire: integers exact past 2^53 */
	CHECK_STR(result_json_text(&r)->p,
		  "{\"s\":\"x\",\"i\":-3,\"u\":9007199254740991,\"d\":0.5,\"nan\":null,"
		  "\"inf\":null,\"b\":true,\"n\":null,\"sn\":null,\"a\":[1,{\"raw\":{\"k\":[1,2]}}]}");
	root = result_take_json(&r);
	CHECK(cJSON_IsObject(root) && cJSON_GetArraySize(root) == 10);
	cJSON_Delete(root);
	CHECK(result_take_json(&r) == NULL);
	result_release(&r);
}

/* Measured values at most 4 significant digits; integral ones exact. */
static void test_writer_doubles(void)
{
	struct smcp_result r;
	struct smcp_json *j;

	UNIT_CASE("writer: doubles to 4 significant digits");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_array(j, "v"), 0);
	CHECK_INT(result_api_json_double(j, NULL, 1740.6666666666667), 0);
	CHECK_INT(result_api_json_double(j, NULL, 0.123456), 0);
	CHECK_INT(result_api_json_double(j, NULL, -0.000123456), 0);
	CHECK_INT(result_api_json_double(j, NULL, 123456.7), 0);
	CHECK_INT(result_api_json_double(j, NULL, 12345678), 0);
	CHECK_INT(result_api_json_double(j, NULL, 4503599627370497.0), 0);
	CHECK_INT(result_api_json_double(j, NULL, 2.5), 0);
	CHECK_INT(result_api_json_double(j, NULL, 1e-9 / 3), 0);
	CHECK_INT(result_api_json_end(j), 0);
	CHECK_STR(result_json_text(&r)->p,
		  "{\"v\":[1741,0.1235,-0.0001235,123500,12345678,4503599627370497,2.5,"
		  "3.333e-10]}");
	result_release(&r);
}

/* A paged list ends at the last item that fits the answer's bound. */
static void test_writer_pages(void)
{
	struct smcp_result r;
	struct smcp_json *j;
	cJSON *root;
	int i, kept = 0, err = 0;

	UNIT_CASE("writer: a page ends where the answer is full");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	/* a tool: the body sent plainly and once escaped */
	result_set_page(&r, 4096, 1, 1);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_item_end(j, SMCP_PAGE_TAIL_BYTES), -EINVAL); /* no begin */
	result_release(&r);

	result_init(&r, RESULT_TOOL, NULL, NULL);
	result_set_page(&r, 4096, 1, 1);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_array(j, "items"), 0);
	for (i = 0; i < 1000; i++) {
		CHECK_INT(result_api_json_item_begin(j), 0);
		CHECK_INT(result_api_json_object(j, NULL), 0);
		CHECK_INT(result_api_json_int(j, "i", i), 0);
		CHECK_INT(result_api_json_string(j, "s", "quoted \"text\" here"), 0);
		CHECK_INT(result_api_json_end(j), 0);
		err = result_api_json_item_end(j, SMCP_PAGE_TAIL_BYTES);
		if (err)
			break;
		kept++;
	}
	CHECK_INT(err, -ENOSPC);
	CHECK_INT(result_api_json_end(j), 0); /* not sticky: the list closes */
	CHECK_INT(result_api_json_int(j, "next_cursor", kept), 0);
	CHECK_INT(result_status(&r), 0);
	/* twice the body plus its escapes, and the tail kept, fit 4096 bytes */
	CHECK_MSG(kept > 20 && result_json_text(&r)->len * 2 + 400 < 4096 - 1024,
		  "%d items, %zu bytes", kept, result_json_text(&r)->len);
	root = result_take_json(&r);
	CHECK(root && cJSON_GetArraySize(cJSON_GetObjectItem(root, "items")) == kept);
	cJSON_Delete(root);
	result_release(&r);

	/* no bound (the report): nothing is cut; the first item is always kept */
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_array(j, "items"), 0);
	for (i = 0; i < 300; i++) {
		CHECK_INT(result_api_json_item_begin(j), 0);
		CHECK_INT(result_api_json_string(j, NULL, "0123456789012345678901234567890123"), 0);
		CHECK_INT(result_api_json_item_end(j, SMCP_PAGE_TAIL_BYTES), 0);
	}
	result_release(&r);
	result_init(&r, RESULT_TOOL, NULL, NULL);
	result_set_page(&r, 100, 1, 1);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_array(j, "items"), 0);
	CHECK_INT(result_api_json_item_begin(j), 0);
	CHECK_INT(result_api_json_string(j, NULL, "first"), 0);
	CHECK_INT(result_api_json_item_end(j, SMCP_PAGE_TAIL_BYTES), 0);
	CHECK_INT(result_api_json_item_begin(j), 0);
	CHECK_INT(result_api_json_string(j, NULL, "second"), 0);
	CHECK_INT(result_api_json_item_end(j, SMCP_PAGE_TAIL_BYTES), -ENOSPC);
	CHECK_INT(result_api_json_end(j), 0);
	CHECK_STR(result_json_text(&r)->p, "{\"items\":[\"first\"]}");
	result_release(&r);
}

static void test_writer_misuse(void)
{
	struct smcp_result r;
	struct smcp_json *j;

	UNIT_CASE("writer: key inside an array");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_array(j, "list"), 0);
	CHECK_INT(result_api_json_int(j, "key", 1), -EINVAL);
	/* sticky: later correct calls keep failing */
	CHECK_INT(result_api_json_int(j, NULL, 2), -EINVAL);
	CHECK_INT(result_api_json_end(j), -EINVAL);
	CHECK_INT(result_status(&r), -EINVAL);
	result_release(&r);

	UNIT_CASE("writer: no key inside an object");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_string(j, NULL, "v"), -EINVAL);
	CHECK(result_status(&r) != 0);
	result_release(&r);

	UNIT_CASE("writer: object left open");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_object(j, "o"), 0);
	CHECK_INT(result_api_json_int(j, "x", 1), 0);
	CHECK(result_status(&r) != 0);
	CHECK_INT(result_api_json_end(j), 0);
	CHECK_INT(result_status(&r), 0);
	result_release(&r);

	UNIT_CASE("writer: array left open");
	result_init(&r, RESULT_READ, "x://y", "application/json");
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_array(j, "a"), 0);
	CHECK_INT(result_api_json_array(j, NULL), 0);
	CHECK_INT(result_api_json_end(j), 0);
	CHECK(result_status(&r) != 0);
	result_release(&r);

	UNIT_CASE("writer: closing the root");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_end(j), -EINVAL);
	CHECK(result_status(&r) != 0);
	result_release(&r);

	UNIT_CASE("writer: too deep");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	{
		int e = 0, i;

		for (i = 0; i < 100 && !e; i++)
			e = result_api_json_array(j, i ? NULL : "deep");
		CHECK_INT(e, -E2BIG);
		CHECK(i <= JSON_MAX_DEPTH);
	}
	CHECK_INT(result_status(&r), -E2BIG);
	result_release(&r);

	UNIT_CASE("writer: NULL writer");
	CHECK_INT(result_api_json_int(NULL, "x", 1), -EINVAL);
	CHECK_INT(result_api_json_end(NULL), -EINVAL);
	CHECK_INT(result_api_json_object(NULL, "x"), -EINVAL);
	CHECK_INT(result_api_json_raw(NULL, "x", "1"), -EINVAL);

	UNIT_CASE("writer: json_raw refuses non-JSON without poisoning the writer");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_raw(j, "r", "{not json"), -EINVAL);
	CHECK_INT(result_api_json_raw(j, "r", "\"\xff\""), -EINVAL);
	CHECK_INT(result_api_json_raw(j, "r", NULL), -EINVAL);
	CHECK_INT(result_api_json_raw(j, "r", "[1]"), 0);
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
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_string(j, "v", "bad\xff"), 0);
	CHECK_INT(result_api_json_string(j, "k\xc0", "ok"), 0);
	CHECK_INT(result_status(&r), 0);
	text = result_json_text(&r)->p;
	CHECK(text && util_utf8_valid(text, strlen(text)));
	CHECK_HAS(text, "\"v\":\"bad\xef\xbf\xbd\"");
	CHECK_HAS(text, "\"k\xef\xbf\xbd\":\"ok\"");
	result_release(&r);
}

static void test_content(void)
{
	struct smcp_result r;
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G' };

	UNIT_CASE("tool content items");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	CHECK_INT(result_api_result_text(&r, "hello"), 0);
	CHECK_INT(result_api_result_textf(&r, "%d cpus", 4), 0);
	CHECK_INT(result_api_result_image(&r, "image/png", png, sizeof(png)), 0);
	CHECK_INT(result_api_result_audio(&r, "audio/wav", "", 0), 0);
	CHECK_INT(result_api_result_resource_link(&r, "x://y", "y", NULL, "text/plain"), 0);
	CHECK_INT(result_api_result_embedded_text(&r, "x://t", "text/plain", "body"), 0);
	CHECK_INT(
		result_api_result_embedded_blob(&r, "x://b", "application/octet-stream", "foo", 3),
		0);
	CHECK_INT(result_api_result_blob(&r, "application/octet-stream", "x", 1), -EINVAL);
	CHECK_INT(result_api_result_text(&r, NULL), -EINVAL);
	CHECK_INT(result_api_result_image(&r, "image/png", NULL, 4), -EINVAL);
	CHECK_INT(result_api_result_role(&r, SMCP_ROLE_USER), -EINVAL);
	CHECK(!r.is_error);
	CHECK_ITEMS(&r,
		   "[{\"type\":\"text\",\"text\":\"hello\"},{\"type\":\"text\",\"text\":\"4 cpus\"},"
		   "{\"type\":\"image\",\"data\":\"iVBORw==\",\"mimeType\":\"image/png\"},"
		   "{\"type\":\"audio\",\"data\":\"\",\"mimeType\":\"audio/wav\"},"
		   "{\"type\":\"resource_link\",\"uri\":\"x://y\",\"name\":\"y\",\"mimeType\":\"text/plain\"},"
		   "{\"type\":\"resource\",\"resource\":{\"uri\":\"x://t\",\"mimeType\":\"text/plain\",\"text\":\"body\"}},"
		   "{\"type\":\"resource\",\"resource\":{\"uri\":\"x://b\",\"mimeType\":\"application/octet-stream\",\"blob\":\"Zm9v\"}}]");
	CHECK_INT(result_api_result_error(&r, "bad %s", "thing"), 0);
	CHECK(r.is_error);
	CHECK_STR(r.error, "bad thing");
	CHECK_INT(r.n_items, 8);
	CHECK_INT(result_api_result_error(&r, "second"), 0);
	CHECK_STR(r.error, "bad thing"); /* the first message is kept */
	CHECK_INT(result_status(&r), 0);
	result_release(&r);

	UNIT_CASE("read contents");
	result_init(&r, RESULT_READ, "x://r", "text/plain");
	CHECK_INT(result_api_result_text(&r, "t"), 0);
	CHECK_INT(result_api_result_blob(&r, "application/octet-stream", "foob", 4), 0);
	CHECK_INT(result_api_result_resource_link(&r, "x://y", "y", NULL, NULL), -EINVAL);
	CHECK_ITEMS(&r, "[{\"uri\":\"x://r\",\"mimeType\":\"text/plain\",\"text\":\"t\"},"
			      "{\"uri\":\"x://r\",\"mimeType\":\"application/octet-stream\",\"blob\":\"Zm9vYg==\"}]");
	/* a failed read carries the message but adds no content */
	CHECK_INT(result_api_result_error(&r, "gone"), 0);
	CHECK_STR(r.error, "gone");
	CHECK_INT(r.n_items, 2);
	result_release(&r);

	UNIT_CASE("prompt messages");
	result_init(&r, RESULT_PROMPT, NULL, NULL);
	CHECK_INT(result_api_result_description(&r, "desc"), 0);
	CHECK_INT(result_api_result_text(&r, "q"), 0);
	CHECK_INT(result_api_result_role(&r, SMCP_ROLE_ASSISTANT), 0);
	CHECK_INT(result_api_result_text(&r, "a"), 0);
	CHECK_INT(result_api_result_role(&r, (enum smcp_role)7), -EINVAL);
	CHECK_STR(r.description, "desc");
	CHECK_ITEMS(&r, "[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"q\"}},"
			      "{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"a\"}}]");
	result_release(&r);

	UNIT_CASE("size limits");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	{
		size_t n = (8u << 20) + 1;
		char *big = malloc(n + 1);

		memset(big, 'a', n);
		big[n] = '\0';
		CHECK_INT(result_api_result_text(&r, big), -E2BIG);
		CHECK_INT(result_api_result_image(&r, "image/png", big, n), -E2BIG);
		free(big);
	}
	CHECK_INT(result_status(&r), 0);
	result_release(&r);
}

/* ------------------------------------------------------- the text writer */

static void test_jbuf_strings(void)
{
	struct jbuf b;

	UNIT_CASE("jbuf: strings escaped as cJSON escapes them, made valid UTF-8");
	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_str(&b, "a\"b\\c\n\x01\x7f\xff \xc3\xa9\0z", 14);
	CHECK_STR(b.p, "\"a\\\"b\\\\c\\n\\u0001\x7f\xef\xbf\xbd \xc3\xa9\\u0000z\"");
	jbuf_free(&b);

	UNIT_CASE("jbuf: escaped mode writes JSON as the inside of a JSON string");
	{
		static const char *const samples[] = {
			"{\"k\":\"q\\\"uo\\\\te\\n\",\"n\":[1,-2.5,null,true],\"\\u0001\":\"\xc3\xa9\"}",
			"[\"\\\\\\\\\\\"\",\"\\t\",{}]",
		};

		for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
			cJSON *tree = cJSON_Parse(samples[i]), *outer;
			struct jbuf raw, esc, wrapped;

			jbuf_init(&raw, JBUF_NO_LIMIT);
			jbuf_init(&esc, JBUF_NO_LIMIT);
			jbuf_init(&wrapped, JBUF_NO_LIMIT);
			jbuf_cjson(&raw, tree);
			esc.esc = true;
			jbuf_cjson(&esc, tree);
			jbuf_puts(&wrapped, "\"");
			jbuf_put(&wrapped, esc.p, esc.len);
			jbuf_puts(&wrapped, "\"");
			outer = cJSON_Parse(wrapped.p);
			CHECK(cJSON_IsString(outer));
			CHECK_STR(outer ? outer->valuestring : NULL, raw.p);
			CHECK_JSON(tree, raw.p); /* and the raw text is cJSON's */
			cJSON_Delete(outer);
			cJSON_Delete(tree);
			jbuf_free(&raw);
			jbuf_free(&esc);
			jbuf_free(&wrapped);
		}
	}
}

static void test_jbuf_numbers(void)
{
	static const double ds[] = { 0, -1, 0.1, 1e300, 123456789012.0, 2147483647.0, 2147483648.5,
				     -2147483648.0, 1.0 / 3, 5e-324, 9007199254740993.0, -0.25,
				     3e9, -1e14, 999999999999999.0, 1e15, 1e21, 12.5e-3, -0.0,
				     -999999999999999.0, 4503599627370496.5, 1e-7 };
	struct jbuf b;

	UNIT_CASE("jbuf: doubles print as cJSON prints them");
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		cJSON *n = cJSON_CreateNumber(ds[i]);

		jbuf_init(&b, JBUF_NO_LIMIT);
		jbuf_double(&b, ds[i]);
		CHECK_JSON(n, b.p);
		cJSON_Delete(n);
		jbuf_free(&b);
	}
	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_double(&b, NAN);
	jbuf_int(&b, INT64_MIN);
	jbuf_uint(&b, UINT64_MAX);
	CHECK_STR(b.p, "null-922337203685477580818446744073709551615");
	jbuf_free(&b);

	UNIT_CASE("jbuf: printf, short and longer than its stack buffer, escaped when esc");
	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_printf(&b, "%u. %s", 7u, "step");
	CHECK_STR(b.p, "7. step");
	jbuf_truncate(&b, 0);
	jbuf_printf(&b, "%0900d|%s", 1, "end");
	CHECK(b.len == 904 && b.p[898] == '0' && strcmp(b.p + 899, "1|end") == 0);
	jbuf_truncate(&b, 0);
	b.esc = true;
	jbuf_printf(&b, "say \"%s\"", "hi");
	CHECK_STR(b.p, "say \\\"hi\\\"");
	jbuf_free(&b);

	UNIT_CASE("jbuf: an empty part may be NULL (an empty body), at both levels");
	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_puts(&b, "x");
	jbuf_put(&b, NULL, 0);
	b.esc = true;
	jbuf_put(&b, NULL, 0);
	jbuf_str(&b, NULL, 0);
	CHECK_STR(b.p, "x\\\"\\\"");
	jbuf_free(&b);

	UNIT_CASE("jbuf: base64");
	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_base64(&b, "foob", 4);
	jbuf_base64(&b, "", 0);
	CHECK_STR(b.p, "\"Zm9vYg==\"\"\"");
	jbuf_free(&b);
}

static void test_jbuf_limit(void)
{
	char small[16];
	struct jbuf b;
	char *t;

	UNIT_CASE("jbuf: past the limit bytes are counted, not kept");
	jbuf_init(&b, 10);
	jbuf_puts(&b, "12345678");
	CHECK(!jbuf_over(&b));
	jbuf_puts(&b, "abcde");
	jbuf_puts(&b, "z");
	CHECK(jbuf_over(&b));
	CHECK_INT(b.len, 8);
	CHECK_INT(b.total, 14);
	CHECK(jbuf_take(&b, NULL) == NULL);

	UNIT_CASE("jbuf: caller's storage first, the heap when it grows");
	jbuf_init_on(&b, small, sizeof(small), JBUF_NO_LIMIT);
	jbuf_puts(&b, "short");
	CHECK(b.p == small);
	jbuf_puts(&b, " and now much longer than sixteen bytes");
	CHECK(b.p != small && !b.borrowed);
	t = jbuf_take(&b, NULL);
	CHECK_STR(t, "short and now much longer than sixteen bytes");
	free(t);

	UNIT_CASE("result: a body over the limit holds at most the limit");
	{
		struct smcp_result r;
		struct smcp_json *j;

		result_init(&r, RESULT_TOOL, NULL, NULL);
		result_set_limit(&r, 100);
		j = result_api_result_json(&r);
		CHECK_INT(result_api_json_array(j, "a"), 0);
		for (int i = 0; i < 1000; i++)
			CHECK_INT(result_api_json_string(j, NULL, "0123456789"), 0);
		CHECK_INT(result_api_json_end(j), 0);
		CHECK_INT(result_status(&r), 0);
		CHECK(jbuf_over(result_json_text(&r)));
		CHECK(r.json.own.len <= 100 && r.json.own.cap <= 256);
		CHECK(r.json.own.total > 13000);
		result_release(&r);
	}
}

static void test_jbuf_raw(void)
{
	static const char *const bad[] = {
		"", " ", "[1] x", "[1]]", "{not json", "01", "1.", "-", ".5", "1e", "[1,]", "{\"a\":1,}",
		"{\"a\" 1}", "{1:2}", "\"a\tb\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "\"\xff\"", "\"\xc0\xaf\"", "tru", "nul", "[", "\"abc",
		"\"\\u12\"", "{\"a\":}",
	};
	struct smcp_result r;
	struct smcp_json *j;
	char deep[1300];
	struct jbuf b;

	UNIT_CASE("json_raw: exactly one JSON value (RFC 8259), or -EINVAL");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jbuf_init(&b, JBUF_NO_LIMIT);
		int e = jbuf_raw(&b, bad[i], strlen(bad[i]), 64);

		CHECK_MSG(e == -EINVAL && !b.len, "'%s' was not refused", bad[i]);
		jbuf_free(&b);
	}
	memset(deep, '[', 600);
	memset(deep + 600, ']', 600);
	deep[1200] = '\0';
	CHECK_INT(jbuf_raw_check(deep, 1200, 512), -EINVAL);
	CHECK_INT(jbuf_raw_check(deep + 100, 1000, 512), 0);

	UNIT_CASE("json_raw: written once, without the whitespace between tokens");
	jbuf_init(&b, JBUF_NO_LIMIT);
	{
		static const char spaced[] =
			" {\n\"a b\" : [ 1 ,\t2e5 , \"x y\" ] ,\"\\ud83d\\ude00\":-0.5} ";

		CHECK_INT(jbuf_raw(&b, spaced, strlen(spaced), 64), 0);
	}
	CHECK_STR(b.p, "{\"a b\":[1,2e5,\"x y\"],\"\\ud83d\\ude00\":-0.5}");
	jbuf_free(&b);

	UNIT_CASE("json_raw: trailing text after the value is refused, the writer unharmed");
	result_init(&r, RESULT_TOOL, NULL, NULL);
	j = result_api_result_json(&r);
	CHECK_INT(result_api_json_int(j, "a", 1), 0);
	CHECK_INT(result_api_json_raw(j, "r", "[1] trailing"), -EINVAL);
	CHECK_INT(result_api_json_raw(j, "r", "{} {}"), -EINVAL);
	CHECK_INT(result_api_json_int(j, "b", 2), 0);
	CHECK_INT(result_status(&r), 0);
	CHECK_STR(result_json_text(&r)->p, "{\"a\":1,\"b\":2}");
	result_release(&r);
}

static void test_jbuf_cjson(void)
{
	cJSON *t = cJSON_Parse("{\"a\":[1,2.5,-3e-7,\"s\\\"\\u00e9\\n\",{},[],null,false,true],"
			       "\"\":{\"nested\":{\"deeper\":[{\"k\":\"v\"}]}},\"big\":1e300}");
	struct jbuf b;

	UNIT_CASE("jbuf: a cJSON tree, as cJSON prints it");
	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_cjson(&b, t);
	CHECK_JSON(t, b.p);
	jbuf_free(&b);
	cJSON_Delete(t);
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
	CHECK_INT(result_api_arg_string(&a, "s", &s), 0);
	CHECK_STR(s, "str");
	CHECK_INT(result_api_arg_string(&a, "i", &s), -EINVAL);
	CHECK_INT(result_api_arg_string(&a, "missing", &s), -ENOENT);
	CHECK_INT(result_api_arg_int(&a, "n", &i), 0);
	CHECK_INT(i, 1234);
	CHECK_INT(result_api_arg_int(&a, "i", &i), 0);
	CHECK_INT(i, 7);
	i = -1;
	CHECK_INT(result_api_arg_int(&a, "f", &i), -EINVAL);
	CHECK_INT(result_api_arg_int(&a, "bad", &i), -EINVAL);
	CHECK_INT(result_api_arg_int(&a, "big", &i), -EINVAL);
	CHECK_INT(result_api_arg_int(&a, "s", &i), -EINVAL);
	CHECK_INT(result_api_arg_int(&a, "b", &i), -EINVAL);
	CHECK_INT(i, -1);
	CHECK_INT(result_api_arg_double(&a, "f", &d), 0);
	CHECK(d == 1.5);
	CHECK_INT(result_api_arg_double(&a, "n", &d), 0);
	CHECK(d == 1234);
	CHECK_INT(result_api_arg_bool(&a, "t", &b), 0);
	CHECK(b);
	CHECK_INT(result_api_arg_bool(&a, "b", &b), 0);
	CHECK(!b);
	CHECK_INT(result_api_arg_bool(&a, "i", &b), -EINVAL);
	CHECK_INT(result_api_arg_int(&a, "nested.inner.v", &i), 0);
	CHECK_INT(i, 9);
	CHECK_INT(result_api_arg_int(&a, "nested.missing.v", &i), -ENOENT);
	CHECK_INT(result_api_arg_int(&a, "s.x", &i), -ENOENT);
	CHECK_INT(result_api_arg_int(&a, "dot.key", &i), 0); /* a literal key wins */
	CHECK_INT(i, 1);
	CHECK_INT(result_api_arg_int(NULL, "i", &i), -ENOENT);
	{
		struct smcp_args empty = { .obj = NULL };

		CHECK_INT(result_api_arg_string(&empty, "s", &s), -ENOENT);
	}
	cJSON_Delete(o);
}

int main(void)
{
	test_writer_doubles();
	test_writer_pages();
	test_writer_ok();
	test_writer_misuse();
	test_writer_utf8();
	test_content();
	test_jbuf_strings();
	test_jbuf_numbers();
	test_jbuf_limit();
	test_jbuf_raw();
	test_jbuf_cjson();
	test_args();
	return unit_done("test-result");
}
