/* SPDX-License-Identifier: MIT */
/* The logger: every line goes to stderr; lines at or above the client's
 * level also go to the client through the sink the MCP server installs. */
#ifndef SMCP_LOG_H
#define SMCP_LOG_H

#include <schedmcp/plugin.h>

/* Called for every log line at or above the sink level; logger names the
 * source ("core", a plugin name). Must not log itself. */
typedef void (*log_sink_fn)(void *data, enum smcp_log_level lvl, const char *logger,
			    const char *msg);

void log_set_stderr_level(enum smcp_log_level lvl);
void log_set_sink(log_sink_fn fn, void *data, enum smcp_log_level lvl);
void log_set_sink_level(enum smcp_log_level lvl);
/* Parse "debug".."emergency"; -EINVAL for anything else. */
int log_level_parse(const char *s, enum smcp_log_level *ret);
const char *log_level_name(enum smcp_log_level lvl);

void log_vmsg(enum smcp_log_level lvl, const char *logger, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void log_msg(enum smcp_log_level lvl, const char *logger, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A line for the operator's log (stderr) only, never sent to clients: in the
 * service one session must not learn who else is connected. */
void log_private(enum smcp_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(SMCP_LOG_DEBUG, "core", __VA_ARGS__)
#define log_info(...) log_msg(SMCP_LOG_INFO, "core", __VA_ARGS__)
#define log_warn(...) log_msg(SMCP_LOG_WARNING, "core", __VA_ARGS__)
#define log_err(...) log_msg(SMCP_LOG_ERROR, "core", __VA_ARGS__)

#endif
