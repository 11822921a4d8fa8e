/* SPDX-License-Identifier: MIT */
/*
 * scx_layered: per-layer statistics of the scx_layered sched_ext scheduler,
 * built only on the public schedmcp SDK (and cJSON to read the replies).
 *
 *   layered://layers          every layer at a glance, busiest first, with
 *                             the flags an operator looks for (starved,
 *                             affinity violations, cross-LLC migration)
 *   layered://layers/{name}   one layer: every field with its description
 *                             (from stats_meta) and its CPUs as a list
 *   scx_layered_util_pct      metrics per layer, so the daemon's history,
 *   scx_layered_cpus          query_history and watches work on layers
 *   scx_layered_tasks
 *   a prompt step             investigate_scheduler_behavior (and any workflow
 *                             with the scx.scheduler topic) says to read the
 *                             layers, while scx_layered serves them
 *
 * scx_layered serves its stats on a unix socket with the scx_stats protocol
 * (one JSON object per line: {"req":"stats","args":{"target":"top"}} ->
 * {"errno":0,"args":{"resp":{...SysStats...}}}). It reports per period: each
 * read covers the time since the same connection's previous read. So this
 * plugin keeps one connection and reads it every poll_ms from a timer: every
 * snapshot covers exactly one poll interval, and resources answer at once
 * from the latest snapshot. The socket is non-blocking and watched by the
 * host loop; nothing here ever blocks.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <schedmcp/plugin.h>

#define MAX_REPLY (4u << 20)

static const struct smcp_config_key layered_config[] = {
	{ sizeof(struct smcp_config_key), "socket_path", SMCP_CONFIG_PATH,
	  "/var/run/scx/root/stats", "scx_layered's stats socket", 0, 0 },
	{ sizeof(struct smcp_config_key), "poll_ms", SMCP_CONFIG_INT, "1000",
	  "how often to read the stats (each read covers one interval)", 100, 60000 },
	{ sizeof(struct smcp_config_key), "timeout_ms", SMCP_CONFIG_INT, "1000",
	  "give up on a reply after this long", 50, 60000 },
	{ 0 },
};

enum phase {
	IDLE,      /* nothing in flight */
	WANT_META, /* stats_meta sent: field descriptions */
	WANT_STATS,
};

static struct layered {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	struct sockaddr_un addr;
	uint32_t poll_ms, timeout_ms;
	int fd;
	enum phase phase;
	char *buf;
	size_t len;
	int timeout_timer;
	/* latest good snapshot */
	cJSON *stats;      /* resp of the last stats read (SysStats) */
	cJSON *layer_meta; /* stats_meta's LayerStats fields, or NULL */
	uint64_t stats_ns, prev_stats_ns;
	char error[256]; /* why the last poll failed; "" after a good one */
	int m_util, m_cpus, m_tasks;
} L;

/* ------------------------------------------------------------ the socket */

static void conn_close(void)
{
	if (L.fd >= 0) {
		(void)L.api->unwatch_fd(L.host, L.fd);
		close(L.fd);
	}
	L.fd = -1;
	L.phase = IDLE;
	L.len = 0;
	if (L.timeout_timer > 0)
		(void)L.api->timer_remove(L.host, L.timeout_timer);
	L.timeout_timer = 0;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Remember why this poll failed (resources show it) and start afresh. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(L.error, sizeof(L.error), fmt, ap);
	va_end(ap);
	conn_close();
}

static void on_timeout(void *data)
{
	L.timeout_timer = 0;
	fail("scx_layered did not answer within the time-out (%s)", "timeout_ms");
}

static int send_req(const char *req, enum phase next)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "{\"req\":\"%s\",\"args\":{\"target\":\"top\"}}\n", req);

	/* a request this small fits the empty socket buffer in one go */
	if (send(L.fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		fail("cannot send to scx_layered: %s", strerror(errno));
		return -EIO;
	}
	L.phase = next;
	L.len = 0;
	L.timeout_timer = L.api->timer_add(L.host, L.timeout_ms, false, on_timeout, NULL);
	return 0;
}

static void publish(void);

/* One reply line: the metadata first (once per connection), then stats. */
static void on_line(char *line, size_t n)
{
	cJSON *root = cJSON_ParseWithLength(line, n), *resp;
	const cJSON *eno = cJSON_GetObjectItemCaseSensitive(root, "errno");

	if (L.timeout_timer > 0)
		(void)L.api->timer_remove(L.host, L.timeout_timer);
	L.timeout_timer = 0;
	resp = cJSON_DetachItemViaPointer(
		cJSON_GetObjectItemCaseSensitive(root, "args"),
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "args"),
						 "resp"));
	if (!cJSON_IsNumber(eno) || !resp) {
		fail("%s", "scx_layered's reply is not an scx_stats reply");
	} else if (eno->valuedouble != 0) {
		fail("scx_layered answered an error: %s",
		     cJSON_IsString(resp) ? resp->valuestring : "?");
	} else if (L.phase == WANT_META) {
		cJSON_Delete(L.layer_meta);
		L.layer_meta = cJSON_DetachItemFromObjectCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(resp, "LayerStats"), "fields");
		(void)send_req("stats", WANT_STATS);
	} else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(resp, "layers"))) {
		fail("%s", "the stats have no layers: is this scx_layered?");
	} else {
		cJSON_Delete(L.stats);
		L.stats = resp;
		resp = NULL;
		L.prev_stats_ns = L.stats_ns;
		L.stats_ns = L.api->now_ns(L.host);
		L.error[0] = '\0';
		L.phase = IDLE;
		publish();
	}
	cJSON_Delete(resp);
	cJSON_Delete(root);
}

static void on_fd(void *data, int fd, uint32_t revents)
{
	char *nl;
	ssize_t n;

	if (L.phase == IDLE) {
		/* nothing asked: only an EOF (the scheduler went away) is expected */
		fail("%s", "scx_layered closed the connection");
		return;
	}
	if (!L.buf && !(L.buf = malloc(MAX_REPLY + 1))) {
		fail("%s", "out of memory");
		return;
	}
	n = recv(fd, L.buf + L.len, MAX_REPLY - L.len, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fail("scx_layered closed the connection %s", L.len ? "mid-reply" : "");
		return;
	}
	L.len += (size_t)n;
	nl = memchr(L.buf, '\n', L.len);
	if (nl) {
		on_line(L.buf, (size_t)(nl - L.buf));
		L.len = 0;
	} else if (L.len == MAX_REPLY) {
		fail("%s", "scx_layered's reply is too large");
	}
}

static void on_poll(void *data)
{
	if (L.phase != IDLE)
		return; /* the last read is still out; its time-out handles it */
	if (L.fd < 0) {
		L.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		/* a unix socket connects at once or not at all */
		if (L.fd < 0 || connect(L.fd, (struct sockaddr *)&L.addr, sizeof(L.addr)) < 0) {
			fail("no scx_layered stats at the socket: %s", strerror(errno));
			return;
		}
		if (L.api->watch_fd(L.host, L.fd, EPOLLIN | EPOLLRDHUP, on_fd, NULL) < 0) {
			fail("%s", "cannot watch the socket");
			return;
		}
		(void)send_req("stats_meta", WANT_META);
		return;
	}
	(void)send_req("stats", WANT_STATS);
}

/* ---------------------------------------------------------------- output */

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void publish(void)
{
	const cJSON *layer;

	if (L.m_util <= 0)
		return;
	cJSON_ArrayForEach(layer, cJSON_GetObjectItemCaseSensitive(L.stats, "layers")) {
		const char *label[1] = { layer->string };

		(void)L.api->metric_set(L.host, L.m_util, label, num(layer, "util"));
		(void)L.api->metric_set(L.host, L.m_cpus, label, num(layer, "cur_nr_cpus"));
		(void)L.api->metric_set(L.host, L.m_tasks, label, num(layer, "tasks"));
	}
	(void)L.api->notify_resource_updated(L.host, "layered://layers");
}

/* "0-3,8" from scx_layered's CPU mask (an array of 64-bit words). */
static void cpulist(const cJSON *mask, char *out, size_t len)
{
	size_t n = 0;
	int bit = 0, start = -1;
	const cJSON *w;

	out[0] = '\0';
	cJSON_ArrayForEach(w, mask) {
		uint64_t word = cJSON_IsNumber(w) ? (uint64_t)w->valuedouble : 0;

		for (int b = 0; b < 64; b++, bit++) {
			bool set = word & (1ull << b);

			if (set && start < 0)
				start = bit;
			if (!set && start >= 0) {
				n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%d", n ? "," : "",
						      start);
				if (bit - 1 > start)
					n += (size_t)snprintf(out + n, n < len ? len - n : 0, "-%d",
							      bit - 1);
				start = -1;
			}
		}
	}
	if (start >= 0)
		snprintf(out + n, n < len ? len - n : 0, "%s%d-%d", n ? "," : "", start, bit - 1);
}

/* No data: say why, and what the kernel says runs. */
static bool unavailable(struct smcp_json *j)
{
	const struct smcp_host_api *api = L.api;

	if (L.stats)
		return false;
	api->json_bool(j, "available", false);
	api->json_string(j, "reason", L.error[0] ? L.error : "no stats read yet");
	api->json_string(j, "socket", L.addr.sun_path);
	return true;
}

static void header(struct smcp_json *j)
{
	const struct smcp_host_api *api = L.api;
	uint64_t now = api->now_ns(L.host);

	api->json_bool(j, "available", true);
	api->json_double(j, "age_s", (double)(now - L.stats_ns) / 1e9);
	if (L.prev_stats_ns)
		api->json_double(j, "period_s", (double)(L.stats_ns - L.prev_stats_ns) / 1e9);
	else
		api->json_null(j, "period_s");
	if (L.error[0])
		api->json_string(j, "last_error", L.error);
}

static int cmp_util(const void *a, const void *b)
{
	double x = num(*(cJSON *const *)a, "util"), y = num(*(cJSON *const *)b, "util");

	return x < y ? 1 : x > y ? -1 : 0;
}

static int layers_read(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	const struct smcp_host_api *api = L.api;
	struct smcp_json *j = api->result_json(res);
	const cJSON *layers, *l;
	cJSON **v;
	int n = 0;

	if (!j)
		return -ENOMEM;
	if (unavailable(j))
		return 0;
	header(j);
	api->json_object(j, "system");
	api->json_double(j, "busy_pct", num(L.stats, "busy"));
	api->json_double(j, "util_pct", num(L.stats, "util"));
	api->json_double(j, "events", num(L.stats, "total"));
	api->json_double(j, "local_sel_pct", num(L.stats, "local_sel"));
	api->json_end(j);
	layers = cJSON_GetObjectItemCaseSensitive(L.stats, "layers");
	v = calloc((size_t)cJSON_GetArraySize(layers) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(l, layers)
		v[n++] = (cJSON *)l;
	qsort(v, (size_t)n, sizeof(*v), cmp_util);
	api->json_array(j, "layers");
	for (int i = 0; i < n; i++) {
		double cpus = num(v[i], "cur_nr_cpus"), util = num(v[i], "util");

		api->json_object(j, NULL);
		api->json_string(j, "name", v[i]->string);
		api->json_double(j, "util_pct", util);
		api->json_double(j, "util_share_pct", num(v[i], "util_frac"));
		api->json_double(j, "tasks", num(v[i], "tasks"));
		api->json_double(j, "cpus", cpus);
		api->json_double(j, "min_cpus", num(v[i], "min_nr_cpus"));
		api->json_double(j, "max_cpus", num(v[i], "max_nr_cpus"));
		api->json_double(j, "preempt_pct", num(v[i], "preempt"));
		api->json_double(j, "migration_pct", num(v[i], "migration"));
		api->json_double(j, "xllc_migration_pct", num(v[i], "xllc_migration"));
		api->json_double(j, "affn_viol_pct", num(v[i], "affn_viol"));
		/* at its CPU ceiling and using what it has: it wants more */
		api->json_bool(j, "starved", cpus > 0 && cpus >= num(v[i], "max_nr_cpus") &&
						     util >= 90.0 * cpus);
		api->json_end(j);
	}
	api->json_end(j);
	free(v);
	api->json_string(j, "more", "layered://layers/{name}: every field of one layer with "
				    "its description");
	return 0;
}

static int layer_read(void *data, struct smcp_call *call, const char *uri,
		      const struct smcp_args *vars, struct smcp_result *res)
{
	const struct smcp_host_api *api = L.api;
	const char *name = NULL;
	struct smcp_json *j;
	const cJSON *layer, *f;
	char cpus[512];

	if (api->arg_string(vars, "name", &name))
		return -ENOENT;
	layer = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(L.stats, "layers"), name);
	if (L.stats && !layer)
		return -ENOENT; /* no such layer: "resource not found" */
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	if (unavailable(j))
		return 0;
	header(j);
	api->json_string(j, "name", name);
	cpulist(cJSON_GetObjectItemCaseSensitive(layer, "cpus"), cpus, sizeof(cpus));
	api->json_string(j, "cpu_list", cpus);
	api->json_object(j, "fields");
	cJSON_ArrayForEach(f, layer) {
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(L.layer_meta, f->string);
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(meta, "desc");

		if (!cJSON_IsNumber(f))
			continue; /* the CPU mask is cpu_list; per-LLC arrays stay out */
		api->json_object(j, f->string);
		api->json_double(j, "value", f->valuedouble);
		if (cJSON_IsString(desc))
			api->json_string(j, "desc", desc->valuestring);
		api->json_end(j);
	}
	api->json_end(j);
	return 0;
}

static int complete_layer(void *data, const char *arg_name, const char *prefix,
			  const struct smcp_args *context, struct smcp_completion *out)
{
	const cJSON *l;
	uint32_t n = 0;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(L.stats, "layers")) {
		if (strncmp(l->string, prefix, strlen(prefix)) != 0)
			continue;
		n++;
		(void)L.api->completion_add(out, l->string);
	}
	return L.api->completion_total(out, n);
}

/* ------------------------------------------------------------ prompt step */

/*
 * The step this plugin adds to the daemon's workflow prompts (host API
 * register_prompt_step, ABI 1.2) under the topic scx.scheduler: what to
 * read about the running sched_ext scheduler. A render, so that it is
 * there only while scx_layered answers, and says what it saw.
 */
static int render_step(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	const cJSON *layer;
	int n = 0, starved = 0;

	if (!L.stats || L.error[0])
		return 0; /* scx_layered is not serving: nothing to read */
	cJSON_ArrayForEach(layer, cJSON_GetObjectItemCaseSensitive(L.stats, "layers")) {
		double cpus = num(layer, "cur_nr_cpus");

		n++;
		starved += cpus > 0 && cpus >= num(layer, "max_nr_cpus") &&
			   num(layer, "util") >= 90.0 * cpus;
	}
	return snprintf(buf, len, "scx_layered's layers: read layered://layers (busiest first; "
			"%d layers, %d starved when this prompt was made). A layer with `starved` "
			"true is at its CPU ceiling and uses all of it; compare `util_pct` (100 = "
			"one CPU) with `cpus`, `min_cpus` and `max_cpus`, and look at "
			"`affn_viol_pct` and `xllc_migration_pct`. layered://layers/{name} gives "
			"every field of one layer with its description.",
			n, starved);
}

static int register_step(struct smcp_host *host, const struct smcp_host_api *api)
{
	const struct smcp_prompt_step step = {
		.sz = sizeof(step),
		.topic = "scx.scheduler",
		.order = 30, /* after the daemon's own notes on the scheduler */
		.needs = "layered://layers",
		.render = render_step,
	};

	/* an older daemon has no workflow steps: everything else still works */
	return SMCP_API_HAS(api, register_prompt_step) ? api->register_prompt_step(host, &step)
						       : 0;
}

/* ----------------------------------------------------------------- setup */

static int register_metric(const char *name, const char *help, const char *unit)
{
	static const char *const labels[] = { "layer" };
	struct smcp_metric_desc d = {
		.sz = sizeof(d),
		.name = name,
		.help = help,
		.unit = unit,
		.type = SMCP_METRIC_GAUGE,
		.flags = SMCP_METRIC_CONTEXT,
		.labels = labels,
		.n_labels = 1,
	};

	return L.api->metric_register(L.host, &d);
}

static const struct smcp_resource_desc layered_resources[] = { {
	SMCP_RESOURCE("layered://layers"),
	.name = "layered_layers",
	.title = "scx_layered layers",
	.description = "Every scx_layered layer, busiest first: utilisation (100 = one "
		       "CPU), share, tasks, CPUs against their min/max, preemption, "
		       "migration and affinity-violation %, and whether it is starved; "
		       "per poll period.",
	.mime_type = "application/json",
	.read = layers_read,
}, {
	SMCP_RESOURCE("layered://layers/{name}"),
	.name = "layered_layer",
	.title = "One scx_layered layer",
	.description = "Every numeric field of one layer with its description, and "
		       "its CPUs as a list.",
	.mime_type = "application/json",
	.read = layer_read,
	.complete = complete_layer,
} };

static int layered_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	const char *path = "/var/run/scx/root/stats";
	int64_t v;
	int err;

	memset(&L, 0, sizeof(L));
	L.host = host;
	L.api = api;
	L.fd = -1;
	/* the daemon leaves root once plugins are up (ABI 1.2): connecting to
	 * the root-owned stats socket needs write permission on it, so keep
	 * CAP_DAC_OVERRIDE; it is effective only while our callbacks run */
	if (SMCP_API_HAS(api, keep_capabilities) &&
	    (err = api->keep_capabilities(host, 1ull << CAP_DAC_OVERRIDE)))
		return err;
	(void)api->config_string(host, "socket_path", &path);
	if (strlen(path) >= sizeof(L.addr.sun_path)) {
		(void)api->set_status(host, false, "socket_path is too long for a unix socket");
		return -ENAMETOOLONG;
	}
	L.addr.sun_family = AF_UNIX;
	snprintf(L.addr.sun_path, sizeof(L.addr.sun_path), "%s", path);
	L.poll_ms = api->config_int(host, "poll_ms", &v) ? 1000 : (uint32_t)v;
	L.timeout_ms = api->config_int(host, "timeout_ms", &v) ? 1000 : (uint32_t)v;

	err = smcp_register_resources(host, api, layered_resources, SMCP_COUNT(layered_resources));
	if (err)
		return err;
	err = register_step(host, api);
	if (err)
		return err;
	if (SMCP_API_HAS(api, metric_register)) {
		L.m_util = register_metric("scx_layered_util_pct",
					   "scx_layered layer CPU utilisation (100 = one CPU)", "pct");
		L.m_cpus = register_metric("scx_layered_cpus", "CPUs scx_layered gave the layer", "1");
		L.m_tasks = register_metric("scx_layered_tasks", "tasks in the layer", "1");
		if (L.m_util < 0 || L.m_cpus < 0 || L.m_tasks < 0)
			L.m_util = 0; /* publish nothing rather than half */
	}
	err = api->timer_add(host, L.poll_ms, true, on_poll, NULL);
	if (err < 0)
		return err;
	on_poll(NULL); /* connect now rather than one interval later */
	return 0;
}

static void layered_fini(struct smcp_host *host)
{
	conn_close();
	cJSON_Delete(L.stats);
	cJSON_Delete(L.layer_meta);
	free(L.buf);
	memset(&L, 0, sizeof(L));
}

static const struct smcp_plugin_info layered_info = {
	.sz = sizeof(struct smcp_plugin_info),
	.abi_major = SMCP_ABI_MAJOR,
	.abi_minor = 0, /* metrics (1.1) and the prompt step (1.2) only when the host has them */
	.name = "scx_layered",
	.version = "0.1.0",
	.description = "per-layer statistics of the scx_layered sched_ext scheduler",
	.config_keys = layered_config,
	.init = layered_init,
	.fini = layered_fini,
};

SMCP_PLUGIN_EXPORT(layered_info)
