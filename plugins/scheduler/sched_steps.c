/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should read of the scheduler, and what only
 * this plugin can say when a prompt is got: whether a sched_ext scheduler
 * runs (and so which steps apply), what that scheduler is designed to do,
 * whether it is the one the user asked about, and what task a pid names.
 * Renders read a few small files: sched_ext's state and ops name, the
 * task's status and stat.
 */
#include "sched_steps.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	const struct kernel_release *kernel;
	const struct fair_state *(*fair)(void); /* the plugin's, cached */
} S;

static const char *root(void)
{
	return S.api->fs_root(S.host);
}

/* The sched_ext state now; true when a BPF scheduler is in charge. */
static bool scx_running(struct scx_state *st)
{
	sched_read_scx(root(), false, st);
	return strcmp(st->state, "enabled") == 0;
}

static const char *asked(const struct smcp_args *args)
{
	const char *v = NULL;

	return S.api->arg_string(args, "scheduler_name", &v) == 0 && v && *v ? v : NULL;
}

/* -------------------------------------------------- sched_ext schedulers */

/* What the common scx schedulers are designed to do, so that the model
 * does not take a design choice for a fault. */
static const struct {
	const char *name; /* ops name without the scx_ prefix */
	const char *notes;
} sched_notes[] = {
	{ "layered", "scx_layered groups tasks into layers by rules and gives each layer CPUs. "
		     "In its LayerStats (one per layer): `util`, `util_frac`, `tasks`, "
		     "`cur_nr_cpus` against `min_nr_cpus` and `max_nr_cpus` (a busy layer stuck "
		     "at max_nr_cpus is starved), `preempt` and `preempt_fail`, `affn_viol` "
		     "(tasks whose affinity escapes the layer), `xllc_migration`. Values are per "
		     "period since the previous read." },
	{ "rusty", "scx_rusty balances load between scheduling domains (usually one per LLC): "
		   "look for per-domain load differences and the migrations it does to fix them." },
	{ "lavd", "scx_lavd favours latency-critical tasks and compacts work onto fewer cores "
		  "when load is low: idle cores can be by design; watch preemption counts." },
	{ "bpfland", "scx_bpfland prioritises tasks that sleep often (interactive ones); "
		     "CPU-bound tasks may wait longer by design." },
	{ "p2dq", "scx_p2dq keeps dispatch queues per LLC and balances by picking the less "
		  "loaded of two: look at per-LLC depth and cross-LLC migrations." },
	{ "central", "scx_central dispatches from one CPU: that CPU is busy by design." },
	{ "simple", "scx_simple is a minimal example scheduler (global FIFO or vtime): no stats "
		    "socket, no topology awareness." },
};

/* Names users give (completion), the running one offered first. */
static const char *const known_schedulers[] = {
	"scx_bpfland", "scx_central", "scx_cosmos", "scx_flash",   "scx_flatcg", "scx_lavd",
	"scx_layered", "scx_nest",    "scx_p2dq",   "scx_rustland", "scx_rusty", "scx_simple",
	"scx_tickless", "EEVDF",
};

static const char *bare(const char *name)
{
	return strncmp(name, "scx_", 4) == 0 ? name + 4 : name;
}

/* "scx_layered" and "layered" (or "layered_1.0") name the same scheduler. */
static bool same_scheduler(const char *x, const char *y)
{
	x = bare(x);
	y = bare(y);
	return strcmp(x, y) == 0 || !strncmp(x, y, strlen(x)) || !strncmp(y, x, strlen(y));
}

static const char *notes_for(const char *name)
{
	name = bare(name);
	for (size_t i = 0; i < SMCP_COUNT(sched_notes); i++)
		if (!strncmp(name, sched_notes[i].name, strlen(sched_notes[i].name)))
			return sched_notes[i].notes;
	return NULL;
}

/* ---------------------------------------------------------------- renders */

/* When the prompt was made: no sched_ext, none running, or which runs, and
 * whether that is the scheduler asked about. */
static int render_context(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	const char *want = asked(args), *fair = sched_read_fair_class_name(S.kernel);
	bool want_scx = want && strncmp(want, "scx_", 4) == 0;
	struct scx_state st;

	if (scx_running(&st))
		return snprintf(buf, len, "When this prompt was made, the running sched_ext "
				"scheduler's ops name was %s.%s", st.ops[0] ? st.ops : "(unknown)",
				want && !same_scheduler(want, st.ops)
					? " That is not the scheduler asked about: say so, and "
					  "explain the one running."
					: "");
	if (!st.state[0])
		return snprintf(buf, len, "When this prompt was made, the kernel had no sched_ext: "
				"only the fair class (%s) can run.%s",
				fair ? fair : "EEVDF, or CFS before 6.6",
				want_scx ? " The scheduler asked about cannot run here: say so, and "
					   "explain the fair class instead."
					 : "");
	return snprintf(buf, len, "When this prompt was made, no sched_ext scheduler was "
			"running (state %s): the fair class%s%s%s schedules everything.%s",
			st.state, fair ? " (" : "", fair ? fair : "", fair ? ")" : "",
			want_scx ? " The scheduler asked about is not running: say so, and explain "
				   "what runs."
				 : "");
}

/* The task a pid names: thread or process, its name, its policy. */
static int render_task(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	const char *policy, *meaning;
	struct task_info t;
	int64_t pid;
	int n;

	if (S.api->arg_int(args, "pid", &pid) || sched_tasks_info_read(root(), pid, &t))
		return 0; /* no pid asked about, or it is gone: the core said it exists */
	if (t.tgid != pid)
		n = snprintf(buf, len, "Task %lld is thread %lld (%s) of process %lld (%s)",
			     (long long)pid, (long long)pid, t.comm, (long long)t.tgid,
			     t.proc_comm[0] ? t.proc_comm : "?");
	else
		n = snprintf(buf, len, "Task %lld is process %lld (%s)", (long long)pid,
			     (long long)pid, t.comm);
	policy = sched_tasks_policy_name(t.policy, &meaning);
	if (policy && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", scheduled as %s at nice %d%s", policy,
			      t.nice, meaning);
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ".");
	return n;
}

static int copy(char *buf, size_t len, const char *text)
{
	return snprintf(buf, len, "%s", text);
}

static const char scx_kernel_text[] =
	"Read stats://scheduler/scx: `sched_ext`.`events`, the kernel's counters of where the "
	"scheduler needed help (for example SCX_EV_SELECT_CPU_FALLBACK: no idle CPU found in "
	"select_cpu; SCX_EV_DISPATCH_KEEP_LAST: a CPU kept running its task for want of "
	"another); `nr_rejected` over 0: tasks the scheduler refused; `enable_seq` counts loads "
	"(a rising value: it restarts). Read `debug_dump` when readable.";

static const char fair_eevdf_text[] =
	"EEVDF picks the eligible task with the earliest virtual deadline; a waking task "
	"preempts only when it is eligible earlier.";

/* The name this kernel's base slice has in `tunables` (debugfs or the
 * sched/debug summary), or NULL when debugfs shows none. */
static const char *base_slice_name(void)
{
	const struct fair_state *f = S.fair();

	for (int i = 0; i < f->n; i++)
		if (!strncmp(f->t[i].name, "base_slice", 10))
			return f->t[i].name;
	return NULL;
}

static int render_scx_kernel(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct scx_state st;

	return scx_running(&st) ? copy(buf, len, scx_kernel_text) : 0;
}

/* What the scheduler asked about (else the one running) is designed to do. */
static int render_notes(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	const char *notes;
	struct scx_state st;

	if (!scx_running(&st))
		return 0;
	notes = notes_for(asked(args) ? asked(args) : st.ops);
	return notes ? snprintf(buf, len, "What it is designed to do: %s", notes) : 0;
}

static int render_fair(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct scx_state st;
	const char *slice;

	if (scx_running(&st))
		return 0;
	slice = base_slice_name();
	if (slice)
		return snprintf(buf, len, "From scheduler://current, `fair`.`tunables`: `%s` (the "
				"slice EEVDF gives a task before others are eligible; shorter: lower "
				"latency, more switches), and the other tunables with their sources. %s",
				slice, fair_eevdf_text);
	return snprintf(buf, len, "From scheduler://current, `fair`.`tunables` and their "
			"sources (the base slice is not among them here: `debugfs` says why). %s",
			fair_eevdf_text);
}

static int render_tuning(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	struct scx_state st;
	const char *slice;

	if (scx_running(&st))
		return copy(buf, len, "The tuning options for a sched_ext scheduler: its "
				      "command-line knobs, or another sched_ext scheduler better "
				      "suited to the workload.");
	slice = base_slice_name();
	return snprintf(buf, len, "The tuning options for the fair class: %s%snice and "
			"cgroup cpu.weight, SCHED_BATCH or SCHED_IDLE for background work, "
			"or a sched_ext scheduler.", slice ? slice : "", slice ? ", " : "");
}

/* ------------------------------------------------------------- completion */

static int complete_pid(void *data, const char *arg, const char *prefix,
			const struct smcp_args *context, struct smcp_completion *out)
{
	return S.api->completion_total(out, sched_tasks_complete_pid(S.api, root(), prefix, out));
}

static int complete_scheduler(void *data, const char *arg, const char *prefix,
			      const struct smcp_args *context, struct smcp_completion *out)
{
	size_t pl = strlen(prefix);
	struct scx_state st;
	uint32_t total = 0;
	bool running = scx_running(&st) && st.ops[0];

	if (running && strncasecmp(st.ops, prefix, pl) == 0) {
		(void)S.api->completion_add(out, st.ops);
		total++;
	}
	for (size_t i = 0; i < SMCP_COUNT(known_schedulers); i++) {
		const char *k = known_schedulers[i];

		if ((running && strcmp(k, st.ops) == 0) || strncasecmp(k, prefix, pl) != 0)
			continue;
		(void)S.api->completion_add(out, k);
		total++;
	}
	return S.api->completion_total(out, total);
}

/* ------------------------------------------------------------------ setup */

static const char scheduler_text[] =
	"Read scheduler://current: `class` (sched_ext or fair) and `name`. For sched_ext also "
	"`sched_ext`.`ops`, `switch_all` (false: only tasks that asked for SCHED_EXT use it) "
	"and `nr_rejected`; for the fair class `fair`.`algorithm` (EEVDF or CFS).";

int sched_steps_register(struct smcp_host *host, const struct smcp_host_api *api,
			 const struct kernel_release *kernel,
			 const struct fair_state *(*fair)(void))
{
	static const char which[] = "which scheduler runs (sched_ext or the fair class)";
	static const struct smcp_prompt_step steps[] = {
		{ SMCP_STEP("sched.current", 10),
		  .needs = "scheduler://current", .missing = which, .text = scheduler_text },
		{ SMCP_STEP("sched.change", 10),
		  .needs = "scheduler://current", .missing = which,
		  .text = "Read scheduler://current: `class` and `name`. Did the scheduler change "
			  "or restart (a different `name`, a higher `enable_seq`)?" },
		{ SMCP_STEP("context.scheduler", 10),
		  .render = render_context },
		{ SMCP_STEP("context.task", 10),
		  .render = render_task },
		{ SMCP_STEP("scx.kernel", 10),
		  .needs = "stats://scheduler/scx", .render = render_scx_kernel },
		{ SMCP_STEP("scx.scheduler", 10),
		  .render = render_notes },
		{ SMCP_STEP("sched.fair", 10),
		  .needs = "scheduler://current", .render = render_fair },
		{ SMCP_STEP("sched.tuning", 10),
		  .render = render_tuning },
	};
	int err;

	if (!SMCP_API_HAS(api, register_prompt_step) ||
	    !SMCP_API_HAS(api, register_prompt_completion))
		return 0;
	S.host = host;
	S.api = api;
	S.kernel = kernel;
	S.fair = fair;
	err = smcp_register_prompt_steps(host, api, steps, SMCP_COUNT(steps));
	if (!err)
		err = api->register_prompt_completion(host, "pid", complete_pid, NULL);
	if (!err)
		err = api->register_prompt_completion(host, "scheduler_name", complete_scheduler,
						      NULL);
	return err;
}
