/* SPDX-License-Identifier: MIT */
#include "loader.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "smcp-config.h"
#include "loop.h"
#include "registry.h"
#include "privs.h"
#include "safeopen.h"
#include "work.h"

static struct smcp_host **plugins;
static size_t n_plugins;
static struct smcp_host core_host = {
	.name = "core",
	.version = SMCP_VERSION,
	.description = "the schedmcp core: plugin status and the live event stream",
	.path = "(built in)",
	.state = PLUGIN_LOADED,
};

struct smcp_host *loader_core(void)
{
	return &core_host;
}

void loader_core_init_begin(void)
{
	core_host.in_init = true;
}

void loader_core_init_end(void)
{
	core_host.in_init = false;
}

struct smcp_host *const *loader_plugins(size_t *ret_n)
{
	*ret_n = n_plugins;
	return plugins;
}

static void set_reason(struct smcp_host *p, enum plugin_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_reason(struct smcp_host *p, enum plugin_state st, const char *fmt, ...)
{
	va_list ap;
	char *r = NULL;

	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		r = NULL;
	va_end(ap);
	free(p->reason);
	p->reason = r;
	p->state = st;
}

static bool valid_plugin_name(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!(islower((unsigned char)s[n]) || isdigit((unsigned char)s[n]) || s[n] == '_'))
			return false;
	return n > 0 && n <= 64;
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static struct smcp_host *find_plugin(const char *name)
{
	for (size_t i = 0; i < n_plugins; i++)
		if (plugins[i]->name && strcmp(plugins[i]->name, name) == 0 &&
		    plugins[i]->state != PLUGIN_REFUSED)
			return plugins[i];
	return NULL;
}

static int add_plugin(struct smcp_host *p)
{
	struct smcp_host **np = realloc(plugins, (n_plugins + 1) * sizeof(*np));

	if (!np)
		return -ENOMEM;
	plugins = np;
	plugins[n_plugins++] = p;
	return 0;
}

/* Name of the plugin in a file path: the file name without ".so". */
static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	char *n = strdup(base ? base + 1 : path);

	if (n && strlen(n) > 3)
		n[strlen(n) - 3] = '\0';
	return n;
}

/*
 * Vet and load dir/rel. The file is opened once, down a checked chain of
 * directories (core/safeopen.h), and the fd that was checked is the one
 * dlopen maps: no name is resolved twice, so nobody can swap the file in
 * between. dir_fd < 0: the directory itself is not trusted (dir_why says
 * why) and nothing in it is opened.
 */
static void open_one(int dir_fd, const char *dir, const char *dir_why, const char *rel)
{
	struct smcp_host *p = calloc(1, sizeof(*p));
	const struct smcp_plugin_info *info;
	smcp_plugin_entry_fn entry;
	char why[PATH_MAX + 64], self[64];
	struct smcp_host *other;

	if (!p)
		return;
	p->fd = -1;
	p->state = PLUGIN_REFUSED; /* until vetted */
	if (asprintf(&p->path, "%s/%s", dir, rel) < 0)
		p->path = NULL;
	p->name = p->path ? name_from_path(p->path) : NULL;
	if (!p->path || !p->name || add_plugin(p)) {
		free(p->path);
		free(p->name);
		free(p);
		return;
	}
	if (dir_fd < 0) {
		set_reason(p, PLUGIN_REFUSED, "refused: %s (plugins must be owned by root and not writable by others)",
			   dir_why);
		goto refused;
	}
	p->fd = safeopen(dir_fd, rel, SAFEOPEN_FILE, why, sizeof(why));
	if (p->fd < 0) {
		set_reason(p, PLUGIN_REFUSED, "refused: %s (plugins must be owned by root and not writable by others)",
			   why);
		goto refused;
	}
	/* the fd stays open as long as the plugin: its number is its name to
	 * the dynamic linker, which must never match another file's */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", p->fd);
	p->dl = dlopen(self, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		set_reason(p, PLUGIN_REFUSED, "cannot load: %s", dlerror());
		goto refused;
	}
	entry = (smcp_plugin_entry_fn)dlsym(p->dl, SMCP_PLUGIN_ENTRY_NAME);
	if (!entry) {
		set_reason(p, PLUGIN_REFUSED, "no %s symbol: not a schedmcp plugin",
			   SMCP_PLUGIN_ENTRY_NAME);
		goto refused;
	}
	info = entry();
	if (!info || info->sz < offsetof(struct smcp_plugin_info, fini) + sizeof(info->fini)) {
		set_reason(p, PLUGIN_REFUSED, "plugin_info missing or too small (%zu bytes)",
			   info ? info->sz : 0);
		goto refused;
	}
	if (info->abi_major != SMCP_ABI_MAJOR) {
		set_reason(p, PLUGIN_REFUSED,
			   "built for plugin ABI %u.%u, this host speaks %u.%u (major versions differ); rebuild it against this SDK",
			   info->abi_major, info->abi_minor, SMCP_ABI_MAJOR, SMCP_ABI_MINOR);
		goto refused;
	}
	if (info->abi_minor > SMCP_ABI_MINOR) {
		set_reason(p, PLUGIN_REFUSED,
			   "built for plugin ABI %u.%u, newer than this host's %u.%u; upgrade schedmcp",
			   info->abi_major, info->abi_minor, SMCP_ABI_MAJOR, SMCP_ABI_MINOR);
		goto refused;
	}
	if (!info->name || !valid_plugin_name(info->name) || !info->init) {
		set_reason(p, PLUGIN_REFUSED, "plugin_info has %s",
			   !info->init ? "no init function" : "an invalid name (use [a-z0-9_], at most 64)");
		goto refused;
	}
	other = find_plugin(info->name);
	if (other || strcmp(info->name, "core") == 0) {
		set_reason(p, PLUGIN_REFUSED, "name '%s' is already taken by %s", info->name,
			   other ? other->path : "the core");
		goto refused;
	}
	free(p->name);
	p->name = strdup(info->name);
	p->version = strdup(info->version ? info->version : "?");
	p->description = strdup(info->description ? info->description : "");
	p->info = info;
	p->state = PLUGIN_LOADED; /* provisional: enabled check and init come later */
	return;
refused:
	log_warn("plugin %s: %s", p->path, p->reason);
	if (p->dl)
		dlclose(p->dl);
	p->dl = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect x.so and x/x.so (the build tree's layout) in the directory open
 * as dfd, as paths relative to it, sorted. dfd is not consumed. */
static int list_candidates(int dfd, char ***ret, size_t *ret_n)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **out = NULL;
	size_t n = 0;
	int err = 0;

	if (!d) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	/* a dup shares the offset: start from the top whoever read it before */
	rewinddir(d);
	while ((de = readdir(d))) {
		char rel[NAME_MAX * 2 + 8];
		size_t len = strlen(de->d_name);
		struct stat st;
		char **no;

		if (de->d_name[0] == '.')
			continue;
		if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0) {
			snprintf(rel, sizeof(rel), "%s", de->d_name);
		} else {
			/* only to pick candidates: safeopen checks what is loaded */
			snprintf(rel, sizeof(rel), "%s/%s.so", de->d_name, de->d_name);
			if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
				continue;
		}
		if (n >= 1024) {
			err = -E2BIG;
			break;
		}
		no = realloc(out, (n + 1) * sizeof(*no));
		if (!no || !(no[n] = strdup(rel))) {
			out = no ? no : out;
			err = -ENOMEM;
			break;
		}
		out = no;
		n++;
	}
	closedir(d);
	if (out)
		qsort(out, n, sizeof(*out), cmp_str);
	*ret = out;
	*ret_n = n;
	return err;
}

static void check_list(struct config *cfg, const char *opt, const char *list)
{
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char name[80];

		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			if (!find_plugin(name)) {
				const struct smcp_host *r = NULL;

				for (size_t i = 0; i < n_plugins && !r; i++)
					if (plugins[i]->name && !strcmp(plugins[i]->name, name))
						r = plugins[i];
				if (r)
					config_error(cfg, "%s: plugin '%s' cannot be loaded: %s", opt,
						     name, r->reason ? r->reason : "refused");
				else
					config_error(cfg, "%s: no plugin named '%s' was found", opt, name);
			}
		}
		p = e ? e + 1 : NULL;
	}
}

int loader_discover(const struct loader_opts *opts, struct config *cfg)
{
	char **paths = NULL, why[PATH_MAX + 64];
	int dfd, list_fd, err = 0;
	size_t n = 0;

	dfd = safeopen(-1, opts->plugin_dir, SAFEOPEN_DIR, why, sizeof(why));
	list_fd = dfd;
	if (dfd == -EPERM) {
		/* list it all the same, so each plugin shows as refused and why;
		 * nothing in it is opened */
		list_fd = open(opts->plugin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (list_fd < 0)
			list_fd = -errno;
	}
	if (list_fd == -ENOENT || list_fd == -ENOTDIR) {
		config_error(cfg, "plugin directory %s: %s", opts->plugin_dir, strerror(-list_fd));
	} else if (list_fd < 0) {
		err = list_fd;
	} else {
		err = list_candidates(list_fd, &paths, &n);
	}
	for (size_t i = 0; i < n; i++) {
		if (!err)
			open_one(dfd, opts->plugin_dir, why, paths[i]);
		free(paths[i]);
	}
	free(paths);
	if (list_fd >= 0)
		close(list_fd);
	if (dfd >= 0 && dfd != list_fd)
		close(dfd);
	if (err)
		return err;
	check_list(cfg, "--enable", opts->enable);
	check_list(cfg, "--disable", opts->disable);
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = &cfg->sections[i];
		struct smcp_host *p;

		if (!s->is_plugin)
			continue;
		p = find_plugin(s->name);
		if (!p) {
			char at[512];

			log_warn("%s: [plugin %s]: no such plugin in %s; section ignored",
				 config_where(cfg, s->line, at, sizeof(at)), s->name, opts->plugin_dir);
			continue;
		}
		p->cfg = s;
		config_validate(cfg, s, p->info->config_keys);
	}
	for (size_t i = 0; i < n_plugins; i++) {
		struct smcp_host *p = plugins[i];
		const char *v;
		bool on = true;

		if (p->state == PLUGIN_REFUSED)
			continue;
		if (opts->enable) {
			on = in_list(opts->enable, p->name);
		} else if ((v = config_value(p->cfg, "enabled", NULL))) {
			(void)config_parse_bool(v, &on);
		}
		if (opts->disable && in_list(opts->disable, p->name))
			on = false;
		if (!on)
			set_reason(p, PLUGIN_DISABLED, "disabled by %s",
				   opts->enable || (opts->disable && in_list(opts->disable, p->name))
					   ? "the command line"
					   : "the config file");
	}
	return 0;
}

static void unload(struct smcp_host *p)
{
	/* its jobs finish and their done callbacks run while it is all there */
	work_drain();
	loop_remove_owner(p);
	if (p->info && p->info->fini && !p->fini_done) {
		uint64_t caps = privs_enter(p);

		p->fini_done = true;
		p->info->fini(p);
		privs_leave(caps);
	}
	registry_remove_owner(p);
	loop_remove_owner(p); /* fini may have added nothing, but be sure */
	if (p->dl)
		dlclose(p->dl);
	p->dl = NULL;
}

void loader_init_all(void)
{
	for (size_t i = 0; i < n_plugins; i++) {
		struct smcp_host *p = plugins[i];
		int err;

		if (p->state == PLUGIN_DISABLED && p->dl) {
			/* nothing of it will run: do not keep its libraries mapped */
			dlclose(p->dl);
			p->dl = NULL;
			p->info = NULL;
			p->cfg = NULL;
		}
		if (p->state != PLUGIN_LOADED || !p->dl)
			continue;
		p->in_init = true;
		err = p->info->init(p, &host_api);
		p->in_init = false;
		if (err < 0) {
			unload(p);
			set_reason(p, PLUGIN_FAILED, "init failed: %s",
				   p->status_reason ? p->status_reason : strerror(-err));
			log_err("plugin %s: %s; everything it registered was removed", p->name,
				p->reason);
			continue;
		}
		if (p->status_degraded) {
			set_reason(p, PLUGIN_DEGRADED, "%s",
				   p->status_reason ? p->status_reason : "degraded");
			log_warn("plugin %s is degraded: %s", p->name, p->reason);
		} else {
			log_debug("plugin %s %s loaded", p->name, p->version);
		}
	}
}

void loader_fini_all(void)
{
	for (size_t i = n_plugins; i-- > 0;) {
		struct smcp_host *p = plugins[i];

		if (p->state == PLUGIN_LOADED || p->state == PLUGIN_DEGRADED)
			unload(p);
		else if (p->dl)
			dlclose(p->dl);
		p->dl = NULL;
		if (p->fd >= 0)
			close(p->fd);
		free(p->name);
		free(p->version);
		free(p->description);
		free(p->path);
		free(p->reason);
		free(p->status_reason);
		free(p);
	}
	free(plugins);
	plugins = NULL;
	n_plugins = 0;
	loop_remove_owner(&core_host);
	registry_remove_owner(&core_host);
}
