/* SPDX-License-Identifier: MIT */
/*
 * Which processes hold BPF programs, maps and links: every /proc/PID/fd
 * that is an anon inode "bpf-prog", "bpf-map" or "bpf_link", resolved to
 * an id through its fdinfo (bpftool does the same with a BPF iterator).
 * A program held only through a link is owned by the link's holders.
 */
#include "inv.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/fsread.h>

/* fds looked at per scan: bounds the cost on hosts with huge fd tables */
#define MAX_FDS_SCANNED 200000

enum kind { K_PROG, K_MAP, K_LINK };

static void add_owner(struct inv_owners *o, int32_t pid, const char *comm, bool self)
{
	if (o->total && o->last_pid == pid)
		return;
	o->last_pid = pid;
	o->total++;
	o->self |= self;
	if (o->n < INV_MAX_OWNERS) {
		o->o[o->n].pid = pid;
		snprintf(o->o[o->n].comm, sizeof(o->o[o->n].comm), "%s", comm);
		o->n++;
	}
}

static uint32_t fdinfo_id(int pid, const char *fd, const char *key)
{
	char path[96], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fd);
	if (smcp_read_file(NULL, path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strstr(buf, key);
	return p ? (uint32_t)strtoul(p + strlen(key), NULL, 10) : 0;
}

static void read_comm(int pid, char *comm, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (smcp_read_file(NULL, path, comm, len) < 0)
		comm[0] = '\0';
}

static void credit(struct inv_snap *s, enum kind k, uint32_t id, uint32_t prog_id, int pid,
		   const char *comm, bool self)
{
	struct inv_prog *p;

	switch (k) {
	case K_MAP: {
		struct inv_map *m = (struct inv_map *)inv_find_map(s, id);

		if (m)
			add_owner(&m->owners, pid, comm, self);
		return;
	}
	case K_LINK:
		for (size_t i = 0; i < s->n_links; i++)
			if (s->links[i].id == id)
				add_owner(&s->links[i].owners, pid, comm, self);
		/* the link keeps its program attached */
		id = prog_id;
		__attribute__((fallthrough));
	case K_PROG:
		p = (struct inv_prog *)inv_find_prog(s, id);
		if (p)
			add_owner(&p->owners, pid, comm, self);
		return;
	}
}

void inv_scan_owners(struct inv_snap *s)
{
	int self = getpid();
	size_t seen = 0;
	struct dirent *pe;
	DIR *proc = opendir("/proc");

	if (!proc)
		return;
	while ((pe = readdir(proc)) && !s->owners_cut) {
		char path[64], comm[16] = "";
		struct dirent *fe;
		int pid = atoi(pe->d_name);
		DIR *fds;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char link[PATH_MAX], target[64];
			enum kind k;
			uint32_t id, prog_id = 0;
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			if (++seen > MAX_FDS_SCANNED) {
				s->owners_cut = true;
				break;
			}
			snprintf(link, sizeof(link), "/proc/%d/fd/%s", pid, fe->d_name);
			n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, "anon_inode:bpf-prog") == 0)
				k = K_PROG;
			else if (strcmp(target, "anon_inode:bpf-map") == 0)
				k = K_MAP;
			else if (strcmp(target, "anon_inode:bpf_link") == 0)
				k = K_LINK;
			else
				continue;
			id = fdinfo_id(pid, fe->d_name,
				       k == K_PROG ? "prog_id:" : k == K_MAP ? "map_id:" : "link_id:");
			if (k == K_LINK)
				prog_id = fdinfo_id(pid, fe->d_name, "prog_id:");
			if (!id)
				continue;
			if (!comm[0])
				read_comm(pid, comm, sizeof(comm));
			s->owner_fds++;
			credit(s, k, id, prog_id, pid, comm, pid == self);
		}
		closedir(fds);
	}
	closedir(proc);
	s->owners_scanned = true;
}
