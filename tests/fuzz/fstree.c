/* SPDX-License-Identifier: MIT */
#include "fstree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PATH_LEN 200
#define MAX_DEPTH 12

static struct fstree *registered;

static void cleanup_at_exit(void)
{
	if (registered) {
		fstree_clear(registered);
		(void)rmdir(registered->root);
	}
}

int fstree_init(struct fstree *t, const char *prefix)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	memset(t, 0, sizeof(*t));
	snprintf(t->root, sizeof(t->root), "%s/%s-XXXXXX", base, prefix);
	if (!mkdtemp(t->root))
		return -errno;
	if (!registered) {
		registered = t;
		atexit(cleanup_at_exit);
	}
	return 0;
}

static void remember(struct fstree *t, const char *full)
{
	if (t->n_made == t->cap_made) {
		size_t cap = t->cap_made ? t->cap_made * 2 : 64;
		char **n = realloc(t->made, cap * sizeof(*n));

		if (!n)
			return;
		t->made = n;
		t->cap_made = cap;
	}
	t->made[t->n_made] = strdup(full);
	if (t->made[t->n_made])
		t->n_made++;
}

static bool valid_path(const char *p, size_t len)
{
	int depth = 0;

	if (len < 2 || len > MAX_PATH_LEN || p[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '/') {
			/* no empty, "." or ".." components */
			if (i + 1 >= len || p[i + 1] == '/' || ++depth > MAX_DEPTH)
				return false;
			if (p[i + 1] == '.' && (i + 2 >= len || p[i + 2] == '/' ||
						(p[i + 2] == '.' && (i + 3 >= len || p[i + 3] == '/'))))
				return false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static void write_file(struct fstree *t, const char *path, size_t plen, const char *content,
		       size_t clen)
{
	char full[sizeof(t->root) + MAX_PATH_LEN + 2];
	size_t rlen = strlen(t->root);
	bool existed;
	int fd;

	if (!valid_path(path, plen))
		return;
	memcpy(full, t->root, rlen);
	memcpy(full + rlen, path, plen);
	full[rlen + plen] = '\0';
	/* parents, remembered so that they go away with the input */
	for (char *s = strchr(full + rlen + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(full, 0755) == 0)
			remember(t, full);
		*s = '/';
	}
	existed = access(full, F_OK) == 0;
	fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return; /* a directory of that name, or a file as a parent */
	if (!existed)
		remember(t, full);
	while (clen > 0) {
		ssize_t n = write(fd, content, clen);

		if (n <= 0)
			break;
		content += n;
		clen -= (size_t)n;
	}
	close(fd);
}

static void set_param(struct fstree *t, const char *name, size_t nlen, const char *v, size_t vlen)
{
	size_t i;

	if (nlen == 0 || nlen >= sizeof(t->params[0].name))
		return;
	for (i = 0; i < t->n_params; i++)
		if (strlen(t->params[i].name) == nlen && memcmp(t->params[i].name, name, nlen) == 0)
			break;
	if (i == t->n_params) {
		if (t->n_params == FSTREE_MAX_PARAMS)
			return;
		memcpy(t->params[i].name, name, nlen);
		t->params[i].name[nlen] = '\0';
		t->params[i].value = NULL;
		t->n_params++;
	}
	free(t->params[i].value);
	t->params[i].value = strndup(v, vlen);
}

bool fstree_load(struct fstree *t, const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + t->off, *end = (const char *)data + size;

	if (t->off >= size && !(t->off == 0 && size == 0))
		return false;
	while (p < end) {
		const char *path = p, *z = memchr(p, '\0', (size_t)(end - p));
		const char *content, *cz;
		size_t plen, clen;

		if (!z) /* a path without content: ignore the tail */
			break;
		plen = (size_t)(z - path);
		content = z + 1;
		cz = content < end ? memchr(content, '\0', (size_t)(end - content)) : NULL;
		clen = cz ? (size_t)(cz - content) : (size_t)(end - content);
		p = cz ? cz + 1 : end;
		if (plen == 2 && memcmp(path, "--", 2) == 0) {
			/* end of phase: a "--" record has no content, so step back */
			p = content;
			break;
		}
		if (plen > 1 && path[0] == '@')
			set_param(t, path + 1, plen - 1, content, clen);
		else
			write_file(t, path, plen, content, clen);
	}
	t->off = (size_t)(p - (const char *)data);
	if (t->off == 0)
		t->off = size ? size : 1; /* an empty input is one empty phase */
	return true;
}

const char *fstree_param(const struct fstree *t, const char *name)
{
	for (size_t i = 0; i < t->n_params; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return t->params[i].value;
	return NULL;
}

void fstree_clear(struct fstree *t)
{
	while (t->n_made > 0) {
		char *f = t->made[--t->n_made];

		if (unlink(f) < 0)
			(void)rmdir(f);
		free(f);
	}
	for (size_t i = 0; i < t->n_params; i++)
		free(t->params[i].value);
	t->n_params = 0;
	t->off = 0;
}
