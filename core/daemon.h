/* SPDX-License-Identifier: MIT */
/* Start-up and shutdown shared by the server, the report and the CLI: the
 * options, the config, the core's limits and the plugin set. */
#ifndef SMCP_DAEMON_H
#define SMCP_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loader.h"

enum daemon_mode {
	MODE_SERVE,
	MODE_REPORT,
	MODE_LIST_PLUGINS,
	MODE_CHECK_CONFIG,
	MODE_HELP,
	MODE_VERSION,
	MODE_HELP_CONFIG,
	MODE_LIST_SURFACE,
};

struct daemon_opts {
	enum daemon_mode mode;
	const char *config_path; /* NULL: the default path if it exists */
	bool config_explicit;
	const char *plugin_dir;  /* NULL: config or default */
	const char *enable, *disable;
	const char *fs_root;
	const char *log_level;
	bool json;
	double report_interval_s;
	/* --set SECTION.KEY=VALUE and the options that are shorthands for one */
#define DAEMON_MAX_SETS 64
	const char *sets[DAEMON_MAX_SETS];
	size_t n_sets;
	const char *stats_socket_path; /* scxtop's flag: [plugin scx_stats] socket_path */
};

struct core_limits {
	int64_t max_line_bytes, max_pending, max_result_bytes, max_queue_bytes,
		max_subscriptions, event_ring_size, page_size;
	const char *user; /* [core] user: borrowed from the config */
};

/* Parse argv; on a usage error prints why to stderr and returns -EINVAL. */
int daemon_parse_args(int argc, char **argv, struct daemon_opts *o);

/* Load the config, check it, find the plugins. Every error is appended to
 * cfg->errors. Returns 0 or -errno for a failure that stops everything. */
int daemon_configure(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim,
		     char **ret_plugin_dir);

/* The core's own config keys (for --help-config and validation). */
extern const struct smcp_config_key core_config_keys[];

/* Register the core's built-ins and init every enabled plugin (needs the loop). */
int daemon_start(const struct core_limits *lim);
void daemon_stop(void);

/* CLI output (core/cli.c, the human-facing code allowed to write stdout). */
void cli_help(void);
void cli_version(void);
void cli_help_config(void);
int cli_list_plugins(bool json);
int cli_list_surface(void);
int cli_check_config(const struct config *cfg, const char *plugin_dir);
void cli_print_errors(const struct config *cfg);
int report_run(const struct daemon_opts *o);

#endif
