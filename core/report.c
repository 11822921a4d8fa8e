/* SPDX-License-Identifier: MIT */
/*
 * `schedmcp report`: the registry read in-process and printed for a person
 * (or as JSON with --json). Every resource a plugin flags
 * SMCP_RESOURCE_REPORT is read the same way an MCP client would read it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "privs.h"
#include "registry.h"
#include "result.h"

#define MAX_ROWS 24
#define MAX_INLINE 12
#define READ_TIMEOUT_MS 10000

struct report_call {
	struct smcp_call call;
	bool done;
	int err;
};

static void rc_complete(struct smcp_call *c, int err)
{
	struct report_call *rc = c->ctx;

	rc->done = true;
	rc->err = err;
	loop_break();
}

static const struct call_ops report_ops = { .complete = rc_complete };

static void stop_waiting(void *data)
{
	*(bool *)data = true;
	loop_break();
}

/* Wait for a call a handler kept (SMCP_PENDING), up to timeout_ms; 0 or
 * -ETIMEDOUT (the call is then cancelled). */
static int wait_call(struct report_call *rc, uint64_t timeout_ms)
{
	bool expired = false;
	int t = loop_timer_add(timeout_ms, false, stop_waiting, &expired, rc);

	rc->call.pending = true;
	while (!rc->done && !expired && !loop_quitting())
		(void)loop_run();
	if (t > 0)
		(void)loop_timer_remove(t);
	if (rc->done)
		return 0;
	if (rc->call.cancel_cb)
		rc->call.cancel_cb(rc->call.cancel_data, &rc->call);
	return -ETIMEDOUT;
}

/* Read one resource; returns its JSON body (or text as a string). */
static cJSON *read_resource(struct reg_resource *r, char *err, size_t err_len)
{
	struct report_call rc = { 0 };
	struct smcp_args none = { 0 };
	cJSON *out = NULL;
	int ret;

	rc.call.ops = &report_ops;
	rc.call.ctx = &rc;
	rc.call.owner = r->owner;
	result_init(&rc.call.result, RESULT_READ, r->uri, r->mime_type);
	ret = r->read(r->data, &rc.call, r->uri, &none, &rc.call.result);
	if (ret == SMCP_PENDING) {
		if (wait_call(&rc, READ_TIMEOUT_MS)) {
			snprintf(err, err_len, "no answer within %d s", READ_TIMEOUT_MS / 1000);
			goto out;
		}
		ret = rc.err;
	}
	if (ret < 0 || result_status(&rc.call.result)) {
		snprintf(err, err_len, "%s",
			 rc.call.result.error ? rc.call.result.error
					      : strerror(ret < 0 ? -ret : -result_status(&rc.call.result)));
		goto out;
	}
	out = result_take_json(&rc.call.result);
	if (!out) {
		cJSON *items = result_take_items(&rc.call.result);
		const cJSON *first = cJSON_GetArrayItem(items, 0);
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(first, "text");

		out = cJSON_CreateString(cJSON_IsString(text) ? text->valuestring : "");
		cJSON_Delete(items);
	}
out:
	result_release(&rc.call.result);
	return out;
}

cJSON *report_call_tool(const char *name, const char *args_json, uint64_t timeout_ms, char *err,
			size_t err_len)
{
	struct reg_tool *t = registry_find_tool(name);
	struct report_call rc = { 0 };
	struct smcp_args args = { 0 };
	cJSON *out = NULL;
	uint64_t caps;
	int ret;

	if (!t) {
		snprintf(err, err_len, "no tool %s here", name);
		return NULL;
	}
	args.obj = cJSON_Parse(args_json ? args_json : "{}");
	if (!args.obj) {
		snprintf(err, err_len, "bad arguments for %s", name);
		return NULL;
	}
	rc.call.ops = &report_ops;
	rc.call.ctx = &rc;
	rc.call.owner = t->owner;
	result_init(&rc.call.result, RESULT_TOOL, NULL, NULL);
	caps = privs_enter(t->owner);
	ret = t->call(t->data, &rc.call, &args, &rc.call.result);
	privs_leave(caps);
	if (ret == SMCP_PENDING) {
		if (wait_call(&rc, timeout_ms)) {
			snprintf(err, err_len, "%s: no answer within %llu s", name,
				 (unsigned long long)(timeout_ms / 1000));
			goto out;
		}
		ret = rc.err;
	}
	if (ret < 0 || result_status(&rc.call.result) || rc.call.result.is_error) {
		snprintf(err, err_len, "%s: %s", name,
			 rc.call.result.error ? rc.call.result.error
					      : strerror(ret < 0 ? -ret : -result_status(&rc.call.result)));
		goto out;
	}
	out = result_take_items(&rc.call.result);
out:
	result_release(&rc.call.result);
	cJSON_Delete(args.obj);
	return out;
}

/* ------------------------------------------------------- human rendering */

static void print_scalar(const cJSON *v)
{
	if (cJSON_IsString(v))
		fputs(v->valuestring, stdout);
	else if (cJSON_IsBool(v))
		fputs(cJSON_IsTrue(v) ? "yes" : "no", stdout);
	else if (cJSON_IsNull(v))
		fputs("-", stdout);
	else if (cJSON_IsRaw(v))
		fputs(v->valuestring, stdout);
	else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d == floor(d) && fabs(d) < 1e15)
			printf("%.0f", d);
		else
			printf("%.3g", d);
	}
}

bool report_is_scalar(const cJSON *v)
{
	return !cJSON_IsObject(v) && !cJSON_IsArray(v);
}

bool report_tabular(const cJSON *arr)
{
	const cJSON *row, *m;

	if (!cJSON_GetArraySize(arr))
		return false;
	cJSON_ArrayForEach(row, arr) {
		if (!cJSON_IsObject(row))
			return false;
		cJSON_ArrayForEach(m, row)
			if (!report_is_scalar(m))
				return false;
	}
	return true;
}

static int cell_width(const cJSON *v)
{
	char buf[64];

	if (cJSON_IsString(v) || cJSON_IsRaw(v))
		return (int)strlen(v->valuestring);
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		return d == floor(d) && fabs(d) < 1e15 ? snprintf(buf, sizeof(buf), "%.0f", d)
						       : snprintf(buf, sizeof(buf), "%.3g", d);
	}
	return cJSON_IsBool(v) ? 3 : 1;
}

static void print_table(const cJSON *arr, int indent)
{
	const cJSON *first = cJSON_GetArrayItem(arr, 0), *row, *col;
	int widths[32] = { 0 }, ncol = 0, rows = 0, total = cJSON_GetArraySize(arr);

	cJSON_ArrayForEach(col, first) {
		if (ncol == 32)
			break;
		widths[ncol++] = (int)strlen(col->string);
	}
	cJSON_ArrayForEach(row, arr) {
		int c = 0;

		if (rows++ == MAX_ROWS)
			break;
		cJSON_ArrayForEach(col, first) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, col->string);
			int w = v ? cell_width(v) : 1;

			if (c < 32 && w > widths[c])
				widths[c] = w > 40 ? 40 : w;
			c++;
		}
	}
	printf("%*s", indent, "");
	ncol = 0;
	cJSON_ArrayForEach(col, first)
		if (ncol < 32)
			printf("%-*s  ", widths[ncol++], col->string);
	printf("\n");
	rows = 0;
	cJSON_ArrayForEach(row, arr) {
		int c = 0;

		if (rows++ == MAX_ROWS) {
			printf("%*s... %d more rows (use --json for all)\n", indent, "", total - MAX_ROWS);
			break;
		}
		printf("%*s", indent, "");
		cJSON_ArrayForEach(col, first) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, col->string);
			int w = v ? cell_width(v) : 1;

			if (c >= 32)
				break;
			if (v)
				print_scalar(v);
			else
				fputs("-", stdout);
			printf("%*s  ", widths[c] > w ? widths[c] - w : 0, "");
			c++;
		}
		printf("\n");
	}
}

static void print_value(const char *key, const cJSON *v, int indent)
{
	if (report_is_scalar(v)) {
		printf("%*s%s: ", indent, "", key);
		print_scalar(v);
		printf("\n");
		return;
	}
	if (cJSON_IsArray(v)) {
		const cJSON *e;
		int n = 0, total = cJSON_GetArraySize(v);
		bool scalars = true;

		cJSON_ArrayForEach(e, v)
			scalars &= report_is_scalar(e);
		if (scalars) {
			printf("%*s%s: ", indent, "", key);
			cJSON_ArrayForEach(e, v) {
				if (n == MAX_INLINE) {
					printf(" ... (%d more)", total - MAX_INLINE);
					break;
				}
				if (n++)
					fputs(", ", stdout);
				print_scalar(e);
			}
			printf("%s\n", total ? "" : "(none)");
			return;
		}
		printf("%*s%s:\n", indent, "", key);
		if (report_tabular(v)) {
			print_table(v, indent + 2);
			return;
		}
		cJSON_ArrayForEach(e, v) {
			char label[32];

			if (n == MAX_ROWS) {
				printf("%*s... %d more (use --json for all)\n", indent + 2, "", total - n);
				break;
			}
			snprintf(label, sizeof(label), "[%d]", n++);
			print_value(label, e, indent + 2);
		}
		return;
	}
	printf("%*s%s:\n", indent, "", key);
	for (const cJSON *m = v->child; m; m = m->next)
		print_value(m->string, m, indent + 2);
}

static void print_section(const struct reg_resource *r, const cJSON *body, const char *err)
{
	printf("== %s (%s) ==\n", r->title ? r->title : r->name, r->uri);
	if (err) {
		printf("  unavailable: %s\n\n", err);
		return;
	}
	if (cJSON_IsObject(body)) {
		for (const cJSON *m = body->child; m; m = m->next)
			print_value(m->string, m, 2);
	} else if (cJSON_IsString(body)) {
		printf("%s\n", body->valuestring);
	}
	printf("\n");
}

void report_wait(double seconds)
{
	uint64_t ms = (uint64_t)(seconds * 1000.0 + 0.5);
	bool expired = false;

	if (!ms)
		return;
	if (loop_timer_add(ms, false, stop_waiting, &expired, &report_wait) > 0)
		while (!expired && !loop_quitting())
			(void)loop_run();
}

int report_run(const struct daemon_opts *o)
{
	cJSON *all = o->json ? cJSON_CreateObject() : NULL;
	cJSON *page = o->html_path ? cJSON_CreateArray() : NULL;
	char *folded = NULL, perr[400] = "";
	int shown = 0, rc = 0;

	/* let the plugins' samplers fill a first window; for a page, a longer
	 * one (its heat maps have a column per history step), spent profiling
	 * when the wiring names a profiler */
	if (page)
		folded = report_html_profile(o, perr, sizeof(perr));
	else
		report_wait(o->report_interval_s);
	/* plugins first, the core's own status last */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < registry_view()->n_resources; i++) {
			struct reg_resource *r = registry_view()->resources[i];
			bool core = strcmp(r->owner->name, "core") == 0;
			char err[512] = "";
			cJSON *body;

			if (r->is_template || !(r->flags & SMCP_RESOURCE_REPORT) || core != (pass == 1))
				continue;
			body = read_resource(r, err, sizeof(err));
			if (page) {
				cJSON *sec = cJSON_CreateObject();

				cJSON_AddStringToObject(sec, "title", r->title ? r->title : r->name);
				cJSON_AddStringToObject(sec, "uri", r->uri);
				if (body)
					cJSON_AddItemToObject(sec, "body", cJSON_Duplicate(body, true));
				else
					cJSON_AddStringToObject(sec, "error", err);
				cJSON_AddItemToArray(page, sec);
			}
			if (all) {
				if (body)
					cJSON_AddItemToObject(all, r->uri, body);
				else
					cJSON_AddItemToObject(all, r->uri,
							      cJSON_CreateString(err));
				shown++;
				continue;
			}
			print_section(r, body, body ? NULL : err);
			cJSON_Delete(body);
			shown++;
		}
	}
	if (all) {
		char *text = cJSON_Print(all);

		if (text)
			puts(text);
		free(text);
		cJSON_Delete(all);
	}
	if (!shown)
		fprintf(stderr, "schedmcp report: no plugin offers a report section\n");
	if (page) {
		int err = report_html_write(o->html_path, page, folded, perr);

		if (err) {
			fprintf(stderr, "schedmcp report: cannot write %s: %s\n", o->html_path,
				strerror(-err));
			rc = 1;
		}
		cJSON_Delete(page);
		free(folded);
	}
	return rc;
}
