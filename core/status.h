/* SPDX-License-Identifier: MIT */
/* schedmcp://plugins: what is loaded, degraded, failed or refused, and why. */
#ifndef SMCP_STATUS_H
#define SMCP_STATUS_H

#include <schedmcp/plugin.h>

int status_init(struct smcp_host *core, const struct smcp_host_api *api);
/* Write the plugin list into j (shared with --list-plugins --json). */
void status_write_plugins(const struct smcp_host_api *api, struct smcp_json *j);

#endif
