/* SPDX-License-Identifier: MIT */
/* Finding, vetting, loading and unloading plugins. */
#ifndef SMCP_LOADER_H
#define SMCP_LOADER_H

#include "config.h"
#include "host.h"

/* One directory of the plugin search path. */
struct loader_dir {
	const char *path;
	/* a missing directory is skipped quietly (the stock directory when
	 * others are given) rather than a config error */
	bool optional;
};

/*
 * Name lists (--enable, --disable, [core] plugins) hold plugin names
 * separated by commas and/or whitespace: "alpha,beta", "alpha, beta",
 * "alpha beta".
 */
struct loader_opts {
	const struct loader_dir *dirs; /* searched in order: the first plugin of a name wins */
	size_t n_dirs;
	const char *enable;  /* load only these; NULL = as configured */
	const char *disable; /* never load these */
	/* [core] plugins: the plugins enabled unless their own section says
	 * otherwise; NULL = every plugin found */
	const char *only;
	int only_line; /* its config line, for messages */
};

/*
 * Open every plugin in each directory of the search path (DIR/NAME.so and
 * DIR/NAME/NAME.so), vet it (ownership, ABI, name) and validate its config
 * section. A name already taken by a plugin of an earlier directory is
 * refused without opening the file; a directory met twice is searched once.
 * Errors in the config (a [plugin NAME] section or a listed name that no
 * plugin has, with the closest name found) are appended to cfg->errors.
 * Returns 0, or -errno when a directory cannot be used at all.
 */
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
