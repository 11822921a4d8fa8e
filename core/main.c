/* SPDX-License-Identifier: MIT */
/* schedmcp: the MCP server on stdio, and the command line around it. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../mcp/bridge.h"
#include "../mcp/server.h"
#include "../mcp/stdio.h"
#include "../mcp/unix.h"
#include "daemon.h"
#include "events.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_tools.h"
#include "persist.h"
#include "privs.h"
#include "prompts.h"
#include "registry.h"
#include "smcp-config.h"
#include "status.h"
#include "watch.h"
#include "work.h"

const struct smcp_config_key core_config_keys[] = {
	{ sizeof(struct smcp_config_key), "plugin_dir", SMCP_CONFIG_PATH, SMCP_PLUGINDIR,
	  "directory the plugins are loaded from (root-owned, not writable by others)", 0, 0 },
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

/* A string key of [core]: the file's value, else the default (borrowed). */
static const char *core_str(const struct config *cfg, const char *key)
{
	const char *v = config_value(config_find(cfg, "core", false), key, NULL);

	return v ? v : config_key_find(core_config_keys, key)->default_value;
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
	if (o->stats_socket_path)
		(void)config_set(cfg, "scx_stats", "socket_path", o->stats_socket_path);
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
	lim->max_sessions = core_int(cfg, "max_sessions");
	lim->session_stall_s = core_int(cfg, "session_stall_s");
	lim->user = core_str(cfg, "user");
	lim->socket_path = core_str(cfg, "socket_path");
	lim->socket_group = core_str(cfg, "socket_group");
	metrics_configure(core, core_config_keys);
	work_configure((uint32_t)core_int(cfg, "workers"));
	persist_configure(core, core_config_keys);
	if (o->fs_root)
		host_set_fs_root(o->fs_root);
	return 0;
}

int daemon_discover(const struct daemon_opts *o, struct config *cfg, char **ret_plugin_dir)
{
	const struct config_section *core = config_find(cfg, "core", false);
	struct loader_opts lo = { .enable = o->enable, .disable = o->disable };
	const char *v;

	if (o->plugin_dir)
		lo.plugin_dir = o->plugin_dir;
	else if ((v = config_value(core, "plugin_dir", NULL)))
		lo.plugin_dir = v;
	else
		lo.plugin_dir = under_build_tree() ? SMCP_BUILD_PLUGINDIR : SMCP_PLUGINDIR;
	*ret_plugin_dir = strdup(lo.plugin_dir);
	return loader_discover(&lo, cfg);
}

int daemon_configure(const struct daemon_opts *o, struct config *cfg, struct core_limits *lim,
		     char **ret_plugin_dir)
{
	int err = daemon_read_config(o, cfg, lim);

	return err ? err : daemon_discover(o, cfg, ret_plugin_dir);
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
		err = watch_init(core, &host_api);
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

static struct mcp_limits mcp_limits_of(const struct core_limits *lim)
{
	return (struct mcp_limits){
		.max_line_bytes = (size_t)lim->max_line_bytes,
		.max_pending = (uint32_t)lim->max_pending,
		.max_result_bytes = (size_t)lim->max_result_bytes,
		.max_subscriptions = (uint32_t)lim->max_subscriptions,
		.page_size = (uint32_t)lim->page_size,
	};
}

/* systemd's readiness protocol, without libsystemd: one datagram to
 * $NOTIFY_SOCKET (a path, or an abstract name after '@'). */
static void sd_notify_state(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!e || (e[0] != '/' && e[0] != '@') || strlen(e) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, e, strlen(e));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(e));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)!sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* The account the daemon will run as once it drops root (for the socket
 * directory's owner): its uid, or ours when it stays as it is. */
static uid_t run_as_uid(const char *user)
{
	struct passwd *pw = user && *user && geteuid() == 0 ? getpwnam(user) : NULL;

	return pw ? pw->pw_uid : geteuid();
}

/* History and watches across restarts (core/persist.h): the state directory
 * is opened while still root, before privs_drop(), for the account the
 * daemon switches to; always, or only when the config or --state-dir named
 * one. A directory that cannot be used is a warning, not a failed start. */
static void state_open(const struct core_limits *lim, bool always)
{
	char why[PATH_MAX + 256];
	bool named;
	const char *dir = persist_configured_dir(&named);

	if ((always || named) && dir && persist_open(dir, lim->user, why, sizeof(why)) < 0)
		log_warn("history and watches are not kept across restarts: %s", why);
}

/* In-process: one session on stdin/stdout (what an MCP client gets when no
 * service answers, or with --standalone). */
static int serve_stdio(const struct core_limits *lim)
{
	struct mcp_limits ml = mcp_limits_of(lim);
	struct stdio_limits sl = {
		.max_line_bytes = (size_t)lim->max_line_bytes,
		.max_queue_bytes = (size_t)lim->max_queue_bytes,
	};
	bool served = false;
	int err;

	/* one fd per timer, watch and perf event: 1024 is too few (core/privs.h) */
	(void)privs_raise_fd_limit();
	err = mcp_server_init(&ml);
	if (err)
		return err;
	err = daemon_start(lim);
	if (err) {
		log_err("cannot start: %s", strerror(-err));
		goto out;
	}
	state_open(lim, false);
	/* plugins hold their BPF objects and perf fds now: leave uid 0 and
	 * keep only the capabilities their on-demand work needs (core/privs.h) */
	err = privs_drop(lim->user);
	if (err)
		goto out;
	/* as that account, before the first tick */
	if (persist_active())
		(void)persist_restore();
	err = stdio_transport_init(&sl);
	if (err) {
		log_err("cannot use stdin/stdout: %s", strerror(-err));
		goto out;
	}
	log_debug("serving MCP on stdio");
	served = true;
	err = loop_run();
out:
	/* cancel what is in flight before plugins go away */
	mcp_server_fini();
	stdio_transport_flush(1000);
	if (served)
		(void)persist_save_final();
	persist_close();
	daemon_stop();
	stdio_transport_fini();
	privs_reset();
	return err;
}

/* The service: sessions on a unix socket until SIGTERM. */
static int serve_service(const struct core_limits *lim)
{
	struct mcp_limits ml = mcp_limits_of(lim);
	struct unix_opts uo = {
		.path = lim->socket_path,
		.group = lim->socket_group,
		.owner_uid = run_as_uid(lim->user),
		.limits = {
			.max_line_bytes = (size_t)lim->max_line_bytes,
			.max_queue_bytes = (size_t)lim->max_queue_bytes,
			.stall_ms = (uint32_t)lim->session_stall_s * 1000,
		},
		.max_sessions = (uint32_t)lim->max_sessions,
	};
	bool served = false;
	char why[512];
	int err;

	(void)privs_raise_fd_limit();
	/* the socket first: a second service stops here, before it loads a
	 * copy of every BPF program */
	err = unix_listen(&uo, why, sizeof(why));
	if (err) {
		log_err("cannot serve on %s: %s", lim->socket_path, why);
		return err;
	}
	err = mcp_server_init(&ml);
	if (err)
		goto out;
	err = daemon_start(lim);
	if (err) {
		log_err("cannot start: %s", strerror(-err));
		goto out;
	}
	/* the service keeps its state, in /var/lib/schedmcp unless told */
	state_open(lim, true);
	err = privs_drop(lim->user);
	if (!err && persist_active())
		(void)persist_restore();
	if (!err)
		err = unix_serve();
	if (err)
		goto out;
	log_info("serving MCP sessions on %s", lim->socket_path);
	sd_notify_state("READY=1\nSTATUS=serving MCP sessions");
	served = true;
	err = loop_run();
	sd_notify_state("STOPPING=1");
out:
	/* sessions first: their calls are cancelled while plugins still exist */
	unix_close();
	mcp_server_fini();
	if (served)
		(void)persist_save_final();
	persist_close();
	daemon_stop();
	privs_reset();
	return err;
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

int main(int argc, char **argv)
{
	struct daemon_opts o = { 0 };
	struct config cfg = { 0 };
	struct core_limits lim;
	char *plugin_dir = NULL, why[512];
	enum smcp_log_level lvl;
	int err, rc = 0, fd;

	/*
	 * Pin glibc's mmap threshold (issue 20). Left dynamic, it starts at
	 * 128 KiB and rises to the size of each mmap()ed block freed (up to
	 * 32 MiB): once libbpf has freed the kernel's BTF (5 MiB) at start-up,
	 * every transient block up to that size (a plugin's per-read copy of
	 * its tables, the event lister's function list rebuilt every 30 s)
	 * comes from the brk heap. That heap only shrinks from its top, so
	 * one long-lived block allocated after a transient one keeps the
	 * space: under the soak load (bench/soak) the heap grew 13 -> 40 MiB
	 * in 4 minutes with 23 MiB in use. Pinned, blocks of 128 KiB and more
	 * get mappings of their own that go back to the kernel when freed
	 * (a page fault per 4 KiB touched: about 2 ms for the largest per-read
	 * block, 7 MiB), and the heap keeps only small blocks: start-up RSS
	 * 19 -> 13 MiB, and (with the plugins' own fixes) the heap 13.6 MiB
	 * with 12.4 in use after 6 minutes.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	if (daemon_parse_args(argc, argv, &o))
		return 2;
	if (o.log_level) {
		if (log_level_parse(o.log_level, &lvl)) {
			log_err("--log-level: unknown level '%s'", o.log_level);
			return 2;
		}
		log_set_stderr_level(lvl);
	} else if (o.mode != MODE_SERVE && o.mode != MODE_SERVICE) {
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
	err = daemon_read_config(&o, &cfg, &lim);
	if (!err && cfg.n_errors == 0 && o.mode == MODE_STATUS) {
		rc = cli_status(&o, &lim);
		goto out;
	}
	if (!err && cfg.n_errors == 0 && o.mode == MODE_SERVE &&
	    daemon_want_bridge(&o, &lim, &fd, why, sizeof(why))) {
		log_debug("%s", why);
		rc = bridge_run(fd, signal_fd);
		goto out;
	}
	if (!err)
		err = daemon_discover(&o, &cfg, &plugin_dir);
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
	case MODE_SERVICE:
		rc = serve_service(&lim) < 0 ? 1 : 0;
		break;
	default:
		rc = serve_stdio(&lim) < 0 ? 1 : 0;
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
