/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safeopen.h"

/* A config file larger than this is a mistake, not a configuration. */
#define CONFIG_MAX_FILE (1 << 20)
/* [core] and one section per plugin (the loader takes at most 1024), keys
 * per section (a plugin declares a few dozen) and errors reported: past
 * these a file is not a configuration, and a bound on the counts is a
 * bound on the time the repeat checks below take (about 1 ms at most) */
#define CONFIG_MAX_SECTIONS 1025
#define CONFIG_MAX_KEYS 256
#define CONFIG_MAX_ERRORS 100

void config_error(struct config *c, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	char **ne;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;
	if (c->n_errors == CONFIG_MAX_ERRORS) {
		/* one last line says the rest were not kept */
		free(msg);
		msg = strdup("too many errors; the rest are not shown");
		if (!msg)
			return;
	} else if (c->n_errors > CONFIG_MAX_ERRORS) {
		free(msg);
		return;
	}
	ne = realloc(c->errors, (c->n_errors + 1) * sizeof(*ne));
	if (!ne) {
		free(msg);
		return;
	}
	c->errors = ne;
	c->errors[c->n_errors++] = msg;
}

static char *trim(char *s)
{
	char *e;

	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static struct config_section *add_section(struct config *c, const char *name, bool plugin,
					  int line)
{
	struct config_section *ns;

	for (size_t i = 0; i < c->n_sections; i++) {
		if (c->sections[i].is_plugin == plugin && strcmp(c->sections[i].name, name) == 0) {
			config_error(c, "%s:%d: section [%s%s] repeats the one at line %d", c->path,
				     line, plugin ? "plugin " : "", name, c->sections[i].line);
			return &c->sections[i];
		}
	}
	if (c->n_sections >= CONFIG_MAX_SECTIONS) {
		config_error(c, "%s:%d: more than %d sections; the rest of the file is ignored",
			     c->path, line, CONFIG_MAX_SECTIONS);
		c->full = true;
		return NULL;
	}
	ns = realloc(c->sections, (c->n_sections + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	c->sections = ns;
	ns = &c->sections[c->n_sections];
	*ns = (struct config_section){ .name = strdup(name), .is_plugin = plugin, .line = line };
	if (!ns->name)
		return NULL;
	c->n_sections++;
	return ns;
}

static int add_entry(struct config *c, struct config_section *s, const char *key,
		     const char *value, int line)
{
	struct config_entry *ne;

	for (size_t i = 0; i < s->n_entries; i++) {
		if (strcmp(s->entries[i].key, key) == 0) {
			config_error(c, "%s:%d: %s: set twice (first at line %d)", c->path, line,
				     key, s->entries[i].line);
			return 0;
		}
	}
	if (s->n_entries >= CONFIG_MAX_KEYS) {
		config_error(c, "%s:%d: [%s%s] has more than %d keys; the rest of the file is ignored",
			     c->path, line, s->is_plugin ? "plugin " : "", s->name, CONFIG_MAX_KEYS);
		c->full = true;
		return 0;
	}
	ne = realloc(s->entries, (s->n_entries + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	s->entries = ne;
	ne = &s->entries[s->n_entries];
	ne->key = strdup(key);
	ne->value = strdup(value);
	ne->line = line;
	if (!ne->key || !ne->value) {
		free(ne->key);
		free(ne->value);
		return -ENOMEM;
	}
	s->n_entries++;
	return 0;
}

static int parse_line(struct config *c, struct config_section **cur, char *line, int lineno)
{
	char *s = trim(line);
	char *eq, *key, *value;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *end = strchr(s, ']');
		char *name;
		bool plugin = false;

		if (!end || *trim(end + 1)) {
			config_error(c, "%s:%d: malformed section header (expected [core] or [plugin NAME])",
				     c->path, lineno);
			*cur = NULL;
			return 0;
		}
		*end = '\0';
		name = trim(s + 1);
		if (strncmp(name, "plugin", 6) == 0 && isspace((unsigned char)name[6])) {
			plugin = true;
			name = trim(name + 6);
		}
		if ((!plugin && strcmp(name, "core") != 0) || (plugin && !valid_name(name))) {
			config_error(c, "%s:%d: unknown section [%s] (expected [core] or [plugin NAME] with NAME in [a-z0-9_])",
				     c->path, lineno, name);
			*cur = NULL;
			return 0;
		}
		*cur = add_section(c, name, plugin, lineno);
		return *cur || c->full ? 0 : -ENOMEM;
	}
	eq = strchr(s, '=');
	if (!eq) {
		config_error(c, "%s:%d: expected 'key = value'", c->path, lineno);
		return 0;
	}
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!valid_name(key)) {
		config_error(c, "%s:%d: bad key '%s' (use [a-z0-9_])", c->path, lineno, key);
		return 0;
	}
	/* optional double quotes keep leading/trailing spaces, '#' and ';';
	 * unquoted, a '#' or ';' after whitespace starts a comment */
	if (value[0] != '"') {
		for (char *q = value; *q; q++) {
			if ((*q == '#' || *q == ';') && (q == value || isspace((unsigned char)q[-1]))) {
				*q = '\0';
				value = trim(value);
				break;
			}
		}
	}
	if (value[0] == '"') {
		size_t n = strlen(value);

		if (n < 2 || value[n - 1] != '"') {
			config_error(c, "%s:%d: %s: unterminated quoted value", c->path, lineno, key);
			return 0;
		}
		value[n - 1] = '\0';
		value++;
	}
	if (strlen(value) > CONFIG_MAX_VALUE) {
		config_error(c, "%s:%d: %s: value longer than %d bytes", c->path, lineno, key,
			     CONFIG_MAX_VALUE);
		return 0;
	}
	if (!*cur) {
		config_error(c, "%s:%d: %s: key outside a section", c->path, lineno, key);
		return 0;
	}
	return add_entry(c, *cur, key, value, lineno);
}

int config_load_string(struct config *c, const char *text, const char *name)
{
	struct config_section *cur = NULL;
	char *copy, *line;
	int lineno = 0, err = 0;
	const char *p;

	free(c->path);
	c->path = strdup(name);
	copy = strdup(text);
	if (!c->path || !copy) {
		free(copy);
		return -ENOMEM;
	}
	/* split by hand: strtok would merge empty lines and lose numbering */
	line = copy;
	for (p = copy;; p++) {
		if (*p == '\n' || *p == '\0') {
			bool last = *p == '\0';

			*(char *)p = '\0';
			lineno++;
			if (memchr(line, '\0', (size_t)(p - line)) != NULL) {
				config_error(c, "%s:%d: NUL byte in line", c->path, lineno);
			} else {
				err = parse_line(c, &cur, line, lineno);
				if (err || c->full)
					break;
			}
			if (last)
				break;
			line = (char *)p + 1;
		}
	}
	free(copy);
	return err;
}

int config_load_file(struct config *c, const char *path)
{
	char why[4200], *buf = NULL;
	size_t n = 0;
	int fd, err = 0;

	/* the usual way to say "no file, defaults only" */
	if (strcmp(path, "/dev/null") == 0)
		return config_load_string(c, "", path);
	/* root acts on what this file says (which plugins, where from): it must
	 * be as trusted as a plugin, and read from the fd that was checked */
	fd = safeopen(-1, path, SAFEOPEN_FILE, why, sizeof(why));
	if (fd == -EPERM) {
		free(c->path);
		c->path = strdup(path);
		config_error(c, "%s: refused: %s (the config file and every directory above it "
			     "must be owned by root and not writable by group or others)", path, why);
		return 0;
	}
	if (fd < 0)
		return fd;
	buf = malloc(CONFIG_MAX_FILE + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	/* read until EOF or one byte past the limit; a file that shrinks
	 * meanwhile just ends sooner */
	while (n <= CONFIG_MAX_FILE) {
		ssize_t r = read(fd, buf + n, CONFIG_MAX_FILE + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > CONFIG_MAX_FILE) {
		err = -EFBIG;
		goto out;
	}
	if (memchr(buf, '\0', n)) {
		free(c->path);
		c->path = strdup(path);
		config_error(c, "%s: contains a NUL byte (not a text file)", path);
		goto out;
	}
	buf[n] = '\0';
	err = config_load_string(c, buf, path);
out:
	free(buf);
	close(fd);
	return err;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sections; i++) {
		struct config_section *s = &c->sections[i];

		for (size_t j = 0; j < s->n_entries; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
		}
		free(s->entries);
		free(s->name);
	}
	free(c->sections);
	for (size_t i = 0; i < c->n_errors; i++)
		free(c->errors[i]);
	free(c->errors);
	free(c->path);
	*c = (struct config){ 0 };
}

const char *config_where(const struct config *c, int line, char *buf, size_t len)
{
	if (line == CONFIG_LINE_CLI)
		return "command line";
	snprintf(buf, len, "%s:%d", c->path ? c->path : "(config)", line);
	return buf;
}

int config_set(struct config *c, const char *section, const char *key, const char *value)
{
	bool plugin = strcmp(section, "core") != 0;
	struct config_section *s = NULL;

	if (!valid_name(section) || !valid_name(key) || !*key) {
		config_error(c, "--set %s.%s: bad name (use [a-z0-9_] for section and key)", section,
			     key);
		return -EINVAL;
	}
	if (strlen(value) > CONFIG_MAX_VALUE) {
		config_error(c, "--set %s.%s: value longer than %d bytes", section, key,
			     CONFIG_MAX_VALUE);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_sections && !s; i++)
		if (c->sections[i].is_plugin == plugin && strcmp(c->sections[i].name, section) == 0)
			s = &c->sections[i];
	if (!s)
		s = add_section(c, section, plugin, CONFIG_LINE_CLI);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_entries; i++) {
		struct config_entry *e = &s->entries[i];
		char *v;

		if (strcmp(e->key, key) != 0)
			continue;
		v = strdup(value);
		if (!v)
			return -ENOMEM;
		free(e->value);
		e->value = v;
		e->line = CONFIG_LINE_CLI;
		return 0;
	}
	return add_entry(c, s, key, value, CONFIG_LINE_CLI);
}

const struct config_section *config_find(const struct config *c, const char *name, bool plugin)
{
	for (size_t i = 0; i < c->n_sections; i++)
		if (c->sections[i].is_plugin == plugin && strcmp(c->sections[i].name, name) == 0)
			return &c->sections[i];
	return NULL;
}

const char *config_value(const struct config_section *s, const char *key, int *ret_line)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_entries; i++) {
		if (strcmp(s->entries[i].key, key) == 0) {
			if (ret_line)
				*ret_line = s->entries[i].line;
			return s->entries[i].value;
		}
	}
	return NULL;
}

int config_parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_int(const char *v, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long x;

	errno = 0;
	if (!*v || isspace((unsigned char)*v))
		return -EINVAL;
	x = strtoll(v, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || ((min || max) && (x < min || x > max)))
		return -ERANGE;
	*ret = x;
	return 0;
}

int64_t config_key_int(const struct config_section *s, const struct smcp_config_key *keys,
		       const char *key)
{
	const struct smcp_config_key *k = config_key_find(keys, key);
	const char *v = config_value(s, key, NULL);
	int64_t x = 0;

	if (!k)
		return 0;
	if (!v || config_parse_int(v, k->min, k->max, &x))
		(void)config_parse_int(k->default_value, 0, 0, &x);
	return x;
}

const char *config_key_str(const struct config_section *s, const struct smcp_config_key *keys,
			   const char *key)
{
	const struct smcp_config_key *k = config_key_find(keys, key);
	const char *v = config_value(s, key, NULL);

	return v ? v : k ? k->default_value : NULL;
}

const struct smcp_config_key *config_key_find(const struct smcp_config_key *keys,
					      const char *name)
{
	size_t stride;

	if (!keys || !keys[0].name)
		return NULL;
	stride = keys[0].sz;
	if (stride < offsetof(struct smcp_config_key, max) + sizeof(keys[0].max))
		return NULL;
	for (const char *p = (const char *)keys;; p += stride) {
		const struct smcp_config_key *k = (const struct smcp_config_key *)p;

		if (!k->name)
			return NULL;
		if (strcmp(k->name, name) == 0)
			return k;
	}
}

const char *config_check_value(const struct smcp_config_key *k, const char *v)
{
	bool b;
	int64_t i;

	switch (k->type) {
	case SMCP_CONFIG_BOOL:
		return config_parse_bool(v, &b) ? "expected true or false" : NULL;
	case SMCP_CONFIG_INT:
		switch (config_parse_int(v, k->min, k->max, &i)) {
		case 0:
			return NULL;
		case -ERANGE:
			return "integer out of range";
		default:
			return "expected an integer";
		}
	case SMCP_CONFIG_PATH:
		return v[0] == '/' ? NULL : "expected an absolute path";
	case SMCP_CONFIG_STRING:
		return NULL;
	}
	return "key has an unknown type";
}

int config_validate(struct config *c, const struct config_section *s,
		    const struct smcp_config_key *keys)
{
	int added = 0;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct config_entry *e = &s->entries[i];
		const struct smcp_config_key *k;
		const char *why;
		char at[512];
		bool b;

		if (s->is_plugin && strcmp(e->key, "enabled") == 0) {
			if (config_parse_bool(e->value, &b)) {
				config_error(c, "%s: enabled: expected true or false, got '%s'",
					     config_where(c, e->line, at, sizeof(at)), e->value);
				added++;
			}
			continue;
		}
		k = config_key_find(keys, e->key);
		if (!k) {
			config_error(c, "%s: %s: unknown key in [%s%s]",
				     config_where(c, e->line, at, sizeof(at)), e->key,
				     s->is_plugin ? "plugin " : "", s->name);
			added++;
			continue;
		}
		why = config_check_value(k, e->value);
		if (why) {
			if (k->type == SMCP_CONFIG_INT && (k->min || k->max))
				config_error(c, "%s: %s: %s, got '%s' (allowed %lld..%lld)",
					     config_where(c, e->line, at, sizeof(at)), e->key, why, e->value,
					     (long long)k->min, (long long)k->max);
			else
				config_error(c, "%s: %s: %s, got '%s'",
					     config_where(c, e->line, at, sizeof(at)), e->key, why, e->value);
			added++;
		}
	}
	return added;
}
