/* SPDX-License-Identifier: MIT */
/* The registry (core/registry.c): descriptor checks, copies, duplicates,
 * removal by owner and URI template matching. */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "registry.h"
#include "unit.h"

static struct smcp_host owner_a = { .name = "a" }, owner_b = { .name = "b" };

static int dummy_read(void *data, struct smcp_call *call, const char *uri,
		      const struct smcp_args *vars, struct smcp_result *res)
{
	return 0;
}

static int dummy_tool(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	return 0;
}

static int dummy_prompt(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	return 0;
}

static int add_res(struct smcp_host *o, const char *uri, bool tpl)
{
	struct smcp_resource_desc d = {
		.sz = sizeof(d), .uri = uri, .name = "r", .read = dummy_read,
	};

	return registry_add_resource(o, &d, tpl);
}

static int add_tool(struct smcp_host *o, const char *name, const char *schema)
{
	struct smcp_tool_desc d = {
		.sz = sizeof(d), .name = name, .description = "d", .input_schema = schema,
		.call = dummy_tool,
	};

	return registry_add_tool(o, &d);
}

static int add_prompt(struct smcp_host *o, const char *name)
{
	static const struct smcp_prompt_arg args[] = { { sizeof(struct smcp_prompt_arg),
	  "pid", "a pid", true, SMCP_ARG_INT } };
	struct smcp_prompt_desc d = {
		.sz = sizeof(d), .name = name, .args = args, .n_args = 1, .get = dummy_prompt,
	};

	return registry_add_prompt(o, &d);
}

/* The variable name of a match, or NULL. */
static char *match_var(const char *uri, const char *var, const char **ret_tpl)
{
	cJSON *vars = NULL;
	struct reg_resource *r = registry_match_template(uri, &vars);
	const cJSON *v;
	char *out = NULL;

	if (ret_tpl)
		*ret_tpl = r ? r->uri : NULL;
	if (!r)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(vars, var);
	if (cJSON_IsString(v))
		out = strdup(v->valuestring);
	cJSON_Delete(vars);
	return out;
}

#define CHECK_MATCH(uri, var, want)                                                                \
	do {                                                                                       \
		char *m_ = match_var(uri, var, NULL);                                              \
		CHECK_MSG(m_ && strcmp(m_, want) == 0, "%s: {%s} = %s, expected %s", uri, var,     \
			  m_ ? m_ : "(no match)", want);                                           \
		free(m_);                                                                          \
	} while (0)

#define CHECK_NO_MATCH(uri)                                                                        \
	do {                                                                                       \
		const char *t_;                                                                    \
		char *m_ = match_var(uri, "x", &t_);                                               \
		CHECK_MSG(t_ == NULL, "%s should not match, matched %s", uri, t_);                 \
		free(m_);                                                                          \
	} while (0)

static void test_templates(void)
{
	UNIT_CASE("template matching");
	CHECK_INT(add_res(&owner_a, "proc://pid/{pid}/status", true), 0);
	CHECK_INT(add_res(&owner_a, "files://{+path}", true), 0);
	CHECK_INT(add_res(&owner_a, "cpu://{cpu}.json", true), 0);
	CHECK_INT(add_res(&owner_a, "pair://{first}/{second}", true), 0);
	CHECK_INT(add_res(&owner_a, "plain://exact", false), 0);

	CHECK_MATCH("proc://pid/42/status", "pid", "42");
	CHECK_MATCH("proc://pid/4%32/status", "pid", "42");
	CHECK_MATCH("proc://pid/a%20b/status", "pid", "a b");
	CHECK_MATCH("proc://pid/%c3%A9/status", "pid", "\xc3\xa9");
	CHECK_MATCH("proc://pid/a%2Fb/status", "pid", "a/b"); /* an escaped slash is data */
	CHECK_NO_MATCH("proc://pid//status");                 /* empty variable */
	CHECK_NO_MATCH("proc://pid/42/status/more");
	CHECK_NO_MATCH("proc://pid/42");
	CHECK_NO_MATCH("proc://pid/4/2/status");              /* {var} never spans '/' */
	CHECK_NO_MATCH("proc://pid/%zz/status");              /* bad escape */
	CHECK_NO_MATCH("proc://pid/%4/status");               /* short escape */
	CHECK_NO_MATCH("proc://pid/4%/status");
	CHECK_NO_MATCH("proc://pid/a%00b/status");            /* NUL never decodes */
	CHECK_NO_MATCH("PROC://pid/42/status");               /* literals are exact */

	CHECK_MATCH("files://etc/schedmcp/x.conf", "path", "etc/schedmcp/x.conf");
	CHECK_MATCH("files://a%2Bb/c", "path", "a+b/c");
	CHECK_NO_MATCH("files://");

	CHECK_MATCH("cpu://12.json", "cpu", "12");
	CHECK_NO_MATCH("cpu://.json");
	CHECK_NO_MATCH("cpu://12.txt");

	CHECK_MATCH("pair://x/y", "first", "x");
	CHECK_MATCH("pair://x/y", "second", "y");
	CHECK_NO_MATCH("pair://x/");

	/* plain resources are found exactly and never through templates */
	CHECK(registry_find_resource("plain://exact") != NULL);
	CHECK(registry_find_resource("proc://pid/{pid}/status") == NULL);
	CHECK_NO_MATCH("plain://exact");
	CHECK(registry_find_template("proc://pid/{pid}/status") != NULL);
	CHECK(registry_find_template("plain://exact") == NULL);

	{
		cJSON *v = registry_template_vars("pair://{first}/{+second}/x");
		char *t = cJSON_PrintUnformatted(v);

		CHECK_STR(t, "[\"first\",\"second\"]");
		free(t);
		cJSON_Delete(v);
	}
	registry_free();
}

static void test_template_syntax(void)
{
	static const char *const bad[] = {
		"x://{}",        "x://{a",     "x://a}",    "x://{a{b}}", "x://{a-b}",
		"x://{a b}",     "x://{+}",    "x://{a+}",  "x://nothing",
	};

	UNIT_CASE("template syntax");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(add_res(&owner_a, bad[i], true) == -EINVAL, "template %s accepted", bad[i]);
	/* a template is not a plain URI and vice versa */
	CHECK_INT(add_res(&owner_a, "x://{a}", false), -EINVAL);
	CHECK_INT(add_res(&owner_a, "x://{a}", true), 0);
	CHECK_INT(add_res(&owner_a, "x://{a}", true), -EEXIST);
	registry_free();
}

static void test_descriptors(void)
{
	struct smcp_resource_desc rd = { .sz = sizeof(rd), .uri = "a://b", .name = "n", .read = dummy_read };
	struct smcp_tool_desc td = { .sz = sizeof(td), .name = "t", .description = "d", .call = dummy_tool };
	struct smcp_prompt_desc pd = { .sz = sizeof(pd), .name = "p", .get = dummy_prompt };
	char long_name[130];

	UNIT_CASE("resource descriptors");
	rd.sz = offsetof(struct smcp_resource_desc, data); /* one member short */
	CHECK_INT(registry_add_resource(&owner_a, &rd, false), -EINVAL);
	rd.sz = sizeof(rd);
	rd.read = NULL;
	CHECK_INT(registry_add_resource(&owner_a, &rd, false), -EINVAL);
	rd.read = dummy_read;
	rd.name = NULL;
	CHECK_INT(registry_add_resource(&owner_a, &rd, false), -EINVAL);
	rd.name = "n";
	rd.uri = "no-scheme";
	CHECK_INT(registry_add_resource(&owner_a, &rd, false), -EINVAL);
	rd.uri = "";
	CHECK_INT(registry_add_resource(&owner_a, &rd, false), -EINVAL);
	rd.uri = NULL;
	CHECK_INT(registry_add_resource(&owner_a, &rd, false), -EINVAL);
	CHECK_INT(registry_add_resource(&owner_a, NULL, false), -EINVAL);
	CHECK_INT(registry.n_resources, 0);

	UNIT_CASE("tool descriptors");
	td.sz = offsetof(struct smcp_tool_desc, data);
	CHECK_INT(registry_add_tool(&owner_a, &td), -EINVAL);
	td.sz = sizeof(td);
	td.description = NULL;
	CHECK_INT(registry_add_tool(&owner_a, &td), -EINVAL);
	td.description = "d";
	td.name = "has space";
	CHECK_INT(registry_add_tool(&owner_a, &td), -EINVAL);
	td.name = "";
	CHECK_INT(registry_add_tool(&owner_a, &td), -EINVAL);
	memset(long_name, 'x', 129);
	long_name[129] = '\0';
	td.name = long_name;
	CHECK_INT(registry_add_tool(&owner_a, &td), -EINVAL);
	long_name[128] = '\0';
	CHECK_INT(registry_add_tool(&owner_a, &td), 0);
	td.name = "Ok.name-1_x";
	CHECK_INT(registry_add_tool(&owner_a, &td), 0);
	CHECK_INT(add_tool(&owner_a, "bad_schema", "{\"type\":"), -EINVAL);
	CHECK_INT(add_tool(&owner_a, "string_schema", "{\"type\":\"string\"}"), -EINVAL);
	CHECK_INT(add_tool(&owner_a, "bad_type", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"int\"}}}"), -EINVAL);
	td.name = "bad_output";
	td.output_schema = "[]";
	CHECK_INT(registry_add_tool(&owner_a, &td), -EINVAL);
	td.output_schema = NULL;
	CHECK_INT(registry.n_tools, 2);
	/* no input schema: an empty object schema */
	CHECK(registry_find_tool("Ok.name-1_x") && registry_find_tool("Ok.name-1_x")->input_schema);

	UNIT_CASE("prompt descriptors");
	pd.n_args = 1;
	pd.args = NULL;
	CHECK_INT(registry_add_prompt(&owner_a, &pd), -EINVAL);
	{
		struct smcp_prompt_arg many[65] = { { 0 } };

		for (size_t i = 0; i < 65; i++)
			many[i].name = "a";
		pd.args = many;
		pd.n_args = 65;
		CHECK_INT(registry_add_prompt(&owner_a, &pd), -EINVAL);
		pd.n_args = 2;
		many[1].name = NULL;
		CHECK_INT(registry_add_prompt(&owner_a, &pd), -EINVAL);
	}
	pd.args = NULL;
	pd.n_args = 0;
	pd.get = NULL;
	CHECK_INT(registry_add_prompt(&owner_a, &pd), -EINVAL);
	pd.get = dummy_prompt;
	pd.sz = offsetof(struct smcp_prompt_desc, data);
	CHECK_INT(registry_add_prompt(&owner_a, &pd), -EINVAL);
	pd.sz = sizeof(pd);
	CHECK_INT(registry_add_prompt(&owner_a, &pd), 0);
	CHECK_INT(registry.n_prompts, 1);
	registry_free();
}

/* A newer plugin's descriptor with members this host does not know. */
struct bigger_tool_desc {
	struct smcp_tool_desc d;
	uint64_t later[4];
};

static void test_copies(void)
{
	char uri[] = "copy://original", name[] = "copied_tool", desc[] = "what it does";
	struct smcp_tool_desc td = { .sz = sizeof(td), .name = name, .description = desc,
				     .call = dummy_tool };
	struct bigger_tool_desc big = { .d = { .sz = sizeof(big), .name = "bigger", .description = "d",
					       .call = dummy_tool } };
	struct reg_tool *t;

	UNIT_CASE("descriptors are copied");
	CHECK_INT(add_res(&owner_a, uri, false), 0);
	CHECK_INT(registry_add_tool(&owner_a, &td), 0);
	memset(uri, 'Z', sizeof(uri) - 1);
	memset(name, 'Z', sizeof(name) - 1);
	memset(desc, 'Z', sizeof(desc) - 1);
	CHECK(registry_find_resource("copy://original") != NULL);
	t = registry_find_tool("copied_tool");
	CHECK(t != NULL);
	if (t)
		CHECK_STR(t->description, "what it does");

	UNIT_CASE("a larger (newer) descriptor is accepted");
	CHECK_INT(registry_add_tool(&owner_a, &big.d), 0);
	registry_free();
}

static void test_duplicates_and_owners(void)
{
	unsigned gen;

	UNIT_CASE("duplicates");
	CHECK_INT(add_res(&owner_a, "dup://r", false), 0);
	CHECK_INT(add_res(&owner_a, "dup://r", false), -EEXIST);
	CHECK_INT(add_res(&owner_b, "dup://r", false), -EEXIST);
	CHECK_INT(add_res(&owner_b, "dup://{t}", true), 0);
	CHECK_INT(add_res(&owner_a, "dup://{t}", true), -EEXIST);
	CHECK_INT(add_tool(&owner_a, "dup_tool", NULL), 0);
	CHECK_INT(add_tool(&owner_b, "dup_tool", NULL), -EEXIST);
	CHECK_INT(add_tool(&owner_a, "dup_tool", "{\"type\":\"object\"}"), -EEXIST);
	CHECK_INT(add_prompt(&owner_a, "dup_prompt"), 0);
	CHECK_INT(add_prompt(&owner_b, "dup_prompt"), -EEXIST);
	/* a tool and a prompt may share a name: different namespaces */
	CHECK_INT(add_prompt(&owner_b, "dup_tool"), 0);
	CHECK_INT(registry.n_resources, 2);
	CHECK_INT(registry.n_tools, 1);
	CHECK_INT(registry.n_prompts, 2);

	UNIT_CASE("remove by owner");
	CHECK_INT(add_res(&owner_b, "b://1", false), 0);
	CHECK_INT(add_res(&owner_a, "a://2", false), 0);
	CHECK_INT(add_res(&owner_b, "b://3", false), 0);
	CHECK_INT(add_tool(&owner_b, "b_tool", NULL), 0);
	CHECK_INT(add_tool(&owner_a, "a_tool", NULL), 0);
	gen = registry.generation;
	registry_remove_owner(&owner_a);
	CHECK(registry.generation != gen);
	CHECK(registry_find_resource("dup://r") == NULL);
	CHECK(registry_find_resource("a://2") == NULL);
	CHECK(registry_find_tool("dup_tool") == NULL);
	CHECK(registry_find_tool("a_tool") == NULL);
	CHECK(registry_find_prompt("dup_prompt") == NULL);
	CHECK_INT(registry.n_resources, 3);
	CHECK_INT(registry.n_tools, 1);
	CHECK_INT(registry.n_prompts, 1);
	/* what is left keeps its registration order */
	if (registry.n_resources == 3) {
		CHECK_STR(registry.resources[0]->uri, "dup://{t}");
		CHECK_STR(registry.resources[1]->uri, "b://1");
		CHECK_STR(registry.resources[2]->uri, "b://3");
	}
	/* the name is free again */
	CHECK_INT(add_tool(&owner_b, "dup_tool", NULL), 0);
	CHECK_INT(add_res(&owner_b, "dup://r", false), 0);
	gen = registry.generation;
	registry_remove_owner(&owner_a); /* nothing left: no change */
	CHECK_INT(registry.generation, gen);
	registry_remove_owner(&owner_b);
	CHECK_INT(registry.n_resources, 0);
	CHECK_INT(registry.n_tools, 0);
	CHECK_INT(registry.n_prompts, 0);
	registry_free();
}

int main(void)
{
	log_set_stderr_level(SMCP_LOG_EMERGENCY); /* expected refusals are logged */
	test_templates();
	test_template_syntax();
	test_descriptors();
	test_copies();
	test_duplicates_and_owners();
	return unit_done("test-registry");
}
