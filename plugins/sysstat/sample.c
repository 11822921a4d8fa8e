/* SPDX-License-Identifier: MIT */
/* Reading /proc/{stat,loadavg,meminfo,vmstat,net/dev} and PSI into samples. */
#include "sample.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/fsread.h>

/* /proc/stat of a big machine (an "intr" line of thousands of IRQs) fits */
#define MAX_READ (16u << 20)

static const char *const mem_keys[MEM_NR_FIELDS] = {
	[MEM_TOTAL] = "MemTotal", [MEM_FREE] = "MemFree", [MEM_AVAILABLE] = "MemAvailable",
	[MEM_BUFFERS] = "Buffers", [MEM_CACHED] = "Cached", [MEM_SWAP_TOTAL] = "SwapTotal",
	[MEM_SWAP_FREE] = "SwapFree", [MEM_DIRTY] = "Dirty", [MEM_WRITEBACK] = "Writeback",
	[MEM_ANON] = "AnonPages", [MEM_SHMEM] = "Shmem", [MEM_SLAB] = "Slab",
	[MEM_SRECLAIMABLE] = "SReclaimable", [MEM_COMMITTED] = "Committed_AS",
	[MEM_HUGE_TOTAL] = "HugePages_Total", [MEM_HUGE_FREE] = "HugePages_Free",
};

static const char *const vm_keys[VM_NR_FIELDS] = {
	[VM_PGFAULT] = "pgfault", [VM_PGMAJFAULT] = "pgmajfault",
	[VM_PSWPIN] = "pswpin", [VM_PSWPOUT] = "pswpout",
};

static const char *const psi_files[PSI_NR] = {
	[PSI_CPU] = "/proc/pressure/cpu", [PSI_MEMORY] = "/proc/pressure/memory",
};

/* Whole file into s->buf (kept and reused), NUL-terminated; length or -errno. */
static int read_whole(struct sampler *s, const char *path)
{
	return (int)smcp_read_all(s->root, path, MAX_READ, &s->buf, &s->buf_len);
}

static int sample_alloc(struct sample *smp, int cpu_slots)
{
	smp->cpu = calloc((size_t)cpu_slots, sizeof(*smp->cpu));
	smp->cpu_seen = calloc((size_t)cpu_slots, 1);
	smp->net = calloc(MAX_IFACES, sizeof(*smp->net));
	smp->net_seen = calloc(MAX_IFACES, 1);
	return smp->cpu && smp->cpu_seen && smp->net && smp->net_seen ? 0 : -ENOMEM;
}

static void sample_free(struct sample *smp)
{
	free(smp->cpu);
	free(smp->cpu_seen);
	free(smp->net);
	free(smp->net_seen);
}

/* Clear a slot for reuse, keeping its arrays. */
static void sample_reset(struct sample *smp, int cpu_slots)
{
	struct sample keep = *smp;

	memset(smp, 0, sizeof(*smp));
	smp->cpu = keep.cpu;
	smp->cpu_seen = keep.cpu_seen;
	smp->net = keep.net;
	smp->net_seen = keep.net_seen;
	memset(smp->cpu, 0, sizeof(*smp->cpu) * (size_t)cpu_slots);
	memset(smp->cpu_seen, 0, (size_t)cpu_slots);
	memset(smp->net, 0, sizeof(*smp->net) * MAX_IFACES);
	memset(smp->net_seen, 0, MAX_IFACES);
}

static void sample_copy(struct sample *dst, const struct sample *src, int cpu_slots)
{
	struct sample keep = *dst;

	*dst = *src;
	dst->cpu = keep.cpu;
	dst->cpu_seen = keep.cpu_seen;
	dst->net = keep.net;
	dst->net_seen = keep.net_seen;
	memcpy(dst->cpu, src->cpu, sizeof(*src->cpu) * (size_t)cpu_slots);
	memcpy(dst->cpu_seen, src->cpu_seen, (size_t)cpu_slots);
	memcpy(dst->net, src->net, sizeof(*src->net) * MAX_IFACES);
	memcpy(dst->net_seen, src->net_seen, MAX_IFACES);
}

/* Per-CPU arrays cover every possible CPU id (sysfs), or what /proc/stat shows. */
static int count_cpu_slots(struct sampler *s)
{
	long top = -1;
	char *p;

	if (read_whole(s, "/sys/devices/system/cpu/possible") > 0) {
		for (p = s->buf; *p;) {
			char *end;
			long v;

			if (*p < '0' || *p > '9') { /* '-' of a range is no sign */
				p++;
				continue;
			}
			v = strtol(p, &end, 10);
			if (v > top)
				top = v;
			p = end;
		}
	}
	if (top < 0 && read_whole(s, "/proc/stat") > 0) {
		for (p = strstr(s->buf, "\ncpu"); p; p = strstr(p + 1, "\ncpu")) {
			long v = strtol(p + 4, NULL, 10);

			if (v > top)
				top = v;
		}
	}
	if (top < 0)
		top = 0;
	return top + 1 > MAX_CPU_SLOTS ? MAX_CPU_SLOTS : (int)top + 1;
}

int sample_init(struct sampler *s, const char *root)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	s->root = root;
	s->buf_len = 64 * 1024;
	s->buf = malloc(s->buf_len);
	if (!s->buf)
		return -ENOMEM;
	s->cpu_slots = count_cpu_slots(s);
	for (int i = 0; i < 2 && !err; i++)
		err = sample_alloc(&s->bufs[i], s->cpu_slots);
	if (!err)
		err = sample_alloc(&s->first, s->cpu_slots);
	if (err)
		sample_fini(s);
	return err;
}

void sample_fini(struct sampler *s)
{
	for (int i = 0; i < 2; i++)
		sample_free(&s->bufs[i]);
	sample_free(&s->first);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static int parse_stat(struct sampler *s, struct sample *smp)
{
	int n = read_whole(s, "/proc/stat");

	if (n < 0)
		return n;
	s->cpus_dropped = 0;
	for (char *line = s->buf, *next; line && *line; line = next) {
		struct cpu_times *t = NULL;
		unsigned long long v[CPU_NR_FIELDS] = { 0 };

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "cpu", 3) == 0) {
			char *p = line + 3;

			if (*p == ' ') {
				t = &smp->total;
			} else {
				long cpu = strtol(p, &p, 10);

				if (cpu < 0 || cpu >= s->cpu_slots) {
					s->cpus_dropped++;
					continue;
				}
				t = &smp->cpu[cpu];
				smp->cpu_seen[cpu] = 1;
			}
			/* user nice system idle iowait irq softirq steal (guest*) */
			(void)sscanf(p, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
				     &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
			for (int f = 0; f < CPU_NR_FIELDS; f++)
				t->v[f] = v[f];
		} else if (strncmp(line, "ctxt ", 5) == 0) {
			smp->ctxt = strtoull(line + 5, NULL, 10);
		} else if (strncmp(line, "processes ", 10) == 0) {
			smp->forks = strtoull(line + 10, NULL, 10);
		} else if (strncmp(line, "procs_running ", 14) == 0) {
			smp->procs_running = (uint32_t)strtoul(line + 14, NULL, 10);
		} else if (strncmp(line, "procs_blocked ", 14) == 0) {
			smp->procs_blocked = (uint32_t)strtoul(line + 14, NULL, 10);
		}
	}
	smp->have_stat = true;
	return 0;
}

static void parse_loadavg(struct sampler *s)
{
	struct latest *l = &s->latest;

	l->have_loadavg = read_whole(s, "/proc/loadavg") > 0 &&
			  sscanf(s->buf, "%lf %lf %lf %u/%u", &l->load[0], &l->load[1],
				 &l->load[2], &l->runnable, &l->threads) == 5;
}

static void parse_psi(struct sampler *s, struct sample *smp)
{
	for (int r = 0; r < PSI_NR; r++) {
		s->latest.psi_avg_have[r][PSI_SOME] = s->latest.psi_avg_have[r][PSI_FULL] = false;
		if (read_whole(s, psi_files[r]) <= 0)
			continue;
		for (char *line = s->buf; line && *line;) {
			char kind[8];
			double a10, a60, a300;
			unsigned long long total;
			int k;

			if (sscanf(line, "%7s avg10=%lf avg60=%lf avg300=%lf total=%llu", kind,
				   &a10, &a60, &a300, &total) == 5 &&
			    (strcmp(kind, "some") == 0 || strcmp(kind, "full") == 0)) {
				k = kind[0] == 's' ? PSI_SOME : PSI_FULL;
				smp->psi_have[r][k] = true;
				smp->psi_us[r][k] = total;
				s->latest.psi_avg_have[r][k] = true;
				s->latest.psi_avg[r][k][0] = a10;
				s->latest.psi_avg[r][k][1] = a60;
				s->latest.psi_avg[r][k][2] = a300;
			}
			line = strchr(line, '\n');
			if (line)
				line++;
		}
	}
}

/*
 * The next line at *line of a "KEY<sep>value" file (/proc/meminfo,
 * /proc/vmstat) whose KEY is one of keys[0..n): its index in *ret_f and the
 * text after sep. *line moves past that line; NULL when no line is left.
 */
static const char *next_keyed(const char **line, char sep, const char *const *keys, int n,
			      int *ret_f)
{
	while (*line && **line) {
		const char *l = *line, *s = strchr(l, sep), *nl = strchr(l, '\n');
		size_t klen;

		*line = nl ? nl + 1 : NULL;
		if (!s || (nl && nl < s))
			continue;
		klen = (size_t)(s - l);
		for (int f = 0; f < n; f++) {
			if (strlen(keys[f]) == klen && strncmp(l, keys[f], klen) == 0) {
				*ret_f = f;
				return s + 1;
			}
		}
	}
	return NULL;
}

static void parse_meminfo(struct sampler *s)
{
	struct latest *l = &s->latest;
	const char *line, *v;
	int f;

	for (f = 0; f < MEM_NR_FIELDS; f++)
		l->mem_kb[f] = -1;
	l->have_meminfo = read_whole(s, "/proc/meminfo") > 0;
	if (!l->have_meminfo)
		return;
	line = s->buf; /* read_whole may have moved it */
	while ((v = next_keyed(&line, ':', mem_keys, MEM_NR_FIELDS, &f)))
		l->mem_kb[f] = strtoll(v, NULL, 10);
}

static void parse_vmstat(struct sampler *s, struct sample *smp)
{
	const char *line, *v;
	int f;

	if (read_whole(s, "/proc/vmstat") <= 0)
		return;
	smp->have_vm = true;
	line = s->buf;
	while ((v = next_keyed(&line, ' ', vm_keys, VM_NR_FIELDS, &f)))
		smp->vm[f] = strtoull(v, NULL, 10);
}

static int iface_slot(struct sampler *s, const char *name, size_t len)
{
	if (len >= IFACE_NAME_LEN)
		len = IFACE_NAME_LEN - 1;
	for (int i = 0; i < s->n_ifaces; i++)
		if (strncmp(s->ifname[i], name, len) == 0 && s->ifname[i][len] == '\0')
			return i;
	if (s->n_ifaces == MAX_IFACES)
		return -ENOSPC;
	memcpy(s->ifname[s->n_ifaces], name, len);
	s->ifname[s->n_ifaces][len] = '\0';
	return s->n_ifaces++;
}

static void parse_netdev(struct sampler *s, struct sample *smp)
{
	int skip = 2; /* two header lines */

	s->ifaces_dropped = 0;
	if (read_whole(s, "/proc/net/dev") <= 0)
		return;
	for (char *line = s->buf, *next; line && *line; line = next) {
		unsigned long long v[16] = { 0 };
		char *name = line, *colon;
		int slot;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (skip > 0) {
			skip--;
			continue;
		}
		while (*name == ' ')
			name++;
		colon = strchr(name, ':');
		if (!colon)
			continue;
		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes... */
		if (sscanf(colon + 1,
			   "%llu %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]) < 12)
			continue;
		slot = iface_slot(s, name, (size_t)(colon - name));
		if (slot < 0) {
			s->ifaces_dropped++;
			continue;
		}
		smp->net_seen[slot] = 1;
		smp->net[slot][NET_RX_BYTES] = v[0];
		smp->net[slot][NET_RX_PACKETS] = v[1];
		smp->net[slot][NET_RX_ERRS] = v[2];
		smp->net[slot][NET_RX_DROP] = v[3];
		smp->net[slot][NET_TX_BYTES] = v[8];
		smp->net[slot][NET_TX_PACKETS] = v[9];
		smp->net[slot][NET_TX_ERRS] = v[10];
		smp->net[slot][NET_TX_DROP] = v[11];
	}
}

int sample_take(struct sampler *s, uint64_t now_ns)
{
	struct sample *smp = s->newest == &s->bufs[0] ? &s->bufs[1] : &s->bufs[0];
	bool first = !s->newest;
	int err;

	sample_reset(smp, s->cpu_slots);
	smp->t_ns = now_ns ? now_ns : 1;
	err = parse_stat(s, smp);
	s->stat_error = err ? "cannot read /proc/stat" : NULL;
	parse_loadavg(s);
	parse_psi(s, smp);
	parse_meminfo(s);
	parse_vmstat(s, smp);
	parse_netdev(s, smp);
	if (first)
		sample_copy(&s->first, smp, s->cpu_slots);
	s->prev = s->newest;
	s->newest = smp;
	return err;
}
