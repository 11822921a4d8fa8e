/* SPDX-License-Identifier: MIT */
/* Event names, perf's spelling, with an optional hw:/sw:/tp: prefix; also
 * scxtop's and bpftrace's spelling of a tracepoint, tracepoint:SUBSYS:NAME. */
#include "sampling.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_util.h"

struct event_def {
	const char *name, *alias;
	uint32_t type;
	uint64_t config;
};

static const struct event_def events[] = {
	{ "cycles", "cpu-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	{ "instructions", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
	{ "cache-references", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES },
	{ "cache-misses", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
	{ "branch-instructions", "branches", PERF_TYPE_HARDWARE,
	  PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
	{ "branch-misses", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
	{ "bus-cycles", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_BUS_CYCLES },
	{ "stalled-cycles-frontend", NULL, PERF_TYPE_HARDWARE,
	  PERF_COUNT_HW_STALLED_CYCLES_FRONTEND },
	{ "stalled-cycles-backend", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_BACKEND },
	{ "ref-cycles", NULL, PERF_TYPE_HARDWARE, PERF_COUNT_HW_REF_CPU_CYCLES },
	{ "cpu-clock", NULL, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK },
	{ "task-clock", NULL, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
	{ "page-faults", "faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
	{ "context-switches", "cs", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
	{ "cpu-migrations", "migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
	{ "minor-faults", NULL, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN },
	{ "major-faults", NULL, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ },
	{ "alignment-faults", NULL, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_ALIGNMENT_FAULTS },
	{ "emulation-faults", NULL, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_EMULATION_FAULTS },
};

static char names_buf[768];

const char *pp_event_names(void)
{
	size_t off = 0;

	if (names_buf[0])
		return names_buf;
	for (size_t i = 0; i < SMCP_COUNT(events); i++)
		off += (size_t)snprintf(names_buf + off, sizeof(names_buf) - off, "%s%s:%s",
					i ? ", " : "",
					events[i].type == PERF_TYPE_HARDWARE ? "hw" : "sw",
					events[i].name);
	return names_buf;
}

static bool tp_name_ok(const char *s, size_t n)
{
	if (!n || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return s[0] != '.';
}

static int parse_tracepoint(const char *root, const char *tp, struct pp_event *ev, char *err,
			    size_t err_len)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	const char *colon = strchr(tp, ':');
	char path[256], buf[32];
	int r = -ENOENT;

	if (!colon || !tp_name_ok(tp, (size_t)(colon - tp)) ||
	    !tp_name_ok(colon + 1, strlen(colon + 1))) {
		snprintf(err, err_len,
			 "tracepoint '%s' must be SUBSYSTEM:NAME (letters, digits, '_'), e.g. "
			 "tp:sched:sched_switch",
			 tp);
		return -EINVAL;
	}
	for (size_t i = 0; i < SMCP_COUNT(dirs) && r < 0; i++) {
		snprintf(path, sizeof(path), "%s/events/%.*s/%s/id", dirs[i], (int)(colon - tp), tp,
			 colon + 1);
		r = smcp_read_file(root, path, buf, sizeof(buf));
	}
	if (r <= 0) {
		snprintf(err, err_len,
			 "tracepoint '%s' not found in tracefs (%s); list them with list_events "
			 "(events://perf)",
			 tp, strerror(r ? -r : ENOENT));
		return -EINVAL;
	}
	ev->type = PERF_TYPE_TRACEPOINT;
	ev->config = strtoull(buf, NULL, 10);
	ev->is_tracepoint = true;
	snprintf(ev->name, sizeof(ev->name), "tp:%s", tp);
	return 0;
}

int pp_event_parse(const char *root, const char *text, struct pp_event *ev, char *err,
		   size_t err_len)
{
	const char *name = text;
	int want = -1; /* PERF_TYPE_* the prefix asks for */

	memset(ev, 0, sizeof(*ev));
	if (strncmp(text, "hw:", 3) == 0) {
		want = PERF_TYPE_HARDWARE;
		name += 3;
	} else if (strncmp(text, "sw:", 3) == 0) {
		want = PERF_TYPE_SOFTWARE;
		name += 3;
	} else if (strncmp(text, "tp:", 3) == 0) {
		return parse_tracepoint(root, text + 3, ev, err, err_len);
	} else if (strncmp(text, "tracepoint:", 11) == 0) {
		return parse_tracepoint(root, text + 11, ev, err, err_len);
	}
	for (size_t i = 0; i < SMCP_COUNT(events); i++) {
		const struct event_def *d = &events[i];

		if (strcmp(name, d->name) != 0 && (!d->alias || strcmp(name, d->alias) != 0))
			continue;
		/* a name is one event whatever its prefix says: scxtop's docs
		 * write hw:cpu-clock for the software clock; the answer names
		 * the event as it was opened */
		ev->type = d->type;
		ev->config = d->config;
		ev->is_hw = d->type == PERF_TYPE_HARDWARE;
		ev->is_clock = d->type == PERF_TYPE_SOFTWARE &&
			       (d->config == PERF_COUNT_SW_CPU_CLOCK ||
				d->config == PERF_COUNT_SW_TASK_CLOCK);
		snprintf(ev->name, sizeof(ev->name), "%s:%s", ev->is_hw ? "hw" : "sw", d->name);
		return 0;
	}
	if (want < 0 && strchr(text, ':'))
		return parse_tracepoint(root, text, ev, err, err_len);
	snprintf(err, err_len,
		 "unknown event '%s'; valid events: %s, or a tracepoint as tp:SUBSYSTEM:NAME "
		 "(also tracepoint:SUBSYSTEM:NAME)",
		 text, pp_event_names());
	return -EINVAL;
}
