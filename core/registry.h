/* SPDX-License-Identifier: MIT */
/* What plugins registered: resources, resource templates, tools, prompts.
 * Entries are copies of the plugin's descriptors, kept in registration order
 * and tagged with their owner so a failed plugin's are removed together. */
#ifndef SMCP_REGISTRY_H
#define SMCP_REGISTRY_H

#include <cjson/cJSON.h>
#include <schedmcp/plugin.h>

#include "host.h"

struct reg_resource {
	char *uri; /* or the template */
	char *name, *title, *description, *mime_type;
	uint32_t flags;
	bool is_template;
	smcp_read_fn read;
	smcp_complete_fn complete;
	void *data;
	struct smcp_host *owner;
};

struct reg_tool {
	char *name, *title, *description;
	cJSON *input_schema;  /* never NULL: {"type":"object"} when none given */
	cJSON *output_schema; /* may be NULL */
	uint32_t flags;
	smcp_tool_fn call;
	void *data;
	struct smcp_host *owner;
};

struct reg_prompt_arg {
	char *name, *description;
	bool required;
	enum smcp_arg_type type;
};

struct reg_prompt {
	char *name, *title, *description;
	struct reg_prompt_arg *args;
	size_t n_args;
	smcp_prompt_fn get;
	smcp_complete_fn complete;
	void *data;
	struct smcp_host *owner;
};

/* A plugin's line for the instructions (glob NULL) or a hint for unknown
 * tools whose name matches glob. */
struct reg_note {
	char *glob;
	char *text;
	struct smcp_host *owner;
};

#define REG_NOTE_MAX_BYTES 512
#define REG_INSTRUCTIONS_PER_PLUGIN 4

struct registry {
	struct reg_note **instructions;
	size_t n_instructions;
	struct reg_note **tool_hints;
	size_t n_tool_hints;
	struct reg_resource **resources; /* plain and templates */
	size_t n_resources;
	struct reg_tool **tools;
	size_t n_tools;
	struct reg_prompt **prompts;
	size_t n_prompts;
	unsigned generation; /* bumped on every change, for list_changed */
};

/* What is registered, for reading; only this file's functions change it. */
const struct registry *registry_view(void);

int registry_add_resource(struct smcp_host *owner, const struct smcp_resource_desc *d,
			  bool is_template);
int registry_add_tool(struct smcp_host *owner, const struct smcp_tool_desc *d);
int registry_add_prompt(struct smcp_host *owner, const struct smcp_prompt_desc *d);
/* A plugin's instructions line / unknown-tool hint (host API, Since 1.2):
 * 0, -EINVAL, -ENOSPC, -ENOMEM. */
int registry_add_instructions(struct smcp_host *owner, const char *text);
int registry_add_tool_hint(struct smcp_host *owner, const char *glob, const char *text);
void registry_remove_owner(const struct smcp_host *owner);
void registry_free(void);

/* Exact-URI resource (not templates) or NULL. */
struct reg_resource *registry_find_resource(const char *uri);
/* First template matching uri; *ret_vars gets a new object of the variables
 * (decoded strings) that the caller frees. NULL if none matches. */
struct reg_resource *registry_match_template(const char *uri, cJSON **ret_vars);
/* Template by its template text (for completion refs) or NULL. */
struct reg_resource *registry_find_template(const char *uri_template);
struct reg_tool *registry_find_tool(const char *name);
struct reg_prompt *registry_find_prompt(const char *name);

/* Variable names of a template, as an array of strings (caller frees). */
cJSON *registry_template_vars(const char *uri_template);

#endif
