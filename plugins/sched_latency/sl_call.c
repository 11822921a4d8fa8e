/* SPDX-License-Identifier: MIT */
#include "sl_call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sl_group_names[SL_G_N] = { "none", "cpu", "llc", "node", "process", "thread" };

int sl_parse_enum(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static void calls_unlink(struct sl *p, struct sl_call *c)
{
	for (struct sl_call **pp = &p->calls; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

void sl_call_release(struct sl_call *c)
{
	struct sl *p = c->p;

	if (c->timer > 0)
		(void)p->api->timer_remove(p->h, c->timer);
	c->timer = 0;
	if (c->slot >= 0)
		sl_bpf_measure_stop(p, c->slot);
	c->slot = -1;
	if (c->cleanup)
		c->cleanup(c);
	calls_unlink(p, c);
	free(c);
}

void sl_call_complete(struct sl_call *c, int err)
{
	c->p->api->call_complete(c->call, err);
	c->call = NULL;
	sl_call_release(c);
}

static void on_cancel(void *data, struct smcp_call *call)
{
	sl_call_release(data);
}

static void on_second(void *data)
{
	struct sl_call *c = data;
	char msg[64];

	c->elapsed_s++;
	if (c->elapsed_s < c->duration_s) {
		snprintf(msg, sizeof(msg), "collected %u of %u s", c->elapsed_s, c->duration_s);
		(void)c->p->api->call_progress(c->call, c->elapsed_s, c->duration_s, msg);
		return;
	}
	(void)c->p->api->timer_remove(c->p->h, c->timer);
	c->timer = 0;
	c->finish(c);
}

struct sl_call *sl_call_new(struct sl *p, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res, void (*finish)(struct sl_call *c),
			    void (*cleanup)(struct sl_call *c))
{
	struct sl_call *c = calloc(1, sizeof(*c));
	int64_t v;

	if (!c)
		return NULL;
	c->p = p;
	c->call = call;
	c->res = res;
	c->finish = finish;
	c->cleanup = cleanup;
	c->slot = -1;
	c->cpu = -1;
	c->limit = SL_DEFAULT_LIMIT;
	c->duration_s = SL_DEFAULT_DURATION_S;
	/* the schemas bound these; what is absent keeps its default */
	if (p->api->arg_int(args, "duration_s", &v) == 0)
		c->duration_s = (unsigned)v;
	if (p->api->arg_int(args, "pid", &v) == 0)
		c->pid = v;
	if (p->api->arg_int(args, "limit", &v) == 0)
		c->limit = (size_t)v;
	if (p->api->arg_int(args, "offset", &v) == 0)
		c->offset = (size_t)v;
	return c;
}

int sl_call_go(struct sl_call *c)
{
	struct sl *p = c->p;
	int id = p->api->timer_add(p->h, 1000, true, on_second, c);

	if (id < 0)
		return id;
	c->timer = id;
	c->next = p->calls;
	p->calls = c;
	if (c->call)
		(void)p->api->call_on_cancel(c->call, on_cancel, c);
	return SMCP_PENDING;
}

int sl_call_go_exclusive(struct sl_call *c, int (*start)(struct sl *p), const char *tool)
{
	int err = start(c->p);

	if (err == -EBUSY) {
		c->cleanup = NULL; /* the running analysis is not ours to stop */
		err = c->p->api->result_error(c->res, "another %s is running; retry when it "
						      "finishes", tool);
	} else if (!err) {
		err = sl_call_go(c);
		if (err == SMCP_PENDING)
			return err;
	}
	sl_call_release(c);
	return err;
}

void sl_calls_fini(struct sl *p)
{
	while (p->calls) {
		struct sl_call *c = p->calls;

		if (c->call)
			(void)p->api->call_on_cancel(c->call, NULL, NULL);
		sl_call_release(c);
	}
}

void sl_emit_filter(const struct sl_call *c, struct smcp_json *j)
{
	const struct smcp_host_api *api = c->p->api;

	api->json_object(j, "filter");
	if (c->pid)
		api->json_int(j, "pid", c->pid);
	if (c->cpu >= 0)
		api->json_int(j, "cpu", c->cpu);
	if (c->cgroup[0])
		api->json_string(j, "cgroup", c->cgroup);
	api->json_end(j);
}
