/* SPDX-License-Identifier: MIT */
/* State of the event_lister plugin, shared by its resources and its tools. */
#ifndef SMCP_EL_H
#define SMCP_EL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

#include "kfuncs.h"
#include "tracefs.h"

/* list_events: rows per page (default, maximum, and maximum with formats). */
#define EL_DEFAULT_LIMIT 100
#define EL_MAX_LIMIT 1000
#define EL_MAX_FORMAT_LIMIT 10
/* A page stops early once its names take this many bytes, so a page of
 * long module function names stays well inside the answer limit. */
#define EL_PAGE_BYTES 24576
/* events://perf/{subsystem} lists at most this many events. */
#define EL_SUBSYS_MAX_ROWS 400
/* events://kprobe shows this many names before pointing at list_events. */
#define EL_KPROBE_PREVIEW 100

struct el_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	char root[PATH_MAX];
	bool may_mount;
	uint64_t ttl_ns;

	struct tracefs tfs;

	struct ev_catalog ev;
	bool ev_ok;
	uint64_t ev_at_ns;
	char ev_reason[384];

	struct kf_list kf;
	bool kf_ok;
	uint64_t kf_at_ns;
	uint64_t kf_build_us;
	char kf_reason[512];
};

/*
 * The tracepoint catalog, re-read when older than the cache lifetime.
 * Returns 0, or -errno with p->ev_reason saying why in words.
 */
int el_events(struct el_plugin *p);
/* The kernel function list, likewise; p->kf_reason on failure. */
int el_kfuncs(struct el_plugin *p);

/* Writers shared by resources and tools. */
int el_emit_tracefs_source(struct el_plugin *p, struct smcp_json *j);
int el_emit_kprobe_source(struct el_plugin *p, struct smcp_json *j);
int el_emit_format(struct el_plugin *p, struct smcp_json *j, const char *key,
		   const char *full_name, bool with_print_fmt);

/* Tools (el_tools.c). */
int el_register_tools(struct el_plugin *p);

#endif
