/* SPDX-License-Identifier: MIT */
#include "fleet_query.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct body {
	char *p;
	size_t len;
	bool over;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *data)
{
	struct body *b = data;
	size_t add = size * n;
	char *nb;

	if (b->len + add > FLEET_QUERY_MAX_BYTES) {
		b->over = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	nb = realloc(b->p, b->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + b->len, ptr, add);
	b->p = nb;
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

char *fleet_query_url(const char *base, const char *path, const char *promql, const char *extra)
{
	char *q = curl_easy_escape(NULL, promql, 0), *url = NULL;
	size_t n, bl = strlen(base);

	if (!q)
		return NULL;
	while (bl && base[bl - 1] == '/')
		bl--;
	n = bl + strlen(path) + strlen(q) + strlen(extra) + 16;
	url = malloc(n);
	if (url)
		snprintf(url, n, "%.*s%s?query=%s%s", (int)bl, base, path, q, extra);
	curl_free(q);
	return url;
}

/* Prometheus says why in {"status":"error","errorType":..,"error":..} */
static void api_error(struct fleet_query *q, long code, const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");

	snprintf(q->error, sizeof(q->error), "Prometheus answered HTTP %ld%s%s", code,
		 cJSON_IsString(e) ? ": " : "", cJSON_IsString(e) ? e->valuestring : "");
}

int fleet_query_run(struct fleet_query *q)
{
	struct body b = { 0 };
	struct curl_slist *hdr = NULL;
	char auth[600];
	CURLcode rc;
	cJSON *j = NULL, *st;
	long code = 0;
	int err = 0;
	CURL *c = curl_easy_init();

	if (!c) {
		snprintf(q->error, sizeof(q->error), "cannot start an HTTP request (libcurl)");
		return -ENOMEM;
	}
	(void)curl_easy_setopt(c, CURLOPT_URL, q->url);
	/* no signals from a worker thread (the resolver's timeout) */
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms);
	(void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, q->timeout_ms);
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	(void)curl_easy_setopt(c, CURLOPT_USERAGENT, "schedmcp-fleet");
	if (q->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", q->token);
		hdr = curl_slist_append(hdr, auth);
		explicit_bzero(auth, sizeof(auth));
		(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	}
	rc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		err = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
		      : rc == CURLE_COULDNT_CONNECT  ? -ECONNREFUSED
		      : b.over			     ? -EMSGSIZE
						     : -EIO;
		snprintf(q->error, sizeof(q->error), "%s",
			 err == -ETIMEDOUT ? "Prometheus did not answer within the timeout"
			 : err == -EMSGSIZE ? "Prometheus's answer is over 4 MiB: narrow the query"
					    : curl_easy_strerror(rc));
		goto out;
	}
	j = cJSON_ParseWithLength(b.p ? b.p : "", b.len);
	st = cJSON_GetObjectItemCaseSensitive(j, "status");
	if (code != 200 || !cJSON_IsString(st) || strcmp(st->valuestring, "success") != 0) {
		api_error(q, code, j);
		err = -EIO;
		goto out;
	}
	q->data = cJSON_DetachItemFromObjectCaseSensitive(j, "data");
	if (!cJSON_IsObject(q->data)) {
		snprintf(q->error, sizeof(q->error), "Prometheus's answer has no data object");
		err = -EIO;
	}
out:
	cJSON_Delete(j);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	free(b.p);
	return err;
}

void fleet_query_clear(struct fleet_query *q)
{
	free(q->url);
	cJSON_Delete(q->data);
	q->url = NULL;
	q->data = NULL;
}
