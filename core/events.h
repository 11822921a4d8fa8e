/* SPDX-License-Identifier: MIT */
/* The live event stream: a bounded ring of events published by plugins,
 * served as events://stream (with update notifications to subscribers) and
 * by the poll_events tool with a cursor, for clients that cannot subscribe. */
#ifndef SMCP_EVENTS_H
#define SMCP_EVENTS_H

#include <schedmcp/plugin.h>

/* Register events://stream and poll_events through the core's host record. */
int events_init(struct smcp_host *core, const struct smcp_host_api *api, uint32_t capacity);
void events_fini(void);

struct smcp_json *events_begin(struct smcp_host *h, const char *type);
int events_commit(struct smcp_host *h, struct smcp_json *ev);

#endif
