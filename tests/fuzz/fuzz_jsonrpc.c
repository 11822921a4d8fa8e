/* SPDX-License-Identifier: MIT */
/* Fuzz the MCP server's message handling: every input is a sequence of
 * lines fed to mcp_session_handle_line() against the core's built-ins. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/events.h"
#include "../../core/host.h"
#include "../../core/loader.h"
#include "../../core/log.h"
#include "../../core/loop.h"
#include "../../core/status.h"
#include "../../mcp/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sent;

static int discard(void *t, const char *line, size_t len, bool droppable)
{
	sent += len;
	return 0;
}

static struct mcp_session *session;

static void setup(void)
{
	static const struct mcp_peer peer = { .transport = "fuzz" };
	static bool done;
	struct mcp_limits lim = {
		.max_line_bytes = 1 << 20,
		.max_pending = 16,
		.max_result_bytes = 1 << 16,
		.max_subscriptions = 8,
		.page_size = 2,
	};

	if (done)
		return;
	done = true;
	log_set_stderr_level(SMCP_LOG_EMERGENCY);
	(void)loop_init();
	(void)mcp_server_init(&lim);
	session = mcp_session_new(discard, NULL, &peer);
	loader_core_init_begin();
	(void)status_init(loader_core(), &host_api);
	(void)events_init(loader_core(), &host_api, 16);
	loader_core_init_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	setup();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		mcp_session_handle_line(session, p, n);
		p += n + 1;
	}
	return 0;
}
