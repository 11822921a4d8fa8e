/* SPDX-License-Identifier: MIT */
/* schedmcp's entry point: signals, and the three ways to run (in-process on
 * stdio, the service on a unix socket, the bridge to it). The wiring they
 * share with the command line is in daemon.c. */
#include <errno.h>
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
#include "../mcp/http.h"
#include "../mcp/server.h"
#include "../mcp/stdio.h"
#include "../mcp/unix.h"
#include "daemon.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "persist.h"
#include "privs.h"

static int signal_fd = -1;

/* Flags users bring from scxtop, as shorthands for a plugin's config key:
 * the one place the core's side names a plugin (tests/docs/layering.py). */
static const struct cli_alias aliases[] = {
	{ "stats-socket-path", "PATH", "scx_stats.socket_path",
	  "scheduler stats socket (scxtop's flag):" },
	{ 0 },
};

/* The report's short profile for its HTML page's flame graph: the one
 * place that knows which plugin profiles (tests/docs/layering.py). */
static const struct report_profile report_profile = {
	"start_perf_profiling",
	"{\"duration_secs\": ${secs}, \"wait\": true, \"frequency_hz\": 199}",
	"get_perf_results", "{\"format\": \"folded\", \"limit\": 500}",
};

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
	/* HTTP too, when configured: its port, token and TLS files while root */
	if (lim->http.port) {
		err = http_listen(&lim->http, why, sizeof(why));
		if (err) {
			log_err("cannot serve HTTP: %s", why);
			goto out;
		}
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
	if (!err && lim->http.port)
		err = http_serve();
	if (err)
		goto out;
	log_info("serving MCP sessions on %s", lim->socket_path);
	sd_notify_state("READY=1\nSTATUS=serving MCP sessions");
	served = true;
	err = loop_run();
	sd_notify_state("STOPPING=1");
out:
	/* sessions first: their calls are cancelled while plugins still exist */
	http_close();
	unix_close();
	mcp_server_fini();
	if (served)
		(void)persist_save_final();
	persist_close();
	daemon_stop();
	privs_reset();
	return err;
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

	if (cli_parse_args(argc, argv, aliases, &o))
		return 2;
	o.profile = &report_profile;
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
		cli_help(aliases);
		return 0;
	case MODE_VERSION:
		cli_version();
		return 0;
	case MODE_HELP_CONFIG:
		cli_help_config();
		return 0;
	case MODE_FLAMEGRAPH:
		return cli_flamegraph(&o); /* a filter: no config, no plugins */
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
