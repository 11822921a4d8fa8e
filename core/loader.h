/* SPDX-License-Identifier: MIT */
/* Finding, vetting, loading and unloading plugins. */
#ifndef SMCP_LOADER_H
#define SMCP_LOADER_H

#include "config.h"
#include "host.h"

struct loader_opts {
	const char *plugin_dir;
	const char *enable;  /* comma list: load only these; NULL = as configured */
	const char *disable; /* comma list: never load these */
};

/* Open every plugin in the directory (DIR/NAME.so and DIR/NAME/NAME.so),
 * vet it (ownership, ABI, name) and validate its config section. Errors in
 * the config or the --enable/--disable lists are appended to cfg->errors.
 * Returns 0, or -errno when the directory cannot be used at all. */
int loader_discover(const struct loader_opts *opts, struct config *cfg);

/* The core's own host record (name "core"), for built-in registrations.
 * init_begin/init_end bracket the core's registrations. */
struct smcp_host *loader_core(void);
void loader_core_init_begin(void);
void loader_core_init_end(void);

/* init() every enabled plugin; failures are rolled back and recorded. */
void loader_init_all(void);
/* fini() and unload every loaded plugin, last loaded first. */
void loader_fini_all(void);

/* Every plugin found, in load order (including refused/disabled ones). */
struct smcp_host *const *loader_plugins(size_t *ret_n);


#endif
