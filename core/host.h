/* SPDX-License-Identifier: MIT */
/* struct smcp_host: the core's record of one plugin (and of the core itself,
 * which registers its own resources through the same API). */
#ifndef SMCP_HOST_H
#define SMCP_HOST_H

#include <schedmcp/plugin.h>

#include "config.h"

enum plugin_state {
	PLUGIN_LOADED,   /* init() succeeded */
	PLUGIN_DEGRADED, /* loaded, serving part of what it offers */
	PLUGIN_FAILED,   /* init() failed; everything it registered was undone */
	PLUGIN_DISABLED, /* switched off by config or command line */
	PLUGIN_REFUSED,  /* not loaded: ABI, permissions, name clash, no entry symbol */
};

struct smcp_host {
	char *name;
	char *version;
	char *description;
	char *path; /* the .so, or "(built in)" */
	enum plugin_state state;
	char *reason;    /* why degraded/failed/refused/disabled; NULL when fine */
	char *status_reason; /* set by api->set_status during init */
	bool status_degraded;
	void *dl;
	int fd;  /* the .so, open while loaded: dlopen mapped this very fd */
	const struct smcp_plugin_info *info;
	const struct config_section *cfg;
	bool in_init;
	bool fini_done;
	struct host_compat *compat; /* trampolines for a plugin built before 1.2 (host.c) */
};

const char *host_plugin_state_name(enum plugin_state s);

/* The host API table given to every plugin. */
extern const struct smcp_host_api host_api;
/* Free what the API allocated for a plugin: call after its registrations
 * are removed (registry_remove_owner). NULL-safe. */
void host_release(struct smcp_host *h);

/* The test-only fs root (--fs-root); "" when unset. */
void host_set_fs_root(const char *root);
const char *host_fs_root(void);



/* What the MCP server provides to the host API (no-ops until set). */
struct host_hooks {
	bool (*client_has_capability)(const char *name);
	void (*resource_updated)(const char *uri);
	void (*list_changed)(void);
	/* Add the session's protocol counters to j (schedmcp://plugins). */
	void (*write_session)(const struct smcp_host_api *api, struct smcp_json *j);
};
const struct host_hooks *host_get_hooks(void);
void host_set_hooks(const struct host_hooks *hooks);

/* Completion candidates being built (struct smcp_completion). */
#define COMPLETION_MAX_VALUES 100
struct smcp_completion {
	struct cJSON *values; /* array of strings */
	uint32_t count;
	uint32_t total; /* as told by the plugin, or count */
	bool more;
};
#endif
