/* SPDX-License-Identifier: MIT */
/* schedmcp: the MCP server on stdio, and the command line around it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../mcp/server.h"
#include "../mcp/stdio.h"
#include "daemon.h"
#include "events.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "privs.h"
#include "prompts.h"
#include "registry.h"
#include "smcp-config.h"
#include "status.h"

const struct smcp_config_key core_config_keys[] = {
	{ sizeof(struct smcp_config_key), "plugin_dir", SMCP_CONFIG_PATH, SMCP_PLUGINDIR,
	  "directory the plugins are loaded from (root-owned, not writable by others)", 0, 0 },
	{ sizeof(struct smcp_config_key), "user", SMCP_CONFIG_STRING, "schedmcp",
	  "account the server runs as once its plugins are up, keeping only the capabilities "
	  "they declared (root: stay uid 0; a missing account is a warning and uid 0 stays)",
	  0, 0 },
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
	{ 0 },
};

static int signal_fd = -1;

static void on_signal(void *data, int fd, uint32_t revents)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("%s received; shutting down", strsignal((int)si.ssi_signo));
	loop_quit(0);
}

static int setup_signals(void)
{
	sigset_t set;

	/* a client that closes stdout must not kill us mid-cleanup */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signal_fd < 0)
		return -errno;
	return loop_watch(signal_fd, EPOLLIN, on_signal, NULL, &signal_fd);
}

static int64_t core_int(const struct config *cfg, const char *key)
{
	const struct smcp_config_key *k = config_key_find(core_config_keys, key);
	const char *v = config_value(config_find(cfg, "core", false), key, NULL);
	int64_t x = 0;

	if (!v || config_parse_int(v, k->min, k->max, &x))
		(void)config_parse_int(k->default_value, 0, 0, &x);
	return x;
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

int daemon_configure(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim,
		     char **ret_plugin_dir)
{
	const char *path = o->config_path ? o->config_path : SMCP_DEFAULT_CONFIG;
	const struct config_section *core;
	struct loader_opts lo = { .enable = o->enable, .disable = o->disable };
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
	if (o->stats_socket_path)
		(void)config_set(cfg, "scx_stats", "socket_path", o->stats_socket_path);
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
	config_validate(cfg, core, core_config_keys);
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
	lim->user = config_value(core, "user", NULL);
	if (!lim->user)
		lim->user = config_key_find(core_config_keys, "user")->default_value;
	metrics_configure(core, core_config_keys);

	if (o->plugin_dir)
		lo.plugin_dir = o->plugin_dir;
	else if ((v = config_value(core, "plugin_dir", NULL)))
		lo.plugin_dir = v;
	else
		lo.plugin_dir = under_build_tree() ? SMCP_BUILD_PLUGINDIR : SMCP_PLUGINDIR;
	*ret_plugin_dir = strdup(lo.plugin_dir);
	if (o->fs_root)
		host_set_fs_root(o->fs_root);
	return loader_discover(&lo, cfg);
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
	if (!err)
		err = metrics_init(core, &host_api);
	loader_core_init_end();
	if (err)
		return err;
	loader_init_all();
	return 0;
}

void daemon_stop(void)
{
	loader_fini_all();
	events_fini();
	metrics_fini();
	registry_free();
}

static int serve(const struct core_limits *lim)
{
	struct mcp_limits ml = {
		.max_line_bytes = (size_t)lim->max_line_bytes,
		.max_pending = (uint32_t)lim->max_pending,
		.max_result_bytes = (size_t)lim->max_result_bytes,
		.max_subscriptions = (uint32_t)lim->max_subscriptions,
		.page_size = (uint32_t)lim->page_size,
	};
	struct stdio_limits sl = {
		.max_line_bytes = (size_t)lim->max_line_bytes,
		.max_queue_bytes = (size_t)lim->max_queue_bytes,
	};
	int err;

	/* one fd per timer, watch and perf event: 1024 is too few (core/privs.h) */
	(void)privs_raise_fd_limit();
	err = mcp_server_init(&ml, NULL, stdio_transport_send, NULL);
	if (err)
		return err;
	err = daemon_start(lim);
	if (err) {
		log_err("cannot start: %s", strerror(-err));
		goto out;
	}
	/* plugins hold their BPF objects and perf fds now: leave uid 0 and
	 * keep only the capabilities their on-demand work needs (core/privs.h) */
	err = privs_drop(lim->user);
	if (err)
		goto out;
	err = stdio_transport_init(&sl);
	if (err) {
		log_err("cannot use stdin/stdout: %s", strerror(-err));
		goto out;
	}
	log_debug("serving MCP on stdio");
	err = loop_run();
out:
	/* cancel what is in flight before plugins go away */
	mcp_server_fini();
	stdio_transport_flush(1000);
	daemon_stop();
	stdio_transport_fini();
	privs_reset();
	return err;
}

int main(int argc, char **argv)
{
	struct daemon_opts o = { 0 };
	struct config cfg = { 0 };
	struct core_limits lim;
	char *plugin_dir = NULL;
	enum smcp_log_level lvl;
	int err, rc = 0;

	if (daemon_parse_args(argc, argv, &o))
		return 2;
	if (o.log_level) {
		if (log_level_parse(o.log_level, &lvl)) {
			log_err("--log-level: unknown level '%s'", o.log_level);
			return 2;
		}
		log_set_stderr_level(lvl);
	} else if (o.mode != MODE_SERVE) {
		/* a person at a terminal wants the answer, not the start-up chatter */
		log_set_stderr_level(SMCP_LOG_WARNING);
	}
	switch (o.mode) {
	case MODE_HELP:
		cli_help();
		return 0;
	case MODE_VERSION:
		cli_version();
		return 0;
	case MODE_HELP_CONFIG:
		cli_help_config();
		return 0;
	default:
		break;
	}
	err = loop_init();
	if (!err && o.mode != MODE_CHECK_CONFIG)
		err = setup_signals();
	if (err) {
		log_err("cannot set up the event loop: %s", strerror(-err));
		return 1;
	}
	err = daemon_configure(&o, &cfg, &lim, &plugin_dir);
	if (err) {
		log_err("cannot read plugins: %s", strerror(-err));
		rc = 1;
		goto out;
	}
	if (o.mode == MODE_CHECK_CONFIG) {
		rc = cli_check_config(&cfg, plugin_dir);
		goto out;
	}
	if (cfg.n_errors) {
		cli_print_errors(&cfg);
		rc = 2;
		goto out;
	}
	switch (o.mode) {
	case MODE_LIST_PLUGINS:
		err = daemon_start(&lim);
		rc = err ? 1 : cli_list_plugins(o.json);
		daemon_stop();
		break;
	case MODE_LIST_SURFACE:
		err = daemon_start(&lim);
		rc = err ? 1 : cli_list_surface();
		daemon_stop();
		break;
	case MODE_REPORT:
		err = daemon_start(&lim);
		rc = err ? 1 : report_run(&o);
		daemon_stop();
		break;
	default:
		rc = serve(&lim) < 0 ? 1 : 0;
		break;
	}
out:
	free(plugin_dir);
	config_free(&cfg);
	loop_fini();
	if (signal_fd >= 0)
		close(signal_fd);
	host_set_fs_root(NULL);
	return rc;
}
