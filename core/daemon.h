/* SPDX-License-Identifier: MIT */
/* Start-up and shutdown shared by the server, the report and the CLI: the
 * options, the config, the core's limits and the plugin set. */
#ifndef SMCP_DAEMON_H
#define SMCP_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "../mcp/http.h"
#include "config.h"
#include "loader.h"

enum daemon_mode {
	MODE_SERVE,   /* what an MCP client runs: bridge to the service, or serve in-process */
	MODE_SERVICE, /* schedmcp serve */
	MODE_STATUS,  /* schedmcp status */
	MODE_REPORT,
	MODE_LIST_PLUGINS,
	MODE_CHECK_CONFIG,
	MODE_HELP,
	MODE_VERSION,
	MODE_HELP_CONFIG,
	MODE_LIST_SURFACE,
	MODE_FLAMEGRAPH, /* schedmcp flamegraph: folded stacks to a picture */
};

/* Two tool calls that give folded stacks: start (waits while it samples
 * for ${secs} seconds, which the report replaces), then the stacks. */
struct report_profile {
	const char *start_tool, *start_args; /* args: JSON, ${secs}: the seconds */
	const char *folded_tool, *folded_args;
};

struct daemon_opts {
	enum daemon_mode mode;
	const char *config_path; /* NULL: the default path if it exists */
	bool config_explicit;
	/* --plugin-dir, searched in this order before the default directory
	 * ([core] plugin_dir, else the stock one) */
#define DAEMON_MAX_PLUGIN_DIRS 16
	const char *plugin_dirs[DAEMON_MAX_PLUGIN_DIRS];
	size_t n_plugin_dirs;
	bool no_default_plugins; /* --no-default-plugins: only the --plugin-dir ones */
	const char *enable, *disable;
	const char *fs_root;
	const char *log_level;
	bool json;
	double report_interval_s;
	const char *html_path; /* report --html FILE */
	const char *diff_path; /* flamegraph --diff OLD */
	const char *title;     /* flamegraph --title TEXT */
	bool png;	       /* flamegraph --png */
	/* report --html: how to take a short profile for its flame graph (the
	 * wiring in main.c names the tools, the core does not); NULL: none */
	const struct report_profile *profile;
	/* --set SECTION.KEY=VALUE and the options that are shorthands for one */
#define DAEMON_MAX_SETS 64
	const char *sets[DAEMON_MAX_SETS];
	size_t n_sets;
	const char *socket_path; /* --socket: [core] socket_path */
	bool standalone;	 /* --standalone: never bridge */
	/* an option that shapes the server (plugins, config keys, fs root) was
	 * given: a running service cannot honour it, so serve in-process */
	const char *shaping;
};

struct core_limits {
	int64_t max_line_bytes, max_pending, max_result_bytes, max_queue_bytes,
		max_subscriptions, event_ring_size, page_size, max_sessions, session_stall_s;
	/* borrowed from the config */
	const char *user, *socket_path, *socket_group;
	/* the service's HTTP transport (port 0: off), strings borrowed too */
	struct http_opts http;
};

/*
 * An option that is a shorthand for --set SECTION.KEY=VALUE, for flags users
 * bring from other tools. The wiring at the top (core/main.c) names them,
 * since the key may be a plugin's; the parser and --help only pass them on.
 */
struct cli_alias {
	const char *option; /* long option, without the dashes */
	const char *arg;    /* its argument's name in --help */
	const char *key;    /* SECTION.KEY it sets */
	const char *help;   /* one line for --help */
};
#define CLI_MAX_ALIASES 8

/* Parse argv; aliases: NULL or a table ended by { 0 }. On a usage error
 * prints why to stderr and returns -EINVAL. */
int cli_parse_args(int argc, char **argv, const struct cli_alias *aliases, struct daemon_opts *o);

/* Load the config and check the core's keys. Every error is appended to
 * cfg->errors. Returns 0 or -errno for a failure that stops everything. */
int daemon_read_config(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim);
/* Find the plugins along the search path and check their config sections
 * (after daemon_read_config). *ret_search_path: the directories searched,
 * for a person ("DIR, DIR"; the caller frees it). */
int daemon_discover(const struct daemon_opts *o, struct config *cfg, char **ret_search_path);
/* Both. */
int daemon_configure(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim,
		     char **ret_search_path);

/* The core's own config keys (for --help-config and validation). */
extern const struct smcp_config_key daemon_config_keys[];

/* Register the core's built-ins and init every enabled plugin (needs the loop). */
int daemon_start(const struct core_limits *lim);
void daemon_stop(void);

/* CLI output (core/cli.c, the human-facing code allowed to write stdout). */
void cli_help(const struct cli_alias *aliases);
void cli_version(void);
void cli_help_config(void);
int cli_list_plugins(bool json);
int cli_list_surface(void);
int cli_check_config(const struct config *cfg, const char *search_path);
void cli_print_errors(const struct config *cfg);
int report_run(const struct daemon_opts *o);
/* In-process tool call for the report: the content items (a cJSON array
 * the caller frees), or NULL with err set (the tool's error, no such tool,
 * no answer within timeout_ms). */
struct cJSON;
/* How the report shows a value: scalars inline; an array of objects whose
 * members are all scalars as a table. */
bool report_is_scalar(const struct cJSON *v);
bool report_tabular(const struct cJSON *arr);
/* Run the loop for seconds (the report's sampling window). */
void report_wait(double seconds);
struct cJSON *report_call_tool(const char *name, const char *args_json, uint64_t timeout_ms,
			       char *err, size_t err_len);
/* report --html (core/report_html.c): sample for the page (profiling when
 * o->profile names how), returning the profile's folded stacks (or NULL,
 * err saying why); then write the page from sections ([{title, uri, body |
 * error}]). 0 or -errno. */
char *report_html_profile(const struct daemon_opts *o, char *err, size_t err_len);
int report_html_write(const char *path, const struct cJSON *sections, const char *folded,
		      const char *profile_err);
/* schedmcp flamegraph (core/cli_draw.c): stdin to stdout; the exit code. */
int cli_flamegraph(const struct daemon_opts *o);
/*
 * Whether an MCP client starting schedmcp with these options gets a bridge
 * to a running service (true; *ret_fd is the connected, probed socket) or
 * an in-process server (false). why says which and why, for a person.
 */
bool daemon_want_bridge(const struct daemon_opts *o, const struct core_limits *lim, int *ret_fd,
			char *why, size_t len);

/* schedmcp status: which mode an MCP client would get here, and why. */
int cli_status(const struct daemon_opts *o, const struct core_limits *lim);

#endif
