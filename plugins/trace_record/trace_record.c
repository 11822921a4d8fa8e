/* SPDX-License-Identifier: MIT */
/*
 * trace_record: record a Perfetto trace of the scheduler (compact sched
 * switch/waking, wakeup_new, migrate, fork/exec/exit, irq, softirq, CPU
 * frequency and idle) into the configured directory, bounded in time and
 * size. The client names no path: files are "<id>.perfetto-trace", the id
 * made here, created with openat(dirfd, O_CREAT | O_EXCL | O_NOFOLLOW).
 * See tr.h for the files of the plugin and docs/plugins/trace_record.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <schedmcp/array.h>

#include "tr.h"

#define DEFAULT_DIR "/var/lib/schedmcp/traces"
#define LIST_MAX 1000 /* recordings listed, newest first */

static struct tr_plugin plugin = { .dirfd = -1 };

static const struct smcp_config_key config_keys[] = {
	{ sizeof(struct smcp_config_key), "dir", SMCP_CONFIG_PATH, DEFAULT_DIR,
	  "directory of the recordings (created 0750 if missing)", 0, 0 },
	{ sizeof(struct smcp_config_key), "owner", SMCP_CONFIG_STRING, "schedmcp",
	  "account given a directory this plugin creates: the same as [core] user", 0, 0 },
	{ sizeof(struct smcp_config_key), "max_duration_s", SMCP_CONFIG_INT, "60",
	  "longest recording, seconds", 1, 3600 },
	{ sizeof(struct smcp_config_key), "default_duration_s", SMCP_CONFIG_INT, "5",
	  "recording length when the client gives none, seconds", 1, 3600 },
	{ sizeof(struct smcp_config_key), "max_mb", SMCP_CONFIG_INT, "256",
	  "largest trace file, MiB", 1, 65536 },
	{ sizeof(struct smcp_config_key), "ring_mb", SMCP_CONFIG_INT, "16",
	  "BPF ring buffers, MiB, shared by the online CPUs (each a power of two, at least "
	  "256 KiB)", 1, 1024 },
	{ sizeof(struct smcp_config_key), "max_files", SMCP_CONFIG_INT, "64",
	  "recordings kept in the directory at most; starting another is refused", 1, 100000 },
	{ sizeof(struct smcp_config_key), "drain_ms", SMCP_CONFIG_INT, "50",
	  "how often the ring buffers are drained into the file, ms", 10, 1000 },
	{ sizeof(struct smcp_config_key), "max_stack_hz", SMCP_CONFIG_INT, "1000",
	  "cap of the tool's stack_hz (stack samples per second per CPU; 0 forbids them)", 0,
	  1000 },
	{ 0 },
};

/* ------------------------------------------------------------- the ids */

static bool id_ok(const char *s)
{
	/* YYYYMMDD-HHMMSS-xxxx: digits, dashes at 8 and 15, lower-case hex */
	if (strlen(s) != TR_ID_LEN)
		return false;
	for (int i = 0; i < TR_ID_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 15) {
			if (c != '-')
				return false;
		} else if (i < 15 ? !(c >= '0' && c <= '9')
				  : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}

static void make_id(char *id, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	uint16_t rnd = 0;

	gmtime_r(&now, &tm);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint16_t)(now ^ getpid());
	snprintf(id, len, "%04d%02d%02d-%02d%02d%02d-%04x", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd);
}

/* ---------------------------------------------------------- the listing */

struct tr_file {
	char id[TR_ID_LEN + 1];
	uint64_t bytes;
	int64_t mtime_s;
};

static int newest_first(const void *a, const void *b)
{
	const struct tr_file *x = a, *y = b;

	return strcmp(y->id, x->id); /* ids start with the UTC time */
}

static bool running(const struct tr_plugin *p)
{
	return p->rec && p->rec->state != TR_DONE && p->rec->state != TR_FAILED;
}

static bool is_current(const struct tr_plugin *p, const char *id)
{
	return running(p) && !strcmp(p->rec->id, id);
}

/* The recordings in the directory (regular files named <id>.perfetto-trace),
 * newest first; returns how many, or -errno. */
static int list_files(struct tr_plugin *p, struct tr_file **ret)
{
	int fd = openat(p->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tr_file *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (len != TR_ID_LEN + strlen(TR_SUFFIX) ||
		    strcmp(de->d_name + TR_ID_LEN, TR_SUFFIX))
			continue;
		if (fstatat(p->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (smcp_array_grow((void **)&v, &cap, n, sizeof(*v), 64))
			break;
		memcpy(v[n].id, de->d_name, TR_ID_LEN);
		v[n].id[TR_ID_LEN] = 0;
		if (!id_ok(v[n].id))
			continue;
		v[n].bytes = (uint64_t)st.st_size;
		v[n].mtime_s = st.st_mtim.tv_sec;
		n++;
	}
	closedir(d);
	if (n) /* v is NULL when the directory holds none */
		qsort(v, n, sizeof(*v), newest_first);
	*ret = v;
	return (int)n;
}


static int read_recordings(void *data, struct smcp_call *call, const char *uri,
			   const struct smcp_args *vars, struct smcp_result *res)
{
	struct tr_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	struct tr_file *files = NULL;
	struct smcp_json *j;
	int n;

	(void)call, (void)uri, (void)vars;
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_bool(j, "available", !p->reason[0]);
	if (p->reason[0])
		api->json_string(j, "reason", p->reason);
	api->json_string(j, "dir", p->cfg.dir);
	api->json_bool(j, "dsq_tracks", !p->reason[0] && p->dsq_kernel);
	if (!p->dsq_kernel)
		api->json_string(j, "dsq_reason", p->dsq_why);
	if (p->rec) {
		api->json_object(j, "current");
		tr_rec_json(p->rec, j);
		api->json_end(j);
	}
	n = p->dirfd >= 0 ? list_files(p, &files) : -EBADF;
	if (n < 0) {
		api->json_string(j, "error", strerror(-n));
		n = 0;
	}
	api->json_uint(j, "count", (uint64_t)n);
	api->json_uint(j, "max_files", (uint64_t)p->cfg.max_files);
	api->json_array(j, "recordings");
	for (int i = 0; i < n && i < LIST_MAX; i++) {
		char file[TR_FILE_LEN];

		smcp_json_item_begin(api, j);
		tr_file_name(file, sizeof(file), files[i].id);
		api->json_object(j, NULL);
		api->json_string(j, "id", files[i].id);
		api->json_string(j, "file", file);
		api->json_uint(j, "bytes", files[i].bytes);
		api->json_int(j, "mtime_unix", files[i].mtime_s);
		if (is_current(p, files[i].id))
			api->json_string(j, "state", "recording");
		api->json_end(j);
		if (!smcp_json_item_fits(api, j)) {
			api->json_end(j);
			api->json_bool(j, "truncated", true);
			api->json_string(j, "hint", "only the newest recordings fit; "
					 "trace_record {\"action\":\"status\",\"id\":...} for one");
			goto out;
		}
	}
	api->json_end(j);
out:
	free(files);
	return 0;
}

/* ------------------------------------------------------------- the tool */

static const char tool_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"action\":{\"enum\":[\"record\",\"start\",\"stop\",\"status\"]},"
	"\"id\":{\"type\":\"string\",\"maxLength\":64},"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600},"
	"\"max_mb\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65536},"
	"\"stack_hz\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000}"
	"},\"additionalProperties\":false}";

static int answer_rec(struct tr_plugin *p, struct tr_rec *r, struct smcp_result *res)
{
	struct smcp_json *j = p->api->result_json(res);

	if (!j)
		return -ENOMEM;
	tr_rec_json(r, j);
	return 0;
}

static int status_of_file(struct tr_plugin *p, const char *id, struct smcp_result *res)
{
	const struct smcp_host_api *api = p->api;
	char file[TR_FILE_LEN];
	struct smcp_json *j;
	struct stat st;

	tr_file_name(file, sizeof(file), id);
	if (fstatat(p->dirfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return api->result_error(res, "no recording %s; traces://recordings lists them",
					 id);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_string(j, "id", id);
	api->json_string(j, "state", "done");
	api->json_string(j, "file", file);
	api->json_uint(j, "bytes", (uint64_t)st.st_size);
	return 0;
}

static int start(struct tr_plugin *p, bool wait, struct smcp_call *call, const struct smcp_args *args,
		 struct smcp_result *res)
{
	const struct smcp_host_api *api = p->api;
	int64_t dur = p->cfg.default_duration_s, mb = p->cfg.max_mb, hz = 0;
	struct tr_file *files = NULL;
	char id[TR_ID_LEN + 1], file[TR_FILE_LEN];
	struct tr_rec *r;
	int fd, n, err;

	if (p->reason[0])
		return api->result_error(res, "recording is not available here: %s", p->reason);
	if (running(p))
		return api->result_error(res,
					 "recording %s is running; one at a time: stop it with "
					 "{\"action\":\"stop\",\"id\":\"%s\"}",
					 p->rec->id, p->rec->id);
	(void)api->arg_int(args, "duration_s", &dur);
	(void)api->arg_int(args, "max_mb", &mb);
	if (api->arg_int(args, "stack_hz", &hz) == 0 && hz > p->cfg.max_stack_hz)
		return api->result_error(res, "stack_hz %lld is over this server's cap of %lld",
					 (long long)hz, (long long)p->cfg.max_stack_hz);
	if (dur > p->cfg.max_duration_s)
		return api->result_error(res, "duration_s %lld is over this server's cap of %lld s",
					 (long long)dur, (long long)p->cfg.max_duration_s);
	if (mb > p->cfg.max_mb)
		return api->result_error(res, "max_mb %lld is over this server's cap of %lld MiB",
					 (long long)mb, (long long)p->cfg.max_mb);
	n = list_files(p, &files);
	free(files);
	if (n >= p->cfg.max_files)
		return api->result_error(res,
					 "the trace directory holds %d recordings, the most allowed "
					 "([plugin trace_record] max_files): remove old ones first", n);
	make_id(id, sizeof(id));
	tr_file_name(file, sizeof(file), id);
	fd = openat(p->dirfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		err = -errno;
		if (err == -EEXIST)
			return api->result_error(res, "a recording named %s exists; try again", id);
		return api->result_error(res, "cannot create %s in %s: %s%s", file, p->cfg.dir,
					 strerror(-err),
					 err == -EACCES ? " (the daemon's account must own the directory)"
							: "");
	}
	p->next_stack_hz = hz > 0 ? (uint32_t)hz : 0;
	err = tr_rec_start(p, id, fd, (uint64_t)dur * 1000, (uint64_t)mb << 20, &r);
	if (err) {
		close(fd);
		(void)unlinkat(p->dirfd, file, 0);
		if (err == -EBUSY)
			return api->result_error(res, "the server is busy; try again");
		return err;
	}
	tr_rec_free(p->rec);
	p->rec = r;
	if (wait) {
		tr_rec_wait(r, call, res, true);
		return SMCP_PENDING;
	}
	return answer_rec(p, r, res);
}

static int call_tool(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	struct tr_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	const char *action = "record", *id = NULL;

	(void)api->arg_string(args, "action", &action);
	(void)api->arg_string(args, "id", &id);
	if (id && !id_ok(id))
		return api->result_error(res, "id must be a recording's id as trace_record gave it "
					 "(YYYYMMDD-HHMMSS-xxxx); traces://recordings lists them");
	if (!strcmp(action, "record") || !strcmp(action, "start")) {
		if (id)
			return api->result_error(res, "%s takes no id: the server names recordings",
						 action);
		return start(p, !strcmp(action, "record"), call, args, res);
	}
	if (!strcmp(action, "stop")) {
		if (!running(p) || (id && strcmp(id, p->rec->id)))
			return api->result_error(res, "no recording %s is running", id ? id : "");
		tr_rec_stop(p->rec, "stopped by the client");
		tr_rec_wait(p->rec, call, res, false);
		return SMCP_PENDING;
	}
	/* status */
	if (!id) {
		if (!p->rec)
			return api->result_error(res, "nothing recorded since start; "
						 "traces://recordings lists the files");
		return answer_rec(p, p->rec, res);
	}
	if (p->rec && !strcmp(id, p->rec->id))
		return answer_rec(p, p->rec, res);
	return status_of_file(p, id, res);
}

static const struct smcp_tool_desc tools[] = { {
	SMCP_TOOL("trace_record"),
	.description = "Perfetto trace of the scheduler: action record (waits), start, stop, "
		       "status (id).",
	.input_schema = tool_schema,
	.call = call_tool,
	.data = &plugin,
} };

static const struct smcp_resource_desc resources[] = { {
	SMCP_RESOURCE("traces://recordings"),
	.name = "trace_recordings",
	.title = "Recorded traces",
	.description = "Perfetto traces recorded by trace_record, newest first: id, file, bytes; "
		       "the current recording with its progress and losses.",
	.mime_type = "application/json",
	.read = read_recordings,
	.data = &plugin,
} };

void tr_plugin_finished(struct tr_plugin *p, struct tr_rec *r)
{
	p->api->log(p->h, r->state == TR_DONE ? SMCP_LOG_INFO : SMCP_LOG_WARNING,
		    "recording %s %s: %s (%llu bytes)", r->id,
		    r->state == TR_DONE ? "done" : "failed", r->reason,
		    (unsigned long long)r->snap.bytes);
	(void)p->api->notify_resource_updated(p->h, "traces://recordings");
}

/* ------------------------------------------------------------ init/fini */

/* Open the directory (creating it 0750, given to owner); -errno with why. */
static int open_dir(struct tr_plugin *p, char *why, size_t len)
{
	const char *dir = p->cfg.dir;
	struct stat st;
	bool created = false;
	int fd;

	if (mkdir(dir, 0750) == 0)
		created = true;
	else if (errno != EEXIST) {
		snprintf(why, len, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (created && p->cfg.owner[0]) {
		struct passwd *pw = getpwnam(p->cfg.owner);

		if (pw && fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
			snprintf(why, len, "cannot give %s to %s: %s", dir, p->cfg.owner,
				 strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_mode & S_IWOTH)) {
		snprintf(why, len, "%s is not a directory only its owner may write", dir);
		close(fd);
		return -EPERM;
	}
	return fd;
}

static int init(struct smcp_host *h, const struct smcp_host_api *api)
{
	struct tr_plugin *p = &plugin;
	long n;
	int err;

	p->h = h;
	p->api = api;
	p->dirfd = -1;
	if (api->config_string(h, "dir", &p->cfg.dir))
		p->cfg.dir = DEFAULT_DIR;
	if (api->config_string(h, "owner", &p->cfg.owner))
		p->cfg.owner = "schedmcp";
	p->cfg.max_duration_s = smcp_config_int_or(h, api, "max_duration_s", 60);
	p->cfg.default_duration_s = smcp_config_int_or(h, api, "default_duration_s", 5);
	p->cfg.max_mb = smcp_config_int_or(h, api, "max_mb", 256);
	p->cfg.ring_mb = smcp_config_int_or(h, api, "ring_mb", 16);
	p->cfg.max_files = smcp_config_int_or(h, api, "max_files", 64);
	p->cfg.drain_ms = smcp_config_int_or(h, api, "drain_ms", 50);
	p->cfg.max_stack_hz = smcp_config_int_or(h, api, "max_stack_hz", TR_STACKS_MAX_HZ);
	if (p->cfg.max_stack_hz < 0 || p->cfg.max_stack_hz > TR_STACKS_MAX_HZ)
		p->cfg.max_stack_hz = TR_STACKS_MAX_HZ;
	if (p->cfg.default_duration_s > p->cfg.max_duration_s)
		p->cfg.default_duration_s = p->cfg.max_duration_s;
	n = sysconf(_SC_NPROCESSORS_CONF);
	p->ncpus = n > 0 && n < 65536 ? (uint32_t)n : 1;

	err = open_dir(p, p->reason, sizeof(p->reason));
	if (err >= 0) {
		p->dirfd = err;
		p->reason[0] = 0;
		(void)tr_rec_probe(p, p->reason, sizeof(p->reason));
	}
	tr_dsq_probe(p);
	/* load and attach the programs per recording, after the drop; with
	 * stack samples allowed (max_stack_hz > 0), what perf_profiler keeps
	 * to name their frames: kernel addresses in /proc/kallsyms (SYSLOG),
	 * /proc/PID/maps and map_files of every user's processes (SYS_PTRACE,
	 * CHECKPOINT_RESTORE), binaries only their owner may read
	 * (DAC_READ_SEARCH) */
	err = api->keep_capabilities(h, 1ull << CAP_BPF | 1ull << CAP_PERFMON |
					(p->cfg.max_stack_hz > 0
						 ? 1ull << CAP_SYSLOG | 1ull << CAP_SYS_PTRACE |
							   1ull << CAP_CHECKPOINT_RESTORE |
							   1ull << CAP_DAC_READ_SEARCH
						 : 0));
	if (err)
		return err;
	err = smcp_register_tools(h, api, tools, SMCP_COUNT(tools));
	if (!err)
		err = smcp_register_resources(h, api, resources, SMCP_COUNT(resources));
	if (!err)
		err = api->add_instructions(h, "trace_record writes a Perfetto trace of the "
					    "scheduler; traces://recordings lists them.");
	if (err)
		return err;
	if (p->reason[0])
		(void)api->set_status(h, true, p->reason);
	return 0;
}

static void fini(struct smcp_host *h)
{
	struct tr_plugin *p = &plugin;

	(void)h;
	tr_rec_free(p->rec);
	p->rec = NULL;
	if (p->dirfd >= 0)
		close(p->dirfd);
	p->dirfd = -1;
}

SMCP_PLUGIN_DEFINE("trace_record", "0.1.0",
		   "Perfetto traces of the scheduler, recorded with BPF into a bounded directory",
		   .config_keys = config_keys, .init = init, .fini = fini)
