/* SPDX-License-Identifier: MIT */
#include "sl_cgnames.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/fsread.h>

#include "sl_cgstate.h"

#define ID_MIN 12
#define ID_MAX 64
#define UID_LEN 36

static const char *const GUESS_CGROUPFS =
	"read from a directory name (a cgroupfs driver's layout), not from a systemd unit";
static const char *const GUESS_MATCH = "matched by a prefix or a derived name, not the exact name";

/* Runtimes' scopes under systemd: prefix -> kind. */
static const struct {
	const char *prefix, *kind;
} scopes[] = {
	{ "docker-", "docker container" },
	{ "cri-containerd-", "containerd container" },
	{ "crio-", "cri-o container" },
	{ "libpod-", "podman container" },
};

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* base is PREFIX<hex id>.scope: the id's start and length, else false. */
static bool scope_id(const char *base, size_t n, const char *prefix, const char **id,
		     size_t *id_len)
{
	size_t k = strlen(prefix);

	if (n <= k + 6 || strncmp(base, prefix, k) != 0 || !ends_with(base, n, ".scope"))
		return false;
	*id = base + k;
	*id_len = n - k - 6;
	return *id_len >= ID_MIN && *id_len <= ID_MAX && is_hex(*id, *id_len);
}

/* "pod" + uid (with '-' or '_'), written with dashes into out. */
static bool pod_uid(const char *s, size_t n, char *out, size_t len)
{
	if (n != 3 + UID_LEN || strncmp(s, "pod", 3) != 0 || len <= UID_LEN)
		return false;
	for (size_t i = 0; i < UID_LEN; i++) {
		char c = s[3 + i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-' && c != '_')
				return false;
			c = '-';
		} else if (!is_hex(&c, 1)) {
			return false;
		}
		out[i] = c;
	}
	out[UID_LEN] = '\0';
	return true;
}

/* kubepods[-qos]-pod<uid>.slice (systemd driver) */
static bool pod_slice(const char *base, size_t n, struct sl_cg_name *out)
{
	const char *pod;

	if (strncmp(base, "kubepods-", 9) != 0 || !ends_with(base, n, ".slice") || n < 9 + 6)
		return false;
	pod = base + n - 6 - (3 + UID_LEN);
	if (pod < base + 9 || pod[-1] != '-' || !pod_uid(pod, 3 + UID_LEN, out->pod_uid,
							   sizeof(out->pod_uid)))
		return false;
	if (pod - 1 == base + 8)
		snprintf(out->qos, sizeof(out->qos), "guaranteed");
	else
		snprintf(out->qos, sizeof(out->qos), "%.*s", (int)(pod - 1 - (base + 9)),
			 base + 9);
	return true;
}

void sl_cgname_of_path(const char *path, struct sl_cg_name *out)
{
	const char *comp[SL_CG_WALK_DEPTH * 4];
	size_t clen[SL_CG_WALK_DEPTH * 4], nc = 0;
	const char *base, *id;
	size_t n, id_len;

	memset(out, 0, sizeof(*out));
	out->kind = "cgroup";
	for (const char *s = path; s && *s && nc < SL_CG_WALK_DEPTH * 4;) {
		const char *e;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchr(s, '/');
		comp[nc] = s;
		clen[nc++] = e ? (size_t)(e - s) : strlen(s);
		s = e;
	}
	if (nc == 0)
		return;
	/* the pod, from any component */
	for (size_t i = 0; i < nc; i++) {
		if (pod_slice(comp[i], clen[i], out))
			break;
		if (i > 0 && strncmp(comp[0], "kubepods", clen[0]) == 0 && clen[0] == 8 &&
		    pod_uid(comp[i], clen[i], out->pod_uid, sizeof(out->pod_uid))) {
			if (i == 2)
				snprintf(out->qos, sizeof(out->qos), "%.*s", (int)clen[1], comp[1]);
			else
				snprintf(out->qos, sizeof(out->qos), "guaranteed");
			out->guess = true;
			out->why = GUESS_CGROUPFS;
			break;
		}
	}
	base = comp[nc - 1];
	n = clen[nc - 1];
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		if (scope_id(base, n, scopes[i].prefix, &id, &id_len)) {
			out->kind = scopes[i].kind;
			snprintf(out->container, sizeof(out->container), "%.*s", (int)id_len, id);
			snprintf(out->unit, sizeof(out->unit), "%.*s", (int)n, base);
			return;
		}
	if (ends_with(base, n, ".service") || ends_with(base, n, ".scope") ||
	    ends_with(base, n, ".slice")) {
		snprintf(out->unit, sizeof(out->unit), "%.*s", (int)n, base);
		out->kind = out->pod_uid[0] && pod_slice(base, n, out) ? "kubernetes pod"
			    : ends_with(base, n, ".service")	  ? "systemd service"
			    : ends_with(base, n, ".scope")		  ? "systemd scope"
									  : "systemd slice";
		return;
	}
	if (n >= ID_MIN && n <= ID_MAX && is_hex(base, n) && nc >= 2) {
		const char *parent = comp[nc - 2];
		size_t pn = clen[nc - 2];

		if (pn == 6 && strncmp(parent, "docker", 6) == 0)
			out->kind = "docker container";
		else if (out->pod_uid[0])
			out->kind = "container";
		else
			return;
		snprintf(out->container, sizeof(out->container), "%.*s", (int)n, base);
		out->guess = true;
		out->why = GUESS_CGROUPFS;
		return;
	}
	if (out->pod_uid[0] && pod_uid(base, n, out->pod_uid, sizeof(out->pod_uid)))
		out->kind = "kubernetes pod";
}

/* ------------------------------------------------------------ resolving */

enum want { W_EXACT, W_ID, W_POD };

struct walk {
	enum want want;
	const char *input;
	size_t input_len;
	char uid_us[UID_LEN + 1]; /* W_POD: the uid with '_' (systemd's) */
	unsigned found;
	char first[SL_CGFS_PATH_MAX], second[SL_CGFS_PATH_MAX];
};

static bool matches(const struct walk *w, const char *base)
{
	size_t n = strlen(base);
	const char *id;
	size_t id_len;

	switch (w->want) {
	case W_EXACT:
		return strcmp(base, w->input) == 0;
	case W_ID:
		for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
			if (scope_id(base, n, scopes[i].prefix, &id, &id_len))
				return id_len >= w->input_len &&
				       strncmp(id, w->input, w->input_len) == 0;
		return n >= w->input_len && n <= ID_MAX && is_hex(base, n) &&
		       strncmp(base, w->input, w->input_len) == 0;
	case W_POD:
		/* "kubepods" has a "pod" too: try each */
		for (const char *p = strstr(base, "pod"); p; p = strstr(p + 1, "pod"))
			if ((strncmp(p + 3, w->input, w->input_len) == 0 ||
			     strncmp(p + 3, w->uid_us, w->input_len) == 0) &&
			    (p[3 + w->input_len] == '\0' ||
			     strcmp(p + 3 + w->input_len, ".slice") == 0))
				return true;
		return false;
	}
	return false;
}

static bool visit(void *ctx, const char *path, const char *name)
{
	struct walk *w = ctx;

	if (matches(w, name)) {
		if (w->found++ == 0)
			snprintf(w->first, sizeof(w->first), "%s", path);
		else if (w->found == 2)
			snprintf(w->second, sizeof(w->second), "%s", path);
	}
	return false;
}

static int search(const struct sl_cgfs *fs, struct walk *w, char *out, size_t len, char *why,
		  size_t why_len)
{
	int err = sl_cgfs_walk(fs, SL_CG_WALK_MAX, SL_CG_WALK_DEPTH, visit, w);

	if (err == -E2BIG) {
		snprintf(why, why_len, "stopped after %d cgroups without a single match; give "
				       "the path",
			 SL_CG_WALK_MAX);
		if (w->found != 1)
			return err;
	} else if (err < 0) {
		return err;
	}
	if (w->found == 0)
		return -ENOENT;
	if (w->found > 1) {
		snprintf(why, why_len, "%u cgroups match, e.g. %s and %s: give the path", w->found,
			 w->first, w->second);
		return -EEXIST;
	}
	if (strlen(w->first) >= len)
		return -ENAMETOOLONG;
	snprintf(out, len, "%s", w->first);
	return 0;
}

static bool looks_like_uid(const char *s)
{
	char tmp[UID_LEN + 4], out[UID_LEN + 1];

	if (strlen(s) != UID_LEN)
		return false;
	snprintf(tmp, sizeof(tmp), "pod%s", s);
	return pod_uid(tmp, 3 + UID_LEN, out, sizeof(out));
}

/* service: try NAME.service when no cgroup has the exact name. */
static int resolve(const struct sl_cgfs *fs, const char *input, char *path, size_t len,
		   bool *guess, char *why, size_t why_len, bool service)
{
	struct walk *w;
	size_t n = input ? strlen(input) : 0;
	int err;

	*guess = false;
	why[0] = '\0';
	if (n == 0 || n >= SL_CGFS_PATH_MAX) {
		snprintf(why, why_len, "cgroup must be 1 to %d characters", SL_CGFS_PATH_MAX - 1);
		return -EINVAL;
	}
	if (input[0] == '/') {
		if (!sl_cgfs_path_ok(input)) {
			snprintf(why, why_len, "a cgroup path has no empty, '.' or '..' component, "
					       "e.g. /system.slice/cron.service");
			return -EINVAL;
		}
		if (n >= len)
			return -ENAMETOOLONG;
		snprintf(path, len, "%s", input);
		return 0;
	}
	if (strchr(input, '/') || strcmp(input, ".") == 0 || strcmp(input, "..") == 0) {
		snprintf(why, why_len, "give a path starting with '/', a unit name, a container "
				       "id or a pod uid");
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->input = input;
	w->input_len = n;
	if (n >= ID_MIN && n <= ID_MAX && is_hex(input, n)) {
		w->want = W_ID;
	} else if (looks_like_uid(input)) {
		w->want = W_POD;
		for (size_t i = 0; i <= UID_LEN; i++)
			w->uid_us[i] = input[i] == '-' ? '_' : input[i];
	} else {
		w->want = W_EXACT;
	}
	err = search(fs, w, path, len, why, why_len);
	if (w->want == W_ID || w->want == W_POD)
		*guess = n < ID_MAX && w->want == W_ID;
	if (service && err == -ENOENT && w->want == W_EXACT && !strchr(input, '.') &&
	    n + 9 < SL_CGFS_PATH_MAX) {
		char unit[SL_CGFS_PATH_MAX];

		snprintf(unit, sizeof(unit), "%s.service", input);
		memset(w, 0, sizeof(*w));
		w->input = unit;
		w->input_len = strlen(unit);
		w->want = W_EXACT;
		err = search(fs, w, path, len, why, why_len);
		*guess = true;
	}
	if (!err && *guess)
		snprintf(why, why_len, "%s", GUESS_MATCH);
	if (err == -ENOENT)
		snprintf(why, why_len,
			 "no cgroup named %s in the cpu hierarchy (%s); tried: %s%s; give a path, "
			 "a unit, a container id (12+ hex digits) or a pod uid; "
			 "stats://aggregated/cgroup lists the cgroups",
			 input, fs->cpu_root,
			 w->want == W_ID	? "a cgroup whose name holds a container id starting "
						  "with it"
			 : w->want == W_POD ? "a pod's cgroup with that uid"
					    : "a cgroup of that name",
			 w->want == W_EXACT && service && !strchr(input, '.') ? " and NAME.service"
									     : "");
	free(w);
	return err;
}

int sl_cgname_resolve(const struct sl_cgfs *fs, const char *input, char *path, size_t len,
		      bool *guess, char *why, size_t why_len)
{
	return resolve(fs, input, path, len, guess, why, why_len, true);
}

/* ------------------------------------------------------------ runtime names */

/* One walk for every id or pod uid the runtimes named, and NAME.service. */
struct multi {
	struct walk w[SL_CGSTATE_HITS + 1];
	const struct sl_cgstate_hit *hit[SL_CGSTATE_HITS + 1]; /* NULL: NAME.service */
	unsigned n;
};

static bool visit_multi(void *ctx, const char *path, const char *name)
{
	struct multi *m = ctx;

	for (unsigned i = 0; i < m->n; i++)
		(void)visit(&m->w[i], path, name);
	return false;
}

static void hit_label(char *buf, size_t len, const struct sl_cgstate_hit *h, const char *input)
{
	if (!h)
		snprintf(buf, len, "%s.service", input);
	else if (h->id[0])
		snprintf(buf, len, "%s %s (%s, id %.12s)", h->kind, h->name, h->source, h->id);
	else
		snprintf(buf, len, "%s %s (%s, uid %s)", h->kind, h->name, h->source, h->pod_uid);
}

/* Why nothing was found: what was tried, and where the cgroups are listed. */
static void not_found(const struct sl_cgfs *fs, const char *input, bool service,
		      const struct sl_cgstate_result *st, char *why, size_t why_len)
{
	snprintf(why, why_len,
		 "no cgroup or container named %s in the cpu hierarchy (%s); tried: %s%s%s; "
		 "list the cgroups with stats://aggregated/cgroup, or give a path, a unit, a "
		 "container id (12+ hex digits) or a pod uid",
		 input, fs->cpu_root, strchr(input, '/') ? "" : "a cgroup of that name, ",
		 service ? "NAME.service, " : "", st->tried[0] ? st->tried : "no runtime state");
}

int sl_cgname_find(const struct sl_cgfs *fs, const char *state_root, const char *input,
		   struct sl_cg_found *out)
{
	struct sl_cgstate_result *st = NULL;
	struct multi *m = NULL;
	bool k8s_path, service;
	unsigned total = 0;
	int err, chosen = -1;

	memset(out, 0, sizeof(*out));
	if (!input)
		return -EINVAL;
	k8s_path = state_root && input[0] != '/' && strchr(input, '/');
	if (!k8s_path) {
		err = resolve(fs, input, out->path, sizeof(out->path), &out->guess, out->why,
			      sizeof(out->why), !state_root);
		/* a path, an id, a uid, an exact name, or a refused input:
		 * the runtimes have nothing to add */
		if (err != -ENOENT || !state_root || input[0] == '/' ||
		    (strlen(input) >= ID_MIN && strlen(input) <= ID_MAX &&
		     is_hex(input, strlen(input))) ||
		    looks_like_uid(input))
			return err;
	}
	st = calloc(1, sizeof(*st));
	m = calloc(1, sizeof(*m));
	if (!st || !m) {
		err = -ENOMEM;
		goto out;
	}
	if (sl_cgstate_lookup(state_root, input, st) == -EINVAL && k8s_path) {
		snprintf(out->why, sizeof(out->why), "%s; give a path starting with '/', a unit, a "
						     "container id or name, a pod uid or "
						     "namespace/pod", st->tried);
		err = -EINVAL;
		goto out;
	}
	for (int i = 0; i < st->n && i < SL_CGSTATE_HITS; i++) {
		const struct sl_cgstate_hit *h = &st->hits[i];
		struct walk *w = &m->w[m->n];

		if (h->id[0]) {
			w->want = W_ID;
			w->input = h->id;
		} else {
			/* a UUID, or a static pod's 32-hex config hash */
			w->want = W_POD;
			w->input = h->pod_uid;
			for (size_t k = 0; k <= UID_LEN && k <= strlen(h->pod_uid); k++)
				w->uid_us[k] = h->pod_uid[k] == '-' ? '_' : h->pod_uid[k];
		}
		w->input_len = strlen(w->input);
		m->hit[m->n++] = h;
	}
	service = !k8s_path && !strchr(input, '.') && strlen(input) + 9 < sizeof(out->name);
	if (service) {
		/* out->name holds the unit's name until the end */
		snprintf(out->name, sizeof(out->name), "%s.service", input);
		m->w[m->n].want = W_EXACT;
		m->w[m->n].input = out->name;
		m->w[m->n].input_len = strlen(out->name);
		m->hit[m->n++] = NULL;
	}
	err = m->n ? sl_cgfs_walk(fs, SL_CG_WALK_MAX, SL_CG_WALK_DEPTH, visit_multi, m) : 0;
	if (err < 0 && err != -E2BIG)
		goto out;
	for (unsigned i = 0; i < m->n; i++) {
		bool again = false;

		/* two names of one container (or a pod's two entries) find the
		 * same cgroup: one match */
		for (unsigned k = 0; k < i && m->w[i].found == 1; k++)
			again |= m->w[k].found == 1 && strcmp(m->w[k].first, m->w[i].first) == 0;
		if (again)
			m->w[i].found = 0;
		total += m->w[i].found;
		if (m->w[i].found && chosen < 0)
			chosen = (int)i;
	}
	if (total == 0) {
		if (err == -E2BIG) {
			snprintf(out->why, sizeof(out->why), "stopped after %d cgroups without a "
							     "match; give the path",
				 SL_CG_WALK_MAX);
		} else if (st->n > 0) {
			char label[512];

			hit_label(label, sizeof(label), &st->hits[0], input);
			snprintf(out->why, sizeof(out->why),
				 "%s has no cgroup in the cpu hierarchy (%s): is it running? "
				 "(stats://aggregated/cgroup lists the cgroups)",
				 label, fs->cpu_root);
			err = -ENOENT;
		} else {
			not_found(fs, input, service, st, out->why, sizeof(out->why));
			err = -ENOENT;
		}
		goto out;
	}
	if (total > 1) {
		size_t at = (size_t)snprintf(out->why, sizeof(out->why), "%u cgroups match %s:",
					     total, input);

		for (unsigned i = 0; i < m->n && at < sizeof(out->why); i++) {
			char label[512];

			if (!m->w[i].found)
				continue;
			hit_label(label, sizeof(label), m->hit[i], input);
			at += (size_t)snprintf(out->why + at, sizeof(out->why) - at, " %s at %s%s;",
					       label, m->w[i].first,
					       m->w[i].found > 1 ? " and more" : "");
		}
		if (at < sizeof(out->why))
			snprintf(out->why + at, sizeof(out->why) - at,
				 " give the path or the container id");
		err = -EEXIST;
		goto out;
	}
	err = 0;
	snprintf(out->path, sizeof(out->path), "%s", m->w[chosen].first);
	out->why[0] = '\0';
	out->guess = false;
	if (m->hit[chosen]) {
		out->from = m->hit[chosen]->source;
		out->kind = m->hit[chosen]->kind;
		snprintf(out->name, sizeof(out->name), "%s", m->hit[chosen]->name);
	} else {
		out->name[0] = '\0';
		out->guess = true;
		snprintf(out->why, sizeof(out->why), "%s", GUESS_MATCH);
	}
out:
	free(st);
	free(m);
	return err;
}
