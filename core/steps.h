/* SPDX-License-Identifier: MIT */
/*
 * What plugins contribute to the core's workflow prompts (host API
 * register_prompt_step and register_prompt_completion, ABI 1.2): steps
 * filed under a topic, and completers for the prompts' arguments. Kept in
 * registration order with their owner, and removed with it (from
 * registry_remove_owner), so a plugin that failed or never loaded leaves
 * nothing behind. The workflow prompts read them when a prompt is got.
 */
#ifndef SMCP_STEPS_H
#define SMCP_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <schedmcp/plugin.h>

#define STEPS_PER_PLUGIN 64
#define STEP_TOPIC_MAX 64
#define STEP_NEED_MAX 256
#define STEP_MISSING_MAX 256

struct reg_step {
	char *topic;
	int order;
	char *text;    /* NULL when render writes it */
	char *needs;   /* space-separated names, or NULL */
	char *missing; /* or NULL */
	smcp_step_render_fn render;
	void *data;
	struct smcp_host *owner;
	size_t seq; /* registration order: ties of order keep it */
};

struct reg_completer {
	char *arg;
	smcp_complete_fn complete;
	void *data;
	struct smcp_host *owner;
};

/* Host API members (plugin.h): 0 or -errno as documented there. */
int steps_add(struct smcp_host *owner, const struct smcp_prompt_step *d);
int steps_add_completer(struct smcp_host *owner, const char *arg, smcp_complete_fn fn,
			void *data);

/* The steps of topic, lowest order first, then registration order: up to
 * max of them into out (borrowed until the registry changes); returns how
 * many exist. */
size_t steps_of_topic(const char *topic, const struct reg_step **out, size_t max);

/* Every completer, in registration order. */
struct reg_completer *const *steps_completers(size_t *ret_n);

/* Whether name (a URI, a URI template, a tool or a prompt) is registered. */
bool steps_name_registered(const char *name);

void steps_remove_owner(const struct smcp_host *owner);
void steps_free(void);

#endif
