/* SPDX-License-Identifier: MIT */
/*
 * trace-cmd's trace.dat, through libtracecmd and libtraceevent: the
 * library parses the file (from the fd we opened), we keep the sched,
 * irq and softirq events in the model. Built only with TA_HAVE_TRACECMD
 * (meson: libtracecmd found).
 *
 * libtracecmd is not hardened against hostile files: 3.1.6 crashes in
 * tracecmd_open_fd's error path on a truncated trace.dat (the fuzz
 * target's corpus/tracedat/truncated). So it runs in a child process that
 * streams records (events, thread names, the result) through a pipe; the
 * worker thread adds them to the model under its memory bound, and a
 * child killed by a signal is a file that could not be read, not a daemon
 * that died.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ta.h"

/* the reader child's bounds (child_limits) */
#define TA_DAT_CHILD_MAP_BYTES (512ull << 20)
#define TA_DAT_CHILD_CPU_S 600

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

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <trace-cmd/trace-cmd.h>
#include <traceevent/event-parse.h>

/* Records the child sends: a kind byte, then its body. */
enum { REC_EVENT = 1, REC_THREAD, REC_END };

struct rec_thread {
	int32_t tid;
	char comm[20];
};

struct rec_end {
	int32_t rc;
	uint32_t producer_cpus;
	uint64_t missed;
	char msg[200];
};

const char *ta_tracedat_unavailable(void)
{
	return NULL;
}

/* The events we keep: their ids and fields, looked up once per file. */
enum { K_SWITCH, K_WAKING, K_WAKEUP_NEW, K_MIGRATE, K_IRQ_IN, K_IRQ_OUT, K_SI_IN, K_SI_OUT,
       K_FORK, K_EXIT, K_WAKEUP, K_N };

struct dat {
	int out; /* the pipe to the parent */
	size_t wn;
	uint8_t wbuf[65536];
	struct tep_handle *tep;
	int id[K_N];
	struct tep_event *ev[K_N];
	int err;
	uint64_t missed;
};

static int flush(struct dat *d)
{
	size_t at = 0;

	while (at < d->wn) {
		ssize_t w = write(d->out, d->wbuf + at, d->wn - at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EPIPE;
		at += (size_t)w;
	}
	d->wn = 0;
	return 0;
}

static int emit(struct dat *d, uint8_t kind, const void *body, size_t n)
{
	if (d->wn + 1 + n > sizeof(d->wbuf) && flush(d))
		return -EPIPE;
	d->wbuf[d->wn++] = kind;
	memcpy(d->wbuf + d->wn, body, n);
	d->wn += n;
	return 0;
}

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

	struct rec_thread th = { .tid = pid };
	size_t n;

	if (!f || pid <= 0 || f->offset < 0 || f->size <= 0 || f->offset + f->size > rec->size)
		return;
	n = strnlen((const char *)rec->data + f->offset, (size_t)f->size);
	if (!n)
		return;
	memcpy(th.comm, (const char *)rec->data + f->offset, n < 19 ? n : 19);
	(void)emit(d, REC_THREAD, &th, sizeof(th));
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
	case K_WAKEUP:
		ev.type = k == K_WAKING ? TA_EV_WAKING : k == K_WAKEUP ? TA_EV_WAKEUP :
			  TA_EV_WAKEUP_NEW;
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
	{
		uint8_t body[sizeof(uint32_t) + sizeof(ev)];
		uint32_t c = (uint32_t)cpu;

		memcpy(body, &c, sizeof(c));
		memcpy(body + sizeof(c), &ev, sizeof(ev));
		d->err = emit(d, REC_EVENT, body, sizeof(body));
	}
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

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TA_ASAN 1
#endif

/* The child's own bounds: what libtracecmd may map beyond what the child
 * inherited, and its CPU time. A hostile file that makes it allocate
 * without end or loop forever ends the child (ENOMEM, SIGXCPU/SIGKILL),
 * not the daemon's memory or one of its workers. ASan reserves terabytes
 * of shadow address space, so a sanitized build keeps only the CPU bound. */
static void child_limits(void)
{
	struct rlimit cpu = { TA_DAT_CHILD_CPU_S, TA_DAT_CHILD_CPU_S + 5 };
#ifndef TA_ASAN
	unsigned long long vm_pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu", &vm_pages) != 1)
			vm_pages = 0;
		fclose(f);
	}
	if (vm_pages) {
		rlim_t as = (rlim_t)vm_pages * (rlim_t)sysconf(_SC_PAGESIZE) +
			    TA_DAT_CHILD_MAP_BYTES;
		struct rlimit lim = { as, as };

		(void)setrlimit(RLIMIT_AS, &lim);
	}
#endif
	(void)setrlimit(RLIMIT_CPU, &cpu);
}

/* The child: parse the file, stream the records, end with the result. */
static void child_read(int fd, int out)
{
	static const char *const names[K_N][2] = {
		{ "sched", "sched_switch" },	  { "sched", "sched_waking" },
		{ "sched", "sched_wakeup_new" },  { "sched", "sched_migrate_task" },
		{ "irq", "irq_handler_entry" },	  { "irq", "irq_handler_exit" },
		{ "irq", "softirq_entry" },	  { "irq", "softirq_exit" },
		{ "sched", "sched_process_fork" }, { "sched", "sched_process_exit" },
		{ "sched", "sched_wakeup" },
	};
	struct dat *d = calloc(1, sizeof(*d));
	struct rec_end end = { 0 };
	struct tracecmd_input *h;
	int rc = 0;

	if (!d)
		_exit(3);
	/* A crash here is libtracecmd's on a bad file, contained and reported
	 * by the parent: die of the signal, without a sanitizer's report. */
	(void)signal(SIGSEGV, SIG_DFL);
	(void)signal(SIGBUS, SIG_DFL);
	(void)signal(SIGFPE, SIG_DFL);
	(void)signal(SIGILL, SIG_DFL);
	child_limits();
	d->out = out;
	tracecmd_set_loglevel(TEP_LOG_NONE);
	h = tracecmd_open_fd(fd, TRACECMD_FL_LOAD_NO_PLUGINS | TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	if (!h) {
		end.rc = -EPROTO;
		snprintf(end.msg, sizeof(end.msg), "libtracecmd cannot read this trace.dat "
			 "(truncated or corrupt)");
	} else {
		/* the top buffer and every instance (trace-cmd extract -B NAME puts
		 * the instance's events in a buffer of that name) */
		rc = read_handle(d, h, names);
		for (int i = 0, n = tracecmd_buffer_instances(h); !rc && i < n && i < 64; i++) {
			struct tracecmd_input *b = tracecmd_buffer_instance_handle(h, i);

			if (!b)
				continue;
			rc = read_handle(d, b, names);
			tracecmd_close(b);
		}
		end.rc = d->err ? d->err : rc;
		if (end.rc)
			snprintf(end.msg, sizeof(end.msg), "libtracecmd stopped reading events "
				 "(corrupt data)");
		end.missed = d->missed;
		end.producer_cpus = d->tep ? (uint32_t)tep_get_cpus(d->tep) : 0;
	}
	if (emit(d, REC_END, &end, sizeof(end)) || flush(d))
		_exit(2);
	_exit(0); /* no atexit handlers, no tracecmd_close: the process ends */
}

int ta_read_tracedat(struct ta_trace *t, int fd, char *err, size_t err_len)
{
	int pfd[2], status = 0, rc = 0;
	bool ended = false;
	FILE *in;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(err, err_len, "cannot start the trace.dat reader: %s", strerror(-rc));
		return rc;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_read(fd, pfd[1]);
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	if (!in) {
		close(pfd[0]);
		rc = -ENOMEM;
	}
	while (!rc && !ended) {
		int kind = fgetc(in);
		uint8_t body[sizeof(uint32_t) + sizeof(struct ta_ev)];
		struct rec_thread th;
		struct rec_end end;
		struct ta_ev ev;
		uint32_t cpu;

		if (kind == EOF)
			break;
		switch (kind) {
		case REC_EVENT:
			if (fread(body, sizeof(body), 1, in) != 1) {
				rc = -EPIPE;
				break;
			}
			memcpy(&cpu, body, sizeof(cpu));
			memcpy(&ev, body + sizeof(cpu), sizeof(ev));
			rc = ta_trace_add(t, cpu, &ev);
			break;
		case REC_THREAD:
			if (fread(&th, sizeof(th), 1, in) != 1) {
				rc = -EPIPE;
				break;
			}
			th.comm[sizeof(th.comm) - 1] = '\0';
			if (!ta_trace_thread(t, th.tid, 0, th.comm, sizeof(th.comm), false))
				rc = -EFBIG;
			break;
		case REC_END:
			if (fread(&end, sizeof(end), 1, in) != 1) {
				rc = -EPIPE;
				break;
			}
			end.msg[sizeof(end.msg) - 1] = '\0';
			ended = true;
			rc = end.rc;
			if (rc)
				snprintf(err, err_len, "%s", end.msg);
			t->lost_events += end.missed;
			t->producer_cpus = end.producer_cpus;
			break;
		default:
			rc = -EPROTO;
			break;
		}
	}
	if (in)
		fclose(in);
	if (rc || !ended)
		(void)kill(pid, SIGKILL); /* over the bound, or the child went wrong */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == -EFBIG)
		snprintf(err, err_len, "trace larger than the memory bound");
	else if (rc == -EINVAL)
		snprintf(err, err_len, "CPU number beyond 4095");
	else if (!ended && WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
		rc = -ETIME;
		snprintf(err, err_len, "reading this trace.dat took over %d s of CPU, the reader's "
			 "bound: it is corrupt or too large", TA_DAT_CHILD_CPU_S);
	} else if (!ended && WIFSIGNALED(status)) {
		rc = -EPROTO;
		snprintf(err, err_len, "libtracecmd crashed reading this trace.dat (signal %d): "
			 "it is truncated or corrupt", WTERMSIG(status));
	} else if (!ended || (rc && !err[0])) {
		rc = rc ? rc : -EPROTO;
		snprintf(err, err_len, "the trace.dat reader failed (%s)", strerror(-rc));
	}
	return rc;
}

#endif
