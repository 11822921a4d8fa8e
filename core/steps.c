/* SPDX-License-Identifier: MIT */
/* Steps and argument completers plugins give the workflow prompts. */
#include "steps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "log.h"
#include "prompts.h"
#include "registry.h"
#include "util.h"

static struct reg_step **steps;
static size_t n_steps, next_seq;
static struct reg_completer **completers;
static size_t n_completers;

static void step_free(struct reg_step *s)
{
	if (!s)
		return;
	free(s->topic);
	free(s->text);
	free(s->needs);
	free(s->missing);
	free(s);
}

static void completer_free(struct reg_completer *c)
{
	if (!c)
		return;
	free(c->arg);
	free(c);
}

static bool topic_ok(const char *t)
{
	size_t n = 0;

	for (; t[n]; n++)
		if (!((t[n] >= 'a' && t[n] <= 'z') || (t[n] >= '0' && t[n] <= '9') || t[n] == '_' ||
		      t[n] == '.'))
			return false;
	return n > 0 && n <= STEP_TOPIC_MAX;
}

/* At most SMCP_STEP_MAX_NEEDS names, none longer than STEP_NEED_MAX. */
static bool needs_ok(const char *needs)
{
	size_t names = 0;

	for (const char *p = needs; *p;) {
		size_t len = strcspn(p, " ");

		if (len > STEP_NEED_MAX)
			return false;
		if (len && ++names > SMCP_STEP_MAX_NEEDS)
			return false;
		p += len;
		p += strspn(p, " ");
	}
	return names > 0;
}

int steps_add(struct smcp_host *owner, const struct smcp_prompt_step *d)
{
	struct reg_step *s;
	size_t mine = 0;

	if (!d || d->sz < offsetof(struct smcp_prompt_step, data) + sizeof(d->data) || !d->topic ||
	    !topic_ok(d->topic) || (!d->text && !d->render) ||
	    (d->text && strlen(d->text) >= SMCP_STEP_TEXT_MAX) ||
	    (d->needs && !needs_ok(d->needs)) ||
	    (d->missing && (strlen(d->missing) > STEP_MISSING_MAX || strstr(d->missing, "://"))))
		return -EINVAL;
	for (size_t i = 0; i < n_steps; i++)
		mine += steps[i]->owner == owner;
	if (mine >= STEPS_PER_PLUGIN)
		return -ENOSPC;
	s = util_new_slot((void ***)&steps, n_steps, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->topic = strdup(d->topic);
	s->text = d->text ? strdup(d->text) : NULL;
	s->needs = d->needs ? strdup(d->needs) : NULL;
	s->missing = d->missing && *d->missing ? strdup(d->missing) : NULL;
	if (!s->topic || (d->text && !s->text) || (d->needs && !s->needs) ||
	    (d->missing && *d->missing && !s->missing)) {
		step_free(s);
		return -ENOMEM;
	}
	s->order = d->order;
	s->render = d->render;
	s->data = d->data;
	s->owner = owner;
	s->seq = next_seq++;
	steps[n_steps++] = s;
	/* legal (a newer plugin on an older host) but usually a typo */
	if (!prompts_flows_topic_known(d->topic))
		log_msg(SMCP_LOG_NOTICE, owner ? owner->name : "?",
			"prompt step topic '%s' is used by no workflow of this schedmcp", d->topic);
	return 0;
}

/* Whether a prompt the core registered takes an argument called arg. */
static bool core_argument(const char *arg)
{
	const struct smcp_host *core = loader_core();

	for (size_t i = 0; i < registry_view()->n_prompts; i++) {
		const struct reg_prompt *p = registry_view()->prompts[i];

		if (p->owner != core)
			continue;
		for (size_t a = 0; a < p->n_args; a++)
			if (strcmp(p->args[a].name, arg) == 0)
				return true;
	}
	return false;
}

int steps_add_completer(struct smcp_host *owner, const char *arg, smcp_complete_fn fn, void *data)
{
	struct reg_completer *c;

	if (!arg || !fn || !core_argument(arg))
		return -EINVAL;
	for (size_t i = 0; i < n_completers; i++)
		if (completers[i]->owner == owner && strcmp(completers[i]->arg, arg) == 0)
			return -EEXIST;
	c = util_new_slot((void ***)&completers, n_completers, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->arg = strdup(arg);
	if (!c->arg) {
		free(c);
		return -ENOMEM;
	}
	c->complete = fn;
	c->data = data;
	c->owner = owner;
	completers[n_completers++] = c;
	return 0;
}

size_t steps_of_topic(const char *topic, const struct reg_step **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < n_steps; i++) {
		const struct reg_step *s = steps[i];
		size_t at;

		if (strcmp(s->topic, topic) != 0)
			continue;
		n++;
		/* insertion by (order, seq): a topic holds a handful of steps */
		at = n - 1 < max ? n - 1 : max;
		while (at > 0 && out[at - 1]->order > s->order) {
			if (at < max)
				out[at] = out[at - 1];
			at--;
		}
		if (at < max)
			out[at] = s;
	}
	return n;
}

struct reg_completer *const *steps_completers(size_t *ret_n)
{
	*ret_n = n_completers;
	return completers;
}

bool steps_name_registered(const char *name)
{
	if (strstr(name, "://"))
		return strchr(name, '{') ? registry_find_template(name) != NULL
					 : registry_find_resource(name) != NULL;
	return registry_find_tool(name) || registry_find_prompt(name);
}

void steps_remove_owner(const struct smcp_host *owner)
{
	size_t removed = 0;

	UTIL_REMOVE_OWNED(steps, n_steps, owner, step_free, removed);
	UTIL_REMOVE_OWNED(completers, n_completers, owner, completer_free, removed);
}

void steps_free(void)
{
	UTIL_FREE_ALL(steps, n_steps, step_free);
	UTIL_FREE_ALL(completers, n_completers, completer_free);
	next_seq = 0;
}
