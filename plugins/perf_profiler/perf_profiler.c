/* SPDX-License-Identifier: MIT */
/*
 * perf_profiler plugin: start_perf_profiling, stop_perf_profiling,
 * get_perf_results, profiling://perf/status and profiling://perf/results;
 * their schemas and argument checks, config keys, init and fini.
 *
 * One profile at a time: pp_run.c runs it, samples are aggregated as they
 * arrive (profile.c) and symbolised when results are asked for
 * (aggregate.c, results.c), both by jobs on the host's workers (pp_work.c):
 * the handlers here check the arguments and hand the rest over as a call
 * that runs in its turn (pp_exec_*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "pp_plugin.h"
#include "pp_stat.h"
#include "pp_steps.h"

#define DEFAULT_MAX_SAMPLES 1000000
#define MAX_MAX_SAMPLES 100000000
#define DEFAULT_FREQ 99

static struct pp_plugin plugin;

static const struct smcp_config_key config_keys[] = {
	{ sizeof(struct smcp_config_key), "debug_dir", SMCP_CONFIG_PATH, "/usr/lib/debug",
	  "where separate debug files are looked up (by build-id and .gnu_debuglink)", 0, 0 },
	{ sizeof(struct smcp_config_key), "user_stack_bytes", SMCP_CONFIG_INT, "8192",
	  "user stack bytes copied with each sample for DWARF unwinding (0: frame pointers only)",
	  0, 32768 },
	{ sizeof(struct smcp_config_key), "ring_pages", SMCP_CONFIG_INT, "128",
	  "4 KiB pages of perf ring buffer per CPU (rounded down to a power of two)", 8, 4096 },
	{ sizeof(struct smcp_config_key), "max_stacks", SMCP_CONFIG_INT, "200000",
	  "distinct stacks kept per profile; samples with new stacks beyond it are counted as "
	  "dropped",
	  1000, 5000000 },
	{ sizeof(struct smcp_config_key), "elf_cache_files", SMCP_CONFIG_INT, "512",
	  "ELF files (symbols, unwind tables) kept cached across profiles", 8, 65536 },
	{ sizeof(struct smcp_config_key), "result_bytes", SMCP_CONFIG_INT, "24576",
	  "JSON bytes a results answer may use before it is cut (the host mirrors it as text)",
	  4096, 1 << 20 },
	{ sizeof(struct smcp_config_key), "max_fds", SMCP_CONFIG_INT, "1024",
	  "perf fds one profile may open (a pid profile needs one per thread and CPU)", 16,
	  1 << 20 },
	{ 0 },
};

/* ------------------------------------------------------------ schemas */

#define PP_INSTRUCTIONS                                                                          \
	"start_perf_profiling: event hw:NAME (default hw:cycles), sw:NAME or "                   \
	"tp:SUBSYSTEM:NAME; frequency_hz (or freq) default 99; with wait and duration_secs "     \
	"it answers with the top symbols when it ends. stop_perf_profiling keeps the results "   \
	"for get_perf_results; its symbol argument answers who calls a function (and what it "  \
	"calls) as trees with each path's share and source lines."

static const char start_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"event\":{\"type\":\"string\"},"
	"\"frequency_hz\":{\"type\":\"integer\"},"
	"\"freq\":{\"type\":\"integer\"},"
	"\"cpu\":{\"type\":\"integer\"},"
	"\"pid\":{\"type\":\"integer\"},"
	"\"max_samples\":{\"type\":\"integer\"},"
	"\"duration_secs\":{\"type\":\"number\"},"
	"\"unwind\":{\"type\":\"string\",\"enum\":[\"auto\",\"fp\"]},"
	"\"wait\":{\"type\":\"boolean\"}}}";

static const char results_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0},"
	"\"include_stacks\":{\"type\":\"boolean\"},"
	"\"group_by\":{\"type\":\"string\",\"enum\":[\"symbol\",\"stack\",\"process\",\"cpu\"]},"
	"\"format\":{\"type\":\"string\",\"enum\":[\"json\",\"folded\",\"png\"]},"
	"\"pid\":{\"type\":\"integer\"},"
	"\"symbol\":{\"type\":\"string\"},"
	"\"wait\":{\"type\":\"boolean\"}}}";

/* ------------------------------------------------------------ helpers */

/* ------------------------------------------------------------ start */

static int read_max_rate(void)
{
	char buf[32];

	if (smcp_read_file("", "/proc/sys/kernel/perf_event_max_sample_rate", buf, sizeof(buf)) <= 0)
		return 100000;
	return atoi(buf) > 0 ? atoi(buf) : 100000;
}

/* A thread id names its process. */
static int32_t tgid_of(int32_t pid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (smcp_read_file("", path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nTgid:")))
		return pid;
	return (int32_t)atoi(p + 6);
}

static int parse_start(struct pp_plugin *pp, const struct smcp_args *args, struct pp_start_args *s,
		       struct pp_event *ev, struct smcp_result *res)
{
	const struct smcp_host_api *api = pp->api;
	const char *unw = "auto", *freq_name = "frequency_hz";
	int64_t alias;
	char err[1024];
	bool online[4096];
	int n_online;

	memset(s, 0, sizeof(*s));
	s->event = "hw:cycles";
	s->freq = DEFAULT_FREQ;
	s->cpu = -1;
	s->pid = -1;
	s->max_samples = DEFAULT_MAX_SAMPLES;
	(void)api->arg_string(args, "event", &s->event);
	(void)api->arg_string(args, "unwind", &unw);
	(void)api->arg_bool(args, "wait", &s->wait);
	s->fp_only = strcmp(unw, "fp") == 0;
	if (pp_event_parse(api->fs_root(pp->host), s->event, ev, err, sizeof(err)))
		return api->result_error(res, "event: %s", err), -EINVAL;
	/* freq is scxtop's name (where it was a sample period by mistake: what
	 * users who write freq=99 mean is 99 Hz, as scxtop's docs say) */
	if (api->arg_int(args, "freq", &alias) == 0) {
		if (api->arg_int(args, "frequency_hz", &s->freq) == 0 && s->freq != alias)
			return api->result_error(res,
						 "freq (%lld) and frequency_hz (%lld) disagree; "
						 "freq is another name for frequency_hz: give one",
						 (long long)alias, (long long)s->freq),
			       -EINVAL;
		s->freq = alias;
		freq_name = "freq";
	} else {
		(void)api->arg_int(args, "frequency_hz", &s->freq);
	}
	if (s->freq < 1 || s->freq > pp->max_rate)
		return api->result_error(res,
					 "%s must be 1..%d Hz (kernel.perf_event_max_sample_"
					 "rate); got %lld. 99 is a good default",
					 freq_name, pp->max_rate, (long long)s->freq),
		       -EINVAL;
	n_online = pp_online_cpus(online, 4096);
	if (api->arg_int(args, "cpu", &s->cpu) == 0 &&
	    (s->cpu < 0 || s->cpu >= 4096 || !online[s->cpu]))
		return api->result_error(res,
					 "cpu %lld is not an online CPU; valid: 0..%d as listed in "
					 "/sys/devices/system/cpu/online (omit cpu for all)",
					 (long long)s->cpu, n_online - 1),
		       -EINVAL;
	if (api->arg_int(args, "pid", &s->pid) == 0) {
		if (s->pid < 1 || s->pid > INT32_MAX)
			return api->result_error(res,
						 "pid must be a process id >= 1 (omit it to profile "
						 "every process); got %lld",
						 (long long)s->pid),
			       -EINVAL;
		if (!pp_pid_alive((int32_t)s->pid))
			return api->result_error(res, "pid %lld does not exist or has exited",
						 (long long)s->pid),
			       -EINVAL;
		s->pid = tgid_of((int32_t)s->pid);
	}
	if (api->arg_int(args, "max_samples", &s->max_samples) == 0 &&
	    (s->max_samples < 1 || s->max_samples > MAX_MAX_SAMPLES))
		return api->result_error(res, "max_samples must be 1..%d; got %lld",
					 MAX_MAX_SAMPLES, (long long)s->max_samples),
		       -EINVAL;
	if (api->arg_double(args, "duration_secs", &s->duration) == 0 &&
	    !(s->duration >= 0.1 && s->duration <= PP_MAX_DURATION_S))
		return api->result_error(res, "duration_secs must be 0.1..%.0f seconds; got %g",
					 PP_MAX_DURATION_S, s->duration),
		       -EINVAL;
	if (s->wait && s->duration <= 0)
		return api->result_error(res,
					 "wait needs duration_secs (a profile without one runs until "
					 "stop_perf_profiling)"),
		       -EINVAL;
	return 0;
}

static void already_running(struct pp_plugin *pp, struct smcp_result *res)
{
	(void)pp->api->result_error(res,
				    "a profile is already running (%s, %.1f s, %llu samples); call "
				    "stop_perf_profiling first, or get_perf_results to read it",
				    pp->meta.ev.name, pp_elapsed_s(pp),
				    (unsigned long long)pp->view.samples);
}

static struct pp_req *new_req(enum pp_req_kind kind, struct smcp_call *call,
			      struct smcp_result *res)
{
	struct pp_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->kind = kind;
	r->call = call;
	r->res = res;
	return r;
}

int pp_exec_start(struct pp_plugin *pp, struct pp_req *r)
{
	const struct smcp_host_api *api = pp->api;
	struct smcp_json *j;
	int rc;

	if (pp->state == PP_RUNNING) {
		already_running(pp, r->res);
		return 0;
	}
	rc = pp_run_start(pp, &r->start, &r->ev, r->res);
	if (rc)
		return rc == -EINVAL || rc == -EAGAIN ? 0 : rc; /* -EINVAL: said why in res */
	if (r->wait) {
		r->stops_profile = true;
		pp_req_wait(pp, r);
		return SMCP_PENDING;
	}
	j = api->result_json(r->res);
	if (!j)
		return -ENOMEM;
	pp_out_summary(pp, j);
	api->json_uint(j, "perf_fds", pp->meta.n_fds);
	api->json_string(j, "next",
			 r->start.duration > 0 ?
				 "get_perf_results with wait:true answers when it ends" :
				 "call stop_perf_profiling, then get_perf_results");
	return 0;
}

static int start_perf_profiling(void *data, struct smcp_call *call, const struct smcp_args *args,
				struct smcp_result *res)
{
	struct pp_plugin *pp = data;
	struct pp_req *r;

	/* with nothing queued before it, a running profile is the answer */
	if (pp->state == PP_RUNNING && !pp->queue) {
		already_running(pp, res);
		return 0;
	}
	if (!pp->perf_ok) {
		(void)pp->api->result_error(res, "profiling is unavailable here: %s", pp->perf_err);
		return 0;
	}
	r = new_req(PP_REQ_START, call, res);
	if (!r)
		return -ENOMEM;
	if (parse_start(pp, args, &r->start, &r->ev, res)) {
		free(r);
		return 0;
	}
	r->start.event = NULL; /* the arguments' string: gone when we return */
	r->wait = r->start.wait;
	r->opts = (struct pp_report_opts){ .group = PP_GROUP_SYMBOL, .limit = 20, .pid = -1 };
	return pp_req_submit(pp, r);
}

/* ------------------------------------------------------------ stop, results */

int pp_stop_answer(struct pp_plugin *pp, struct smcp_result *res, bool was_running)
{
	const struct smcp_host_api *api = pp->api;
	struct smcp_json *j = api->result_json(res);

	if (!j)
		return -ENOMEM;
	pp_out_summary(pp, j);
	if (!was_running)
		api->json_string(j, "note_stop", "was already stopped; nothing was open");
	api->json_string(j, "released",
			 "every perf fd and ring buffer; the results stay until the next start");
	api->json_string(j, "next", "get_perf_results (group_by symbol|stack|process|cpu)");
	return 0;
}

int pp_exec_stop(struct pp_plugin *pp, struct pp_req *r)
{
	if (pp->state == PP_IDLE) {
		(void)pp->api->result_error(r->res, "no profile has been started: call "
						    "start_perf_profiling first");
		return 0;
	}
	if (pp->state != PP_RUNNING)
		return pp_stop_answer(pp, r->res, false);
	/* answered once the last records are read and every fd is closed */
	pp_run_stop(pp, "stop_perf_profiling");
	pp_req_ready(pp, r);
	return SMCP_PENDING;
}

static int stop_perf_profiling(void *data, struct smcp_call *call, const struct smcp_args *args,
			       struct smcp_result *res)
{
	struct pp_plugin *pp = data;
	struct pp_req *r = new_req(PP_REQ_STOP, call, res);

	if (!r)
		return -ENOMEM;
	return pp_req_submit(pp, r);
}

static int parse_report(struct pp_plugin *pp, const struct smcp_args *args,
			struct pp_report_opts *o, bool *wait)
{
	const struct smcp_host_api *api = pp->api;
	const char *s;
	int64_t v;

	memset(o, 0, sizeof(*o));
	o->limit = 20;
	o->pid = -1;
	*wait = false;
	if (api->arg_int(args, "limit", &v) == 0)
		o->limit = v < 1 ? 1 : v > 500 ? 500 : (uint32_t)v;
	if (api->arg_int(args, "offset", &v) == 0)
		o->offset = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	if (api->arg_int(args, "pid", &v) == 0)
		o->pid = v < 0 || v > INT32_MAX ? -1 : (int32_t)v;
	if (api->arg_string(args, "symbol", &s) == 0) {
		/* no symbol name is that long (answers clip names to 200 bytes) */
		if (strlen(s) >= sizeof(o->symbol))
			return -ENAMETOOLONG;
		memcpy(o->symbol, s, strlen(s) + 1);
	}
	(void)api->arg_bool(args, "include_stacks", &o->include_stacks);
	(void)api->arg_bool(args, "wait", wait);
	if (api->arg_string(args, "group_by", &s) == 0)
		o->group = strcmp(s, "stack") == 0 ? PP_GROUP_STACK :
			   strcmp(s, "process") == 0 ? PP_GROUP_PROCESS :
			   strcmp(s, "cpu") == 0 ? PP_GROUP_CPU : PP_GROUP_SYMBOL;
	if (api->arg_string(args, "format", &s) == 0 && strcmp(s, "folded") == 0) {
		o->folded = true;
		o->group = PP_GROUP_STACK;
	}
	if (api->arg_string(args, "format", &s) == 0 && strcmp(s, "png") == 0) {
		o->png = true;
		o->group = PP_GROUP_STACK;
	}
	return 0;
}

int pp_exec_results(struct pp_plugin *pp, struct pp_req *r)
{
	struct smcp_json *j;

	if (pp->state == PP_IDLE || !pp->have_prof) {
		if (!r->call_is_read) {
			(void)pp->api->result_error(r->res,
						    "no profile yet: call start_perf_profiling, e.g. "
						    "{\"duration_secs\": 10, \"wait\": true}");
			return 0;
		}
		j = pp->api->result_json(r->res);
		if (!j)
			return -ENOMEM;
		pp->api->json_string(j, "state", "idle");
		pp->api->json_string(j, "note", "no profile yet: call start_perf_profiling");
		return 0;
	}
	if (r->wait && pp->state == PP_RUNNING) {
		if (pp->meta.duration_s <= 0) {
			(void)pp->api->result_error(
				r->res, "wait needs a profile started with duration_secs; this one "
					"runs until stop_perf_profiling (read it now without wait)");
			return 0;
		}
		pp_req_wait(pp, r);
		return SMCP_PENDING;
	}
	/* the next job drains the rings first if the profile still runs */
	pp_req_ready(pp, r);
	return SMCP_PENDING;
}

static int get_perf_results(void *data, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res)
{
	struct pp_plugin *pp = data;
	struct pp_req *r = new_req(PP_REQ_RESULTS, call, res);

	if (!r)
		return -ENOMEM;
	if (parse_report(pp, args, &r->opts, &r->wait) != 0) {
		free(r);
		(void)pp->api->result_error(res, "symbol: at most 255 bytes");
		return 0;
	}
	return pp_req_submit(pp, r);
}

static int read_status(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	struct pp_plugin *pp = data;
	struct smcp_json *j = pp->api->result_json(res);

	if (!j)
		return -ENOMEM;
	/* never waits: while a job owns the profile, its counters as of the
	 * last job (and what the job is doing) */
	if (!pp->job)
		pp_view_refresh(pp);
	return pp_out_status(pp, j);
}

static int read_results(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	struct pp_plugin *pp = data;
	struct pp_req *r = new_req(PP_REQ_RESULTS, call, res);

	if (!r)
		return -ENOMEM;
	r->call_is_read = true;
	r->opts = (struct pp_report_opts){ .group = PP_GROUP_SYMBOL, .limit = 20, .pid = -1 };
	return pp_req_submit(pp, r);
}

/* ------------------------------------------------------------ init, fini */

static void probe(struct pp_plugin *pp)
{
	struct perf_event_attr a;
	long fd;

	pp->privileged = pp_privileged();
	pp->paranoid = pp_perf_paranoid("");
	pp->max_rate = read_max_rate();
	/* a counting software event on ourselves works at every paranoid level < 3 */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.exclude_kernel = 1;
	fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		snprintf(pp->perf_err, sizeof(pp->perf_err),
			 "perf_event_open failed (%s; kernel.perf_event_paranoid=%d)",
			 strerror(errno), pp->paranoid);
		return;
	}
	close((int)fd);
	pp->perf_ok = true;
	a.type = PERF_TYPE_HARDWARE;
	a.config = PERF_COUNT_HW_CPU_CYCLES;
	fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	pp->hw_ok = fd >= 0;
	if (fd >= 0)
		close((int)fd);
}

static uint32_t config_u32(struct pp_plugin *pp, const char *key, uint32_t def)
{
	int64_t v;

	return pp->api->config_int(pp->host, key, &v) == 0 && v >= 0 && v <= UINT32_MAX ?
		       (uint32_t)v :
		       def;
}

static void fini(struct smcp_host *host);

static int init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct pp_plugin *pp = &plugin;
	const struct smcp_tool_desc tools[] = {
		{ sizeof(struct smcp_tool_desc), "start_perf_profiling", NULL,
		  "Sample call stacks, like perf record.",
		  start_schema, NULL, 0, start_perf_profiling, pp },
		{ sizeof(struct smcp_tool_desc), "stop_perf_profiling", NULL,
		  "Stop the profile.",
		  NULL, NULL, SMCP_TOOL_IDEMPOTENT, stop_perf_profiling, pp },
		{ sizeof(struct smcp_tool_desc), "get_perf_results", NULL,
		  "Profile: top functions (self/total %), stacks, processes or CPUs.",
		  results_schema, NULL, SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT, get_perf_results,
		  pp },
	};
	const struct smcp_resource_desc resources[] = {
		{ sizeof(struct smcp_resource_desc), "profiling://perf/status", "perf_status",
		  "Profiler status",
		  "Profiler state, what this machine allows (privilege, paranoid level, hardware "
		  "events), resources held, symbol cache", "application/json", 0, read_status, NULL,
		  pp },
		{ sizeof(struct smcp_resource_desc), "profiling://perf/results", "perf_results",
		  "Profile results",
		  "Top 20 symbols of the current or last profile (get_perf_results for more)",
		  "application/json", 0, read_results, NULL, pp },
	};
	const char *dd = "/usr/lib/debug";
	int err;

	memset(pp, 0, sizeof(*pp));
	pp->host = host;
	pp->api = api;
	pp->root = api->fs_root(host);
	/* for each profile: perf_event_open on every CPU with kernel
	 * callchains (PERFMON) and ring buffers past perf_event_mlock_kb
	 * (IPC_LOCK); /proc/PID/maps, root and map_files of every user's
	 * processes (SYS_PTRACE, CHECKPOINT_RESTORE) and their binaries in
	 * directories only their owner reads (DAC_READ_SEARCH); kernel
	 * addresses in /proc/kallsyms under kptr_restrict=1 (SYSLOG) */
	err = api->keep_capabilities(host, 1ull << CAP_PERFMON | 1ull << CAP_IPC_LOCK |
						   1ull << CAP_SYS_PTRACE |
						   1ull << CAP_CHECKPOINT_RESTORE |
						   1ull << CAP_DAC_READ_SEARCH | 1ull << CAP_SYSLOG);
	if (err)
		return err;
	(void)api->config_string(host, "debug_dir", &dd);
	pp->cfg.stack_bytes = config_u32(pp, "user_stack_bytes", 8192) & ~7u;
	pp->cfg.ring_pages = config_u32(pp, "ring_pages", 128);
	while (pp->cfg.ring_pages & (pp->cfg.ring_pages - 1))
		pp->cfg.ring_pages &= pp->cfg.ring_pages - 1; /* down to a power of two */
	pp->cfg.max_stacks = config_u32(pp, "max_stacks", 200000);
	pp->cfg.cache_entries = config_u32(pp, "elf_cache_files", 512);
	pp->cfg.result_bytes = config_u32(pp, "result_bytes", 24576);
	pp->cfg.max_fds = config_u32(pp, "max_fds", 1024);
	err = pp_elf_cache_init(&pp->cache, dd, pp->cfg.cache_entries);
	if (err)
		goto fail;
	pp->cfg.debug_dir = pp->cache.debug_dir;
	if (pp_unwinder_new(&pp->unw))
		api->log(host, SMCP_LOG_WARNING, "libunwind address space unavailable: frame "
						 "pointers only");
	pp->ks_err = -ENOENT;
	err = smcp_register_tools(host, api, tools, SMCP_COUNT(tools));
	if (!err)
		err = smcp_register_resources(host, api, resources, SMCP_COUNT(resources));
	if (err)
		goto fail;
	/* what the tools' descriptions leave out to keep tools/list small */
	err = api->add_instructions(host, PP_INSTRUCTIONS);
	if (!err)
		err = pp_stat_register(pp);
	if (err)
		goto fail;
	err = pp_steps_register(host, api);
	if (err)
		return err;
	probe(pp);
	if (!pp->perf_ok) {
		(void)api->set_status(host, true, pp->perf_err);
	} else if (!pp->privileged && pp->paranoid > 0) {
		char why[256];

		snprintf(why, sizeof(why),
			 "no CAP_PERFMON and kernel.perf_event_paranoid=%d: only processes of this "
			 "user can be profiled (pid)%s; run as root for system-wide profiles",
			 pp->paranoid, pp->paranoid >= 2 ? ", user space only" : "");
		(void)api->set_status(host, true, why);
	}
	return 0;
fail:
	(void)api->set_status(host, false, "cannot register the profiler's tools and resources");
	return err;
}

static void fini(struct smcp_host *host)
{
	struct pp_plugin *pp = &plugin;

	if (!pp->api)
		return;
	pp_work_fini(pp);
	pp_stat_fini();
	pp_run_fini(pp);
	if (pp->have_prof)
		pp_profile_free(&pp->prof);
	pp_kallsyms_free(&pp->ks);
	pp_unwinder_free(pp->unw);
	pp_elf_cache_fini(&pp->cache);
	memset(pp, 0, sizeof(*pp));
}

SMCP_PLUGIN_DEFINE("perf_profiler", "0.1.0",
		   "perf_event_open CPU profiler with symbolised kernel and user stacks",
		   .config_keys = config_keys, .init = init, .fini = fini)
