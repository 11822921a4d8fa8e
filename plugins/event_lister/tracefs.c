/* SPDX-License-Identifier: MIT */
/* Finding (and if need be mounting) tracefs, and reading what it lists. */
#include "tracefs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <schedmcp/array.h>

#define MOUNTS_MAX (4u << 20)
#define EVENTS_MAX (16u << 20)
#define FORMAT_MAX (256u << 10)
#define DEFAULT_TRACEFS "/sys/kernel/tracing"

/* /proc/mounts escapes space, tab, newline and backslash as \ooo. */
static void unescape_mount(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/*
 * Whether root+where holds a readable available_events; fills t if so, else
 * leaves why in errno. Opened, not access()ed: access() asks for the real
 * uid without capabilities, while reads use the effective ones, and tracefs
 * is root's alone: the daemon reaches it as its own account through
 * CAP_DAC_READ_SEARCH (under systemd from the start, after the drop later).
 * Non-blocking: under --fs-root the file may be a FIFO.
 */
static bool try_dir(struct tracefs *t, const char *root, const char *where, const char *how)
{
	char dir[PATH_MAX], file[PATH_MAX];
	int fd;

	if (el_path(dir, sizeof(dir), root, where) ||
	    el_path(file, sizeof(file), dir, "/available_events"))
		return false;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	close(fd);
	t->found = true;
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	snprintf(t->where, sizeof(t->where), "%s", where);
	snprintf(t->how, sizeof(t->how), "%s", how);
	return true;
}

static bool from_mounts(struct tracefs *t, const char *root)
{
	char path[PATH_MAX], *buf = NULL, *line, *save = NULL;
	size_t len;
	bool ok = false;

	if (el_path(path, sizeof(path), root, "/proc/mounts") ||
	    smcp_slurp(NULL, path, MOUNTS_MAX, &buf, &len))
		return false;
	/* tracefs mounts first: a debugfs/tracing automount is the fallback */
	for (int pass = 0; pass < 2 && !ok; pass++) {
		char *copy = strdup(buf);

		if (!copy)
			break;
		for (line = strtok_r(copy, "\n", &save); line && !ok;
		     line = strtok_r(NULL, "\n", &save)) {
			char dev[256], mnt[PATH_MAX - 16], type[64];

			if (sscanf(line, "%255s %4079s %63s", dev, mnt, type) != 3)
				continue;
			unescape_mount(mnt);
			if (pass == 0 && strcmp(type, "tracefs") == 0) {
				ok = try_dir(t, root, mnt, "tracefs mount listed in /proc/mounts");
				if (!ok && !t->reason[0])
					snprintf(t->reason, sizeof(t->reason),
						 "tracefs is mounted on %s but %s/available_events "
						 "cannot be read: %s (tracefs is root-only by "
						 "default: run schedmcp as root)",
						 mnt, mnt, strerror(errno));
			} else if (pass == 1 && strcmp(type, "debugfs") == 0) {
				char sub[PATH_MAX];

				snprintf(sub, sizeof(sub), "%s/tracing", mnt);
				ok = try_dir(t, root, sub, "tracing folder of the debugfs mount");
			}
		}
		free(copy);
	}
	free(buf);
	return ok;
}

int tracefs_find(const char *root, bool may_mount, struct tracefs *t)
{
	memset(t, 0, sizeof(*t));
	if (from_mounts(t, root))
		return 0;
	if (try_dir(t, root, DEFAULT_TRACEFS, "found at the usual place") ||
	    try_dir(t, root, "/sys/kernel/debug/tracing", "found at the usual debugfs place"))
		return 0;
	if (t->reason[0])
		return -EACCES; /* mounted but unreadable: mounting again would not help */
	if (root && *root) {
		snprintf(t->reason, sizeof(t->reason),
			 "no tracefs with available_events under %s (checked proc/mounts, "
			 "sys/kernel/tracing and sys/kernel/debug/tracing)",
			 root);
		return -ENOENT;
	}
	if (!may_mount) {
		snprintf(t->reason, sizeof(t->reason),
			 "tracefs is not mounted and mount_tracefs = false; mount it with: "
			 "mount -t tracefs nodev " DEFAULT_TRACEFS);
		return -ENOENT;
	}
	if (mount("nodev", DEFAULT_TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		int err = -errno;

		switch (err) {
		case -EPERM:
			snprintf(t->reason, sizeof(t->reason),
				 "tracefs is not mounted and mounting it needs CAP_SYS_ADMIN: run "
				 "as root or mount it with: mount -t tracefs nodev " DEFAULT_TRACEFS);
			break;
		case -ENODEV:
			snprintf(t->reason, sizeof(t->reason),
				 "this kernel has no tracefs (CONFIG_TRACING is off)");
			break;
		default:
			snprintf(t->reason, sizeof(t->reason),
				 "tracefs is not mounted and mounting it on " DEFAULT_TRACEFS
				 " failed: %s",
				 strerror(-err));
		}
		return err;
	}
	if (try_dir(t, root, DEFAULT_TRACEFS, "mounted by schedmcp (it stays mounted)")) {
		t->mounted_by_us = true;
		return 0;
	}
	snprintf(t->reason, sizeof(t->reason),
		 "mounted tracefs on " DEFAULT_TRACEFS " but it has no readable available_events");
	return -ENOENT;
}

/* ------------------------------------------------------------- catalog */

static int cmp_names(const void *a, const void *b, void *arg)
{
	const struct strtab *t = arg;

	return strcmp(strtab_str(t, *(const uint32_t *)a), strtab_str(t, *(const uint32_t *)b));
}

const char *el_event_part(const char *full)
{
	const char *c = strchr(full, ':');

	return c ? c + 1 : full;
}

static int cmp_subsys(const void *a, const void *b)
{
	return strcmp(((const struct ev_subsys *)a)->name, ((const struct ev_subsys *)b)->name);
}

static int build_subsystems(struct ev_catalog *c)
{
	size_t cap = 0;

	for (size_t i = 0; i < c->n; i++) {
		const char *name = ev_catalog_name(c, i);
		size_t sl = (size_t)(el_event_part(name) - 1 - name);
		struct ev_subsys *last = c->n_subs ? &c->subs[c->n_subs - 1] : NULL;

		if (last && strlen(last->name) == sl && strncmp(last->name, name, sl) == 0) {
			last->count++;
			continue;
		}
		if (smcp_array_grow(&c->subs, &cap, c->n_subs, sizeof(*c->subs), 128))
			return -ENOMEM;
		c->subs[c->n_subs].name = strndup(name, sl);
		if (!c->subs[c->n_subs].name)
			return -ENOMEM;
		c->subs[c->n_subs].first = (uint32_t)i;
		c->subs[c->n_subs].count = 1;
		c->n_subs++;
	}
	if (c->n_subs > 1) /* subs is NULL for an empty catalog */
		qsort(c->subs, c->n_subs, sizeof(*c->subs), cmp_subsys);
	return 0;
}

int el_catalog_read(const char *tracefs_dir, struct ev_catalog *c)
{
	char path[PATH_MAX], *buf = NULL, *p, *nl;
	size_t len, cap = 0, w = 0;
	int err;

	memset(c, 0, sizeof(*c));
	err = el_path(path, sizeof(path), tracefs_dir, "/available_events");
	if (!err)
		err = smcp_slurp(NULL, path, EVENTS_MAX, &buf, &len);
	if (err)
		return err;
	for (p = buf; *p; p = nl ? nl + 1 : p + strlen(p)) {
		size_t l;
		char *colon;

		nl = strchr(p, '\n');
		l = nl ? (size_t)(nl - p) : strlen(p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\r'))
			l--;
		if (!l)
			continue;
		c->lines++;
		colon = memchr(p, ':', l);
		if (!colon || colon == p || colon == p + l - 1) {
			c->malformed++;
			continue;
		}
		err = smcp_array_grow(&c->ent, &cap, c->n, sizeof(*c->ent), 4096);
		if (err)
			goto out;
		err = el_strtab_add(&c->names, p, l, &c->ent[c->n]);
		if (err)
			goto out;
		c->n++;
	}
	if (c->n > 1) /* ent is NULL when no line named an event */
		qsort_r(c->ent, c->n, sizeof(*c->ent), cmp_names, &c->names);
	for (size_t i = 0; i < c->n; i++) {
		if (w && strcmp(ev_catalog_name(c, w - 1), ev_catalog_name(c, i)) == 0) {
			c->duplicates++;
			continue;
		}
		c->ent[w++] = c->ent[i];
	}
	c->n = w;
	err = build_subsystems(c);
out:
	free(buf);
	if (err)
		el_catalog_free(c);
	return err;
}

void el_catalog_free(struct ev_catalog *c)
{
	for (size_t i = 0; i < c->n_subs; i++)
		free(c->subs[i].name);
	free(c->subs);
	free(c->ent);
	el_strtab_free(&c->names);
	memset(c, 0, sizeof(*c));
}

const struct ev_subsys *el_catalog_subsys(const struct ev_catalog *c, const char *name)
{
	/* subsystems are in the order of their "name:" prefixes, which is not
	 * strcmp order of the bare names ("a1" sorts before "a:"), so search
	 * linearly: there are about a hundred */
	for (size_t i = 0; i < c->n_subs; i++)
		if (strcmp(c->subs[i].name, name) == 0)
			return &c->subs[i];
	return NULL;
}

/* -------------------------------------------------------------- format */

static bool safe_component(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strlen(s) < 128;
}

/*
 * "field:unsigned char common_flags;" / "field:char prev_comm[16];" /
 * "field:__data_loc char[] name;": the name is the last identifier, the
 * type everything before it with any array bound moved onto the type.
 */
static int parse_field(const char *decl, size_t len, struct ev_field *f)
{
	char d[192], bound[32] = "";
	char *end, *name;
	size_t l = len < sizeof(d) - 1 ? len : sizeof(d) - 1;

	memcpy(d, decl, l);
	d[l] = '\0';
	end = d + strlen(d);
	while (end > d && end[-1] == ' ')
		*--end = '\0';
	if (end > d && end[-1] == ']') {
		char *ob = strrchr(d, '[');

		if (!ob)
			return -EINVAL;
		snprintf(bound, sizeof(bound), "%s", ob);
		*ob = '\0';
		end = ob;
	}
	name = end;
	while (name > d && (name[-1] == '_' || (name[-1] >= 'a' && name[-1] <= 'z') ||
			    (name[-1] >= 'A' && name[-1] <= 'Z') ||
			    (name[-1] >= '0' && name[-1] <= '9')))
		name--;
	if (name == end || name == d)
		return -EINVAL;
	snprintf(f->name, sizeof(f->name), "%s", name);
	while (name > d && name[-1] == ' ')
		name--;
	*name = '\0';
	snprintf(f->type, sizeof(f->type), "%s%s", d, bound);
	f->common = strncmp(f->name, "common_", 7) == 0;
	return 0;
}

/* A number of a field line; atoi is undefined past INT_MAX, so clamp. */
static int field_int(const char *s)
{
	long v = strtol(s, NULL, 10);

	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static int parse_format(char *buf, struct ev_format *f)
{
	size_t cap = 0;

	f->id = -1;
	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		char *s = line, *semi;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, "name: ", 6) == 0) {
			snprintf(f->name, sizeof(f->name), "%s", s + 6);
		} else if (strncmp(s, "ID: ", 4) == 0) {
			f->id = strtoll(s + 4, NULL, 10);
		} else if (strncmp(s, "print fmt: ", 11) == 0) {
			free(f->print_fmt);
			f->print_fmt = strdup(s + 11);
			if (!f->print_fmt)
				return -ENOMEM;
		} else if (strncmp(s, "field:", 6) == 0 && (semi = strchr(s, ';'))) {
			struct ev_field fld = { 0 };
			const char *o = strstr(semi, "offset:"), *z = strstr(semi, "size:");
			const char *g = strstr(semi, "signed:");

			if (parse_field(s + 6, (size_t)(semi - s - 6), &fld) || !o || !z) {
				f->n_skipped++;
				continue;
			}
			fld.offset = field_int(o + 7);
			fld.size = field_int(z + 5);
			fld.is_signed = g && field_int(g + 7) != 0;
			if (f->n_fields == EV_MAX_FIELDS) {
				f->n_skipped++;
				continue;
			}
			if (smcp_array_grow(&f->fields, &cap, f->n_fields, sizeof(*f->fields), 16))
				return -ENOMEM;
			f->fields[f->n_fields++] = fld;
		}
	}
	return 0;
}

int el_format_read(const char *tracefs_dir, const char *subsystem, const char *event,
		   struct ev_format *f)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	int n, err;

	memset(f, 0, sizeof(*f));
	if (!safe_component(subsystem) || !safe_component(event))
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/events/%s/%s/format", tracefs_dir, subsystem, event);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	err = smcp_slurp(NULL, path, FORMAT_MAX, &buf, &len);
	if (err)
		return err;
	err = parse_format(buf, f);
	free(buf);
	if (err)
		el_format_free(f);
	return err;
}

void el_format_free(struct ev_format *f)
{
	free(f->fields);
	free(f->print_fmt);
	memset(f, 0, sizeof(*f));
}
