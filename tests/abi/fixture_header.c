/* SPDX-License-Identifier: MIT */
/*
 * One source, many deliberately wrong plugins: meson builds it several times
 * with different -D flags (see meson.build). A plugin that loads registers
 * abi://NAME so a test can see that it did.
 *
 *   FIX_NAME       the name in plugin_info (default "abi_good")
 *   FIX_MAJOR      abi_major (default SMCP_ABI_MAJOR)
 *   FIX_MINOR      abi_minor (default SMCP_ABI_MINOR)
 *   FIX_NO_ENTRY   export a differently named function instead of the entry
 *   FIX_NULL_INFO  the entry returns NULL
 *   FIX_NO_INIT    plugin_info without init()
 *   FIX_EVIL       a constructor that creates the file $SMCP_EVIL_MARK: what
 *                  an attacker's library does the moment it is mapped, long
 *                  before the loader could look at plugin_info
 */
#include <schedmcp/plugin.h>

#ifdef FIX_EVIL
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void evil_ran(void)
{
	const char *mark = getenv("SMCP_EVIL_MARK");
	int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;

	if (fd >= 0)
		close(fd);
}
#endif

#ifndef FIX_NAME
#define FIX_NAME "abi_good"
#endif
#ifndef FIX_MAJOR
#define FIX_MAJOR SMCP_ABI_MAJOR
#endif
#ifndef FIX_MINOR
#define FIX_MINOR SMCP_ABI_MINOR
#endif

static const struct smcp_host_api *api;

static int read_name(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_text(res, FIX_NAME);
}

static int fixture_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	struct smcp_resource_desc d = {
		.sz = sizeof(d),
		.uri = "abi://" FIX_NAME,
		.name = FIX_NAME,
		.description = "the plugin's own name, to show it loaded",
		.read = read_name,
	};

	api = a;
	return api->register_resource(host, &d);
}

static const struct smcp_plugin_info info = {
	.sz = sizeof(struct smcp_plugin_info),
	.abi_major = FIX_MAJOR,
	.abi_minor = FIX_MINOR,
	.name = FIX_NAME,
	.version = "0.0.1",
	.description = "ABI test fixture " FIX_NAME,
#ifndef FIX_NO_INIT
	.init = fixture_init,
#endif
};

#ifdef FIX_NO_ENTRY
/* close to the real name, but not it: the loader must not guess */
SMCP_EXPORT const struct smcp_plugin_info *schedmcp_plugin_entry_v1(void);
SMCP_EXPORT const struct smcp_plugin_info *schedmcp_plugin_entry_v1(void)
#else
SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void);
SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void)
#endif
{
	(void)fixture_init;
#ifdef FIX_NULL_INFO
	(void)info;
	return 0;
#else
	return &info;
#endif
}
