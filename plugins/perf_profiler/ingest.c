/* SPDX-License-Identifier: MIT */
#include "ingest.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef PERF_RECORD_MISC_MMAP_BUILD_ID
#define PERF_RECORD_MISC_MMAP_BUILD_ID (1 << 14)
#endif
#ifndef PERF_RECORD_MISC_COMM_EXEC
#define PERF_RECORD_MISC_COMM_EXEC (1 << 13)
#endif

struct cur {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t take64(struct cur *c)
{
	uint64_t v = 0;

	if (c->end - c->p < 8) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	memcpy(&v, c->p, 8);
	c->p += 8;
	return v;
}

static const void *take(struct cur *c, uint64_t n)
{
	const void *p = c->p;

	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	c->p += n;
	return p;
}

static void skip_read(struct cur *c, uint64_t rf)
{
	uint64_t per = 1 + !!(rf & PERF_FORMAT_ID) + !!(rf & PERF_FORMAT_LOST);
	uint64_t times = !!(rf & PERF_FORMAT_TOTAL_TIME_ENABLED) +
			 !!(rf & PERF_FORMAT_TOTAL_TIME_RUNNING);

	if (rf & PERF_FORMAT_GROUP) {
		uint64_t nr = take64(c);

		if (nr > 4096) {
			c->bad = true;
			return;
		}
		take(c, (times + nr * per) * 8);
	} else {
		take(c, (times + per) * 8);
	}
}

int pp_parse_sample(const struct pp_sample_fmt *f, const void *rec, size_t len,
		    struct pp_sample *s)
{
	struct cur c = { (const unsigned char *)rec + sizeof(struct perf_event_header),
			 (const unsigned char *)rec + len, false };
	uint64_t t = f->sample_type, v;

	memset(s, 0, sizeof(*s));
	s->misc = ((const struct perf_event_header *)rec)->misc;
	s->pid = s->tid = -1;
	if (t & PERF_SAMPLE_IDENTIFIER)
		take64(&c);
	if (t & PERF_SAMPLE_IP)
		s->ip = take64(&c);
	if (t & PERF_SAMPLE_TID) {
		v = take64(&c);
		s->pid = (int32_t)(uint32_t)v;
		s->tid = (int32_t)(uint32_t)(v >> 32);
	}
	if (t & PERF_SAMPLE_TIME)
		s->time = take64(&c);
	if (t & PERF_SAMPLE_ADDR)
		take64(&c);
	if (t & PERF_SAMPLE_ID)
		take64(&c);
	if (t & PERF_SAMPLE_STREAM_ID)
		take64(&c);
	if (t & PERF_SAMPLE_CPU)
		s->cpu = (uint32_t)take64(&c);
	if (t & PERF_SAMPLE_PERIOD)
		s->period = take64(&c);
	if (t & PERF_SAMPLE_READ)
		skip_read(&c, f->read_format);
	if (t & PERF_SAMPLE_CALLCHAIN) {
		s->nr = take64(&c);
		if (s->nr > 4096)
			return -EINVAL;
		s->chain = take(&c, s->nr * 8);
	}
	if (t & PERF_SAMPLE_RAW) {
		uint32_t sz = 0;
		const void *p = take(&c, 4);

		if (p)
			memcpy(&sz, p, 4);
		take(&c, sz);
	}
	if (t & PERF_SAMPLE_BRANCH_STACK) {
		/* no hw_idx: we never ask for PERF_SAMPLE_BRANCH_HW_INDEX */
		v = take64(&c);
		if (v > 4096)
			return -EINVAL;
		take(&c, v * 24);
	}
	if (t & PERF_SAMPLE_REGS_USER) {
		s->regs_abi = take64(&c);
		if (s->regs_abi)
			s->regs = take(&c, 8ULL * __builtin_popcountll(f->regs_user_mask));
	}
	if (t & PERF_SAMPLE_STACK_USER) {
		s->stack_size = take64(&c);
		if (s->stack_size) {
			s->stack = take(&c, s->stack_size);
			s->stack_dyn = take64(&c);
			if (s->stack_dyn > s->stack_size)
				s->stack_dyn = s->stack_size;
		}
	}
	return c.bad ? -EINVAL : 0;
}

uint64_t pp_record_time(const struct pp_sample_fmt *f, const struct perf_event_header *h)
{
	const unsigned char *body = (const unsigned char *)(h + 1);
	size_t len = h->size - sizeof(*h), off;
	uint64_t t = f->sample_type, v;

	if (!(t & PERF_SAMPLE_TIME))
		return 0;
	if (h->type == PERF_RECORD_SAMPLE) {
		off = 8 * (!!(t & PERF_SAMPLE_IDENTIFIER) + !!(t & PERF_SAMPLE_IP) +
			   !!(t & PERF_SAMPLE_TID));
	} else {
		/* sample_id trailer: [tid] [time] [id] [stream_id] [cpu] [identifier] */
		size_t after = 8 * (!!(t & PERF_SAMPLE_ID) + !!(t & PERF_SAMPLE_STREAM_ID) +
				    !!(t & PERF_SAMPLE_CPU) + !!(t & PERF_SAMPLE_IDENTIFIER));

		if (!f->sample_id_all || h->type >= PERF_RECORD_MAX || len < after + 8)
			return 0;
		off = len - after - 8;
	}
	if (off + 8 > len)
		return 0;
	memcpy(&v, body + off, 8);
	return v;
}

static void on_ksymbol(struct pp_ingest *in, const struct perf_event_header *h)
{
	const unsigned char *p = (const unsigned char *)(h + 1);
	size_t room = h->size - sizeof(*h);
	uint64_t addr;
	uint32_t len;

	/* addr, len, ksym_type (u16), flags (u16), name */
	if (room < 17 || !memchr(p + 16, '\0', room - 16)) {
		in->bad_records++;
		return;
	}
	memcpy(&addr, p, 8);
	memcpy(&len, p + 8, 4);
	/* an unregistration changes nothing: earlier samples keep the name */
	if (!(p[14] & PERF_RECORD_KSYMBOL_FLAGS_UNREGISTER))
		(void)pp_profile_add_ksym(in->prof, addr, len, (const char *)p + 16);
}

/* A process's record, with /proc read the first time it shows up live. */
static struct pp_proc *proc_for(struct pp_ingest *in, int32_t pid)
{
	struct pp_proc *p = pp_proc_get(&in->prof->procs, pid, true);

	if (p && in->read_proc && !p->maps_read && !p->n_maps)
		(void)pp_proc_read(&in->prof->procs, p, in->now_ns);
	return p;
}

static void on_mmap(struct pp_ingest *in, const struct perf_event_header *h)
{
	struct cur c = { (const unsigned char *)(h + 1), (const unsigned char *)h + h->size, false };
	uint64_t v, addr, len, pgoff;
	struct pp_file_ident id = { 0 };
	const uint8_t *bid = NULL;
	size_t bid_len = 0;
	const char *name;
	struct pp_proc *p;
	int32_t pid;
	uint32_t prot = PROT_EXEC;

	v = take64(&c);
	pid = (int32_t)(uint32_t)v;
	addr = take64(&c);
	len = take64(&c);
	pgoff = take64(&c);
	if (h->type == PERF_RECORD_MMAP2) {
		const unsigned char *u = take(&c, 24);

		if (u && (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID)) {
			bid_len = u[0] > PP_BUILD_ID_MAX ? PP_BUILD_ID_MAX : u[0];
			bid = u + 4;
		} else if (u) {
			/* maj, min, ino, ino_generation */
			memcpy(&id.dev_major, u, 4);
			memcpy(&id.dev_minor, u + 4, 4);
			memcpy(&id.ino, u + 8, 8);
			id.have = true;
		}
		v = take64(&c);
		prot = (uint32_t)v;
	}
	name = (const char *)c.p;
	if (c.bad || !memchr(name, '\0', (size_t)(c.end - c.p))) {
		in->bad_records++;
		return;
	}
	/* kernel and module maps (pid -1 in perf.data) come from kallsyms */
	if (pid <= 0 || !(prot & PROT_EXEC))
		return;
	p = pp_proc_get(&in->prof->procs, pid, true);
	if (p)
		(void)pp_proc_add_map(&in->prof->procs, p, addr, len, pgoff, name, bid, bid_len, &id);
}

static void on_comm(struct pp_ingest *in, const struct perf_event_header *h)
{
	const uint32_t *ids = (const uint32_t *)(h + 1);
	const char *comm = (const char *)(ids + 2);
	struct pp_proc *p;

	if (h->size < sizeof(*h) + 9 || !memchr(comm, '\0', h->size - sizeof(*h) - 8)) {
		in->bad_records++;
		return;
	}
	if (ids[0] != ids[1]) /* a thread renamed itself: not the process name */
		return;
	p = pp_proc_get(&in->prof->procs, (int32_t)ids[0], true);
	if (!p)
		return;
	if (h->misc & PERF_RECORD_MISC_COMM_EXEC)
		pp_proc_exec(p);
	pp_proc_set_comm(p, comm);
}

static void on_fork(struct pp_ingest *in, const struct perf_event_header *h)
{
	const uint32_t *f = (const uint32_t *)(h + 1);

	if (h->size < sizeof(*h) + 16) {
		in->bad_records++;
		return;
	}
	/* f: pid, ppid, tid, ptid; a new thread shares its process's maps */
	if (f[0] != f[1])
		(void)pp_proc_fork(&in->prof->procs, (int32_t)f[1], (int32_t)f[0]);
}

/* User frames by DWARF, else by the kernel's frame-pointer chain. */
static enum pp_unwind_method user_frames(struct pp_ingest *in, const struct pp_sample *s,
					 const uint64_t *uchain, unsigned int n_uchain,
					 uint64_t *out, unsigned int *n_out)
{
	struct pp_profile *prof = in->prof;
	struct pp_proc *p = proc_for(in, s->pid);
	const uint64_t *ips = uchain;
	unsigned int n = n_uchain;
	enum pp_unwind_method m = PP_UNW_FP;

	/* 32-bit processes have another register layout: frame pointers only */
	if (in->unw && s->regs && s->regs_abi == PERF_SAMPLE_REGS_ABI_64 && s->stack && s->stack_dyn) {
		struct pp_uregs r = { s->regs, in->fmt.regs_user_mask, s->stack, s->stack_dyn };
		int k;

		prof->dwarf_attempts++;
		k = pp_unwind_user(in->unw, &prof->procs, p, &r, in->ips, PP_MAX_FRAMES);
		if (k >= 2 || (k == 1 && n_uchain <= 1)) {
			ips = in->ips;
			n = (unsigned int)k;
			m = PP_UNW_DWARF;
		} else {
			prof->dwarf_failures++;
		}
	}
	if (n == 0 && s->regs && s->regs_abi) {
		/* no chain: the sampled user IP is in the registers */
		uint64_t ipbit = 8, idx = __builtin_popcountll(in->fmt.regs_user_mask &
							       ((1ULL << ipbit) - 1));

		if (in->fmt.regs_user_mask & (1ULL << ipbit)) {
			in->ips[0] = s->regs[idx];
			ips = in->ips;
			n = 1;
		}
	}
	if (m != PP_UNW_DWARF && n == 1)
		m = PP_UNW_IP_ONLY;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = i ? ips[i] - 1 : ips[i];
		uint16_t mod;

		/* an address no known mapping covers: the maps may be newer than
		 * what we read, look again (rate-limited). Only for addresses we
		 * trust: a frame-pointer walk through code built without frame
		 * pointers yields garbage that no re-read would ever map */
		if (p && in->read_proc && (i == 0 || m == PP_UNW_DWARF) && !pp_proc_find_map(p, a))
			(void)pp_proc_read(&prof->procs, p, in->now_ns);
		out[i] = pp_proc_frame(p, a);
		/* open the file now: it may be deleted or replaced before the
		 * results are read, and the process gone with its /proc entry */
		mod = pp_frame_mod(out[i]);
		if (mod != PP_MOD_UNKNOWN && mod < prof->procs.n_mods &&
		    !prof->procs.mods[mod].tried) {
			/* through this process's mapping, which is live now */
			const struct pp_map *mp = p ? pp_proc_find_map(p, a) : NULL;

			if (mp && mp->module == mod)
				(void)pp_map_elf(&prof->procs, p, mp);
			else
				(void)pp_module_elf(&prof->procs, mod);
		}
	}
	*n_out = n;
	return n ? m : PP_UNW_KERNEL_ONLY;
}

static void on_sample(struct pp_ingest *in, const struct perf_event_header *h)
{
	uint64_t *kf = in->frames[0], *uf = in->frames[1];
	unsigned int nk = 0, nu = 0, n_uchain = 0;
	const uint64_t *uchain = NULL;
	enum pp_unwind_method m;
	struct pp_sample s;
	uint64_t ctx = 0;

	if (pp_parse_sample(&in->fmt, h, h->size, &s)) {
		in->bad_records++;
		return;
	}
	if (in->max_samples && in->prof->samples + in->prof->dropped_samples >= in->max_samples) {
		in->limit_reached = true;
		return;
	}
	for (uint64_t i = 0; i < s.nr; i++) {
		uint64_t ip = s.chain[i];

		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			ctx = ip;
			continue;
		}
		if (ctx == (uint64_t)PERF_CONTEXT_KERNEL && nk < PP_MAX_FRAMES) {
			kf[nk] = pp_frame_make(PP_MOD_KERNEL, nk ? ip - 1 : ip);
			nk++;
		} else if (ctx == (uint64_t)PERF_CONTEXT_USER) {
			if (!uchain)
				uchain = &s.chain[i];
			if (&s.chain[i] == uchain + n_uchain)
				n_uchain++;
		}
	}
	if (!s.chain) {
		/* no callchain asked for: the IP alone */
		if ((s.misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_KERNEL)
			kf[nk++] = pp_frame_make(PP_MOD_KERNEL, s.ip);
		else if (s.ip) {
			uchain = &s.ip;
			n_uchain = 1;
		}
	}
	if (s.nr > PP_MAX_FRAMES || n_uchain > PP_MAX_FRAMES)
		in->prof->truncated_stacks++;
	if (n_uchain > PP_MAX_FRAMES)
		n_uchain = PP_MAX_FRAMES;
	if (s.pid > 0 && (n_uchain || s.regs))
		m = user_frames(in, &s, uchain, n_uchain, uf, &nu);
	else
		m = PP_UNW_KERNEL_ONLY;
	(void)pp_profile_add(in->prof, kf, nk, uf, nu, s.pid, s.tid, s.cpu, m, 1);
}

void pp_ingest_record(struct pp_ingest *in, const struct perf_event_header *h)
{
	const uint64_t *u = (const uint64_t *)(h + 1);

	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample(in, h);
		break;
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2:
		on_mmap(in, h);
		break;
	case PERF_RECORD_COMM:
		on_comm(in, h);
		break;
	case PERF_RECORD_FORK:
		on_fork(in, h);
		break;
	case PERF_RECORD_KSYMBOL:
		on_ksymbol(in, h);
		break;
	case PERF_RECORD_LOST:
		if (h->size >= sizeof(*h) + 16) {
			in->prof->lost_records++;
			in->prof->lost_samples += u[1];
		}
		break;
	case PERF_RECORD_LOST_SAMPLES:
		if (h->size >= sizeof(*h) + 8)
			in->prof->lost_samples += u[0];
		break;
	case PERF_RECORD_THROTTLE:
		in->prof->throttled++;
		break;
	case PERF_RECORD_UNTHROTTLE:
		in->prof->unthrottled++;
		break;
	default:
		break;
	}
}
