/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
};

static enum smcp_log_level stderr_level = SMCP_LOG_INFO;
static log_sink_fn sink;
static void *sink_data;
static enum smcp_log_level sink_level = SMCP_LOG_INFO;

void log_set_stderr_level(enum smcp_log_level lvl)
{
	stderr_level = lvl;
}

void log_set_sink(log_sink_fn fn, void *data, enum smcp_log_level lvl)
{
	sink = fn;
	sink_data = data;
	sink_level = lvl;
}

void log_set_sink_level(enum smcp_log_level lvl)
{
	sink_level = lvl;
}

int log_level_parse(const char *s, enum smcp_log_level *ret)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum smcp_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum smcp_log_level lvl)
{
	if ((unsigned)lvl >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[lvl];
}

static void vmsg(enum smcp_log_level lvl, const char *logger, bool to_sink, const char *fmt,
		 va_list ap) __attribute__((format(printf, 4, 0)));

void log_vmsg(enum smcp_log_level lvl, const char *logger, const char *fmt, va_list ap)
{
	vmsg(lvl, logger, true, fmt, ap);
}

void log_private(enum smcp_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(lvl, "core", false, fmt, ap);
	va_end(ap);
}

static void vmsg(enum smcp_log_level lvl, const char *logger, bool to_sink, const char *fmt,
		 va_list ap)
{
	char msg[2048];
	int saved = errno;

	if (!to_sink && lvl < stderr_level)
		return;
	if (lvl < stderr_level && !(sink && lvl >= sink_level))
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (lvl >= stderr_level) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		/* one write per line so concurrent writers do not interleave */
		dprintf(STDERR_FILENO, "%s.%03ld schedmcp[%s] %s: %s\n", stamp, ts.tv_nsec / 1000000,
			logger, level_names[lvl], msg);
	}
	if (to_sink && sink && lvl >= sink_level) {
		log_sink_fn fn = sink;

		sink = NULL; /* a sink that logs must not recurse */
		fn(sink_data, lvl, logger, msg);
		sink = fn;
	}
	errno = saved;
}

void log_msg(enum smcp_log_level lvl, const char *logger, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, logger, fmt, ap);
	va_end(ap);
}
