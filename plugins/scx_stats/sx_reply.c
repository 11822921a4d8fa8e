/* SPDX-License-Identifier: MIT */
/*
 * A reply line, from whoever can bind the socket path: checked for size
 * before cJSON sees it (values and depth, counted on the text by
 * smcp_json_scan, the host's own input check: cJSON spends
 * ~80 bytes per value, so 4 MiB of "[0,0,..." would cost 330 MiB and
 * seconds), parsed, and repaired where one bad byte would otherwise lose the
 * whole reply (the host's writer refuses raw JSON that is not UTF-8).
 * Also what the walks over a reply share (sx_meta.c's extraction and the
 * sampler): paths built whole, or left out and counted, never cut.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/jsontext.h>

#include "sx.h"

/* *sp (a cJSON key or string) with each bad byte replaced by U+FFFD; 1 when
 * it changed, 0 when it was valid, -ENOMEM. The rules are the host's
 * (<schedmcp/jsontext.h>), so what is repaired here is what its writer
 * would accept. */
static int utf8_repair(char **sp)
{
	int err;
	char *out = smcp_utf8_repair(*sp, cJSON_malloc, &err);

	if (!out)
		return err ? -ENOMEM : 0;
	cJSON_free(*sp);
	*sp = out;
	return 1;
}

void sx_example(char *buf, size_t len, const char *path, size_t need)
{
	size_t n = need ? need : strlen(path);

	if (n < len && !need) {
		snprintf(buf, len, "%s", path);
		return;
	}
	/* 40 bytes leave room for "... (N bytes)"; a UTF-8 sequence cut here
	 * becomes U+FFFD in the host's writer, which is fine for an example */
	snprintf(buf, len, "%.*s... (%zu bytes)", (int)(len > 40 ? len - 40 : 0), path, n);
}

/* Whether snprintf's n fitted buf; a path that did not is counted, the
 * first one kept as the example. */
static bool path_fits(const char *buf, int n, struct sx_skips *k)
{
	if (n >= 0 && n < SX_PATH_MAX)
		return true;
	if (k->too_long++ == 0)
		sx_example(k->too_long_example, sizeof(k->too_long_example), buf,
			   n < 0 ? SX_PATH_MAX : (size_t)n);
	return false;
}

bool sx_path_join(char *buf, const char *path, const char *sep, const char *key,
		  struct sx_skips *k)
{
	return path_fits(buf, snprintf(buf, SX_PATH_MAX, "%s%s%s", path, *path ? sep : "", key), k);
}

bool sx_path_index(char *buf, const char *path, int idx, struct sx_skips *k)
{
	return path_fits(buf, snprintf(buf, SX_PATH_MAX, "%s[%d]", path, idx), k);
}

void sx_skip_repeated(struct sx_skips *k, const char *path)
{
	if (k->repeated++ == 0)
		sx_example(k->repeated_example, sizeof(k->repeated_example), path, 0);
}

bool sx_skips_note(const struct sx_skips *k, char *buf, size_t len)
{
	int n = 0;

	if (!k->too_long && !k->repeated)
		return false;
	buf[0] = '\0';
	if (k->too_long)
		n = snprintf(buf, len, "%zu path%s longer than %d bytes left out, not cut (cut "
				       "paths of different fields would merge), e.g. %s",
			     k->too_long, k->too_long == 1 ? "" : "s", SX_PATH_MAX - 1,
			     k->too_long_example);
	if (k->repeated && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n,
			 "%s%zu value%s left out whose path repeats one already taken (a key "
			 "twice in an object, or a key with a dot beside nested keys), e.g. %s",
			 n ? "; " : "", k->repeated, k->repeated == 1 ? "" : "s",
			 k->repeated_example);
	return true;
}

void sx_skips_emit(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		   const struct sx_skips *k)
{
	api->json_object(j, key);
	api->json_uint(j, "too_long", k->too_long);
	api->json_string(j, "too_long_example", k->too_long ? k->too_long_example : NULL);
	api->json_uint(j, "repeated", k->repeated);
	api->json_string(j, "repeated_example", k->repeated ? k->repeated_example : NULL);
	api->json_end(j);
}

/*
 * Repair every key and string under v (at most SX_REPLY_MAX_DEPTH deep:
 * count_values checked), path being v's. Paths are built only until the
 * first repair, the one a note names; after it repairs are only counted.
 */
static int repair_tree(cJSON *v, const char *path, int depth, struct sx_repair *r)
{
	char sub[SX_PATH_MAX];
	cJSON *e;
	int idx = 0, rc, n = 0;

	if (depth > SX_REPLY_MAX_DEPTH)
		return 0;
	if (cJSON_IsString(v) && v->valuestring) {
		rc = utf8_repair(&v->valuestring);
		if (rc > 0 && r->bad_utf8++ == 0)
			sx_example(r->bad_path, sizeof(r->bad_path), *path ? path : "(the value)",
				   0);
		return rc < 0 ? rc : 0;
	}
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return 0;
	sub[0] = '\0';
	cJSON_ArrayForEach(e, v) {
		bool key = cJSON_IsObject(v) && e->string;

		rc = key ? utf8_repair(&e->string) : 0;
		if (rc < 0)
			return rc;
		/* the path shown is the repaired one: U+FFFD where the bad byte was */
		if (!r->bad_utf8 || rc > 0)
			n = key ? snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
					   e->string)
				: snprintf(sub, sizeof(sub), "%s[%d]", path, idx);
		idx++;
		if (rc > 0 && r->bad_utf8++ == 0)
			sx_example(r->bad_path, sizeof(r->bad_path), sub,
				   n >= 0 && (size_t)n < sizeof(sub) ? 0 : (size_t)n);
		rc = repair_tree(e, sub, depth + 1, r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

bool sx_repair_note(const struct sx_repair *r, const char *what, char *buf, size_t len)
{
	if (!r->bad_utf8)
		return false;
	snprintf(buf, len, "%s held %zu key%s or string%s with bytes that are not UTF-8 (the "
			   "first at %s); each such byte was replaced by U+FFFD and the rest kept",
		 what, r->bad_utf8, r->bad_utf8 == 1 ? "" : "s", r->bad_utf8 == 1 ? "" : "s",
		 r->bad_path);
	return true;
}

void sx_repair_emit(const struct smcp_host_api *api, struct smcp_json *j,
		    const struct sx_repair *r)
{
	if (!r->bad_utf8)
		return;
	api->json_object(j, "invalid_utf8");
	api->json_uint(j, "strings", r->bad_utf8);
	api->json_string(j, "first_path", r->bad_path);
	api->json_string(j, "replaced_with", "U+FFFD");
	api->json_end(j);
}

int sx_reply_parse(const char *line, size_t len, size_t max_values, cJSON **ret_root,
		   const cJSON **ret_resp, int *ret_errno, struct sx_repair *ret_repair, char *why,
		   size_t why_len)
{
	const cJSON *eno, *args, *resp;
	struct smcp_json_counts scan;
	cJSON *root;

	*ret_root = NULL;
	*ret_resp = NULL;
	*ret_errno = 0;
	if (ret_repair)
		memset(ret_repair, 0, sizeof(*ret_repair));
	smcp_json_scan(line, len, max_values, SX_REPLY_MAX_DEPTH, &scan);
	if (max_values && scan.values > max_values) {
		snprintf(why, why_len, "the reply holds more than %zu JSON values "
				       "(max_reply_values); it was not parsed", max_values);
		return -E2BIG;
	}
	if (scan.depth > SX_REPLY_MAX_DEPTH) {
		snprintf(why, why_len, "the reply nests deeper than %d levels; it was not parsed",
			 SX_REPLY_MAX_DEPTH);
		return -E2BIG;
	}
	root = cJSON_ParseWithLength(line, len);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(why, why_len, "the reply is not a JSON object (%zu bytes: \"%.60s%s\")",
			 len, line, len > 60 ? "..." : "");
		cJSON_Delete(root);
		return -EPROTO;
	}
	eno = cJSON_GetObjectItemCaseSensitive(root, "errno");
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	resp = cJSON_GetObjectItemCaseSensitive(args, "resp");
	if (!cJSON_IsNumber(eno) || !resp) {
		snprintf(why, why_len, "the reply lacks errno or args.resp: not the scx_stats "
				       "protocol");
		cJSON_Delete(root);
		return -EPROTO;
	}
	if (eno->valuedouble != 0) {
		double d = eno->valuedouble;
		/* An errno is a small positive integer; anything else (negative, fractional,
		 * 1e300, NaN) is reported as a protocol error, never converted (UB). */
		int e = d >= 1 && d <= 4095 && d == (double)(int)d ? (int)d : EPROTO;

		*ret_errno = e;
		if (e == EPROTO && d != EPROTO)
			snprintf(why, why_len, "the scheduler answered an errno that is not one "
					       "(%.6g): %.300s", d,
				 cJSON_IsString(resp) ? resp->valuestring : "(no message)");
		else
			snprintf(why, why_len, "the scheduler answered errno %d (%s): %.300s", e,
				 strerror(e),
				 cJSON_IsString(resp) ? resp->valuestring : "(no message)");
		cJSON_Delete(root);
		return -EREMOTEIO;
	}
	/*
	 * cJSON turns \u escapes into valid UTF-8 only (it refuses lone
	 * surrogates), so a tree holds bad bytes only when the line does: the
	 * common valid line costs one scan. resp belongs to root, ours to change.
	 */
	if (!smcp_utf8_valid(line, len)) {
		struct sx_repair r = { 0 };

		if (repair_tree((cJSON *)resp, "", 0, &r) < 0) {
			snprintf(why, why_len, "out of memory repairing the reply");
			cJSON_Delete(root);
			return -ENOMEM;
		}
		if (ret_repair)
			*ret_repair = r;
	}
	*ret_root = root;
	*ret_resp = resp;
	return 0;
}
