/* SPDX-License-Identifier: MIT */
/* Tasks from /proc (under the host's fs root) for the prompts' pid. */
#include "sched_steps.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <schedmcp/array.h>
#include <schedmcp/fsread.h>

/* A task's name is its owner's choice: keep it printable and free of what
 * would look like markup or a placeholder in a prompt. */
static void printable(char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s) || *s == '$' || *s == '`')
			*s = '?';
}

static void read_comm(const char *root, int64_t pid, char *buf, size_t len)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "/proc/%lld/comm", (long long)pid);
	if (smcp_read_file(root, rel, buf, len) < 0)
		buf[0] = '\0';
	printable(buf);
}

int sched_tasks_info_read(const char *root, int64_t pid, struct task_info *ret)
{
	char rel[64], buf[4096], *p;
	int n;

	memset(ret, 0, sizeof(*ret));
	ret->policy = -1;
	ret->tgid = pid;
	snprintf(rel, sizeof(rel), "/proc/%lld/status", (long long)pid);
	if (smcp_read_file(root, rel, buf, sizeof(buf)) < 0)
		return -ENOENT;
	if ((p = strstr(buf, "Name:\t"))) {
		p += 6;
		snprintf(ret->comm, sizeof(ret->comm), "%.*s", (int)strcspn(p, "\n"), p);
		printable(ret->comm);
	}
	if ((p = strstr(buf, "\nTgid:\t")) && atoll(p + 7) > 0)
		ret->tgid = atoll(p + 7);
	if (ret->tgid != pid)
		read_comm(root, ret->tgid, ret->proc_comm, sizeof(ret->proc_comm));
	/* /proc/PID/stat: the fields after the name's last ')' start at 3;
	 * nice is field 19, policy field 41 (proc(5)) */
	snprintf(rel, sizeof(rel), "/proc/%lld/stat", (long long)pid);
	n = smcp_read_file(root, rel, buf, sizeof(buf));
	p = n > 0 ? strrchr(buf, ')') : NULL;
	if (p) {
		char *save = NULL, *tok = strtok_r(p + 1, " ", &save);

		for (int field = 3; tok; field++, tok = strtok_r(NULL, " ", &save)) {
			if (field == 19)
				ret->nice = atoi(tok);
			if (field == 41) {
				ret->policy = atoi(tok);
				break;
			}
		}
	}
	return 0;
}

const char *sched_tasks_policy_name(int policy, const char **ret_meaning)
{
	static const struct {
		const char *name, *meaning;
	} policies[] = {
		[0] = { "SCHED_OTHER", "" },
		[1] = { "SCHED_FIFO", " (real-time: it runs before every fair and sched_ext task)" },
		[2] = { "SCHED_RR", " (real-time: it runs before every fair and sched_ext task)" },
		[3] = { "SCHED_BATCH", " (taken as CPU-bound: not favoured when it wakes up)" },
		[5] = { "SCHED_IDLE", " (it runs only when nothing else wants the CPU: long waits "
				      "are by design)" },
		[6] = { "SCHED_DEADLINE", " (runtime, deadline and period reserved for it)" },
		[7] = { "SCHED_EXT", " (the sched_ext scheduler places it)" },
	};

	*ret_meaning = "";
	if (policy < 0 || (size_t)policy >= SMCP_COUNT(policies) ||
	    !policies[policy].name)
		return NULL;
	*ret_meaning = policies[policy].meaning;
	return policies[policy].name;
}

static int cmp_pid(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

uint32_t sched_tasks_complete_pid(const struct smcp_host_api *api, const char *root,
				  const char *prefix, struct smcp_completion *out)
{
	char path[4096], comm[64], rel[64];
	bool by_name = prefix[0] && !isdigit((unsigned char)prefix[0]);
	size_t n = 0, cap = 0, pl = strlen(prefix);
	long *pids = NULL;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/proc", root);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (by_name) {
			snprintf(rel, sizeof(rel), "/proc/%ld/comm", pid);
			if (smcp_read_file(root, rel, comm, sizeof(comm)) < 0 ||
			    strncasecmp(comm, prefix, pl))
				continue;
		} else if (strncmp(de->d_name, prefix, pl)) {
			continue;
		}
		if (smcp_array_grow(&pids, &cap, n, sizeof(*pids), 256))
			break;
		pids[n++] = pid;
	}
	closedir(d);
	if (n > 1) /* pids is NULL when nothing matched: no qsort(NULL, 0) */
		qsort(pids, n, sizeof(*pids), cmp_pid);
	for (size_t i = 0; i < n; i++) {
		char v[24];

		snprintf(v, sizeof(v), "%ld", pids[i]);
		(void)api->completion_add(out, v);
	}
	free(pids);
	return (uint32_t)n;
}
