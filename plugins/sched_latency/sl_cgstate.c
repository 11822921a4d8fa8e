/* SPDX-License-Identifier: MIT */
#include "sl_cgstate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <schedmcp/fsread.h>

#define ID_LEN 64
#define UID_LEN 36
#define NAMES_MAX 16 /* names of one podman container looked at */

static const char SRC_DOCKER[] = "docker state", SRC_PODMAN[] = "podman state",
		  SRC_KUBELET[] = "kubelet pod logs";

static bool is_hex_id(const char *s)
{
	size_t n = strlen(s);

	if (n != ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != UID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-'
			 : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* A static pod's uid: the 32-hex hash of its manifest (the kubelet's). */
static bool is_hash(const char *s)
{
	return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* A Kubernetes object name: lower-case alphanumerics, '-' and '.', 1..max. */
static bool k8s_name(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

/* A Docker or Podman container name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, < 256. */
static bool runtime_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || s[0] == '.' || s[0] == '-' || s[0] == '_')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

static void add_hit(struct sl_cgstate_result *r, const char *source, const char *kind,
		    const char *name, const char *id, const char *uid)
{
	if (r->n < SL_CGSTATE_HITS) {
		struct sl_cgstate_hit *h = &r->hits[r->n];

		h->source = source;
		h->kind = kind;
		snprintf(h->name, sizeof(h->name), "%s", name);
		snprintf(h->id, sizeof(h->id), "%s", id ? id : "");
		snprintf(h->pod_uid, sizeof(h->pod_uid), "%s", uid ? uid : "");
	}
	r->n++;
}

__attribute__((format(printf, 2, 3))) static void note(struct sl_cgstate_result *r,
							const char *fmt, ...)
{
	size_t at = strlen(r->tried);
	va_list ap;

	if (at + 3 >= sizeof(r->tried))
		return;
	if (at)
		at += (size_t)snprintf(r->tried + at, sizeof(r->tried) - at, "; ");
	va_start(ap, fmt);
	(void)vsnprintf(r->tried + at, sizeof(r->tried) - at, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ parsers */

int sl_cgstate_docker_parse(const char *buf, size_t len, char *name, size_t name_len, char *id,
			    size_t id_len)
{
	cJSON *j = cJSON_ParseWithLength(buf, len);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "Name"),
		    *i = cJSON_GetObjectItemCaseSensitive(j, "ID");
	int err = -EINVAL;

	if (cJSON_IsObject(j) && cJSON_IsString(n) && cJSON_IsString(i) && n->valuestring[0] == '/' &&
	    runtime_name(n->valuestring + 1) && is_hex_id(i->valuestring)) {
		snprintf(name, name_len, "%s", n->valuestring + 1);
		snprintf(id, id_len, "%s", i->valuestring);
		err = 0;
	}
	cJSON_Delete(j);
	return err;
}

int sl_cgstate_podman_parse(const char *buf, size_t len, const char *want,
			    struct sl_cgstate_result *r)
{
	cJSON *j = cJSON_ParseWithLength(buf, len);
	const cJSON *c;
	int seen = 0, err;

	if (!cJSON_IsArray(j)) {
		err = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(c, j) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id"),
			    *names = cJSON_GetObjectItemCaseSensitive(c, "names"), *n;
		int k = 0;

		if (seen++ >= SL_CGSTATE_ENTRIES) {
			err = -E2BIG;
			goto out;
		}
		if (!cJSON_IsString(id) || !is_hex_id(id->valuestring) || !cJSON_IsArray(names))
			continue;
		cJSON_ArrayForEach(n, names) {
			if (k++ >= NAMES_MAX)
				break;
			if (cJSON_IsString(n) && strcmp(n->valuestring, want) == 0) {
				add_hit(r, SRC_PODMAN, "podman container", want, id->valuestring, NULL);
				break;
			}
		}
	}
	err = seen;
out:
	cJSON_Delete(j);
	return err;
}

bool sl_cgstate_pod_dir(const char *entry, char *ns, char *pod, char *uid)
{
	const char *a = strchr(entry, '_'), *b = a ? strchr(a + 1, '_') : NULL;

	if (!a || !b || strchr(b + 1, '_') || !k8s_name(entry, (size_t)(a - entry), 63) ||
	    !k8s_name(a + 1, (size_t)(b - a - 1), 253) ||
	    !(is_uuid(b + 1, strlen(b + 1)) || is_hash(b + 1)))
		return false;
	snprintf(ns, 64, "%.*s", (int)(a - entry), entry);
	snprintf(pod, 254, "%.*s", (int)(b - a - 1), a + 1);
	snprintf(uid, UID_LEN + 1, "%s", b + 1);
	return true;
}

bool sl_cgstate_container_log(const char *entry, const char *pod, const char *ns,
			      const char *container, char *id)
{
	size_t lp = strlen(pod), ln = strlen(ns), lc = strlen(container), n = strlen(entry);
	const char *s = entry;

	/* <pod>_<ns>_<container>-<64 hex>.log */
	if (n != lp + 1 + ln + 1 + lc + 1 + ID_LEN + 4 || strncmp(s, pod, lp) || s[lp] != '_')
		return false;
	s += lp + 1;
	if (strncmp(s, ns, ln) || s[ln] != '_')
		return false;
	s += ln + 1;
	if (strncmp(s, container, lc) || s[lc] != '-' || strcmp(s + lc + 1 + ID_LEN, ".log"))
		return false;
	snprintf(id, ID_LEN + 1, "%.*s", ID_LEN, s + lc + 1);
	return is_hex_id(id);
}

/* ------------------------------------------------------------ hostile files */

/* Whether what fd is may be believed: owned by root or by us (tests run the
 * daemon unprivileged on fixture trees), not writable by others and, for
 * the runtime's own directories and files (own), not by its group. */
static bool trusted(int fd, const char *shown, bool own, char *why, size_t why_len)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, why_len, "%s: cannot stat", shown);
		return false;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, why_len, "%s is owned by uid %u, not root: refused", shown,
			 (unsigned)st.st_uid);
		return false;
	}
	if ((st.st_mode & S_IWOTH) || (own && (st.st_mode & S_IWGRP))) {
		snprintf(why, why_len, "%s is writable by %s: refused", shown,
			 (st.st_mode & S_IWOTH) ? "others" : "its group");
		return false;
	}
	return true;
}

/* Why openat(dir, name, O_NOFOLLOW) failed with err, in words. */
static void open_why(int dir, const char *name, int err, const char *shown, char *why,
		     size_t why_len)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		snprintf(why, why_len, "%s is a symlink: refused (never followed)", shown);
	else if (err == -ENOENT)
		snprintf(why, why_len, "no %s", shown);
	else if (err == -EACCES)
		snprintf(why, why_len, "%s: permission denied to uid %u (the runtimes keep their "
				       "state for root: run the daemon as user = root, or give "
				       "the container id)",
			 shown, (unsigned)geteuid());
	else
		snprintf(why, why_len, "%s: %s", shown, strerror(-err));
}

/* Open the directory name below dir without following a symlink, and
 * check it. The fd, or -errno with why set. */
static int open_dir_at(int dir, const char *name, const char *shown, bool own, char *why,
		       size_t why_len)
{
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		int err = errno == ENOTDIR || errno == ELOOP ? -ELOOP : -errno;
		struct stat st;

		/* O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR:
		 * tell a symlink from a plain file */
		if (err == -ELOOP && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISLNK(st.st_mode))
			err = -ENOTDIR;
		open_why(dir, name, err, shown, why, why_len);
		return err;
	}
	if (!trusted(fd, shown, own, why, why_len)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Open root/rel (plain components), each below the one before; the
 * components from index own on are the runtime's. */
static int open_chain(const char *root, const char *rel, int own, char *why, size_t why_len)
{
	char buf[128], shown[128] = "", *save = NULL;
	int fd = open(root && root[0] ? root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), i = 0;

	if (fd < 0) {
		int err = -errno;

		snprintf(why, why_len, "state root %s: %s", root && root[0] ? root : "/",
			 strerror(-err));
		return err;
	}
	snprintf(buf, sizeof(buf), "%s", rel);
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save), i++) {
		size_t at = strlen(shown);
		int nfd;

		snprintf(shown + at, sizeof(shown) - at, "/%s", c);
		nfd = open_dir_at(fd, c, shown, i >= own, why, why_len);
		close(fd);
		if (nfd < 0)
			return nfd;
		fd = nfd;
	}
	return fd;
}

/* Read the regular file name below dir, at most max bytes, into a new
 * buffer (*out, NUL-ended, the caller frees). 0 or -errno with why set:
 * -ELOOP a symlink, -EPERM not regular or not trusted, -EFBIG too long. */
static int read_below(int dir, const char *name, const char *shown, size_t max, char **out,
		      size_t *len, char *why, size_t why_len)
{
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	ssize_t n;
	int err = 0;

	*out = NULL;
	if (fd < 0) {
		err = -errno;
		open_why(dir, name, err, shown, why, why_len);
		return err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "%s is not a regular file: refused", shown);
		err = -EPERM;
		goto out;
	}
	if (!trusted(fd, shown, true, why, why_len)) {
		err = -EPERM;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(why, why_len, "%s is %lld bytes, over the %zu bound: refused", shown,
			 (long long)st.st_size, max);
		err = -EFBIG;
		goto out;
	}
	*out = malloc((size_t)st.st_size + 1);
	if (!*out) {
		err = -ENOMEM;
		goto out;
	}
	/* a file grown since fstat is cut at its size then: a JSON cut short
	 * fails to parse */
	n = smcp_read_full(fd, *out, (size_t)st.st_size);
	if (n < 0) {
		snprintf(why, why_len, "%s: %s", shown, strerror((int)-n));
		err = (int)n;
		free(*out);
		*out = NULL;
		goto out;
	}
	(*out)[n] = '\0';
	*len = (size_t)n;
out:
	close(fd);
	return err;
}

/* ------------------------------------------------------------ sources */

static void docker(const char *root, const char *want, struct sl_cgstate_result *r)
{
	char why[256] = "", first[256] = "", shown[160];
	size_t total = 0;
	int dfd = open_chain(root, "var/lib/docker/containers", 2, why, sizeof(why));
	int seen = 0, nread = 0, refused = 0;
	DIR *d;

	if (dfd < 0) {
		note(r, "%s: %s", SRC_DOCKER, why);
		return;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		note(r, "%s: cannot list /var/lib/docker/containers", SRC_DOCKER);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		char name[256], id[ID_LEN + 1], *buf = NULL;
		size_t len = 0;
		int cfd, err;

		if (!is_hex_id(e->d_name))
			continue;
		if (seen++ >= SL_CGSTATE_ENTRIES || total > SL_CGSTATE_DOCKER_TOTAL) {
			note(r, "%s: stopped after %d containers", SRC_DOCKER, nread);
			break;
		}
		snprintf(shown, sizeof(shown), "/var/lib/docker/containers/%.12s…", e->d_name);
		cfd = open_dir_at(dirfd(d), e->d_name, shown, true, why, sizeof(why));
		if (cfd >= 0) {
			snprintf(shown, sizeof(shown), "/var/lib/docker/containers/%.12s…/config.v2.json",
				 e->d_name);
			err = read_below(cfd, "config.v2.json", shown, SL_CGSTATE_DOCKER_MAX, &buf,
					 &len, why, sizeof(why));
			close(cfd);
		} else {
			err = cfd;
		}
		if (err == -ENOENT) /* being created or removed */
			continue;
		if (err) {
			if (refused++ == 0)
				snprintf(first, sizeof(first), "%s", why);
			continue;
		}
		nread++;
		total += len;
		if (sl_cgstate_docker_parse(buf, len, name, sizeof(name), id, sizeof(id)) == 0 &&
		    strcmp(id, e->d_name) == 0 && strcmp(name, want) == 0)
			add_hit(r, SRC_DOCKER, "docker container", name, id, NULL);
		free(buf);
	}
	closedir(d);
	if (refused)
		note(r, "%s: %d containers read, %d refused (%s)", SRC_DOCKER, nread, refused, first);
	else
		note(r, "%s: %d containers read", SRC_DOCKER, nread);
}

static void podman(const char *root, const char *want, struct sl_cgstate_result *r)
{
	static const char shown[] = "/var/lib/containers/storage/overlay-containers/containers.json";
	char why[256] = "", *buf = NULL;
	size_t len = 0;
	int dfd = open_chain(root, "var/lib/containers/storage/overlay-containers", 2, why,
			     sizeof(why));
	int err;

	if (dfd < 0) {
		note(r, "%s: %s", SRC_PODMAN, why);
		return;
	}
	err = read_below(dfd, "containers.json", shown, SL_CGSTATE_PODMAN_MAX, &buf, &len, why,
			 sizeof(why));
	close(dfd);
	if (err) {
		note(r, "%s: %s", SRC_PODMAN, why);
		return;
	}
	err = sl_cgstate_podman_parse(buf, len, want, r);
	free(buf);
	if (err == -EINVAL)
		note(r, "%s: containers.json is not a JSON array", SRC_PODMAN);
	else if (err == -E2BIG)
		note(r, "%s: stopped after %d containers", SRC_PODMAN, SL_CGSTATE_ENTRIES);
	else
		note(r, "%s: %d containers read", SRC_PODMAN, err);
}

/* The container ids of ns/pod/container from /var/log/containers. */
static int container_ids(const char *root, const char *ns, const char *pod,
			 const char *container, const char *uid, struct sl_cgstate_result *r)
{
	char why[256], name[320], id[ID_LEN + 1];
	int dfd = open_chain(root, "var/log/containers", 2, why, sizeof(why)), seen = 0, found = 0;
	DIR *d;

	if (dfd < 0) {
		note(r, "%s: %s", SRC_KUBELET, why);
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	snprintf(name, sizeof(name), "%s/%s/%s", ns, pod, container);
	for (struct dirent *e; (e = readdir(d)) && seen++ < SL_CGSTATE_ENTRIES;)
		if (sl_cgstate_container_log(e->d_name, pod, ns, container, id)) {
			add_hit(r, SRC_KUBELET, "kubernetes container", name, id, uid);
			found++;
		}
	closedir(d);
	if (!found)
		note(r, "%s: %s has no entry in /var/log/containers (its container id)",
		     SRC_KUBELET, name);
	return found;
}

/* ns NULL: the pod in any namespace; container NULL: the pod. */
static void kubelet(const char *root, const char *ns, const char *pod, const char *container,
		    struct sl_cgstate_result *r)
{
	char why[256] = "";
	int dfd = open_chain(root, "var/log/pods", 2, why, sizeof(why)), seen = 0;
	DIR *d;

	if (dfd < 0) {
		note(r, "%s: %s", SRC_KUBELET, why);
		return;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		note(r, "%s: cannot list /var/log/pods", SRC_KUBELET);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		char ens[64], epod[254], uid[UID_LEN + 1], name[320], shown[320];
		int pfd, cfd;

		struct stat est;

		/* the kubelet makes directories: anything else there is not its */
		if (!sl_cgstate_pod_dir(e->d_name, ens, epod, uid) ||
		    (e->d_type != DT_DIR &&
		     (e->d_type != DT_UNKNOWN ||
		      fstatat(dirfd(d), e->d_name, &est, AT_SYMLINK_NOFOLLOW) != 0 ||
		      !S_ISDIR(est.st_mode))))
			continue;
		if (seen++ >= SL_CGSTATE_ENTRIES) {
			note(r, "%s: stopped after %d pods", SRC_KUBELET, SL_CGSTATE_ENTRIES);
			break;
		}
		if (strcmp(epod, pod) != 0 || (ns && strcmp(ens, ns) != 0))
			continue;
		snprintf(name, sizeof(name), "%s/%s", ens, epod);
		if (!container) {
			add_hit(r, SRC_KUBELET, "kubernetes pod", name, NULL, uid);
			continue;
		}
		snprintf(shown, sizeof(shown), "/var/log/pods/%s", e->d_name);
		pfd = open_dir_at(dirfd(d), e->d_name, shown, true, why, sizeof(why));
		if (pfd < 0) {
			note(r, "%s: %s", SRC_KUBELET, why);
			continue;
		}
		snprintf(shown, sizeof(shown), "/var/log/pods/%s/%s", e->d_name, container);
		cfd = open_dir_at(pfd, container, shown, true, why, sizeof(why));
		close(pfd);
		if (cfd < 0) {
			note(r, "%s: %s", SRC_KUBELET, why);
			continue;
		}
		close(cfd);
		(void)container_ids(root, ens, epod, container, uid, r);
	}
	closedir(d);
	note(r, "%s: %d pods read", SRC_KUBELET, seen);
}

int sl_cgstate_lookup(const char *root, const char *input, struct sl_cgstate_result *r)
{
	const char *a = strchr(input, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	char ns[64], pod[254], container[64];

	memset(r, 0, sizeof(*r));
	if (!a) {
		if (!runtime_name(input)) {
			note(r, "%s is not a container or pod name", input);
			return -EINVAL;
		}
		docker(root, input, r);
		podman(root, input, r);
		if (k8s_name(input, strlen(input), 253))
			kubelet(root, NULL, input, NULL, r);
		return 0;
	}
	/* namespace/pod or namespace/pod/container */
	if (!k8s_name(input, (size_t)(a - input), 63) ||
	    !k8s_name(a + 1, b ? (size_t)(b - a - 1) : strlen(a + 1), 253) ||
	    (b && (strchr(b + 1, '/') || !k8s_name(b + 1, strlen(b + 1), 63)))) {
		note(r, "%s is not namespace/pod or namespace/pod/container", input);
		return -EINVAL;
	}
	snprintf(ns, sizeof(ns), "%.*s", (int)(a - input), input);
	snprintf(pod, sizeof(pod), "%.*s", (int)(b ? (size_t)(b - a - 1) : strlen(a + 1)), a + 1);
	if (b)
		snprintf(container, sizeof(container), "%s", b + 1);
	kubelet(root, ns, pod, b ? container : NULL, r);
	return 0;
}
