/* SPDX-License-Identifier: MIT */
/*
 * One Prometheus HTTP API request (/api/v1/query or /api/v1/query_range),
 * made with libcurl on a host worker thread (work_submit), never on the
 * loop: a slow or dead Prometheus costs a worker at most timeout_ms.
 * Nothing here calls the host API.
 */
#ifndef FLEET_QUERY_H
#define FLEET_QUERY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define FLEET_QUERY_MAX_BYTES (4u << 20) /* a larger answer is refused */

struct fleet_query {
	char *url;	     /* the whole request URL (fleet_query_url) */
	const char *token;   /* bearer token for Prometheus, or NULL (borrowed) */
	long timeout_ms;
	/* out */
	cJSON *data;	     /* the answer's "data" object when status is success */
	char error[512];     /* why not, for the model and the user */
};

/* base + path + "?query=" promql (URL-escaped) + extra (already escaped,
 * "&start=...&end=...&step=..." or ""). NULL when out of memory. */
char *fleet_query_url(const char *base, const char *path, const char *promql, const char *extra);
/* Run q (blocking, on a worker). 0, or -errno with q->error saying why:
 * -ETIMEDOUT, -ECONNREFUSED, -EIO (HTTP or Prometheus error), -EMSGSIZE. */
int fleet_query_run(struct fleet_query *q);
void fleet_query_clear(struct fleet_query *q);

#endif
