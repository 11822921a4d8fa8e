/* SPDX-License-Identifier: MIT */
/*
 * tracefs: where it is, the tracepoint catalog read from available_events,
 * and one event's format (fields and types) read from events/S/E/format.
 */
#ifndef SMCP_EL_TRACEFS_H
#define SMCP_EL_TRACEFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "el_util.h"

struct tracefs {
	bool found;
	bool mounted_by_us;  /* we mounted it (it stays mounted) */
	char dir[PATH_MAX];  /* fs_root + mount point, no trailing slash */
	char where[PATH_MAX]; /* the mount point as the system names it */
	char how[96];        /* how it was found, for the answer's source */
	char reason[320];    /* why it was not found */
};

/*
 * Find tracefs under root: a tracefs mount in root/proc/mounts, else the
 * tracing folder of a debugfs mount, else the usual places. When none has
 * available_events and root is "" (the live system) and may_mount is set,
 * mount tracefs on /sys/kernel/tracing. Returns 0 with t->found set, or
 * -ENOENT/-EPERM/... with t->reason saying why in words.
 */
int tracefs_find(const char *root, bool may_mount, struct tracefs *t);

struct ev_subsys {
	char *name;
	uint32_t first, count; /* range in ev_catalog.ent */
};

/* The tracepoints of available_events, sorted, grouped by subsystem. */
struct ev_catalog {
	struct strtab names;  /* "subsystem:event" */
	uint32_t *ent;        /* offsets into names, sorted */
	size_t n;
	struct ev_subsys *subs;
	size_t n_subs;
	size_t lines;         /* non-empty lines in the file */
	size_t duplicates;    /* lines that repeated an earlier one */
	size_t malformed;     /* lines without "subsystem:event" */
};

/* Read tracefs_dir/available_events into c (replacing nothing: c must be
 * zeroed or freed). 0 or -errno. */
int el_catalog_read(const char *tracefs_dir, struct ev_catalog *c);
void el_catalog_free(struct ev_catalog *c);
const struct ev_subsys *el_catalog_subsys(const struct ev_catalog *c, const char *name);

static inline const char *ev_catalog_name(const struct ev_catalog *c, size_t i)
{
	return strtab_str(&c->names, c->ent[i]);
}

/* The part after "subsystem:". */
const char *el_event_part(const char *full);

#define EV_MAX_FIELDS 128

struct ev_field {
	char type[112]; /* C type, array bounds folded in: "char[16]" */
	char name[64];
	int offset, size;
	bool is_signed;
	bool common; /* common_* fields every event has */
};

struct ev_format {
	char name[128];
	long long id;           /* -1 when the format has no ID line */
	struct ev_field *fields;
	size_t n_fields;
	size_t n_skipped;       /* field lines that did not parse */
	char *print_fmt;        /* may be NULL */
};

/* Parse tracefs_dir/events/<subsystem>/<event>/format. -ENOENT when the
 * event does not exist, -EINVAL for bad names (no '/' or ".."). */
int el_format_read(const char *tracefs_dir, const char *subsystem, const char *event,
		   struct ev_format *f);
void el_format_free(struct ev_format *f);

#endif
