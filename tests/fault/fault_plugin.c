/* SPDX-License-Identifier: MIT */
/*
 * faulty: a test-only plugin whose callbacks fail in every way the ABI
 * allows (and a few ways it does not quite), for tests/fault/test_faults.py.
 * The daemon must turn each failure into an answer that says what went
 * wrong, keep serving, and leak nothing (the suite also runs under ASan).
 *
 *   fault://read/{mode}   resources/read fails as mode says
 *   fault_tool {mode}     tools/call fails as mode says
 *   fault_prompt {mode}   prompts/get fails as mode says
 *   completion of fault://read/{mode} fails with -EIO
 *   fault_tool {open_shadow|write_etc}: what plugin code can open once the
 *     daemon has dropped its privileges (it declares no capability)
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/plugin.h>

static const struct smcp_host_api *api;
static struct smcp_host *self;

struct later {
	struct smcp_call *call;
	int timer;
	int err;
};

static unsigned cancelled;

static void later_fire(void *data)
{
	struct later *l = data;

	(void)api->call_complete(l->call, l->err);
	free(l);
}

static void later_cancel(void *data, struct smcp_call *call)
{
	struct later *l = data;

	if (l->timer > 0)
		(void)api->timer_remove(self, l->timer);
	cancelled++;
	free(l);
}

/* Answer SMCP_PENDING and finish with err after ms (never when ms < 0). */
static int finish_later(struct smcp_call *call, int err, int ms)
{
	struct later *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->call = call;
	l->err = err;
	if (ms >= 0) {
		l->timer = api->timer_add(self, (uint64_t)ms + 1, false, later_fire, l);
		if (l->timer <= 0) {
			int e = l->timer ? l->timer : -EINVAL;

			free(l);
			return e;
		}
	}
	(void)api->call_on_cancel(call, later_cancel, l);
	return SMCP_PENDING;
}

/* JSON writer misuse; every one must end as a reported plugin bug. */
static int bad_json(struct smcp_result *res, const char *how)
{
	struct smcp_json *j = api->result_json(res);

	if (!j)
		return -ENOMEM;
	if (!strcmp(how, "unclosed"))
		return api->json_object(j, "open");
	if (!strcmp(how, "overclosed")) {
		api->json_end(j);
		api->json_end(j);
		return api->json_end(j);
	}
	if (!strcmp(how, "key_in_array")) {
		api->json_array(j, "a");
		return api->json_int(j, "k", 1);
	}
	if (!strcmp(how, "no_key")) {
		return api->json_int(j, NULL, 1);
	}
	if (!strcmp(how, "raw")) {
		return api->json_raw(j, "r", "{not json");
	}
	if (!strcmp(how, "deep")) {
		for (int i = 0; i < 100; i++)
			api->json_object(j, "d");
		for (int i = 0; i < 100; i++)
			api->json_end(j);
		return 0;
	}
	/* "values": legal but awkward values, which must come out valid */
	api->json_double(j, "nan", NAN);
	api->json_double(j, "inf", -INFINITY);
	api->json_string(j, "bad_utf8", "\xff\xfe ok \xc3");
	api->json_string(j, "null", NULL);
	api->json_int(j, "min", INT64_MIN);
	api->json_uint(j, "max", UINT64_MAX);
	return 0;
}

static int read_fault(void *data, struct smcp_call *call, const char *uri,
		      const struct smcp_args *vars, struct smcp_result *res)
{
	const char *mode = "";

	(void)api->arg_string(vars, "mode", &mode);
	if (!strcmp(mode, "eio"))
		return -EIO;
	if (!strcmp(mode, "eio_msg")) {
		(void)api->result_error(res, "FAULT: the sensor is on fire");
		return -EIO;
	}
	if (!strcmp(mode, "enoent"))
		return -ENOENT;
	if (!strcmp(mode, "einval"))
		return -EINVAL;
	if (!strcmp(mode, "positive"))
		return api->result_text(res, "fine") ?: 7; /* positive is success */
	if (!strcmp(mode, "empty"))
		return 0; /* no contents at all */
	if (!strcmp(mode, "later_eio"))
		return finish_later(call, -EIO, 20);
	if (!strcmp(mode, "never"))
		return finish_later(call, 0, -1);
	if (!strcmp(mode, "huge")) {
		size_t n = 8u << 20;
		char *big = malloc(n + 1);
		int err;

		if (!big)
			return -ENOMEM;
		memset(big, 'x', n);
		big[n] = '\0';
		err = api->result_text(res, big);
		free(big);
		return err;
	}
	if (!strncmp(mode, "json_", 5))
		return bad_json(res, mode + 5);
	return api->result_textf(res, "mode %s", mode);
}

static int complete_fault(void *data, const char *arg, const char *prefix,
			  const struct smcp_args *context, struct smcp_completion *out)
{
	(void)api->completion_add(out, "eio");
	return -EIO;
}

static void ignore_response(void *data, struct smcp_call *call, int err,
			    const struct smcp_args *result, const char *message)
{
}

static int tool_fault(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	const char *mode = "";
	int err;

	(void)api->arg_string(args, "mode", &mode);
	if (!strcmp(mode, "eio"))
		return -EIO;
	if (!strcmp(mode, "enomem"))
		return -ENOMEM;
	if (!strcmp(mode, "error_result"))
		return api->result_error(res, "FAULT: asked to fail");
	if (!strcmp(mode, "error_and_fail")) {
		(void)api->result_error(res, "FAULT: failed with a message");
		return -EINVAL;
	}
	if (!strcmp(mode, "later_eio"))
		return finish_later(call, -EIO, 20);
	if (!strcmp(mode, "later_ok")) {
		(void)api->result_text(res, "late but fine");
		return finish_later(call, 0, 20);
	}
	if (!strcmp(mode, "never"))
		return finish_later(call, 0, -1);
	if (!strcmp(mode, "progress_backwards")) {
		int a = api->call_progress(call, 5, 10, "five");
		int b = api->call_progress(call, 3, 10, "three");
		int c = api->call_progress(call, NAN, 10, "nan");

		return api->result_textf(res, "progress %d %d %d", a, b, c);
	}
	if (!strcmp(mode, "client_request")) {
		err = api->call_client_request(call, "sampling/createMessage", "{}", 1000,
					       ignore_response, NULL);
		return api->result_textf(res, "client_request %d", err);
	}
	if (!strcmp(mode, "client_request_bad_params")) {
		err = api->call_client_request(call, "ping", "[not an object", 1000,
					       ignore_response, NULL);
		return api->result_textf(res, "client_request %d", err);
	}
	if (!strcmp(mode, "register_late")) {
		struct smcp_tool_desc d = { .sz = sizeof(d), .name = "fault_late",
					    .description = "never", .call = tool_fault };

		err = api->register_tool(self, &d);
		return api->result_textf(res, "register_tool %d", err);
	}
	if (!strcmp(mode, "loop_misuse")) {
		int a = api->timer_remove(self, 987654);
		int b = api->unwatch_fd(self, 987654);
		int c = api->watch_fd(self, -1, 1, NULL, NULL);
		int d = api->timer_add(self, 0, false, NULL, NULL);

		return api->result_textf(res, "loop %d %d %d %d", a, b, c, d);
	}
	if (!strcmp(mode, "event_null"))
		return api->result_textf(res, "event_commit %d", api->event_commit(self, NULL));
	if (!strcmp(mode, "status_flip")) {
		(void)api->set_status(self, true, "FAULT: degraded at run time");
		(void)api->set_status(self, false, NULL);
		return api->result_text(res, "flipped");
	}
	if (!strcmp(mode, "open_shadow") || !strcmp(mode, "write_etc")) {
		bool w = mode[0] == 'w';
		const char *path = w ? "/etc/.schedmcp-fault-probe" : "/etc/shadow";
		int fd = open(path, w ? O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
			      0600);
		int e = fd < 0 ? errno : 0;

		if (fd >= 0) {
			close(fd);
			if (w)
				unlink(path);
		}
		return api->result_textf(res, "open %s: %s", path, e ? strerror(e) : "opened");
	}
	if (!strcmp(mode, "args")) {
		const char *s;
		int64_t i;
		double d;
		bool b;

		return api->result_textf(res, "args %d %d %d %d %d",
					 api->arg_string(args, "missing.deep.path", &s),
					 api->arg_int(args, "mode", &i), api->arg_double(args, "mode", &d),
					 api->arg_bool(args, "mode", &b),
					 api->arg_string(args, "", &s));
	}
	if (!strncmp(mode, "json_", 5))
		return bad_json(res, mode + 5);
	return api->result_textf(res, "mode %s (cancelled so far: %u)", mode, cancelled);
}

static int prompt_fault(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	const char *mode = "";

	(void)api->arg_string(args, "mode", &mode);
	if (!strcmp(mode, "einval"))
		return -EINVAL; /* no message: the host must still say something */
	if (!strcmp(mode, "eio"))
		return -EIO;
	if (!strcmp(mode, "later_eio"))
		return finish_later(call, -EIO, 20);
	if (!strcmp(mode, "empty"))
		return 0;
	return api->result_textf(res, "prompt %s", mode);
}

static int faulty_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_arg pargs[] = {
		{ sizeof(struct smcp_prompt_arg), "mode", "how to fail", false, SMCP_ARG_STRING },
	};
	struct smcp_resource_desc r = {
		.sz = sizeof(r), .uri = "fault://read/{mode}", .name = "fault_read",
		.description = "fails as mode says", .mime_type = "text/plain",
		.read = read_fault, .complete = complete_fault,
	};
	struct smcp_tool_desc t = {
		.sz = sizeof(t), .name = "fault_tool", .description = "fails as mode says",
		.input_schema = "{\"type\":\"object\",\"properties\":{\"mode\":{\"type\":\"string\","
				"\"maxLength\":64}},\"additionalProperties\":false}",
		.call = tool_fault,
	};
	struct smcp_prompt_desc p = {
		.sz = sizeof(p), .name = "fault_prompt", .description = "fails as mode says",
		.args = pargs, .n_args = 1, .get = prompt_fault,
	};
	int err;

	api = a;
	self = host;
	if ((err = api->register_template(host, &r)) || (err = api->register_tool(host, &t)) ||
	    (err = api->register_prompt(host, &p)))
		return err;
	return 0;
}

SMCP_PLUGIN_DEFINE("faulty", "0.0.1",
		   "fault-injection test plugin: every callback fails on request",
		   .init = faulty_init)
