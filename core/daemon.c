/* SPDX-License-Identifier: MIT */
/* The daemon's wiring, shared by the entry point (main.c) and the command
 * line (cli.c): the core's config keys, reading the config, finding the
 * plugins, starting and stopping the core and its plugins, and choosing
 * between the service and an in-process server. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mcp/bridge.h"
#include "../mcp/unix.h"
#include "daemon.h"
#include "events.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "metrics_tools.h"
#include "persist.h"
#include "prompts.h"
#include "registry.h"
#include "smcp-config.h"
#include "status.h"
#include "watch.h"
#include "work.h"

const struct smcp_config_key daemon_config_keys[] = {
	{ sizeof(struct smcp_config_key), "plugin_dir", SMCP_CONFIG_PATH, SMCP_PLUGINDIR,
	  "the default plugin directory, searched after every --plugin-dir (none with "
	  "--no-default-plugins); unset: the stock one, or the build tree's when run from it "
	  "(root-owned, not writable by others)", 0, 0 },
	{ sizeof(struct smcp_config_key), "plugins", SMCP_CONFIG_STRING, NULL,
	  "the plugins to load, names as --list-plugins shows them, separated by commas or spaces; "
	  "unset: every plugin found. A name no plugin has is an error; a plugin's own "
	  "'enabled' key overrides this for it", 0, 0 },
	{ sizeof(struct smcp_config_key), "user", SMCP_CONFIG_STRING, "schedmcp",
	  "account the server runs as once its plugins are up, keeping only the capabilities "
	  "they declared (root: stay uid 0; a missing account is a warning and uid 0 stays)",
	  0, 0 },
	{ sizeof(struct smcp_config_key), "socket_path", SMCP_CONFIG_PATH, SMCP_SOCKET_PATH,
	  "the service's unix socket (schedmcp serve listens, schedmcp with no arguments "
	  "bridges to it when a service answers)", 0, 0 },
	{ sizeof(struct smcp_config_key), "socket_group", SMCP_CONFIG_STRING, "schedmcp",
	  "group whose members may connect to the service socket (besides root)", 0, 0 },
	{ sizeof(struct smcp_config_key), "max_sessions", SMCP_CONFIG_INT, "128",
	  "service: sessions open at once; more are refused with an error that says so", 1,
	  4096 },
	{ sizeof(struct smcp_config_key), "session_stall_s", SMCP_CONFIG_INT, "30",
	  "service: a session whose output queue stays full this long (it does not read its "
	  "answers) is disconnected, its calls cancelled",
	  1, 3600 },
	{ sizeof(struct smcp_config_key), "workers", SMCP_CONFIG_INT, "2",
	  "threads for long work plugins hand off the loop (symbolising, detaching BPF "
	  "programs), so no request holds the others", 1, 16 },
	{ sizeof(struct smcp_config_key), "log_level", SMCP_CONFIG_STRING, "info",
	  "stderr log level: debug, info, notice, warning, error, critical, alert, emergency", 0, 0 },
	{ sizeof(struct smcp_config_key), "max_line_bytes", SMCP_CONFIG_INT, "4194304",
	  "longest message accepted from the client; longer ones are refused and discarded",
	  4096, 64 << 20 },
	{ sizeof(struct smcp_config_key), "max_pending_requests", SMCP_CONFIG_INT, "256",
	  "requests in flight at once (long-running tools, reads waiting for data)", 1, 10000 },
	{ sizeof(struct smcp_config_key), "max_result_bytes", SMCP_CONFIG_INT, "98304",
	  "largest tool result or resource read sent (about 25k tokens by default)", 4096,
	  16 << 20 },
	{ sizeof(struct smcp_config_key), "max_output_queue_bytes", SMCP_CONFIG_INT, "4194304",
	  "output the client has not read yet; notifications are dropped past half of it and "
	  "requests are not read past all of it",
	  65536, 1 << 30 },
	{ sizeof(struct smcp_config_key), "max_subscriptions", SMCP_CONFIG_INT, "256",
	  "resources/subscribe entries per session", 1, 10000 },
	{ sizeof(struct smcp_config_key), "event_ring_size", SMCP_CONFIG_INT, "4096",
	  "live events kept for poll_events and events://stream", 16, 1 << 20 },
	{ sizeof(struct smcp_config_key), "page_size", SMCP_CONFIG_INT, "100",
	  "items per page of resources/list, tools/list, prompts/list", 1, 1000 },
	{ sizeof(struct smcp_config_key), "history_step_ms", SMCP_CONFIG_INT, "1000",
	  "metric history: length of a fine step (one sample of every series)", 10, 60000 },
	{ sizeof(struct smcp_config_key), "history_fine_slots", SMCP_CONFIG_INT, "900",
	  "metric history: fine steps kept (900 x 1 s = 15 min)", 10, 86400 },
	{ sizeof(struct smcp_config_key), "history_coarse_factor", SMCP_CONFIG_INT, "60",
	  "metric history: fine steps per coarse step (60 x 1 s = 1 min)", 2, 3600 },
	{ sizeof(struct smcp_config_key), "history_coarse_slots", SMCP_CONFIG_INT, "1440",
	  "metric history: coarse steps kept (1440 x 1 min = 24 h)", 10, 100000 },
	{ sizeof(struct smcp_config_key), "history_max_mb", SMCP_CONFIG_INT, "64",
	  "metric history: memory for all series and their history; new series are refused "
	  "past it", 1, 65536 },
	{ sizeof(struct smcp_config_key), "metrics_max_series", SMCP_CONFIG_INT, "4096",
	  "metric series kept, all metrics together", 16, 1000000 },
	{ sizeof(struct smcp_config_key), "metrics_top_n", SMCP_CONFIG_INT, "20",
	  "series kept per metric keyed by pid, comm or cgroup (the most active)", 1, 1000 },
	{ sizeof(struct smcp_config_key), "max_watches", SMCP_CONFIG_INT, "32",
	  "watches that can exist at once", 1, 1024 },
	{ sizeof(struct smcp_config_key), "watch_breach_ring", SMCP_CONFIG_INT, "256",
	  "breach and clear events kept for watch_status and watches://breaches", 8, 65536 },
	{ sizeof(struct smcp_config_key), "state_dir", SMCP_CONFIG_PATH, "/var/lib/schedmcp",
	  "where metric history and watches are kept across restarts (created 0750 for the "
	  "account in 'user'): always by schedmcp serve, by the in-process server only when "
	  "this or --state-dir is given",
	  0, 0 },
	{ sizeof(struct smcp_config_key), "persist_interval_s", SMCP_CONFIG_INT, "60",
	  "seconds between saves of the state (also saved at shutdown)", 1, 86400 },
	{ sizeof(struct smcp_config_key), "state_max_mb", SMCP_CONFIG_INT, "64",
	  "largest state file; past it the newest (fine) history of series is left out first, "
	  "then whole series",
	  1, 4095 },
	{ sizeof(struct smcp_config_key), "http_port", SMCP_CONFIG_INT, "0",
	  "service: TCP port of the Streamable HTTP transport (POST/GET/DELETE /mcp, GET "
	  "/metrics); 0: off (docs/http.md)", 0, 65535 },
	{ sizeof(struct smcp_config_key), "http_address", SMCP_CONFIG_STRING, "127.0.0.1",
	  "service: numeric IPv4 or IPv6 address HTTP listens on; anything but loopback exposes "
	  "scheduler and process data to the network: use a token and TLS", 0, 0 },
	{ sizeof(struct smcp_config_key), "http_auth", SMCP_CONFIG_STRING, "token",
	  "service: 'token' (every request needs Authorization: Bearer with a line of "
	  "http_token_file) or 'none' (no authentication: refused unless http_address is "
	  "loopback, and logged at start; any local user can then connect)", 0, 0 },
	{ sizeof(struct smcp_config_key), "http_token_file", SMCP_CONFIG_PATH, NULL,
	  "service: bearer tokens, one a line (16+ visible characters each), in a regular file "
	  "owned by root with mode 0600 or 0400; read at start, never logged", 0, 0 },
	{ sizeof(struct smcp_config_key), "http_metrics_auth", SMCP_CONFIG_STRING, "token",
	  "service: GET /metrics needs a token ('token', as /mcp) or not ('none': for a "
	  "Prometheus scraping without credentials; Origin and Host checks still apply)", 0, 0 },
	{ sizeof(struct smcp_config_key), "http_tls_cert", SMCP_CONFIG_PATH, NULL,
	  "service: PEM certificate (chain) for HTTPS; with http_tls_key, else plain HTTP", 0,
	  0 },
	{ sizeof(struct smcp_config_key), "http_tls_key", SMCP_CONFIG_PATH, NULL,
	  "service: PEM private key for HTTPS (read as root at start)", 0, 0 },
	{ sizeof(struct smcp_config_key), "http_allowed_origins", SMCP_CONFIG_STRING, NULL,
	  "service: browser Origins allowed besides loopback ones (\"https://host:port\", "
	  "separated by commas or spaces); any other Origin gets 403 (DNS rebinding)", 0, 0 },
	{ sizeof(struct smcp_config_key), "http_max_connections", SMCP_CONFIG_INT, "256",
	  "service: HTTP connections open at once; more are closed at accept", 1, 65536 },
	{ sizeof(struct smcp_config_key), "http_max_connections_per_address", SMCP_CONFIG_INT,
	  "32", "service: HTTP connections open at once from one client address", 1, 65536 },
	{ sizeof(struct smcp_config_key), "http_max_body_bytes", SMCP_CONFIG_INT, "1048576",
	  "service: largest HTTP request body; larger ones get 413", 1024, 64 << 20 },
	{ sizeof(struct smcp_config_key), "http_max_header_bytes", SMCP_CONFIG_INT, "16384",
	  "service: request line and headers of one HTTP request; more gets 431 or a closed "
	  "connection", 2048, 1 << 20 },
	{ sizeof(struct smcp_config_key), "http_idle_timeout_s", SMCP_CONFIG_INT, "60",
	  "service: an HTTP connection with no traffic this long is closed (SSE streams send "
	  "a comment every 15 s)", 2, 86400 },
	{ sizeof(struct smcp_config_key), "http_request_timeout_s", SMCP_CONFIG_INT, "10",
	  "service: a request must arrive whole within this many seconds of the connection or "
	  "of the previous answer (a client trickling its headers is dropped)", 1, 3600 },
	{ sizeof(struct smcp_config_key), "http_session_idle_s", SMCP_CONFIG_INT, "3600",
	  "service: an HTTP session with no request and no open stream this long is ended",
	  10, 604800 },
	{ sizeof(struct smcp_config_key), "http_replay_bytes", SMCP_CONFIG_INT, "262144",
	  "service: SSE events kept per stream for a client resuming with Last-Event-ID", 0,
	  64 << 20 },
	{ 0 },
};

static int64_t core_int(const struct config *cfg, const char *key)
{
	return config_key_int(config_find(cfg, "core", false), daemon_config_keys, key);
}

/* A string key of [core]: the file's value, else the default (borrowed). */
static const char *core_str(const struct config *cfg, const char *key)
{
	return config_key_str(config_find(cfg, "core", false), daemon_config_keys, key);
}

static bool under_build_tree(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	return strcmp(exe, SMCP_BUILD_EXE) == 0;
}

/* The HTTP transport's keys; a value that is not one of the choices is a
 * config error, as an unknown log level. */
static void daemon_read_http(struct config *cfg, const struct config_section *core,
			     struct core_limits *lim)
{
	static const char *const choice_keys[] = { "http_auth", "http_metrics_auth" };
	struct http_opts *h = &lim->http;
	char at[512];

	for (size_t i = 0; i < sizeof(choice_keys) / sizeof(choice_keys[0]); i++) {
		int line = 0;
		const char *v = config_value(core, choice_keys[i], &line);

		if (v && strcmp(v, "token") != 0 && strcmp(v, "none") != 0)
			config_error(cfg, "%s: %s: '%s' is neither 'token' nor 'none'",
				     config_where(cfg, line, at, sizeof(at)), choice_keys[i], v);
	}
	*h = (struct http_opts){
		.address = core_str(cfg, "http_address"),
		.port = (uint16_t)core_int(cfg, "http_port"),
		.token_file = core_str(cfg, "http_token_file"),
		.auth_none = !strcmp(core_str(cfg, "http_auth"), "none"),
		.metrics_auth_none = !strcmp(core_str(cfg, "http_metrics_auth"), "none"),
		.tls_cert = core_str(cfg, "http_tls_cert"),
		.tls_key = core_str(cfg, "http_tls_key"),
		.allowed_origins = core_str(cfg, "http_allowed_origins"),
		.max_connections = (uint32_t)core_int(cfg, "http_max_connections"),
		.max_per_address = (uint32_t)core_int(cfg, "http_max_connections_per_address"),
		.max_body_bytes = (size_t)core_int(cfg, "http_max_body_bytes"),
		.max_header_bytes = (size_t)core_int(cfg, "http_max_header_bytes"),
		.idle_timeout_s = (uint32_t)core_int(cfg, "http_idle_timeout_s"),
		.request_timeout_s = (uint32_t)core_int(cfg, "http_request_timeout_s"),
		.session_idle_s = (uint32_t)core_int(cfg, "http_session_idle_s"),
		.replay_bytes = (size_t)core_int(cfg, "http_replay_bytes"),
		.max_queue_bytes = (size_t)core_int(cfg, "max_output_queue_bytes"),
		.max_sessions = (uint32_t)core_int(cfg, "max_sessions"),
		.metrics = metrics_prom_render,
	};
}

int daemon_read_config(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim)
{
	const char *path = o->config_path ? o->config_path : SMCP_DEFAULT_CONFIG;
	const struct config_section *core;
	enum smcp_log_level lvl;
	const char *v;
	char at[512];
	int err, line = 0;

	err = config_load_file(cfg, path);
	if (err == -ENOENT && !o->config_explicit) {
		/* no file: the embedded default enables every plugin built */
		err = config_load_string(cfg, "[core]\n", "(built-in default)");
	}
	if (err) {
		config_error(cfg, "%s: %s", path, strerror(-err));
		return 0;
	}
	if (o->socket_path)
		(void)config_set(cfg, "core", "socket_path", o->socket_path);
	for (size_t i = 0; i < o->n_sets; i++) {
		const char *dot = strchr(o->sets[i], '.'), *eq = strchr(o->sets[i], '=');
		char sec[64], key[64];

		if (dot - o->sets[i] >= (ptrdiff_t)sizeof(sec) || eq - dot > (ptrdiff_t)sizeof(key)) {
			config_error(cfg, "--set %s: name too long", o->sets[i]);
			continue;
		}
		snprintf(sec, sizeof(sec), "%.*s", (int)(dot - o->sets[i]), o->sets[i]);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
		if (config_set(cfg, sec, key, eq + 1) == -ENOMEM)
			return -ENOMEM;
	}
	core = config_find(cfg, "core", false);
	config_validate(cfg, core, daemon_config_keys);
	v = config_value(core, "log_level", &line);
	if (v && log_level_parse(v, &lvl))
		config_error(cfg, "%s: log_level: unknown level '%s' (use debug, info, notice, "
			     "warning, error, critical, alert or emergency)",
			     config_where(cfg, line, at, sizeof(at)), v);
	else if (v && !o->log_level)
		log_set_stderr_level(lvl);
	lim->max_line_bytes = core_int(cfg, "max_line_bytes");
	lim->max_pending = core_int(cfg, "max_pending_requests");
	lim->max_result_bytes = core_int(cfg, "max_result_bytes");
	lim->max_queue_bytes = core_int(cfg, "max_output_queue_bytes");
	lim->max_subscriptions = core_int(cfg, "max_subscriptions");
	lim->event_ring_size = core_int(cfg, "event_ring_size");
	lim->page_size = core_int(cfg, "page_size");
	lim->max_sessions = core_int(cfg, "max_sessions");
	lim->session_stall_s = core_int(cfg, "session_stall_s");
	lim->user = core_str(cfg, "user");
	lim->socket_path = core_str(cfg, "socket_path");
	lim->socket_group = core_str(cfg, "socket_group");
	daemon_read_http(cfg, core, lim);
	metrics_configure(core, daemon_config_keys);
	work_configure((uint32_t)core_int(cfg, "workers"));
	persist_configure(core, daemon_config_keys);
	if (o->fs_root)
		host_set_fs_root(o->fs_root);
	return 0;
}

int daemon_discover(const struct daemon_opts *o, struct config *cfg, char **ret_search_path)
{
	const struct config_section *core = config_find(cfg, "core", false);
	struct loader_dir dirs[DAEMON_MAX_PLUGIN_DIRS + 1];
	struct loader_opts lo = { .dirs = dirs, .enable = o->enable, .disable = o->disable };
	size_t len = 1;
	char *path;

	for (size_t i = 0; i < o->n_plugin_dirs; i++)
		dirs[lo.n_dirs++] = (struct loader_dir){ .path = o->plugin_dirs[i] };
	if (!o->no_default_plugins) {
		const char *v = config_value(core, "plugin_dir", NULL);

		/* the directory the config names must be there; the stock one
		 * may be missing when --plugin-dir gave others */
		dirs[lo.n_dirs] = (struct loader_dir){
			.path = v ? v : under_build_tree() ? SMCP_BUILD_PLUGINDIR : SMCP_PLUGINDIR,
			.optional = !v && lo.n_dirs > 0,
		};
		lo.n_dirs++;
	}
	lo.only = config_value(core, "plugins", &lo.only_line);
	for (size_t i = 0; i < lo.n_dirs; i++)
		len += strlen(dirs[i].path) + 2;
	path = malloc(len + sizeof("(none)"));
	if (!path)
		return -ENOMEM;
	strcpy(path, lo.n_dirs ? "" : "(none)");
	for (size_t i = 0; i < lo.n_dirs; i++) {
		if (i)
			strcat(path, ", ");
		strcat(path, dirs[i].path);
	}
	*ret_search_path = path;
	return loader_discover(&lo, cfg);
}

int daemon_configure(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim,
		     char **ret_search_path)
{
	int err = daemon_read_config(o, cfg, lim);

	return err ? err : daemon_discover(o, cfg, ret_search_path);
}

int daemon_start(const struct core_limits *lim)
{
	struct smcp_host *core = loader_core();
	int err;

	loader_core_init_begin();
	err = status_init(core, &host_api);
	if (!err)
		err = events_init(core, &host_api, (uint32_t)lim->event_ring_size);
	err = err ? err : prompts_init(core, &host_api);
	/* the store first; its clients attach themselves to it */
	if (!err)
		err = metrics_init(core, &host_api);
	if (!err)
		err = metrics_tools_init(core, &host_api);
	if (!err)
		err = watch_tools_init(core, &host_api);
	loader_core_init_end();
	if (err)
		return err;
	loader_init_all();
	return 0;
}

void daemon_stop(void)
{
	/* every job done (and its done callback run) before plugins go */
	work_stop_threads();
	loader_fini_all();
	events_fini();
	watch_store_fini();
	metrics_fini();
	registry_free();
}

/*
 * What an MCP client started: a bridge when a service answers and nothing
 * asks for a server of our own; in-process otherwise. *ret_fd is the
 * connected socket when it says bridge. why says which and why.
 */
bool daemon_want_bridge(const struct daemon_opts *o, const struct core_limits *lim, int *ret_fd,
			char *why, size_t len)
{
	char probe[256];
	int fd = -1, err;

	*ret_fd = -1;
	if (o->standalone) {
		snprintf(why, len, "--standalone asks for an in-process server");
		return false;
	}
	if (o->shaping) {
		snprintf(why, len, "%s shapes the server, which a running service cannot do for "
			 "one client: serving in-process", o->shaping);
		return false;
	}
	err = unix_connect(lim->socket_path, &fd);
	if (err) {
		snprintf(why, len, "no service answers on %s (%s): serving in-process",
			 lim->socket_path,
			 err == -ENOENT	      ? "no socket: the service is not running"
			 : err == -ECONNREFUSED ? "a stale socket: the service is not running"
			 : err == -EACCES
				 ? "permission denied: you are not in its group"
				 : strerror(-err));
		return false;
	}
	err = bridge_probe(fd, 3000, probe, sizeof(probe));
	if (err) {
		close(fd);
		snprintf(why, len, "the service on %s does not serve you (%s): serving in-process",
			 lim->socket_path, probe);
		return false;
	}
	snprintf(why, len, "a service answers on %s: bridging to it", lim->socket_path);
	*ret_fd = fd;
	return true;
}
