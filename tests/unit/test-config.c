/* SPDX-License-Identifier: MIT */
/* The INI config parser and validator (core/config.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "interval_ms", SMCP_CONFIG_INT, "1000", "tick", 10, 60000 },
	{ sizeof(struct smcp_config_key), "count", SMCP_CONFIG_INT, "5", "unbounded", 0, 0 },
	{ sizeof(struct smcp_config_key), "verbose", SMCP_CONFIG_BOOL, "false", "chatty", 0, 0 },
	{ sizeof(struct smcp_config_key), "label", SMCP_CONFIG_STRING, NULL, "any text", 0, 0 },
	{ sizeof(struct smcp_config_key), "root", SMCP_CONFIG_PATH, "/", "a directory", 0, 0 },
	{ 0 },
};

/* Whether some error message contains needle. */
static bool has_error(const struct config *c, const char *needle)
{
	for (size_t i = 0; i < c->n_errors; i++)
		if (strstr(c->errors[i], needle))
			return true;
	return false;
}

static void dump_errors(const struct config *c)
{
	for (size_t i = 0; i < c->n_errors; i++)
		fprintf(stderr, "    error %zu: %s\n", i, c->errors[i]);
}

static void test_sections(void)
{
	struct config c = { 0 };
	const struct config_section *core, *foo, *bar;
	int line = 0;

	UNIT_CASE("sections");
	CHECK_INT(config_load_string(&c,
				     "# leading comment\n"
				     "\n"
				     "[core]\n"
				     "page_size = 10\n"
				     "  ; indented comment\n"
				     "[plugin foo]\n"
				     "enabled = no\n"
				     "interval_ms=250\n"
				     "[ plugin   bar ]\n"
				     "label = x\n",
				     "t.conf"),
		  0);
	CHECK_INT(c.n_errors, 0);
	dump_errors(&c);
	CHECK_INT(c.n_sections, 3);
	core = config_find(&c, "core", false);
	foo = config_find(&c, "foo", true);
	bar = config_find(&c, "bar", true);
	CHECK(core && foo && bar);
	CHECK(config_find(&c, "foo", false) == NULL);
	CHECK(config_find(&c, "core", true) == NULL);
	CHECK_STR(config_value(core, "page_size", &line), "10");
	CHECK_INT(line, 4);
	CHECK_STR(config_value(foo, "enabled", &line), "no");
	CHECK_INT(line, 7);
	CHECK_STR(config_value(foo, "interval_ms", NULL), "250");
	CHECK(config_value(foo, "label", NULL) == NULL);
	CHECK_STR(config_value(bar, "label", NULL), "x");
	CHECK(config_value(NULL, "label", NULL) == NULL);
	if (foo)
		CHECK_INT(foo->line, 6);
	CHECK_STR(c.path, "t.conf");
	config_free(&c);
	CHECK(c.sections == NULL && c.n_sections == 0);
	config_free(&c); /* twice is harmless */
	config_free(NULL);
}

static void test_bad_sections(void)
{
	struct config c = { 0 };

	UNIT_CASE("bad sections");
	CHECK_INT(config_load_string(&c,
				     "[core\n"           /* 1: malformed */
				     "[core] trailing\n" /* 2: malformed */
				     "[other]\n"         /* 3: unknown */
				     "[plugin]\n"        /* 4: no name */
				     "[plugin Bad-Name]\n" /* 5: bad name */
				     "key = 1\n"         /* 6: outside a section (after a bad header) */
				     "[core]\n"          /* 7 */
				     "[core]\n",         /* 8: repeated */
				     "b.conf"),
		  0);
	dump_errors(&c);
	CHECK(has_error(&c, "b.conf:1: malformed section header"));
	CHECK(has_error(&c, "b.conf:2: malformed section header"));
	CHECK(has_error(&c, "b.conf:3: unknown section [other]"));
	CHECK(has_error(&c, "b.conf:4: unknown section"));
	CHECK(has_error(&c, "b.conf:5: unknown section"));
	CHECK(has_error(&c, "b.conf:6: key: key outside a section"));
	CHECK(has_error(&c, "b.conf:8: section [core] repeats the one at line 7"));
	CHECK_INT(c.n_errors, 7);
	config_free(&c);
}

static void test_quoting(void)
{
	struct config c = { 0 };
	const struct config_section *s;

	UNIT_CASE("quoting");
	CHECK_INT(config_load_string(&c,
				     "[plugin q]\n"
				     "a = \"  padded # not a comment  \"\n"
				     "b = \"\"\n"
				     "c =\n"
				     "d = \"unterminated\n"
				     "e = \"\n"
				     "f = say \"hi\" there\n"
				     "g = x = y\n"
				     "h = tab\tinside   \r\n",
				     "q.conf"),
		  0);
	s = config_find(&c, "q", true);
	CHECK(s != NULL);
	CHECK_STR(config_value(s, "a", NULL), "  padded # not a comment  ");
	CHECK_STR(config_value(s, "b", NULL), "");
	CHECK_STR(config_value(s, "c", NULL), "");
	CHECK(config_value(s, "d", NULL) == NULL);
	CHECK(config_value(s, "e", NULL) == NULL);
	CHECK_STR(config_value(s, "f", NULL), "say \"hi\" there");
	CHECK_STR(config_value(s, "g", NULL), "x = y");
	CHECK_STR(config_value(s, "h", NULL), "tab\tinside");
	CHECK(has_error(&c, "q.conf:5: d: unterminated quoted value"));
	CHECK(has_error(&c, "q.conf:6: e: unterminated quoted value"));
	CHECK_INT(c.n_errors, 2);
	dump_errors(&c);
	config_free(&c);
}

/* Core bug candidate: the parser's own comment says quotes are what keep a
 * '#' in a value, and --help-config says "'#' comments"; an unquoted
 * "value # comment" should therefore lose the comment. */
static void test_inline_comment(void)
{
	struct config c = { 0 };
	const struct config_section *s;

	UNIT_CASE("inline comment after an unquoted value");
	CHECK_INT(config_load_string(&c, "[core]\npage_size = 10 # ten per page\n", "i.conf"), 0);
	s = config_find(&c, "core", false);
	CHECK_STR(config_value(s, "page_size", NULL), "10");
	config_free(&c);
}

static void test_lines(void)
{
	struct config c = { 0 };

	UNIT_CASE("malformed lines");
	CHECK_INT(config_load_string(&c,
				     "[core]\n"
				     "just words\n"      /* 2 */
				     "Upper = 1\n"       /* 3 */
				     "bad-key = 1\n"     /* 4 */
				     "= 5\n",            /* 5 */
				     "l.conf"),
		  0);
	dump_errors(&c);
	CHECK(has_error(&c, "l.conf:2: expected 'key = value'"));
	CHECK(has_error(&c, "l.conf:3: bad key 'Upper'"));
	CHECK(has_error(&c, "l.conf:4: bad key 'bad-key'"));
	CHECK(has_error(&c, "l.conf:5: bad key ''"));
	CHECK_INT(c.n_errors, 4);
	config_free(&c);

	UNIT_CASE("CRLF and no final newline");
	c = (struct config){ 0 };
	CHECK_INT(config_load_string(&c, "[core]\r\nlog_level = debug\r\n\r\npage_size = 3", "crlf"),
		  0);
	CHECK_INT(c.n_errors, 0);
	CHECK_STR(config_value(config_find(&c, "core", false), "log_level", NULL), "debug");
	CHECK_STR(config_value(config_find(&c, "core", false), "page_size", NULL), "3");
	config_free(&c);

	UNIT_CASE("value length limit");
	c = (struct config){ 0 };
	{
		size_t n = CONFIG_MAX_VALUE + 1;
		char *text = malloc(n + 64);

		snprintf(text, 64, "[core]\nlabel = ");
		memset(text + strlen(text), 'v', n);
		text[strlen("[core]\nlabel = ") + n] = '\0';
		strcat(text, "\nok = 1\n");
		CHECK_INT(config_load_string(&c, text, "long"), 0);
		CHECK(has_error(&c, "long:2: label: value longer than 4095 bytes"));
		CHECK(config_value(config_find(&c, "core", false), "label", NULL) == NULL);
		CHECK_STR(config_value(config_find(&c, "core", false), "ok", NULL), "1");
		free(text);
	}
	config_free(&c);
}

static void test_duplicates(void)
{
	struct config c = { 0 };
	int line = 0;

	UNIT_CASE("duplicate keys");
	CHECK_INT(config_load_string(&c,
				     "[plugin d]\n"
				     "count = 1\n"
				     "\n"
				     "count = 2\n"
				     "[plugin e]\n"
				     "count = 3\n",
				     "d.conf"),
		  0);
	CHECK(has_error(&c, "d.conf:4: count: set twice (first at line 2)"));
	CHECK_INT(c.n_errors, 1);
	/* the first value stands */
	CHECK_STR(config_value(config_find(&c, "d", true), "count", &line), "1");
	CHECK_INT(line, 2);
	/* the same key in another section is not a duplicate */
	CHECK_STR(config_value(config_find(&c, "e", true), "count", NULL), "3");
	config_free(&c);

	UNIT_CASE("a repeated section still collects its keys");
	c = (struct config){ 0 };
	CHECK_INT(config_load_string(&c, "[plugin d]\na = 1\n[plugin d]\nb = 2\na = 3\n", "r.conf"),
		  0);
	CHECK(has_error(&c, "r.conf:3: section [plugin d] repeats the one at line 1"));
	CHECK(has_error(&c, "r.conf:5: a: set twice (first at line 2)"));
	CHECK_STR(config_value(config_find(&c, "d", true), "b", NULL), "2");
	config_free(&c);
}

static void test_validate(void)
{
	struct config c = { 0 };
	const struct config_section *s;
	int added;

	UNIT_CASE("validate: unknown keys and bad values, all collected");
	CHECK_INT(config_load_string(&c,
				     "[plugin v]\n"
				     "enabled = maybe\n"    /* 2: bad bool */
				     "interval_ms = 5\n"    /* 3: below min */
				     "count = many\n"       /* 4: not an int */
				     "verbose = 2\n"        /* 5: bad bool */
				     "root = relative/x\n"  /* 6: not absolute */
				     "colour = red\n"       /* 7: unknown */
				     "label = anything\n"   /* 8: fine */
				     "interval_ms2 = 1\n",  /* 9: unknown */
				     "v.conf"),
		  0);
	CHECK_INT(c.n_errors, 0);
	s = config_find(&c, "v", true);
	added = config_validate(&c, s, keys);
	dump_errors(&c);
	CHECK_INT(added, 7);
	CHECK_INT(c.n_errors, 7);
	CHECK(has_error(&c, "v.conf:2: enabled: expected true or false, got 'maybe'"));
	CHECK(has_error(&c, "v.conf:3: interval_ms: integer out of range, got '5' (allowed 10..60000)"));
	CHECK(has_error(&c, "v.conf:4: count: expected an integer, got 'many'"));
	CHECK(has_error(&c, "v.conf:5: verbose: expected true or false, got '2'"));
	CHECK(has_error(&c, "v.conf:6: root: expected an absolute path"));
	CHECK(has_error(&c, "v.conf:7: colour: unknown key in [plugin v]"));
	CHECK(has_error(&c, "v.conf:9: interval_ms2: unknown key in [plugin v]"));
	config_free(&c);

	UNIT_CASE("validate: 'enabled' is only special in plugin sections");
	c = (struct config){ 0 };
	CHECK_INT(config_load_string(&c, "[core]\nenabled = true\n", "core.conf"), 0);
	CHECK_INT(config_validate(&c, config_find(&c, "core", false), keys), 1);
	CHECK(has_error(&c, "core.conf:2: enabled: unknown key in [core]"));
	config_free(&c);

	UNIT_CASE("validate: NULL section and empty key table");
	c = (struct config){ 0 };
	CHECK_INT(config_load_string(&c, "[plugin n]\nenabled = on\nx = 1\n", "n.conf"), 0);
	CHECK_INT(config_validate(&c, NULL, keys), 0);
	CHECK_INT(config_validate(&c, config_find(&c, "n", true), NULL), 1);
	CHECK(has_error(&c, "n.conf:3: x: unknown key"));
	config_free(&c);
}

static void test_ints(void)
{
	int64_t v = 77;

	UNIT_CASE("integers and ranges");
	CHECK_INT(config_parse_int("5", 1, 10, &v), 0);
	CHECK_INT(v, 5);
	CHECK_INT(config_parse_int("1", 1, 10, &v), 0);
	CHECK_INT(config_parse_int("10", 1, 10, &v), 0);
	CHECK_INT(v, 10);
	v = 77;
	CHECK_INT(config_parse_int("0", 1, 10, &v), -ERANGE);
	CHECK_INT(config_parse_int("11", 1, 10, &v), -ERANGE);
	CHECK_INT(config_parse_int("-1", 1, 10, &v), -ERANGE);
	CHECK_INT(v, 77); /* ret untouched on failure */
	CHECK_INT(config_parse_int("abc", 1, 10, &v), -EINVAL);
	CHECK_INT(config_parse_int("", 0, 0, &v), -EINVAL);
	CHECK_INT(config_parse_int(" 5", 0, 0, &v), -EINVAL);
	CHECK_INT(config_parse_int("5 ", 0, 0, &v), -EINVAL);
	CHECK_INT(config_parse_int("5x", 0, 0, &v), -EINVAL);
	CHECK_INT(config_parse_int("0x10", 0, 0, &v), -EINVAL);
	CHECK_INT(config_parse_int("1.5", 0, 0, &v), -EINVAL);
	CHECK_INT(v, 77);
	CHECK_INT(config_parse_int("99999999999999999999", 0, 0, &v), -ERANGE);
	CHECK_INT(config_parse_int("-99999999999999999999", 0, 0, &v), -ERANGE);
	CHECK_INT(v, 77);
	/* min == max == 0: unbounded */
	CHECK_INT(config_parse_int("-42", 0, 0, &v), 0);
	CHECK_INT(v, -42);
	CHECK_INT(config_parse_int("9223372036854775807", 0, 0, &v), 0);
	CHECK(v == INT64_MAX);
	CHECK_INT(config_parse_int("-9223372036854775808", 0, 0, &v), 0);
	CHECK(v == INT64_MIN);
	/* a range that includes zero as a bound is still a range */
	CHECK_INT(config_parse_int("-1", 0, 5, &v), -ERANGE);
	CHECK_INT(config_parse_int("6", 0, 5, &v), -ERANGE);
	CHECK_INT(config_parse_int("0", 0, 5, &v), 0);
	CHECK_INT(config_parse_int("1", -5, 0, &v), -ERANGE);
}

static void test_bools(void)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes", "oN" };
	static const char *const no[] = { "false", "no", "off", "0", "FALSE", "No", "OFF" };
	static const char *const bad[] = { "", "2", "tru", "yess", "enabled", " true", "-1" };
	bool b;

	UNIT_CASE("bools");
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		CHECK_MSG(config_parse_bool(yes[i], &b) == 0 && b, "'%s'", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		CHECK_MSG(config_parse_bool(no[i], &b) == 0 && !b, "'%s'", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = true;
		CHECK_MSG(config_parse_bool(bad[i], &b) == -EINVAL && b, "'%s'", bad[i]);
	}
}

static void test_check_value(void)
{
	const struct smcp_config_key *k;

	UNIT_CASE("config_check_value / config_key_find");
	k = config_key_find(keys, "interval_ms");
	CHECK(k && k->type == SMCP_CONFIG_INT);
	CHECK(config_check_value(k, "100") == NULL);
	CHECK_STR(config_check_value(k, "9"), "integer out of range");
	CHECK_STR(config_check_value(k, "ten"), "expected an integer");
	k = config_key_find(keys, "root");
	CHECK(config_check_value(k, "/abs") == NULL);
	CHECK(config_check_value(k, "rel") != NULL);
	CHECK(config_check_value(k, "") != NULL);
	k = config_key_find(keys, "label");
	CHECK(config_check_value(k, "") == NULL);
	CHECK(config_key_find(keys, "nope") == NULL);
	CHECK(config_key_find(NULL, "label") == NULL);
	CHECK(config_key_find(&keys[5], "label") == NULL); /* empty table */
}

/* A plugin built against a newer header whose smcp_config_key grew: the
 * host must step by keys[0].sz, not by its own sizeof. */
struct bigger_key {
	struct smcp_config_key k;
	uint64_t added_in_a_later_minor[3];
};

static void test_key_stride(void)
{
	static const struct bigger_key big[] = {
		{ { sizeof(struct bigger_key), "first", SMCP_CONFIG_INT, "1", "a", 0, 9 }, { 1, 2, 3 } },
		{ { sizeof(struct bigger_key), "second", SMCP_CONFIG_BOOL, "on", "b", 0, 0 }, { 0 } },
		{ { sizeof(struct bigger_key), "third", SMCP_CONFIG_PATH, NULL, "c", 0, 0 }, { 0 } },
		{ { 0 }, { 0 } },
	};
	const struct smcp_config_key *tbl = &big[0].k;
	struct config c = { 0 };
	const struct smcp_config_key *k;

	UNIT_CASE("config keys stepped by their sz");
	k = config_key_find(tbl, "second");
	CHECK(k == &big[1].k);
	k = config_key_find(tbl, "third");
	CHECK(k == &big[2].k);
	CHECK(config_key_find(tbl, "fourth") == NULL);
	CHECK_INT(config_load_string(&c, "[plugin s]\nfirst = 10\nsecond = off\nthird = /x\nz = 1\n",
				     "s.conf"),
		  0);
	CHECK_INT(config_validate(&c, config_find(&c, "s", true), tbl), 2);
	CHECK(has_error(&c, "s.conf:2: first: integer out of range"));
	CHECK(has_error(&c, "s.conf:5: z: unknown key"));
	config_free(&c);
}

static void test_file(void)
{
	char path[] = "/tmp/smcp-unit-config-XXXXXX";
	struct config c = { 0 };
	int fd = mkstemp(path);
	static const char body[] = "[core]\npage_size = 7\n";
	static const char nul[] = "[core]\npage_size = 7\0junk\n";

	UNIT_CASE("config_load_file");
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, body, sizeof(body) - 1) == (ssize_t)(sizeof(body) - 1));
	CHECK_INT(config_load_file(&c, path), 0);
	CHECK_INT(c.n_errors, 0);
	CHECK_STR(c.path, path);
	CHECK_STR(config_value(config_find(&c, "core", false), "page_size", NULL), "7");
	config_free(&c);

	/* a NUL byte: an error naming the file, not a silent truncation */
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, nul, sizeof(nul) - 1, 0) == (ssize_t)(sizeof(nul) - 1));
	c = (struct config){ 0 };
	CHECK_INT(config_load_file(&c, path), 0);
	CHECK_INT(c.n_errors, 1);
	CHECK(c.n_errors && strstr(c.errors[0], path) && strstr(c.errors[0], "NUL"));
	config_free(&c);
	close(fd);
	unlink(path);

	c = (struct config){ 0 };
	CHECK_INT(config_load_file(&c, "/nonexistent/schedmcp.conf"), -ENOENT);
	config_free(&c);
}

static double now_s(void)
{
	struct timespec ts;

	/* CPU time: what the parser costs, whatever else the machine runs */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Issue 20: 66k sections took 5.5 s and 116k keys 21.5 s (quadratic). */
static void test_counts_bounded(void)
{
	size_t cap = 1 << 20, at = 0;
	char *text = malloc(cap + 64);
	struct config c = { 0 };
	/* a linear parse takes milliseconds; ASan+UBSan (SMCP_SANITIZED) a few
	 * times that, on a machine others share */
	const double limit = getenv("SMCP_SANITIZED") ? 0.4 : 0.1;
	double t0, dt;

	UNIT_CASE("66k sections: capped, fast");
	if (!text)
		return;
	for (int i = 0; at < cap - 64 && i < 66000; i++)
		at += (size_t)sprintf(text + at, "[plugin p%d]\n", i);
	t0 = now_s();
	CHECK_INT(config_load_string(&c, text, "many.conf"), 0);
	dt = now_s() - t0;
	CHECK_MSG(dt < limit, "took %.3f s of CPU", dt);
	CHECK_INT(c.n_sections, 1025);
	CHECK(has_error(&c, "more than 1025 sections; the rest of the file is ignored"));
	config_free(&c);

	UNIT_CASE("116k keys: capped, fast");
	at = (size_t)sprintf(text, "[core]\n");
	for (int i = 0; at < cap - 64 && i < 116000; i++)
		at += (size_t)sprintf(text + at, "k%d = %d\n", i, i);
	c = (struct config){ 0 };
	t0 = now_s();
	CHECK_INT(config_load_string(&c, text, "keys.conf"), 0);
	dt = now_s() - t0;
	CHECK_MSG(dt < limit, "took %.3f s of CPU", dt);
	CHECK_INT(c.sections[0].n_entries, 256);
	CHECK(has_error(&c, "[core] has more than 256 keys"));
	config_free(&c);

	UNIT_CASE("errors are capped, and the cap says so");
	at = 0;
	for (int i = 0; i < 5000; i++)
		at += (size_t)sprintf(text + at, "no equals sign %d\n", i);
	c = (struct config){ 0 };
	CHECK_INT(config_load_string(&c, text, "errs.conf"), 0);
	CHECK_INT(c.n_errors, 101);
	CHECK(has_error(&c, "too many errors; the rest are not shown"));
	config_free(&c);
	free(text);
}

/* Issue 20: a config that others could write was taken without a word. */
static void test_file_trust(void)
{
	char dir[] = "/tmp/smcp-unit-trust-XXXXXX", path[64], sub[64];
	struct config c = { 0 };
	int fd;

	UNIT_CASE("config trust: file and directory modes and owners");
	if (!mkdtemp(dir))
		return;
	CHECK(chmod(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "[core]\n", 7) == 7);
	if (fd >= 0)
		close(fd);
	CHECK_INT(config_load_file(&c, path), 0);
	CHECK_INT(c.n_errors, 0);
	config_free(&c);

	CHECK(chmod(path, 0666) == 0);
	c = (struct config){ 0 };
	CHECK_INT(config_load_file(&c, path), 0);
	CHECK(has_error(&c, "refused") && has_error(&c, "a.conf is writable by others"));
	CHECK_INT(c.n_sections, 0);
	config_free(&c);

	CHECK(chmod(path, 0620) == 0);
	c = (struct config){ 0 };
	CHECK_INT(config_load_file(&c, path), 0);
	CHECK(has_error(&c, "writable by its group"));
	config_free(&c);

	CHECK(chmod(path, 0644) == 0 && chmod(dir, 0777) == 0);
	c = (struct config){ 0 };
	CHECK_INT(config_load_file(&c, path), 0);
	CHECK(has_error(&c, "is writable by others") && has_error(&c, dir));
	config_free(&c);
	CHECK(chmod(dir, 0755) == 0);

	/* a symlink owned by someone else, in a trusted directory, is followed
	 * only if root owns it; and a file another user owns is refused */
	if (geteuid() == 0) {
		CHECK(chown(path, 65534, 65534) == 0);
		c = (struct config){ 0 };
		CHECK_INT(config_load_file(&c, path), 0);
		CHECK(has_error(&c, "owned by uid 65534"));
		config_free(&c);
		CHECK(chown(path, 0, 0) == 0);
		snprintf(sub, sizeof(sub), "%s/link.conf", dir);
		CHECK(symlink(path, sub) == 0 && lchown(sub, 65534, 65534) == 0);
		c = (struct config){ 0 };
		CHECK_INT(config_load_file(&c, sub), 0);
		CHECK(has_error(&c, "symlink") && has_error(&c, "owned by uid 65534"));
		config_free(&c);
		unlink(sub);
	}
	c = (struct config){ 0 };
	CHECK_INT(config_load_file(&c, dir), -EISDIR);
	config_free(&c);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_sections();
	test_bad_sections();
	test_quoting();
	test_inline_comment();
	test_lines();
	test_duplicates();
	test_validate();
	test_ints();
	test_bools();
	test_check_value();
	test_key_stride();
	test_file();
	test_file_trust();
	test_counts_bounded();
	return unit_done("test-config");
}
