/* SPDX-License-Identifier: MIT */
/* The command line a person uses: options, help, version, plugin list,
 * config check. Human output goes to stdout here; errors to stderr. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "host.h"
#include "registry.h"
#include "result.h"
#include "smcp-config.h"
#include "status.h"
#include "util.h"

static const char usage[] =
	"Usage: schedmcp [OPTIONS]            MCP on stdin/stdout (what an MCP client runs): bridged\n"
	"                                     to the service when one answers on its socket, else\n"
	"                                     served in-process\n"
	"       schedmcp mcp [OPTIONS]        the same (scxtop's spelling: schedmcp mcp --daemon)\n"
	"       schedmcp serve [OPTIONS]      run the service: plugins, history and watches that\n"
	"                                     outlive conversations, sessions on a unix socket\n"
	"       schedmcp status [OPTIONS]     which of the two an MCP client gets here, and why\n"
	"       schedmcp report [--json] [--html FILE] [OPTIONS]\n"
	"                                     print a summary of this machine's scheduler\n"
	"       schedmcp flamegraph [--diff OLD] [--png] < FOLDED > OUT\n"
	"                                     draw folded stacks (the profiler's folded\n"
	"                                     format) as an SVG or PNG flame graph\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      config file (default " SMCP_DEFAULT_CONFIG " if it exists)\n"
	"  -p, --plugin-dir DIR   also load plugins from DIR, searched before the default\n"
	"                         directory (repeatable; the first plugin of a name wins;\n"
	"                         root-owned, not writable by others)\n"
	"      --no-default-plugins\n"
	"                         search only the --plugin-dir directories\n"
	"  -e, --enable LIST      load only these plugins (names separated by commas or spaces)\n"
	"  -d, --disable LIST     do not load these plugins\n"
	"  -o, --set SEC.KEY=VAL  set a config key over the file's value (SEC: core or a plugin;\n"
	"                         repeatable), e.g. --set core.page_size=50\n"
	"%s"
	"      --list-plugins     list plugins with version, state and the reason when not loaded\n"
	"      --check-config     validate the config and report every error, then exit\n"
	"      --help-config      list every config key with its type, default and meaning\n"
	"      --list-surface     print the resources, templates, tools and prompts as Markdown\n"
	"      --json             machine-readable output for report and --list-plugins\n"
	"      --interval SECS    report: sample for SECS before printing (default 1)\n"
	"      --html FILE        report: also write one self-contained HTML page with\n"
	"                         the tables, a flame graph and heat maps to FILE\n"
	"      --diff OLD         flamegraph: differential against the folded stacks in\n"
	"                         OLD (red: grew, blue: shrank)\n"
	"      --png              flamegraph: a PNG (at most 1200x700) instead of SVG\n"
	"      --title TEXT       flamegraph: the picture's title\n"
	"      --log-level LEVEL  stderr log level (debug, info, warning, error, ...)\n"
	"      --socket PATH      the service's socket (default " SMCP_SOCKET_PATH ")\n"
	"      --standalone       serve in-process even when a service answers\n"
	"      --daemon           accepted for scxtop compatibility (changes nothing)\n"
	"      --fs-root DIR      read /proc and /sys under DIR, opened once at start (tests)\n"
	"      --state-dir DIR    keep metric history and watches in DIR across restarts\n"
	"                         (--set core.state_dir=DIR)\n"
	"  -h, --help             this text\n"
	"  -V, --version          version and plugin ABI\n";

void cli_help(const struct cli_alias *aliases)
{
	const char *split = strstr(usage, "%s");

	fwrite(usage, 1, (size_t)(split - usage), stdout);
	for (size_t i = 0; aliases && aliases[i].option && i < CLI_MAX_ALIASES; i++) {
		char key[128];

		snprintf(key, sizeof(key), "--set %s=%s", aliases[i].key, aliases[i].arg);
		printf("      --%s %s\n                         %s %s\n", aliases[i].option,
		       aliases[i].arg, aliases[i].help, key);
	}
	fputs(split + 2, stdout);
}

void cli_version(void)
{
	printf("schedmcp %s (plugin ABI %s, MCP %s down to 2024-11-05)\n", SMCP_VERSION,
	       SMCP_ABI_VERSION_STR, "2025-11-25");
}

/* "KEY=VALUE" for an alias or --state-dir; kept (and reachable) for the
 * process's life, since o->sets borrows it. */
static char *alias_sets[DAEMON_MAX_SETS];
static char shaping[64];

static int add_set(struct daemon_opts *o, const char *opt, const char *key, const char *value)
{
	char *s;

	if (o->n_sets == DAEMON_MAX_SETS || strlen(value) > PATH_MAX) {
		fprintf(stderr, "schedmcp: --%s: value too long or too many --set options\n", opt);
		return -EINVAL;
	}
	if (asprintf(&s, "%s=%s", key, value) < 0)
		return -ENOMEM;
	free(alias_sets[o->n_sets]);
	alias_sets[o->n_sets] = s;
	o->sets[o->n_sets++] = s;
	return 0;
}

int cli_parse_args(int argc, char **argv, const struct cli_alias *aliases, struct daemon_opts *o)
{
	enum { OPT_LIST = 256, OPT_CHECK, OPT_HELP_CONFIG, OPT_JSON, OPT_LOG, OPT_DAEMON,
	       OPT_ROOT, OPT_INTERVAL, OPT_SURFACE, OPT_SOCKET, OPT_STANDALONE,
	       OPT_STATE_DIR, OPT_NO_DEFAULT_PLUGINS, OPT_HTML, OPT_DIFF, OPT_PNG, OPT_TITLE,
	       OPT_ALIAS };
	static const struct {
		const char *name;
		enum daemon_mode mode;
	} commands[] = {
		{ "report", MODE_REPORT },
		{ "serve", MODE_SERVICE },
		{ "status", MODE_STATUS },
		{ "mcp", MODE_SERVE },
		{ "flamegraph", MODE_FLAMEGRAPH },
	};
	static const struct option fixed[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "plugin-dir", required_argument, NULL, 'p' },
		{ "no-default-plugins", no_argument, NULL, OPT_NO_DEFAULT_PLUGINS },
		{ "enable", required_argument, NULL, 'e' },
		{ "disable", required_argument, NULL, 'd' },
		{ "set", required_argument, NULL, 'o' },
		{ "list-plugins", no_argument, NULL, OPT_LIST },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help-config", no_argument, NULL, OPT_HELP_CONFIG },
		{ "list-surface", no_argument, NULL, OPT_SURFACE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "diff", required_argument, NULL, OPT_DIFF },
		{ "png", no_argument, NULL, OPT_PNG },
		{ "title", required_argument, NULL, OPT_TITLE },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "daemon", no_argument, NULL, OPT_DAEMON },
		{ "fs-root", required_argument, NULL, OPT_ROOT },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "standalone", no_argument, NULL, OPT_STANDALONE },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct option longs[sizeof(fixed) / sizeof(fixed[0]) + CLI_MAX_ALIASES];
	size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]) - 1, n_alias = 0;
	char *end;
	int c, idx;

	memcpy(longs, fixed, n_fixed * sizeof(fixed[0]));
	for (; aliases && aliases[n_alias].option && n_alias < CLI_MAX_ALIASES; n_alias++)
		longs[n_fixed + n_alias] = (struct option){ aliases[n_alias].option,
							    required_argument, NULL, OPT_ALIAS };
	memset(&longs[n_fixed + n_alias], 0, sizeof(longs[0]));
	o->mode = MODE_SERVE;
	o->report_interval_s = 1.0;
	for (size_t i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			o->mode = commands[i].mode;
			argv[1] = argv[0];
			argv++;
			argc--;
			break;
		}
	}
	while ((c = getopt_long(argc, argv, "c:p:e:d:o:hV", longs, &idx)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			o->config_explicit = true;
			o->shaping = "--config";
			break;
		case 'p':
			if (o->n_plugin_dirs == DAEMON_MAX_PLUGIN_DIRS) {
				fprintf(stderr, "schedmcp: at most %d --plugin-dir options\n",
					DAEMON_MAX_PLUGIN_DIRS);
				return -EINVAL;
			}
			o->plugin_dirs[o->n_plugin_dirs++] = optarg;
			o->shaping = "--plugin-dir";
			break;
		case OPT_NO_DEFAULT_PLUGINS:
			o->no_default_plugins = true;
			o->shaping = "--no-default-plugins";
			break;
		case 'e':
			o->enable = optarg;
			o->shaping = "--enable";
			break;
		case 'd':
			o->disable = optarg;
			o->shaping = "--disable";
			break;
		case 'o':
			if (o->n_sets == DAEMON_MAX_SETS) {
				fprintf(stderr, "schedmcp: at most %d --set options\n", DAEMON_MAX_SETS);
				return -EINVAL;
			}
			if (!strchr(optarg, '=') || !strchr(optarg, '.') ||
			    strchr(optarg, '.') > strchr(optarg, '=')) {
				fprintf(stderr, "schedmcp: --set: expected SECTION.KEY=VALUE, got '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->sets[o->n_sets++] = optarg;
			o->shaping = "--set";
			break;
		case OPT_ALIAS:
			if (add_set(o, longs[idx].name, aliases[idx - (int)n_fixed].key, optarg))
				return -EINVAL;
			snprintf(shaping, sizeof(shaping), "--%s", longs[idx].name);
			o->shaping = shaping;
			break;
		case OPT_SOCKET:
			o->socket_path = optarg;
			break;
		case OPT_STATE_DIR:
			if (add_set(o, "state-dir", "core.state_dir", optarg))
				return -EINVAL;
			o->shaping = "--state-dir";
			break;
		case OPT_STANDALONE:
			o->standalone = true;
			break;
		case OPT_LIST:
			o->mode = MODE_LIST_PLUGINS;
			break;
		case OPT_CHECK:
			o->mode = MODE_CHECK_CONFIG;
			break;
		case OPT_HELP_CONFIG:
			o->mode = MODE_HELP_CONFIG;
			break;
		case OPT_SURFACE:
			o->mode = MODE_LIST_SURFACE;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_INTERVAL:
			o->report_interval_s = strtod(optarg, &end);
			if (*end || !(o->report_interval_s >= 0 && o->report_interval_s <= 3600)) {
				fprintf(stderr, "schedmcp: --interval: expected seconds in 0..3600, got '%s'\n",
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_HTML:
			o->html_path = optarg;
			break;
		case OPT_DIFF:
			o->diff_path = optarg;
			break;
		case OPT_PNG:
			o->png = true;
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case OPT_LOG:
			o->log_level = optarg;
			break;
		case OPT_DAEMON:
			break;
		case OPT_ROOT:
			o->fs_root = optarg;
			o->shaping = "--fs-root";
			break;
		case 'h':
			o->mode = MODE_HELP;
			break;
		case 'V':
			o->mode = MODE_VERSION;
			break;
		default:
			fputs("Try 'schedmcp --help'.\n", stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "schedmcp: unexpected argument '%s'\nTry 'schedmcp --help'.\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static const char *const config_type_names[] = {
	[SMCP_CONFIG_BOOL] = "bool",
	[SMCP_CONFIG_INT] = "int",
	[SMCP_CONFIG_STRING] = "string",
	[SMCP_CONFIG_PATH] = "path",
};

static void print_keys(const char *section, const struct smcp_config_key *keys)
{
	printf("[%s]\n", section);
	if (strncmp(section, "plugin ", 7) == 0)
		printf("  %-24s %-7s %-10s %s\n", "enabled", "bool", "true", "load this plugin");
	if (!keys || !keys[0].name)
		return;
	for (const char *p = (const char *)keys;; p += keys[0].sz) {
		const struct smcp_config_key *k = (const struct smcp_config_key *)p;
		char range[64] = "";

		if (!k->name)
			break;
		if (k->type == SMCP_CONFIG_INT && (k->min || k->max))
			snprintf(range, sizeof(range), " (%lld..%lld)", (long long)k->min,
				 (long long)k->max);
		printf("  %-24s %-7s %-10s %s%s\n", k->name,
		       UTIL_ENUM_NAME(config_type_names, k->type, "?"),
		       k->default_value ? k->default_value : "(unset)", k->description, range);
	}
}

void cli_help_config(void)
{
	struct daemon_opts o = { .mode = MODE_HELP_CONFIG };
	struct config cfg = { 0 };
	struct core_limits lim;
	char *dir = NULL;
	size_t n;
	struct smcp_host *const *all;

	printf("Config file: INI sections, 'key = value' lines, '#' comments.\n\n");
	print_keys("core", daemon_config_keys);
	if (daemon_configure(&o, &cfg, &lim, &dir) == 0) {
		all = loader_plugins(&n);
		for (size_t i = 0; i < n; i++) {
			char sec[96];

			if (!all[i]->info)
				continue;
			snprintf(sec, sizeof(sec), "plugin %s", all[i]->name);
			printf("\n");
			print_keys(sec, all[i]->info->config_keys);
		}
	}
	daemon_stop();
	config_free(&cfg);
	free(dir);
}

void cli_print_errors(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_errors; i++)
		fprintf(stderr, "schedmcp: %s\n", cfg->errors[i]);
	if (cfg->n_errors)
		fprintf(stderr, "schedmcp: %zu configuration error%s; nothing was started\n",
			cfg->n_errors, cfg->n_errors == 1 ? "" : "s");
}

int cli_check_config(const struct config *cfg, const char *search_path)
{
	size_t n, on = 0;
	struct smcp_host *const *all = loader_plugins(&n);

	if (cfg->n_errors) {
		cli_print_errors(cfg);
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		on += all[i]->state == PLUGIN_LOADED;
	printf("%s: OK (plugin search path %s: %zu plugin%s found, %zu enabled)\n", cfg->path,
	       search_path, n, n == 1 ? "" : "s", on);
	return 0;
}

int cli_list_plugins(bool json)
{
	struct smcp_json j;
	size_t n;
	struct smcp_host *const *all = loader_plugins(&n);
	char *text;

	if (json) {
		if (result_json_writer_init(&j))
			return 1;
		status_write_plugins(&host_api, &j);
		text = result_json_writer_pretty(&j);
		if (text)
			puts(text);
		free(text);
		result_json_writer_release(&j);
		return 0;
	}
	printf("%-16s %-10s %-9s %s\n", "NAME", "VERSION", "STATE", "DETAIL");
	for (size_t i = 0; i < n; i++) {
		const struct smcp_host *p = all[i];

		printf("%-16s %-10s %-9s %s\n", p->name, p->version ? p->version : "-",
		       host_plugin_state_name(p->state),
		       p->reason ? p->reason : (p->description ? p->description : ""));
	}
	if (!n)
		printf("(no plugins found)\n");
	return 0;
}

/* First sentence of a description, for one-line table cells ("e.g." and
 * "i.e." do not end it). */
static void print_cell(const char *s)
{
	const char *start = s;

	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else if (*s == '\n')
			fputc(' ', stdout);
		else
			fputc(*s, stdout);
		if (*s == '.' && (s[1] == ' ' || s[1] == '\0') && !(s - start >= 2 && s[-2] == '.'))
			break;
	}
}

int cli_list_surface(void)
{
	printf("| resource | plugin | what it holds |\n|---|---|---|\n");
	for (int tpl = 0; tpl < 2; tpl++) {
		if (tpl)
			printf("\n| resource template | plugin | what it holds |\n|---|---|---|\n");
		for (size_t i = 0; i < registry_view()->n_resources; i++) {
			const struct reg_resource *r = registry_view()->resources[i];

			if (r->is_template != tpl)
				continue;
			printf("| `%s` | %s | ", r->uri, r->owner->name);
			print_cell(r->description);
			printf(" |\n");
		}
	}
	printf("\n| tool | plugin | what it does |\n|---|---|---|\n");
	for (size_t i = 0; i < registry_view()->n_tools; i++) {
		printf("| `%s` | %s | ", registry_view()->tools[i]->name,
		       registry_view()->tools[i]->owner->name);
		print_cell(registry_view()->tools[i]->description);
		printf(" |\n");
	}
	printf("\n| prompt | plugin | arguments | what it does |\n|---|---|---|---|\n");
	for (size_t i = 0; i < registry_view()->n_prompts; i++) {
		const struct reg_prompt *p = registry_view()->prompts[i];

		printf("| `%s` | %s | ", p->name, p->owner->name);
		for (size_t k = 0; k < p->n_args; k++)
			printf("%s%s%s", k ? ", " : "", p->args[k].name, p->args[k].required ? "" : "?");
		printf("%s | ", p->n_args ? "" : "-");
		print_cell(p->description);
		printf(" |\n");
	}
	return 0;
}

/* One request and its answer over a connected socket, with a time-out. */
static cJSON *ask(int fd, const char *req, const char *id)
{
	static char buf[1 << 20];
	size_t at = 0;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return NULL;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		while ((nl = memchr(buf, '\n', at))) {
			cJSON *m, *mid;

			*nl = '\0';
			m = cJSON_Parse(buf);
			memmove(buf, nl + 1, at - (size_t)(nl + 1 - buf));
			at -= (size_t)(nl + 1 - buf);
			mid = cJSON_GetObjectItemCaseSensitive(m, "id");
			if (cJSON_IsString(mid) && strcmp(mid->valuestring, id) == 0)
				return m;
			cJSON_Delete(m);
		}
		if (at == sizeof(buf) || poll(&p, 1, 5000) <= 0)
			return NULL;
		n = read(fd, buf + at, sizeof(buf) - at);
		if (n <= 0)
			return NULL;
		at += (size_t)n;
	}
}

int cli_status(const struct daemon_opts *o, const struct core_limits *lim)
{
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{"
		"\"name\":\"schedmcp status\",\"version\":\"" SMCP_VERSION "\"}}}\n"
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
	static const char read_req[] = "{\"jsonrpc\":\"2.0\",\"id\":\"s2\",\"method\":\"resources/read\","
				   "\"params\":{\"uri\":\"schedmcp://plugins\"}}\n";
	cJSON *r, *doc = NULL, *text, *p, *sessions;
	char why[512];
	int fd;

	if (!daemon_want_bridge(o, lim, &fd, why, sizeof(why))) {
		printf("in-process: an MCP client starting schedmcp here gets its own server.\n"
		       "why: %s\n", why);
		return 0;
	}
	printf("bridged: an MCP client starting schedmcp here talks to the service.\n"
	       "why: %s\n", why);
	r = ask(fd, init, "s1");
	text = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "result"),
						 "serverInfo"),
		"version");
	if (cJSON_IsString(text))
		printf("service: schedmcp %s\n", text->valuestring);
	cJSON_Delete(r);
	r = ask(fd, read_req, "s2");
	text = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
					  cJSON_GetObjectItemCaseSensitive(r, "result"), "contents"),
				  0);
	text = cJSON_GetObjectItemCaseSensitive(text, "text");
	if (cJSON_IsString(text))
		doc = cJSON_Parse(text->valuestring);
	sessions = cJSON_GetObjectItemCaseSensitive(doc, "sessions");
	if (sessions)
		printf("sessions: %d open (this one included), %d since it started\n",
		       cJSON_GetObjectItemCaseSensitive(sessions, "open")->valueint,
		       cJSON_GetObjectItemCaseSensitive(sessions, "opened")->valueint);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "plugins"))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "state");

		if (cJSON_IsString(n) && cJSON_IsString(st))
			printf("plugin %-16s %s\n", n->valuestring, st->valuestring);
	}
	cJSON_Delete(doc);
	cJSON_Delete(r);
	close(fd);
	return 0;
}
