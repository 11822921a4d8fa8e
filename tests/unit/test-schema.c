/* SPDX-License-Identifier: MIT */
/* Tool-argument validation against JSON Schema (core/schema.c). */
#include <errno.h>
#include <stdlib.h>

#include "schema.h"
#include "unit.h"

static char err[512];

/* Validate value_json against schema_json; returns the result and keeps the
 * (possibly coerced) value as compact text in *ret_text when asked. */
static int run(const char *schema_json, const char *value_json, char **ret_text)
{
	cJSON *s = cJSON_Parse(schema_json), *v = cJSON_Parse(value_json);
	int r;

	err[0] = '\0';
	if (!s || !v) {
		fprintf(stderr, "bad test JSON: %s / %s\n", schema_json, value_json);
		cJSON_Delete(s);
		cJSON_Delete(v);
		return 1000;
	}
	r = schema_validate(s, v, err, sizeof(err));
	if (ret_text)
		*ret_text = cJSON_PrintUnformatted(v);
	cJSON_Delete(s);
	cJSON_Delete(v);
	return r;
}

/* Valid, and the value becomes want (after coercion). */
#define OK_AS(schema, value, want)                                                                 \
	do {                                                                                       \
		char *t_ = NULL;                                                                   \
		int r_ = run(schema, value, &t_);                                                  \
		CHECK_MSG(r_ == 0, "%s against %s: %d (%s)", value, schema, r_, err);              \
		CHECK_STR(t_, want);                                                               \
		free(t_);                                                                          \
	} while (0)

#define OK(schema, value) OK_AS(schema, value, value)

/* Invalid with a message containing needle. */
#define BAD(schema, value, needle)                                                                 \
	do {                                                                                       \
		int r_ = run(schema, value, NULL);                                                 \
		CHECK_MSG(r_ == -EINVAL, "%s against %s should fail, got %d", value, schema, r_);  \
		CHECK_HAS(err, needle);                                                            \
	} while (0)

#define PID "{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\",\"minimum\":1}}}"

static void test_types(void)
{
	UNIT_CASE("types");
	OK("{\"type\":\"object\"}", "{}");
	OK("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}}}", "{\"s\":\"x\"}");
	BAD("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}}}", "{\"s\":5}",
	    "argument 's': expected string, got number 5");
	BAD("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\"}}}", "{\"a\":{}}",
	    "argument 'a': expected array, got object");
	BAD("{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\"}}}", "{\"o\":[]}",
	    "argument 'o': expected object");
	BAD("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"null\"}}}", "{\"n\":0}",
	    "argument 'n': expected null");
	OK("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"null\"}}}", "{\"n\":null}");
	BAD("{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"boolean\"}}}", "{\"b\":1}",
	    "argument 'b': expected boolean");
	OK("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"}}}", "{\"x\":1.5}");
	BAD(PID, "{\"pid\":1.5}", "argument 'pid': expected integer");
	BAD(PID, "{\"pid\":9007199254740992}", "argument 'pid': expected integer");
	/* 2^53-1 is the largest integer accepted (checked on the value: how
	 * cJSON prints it is the transport's business) */
	{
		cJSON *sc = cJSON_Parse(PID), *v = cJSON_Parse("{\"pid\":9007199254740991}");

		CHECK_INT(schema_validate(sc, v, err, sizeof(err)), 0);
		CHECK(cJSON_GetObjectItem(v, "pid")->valuedouble == 9007199254740991.0);
		cJSON_Delete(sc);
		cJSON_Delete(v);
	}
	BAD("{\"type\":\"object\"}", "[]", "arguments: expected object, got array");
	/* a list of types */
	OK("{\"type\":\"object\",\"properties\":{\"v\":{\"type\":[\"integer\",\"null\"]}}}",
	   "{\"v\":null}");
	OK("{\"type\":\"object\",\"properties\":{\"v\":{\"type\":[\"integer\",\"null\"]}}}",
	   "{\"v\":3}");
	BAD("{\"type\":\"object\",\"properties\":{\"v\":{\"type\":[\"integer\",\"null\"]}}}",
	    "{\"v\":\"x\"}", "argument 'v': expected one of the listed types");
	/* a property without a type accepts anything */
	OK("{\"type\":\"object\",\"properties\":{\"any\":{}}}", "{\"any\":[1,{\"a\":null}]}");
}

static void test_coercion(void)
{
	UNIT_CASE("numeric strings");
	OK_AS(PID, "{\"pid\":\"1234\"}", "{\"pid\":1234}");
	OK_AS(PID, "{\"pid\":\" 1234 \"}", "{\"pid\":1234}");
	OK_AS(PID, "{\"pid\":\"1e3\"}", "{\"pid\":1000}");
	OK_AS("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"}}}",
	      "{\"x\":\"-2.5\"}", "{\"x\":-2.5}");
	BAD(PID, "{\"pid\":\"abc\"}", "argument 'pid': expected integer, got string \"abc\"");
	BAD(PID, "{\"pid\":\"12abc\"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"\"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"   \"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"0x10\"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"inf\"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"nan\"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"1e999\"}", "argument 'pid'");
	BAD(PID, "{\"pid\":\"12.5\"}", "argument 'pid': expected integer");
	BAD(PID, "{\"pid\":\"1 2\"}", "argument 'pid'");
	/* bounds apply to the converted value */
	BAD(PID, "{\"pid\":\"0\"}", "argument 'pid': must be >= 1");
	/* a string stays a string where a string is allowed */
	OK("{\"type\":\"object\",\"properties\":{\"v\":{\"type\":[\"string\",\"integer\"]}}}",
	   "{\"v\":\"12\"}");

	UNIT_CASE("boolean strings");
	OK_AS("{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"boolean\"}}}",
	      "{\"b\":\"true\"}", "{\"b\":true}");
	OK_AS("{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"boolean\"}}}",
	      "{\"b\":\"false\"}", "{\"b\":false}");
	BAD("{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"boolean\"}}}", "{\"b\":\"yes\"}",
	    "argument 'b': expected boolean");
}

static void test_enum_bounds(void)
{
	static const char mode[] = "{\"type\":\"object\",\"properties\":{\"mode\":{\"type\":\"string\","
				   "\"enum\":[\"fast\",\"slow\"]}}}";
	static const char lvl[] = "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"integer\","
				  "\"enum\":[1,2,3]}}}";
	static const char rng[] = "{\"type\":\"object\",\"properties\":{"
				  "\"a\":{\"type\":\"number\",\"minimum\":0,\"maximum\":10},"
				  "\"b\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":1},"
				  "\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
				  "\"l\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":2}}}";

	UNIT_CASE("enum");
	OK(mode, "{\"mode\":\"fast\"}");
	BAD(mode, "{\"mode\":\"medium\"}",
	    "argument 'mode': must be one of [\"fast\",\"slow\"], got string \"medium\"");
	BAD(mode, "{\"mode\":\"FAST\"}", "argument 'mode': must be one of");
	OK_AS(lvl, "{\"l\":\"2\"}", "{\"l\":2}");
	BAD(lvl, "{\"l\":4}", "argument 'l': must be one of [1,2,3]");

	UNIT_CASE("bounds");
	OK(rng, "{\"a\":0,\"b\":0.5,\"s\":\"ab\",\"l\":[1]}");
	OK(rng, "{\"a\":10,\"s\":\"abc\",\"l\":[1,2]}");
	BAD(rng, "{\"a\":-0.5}", "argument 'a': must be >= 0");
	BAD(rng, "{\"a\":10.5}", "argument 'a': must be <= 10");
	BAD(rng, "{\"a\":\"11\"}", "argument 'a': must be <= 10");
	BAD(rng, "{\"b\":0}", "argument 'b': must be > 0");
	BAD(rng, "{\"b\":1}", "argument 'b': must be < 1");
	BAD(rng, "{\"s\":\"a\"}", "argument 's': shorter than 2 characters");
	BAD(rng, "{\"s\":\"abcd\"}", "argument 's': longer than 3 characters");
	/* characters, not bytes: three two-byte characters */
	OK(rng, "{\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}");
	BAD(rng, "{\"l\":[]}", "argument 'l': fewer than 1 items");
	BAD(rng, "{\"l\":[1,2,3]}", "argument 'l': more than 2 items");
}

static void test_objects(void)
{
	static const char strict[] =
		"{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\"},"
		"\"comm\":{\"type\":\"string\"}},\"required\":[\"pid\"],\"additionalProperties\":false}";
	static const char nested[] =
		"{\"type\":\"object\",\"properties\":{"
		"\"filter\":{\"type\":\"object\",\"properties\":{"
		"\"cpu\":{\"type\":\"integer\",\"minimum\":0},"
		"\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
		"\"required\":[\"cpu\"],\"additionalProperties\":false}},"
		"\"additionalProperties\":false}";
	static const char typed_extra[] =
		"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}";

	UNIT_CASE("required and additionalProperties");
	OK(strict, "{\"pid\":1}");
	OK(strict, "{\"pid\":1,\"comm\":\"bash\"}");
	BAD(strict, "{}", "argument 'pid': required");
	BAD(strict, "{\"comm\":\"bash\"}", "argument 'pid': required");
	BAD(strict, "{\"pid\":1,\"colour\":\"red\"}",
	    "argument 'colour': unknown argument (accepted: pid, comm)");
	/* without additionalProperties:false, extra keys pass */
	OK(PID, "{\"pid\":1,\"extra\":true}");
	OK_AS(typed_extra, "{\"a\":\"5\"}", "{\"a\":5}");
	BAD(typed_extra, "{\"a\":\"x\"}", "argument 'a': expected integer");

	UNIT_CASE("nested");
	OK(nested, "{\"filter\":{\"cpu\":3,\"tags\":[\"a\",\"b\"]}}");
	OK_AS(nested, "{\"filter\":{\"cpu\":\"3\"}}", "{\"filter\":{\"cpu\":3}}");
	BAD(nested, "{\"filter\":{\"cpu\":\"x\"}}", "argument 'filter.cpu': expected integer");
	BAD(nested, "{\"filter\":{\"cpu\":-1}}", "argument 'filter.cpu': must be >= 0");
	BAD(nested, "{\"filter\":{}}", "argument 'filter.cpu': required");
	BAD(nested, "{\"filter\":{\"cpu\":1,\"x\":1}}", "argument 'filter.x': unknown argument");
	BAD(nested, "{\"filter\":{\"cpu\":1,\"tags\":[\"a\",2]}}",
	    "argument 'filter.tags[1]': expected string");
	BAD(nested, "{\"filter\":5}", "argument 'filter': expected object");
}

static void test_depth(void)
{
	/* A schema and a value nested deeper than the validator walks must
	 * fail cleanly, not recurse without bound. */
	char schema[4096] = "", value[2048] = "";
	size_t sl = 0, vl = 0;
	int depth = 40;

	UNIT_CASE("depth");
	for (int i = 0; i < depth; i++) {
		sl += (size_t)snprintf(schema + sl, sizeof(schema) - sl,
				       "{\"type\":\"object\",\"properties\":{\"a\":");
		vl += (size_t)snprintf(value + vl, sizeof(value) - vl, "{\"a\":");
	}
	sl += (size_t)snprintf(schema + sl, sizeof(schema) - sl, "{\"type\":\"integer\"}");
	vl += (size_t)snprintf(value + vl, sizeof(value) - vl, "1");
	for (int i = 0; i < depth; i++) {
		sl += (size_t)snprintf(schema + sl, sizeof(schema) - sl, "}}");
		vl += (size_t)snprintf(value + vl, sizeof(value) - vl, "}");
	}
	{
		cJSON *s = cJSON_Parse(schema);

		CHECK(s != NULL);
		CHECK_INT(schema_check(s, true), -EINVAL);
		cJSON_Delete(s);
	}
	BAD(schema, value, "nested too deeply");
}

static void test_check(void)
{
	static const struct {
		const char *schema;
		bool top;
		int want;
	} cases[] = {
		{ "{\"type\":\"object\"}", true, 0 },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}", true, 0 },
		{ "{\"type\":\"string\"}", true, -EINVAL },
		{ "{\"type\":\"string\"}", false, 0 },
		{ "{}", true, -EINVAL },
		{ "{\"type\":[\"object\",\"null\"]}", true, -EINVAL },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"int\"}}}", true, -EINVAL },
		{ "{\"type\":\"object\",\"properties\":[]}", true, -EINVAL },
		{ "{\"type\":\"object\",\"properties\":{\"a\":5}}", true, -EINVAL },
		{ "{\"type\":\"object\",\"required\":\"a\"}", true, -EINVAL },
		{ "{\"type\":\"object\",\"required\":[1]}", true, -EINVAL },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"x\"}}}}", true, -EINVAL },
		{ "{\"type\":5}", false, -EINVAL },
		{ "[]", false, -EINVAL },
	};

	UNIT_CASE("schema_check");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *s = cJSON_Parse(cases[i].schema);

		CHECK_MSG(s && schema_check(s, cases[i].top) == cases[i].want, "%s (top=%d)",
			  cases[i].schema, cases[i].top);
		cJSON_Delete(s);
	}
}

static void test_err_buffer(void)
{
	cJSON *s = cJSON_Parse(PID), *v = cJSON_Parse("{\"pid\":\"a-very-long-invalid-value-that-will-not-fit\"}");
	char small[16];

	UNIT_CASE("message truncated to the buffer");
	memset(small, 'Z', sizeof(small));
	CHECK_INT(schema_validate(s, v, small, sizeof(small)), -EINVAL);
	CHECK(memchr(small, '\0', sizeof(small)) != NULL);
	cJSON_Delete(s);
	cJSON_Delete(v);
}

int main(void)
{
	test_types();
	test_coercion();
	test_enum_bounds();
	test_objects();
	test_depth();
	test_check();
	test_err_buffer();
	return unit_done("test-schema");
}
