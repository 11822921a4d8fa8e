/* SPDX-License-Identifier: MIT */
/*
 * The Perfetto protobuf reader: a small decoder over a buffer that holds
 * the whole file (read once, size-capped, by the caller). The input is
 * hostile: every length is checked against what is left of its enclosing
 * message before use, varints stop at 10 bytes, and the decoder descends
 * only into the messages it knows (Trace > TracePacket > FtraceEventBundle
 * > FtraceEvent > one event), so nesting is bounded by that schema, not by
 * the file. Field numbers are Perfetto's (tests/traces/perfetto.proto).
 * A truncated file is an error that names the offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#include "ta.h"
#include "ta_stacks.h"

struct pb {
	const uint8_t *p, *end;
};

struct rd {
	struct ta_trace *t;
	const uint8_t *base;
	char *err;
	size_t err_len;
	int64_t *overrun_start; /* per CPU, FtraceStats START_OF_TRACE */
	uint32_t n_overrun;
};

/* A field: its number, wire type, and value (varint, fixed) or slice. */
struct pb_field {
	uint32_t no, wt;
	uint64_t v;
	struct pb sub;
};

static int fail(struct rd *r, const uint8_t *at, int err, const char *what)
{
	if (r->err && r->err_len && !r->err[0])
		snprintf(r->err, r->err_len, "%s at byte offset %zu", what,
			 (size_t)(at - r->base));
	return err;
}

static int varint(struct rd *r, struct pb *b, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		if (b->p >= b->end)
			return fail(r, b->p, -EPROTO, "truncated varint");
		x |= (uint64_t)(*b->p & 0x7f) << (7 * i);
		if (!(*b->p++ & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return fail(r, b->p, -EPROTO, "varint longer than 10 bytes");
}

/* The next field of b: 1, 0 at the end, or -EPROTO. */
static int next_field(struct rd *r, struct pb *b, struct pb_field *f)
{
	uint64_t key, len;
	const uint8_t *at = b->p;
	int err;

	if (b->p >= b->end)
		return 0;
	err = varint(r, b, &key);
	if (err)
		return err;
	f->no = (uint32_t)(key >> 3);
	f->wt = key & 7;
	if (key >> 32 || !f->no)
		return fail(r, at, -EPROTO, "bad field key");
	switch (f->wt) {
	case 0:
		return varint(r, b, &f->v) ?: 1;
	case 1:
	case 5: {
		size_t n = f->wt == 1 ? 8 : 4;

		if ((size_t)(b->end - b->p) < n)
			return fail(r, b->p, -EPROTO, "truncated fixed-width field");
		f->v = 0;
		memcpy(&f->v, b->p, n); /* little-endian hosts only (x86_64, arm64) */
		b->p += n;
		return 1;
	}
	case 2:
		err = varint(r, b, &len);
		if (err)
			return err;
		if (len > (uint64_t)(b->end - b->p))
			return fail(r, at, -EPROTO, "length beyond the end of its message (truncated?)");
		f->sub.p = b->p;
		f->sub.end = b->p + len;
		b->p += len;
		return 1;
	default:
		return fail(r, at, -EPROTO, "unsupported wire type (groups)");
	}
}

/* A message of few small fields (numbers 1..15): varints into v, slices into s. */
struct small {
	uint32_t has;
	int64_t v[16];
	struct pb s[16];
};

static int small_read(struct rd *r, struct pb b, struct small *m)
{
	struct pb_field f;
	int rc;

	memset(m, 0, sizeof(*m));
	while ((rc = next_field(r, &b, &f)) == 1) {
		if (f.no >= 16)
			continue;
		m->has |= 1u << f.no;
		if (f.wt == 2)
			m->s[f.no] = f.sub;
		else
			m->v[f.no] = (int64_t)f.v;
	}
	return rc;
}

static bool has(const struct small *m, int no)
{
	return m->has & (1u << no);
}

static int32_t i32(const struct small *m, int no, int32_t def)
{
	return has(m, no) ? (int32_t)m->v[no] : def;
}

static int name_thread(struct rd *r, int32_t tid, int32_t tgid, struct pb s, bool overwrite)
{
	if (tid < 0)
		return 0;
	if (!ta_trace_thread(r->t, tid, tgid, (const char *)s.p, (size_t)(s.end - s.p), overwrite))
		return fail(r, s.p, -EFBIG, "thread table over the memory bound");
	return 0;
}

static int add(struct rd *r, const uint8_t *at, uint32_t cpu, const struct ta_ev *ev)
{
	int err = ta_trace_add(r->t, cpu, ev);

	if (err == -EFBIG)
		return fail(r, at, err, "trace larger than the memory bound");
	if (err == -EINVAL)
		return fail(r, at, err, "CPU number beyond 4095");
	return err ? fail(r, at, err, "out of memory") : 0;
}

static int ftrace_event(struct rd *r, uint32_t cpu, struct pb b)
{
	struct pb_field f, payload = { 0 };
	struct small m;
	struct ta_ev ev = { 0 };
	uint64_t ts = 0;
	int rc, err = 0;

	while ((rc = next_field(r, &b, &f)) == 1) {
		if (f.no == 1 && f.wt == 0)
			ts = f.v;
		else if (f.wt == 2 && f.no >= 3)
			payload = f;
	}
	if (rc < 0)
		return rc;
	if (!payload.no)
		return 0;
	rc = small_read(r, payload.sub, &m);
	if (rc < 0)
		return rc;
	ev.ts = ts;
	switch (payload.no) {
	case 4: /* sched_switch */
		ev.type = TA_EV_SWITCH;
		ev.a = i32(&m, 2, TA_PID_UNKNOWN);
		ev.b = i32(&m, 6, 0);
		ev.c = i32(&m, 7, 120);
		ev.state = ta_pstate_of(m.v[4]);
		err = name_thread(r, ev.a, 0, m.s[1], false) ?: name_thread(r, ev.b, 0, m.s[5], false);
		break;
	case 17:  /* sched_wakeup */
	case 20:  /* sched_waking */
	case 114: /* sched_wakeup_new */
		ev.type = payload.no == 20 ? TA_EV_WAKING : payload.no == 17 ? TA_EV_WAKEUP :
			  TA_EV_WAKEUP_NEW;
		ev.a = i32(&m, 2, 0);
		ev.b = i32(&m, 5, (int32_t)cpu);
		ev.c = i32(&m, 3, 120);
		err = name_thread(r, ev.a, 0, m.s[1], false);
		break;
	case 491: /* sched_migrate_task */
		ev.type = TA_EV_MIGRATE;
		ev.a = i32(&m, 2, 0);
		ev.b = i32(&m, 4, 0);
		ev.c = i32(&m, 5, 0);
		err = name_thread(r, ev.a, 0, m.s[1], false);
		break;
	case 36:
	case 37:
		ev.type = payload.no == 36 ? TA_EV_IRQ_ENTRY : TA_EV_IRQ_EXIT;
		ev.a = i32(&m, 1, 0);
		break;
	case 24:
	case 25:
		ev.type = payload.no == 24 ? TA_EV_SOFTIRQ_ENTRY : TA_EV_SOFTIRQ_EXIT;
		ev.a = i32(&m, 1, 0);
		break;
	case 239: /* sched_process_fork */
		ev.type = TA_EV_FORK;
		ev.a = i32(&m, 2, 0);
		ev.b = i32(&m, 4, 0);
		err = name_thread(r, ev.b, 0, m.s[3], true);
		break;
	case 238: /* sched_process_exit */
		ev.type = TA_EV_EXIT;
		ev.a = i32(&m, 2, 0);
		err = name_thread(r, ev.a, i32(&m, 3, 0), m.s[1], false);
		break;
	case 235: /* task_newtask */
		return name_thread(r, i32(&m, 1, -1), 0, m.s[2], true);
	case 236: /* task_rename */
		return name_thread(r, i32(&m, 1, -1), 0, m.s[3], true);
	default:
		return 0;
	}
	return err ?: add(r, payload.sub.p, cpu, &ev);
}

/* One repeated integer field of CompactSched, packed or not, appended. */
struct vec {
	uint64_t *v;
	size_t n, cap;
};

static int vec_add(struct rd *r, struct vec *v, struct pb_field *f)
{
	struct pb b = f->sub;
	uint64_t x;
	int err;

	if (f->wt == 0) {
		if (smcp_array_grow(&v->v, &v->cap, v->n, sizeof(*v->v), 64))
			return -ENOMEM;
		v->v[v->n++] = f->v;
		return 0;
	}
	if (f->wt != 2)
		return fail(r, f->sub.p, -EPROTO, "compact_sched field of a wrong type");
	while (b.p < b.end) {
		/* 8 bytes a value from 1 byte of file: bounded like the trace */
		if (r->t->mem_limit && v->n >= r->t->mem_limit / sizeof(*v->v))
			return fail(r, b.p, -EFBIG, "compact_sched bundle larger than the memory bound");
		err = varint(r, &b, &x);
		if (err)
			return err;
		if (smcp_array_grow(&v->v, &v->cap, v->n, sizeof(*v->v), 64))
			return -ENOMEM;
		v->v[v->n++] = x;
	}
	return 0;
}

enum { CS_SW_TS, CS_SW_STATE, CS_SW_PID, CS_SW_PRIO, CS_SW_COMM, CS_WK_TS, CS_WK_PID,
       CS_WK_CPU, CS_WK_PRIO, CS_WK_COMM, CS_N };

static int compact_sched(struct rd *r, uint32_t cpu, struct pb b)
{
	/* field number -> vector */
	static const int8_t slot[13] = { -1, CS_SW_TS, CS_SW_STATE, CS_SW_PID, CS_SW_PRIO, -1,
					 CS_SW_COMM, CS_WK_TS, CS_WK_PID, CS_WK_CPU, CS_WK_PRIO,
					 CS_WK_COMM, -1 };
	struct vec v[CS_N] = { 0 };
	struct pb *intern = NULL;
	size_t n_intern = 0, cap_intern = 0;
	const uint8_t *at = b.p;
	struct pb_field f;
	uint64_t ts;
	int rc, err = 0;

	while ((rc = next_field(r, &b, &f)) == 1) {
		if (f.no == 5 && f.wt == 2) {
			if (r->t->mem_limit && n_intern >= r->t->mem_limit / sizeof(*intern)) {
				err = fail(r, f.sub.p, -EFBIG, "intern table larger than the memory bound");
				goto out;
			}
			if (smcp_array_grow(&intern, &cap_intern, n_intern, sizeof(*intern), 32)) {
				err = -ENOMEM;
				goto out;
			}
			intern[n_intern++] = f.sub;
		} else if (f.no < 13 && slot[f.no] >= 0) {
			err = vec_add(r, &v[slot[f.no]], &f);
			if (err)
				goto out;
		}
	}
	if (rc < 0) {
		err = rc;
		goto out;
	}
	for (int i = CS_SW_STATE; i <= CS_SW_COMM; i++)
		if (v[i].n && v[i].n != v[CS_SW_TS].n) {
			err = fail(r, at, -EPROTO, "compact_sched switch arrays of unequal length");
			goto out;
		}
	for (int i = CS_WK_PID; i <= CS_WK_COMM; i++)
		if (v[i].n && v[i].n != v[CS_WK_TS].n) {
			err = fail(r, at, -EPROTO, "compact_sched waking arrays of unequal length");
			goto out;
		}
	if (v[CS_SW_PID].n != v[CS_SW_TS].n || v[CS_WK_PID].n != v[CS_WK_TS].n) {
		err = fail(r, at, -EPROTO, "compact_sched without pids");
		goto out;
	}
	ts = 0;
	for (size_t i = 0; i < v[CS_SW_TS].n && !err; i++) {
		struct ta_ev ev = { .type = TA_EV_SWITCH, .a = TA_PID_UNKNOWN };

		ts += v[CS_SW_TS].v[i]; /* delta-encoded; the first from 0 */
		ev.ts = ts;
		ev.b = (int32_t)v[CS_SW_PID].v[i];
		ev.c = v[CS_SW_PRIO].n ? (int32_t)v[CS_SW_PRIO].v[i] : 120;
		ev.state = v[CS_SW_STATE].n ? ta_pstate_of((int64_t)v[CS_SW_STATE].v[i]) : 0;
		if (v[CS_SW_COMM].n) {
			uint64_t k = v[CS_SW_COMM].v[i];

			if (k >= n_intern) {
				err = fail(r, at, -EPROTO, "compact_sched comm index out of range");
				break;
			}
			err = name_thread(r, ev.b, 0, intern[k], false);
		}
		err = err ?: add(r, at, cpu, &ev);
	}
	ts = 0;
	for (size_t i = 0; i < v[CS_WK_TS].n && !err; i++) {
		struct ta_ev ev = { .type = TA_EV_WAKING };

		ts += v[CS_WK_TS].v[i];
		ev.ts = ts;
		ev.a = (int32_t)v[CS_WK_PID].v[i];
		ev.b = v[CS_WK_CPU].n ? (int32_t)v[CS_WK_CPU].v[i] : (int32_t)cpu;
		ev.c = v[CS_WK_PRIO].n ? (int32_t)v[CS_WK_PRIO].v[i] : 120;
		if (v[CS_WK_COMM].n) {
			uint64_t k = v[CS_WK_COMM].v[i];

			if (k >= n_intern) {
				err = fail(r, at, -EPROTO, "compact_sched comm index out of range");
				break;
			}
			err = name_thread(r, ev.a, 0, intern[k], false);
		}
		err = err ?: add(r, at, cpu, &ev);
	}
out:
	for (int i = 0; i < CS_N; i++)
		free(v[i].v);
	free(intern);
	return err;
}

static int bundle(struct rd *r, struct pb b)
{
	struct pb scan = b;
	struct pb_field f;
	uint32_t cpu = 0;
	int rc;

	while ((rc = next_field(r, &scan, &f)) == 1) {
		if (f.no == 1 && f.wt == 0) {
			if (f.v >= 4096)
				return fail(r, scan.p, -EPROTO, "CPU number beyond 4095");
			cpu = (uint32_t)f.v;
		} else if (f.no == 3 && f.wt == 0 && f.v) {
			r->t->lossy_bundles++;
		}
	}
	if (rc < 0)
		return rc;
	while ((rc = next_field(r, &b, &f)) == 1) {
		int err = 0;

		if (f.no == 2 && f.wt == 2)
			err = ftrace_event(r, cpu, f.sub);
		else if (f.no == 4 && f.wt == 2)
			err = compact_sched(r, cpu, f.sub);
		if (err)
			return err;
	}
	return rc;
}

static int process_tree(struct rd *r, struct pb b)
{
	struct pb_field f;
	struct small m;
	int rc, err = 0;

	while (!err && (rc = next_field(r, &b, &f)) == 1) {
		if (f.wt != 2 || (f.no != 1 && f.no != 2))
			continue;
		err = small_read(r, f.sub, &m);
		if (err)
			return err;
		if (f.no == 1) { /* Process: pid 1, cmdline 3 (the first) */
			struct pb name = m.s[3];
			const uint8_t *slash = name.p;

			for (const uint8_t *q = name.p; q < name.end && *q; q++)
				if (*q == '/')
					slash = q + 1;
			name.p = slash;
			err = name_thread(r, i32(&m, 1, -1), i32(&m, 1, 0), name, false);
		} else { /* Thread: tid 1, name 2, tgid 3 */
			err = name_thread(r, i32(&m, 1, -1), i32(&m, 3, 0), m.s[2], true);
		}
	}
	return err ?: (rc < 0 ? rc : 0);
}

static bool has_dsq(const char *s)
{
	for (; *s; s++)
		if ((s[0] | 32) == 'd' && (s[1] | 32) == 's' && (s[2] | 32) == 'q')
			return true;
	return false;
}

static int track_descriptor(struct rd *r, struct pb b)
{
	struct pb_field f;
	struct small m;
	uint64_t uuid = 0, parent = 0;
	struct pb name = { 0 };
	bool counter = false;
	int rc, err;

	while ((rc = next_field(r, &b, &f)) == 1) {
		if (f.no == 1 && f.wt == 0)
			uuid = f.v;
		else if (f.no == 5 && f.wt == 0)
			parent = f.v;
		else if ((f.no == 2 || f.no == 10) && f.wt == 2)
			name = f.sub;
		else if (f.no == 8 && f.wt == 2)
			counter = true;
		else if (f.no == 3 && f.wt == 2) { /* ProcessDescriptor */
			err = small_read(r, f.sub, &m);
			if (!err)
				err = name_thread(r, i32(&m, 1, -1), i32(&m, 1, 0), m.s[6], false);
			if (err)
				return err;
		} else if (f.no == 4 && f.wt == 2) { /* ThreadDescriptor */
			err = small_read(r, f.sub, &m);
			if (!err)
				err = name_thread(r, i32(&m, 2, -1), i32(&m, 1, 0), m.s[5], true);
			if (err)
				return err;
		}
	}
	if (rc < 0)
		return rc;
	if (counter && r->t->n_ctracks < TA_MAX_CTRACKS) {
		struct ta_ctrack *c, *nc = realloc(r->t->ctracks,
						   (r->t->n_ctracks + 1) * sizeof(*nc));
		size_t n = (size_t)(name.end - name.p);

		if (!nc)
			return -ENOMEM;
		r->t->ctracks = nc;
		c = &nc[r->t->n_ctracks++];
		memset(c, 0, sizeof(*c));
		c->uuid = uuid;
		c->parent_uuid = parent;
		if (n >= sizeof(c->name))
			n = sizeof(c->name) - 1;
		if (n)
			memcpy(c->name, name.p, n);
		c->name[strnlen(c->name, n)] = '\0';
		if (has_dsq(c->name))
			r->t->dsq_events++;
	}
	return 0;
}

/* ts: the packet's timestamp (TracePacket.timestamp, trace clock). */
static int track_event(struct rd *r, struct pb b, uint64_t ts)
{
	struct pb_field f;
	uint64_t type = 0, uuid = 0;
	double val = 0;
	int rc;

	while ((rc = next_field(r, &b, &f)) == 1) {
		if (f.no == 9 && f.wt == 0)
			type = f.v;
		else if (f.no == 11 && f.wt == 0)
			uuid = f.v;
		else if (f.no == 30 && f.wt == 0)
			val = (double)(int64_t)f.v;
		else if (f.no == 44 && f.wt == 1)
			memcpy(&val, &f.v, sizeof(val));
	}
	if (rc < 0)
		return rc;
	if (type == 1)
		r->t->track_slices++;
	else if (type == 3)
		r->t->track_instants++;
	else if (type == 4) {
		struct ta_ctrack *c = NULL;

		r->t->track_counters++;
		for (uint32_t i = 0; i < r->t->n_ctracks; i++)
			if (r->t->ctracks[i].uuid == uuid)
				c = &r->t->ctracks[i];
		if (!c) {
			r->t->counters_untracked++;
			return 0;
		}
		if (!c->n || val < c->min)
			c->min = val;
		if (!c->n || val > c->max)
			c->max = val;
		c->n++;
		c->sum += val;
		c->last = val;
		return ta_trace_csample(r->t, c, ts, val);
	} else if (type != 2) {
		r->t->track_other++;
	}
	return 0;
}

static int ftrace_stats(struct rd *r, struct pb b)
{
	struct pb_field f;
	struct small m;
	uint64_t phase = 0;
	struct pb scan = b;
	int rc, err;

	while ((rc = next_field(r, &scan, &f)) == 1)
		if (f.no == 1 && f.wt == 0)
			phase = f.v;
	if (rc < 0)
		return rc;
	while ((rc = next_field(r, &b, &f)) == 1) {
		uint32_t cpu;

		if (f.no != 2 || f.wt != 2)
			continue;
		err = small_read(r, f.sub, &m);
		if (err)
			return err;
		if (m.v[1] < 0 || m.v[1] >= 4096)
			continue;
		cpu = (uint32_t)m.v[1];
		if (phase == 1) { /* START_OF_TRACE: overruns before we began */
			if (cpu >= r->n_overrun) {
				int64_t *no = realloc(r->overrun_start, (cpu + 1) * sizeof(*no));

				if (!no)
					return -ENOMEM;
				memset(no + r->n_overrun, 0, (cpu + 1 - r->n_overrun) * sizeof(*no));
				r->overrun_start = no;
				r->n_overrun = cpu + 1;
			}
			r->overrun_start[cpu] = m.v[3];
		} else if (phase == 2 && cpu < r->t->n_cpus) {
			int64_t lost = m.v[8] + m.v[3] - (cpu < r->n_overrun ? r->overrun_start[cpu] : 0);

			r->t->cpus[cpu].lost += lost > 0 ? (uint64_t)lost : 0;
		} else if (phase == 2) {
			r->t->lost_events += (uint64_t)(m.v[8] > 0 ? m.v[8] : 0);
		}
	}
	return rc < 0 ? rc : 0;
}

static void put_str(char *dst, size_t cap, size_t *at, struct pb s)
{
	size_t n = (size_t)(s.end - s.p);

	if (!n || *at + n + 2 >= cap)
		return;
	if (*at)
		dst[(*at)++] = ' ';
	memcpy(dst + *at, s.p, n);
	*at += n;
	dst[*at] = '\0';
}

static int system_info(struct rd *r, struct pb b)
{
	struct pb_field f;
	struct small u;
	size_t at = 0;
	int rc, err;

	while ((rc = next_field(r, &b, &f)) == 1) {
		if (f.no == 8 && f.wt == 0)
			r->t->producer_cpus = f.v > 65536 ? 65536 : (uint32_t)f.v;
		else if (f.no == 1 && f.wt == 2) {
			err = small_read(r, f.sub, &u);
			if (err)
				return err;
			for (int i = 1; i <= 4; i++)
				put_str(r->t->uname, sizeof(r->t->uname), &at, u.s[i]);
			for (size_t i = 0; i < at; i++) /* text for a JSON string: no controls */
				if ((unsigned char)r->t->uname[i] < 32)
					r->t->uname[i] = ' ';
		}
	}
	return rc < 0 ? rc : 0;
}

static int stacks_packet(struct rd *r, struct pb b);

static int packet(struct rd *r, struct pb b)
{
	struct pb_field f;
	struct small m;
	struct pb scan = b;
	uint64_t ts = 0;
	int rc, err = 0;

	err = stacks_packet(r, b);
	/* the timestamp may follow the payload: one shallow pass first */
	while ((rc = next_field(r, &scan, &f)) == 1)
		if (f.no == 8 && f.wt == 0)
			ts = f.v;
	if (rc < 0)
		return rc;

	while (!err && (rc = next_field(r, &b, &f)) == 1) {
		if (f.wt != 2)
			continue;
		switch (f.no) {
		case 1:
			err = bundle(r, f.sub);
			break;
		case 2:
			err = process_tree(r, f.sub);
			break;
		case 11:
			err = track_event(r, f.sub, ts);
			break;
		case 34:
			err = ftrace_stats(r, f.sub);
			break;
		case 43: /* ProcessDescriptor: pid 1, process_name 6 */
			err = small_read(r, f.sub, &m) ?:
			      name_thread(r, i32(&m, 1, -1), i32(&m, 1, 0), m.s[6], false);
			break;
		case 44: /* ThreadDescriptor: pid 1, tid 2, thread_name 5 */
			err = small_read(r, f.sub, &m) ?:
			      name_thread(r, i32(&m, 2, -1), i32(&m, 1, 0), m.s[5], true);
			break;
		case 45:
			err = system_info(r, f.sub);
			break;
		case 60:
			err = track_descriptor(r, f.sub);
			break;
		default:
			break;
		}
	}
	return err ?: (rc < 0 ? rc : 0);
}

int ta_read_perfetto(struct ta_trace *t, const uint8_t *buf, size_t len, char *err,
		     size_t err_len)
{
	struct rd r = { .t = t, .base = buf, .err = err, .err_len = err_len };
	struct pb b = { buf, buf + len };
	struct pb_field f;
	uint64_t packets = 0;
	int rc, e = 0;

	if (err && err_len)
		err[0] = '\0';
	while (!e && (rc = next_field(&r, &b, &f)) == 1) {
		if (f.no != 1 || f.wt != 2) {
			if (!packets)
				e = fail(&r, buf, -EPROTO, "not a Perfetto trace (no TracePacket)");
			continue;
		}
		packets++;
		e = packet(&r, f.sub);
	}
	if (!e && rc < 0)
		e = rc;
	if (!e && !packets)
		e = fail(&r, buf, -EPROTO, "not a Perfetto trace (no TracePacket)");
	free(r.overrun_start);
	if (e == -ENOMEM && err && err_len && !err[0])
		snprintf(err, err_len, "out of memory");
	return e;
}

/* -------------------------------------------- stack samples (ta_stacks.h) */

static int stacks_err(struct rd *r, const uint8_t *at, int err)
{
	if (err == -EFBIG)
		return fail(r, at, err, "stack samples larger than the memory bound");
	return err ? fail(r, at, err, "out of memory") : 0;
}

/* One message of the interned data of kind no (InternedData field). */
static int interned_one(struct rd *r, uint32_t gen, uint32_t no, struct pb b)
{
	uint64_t ids[1024];
	size_t n = 0;
	struct pb_field f;
	struct small m;
	int rc, err;

	if (no == 7) { /* Callstack: iid 1, frame_ids 2 (repeated, packed or not) */
		uint64_t iid = 0;

		while ((rc = next_field(r, &b, &f)) == 1) {
			if (f.no == 1 && f.wt == 0)
				iid = f.v;
			else if (f.no == 2 && f.wt == 0 && n < 1024)
				ids[n++] = f.v;
			else if (f.no == 2 && f.wt == 2) {
				while (f.sub.p < f.sub.end && n < 1024) {
					err = varint(r, &f.sub, &ids[n]);
					if (err)
						return err;
					n++;
				}
			}
		}
		if (rc < 0)
			return rc;
		return stacks_err(r, b.p, ta_stacks_callstack(r->t, gen, iid, ids, n));
	}
	err = small_read(r, b, &m);
	if (err)
		return err;
	switch (no) {
	case 5:  /* function_names */
	case 16: /* build_ids */
	case 17: /* mapping_paths: InternedString iid 1, str 2 */
		err = ta_stacks_string(r->t, gen, no == 5 ? TA_IN_FUNCTION : no == 16 ? TA_IN_BUILD_ID
										: TA_IN_PATH,
				       (uint64_t)m.v[1], m.s[2].p, (size_t)(m.s[2].end - m.s[2].p));
		break;
	case 19: /* Mapping: iid 1, build_id 2, path_string_ids 7 (the first kept) */
		err = ta_stacks_mapping(r->t, gen, (uint64_t)m.v[1], (uint64_t)m.v[2],
					(uint64_t)m.v[7]);
		break;
	case 6: /* Frame: iid 1, function_name_id 2, mapping_id 3, rel_pc 4 */
		err = ta_stacks_frame(r->t, gen, (uint64_t)m.v[1], (uint64_t)m.v[2],
				      (uint64_t)m.v[3], (uint64_t)m.v[4]);
		break;
	default:
		return 0;
	}
	return stacks_err(r, b.p, err);
}

/* InternedData: what others name first (strings, then mappings, frames,
 * callstacks), whatever the order of the fields in the message. */
static int interned_data(struct rd *r, uint32_t gen, struct pb b)
{
	static const uint32_t order[][3] = { { 5, 16, 17 }, { 19, 19, 19 }, { 6, 6, 6 },
					     { 7, 7, 7 } };
	struct pb_field f;
	int rc = 0, err;

	for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]); pass++) {
		struct pb scan = b;

		while ((rc = next_field(r, &scan, &f)) == 1) {
			if (f.wt != 2 || (f.no != order[pass][0] && f.no != order[pass][1] &&
					  f.no != order[pass][2]))
				continue;
			err = interned_one(r, gen, f.no, f.sub);
			if (err)
				return err;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int perf_sample(struct rd *r, uint32_t gen, uint64_t ts, struct pb b)
{
	uint64_t v[18] = { 0 };
	struct pb_field f;
	int rc;

	while ((rc = next_field(r, &b, &f)) == 1)
		if (f.wt == 0 && f.no < 18)
			v[f.no] = f.v;
	if (rc < 0)
		return rc;
	if (v[17]) { /* kernel_records_lost: a packet of its own */
		if (r->t->stacks) /* made by the clear that gave gen */
			r->t->stacks->lost_kernel += v[17];
		return 0;
	}
	return stacks_err(r, b.p, ta_stacks_sample(r->t, gen, ts, (uint32_t)v[1] & 0xffff,
						 (int32_t)v[2], (int32_t)v[3], v[4]));
}

/*
 * The stack-sample part of a packet: its sequence (10), flags (13,
 * incremental_state_cleared 41), timestamp (8), interned data (12) and
 * PerfSample (66). Other packets pass at the cost of one scan.
 */
static int stacks_packet(struct rd *r, struct pb b)
{
	struct pb scan = b, interned = { 0 }, sample = { 0 };
	uint64_t seq = 0, flags = 0, ts = 0;
	bool cleared = false, have_i = false, have_s = false;
	struct pb_field f;
	uint32_t gen;
	int rc, err;

	while ((rc = next_field(r, &scan, &f)) == 1) {
		if (f.no == 10 && f.wt == 0)
			seq = f.v;
		else if (f.no == 13 && f.wt == 0)
			flags = f.v;
		else if (f.no == 41 && f.wt == 0)
			cleared = f.v != 0;
		else if (f.no == 8 && f.wt == 0)
			ts = f.v;
		else if (f.no == 12 && f.wt == 2)
			interned = f.sub, have_i = true;
		else if (f.no == 66 && f.wt == 2)
			sample = f.sub, have_s = true;
	}
	if (rc < 0)
		return rc;
	if (!have_i && !have_s)
		return 0;
	if ((flags & 1) || cleared) {
		err = ta_stacks_clear(r->t, (uint32_t)seq);
		if (err == -ENOMEM)
			return stacks_err(r, b.p, err);
	}
	gen = ta_stacks_gen(r->t, (uint32_t)seq);
	if (gen == TA_NONE) {
		/* Perfetto drops these too: their iids name nothing yet */
		if (r->t->stacks)
			r->t->stacks->no_state++;
		return 0;
	}
	if (have_i) {
		err = interned_data(r, gen, interned);
		if (err)
			return err;
	}
	return have_s ? perf_sample(r, gen, ts, sample) : 0;
}
