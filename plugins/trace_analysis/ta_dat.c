/* SPDX-License-Identifier: MIT */
/*
 * trace-cmd's trace.dat, through libtracecmd and libtraceevent: the
 * library parses the file (from the fd we opened), we keep the sched,
 * irq and softirq events in the model. Built only with TA_HAVE_TRACECMD
 * (meson: libtracecmd found).
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ta.h"

bool ta_is_tracedat(const uint8_t *buf, size_t len)
{
	static const uint8_t magic[] = { 0x17, 0x08, 0x44, 't', 'r', 'a', 'c', 'i', 'n', 'g' };

	return len >= sizeof(magic) && !memcmp(buf, magic, sizeof(magic));
}

#ifndef TA_HAVE_TRACECMD

const char *ta_tracedat_unavailable(void)
{
	return "this build has no libtracecmd (Debian libtracecmd-dev): trace.dat cannot be read";
}

int ta_read_tracedat(struct ta_trace *t, int fd, char *err, size_t err_len)
{
	(void)t;
	(void)fd;
	snprintf(err, err_len, "%s", ta_tracedat_unavailable());
	return -ENOTSUP;
}

#else

#include <trace-cmd/trace-cmd.h>
#include <traceevent/event-parse.h>

const char *ta_tracedat_unavailable(void)
{
	return NULL;
}

/* The events we keep: their ids and fields, looked up once per file. */
enum { K_SWITCH, K_WAKING, K_WAKEUP_NEW, K_MIGRATE, K_IRQ_IN, K_IRQ_OUT, K_SI_IN, K_SI_OUT,
       K_FORK, K_EXIT, K_N };

struct dat {
	struct ta_trace *t;
	struct tep_handle *tep;
	int id[K_N];
	struct tep_event *ev[K_N];
	int err;
	uint64_t missed;
};

static int64_t num(struct tep_event *e, struct tep_record *rec, const char *name, int64_t def)
{
	unsigned long long v;
	struct tep_format_field *f = tep_find_field(e, name);

	if (!f || tep_read_number_field(f, rec->data, &v))
		return def;
	return (int64_t)v;
}

static void comm(struct dat *d, struct tep_event *e, struct tep_record *rec, const char *name,
		 int32_t pid)
{
	struct tep_format_field *f = tep_find_field(e, name);

	if (!f || pid < 0 || f->offset < 0 || f->size <= 0 || f->offset + f->size > rec->size)
		return;
	(void)ta_trace_thread(d->t, pid, 0, (const char *)rec->data + f->offset, (size_t)f->size,
			      false);
}

static int on_record(struct tracecmd_input *h, struct tep_record *rec, int cpu, void *data)
{
	struct dat *d = data;
	struct ta_ev ev = { .ts = rec->ts };
	int type = tep_data_type(d->tep, rec), k;
	struct tep_event *e;

	(void)h;
	if (rec->missed_events > 0)
		d->missed += (uint64_t)rec->missed_events;
	for (k = 0; k < K_N; k++)
		if (d->ev[k] && d->id[k] == type)
			break;
	if (k == K_N || cpu < 0)
		return 0;
	e = d->ev[k];
	switch (k) {
	case K_SWITCH:
		ev.type = TA_EV_SWITCH;
		ev.a = (int32_t)num(e, rec, "prev_pid", TA_PID_UNKNOWN);
		ev.b = (int32_t)num(e, rec, "next_pid", 0);
		ev.c = (int32_t)num(e, rec, "next_prio", 120);
		ev.state = ta_pstate_of(num(e, rec, "prev_state", 0));
		comm(d, e, rec, "prev_comm", ev.a);
		comm(d, e, rec, "next_comm", ev.b);
		break;
	case K_WAKING:
	case K_WAKEUP_NEW:
		ev.type = k == K_WAKING ? TA_EV_WAKING : TA_EV_WAKEUP_NEW;
		ev.a = (int32_t)num(e, rec, "pid", 0);
		ev.b = (int32_t)num(e, rec, "target_cpu", cpu);
		ev.c = (int32_t)num(e, rec, "prio", 120);
		comm(d, e, rec, "comm", ev.a);
		break;
	case K_MIGRATE:
		ev.type = TA_EV_MIGRATE;
		ev.a = (int32_t)num(e, rec, "pid", 0);
		ev.b = (int32_t)num(e, rec, "orig_cpu", 0);
		ev.c = (int32_t)num(e, rec, "dest_cpu", 0);
		comm(d, e, rec, "comm", ev.a);
		break;
	case K_IRQ_IN:
	case K_IRQ_OUT:
		ev.type = k == K_IRQ_IN ? TA_EV_IRQ_ENTRY : TA_EV_IRQ_EXIT;
		ev.a = (int32_t)num(e, rec, "irq", 0);
		break;
	case K_SI_IN:
	case K_SI_OUT:
		ev.type = k == K_SI_IN ? TA_EV_SOFTIRQ_ENTRY : TA_EV_SOFTIRQ_EXIT;
		ev.a = (int32_t)num(e, rec, "vec", 0);
		break;
	case K_FORK:
		ev.type = TA_EV_FORK;
		ev.a = (int32_t)num(e, rec, "parent_pid", 0);
		ev.b = (int32_t)num(e, rec, "child_pid", 0);
		comm(d, e, rec, "child_comm", ev.b);
		break;
	case K_EXIT:
		ev.type = TA_EV_EXIT;
		ev.a = (int32_t)num(e, rec, "pid", 0);
		break;
	}
	d->err = ta_trace_add(d->t, (uint32_t)cpu, &ev);
	return d->err ? -1 : 0; /* non-zero stops the iteration */
}

static int read_handle(struct dat *d, struct tracecmd_input *h, const char *const (*names)[2])
{
	d->tep = tracecmd_get_tep(h);
	for (int k = 0; k < K_N; k++) {
		d->ev[k] = d->tep ? tep_find_event_by_name(d->tep, names[k][0], names[k][1]) : NULL;
		d->id[k] = d->ev[k] ? d->ev[k]->id : -1;
	}
	if (tracecmd_iterate_events(h, NULL, 0, on_record, d) < 0 && !d->err)
		return -EPROTO;
	return d->err;
}

int ta_read_tracedat(struct ta_trace *t, int fd, char *err, size_t err_len)
{
	static const char *const names[K_N][2] = {
		{ "sched", "sched_switch" },	  { "sched", "sched_waking" },
		{ "sched", "sched_wakeup_new" },  { "sched", "sched_migrate_task" },
		{ "irq", "irq_handler_entry" },	  { "irq", "irq_handler_exit" },
		{ "irq", "softirq_entry" },	  { "irq", "softirq_exit" },
		{ "sched", "sched_process_fork" }, { "sched", "sched_process_exit" },
	};
	struct dat d = { .t = t };
	struct tracecmd_input *h;
	int rc = 0;

	tracecmd_set_loglevel(TEP_LOG_NONE);
	/* tracecmd_close closes the fd: hand it a duplicate */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	h = tracecmd_open_fd(fd, TRACECMD_FL_LOAD_NO_PLUGINS | TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	if (!h) {
		close(fd);
		snprintf(err, err_len, "libtracecmd cannot read this trace.dat (truncated or corrupt)");
		return -EPROTO;
	}
	/* the top buffer and every instance (trace-cmd extract -B NAME puts
	 * the instance's events in a buffer of that name) */
	rc = read_handle(&d, h, names);
	for (int i = 0, n = tracecmd_buffer_instances(h); !rc && i < n && i < 64; i++) {
		struct tracecmd_input *b = tracecmd_buffer_instance_handle(h, i);

		if (!b)
			continue;
		rc = read_handle(&d, b, names);
		tracecmd_close(b);
	}
	if (d.err == -EFBIG)
		snprintf(err, err_len, "trace larger than the memory bound");
	else if (d.err)
		snprintf(err, err_len, "%s", d.err == -EINVAL ? "CPU number beyond 4095" :
					     "out of memory");
	else if (rc)
		snprintf(err, err_len, "libtracecmd stopped reading events (corrupt data)");
	t->lost_events += d.missed;
	t->producer_cpus = d.tep ? (uint32_t)tep_get_cpus(d.tep) : 0;
	tracecmd_close(h);
	return d.err ? d.err : rc;
}

#endif
