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

/* The next name of a list (names separated by commas and/or whitespace):
 * its start in *ret and its length, 0 at the end. */
static size_t list_next(const char **pos, const char **ret)
{
	const char *p = *pos;
	size_t n;

	while (*p == ',' || isspace((unsigned char)*p))
		p++;
	n = strcspn(p, ", \t\n\r\f\v");
	*ret = p;
	*pos = p + n;
	return n;
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name), len;
	const char *at, *pos = list;

	while (list && (len = list_next(&pos, &at)))
		if (len == n && strncmp(at, name, n) == 0)
			return true;
	return false;
}

#define NAME_CMP_MAX 64

/* Edit distance counting an adjacent transposition as one edit (optimal
 * string alignment): "statss" and "shced" are one slip away from
 * "stats" and "sched". Both strings at most NAME_CMP_MAX bytes. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t rows[3][NAME_CMP_MAX + 1], *pp = rows[0], *prev = rows[1], *cur = rows[2];

	for (size_t j = 0; j <= nb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t v = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[nb];
}

/*
 * " (did you mean NAME?)" for the plugin name closest to the n bytes at
 * name, when it is close enough to be a slip of the keyboard (one edit in a
 * name of up to 4 bytes, two in longer ones); "" otherwise. Names of
 * refused plugins count: the user then learns why it is refused.
 */
static const char *did_you_mean(const char *name, size_t n, char *buf, size_t len)
{
	size_t best = SIZE_MAX, limit = n > 4 ? 2 : 1;
	const char *pick = NULL;

	buf[0] = '\0';
	if (n > NAME_CMP_MAX)
		return buf;
	for (size_t i = 0; i < n_plugins; i++) {
		const char *c = plugins[i]->name;
		size_t d;

		if (!c || strlen(c) > NAME_CMP_MAX)
			continue;
		d = edit_distance(name, n, c, strlen(c));
		if (d <= limit && d < best) {
			best = d;
			pick = c;
		}
	}
	if (pick)
		snprintf(buf, len, " (did you mean %s?)", pick);
	return buf;
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
	/* the search path's first plugin of a name wins, as in $PATH: a
	 * later file of that name is not even opened (nothing of it runs) */
	other = find_plugin(p->name);
	if (other) {
		set_reason(p, PLUGIN_REFUSED, "name '%s' is already taken by %s (earlier in the "
			   "plugin search path)", p->name, other->path);
		log_info("plugin %s: %s", p->path, p->reason);
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

/* Every name of list must be a plugin that can load: an error for each that
 * is not, naming where it came from (opt) and the closest name found. */
static void check_list(struct config *cfg, const char *opt, const char *list)
{
	const char *at, *pos = list;
	size_t len;

	while (list && (len = list_next(&pos, &at))) {
		const struct smcp_host *r = NULL;
		char name[NAME_CMP_MAX + 1], hint[NAME_CMP_MAX + 32];

		if (len >= sizeof(name)) {
			config_error(cfg, "%s: '%.*s...' is not a plugin name (too long)", opt,
				     NAME_CMP_MAX, at);
			continue;
		}
		memcpy(name, at, len);
		name[len] = '\0';
		if (find_plugin(name))
			continue;
		for (size_t i = 0; i < n_plugins && !r; i++)
			if (plugins[i]->name && !strcmp(plugins[i]->name, name))
				r = plugins[i];
		if (r)
			config_error(cfg, "%s: plugin '%s' cannot be loaded: %s", opt, name,
				     r->reason ? r->reason : "refused");
		else
			config_error(cfg, "%s: no plugin named '%s' was found%s", opt, name,
				     did_you_mean(name, len, hint, sizeof(hint)));
	}
}

/* Search one directory of the path. seen[] holds the directories searched
 * so far (device, inode), so that one named twice (the stock directory
 * given again with --plugin-dir) is searched once. */
static int discover_dir(const struct loader_dir *ld, struct stat *seen, size_t *n_seen,
			struct config *cfg)
{
	char **paths = NULL, why[PATH_MAX + 64];
	int dfd, list_fd, err = 0;
	struct stat st;
	size_t n = 0;

	dfd = safeopen(-1, ld->path, SAFEOPEN_DIR, why, sizeof(why));
	list_fd = dfd;
	if (dfd == -EPERM) {
		/* list it all the same, so each plugin shows as refused and why;
		 * nothing in it is opened */
		list_fd = open(ld->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (list_fd < 0)
			list_fd = -errno;
	}
	if (list_fd == -ENOENT || list_fd == -ENOTDIR) {
		if (ld->optional)
			log_debug("plugin directory %s: %s; skipped", ld->path, strerror(-list_fd));
		else
			config_error(cfg, "plugin directory %s: %s", ld->path, strerror(-list_fd));
	} else if (list_fd < 0) {
		err = list_fd;
	} else if (fstat(list_fd, &st) < 0) {
		err = -errno;
	} else {
		for (size_t i = 0; i < *n_seen; i++)
			if (seen[i].st_dev == st.st_dev && seen[i].st_ino == st.st_ino)
				goto out;
		seen[(*n_seen)++] = st;
		err = list_candidates(list_fd, &paths, &n);
	}
	for (size_t i = 0; i < n; i++) {
		if (!err)
			open_one(dfd, ld->path, why, paths[i]);
		free(paths[i]);
	}
out:
	free(paths);
	if (list_fd >= 0)
		close(list_fd);
	if (dfd >= 0 && dfd != list_fd)
		close(dfd);
	return err;
}

/* A [plugin NAME] section with no plugin of that name: a misspelt name is
 * an error (with the closest name), as an unknown key is. A section that
 * only switches a plugin off is fine: a plugin that is not there is off. */
static void check_orphan_section(struct config *cfg, const struct config_section *s)
{
	char at[512], hint[NAME_CMP_MAX + 32];
	bool on = true;

	for (size_t i = 0; i < n_plugins; i++)
		if (plugins[i]->name && !strcmp(plugins[i]->name, s->name)) {
			/* found but refused: its refusal is reported already */
			log_debug("%s: [plugin %s]: the plugin is not loaded (%s)",
				  config_where(cfg, s->line, at, sizeof(at)), s->name,
				  plugins[i]->reason ? plugins[i]->reason : "refused");
			return;
		}
	if (s->n_entries == 1 && !strcmp(s->entries[0].key, "enabled") &&
	    !config_parse_bool(s->entries[0].value, &on) && !on) {
		log_debug("%s: [plugin %s]: no such plugin; it stays off",
			  config_where(cfg, s->line, at, sizeof(at)), s->name);
		return;
	}
	did_you_mean(s->name, strlen(s->name), hint, sizeof(hint));
	config_error(cfg, "%s: [plugin %s]: no plugin named '%s' was found in the plugin search "
		     "path%s", config_where(cfg, s->line, at, sizeof(at)), s->name, s->name,
		     hint[0] ? hint : "; install it, or remove the section (or leave only "
				      "'enabled = false' in it)");
}

int loader_discover(const struct loader_opts *opts, struct config *cfg)
{
	struct stat *seen = calloc(opts->n_dirs + 1, sizeof(*seen));
	size_t n_seen = 0;
	char at[512];
	int err = 0;

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; !err && i < opts->n_dirs; i++)
		err = discover_dir(&opts->dirs[i], seen, &n_seen, cfg);
	free(seen);
	if (err)
		return err;
	check_list(cfg, "--enable", opts->enable);
	check_list(cfg, "--disable", opts->disable);
	if (opts->only) {
		char where[600];

		snprintf(where, sizeof(where), "%s: plugins",
			 config_where(cfg, opts->only_line, at, sizeof(at)));
		check_list(cfg, where, opts->only);
	}
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = &cfg->sections[i];
		struct smcp_host *p;

		if (!s->is_plugin)
			continue;
		p = find_plugin(s->name);
		if (!p) {
			check_orphan_section(cfg, s);
			continue;
		}
		p->cfg = s;
		config_validate(cfg, s, p->info->config_keys);
	}
	/* the most specific word wins: [core] plugins for every plugin, then
	 * its own section's enabled, then --enable, then --disable */
	for (size_t i = 0; i < n_plugins; i++) {
		struct smcp_host *p = plugins[i];
		const char *v, *why = "";
		bool on = true;

		if (p->state == PLUGIN_REFUSED)
			continue;
		if (opts->only && !in_list(opts->only, p->name)) {
			on = false;
			why = "the config file (not in [core] plugins)";
		}
		if ((v = config_value(p->cfg, "enabled", NULL)) && !config_parse_bool(v, &on))
			why = "the config file (its section says enabled = false)";
		if (opts->enable) {
			on = in_list(opts->enable, p->name);
			why = "the command line (not in --enable)";
		}
		if (opts->disable && in_list(opts->disable, p->name)) {
			on = false;
			why = "the command line (--disable)";
		}
		if (!on)
			set_reason(p, PLUGIN_DISABLED, "disabled by %s", why);
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
	host_release(p);
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
