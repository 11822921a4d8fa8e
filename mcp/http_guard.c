/* SPDX-License-Identifier: MIT */
#include "http_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TOKEN_FILE 16384
#define MAX_ORIGINS 32

static struct {
	char *tokens[GUARD_MAX_TOKENS];
	size_t token_len[GUARD_MAX_TOKENS];
	int n_tokens;
	char *origins[MAX_ORIGINS];
	int n_origins;
} g;

bool guard_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
	/* every byte of a is looked at whatever b is, so the time says how
	 * long the presented token was and nothing about the stored one */
	volatile size_t diff = a_len ^ b_len;

	if (!b_len)
		return false;
	for (size_t i = 0; i < a_len; i++)
		diff |= (size_t)((unsigned char)a[i] ^ (unsigned char)b[i % b_len]);
	return diff == 0;
}

int guard_read_file(const char *path, size_t max, char **ret, char *why, size_t why_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), err = 0;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	if (fd < 0) {
		err = -errno;
		snprintf(why, why_len, "cannot open it: %s", strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		err = -EINVAL;
		snprintf(why, why_len, "not a regular file of at most %zu bytes", max);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		snprintf(why, why_len, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			snprintf(why, why_len, "cannot read it: %s", strerror(-err));
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

void guard_free(void)
{
	for (int i = 0; i < g.n_tokens; i++) {
		/* not left behind in freed heap memory */
		explicit_bzero(g.tokens[i], g.token_len[i]);
		free(g.tokens[i]);
	}
	for (int i = 0; i < g.n_origins; i++)
		free(g.origins[i]);
	memset(&g, 0, sizeof(g));
}

bool guard_has_tokens(void)
{
	return g.n_tokens > 0;
}

int guard_load_tokens(const char *path, uid_t owner_uid, char *why, size_t why_len)
{
	char *buf = NULL, *line, *save = NULL;
	struct stat st;
	size_t blen;
	int err;

	if (lstat(path, &st) < 0) {
		err = -errno;
		snprintf(why, why_len, "token file: %s", strerror(errno));
		return err;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != owner_uid) ||
	    (st.st_mode & 077)) {
		snprintf(why, why_len, "token file: must be a regular file owned by root (or the "
			 "daemon's account) with mode 0600 or 0400 (chmod 600; chown root)");
		return -EPERM;
	}
	err = guard_read_file(path, MAX_TOKEN_FILE, &buf, why, why_len);
	if (err)
		return err;
	blen = strlen(buf);
	for (line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		size_t n;

		while (*line == ' ' || *line == '\t')
			line++;
		n = strlen(line);
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (!n || line[0] == '#')
			continue;
		for (size_t i = 0; i < n; i++) {
			if (!isgraph((unsigned char)line[i])) {
				snprintf(why, why_len, "token file: a token has a character "
					 "that is not visible ASCII");
				err = -EINVAL;
				goto out;
			}
		}
		if (n < GUARD_MIN_TOKEN_LEN || g.n_tokens == GUARD_MAX_TOKENS) {
			snprintf(why, why_len, n < GUARD_MIN_TOKEN_LEN
				 ? "token file: a token is shorter than %d characters (make one: "
				   "head -c 32 /dev/urandom | base64)"
				 : "token file: more than %d tokens",
				 n < GUARD_MIN_TOKEN_LEN ? GUARD_MIN_TOKEN_LEN : GUARD_MAX_TOKENS);
			err = -EINVAL;
			goto out;
		}
		g.tokens[g.n_tokens] = strndup(line, n);
		if (!g.tokens[g.n_tokens]) {
			err = -ENOMEM;
			goto out;
		}
		g.token_len[g.n_tokens++] = n;
	}
	if (!g.n_tokens) {
		snprintf(why, why_len, "token file: no token in it");
		err = -EINVAL;
	}
out:
	explicit_bzero(buf, blen);
	free(buf);
	if (err) {
		guard_free();
		return err;
	}
	return g.n_tokens;
}

bool guard_bearer_ok(const char *h)
{
	bool ok = false;
	size_t n;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n && h[n - 1] == ' ')
		n--;
	/* every token is compared, so the time does not say which matched */
	for (int i = 0; i < g.n_tokens; i++)
		ok |= guard_equal(h, n, g.tokens[i], g.token_len[i]);
	return ok;
}

int guard_set_origins(const char *list)
{
	const char *p = list;

	while (p && *p) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (!n)
			break;
		if (g.n_origins == MAX_ORIGINS)
			return -EINVAL;
		g.origins[g.n_origins] = strndup(p, n);
		if (!g.origins[g.n_origins])
			return -ENOMEM;
		g.n_origins++;
		p += n;
	}
	return 0;
}

/* host[:port] (host possibly "[v6]") names a loopback address */
static bool hostport_loopback(const char *s, size_t n)
{
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t k = strlen(names[i]);

		if (n < k || strncasecmp(s, names[i], k) != 0)
			continue;
		if (n == k)
			return true;
		if (s[k] != ':' || n == k + 1)
			continue;
		for (size_t j = k + 1; j < n; j++)
			if (!isdigit((unsigned char)s[j]))
				return false;
		return n - k - 1 <= 5;
	}
	return false;
}

bool guard_host_loopback(const char *host)
{
	return host && hostport_loopback(host, strlen(host));
}

bool guard_origin_ok(const char *origin)
{
	const char *rest;

	if (!origin)
		return true;
	for (int i = 0; i < g.n_origins; i++)
		if (strcasecmp(origin, g.origins[i]) == 0)
			return true;
	if (!strncasecmp(origin, "http://", 7))
		rest = origin + 7;
	else if (!strncasecmp(origin, "https://", 8))
		rest = origin + 8;
	else
		return false; /* "null" (a sandboxed page, a file:) and the like */
	return hostport_loopback(rest, strlen(rest));
}

bool guard_address_loopback(const char *address)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, address, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, address, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}
