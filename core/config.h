/* SPDX-License-Identifier: MIT */
/* The INI-style configuration: a [core] section and one [plugin NAME]
 * section per plugin. Parsing collects every error (file:line: key: why) so
 * --check-config can report them all at once. */
#ifndef SMCP_CONFIG_H
#define SMCP_CONFIG_H

#include <schedmcp/plugin.h>

#define CONFIG_MAX_VALUE 4095
/* The line of an entry or section that came from the command line (--set). */
#define CONFIG_LINE_CLI (-1)

struct config_entry {
	char *key;
	char *value;
	int line;
};

struct config_section {
	char *name; /* "core" or the plugin name */
	bool is_plugin;
	int line;
	struct config_entry *entries;
	size_t n_entries;
};

struct config {
	char *path; /* where it came from, for messages */
	struct config_section *sections;
	size_t n_sections;
	char **errors;
	size_t n_errors;
	bool full; /* a count limit was hit: the rest of the text was ignored */
};

/* Parse a file. 0 when read (syntax errors are in c->errors, and so is a
 * refusal of a file that is not trusted: core/safeopen.h), -errno when it
 * cannot be read (-EFBIG past 1 MiB). */
int config_load_file(struct config *c, const char *path);
/* Parse text; name is used in messages. */
int config_load_string(struct config *c, const char *text, const char *name);
void config_free(struct config *c);

/* Set section.key = value from the command line (--set, --stats-socket-path):
 * replaces the file's value or adds it; validated like the file's entries,
 * errors name the option. section is "core" or a plugin name. 0 or -errno
 * (-EINVAL for a malformed name, with a config error). */
int config_set(struct config *c, const char *section, const char *key, const char *value);

/* "file:line" for messages, or "command line" for what --set set. */
const char *config_where(const struct config *c, int line, char *buf, size_t len);

void config_error(struct config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The section, or NULL. */
const struct config_section *config_find(const struct config *c, const char *name, bool plugin);
/* The value of key in s (NULL if s is NULL or key absent); line in *ret_line. */
const char *config_value(const struct config_section *s, const char *key, int *ret_line);

/* Check every key of s against keys (terminated by a NULL name, stepped by
 * keys[0].sz); "enabled" is always accepted for plugin sections. Appends one
 * error per unknown key or bad value; returns the number added. */
int config_validate(struct config *c, const struct config_section *s,
		    const struct smcp_config_key *keys);

/* Find a key declaration by name; NULL if absent. */
const struct smcp_config_key *config_key_find(const struct smcp_config_key *keys,
					      const char *name);

/* Key `key` of section s (NULL: none) as declared in keys: the section's
 * value when it parses within the key's range, else the key's default (0 or
 * NULL for a key keys does not declare). The string is borrowed from s or
 * keys. */
int64_t config_key_int(const struct config_section *s, const struct smcp_config_key *keys,
		       const char *key);
const char *config_key_str(const struct config_section *s, const struct smcp_config_key *keys,
			   const char *key);

/* Value conversions: 0 or -EINVAL (-ERANGE outside [min, max]). */
int config_parse_bool(const char *v, bool *ret);
int config_parse_int(const char *v, int64_t min, int64_t max, int64_t *ret);
/* Check v against the key's type; NULL when fine, else a static reason. */
const char *config_check_value(const struct smcp_config_key *k, const char *v);

#endif
