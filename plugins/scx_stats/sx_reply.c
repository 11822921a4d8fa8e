/* SPDX-License-Identifier: MIT */
/*
 * A reply line from the stats socket, into cJSON: apart from the connection
 * (sx_conn.c), since what a reply holds is the business of those who read
 * it, and it is fuzzed on its own (tests/fuzz/fuzz_scx_stats.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sx.h"

int sx_reply_parse(const char *line, size_t len, cJSON **ret_root, const cJSON **ret_resp,
		   int *ret_errno, char *why, size_t why_len)
{
	cJSON *root = cJSON_ParseWithLength(line, len);
	const cJSON *eno, *args, *resp;

	*ret_root = NULL;
	*ret_resp = NULL;
	*ret_errno = 0;
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
	*ret_root = root;
	*ret_resp = resp;
	return 0;
}
