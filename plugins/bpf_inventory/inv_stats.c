/* SPDX-License-Identifier: MIT */
#include "inv_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <schedmcp/fsread.h>

void inv_stats_init(struct inv_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->fd = -1;
}

bool inv_stats_running(const struct inv_stats *st)
{
	return st->fd >= 0;
}

static void free_snaps(struct inv_stats *st)
{
	if (st->prev != st->base)
		free(st->prev);
	if (st->cur != st->base && st->cur != st->prev)
		free(st->cur);
	free(st->base);
	st->base = st->prev = st->cur = NULL;
	st->n_base = st->n_prev = st->n_cur = 0;
	st->base_ns = st->prev_ns = st->cur_ns = 0;
}

int inv_stats_enable(struct inv_stats *st, uint64_t now_ns, uint64_t interval_ms, char *why,
		     size_t why_len)
{
	int fd;

	if (inv_stats_running(st))
		return -EALREADY;
	free_snaps(st);
	st->windows = 0;
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		snprintf(why, why_len, "bpf(BPF_ENABLE_STATS) failed: %s%s", strerror(-fd),
			 fd == -EPERM ? " (needs CAP_SYS_ADMIN: run schedmcp as root)"
			 : fd == -EINVAL ? " (kernel older than 5.8)" : "");
		return fd;
	}
	st->fd = fd;
	st->started_ns = now_ns;
	st->interval_ms = interval_ms;
	st->stop_at_ns = 0;
	return 0;
}

void inv_stats_set_base(struct inv_stats *st, struct inv_counter *c, size_t n, uint64_t at_ns)
{
	free_snaps(st);
	st->base = st->prev = st->cur = c;
	st->n_base = st->n_prev = st->n_cur = n;
	st->base_ns = st->prev_ns = st->cur_ns = at_ns;
	st->windows = 0;
}

void inv_stats_stop(struct inv_stats *st, uint64_t now_ns, const char *reason)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	snprintf(st->last_stop, sizeof(st->last_stop), "%s", reason ? reason : "stopped");
	st->last_stop_ns = now_ns;
}

void inv_stats_push(struct inv_stats *st, struct inv_counter *c, size_t n, uint64_t at_ns)
{
	if (st->prev != st->base)
		free(st->prev);
	st->prev = st->cur;
	st->n_prev = st->n_cur;
	st->prev_ns = st->cur_ns;
	st->cur = c;
	st->n_cur = n;
	st->cur_ns = at_ns;
	st->windows++;
}

static const struct inv_counter *find(const struct inv_counter *a, size_t n, uint32_t id)
{
	return n ? bsearch(&id, a, n, sizeof(*a), inv_cmp_id) : NULL; /* a may be NULL */
}

/*
 * A program missing from the older snapshot was loaded during the span:
 * with stats on, everything it counted happened inside it, so it starts
 * from zero. Counters that went backwards mean a new program reused the
 * id; the difference is then its whole count.
 */
static bool delta(const struct inv_counter *old, size_t n_old, uint64_t old_ns,
		  const struct inv_counter *now, size_t n_now, uint64_t now_ns, uint32_t id,
		  struct inv_delta *ret)
{
	const struct inv_counter *b = find(old, n_old, id), *c = find(now, n_now, id);

	if (!c || now_ns <= old_ns)
		return false;
	if (b && c->run_cnt >= b->run_cnt && c->run_time_ns >= b->run_time_ns) {
		ret->calls = c->run_cnt - b->run_cnt;
		ret->run_ns = c->run_time_ns - b->run_time_ns;
	} else {
		ret->calls = c->run_cnt;
		ret->run_ns = c->run_time_ns;
	}
	ret->span_ns = now_ns - old_ns;
	return true;
}

void inv_stats_free(struct inv_stats *st)
{
	inv_stats_stop(st, 0, NULL);
	free_snaps(st);
	st->windows = 0;
}

bool inv_stats_window(const struct inv_stats *st, uint32_t id, struct inv_delta *ret)
{
	if (!st->windows)
		return false;
	return delta(st->prev, st->n_prev, st->prev_ns, st->cur, st->n_cur, st->cur_ns, id, ret);
}

bool inv_stats_since_start(const struct inv_stats *st, uint32_t id, struct inv_delta *ret)
{
	if (!st->windows)
		return false;
	return delta(st->base, st->n_base, st->base_ns, st->cur, st->n_cur, st->cur_ns, id, ret);
}

int inv_stats_kernel_enabled(void)
{
	char buf[8];

	if (smcp_read_file(NULL, "/proc/sys/kernel/bpf_stats_enabled", buf, sizeof(buf)) <= 0)
		return -1;
	return buf[0] == '1';
}
