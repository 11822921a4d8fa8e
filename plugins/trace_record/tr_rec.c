/* SPDX-License-Identifier: MIT */
/*
 * One recording, on the loop: start it, drain it on a timer, stop it at a
 * cap or when asked, answer the calls that wait for it. Every step that
 * touches the kernel or the file is a job of tr_jobs.c, at most one in
 * flight (rec->busy): the next drain waits for it, so a slow disk makes the
 * ring buffer fill and the kernel side count losses rather than jobs pile
 * up. Size and duration caps end the recording.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr.h"

/* ------------------------------------------------------------- loop side */

static const char *const type_names[TR_NTYPES] = {
	[TR_SWITCH] = "sched_switch",
	[TR_WAKING] = "sched_waking",
	[TR_WAKEUP_NEW] = "sched_wakeup_new",
	[TR_MIGRATE] = "sched_migrate_task",
	[TR_FORK] = "sched_process_fork",
	[TR_EXEC] = "sched_process_exec",
	[TR_EXIT] = "sched_process_exit",
	[TR_IRQ_ENTRY] = "irq_handler_entry",
	[TR_IRQ_EXIT] = "irq_handler_exit",
	[TR_SOFTIRQ_ENTRY] = "softirq_entry",
	[TR_SOFTIRQ_EXIT] = "softirq_exit",
	[TR_CPU_FREQ] = "cpu_frequency",
	[TR_CPU_IDLE] = "cpu_idle",
	[TR_DSQ_INSERT] = "dsq_insert",
	[TR_DSQ_DISPATCH] = "dsq_dispatch",
};

static void job_done(void *data, int result);

static void submit(struct tr_rec *r, int (*fn)(void *))
{
	const struct smcp_host_api *api = r->p->api;
	int err;

	r->job_t0_ns = api->now_ns(r->p->h);
	r->busy = true;
	r->job = fn;
	/* a drain keeps pace with the kernel or the ring overflows: on a
	 * machine busy with other work the long-work workers (nice +10) got
	 * a tenth of a CPU and lost a third of 550k events/s; the paced lane
	 * runs at the loop's priority (host ABI 1.3) */
	if (fn == tr_job_drain && SMCP_API_HAS(api, work_submit_paced))
		err = api->work_submit_paced(r->p->h, fn, job_done, r);
	else
		err = api->work_submit(r->p->h, fn, job_done, r);
	if (err) {
		/* the host's queue is full: try at the next tick */
		r->busy = false;
		r->job = NULL;
	}
}

static void take_snapshot(struct tr_rec *r)
{
	struct tr_snap *s = &r->snap;

	s->bytes = tr_out_size(&r->out);
	s->late = r->late;
	s->recursion_misses = r->recursion_misses;
	s->packets_dropped_cap = r->out.packets_dropped_cap;
	s->lost_buffer = 0;
	for (uint32_t c = 0; c < r->ncpus; c++)
		s->lost_buffer += r->cpu[c].lost_buffer;
	memcpy(s->written, r->written, sizeof(s->written));
	memcpy(s->seen, r->seen, sizeof(s->seen));
	memcpy(s->lost_ring, r->lost_ring, sizeof(s->lost_ring));
	memcpy(s->hidden, r->hidden, sizeof(s->hidden));
	s->blind = 0;
	for (uint32_t c = 0; c < r->ncpus; c++)
		s->blind += r->cpu[c].blind;
	s->hidden_counted = r->hidden_counted;
	s->start_boot_ns = r->start_boot_ns;
	s->end_boot_ns = r->end_boot_ns;
	s->dsq_late = r->dsq.late;
	s->dsq_lost_buffer = r->dsq.lost_buffer;
	s->dsq_untracked = r->dsq.st.untracked;
	s->dsq_n = r->dsq.st.n;
	/* the object goes at finish: once it was on, the recording has it */
	s->dsq_on = s->dsq_on || r->dsq.skel;
	snprintf(s->dsq_why, sizeof(s->dsq_why), "%s", r->dsq.why);
	tr_stacks_snap(r->stacks, &r->stacks_snap);
}

static void remove_timers(struct tr_rec *r)
{
	const struct smcp_host_api *api = r->p->api;

	if (r->timer_drain > 0)
		(void)api->timer_remove(r->p->h, r->timer_drain);
	if (r->timer_end > 0)
		(void)api->timer_remove(r->p->h, r->timer_end);
	if (r->timer_progress > 0)
		(void)api->timer_remove(r->p->h, r->timer_progress);
	r->timer_drain = r->timer_end = r->timer_progress = 0;
}

static void on_drain_timer(void *data)
{
	struct tr_rec *r = data;

	if (r->busy)
		return;
	if (r->stop_wanted)
		submit(r, tr_job_finish);
	else
		submit(r, tr_job_drain);
}

static void on_end_timer(void *data)
{
	struct tr_rec *r = data;

	r->timer_end = 0;
	tr_rec_stop(r, "duration reached");
}

static void on_progress_timer(void *data)
{
	struct tr_rec *r = data;
	uint64_t ms = (r->p->api->now_ns(r->p->h) - r->t0_ns) / 1000000;
	uint64_t ev = 0;
	char msg[160];

	if (!r->call)
		return;
	for (int t = 0; t < TR_NTYPES; t++)
		ev += r->snap.written[t];
	snprintf(msg, sizeof(msg), "recording %s: %llu events, %llu bytes written", r->id,
		 (unsigned long long)ev, (unsigned long long)r->snap.bytes);
	(void)r->p->api->call_progress(r->call, (double)ms,
				       r->duration_ms ? (double)r->duration_ms : 0, msg);
}

static void complete_call(struct tr_rec *r)
{
	const struct smcp_host_api *api = r->p->api;
	struct smcp_json *j;

	if (!r->call)
		return;
	if (r->state == TR_FAILED) {
		(void)api->result_error(r->res, "recording %s failed: %s", r->id, r->reason);
	} else {
		j = api->result_json(r->res);
		if (j)
			tr_rec_json(r, j);
	}
	(void)api->call_complete(r->call, 0);
	r->call = NULL;
	r->res = NULL;
}

static void job_done(void *data, int result)
{
	struct tr_rec *r = data;
	int (*job)(void *) = r->job;

	r->busy = false;
	r->job = NULL;
	take_snapshot(r);
	{
		uint64_t ns = r->p->api->now_ns(r->p->h) - r->job_t0_ns;

		if (ns > r->job_max_ns)
			r->job_max_ns = ns;
		r->p->api->log(r->p->h, SMCP_LOG_DEBUG, "%s job took %.1f ms",
			       job == tr_job_start ? "start" : job == tr_job_drain ? "drain" : "finish",
			       (double)ns / 1e6);
	}
	if (job == tr_job_finish) {
		remove_timers(r);
		r->elapsed_ns = r->p->api->now_ns(r->p->h) - r->t0_ns;
		close(r->fd);
		r->fd = -1;
		if (result || r->err) {
			r->state = TR_FAILED;
			snprintf(r->reason, sizeof(r->reason), "%s", r->why);
			/* a trace that failed to start holds nothing of use */
			if (!r->start_boot_ns) {
				char file[TR_FILE_LEN];

				tr_file_name(file, sizeof(file), r->id);
				(void)unlinkat(r->p->dirfd, file, 0);
			}
		} else {
			r->state = TR_DONE;
		}
		complete_call(r);
		tr_plugin_finished(r->p, r);
		return;
	}
	if (job == tr_job_start && !result && r->state == TR_STARTING) {
		/* the duration counts from the moment every program is attached */
		r->state = TR_RUNNING;
		if (r->duration_ms) {
			int tid = r->p->api->timer_add(r->p->h, r->duration_ms, false, on_end_timer, r);

			r->timer_end = tid > 0 ? tid : 0;
		}
	}
	if (result || r->err)
		tr_rec_stop(r, r->why);
	else if (r->size_reached)
		tr_rec_stop(r, "size cap reached");
	if (r->stop_wanted && !r->busy)
		submit(r, tr_job_finish);
}

void tr_rec_stop(struct tr_rec *r, const char *reason)
{
	if (r->state != TR_STARTING && r->state != TR_RUNNING)
		return;
	/* the window ends now: a loaded machine may start the job much later,
	 * and everything up to now is in the file once the programs detach */
	if (r->state == TR_RUNNING)
		tr_read_clocks(&r->end_clocks);
	r->state = TR_STOPPING;
	r->stop_wanted = true;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	if (r->timer_end > 0)
		(void)r->p->api->timer_remove(r->p->h, r->timer_end);
	r->timer_end = 0;
	if (!r->busy)
		submit(r, tr_job_finish);
	/* else job_done submits it; the drain timer retries a refused submit */
}

static void on_cancel(void *data, struct smcp_call *call)
{
	struct tr_rec *r = data;

	(void)call;
	r->call = NULL;
	r->res = NULL;
	tr_rec_stop(r, "the waiting call was cancelled");
}

static void on_cancel_keep(void *data, struct smcp_call *call)
{
	struct tr_rec *r = data;

	(void)call;
	r->call = NULL;
	r->res = NULL;
}

void tr_rec_wait(struct tr_rec *r, struct smcp_call *call, struct smcp_result *res,
		 bool stop_on_cancel)
{
	r->call = call;
	r->res = res;
	(void)r->p->api->call_on_cancel(call, stop_on_cancel ? on_cancel : on_cancel_keep, r);
	if (r->timer_progress <= 0) {
		int id = r->p->api->timer_add(r->p->h, 1000, true, on_progress_timer, r);

		r->timer_progress = id > 0 ? id : 0;
	}
}

int tr_rec_start(struct tr_plugin *p, const char *id, int fd, uint64_t duration_ms,
		 uint64_t max_bytes, struct tr_rec **ret)
{
	struct tr_rec *r = calloc(1, sizeof(*r));
	int tid;

	if (!r)
		return -ENOMEM;
	r->p = p;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->fd = fd;
	r->duration_ms = duration_ms;
	r->max_bytes = max_bytes;
	r->ncpus = p->ncpus;
	r->stack_hz = r->stacks_snap.hz = p->next_stack_hz;
	r->cpu_cap_events = TR_CPU_PENDING_MAX;
	r->cpu = calloc(p->ncpus, sizeof(*r->cpu));
	r->intern = malloc(sizeof(*r->intern));
	r->chunk = malloc(TR_CHUNK_BYTES);
	if (!r->cpu || !r->intern || !r->chunk) {
		free(r->cpu);
		free(r->intern);
		free(r->chunk);
		free(r);
		return -ENOMEM;
	}
	/* bundles stop 64 KiB short of the cap: room for the statistics */
	tr_out_init(&r->out, fd, r->chunk, TR_CHUNK_BYTES,
		    max_bytes > (128u << 10) ? max_bytes - (64u << 10) : max_bytes / 2);
	r->t0_ns = p->api->now_ns(p->h);
	r->state = TR_STARTING;
	snprintf(r->reason, sizeof(r->reason), "recording");
	tid = p->api->timer_add(p->h, (uint64_t)p->cfg.drain_ms, true, on_drain_timer, r);
	r->timer_drain = tid > 0 ? tid : 0;
	submit(r, tr_job_start);
	if (!r->busy) {
		remove_timers(r);
		free(r->cpu);
		free(r->intern);
		free(r->chunk);
		free(r);
		return -EBUSY;
	}
	*ret = r;
	return 0;
}

void tr_rec_free(struct tr_rec *r)
{
	if (!r)
		return;
	if (r->state == TR_STARTING || r->state == TR_RUNNING || r->state == TR_STOPPING) {
		/* at shutdown (no job in flight: the host drained them) */
		remove_timers(r);
		(void)tr_job_finish(r);
		r->state = r->err ? TR_FAILED : TR_DONE;
	}
	if (r->fd >= 0)
		close(r->fd);
	for (uint32_t c = 0; c < r->ncpus; c++)
		free(r->cpu[c].ev);
	tr_dsq_free(r);
	tr_kstat_free(&r->kstat0);
	free(r->cpu);
	free(r->links);
	tr_stacks_free(r->stacks);
	free(r->sorted);
	free(r->intern);
	free(r->chunk);
	free(r);
}

static const char *state_name(enum tr_state s)
{
	switch (s) {
	case TR_STARTING: return "starting";
	case TR_RUNNING: return "recording";
	case TR_STOPPING: return "stopping";
	case TR_DONE: return "done";
	case TR_FAILED: return "failed";
	}
	return "?";
}

void tr_rec_json(const struct tr_rec *r, struct smcp_json *j)
{
	const struct smcp_host_api *api = r->p->api;
	const struct tr_snap *s = &r->snap;
	uint64_t total = 0, lost = 0, el;
	char file[TR_FILE_LEN];

	el = r->state == TR_DONE || r->state == TR_FAILED ? r->elapsed_ns
							   : api->now_ns(r->p->h) - r->t0_ns;
	tr_file_name(file, sizeof(file), r->id);
	api->json_string(j, "id", r->id);
	api->json_string(j, "state", state_name(r->state));
	api->json_string(j, "reason", r->reason);
	api->json_string(j, "file", file);
	api->json_double(j, "elapsed_s", (double)el / 1e9);
	api->json_uint(j, "bytes", s->bytes);
	api->json_uint(j, "max_bytes", r->max_bytes);
	api->json_double(j, "max_duration_s", (double)r->duration_ms / 1e3);
	api->json_string(j, "clock", "CLOCK_BOOTTIME");
	api->json_uint(j, "start_ns", s->start_boot_ns);
	if (s->end_boot_ns)
		api->json_uint(j, "end_ns", s->end_boot_ns);
	api->json_object(j, "events");
	for (int t = 1; t < TR_NTYPES; t++) {
		total += s->written[t];
		if (s->written[t] || s->lost_ring[t])
			api->json_uint(j, type_names[t], s->written[t]);
	}
	api->json_end(j);
	api->json_uint(j, "events_total", total);
	{
		uint64_t seen = 0;

		for (int t = 1; t < TR_NTYPES; t++)
			seen += s->seen[t];
		api->json_uint(j, "events_seen_by_bpf", seen);
	}
	if (s->bytes && total)
		api->json_double(j, "bytes_per_event", (double)s->bytes / (double)total);
	api->json_object(j, "lost");
	for (int t = 1; t < TR_NTYPES; t++) {
		lost += s->lost_ring[t];
		if (s->lost_ring[t])
			api->json_uint(j, type_names[t], s->lost_ring[t]);
	}
	api->json_uint(j, "ring_buffer_full", lost);
	api->json_uint(j, "pending_buffer_full", s->lost_buffer);
	api->json_uint(j, "kernel_skipped_recursion", s->recursion_misses);
	if (s->hidden_counted) {
		uint64_t n = 0;

		for (int t = 1; t < TR_NTYPES; t++)
			n += s->hidden[t];
		api->json_uint(j, "kernel_ran_no_bpf", n);
	}
	api->json_uint(j, "bundles_dropped_at_size_cap", s->packets_dropped_cap);
	api->json_end(j);
	/* lost holds counts of events only; these explain them */
	if (s->hidden_counted) {
		api->json_object(j, "kernel_ran_no_bpf");
		for (int t = 1; t < TR_NTYPES; t++)
			if (s->hidden[t])
				api->json_uint(j, type_names[t], s->hidden[t]);
		api->json_end(j);
	}
	api->json_uint(j, "switch_gaps", s->blind);
	api->json_uint(j, "reordered_late", s->late);
	api->json_object(j, "dsq");
	api->json_bool(j, "tracks", s->dsq_on);
	if (s->dsq_on) {
		api->json_uint(j, "dsqs", s->dsq_n);
		api->json_string(j, "depth", "relative: tasks inserted since the recording "
				 "started and not yet dispatched (those queued before are not counted)");
		api->json_uint(j, "late", s->dsq_late);
		api->json_uint(j, "pending_buffer_full", s->dsq_lost_buffer);
		api->json_uint(j, "past_dsq_limit", s->dsq_untracked);
	} else if (s->dsq_why[0]) {
		api->json_string(j, "reason", s->dsq_why);
	}
	api->json_end(j);
	api->json_double(j, "longest_job_ms", (double)r->job_max_ns / 1e6);
	tr_rec_stacks_json(r, j);
}

void tr_rec_stacks_json(const struct tr_rec *r, struct smcp_json *j)
{
	const struct smcp_host_api *api = r->p->api;
	const struct tr_stacks_snap *s = &r->stacks_snap;

	if (!s->hz)
		return;
	api->json_object(j, "stacks");
	api->json_uint(j, "stack_hz", s->hz);
	api->json_bool(j, "sampling", s->sampling);
	if (s->why[0])
		api->json_string(j, "why", s->why);
	api->json_uint(j, "samples", s->samples);
	api->json_uint(j, "lost_by_kernel", s->lost_kernel);
	api->json_uint(j, "dropped_at_caps", s->dropped_cap);
	api->json_uint(j, "callstacks", s->callstacks);
	api->json_uint(j, "frames", s->frames);
	api->json_uint(j, "function_names", s->names);
	api->json_uint(j, "mappings", s->mappings);
	api->json_uint(j, "user_frames", s->user_frames);
	api->json_uint(j, "user_frames_named", s->user_named);
	api->json_end(j);
}
