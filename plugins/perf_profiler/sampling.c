/* SPDX-License-Identifier: MIT */
#include "sampling.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pp_util.h"

#include <schedmcp/array.h>
#include <schedmcp/cpulist.h>

#define SCRATCH_BYTES 65536
#define MAX_CPUS 4096

static int perf_open(struct perf_event_attr *a, pid_t pid, int cpu)
{
	long fd = syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

struct online_ctx {
	bool *online;
	int max, n;
};

static int mark_online(void *data, int lo, int hi)
{
	struct online_ctx *o = data;

	for (int i = lo; i <= hi && i < o->max; i++)
		if (!o->online[i]) {
			o->online[i] = true;
			o->n++;
		}
	return 0;
}

int pp_online_cpus(bool *online, int max)
{
	struct online_ctx o = { online, max, 0 };
	char buf[1024];

	memset(online, 0, (size_t)max * sizeof(*online));
	if (smcp_read_file("", "/sys/devices/system/cpu/online", buf, sizeof(buf)) <= 0 ||
	    smcp_cpulist_parse(buf, mark_online, &o) < 0 || !o.n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		memset(online, 0, (size_t)max * sizeof(*online));
		for (int i = 0; i < c && i < max; i++)
			online[i] = true;
		return c > max ? max : (int)c;
	}
	return o.n;
}

static int add_fd(struct pp_session *s, int fd)
{
	if (smcp_array_grow(&s->fds, &s->cap_fds, s->n_fds, sizeof(*s->fds), 16))
		return -ENOMEM;
	s->fds[s->n_fds++] = fd;
	return 0;
}

/* Threads of pid from /proc (the real one: perf works on this kernel). */
static int list_threads(int32_t pid, int32_t **ret, unsigned int *ret_n, unsigned int max)
{
	char path[64];
	struct dirent *de;
	unsigned int n = 0;
	int32_t *v;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	v = malloc(max * sizeof(*v));
	if (!v) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) && n < max) {
		long t = strtol(de->d_name, NULL, 10);

		if (t > 0)
			v[n++] = (int32_t)t;
	}
	closedir(d);
	if (!n) {
		free(v);
		return -ESRCH;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void describe_open_error(int err, const struct pp_session_opts *o, char *buf, size_t len)
{
	int paranoid = pp_perf_paranoid("");

	switch (-err) {
	case EACCES:
	case EPERM:
		if (o->pid < 0)
			snprintf(buf, len,
				 "perf_event_open refused system-wide sampling "
				 "(kernel.perf_event_paranoid=%d, no CAP_PERFMON): run schedmcp as "
				 "root, lower the sysctl to 0 or -1, or profile one of your own "
				 "processes with pid",
				 paranoid);
		else
			snprintf(buf, len,
				 "perf_event_open refused to sample pid %d "
				 "(kernel.perf_event_paranoid=%d): you may only profile your own "
				 "processes without CAP_PERFMON",
				 o->pid, paranoid);
		break;
	case ESRCH:
		snprintf(buf, len, "pid %d exited before it could be profiled", o->pid);
		break;
	case EMFILE:
	case ENFILE:
		snprintf(buf, len,
			 "out of file descriptors opening perf events (one per thread and CPU); "
			 "profile fewer CPUs (cpu) or raise RLIMIT_NOFILE");
		break;
	case ENOENT:
	case EOPNOTSUPP:
	case ENODEV:
		snprintf(buf, len, "event %s is not supported by this kernel or machine",
			 o->ev.name);
		break;
	case ENOSYS:
		snprintf(buf, len, "perf_event_open is not available in this kernel");
		break;
	default:
		snprintf(buf, len, "perf_event_open failed: %s", strerror(-err));
	}
}

static void build_attr(struct pp_session *s, const struct pp_session_opts *o, size_t ring_bytes)
{
	struct perf_event_attr *a = &s->attr;

	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = s->ev.type;
	a->config = s->ev.config;
	if (s->ev.is_tracepoint) {
		a->sample_period = 1; /* every hit; frequency does not apply */
	} else {
		a->freq = 1;
		a->sample_freq = o->freq_hz;
	}
	a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			 PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN;
	if (o->dwarf) {
		a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a->sample_regs_user = PP_REGS_MASK;
		a->sample_stack_user = o->stack_bytes;
	}
	a->disabled = 1;
	a->inherit = o->pid >= 0;
	a->mmap = 1;
	a->mmap2 = 1;
	a->comm = 1;
	a->comm_exec = 1;
	a->task = 1;
	a->build_id = s->build_id_maps;
	a->ksymbol = s->ksymbols && !s->kernel_excluded;
	a->exclude_kernel = s->kernel_excluded;
	a->exclude_hv = 1;
	a->sample_id_all = 1; /* timestamps on side-band records, for ordering */
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(ring_bytes / 4);
	s->fmt.sample_type = a->sample_type;
	s->fmt.regs_user_mask = a->sample_regs_user;
	s->fmt.read_format = 0;
	s->fmt.sample_id_all = true;
}

/* Open the event on one (pid, cpu), adapting the attribute to what the
 * kernel and our privileges allow; the adaptations are noted. */
static int open_adapting(struct pp_session *s, const struct pp_session_opts *o, pid_t pid,
			 int cpu, size_t ring_bytes)
{
	int fd;

	for (int tries = 0; tries < 6; tries++) {
		build_attr(s, o, ring_bytes);
		fd = perf_open(&s->attr, pid, cpu);
		if (fd >= 0)
			return fd;
		if (fd == -EINVAL && s->build_id_maps) {
			s->build_id_maps = false; /* kernels before 5.12 */
			continue;
		}
		if (fd == -EINVAL && s->ksymbols) {
			s->ksymbols = false; /* kernels before 5.1 */
			continue;
		}
		if ((fd == -EACCES || fd == -EPERM) && !s->kernel_excluded && o->pid >= 0) {
			size_t l = strlen(s->note);

			s->kernel_excluded = true;
			snprintf(s->note + l, sizeof(s->note) - l,
				 "%skernel frames are not sampled: kernel.perf_event_paranoid=%d "
				 "and no CAP_PERFMON allow user space only",
				 l ? "; " : "", pp_perf_paranoid(""));
			continue;
		}
		if (s->ev.is_hw && (fd == -ENOENT || fd == -EOPNOTSUPP || fd == -ENODEV)) {
			size_t l = strlen(s->note);

			snprintf(s->note + l, sizeof(s->note) - l,
				 "%shardware event %s is not supported here (%s): sampled sw:cpu-clock "
				 "instead",
				 l ? "; " : "", s->ev.name, strerror(-fd));
			memset(&s->ev, 0, sizeof(s->ev));
			snprintf(s->ev.name, sizeof(s->ev.name), "sw:cpu-clock");
			s->ev.type = PERF_TYPE_SOFTWARE;
			s->ev.config = PERF_COUNT_SW_CPU_CLOCK;
			s->ev.is_clock = true;
			continue;
		}
		return fd;
	}
	return fd;
}

static int map_ring(struct pp_session *s, int fd, size_t ring_bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = pg + ring_bytes;
	struct pp_ring *r = &s->rings[s->n_rings];
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (base == MAP_FAILED)
		return -errno;
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->base = base;
	r->len = len;
	s->n_rings++;
	s->ring_bytes += len;
	return 0;
}

int pp_session_open(struct pp_session *s, const struct pp_session_opts *o, char *err,
		    size_t err_len)
{
	bool online[MAX_CPUS];
	int32_t *tids = NULL, self[1];
	unsigned int n_tids = 0, max_threads;
	size_t ring_bytes = (size_t)o->ring_pages * (size_t)sysconf(_SC_PAGESIZE);
	int n_cpus, rc = 0, last_err = 0;

	memset(s, 0, sizeof(*s));
	s->ev = o->ev;
	s->build_id_maps = true;
	s->ksymbols = true;
	s->rings = calloc(MAX_CPUS, sizeof(*s->rings));
	if (!s->rings) {
		rc = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	n_cpus = pp_online_cpus(online, MAX_CPUS);
	if (o->cpu >= 0) {
		if (o->cpu >= MAX_CPUS || !online[o->cpu]) {
			rc = -EINVAL;
			snprintf(err, err_len, "cpu %d is not online", o->cpu);
			goto fail;
		}
		memset(online, 0, sizeof(online));
		online[o->cpu] = true;
		n_cpus = 1;
	}
	if (o->pid >= 0) {
		max_threads = o->max_fds / (unsigned int)(n_cpus ? n_cpus : 1);
		if (!max_threads)
			max_threads = 1;
		rc = list_threads(o->pid, &tids, &n_tids, max_threads);
		if (rc) {
			describe_open_error(rc, o, err, err_len);
			goto fail;
		}
		s->n_threads = n_tids;
	} else {
		self[0] = -1;
		tids = self;
		n_tids = 1;
	}
	for (int cpu = 0; cpu < MAX_CPUS; cpu++) {
		int ring_fd = -1;

		if (!online[cpu])
			continue;
		for (unsigned int t = 0; t < n_tids; t++) {
			int fd = open_adapting(s, o, tids[t], cpu, ring_bytes);

			if (fd < 0) {
				last_err = fd;
				/* a thread that exited meanwhile is not an error */
				if (fd == -ESRCH && o->pid >= 0)
					continue;
				rc = fd;
				describe_open_error(fd, o, err, err_len);
				goto fail;
			}
			rc = add_fd(s, fd);
			if (rc) {
				close(fd);
				snprintf(err, err_len, "out of memory");
				goto fail;
			}
			if (ring_fd < 0) {
				rc = map_ring(s, fd, ring_bytes);
				if (rc) {
					snprintf(err, err_len,
						 "cannot map the %zu KiB perf ring buffer: %s "
						 "(perf_event_mlock_kb may be too small)",
						 ring_bytes / 1024, strerror(-rc));
					goto fail;
				}
				ring_fd = fd;
			} else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ring_fd) < 0) {
				rc = -errno;
				snprintf(err, err_len, "cannot share the ring buffer: %s",
					 strerror(errno));
				goto fail;
			}
		}
	}
	if (!s->n_fds) {
		rc = last_err ? last_err : -ESRCH;
		describe_open_error(rc, o, err, err_len);
		goto fail;
	}
	if (tids != self)
		free(tids);
	return 0;
fail:
	if (tids != self)
		free(tids);
	pp_session_close(s);
	return rc;
}

int pp_session_enable(struct pp_session *s, bool on)
{
	int rc = 0;

	for (unsigned int i = 0; i < s->n_fds; i++)
		if (ioctl(s->fds[i], on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0) < 0)
			rc = -errno;
	return rc;
}

/* Load the record at r->pos into r->cur (NULL when the ring is drained). */
static void ring_next(struct pp_session *s, struct pp_ring *r, struct pp_ingest *in)
{
	struct perf_event_mmap_page *meta = r->base;
	unsigned char *data = (unsigned char *)r->base + meta->data_offset;
	uint64_t size = meta->data_size, off = r->pos & (size - 1);
	struct perf_event_header h;

	r->cur = NULL;
	if (r->head - r->pos < sizeof(h))
		return;
	if (off + sizeof(h) <= size) {
		memcpy(&h, data + off, sizeof(h));
	} else {
		size_t first = size - off;

		memcpy(&h, data + off, first);
		memcpy((unsigned char *)&h + first, data, sizeof(h) - first);
	}
	if (h.size < sizeof(h) || h.size > r->head - r->pos)
		return; /* torn: leave the rest for the next drain */
	if (off + h.size <= size) {
		r->cur = (const struct perf_event_header *)(data + off);
	} else {
		size_t first = size - off;

		if (!r->scratch && !(r->scratch = malloc(SCRATCH_BYTES))) {
			r->pos = r->head; /* cannot copy it: drop what is left */
			return;
		}
		memcpy(r->scratch, data + off, first);
		memcpy(r->scratch + first, data, h.size - first);
		r->cur = (const struct perf_event_header *)r->scratch;
	}
	r->cur_time = pp_record_time(&in->fmt, r->cur);
}

uint64_t pp_session_drain(struct pp_session *s, struct pp_ingest *in)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < s->n_rings; i++) {
		struct pp_ring *r = &s->rings[i];
		struct perf_event_mmap_page *meta = r->base;

		r->head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
		r->pos = meta->data_tail;
		ring_next(s, r, in);
	}
	/* k-way merge: each ring is in time order already */
	for (;;) {
		struct pp_ring *best = NULL;

		for (unsigned int i = 0; i < s->n_rings; i++) {
			struct pp_ring *r = &s->rings[i];

			if (r->cur && (!best || r->cur_time < best->cur_time))
				best = r;
		}
		if (!best)
			break;
		s->bytes += best->cur->size;
		pp_ingest_record(in, best->cur);
		best->pos += best->cur->size;
		n++;
		ring_next(s, best, in);
	}
	for (unsigned int i = 0; i < s->n_rings; i++) {
		struct perf_event_mmap_page *meta = s->rings[i].base;

		__atomic_store_n(&meta->data_tail, s->rings[i].pos, __ATOMIC_RELEASE);
	}
	s->records += n;
	return n;
}

void pp_session_close(struct pp_session *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; i < s->n_rings; i++) {
		if (s->rings[i].base)
			munmap(s->rings[i].base, s->rings[i].len);
		free(s->rings[i].scratch);
	}
	for (unsigned int i = 0; i < s->n_fds; i++)
		close(s->fds[i]);
	free(s->rings);
	free(s->fds);
	s->rings = NULL;
	s->fds = NULL;
	s->n_rings = s->n_fds = s->cap_fds = 0;
	s->ring_bytes = 0;
}
