/* SPDX-License-Identifier: MIT */
/*
 * A mock host for plugin tests: loads one plugin .so, implements the host
 * API over cJSON (mockhost_api.c), and runs commands read from stdin, one
 * per line, printing one JSON line per command (plus {"notify": URI} and
 * {"event": TYPE, ...} lines when the plugin notifies or publishes). Time
 * is a fake clock that moves only on "advance", so timer-driven plugins are
 * tested deterministically against fixture trees the test rewrites.
 *
 *   mockhost PLUGIN.so FS_ROOT
 *   commands: list | status | read URI | call TOOL [ARGS_JSON] | advance MS
 *             | steps [ARGS_JSON] | complete ARG [PREFIX]
 *
 * steps lists the plugin's prompt steps, each render called with ARGS_JSON
 * as a prompt's arguments ("text" is what it wrote, "rc" what it returned);
 * complete runs its completers of a prompt argument.
 *
 * Metrics (mockhost_metrics.c) are kept as the core keeps them, one step a
 * fake second, so windows read from them are exact.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

static void emit(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	printf("%s\n", s);
	fflush(stdout);
	free(s);
	cJSON_Delete(o);
}

static cJSON *result_to_json(struct smcp_result *r, int rc)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "rc", rc);
	cJSON_AddBoolToObject(o, "isError", r->is_error);
	cJSON_AddItemToObject(o, "content", r->content);
	if (r->root) {
		if (r->json.err || r->json.depth != 0) {
			cJSON_AddNumberToObject(o, "writer_error", r->json.err ? r->json.err : -1);
			cJSON_Delete(r->root);
		} else {
			cJSON_AddItemToObject(o, "json", r->root);
		}
	}
	return o;
}

static void cmd_list(void)
{
	cJSON *o = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(o, "resources"),
	      *tl = cJSON_AddArrayToObject(o, "tools");

	for (int i = 0; i < n_resources; i++)
		cJSON_AddItemToArray(res, cJSON_Parse(resources[i].desc_json));
	for (int i = 0; i < n_tools; i++)
		cJSON_AddItemToArray(tl, cJSON_Parse(tools[i].desc_json));
	emit(o);
}

static void cmd_read(const char *uri)
{
	struct smcp_result r = { .content = cJSON_CreateArray() };

	for (int i = 0; i < n_resources; i++) {
		if (strcmp(resources[i].key, uri) != 0)
			continue;
		emit(result_to_json(&r, resources[i].read(resources[i].data, NULL, uri, NULL, &r)));
		return;
	}
	cJSON_Delete(r.content);
	emit(cJSON_Parse("{\"rc\":-2,\"error\":\"resource not found\"}"));
}

static void cmd_call(const char *name, const char *args_json)
{
	struct smcp_result r = { .content = cJSON_CreateArray() };
	struct smcp_args args = { .obj = cJSON_Parse(args_json && *args_json ? args_json : "{}") };

	if (!args.obj) {
		cJSON_Delete(r.content);
		emit(cJSON_Parse("{\"rc\":-22,\"error\":\"arguments are not JSON\"}"));
		return;
	}
	for (int i = 0; i < n_tools; i++) {
		if (strcmp(tools[i].key, name) != 0)
			continue;
		emit(result_to_json(&r, tools[i].call(tools[i].data, NULL, &args, &r)));
		cJSON_Delete(args.obj);
		return;
	}
	cJSON_Delete(args.obj);
	cJSON_Delete(r.content);
	emit(cJSON_Parse("{\"rc\":-2,\"error\":\"unknown tool\"}"));
}

static void cmd_steps(const char *args_json)
{
	struct smcp_args args = { .obj = cJSON_Parse(args_json && *args_json ? args_json : "{}") };
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "steps");

	for (int i = 0; i < n_steps; i++) {
		cJSON *s = cJSON_CreateObject();
		char buf[SMCP_STEP_TEXT_MAX];

		cJSON_AddStringToObject(s, "topic", steps[i].topic);
		cJSON_AddNumberToObject(s, "order", steps[i].order);
		if (steps[i].needs)
			cJSON_AddStringToObject(s, "needs", steps[i].needs);
		if (steps[i].missing)
			cJSON_AddStringToObject(s, "missing", steps[i].missing);
		if (steps[i].render) {
			int rc;

			buf[0] = '\0';
			rc = steps[i].render(steps[i].data, &args, buf, sizeof(buf));
			cJSON_AddNumberToObject(s, "rc", rc);
			if (rc > 0 && (size_t)rc < sizeof(buf))
				cJSON_AddStringToObject(s, "text", buf);
		} else {
			cJSON_AddStringToObject(s, "text", steps[i].text);
		}
		cJSON_AddItemToArray(arr, s);
	}
	cJSON_Delete(args.obj);
	emit(o);
}

static void cmd_complete(char *arg)
{
	struct smcp_completion c = { .values = cJSON_CreateArray() };
	char *prefix = strchr(arg, ' ');
	cJSON *o = cJSON_CreateObject();

	if (prefix)
		*prefix++ = '\0';
	for (int i = 0; i < n_completers; i++)
		if (strcmp(completers[i].arg, arg) == 0)
			(void)completers[i].complete(completers[i].data, arg, prefix ? prefix : "",
						     NULL, &c);
	cJSON_AddItemToObject(o, "values", c.values);
	cJSON_AddNumberToObject(o, "total", c.total);
	emit(o);
}

/* Move the fake clock forward, firing due timers in time order. */
static void cmd_advance(uint64_t ms)
{
	uint64_t end = host.now_ns + ms * 1000000ull;
	int fired = 0;
	cJSON *o;

	for (;;) {
		struct timer *next = NULL;

		for (int i = 0; i < MAX_TIMERS; i++)
			if (timers[i].id && timers[i].due_ns <= end &&
			    (!next || timers[i].due_ns < next->due_ns))
				next = &timers[i];
		if (!next)
			break;
		host.now_ns = next->due_ns;
		if (next->repeat)
			next->due_ns += next->interval_ns;
		else
			next->id = 0;
		next->cb(next->data);
		fired++;
	}
	host.now_ns = end;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "now_ms", (double)(host.now_ns / 1000000ull));
	cJSON_AddNumberToObject(o, "fired", fired);
	emit(o);
}

static void cmd_status(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "degraded", host.degraded);
	cJSON_AddStringToObject(o, "reason", host.reason);
	cJSON_AddNumberToObject(o, "window_reads", (double)mock_window_reads);
	emit(o);
}

int main(int argc, char **argv)
{
	const struct smcp_plugin_info *info;
	smcp_plugin_entry_fn entry;
	char line[65536];
	void *dl;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: mockhost PLUGIN.so FS_ROOT\n");
		return 2;
	}
	dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "mockhost: %s\n", dlerror());
		return 1;
	}
	entry = (smcp_plugin_entry_fn)dlsym(dl, SMCP_PLUGIN_ENTRY_NAME);
	if (!entry) {
		fprintf(stderr, "mockhost: no entry symbol\n");
		return 1;
	}
	info = entry();
	if (info->abi_major != SMCP_ABI_MAJOR || info->abi_minor > SMCP_ABI_MINOR) {
		fprintf(stderr, "mockhost: ABI %u.%u refused\n", info->abi_major, info->abi_minor);
		return 1;
	}
	host.fs_root = argv[2];
	host.now_ns = 1000000000ull; /* 1 s: never zero, like CLOCK_MONOTONIC */
	host.in_init = true;
	err = info->init(&host, &mock_api);
	host.in_init = false;
	{
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "plugin", info->name);
		cJSON_AddNumberToObject(o, "init", err);
		emit(o);
	}
	while (err == 0 && fgets(line, sizeof(line), stdin)) {
		char *nl = strchr(line, '\n'), *arg;

		if (nl)
			*nl = '\0';
		arg = strchr(line, ' ');
		if (arg)
			*arg++ = '\0';
		if (strcmp(line, "list") == 0) {
			cmd_list();
		} else if (strcmp(line, "status") == 0) {
			cmd_status();
		} else if (strcmp(line, "read") == 0 && arg) {
			cmd_read(arg);
		} else if (strcmp(line, "call") == 0 && arg) {
			char *args_json = strchr(arg, ' ');

			if (args_json)
				*args_json++ = '\0';
			cmd_call(arg, args_json);
		} else if (strcmp(line, "advance") == 0 && arg) {
			cmd_advance(strtoull(arg, NULL, 10));
		} else if (strcmp(line, "steps") == 0) {
			cmd_steps(arg);
		} else if (strcmp(line, "complete") == 0 && arg) {
			cmd_complete(arg);
		} else {
			emit(cJSON_Parse("{\"rc\":-22,\"error\":\"unknown command\"}"));
		}
	}
	if (info->fini)
		info->fini(&host);
	mock_metrics_free();
	for (int i = 0; i < n_resources; i++) {
		free(resources[i].key);
		free(resources[i].desc_json);
	}
	for (int i = 0; i < n_tools; i++) {
		free(tools[i].key);
		free(tools[i].desc_json);
	}
	for (int i = 0; i < n_steps; i++) {
		free(steps[i].topic);
		free(steps[i].text);
		free(steps[i].needs);
		free(steps[i].missing);
	}
	for (int i = 0; i < n_completers; i++)
		free(completers[i].arg);
	dlclose(dl);
	return err ? 1 : 0;
}
