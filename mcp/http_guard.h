/* SPDX-License-Identifier: MIT */
/*
 * Who may talk to the HTTP transport: bearer tokens from a file, allowed
 * Origins, loopback Host names. Private to mcp/http.c (and its tests); no
 * function here logs what it was given.
 */
#ifndef SMCP_MCP_HTTP_GUARD_H
#define SMCP_MCP_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define GUARD_MIN_TOKEN_LEN 16
#define GUARD_MAX_TOKENS 16

/*
 * Read the tokens of path: one a line, blank lines and '#' lines skipped,
 * each at least GUARD_MIN_TOKEN_LEN visible ASCII characters. The file must
 * be a regular file owned by root or by owner_uid, with no group or other
 * permission bits (0600 or 0400), or it is refused (-EPERM). Returns the
 * number of tokens (> 0) or -errno with the reason in why.
 */
int guard_load_tokens(const char *path, uid_t owner_uid, char *why, size_t why_len);
void guard_free(void);
bool guard_has_tokens(void);
/* The value of an Authorization header carries one of the tokens. Its time
 * depends on the length of what was presented only, not on the tokens. */
bool guard_bearer_ok(const char *authorization);

/* The Origins allowed besides the loopback ones ("scheme://host[:port]",
 * separated by commas or spaces). 0 or -ENOMEM/-EINVAL. */
int guard_set_origins(const char *list);
/* No Origin header (not a browser), an allowed one, or a loopback one
 * (http(s)://localhost, 127.0.0.1 or [::1], any port). */
bool guard_origin_ok(const char *origin);
/* A Host header naming a loopback address (with an optional port). */
bool guard_host_loopback(const char *host);
/* A numeric address that is a loopback one (127.0.0.0/8, ::1). */
bool guard_address_loopback(const char *address);

/* Read a whole small file (TLS key or certificate) into a NUL-terminated
 * buffer of at most max bytes; *ret is the caller's. 0 or -errno. */
int guard_read_file(const char *path, size_t max, char **ret, char *why, size_t why_len);

/* The same in constant time (as long as b_len). */
bool guard_equal(const char *a, size_t a_len, const char *b, size_t b_len);

#endif
