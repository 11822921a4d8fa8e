/* SPDX-License-Identifier: MIT */
/*
 * A workflow table (prompts_flows.c) into the text a client gets, in two
 * passes: first every topic row whose conditions hold gathers its steps
 * (registered needs, render called, placeholders filled), then the rows are
 * written in order, steps numbered as they come, text rows kept or left out
 * by what the first pass found. Then what is not available: the steps that
 * could not be shown, in their plugins' words, and the plugins that are not
 * loaded, with the loader's reason.
 */
#include "prompts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "jbuf.h"
#include "loader.h"
#include "log.h"
#include "privs.h"
#include "result.h"
#include "steps.h"

#define TOPIC_MAX_STEPS 16 /* shown of one topic; registrations are bounded per plugin */
#define MAX_MISSING 16
#define MAX_PLUGIN_LINES 16
/* Steps of one prompt: the built-in workflows use under 4 KiB; whatever
 * plugins add, a prompt stays well within what a client takes in. */
#define PROMPT_STEPS_MAX_BYTES 24576

/* ---------------------------------------------------------- arguments */

/*
 * text with every ${name} replaced by args' name into out. Returns 0, or
 * -ENOENT when a placeholder's argument is not set (out is then partial:
 * the caller drops it).
 */
static int expand(const char *text, const cJSON *args, struct jbuf *out)
{
	const char *p = text;

	while (*p) {
		const char *d = strstr(p, "${"), *end;
		char name[64];
		const cJSON *v;
		size_t n;

		if (!d) {
			jbuf_put(out, p, strlen(p));
			break;
		}
		for (end = d + 2; (*end >= 'a' && *end <= 'z') || *end == '_'; end++)
			;
		n = (size_t)(end - d - 2);
		if (*end != '}' || n == 0 || n >= sizeof(name)) {
			/* not a placeholder: keep "${" and go on after it */
			jbuf_put(out, p, (size_t)(d - p) + 2);
			p = d + 2;
			continue;
		}
		jbuf_put(out, p, (size_t)(d - p));
		memcpy(name, d + 2, n);
		name[n] = '\0';
		v = cJSON_GetObjectItemCaseSensitive(args, name);
		if (cJSON_IsString(v))
			jbuf_put(out, v->valuestring, strlen(v->valuestring));
		else if (cJSON_IsNumber(v))
			jbuf_printf(out, "%.15g", v->valuedouble);
		else
			return -ENOENT;
		p = end + 1;
	}
	return out->err;
}

/* One condition of a row's when: "pid", "!pid", "focus_area=a|b". */
static bool term_holds(const char *t, size_t len, const cJSON *args)
{
	const char *eq = memchr(t, '=', len);
	char name[64];
	const cJSON *v;
	size_t n;

	if (*t == '!')
		return !term_holds(t + 1, len - 1, args);
	n = eq ? (size_t)(eq - t) : len;
	if (n >= sizeof(name))
		return false;
	memcpy(name, t, n);
	name[n] = '\0';
	v = cJSON_GetObjectItemCaseSensitive(args, name);
	if (!eq)
		return v != NULL;
	if (!cJSON_IsString(v))
		return false;
	for (const char *o = eq + 1; o < t + len;) {
		size_t ol = strcspn(o, "| ");

		if (o + ol > t + len)
			ol = (size_t)(t + len - o);
		if (strlen(v->valuestring) == ol && strncmp(v->valuestring, o, ol) == 0)
			return true;
		o += ol + 1;
	}
	return false;
}

static bool when_holds(const char *when, const cJSON *args)
{
	for (const char *p = when; p && *p;) {
		size_t len = strcspn(p, " ");

		if (len && !term_holds(p, len, args))
			return false;
		p += len;
		p += strspn(p, " ");
	}
	return true;
}

/* Every space-separated name of needs is registered now. */
static bool needs_met(const char *needs)
{
	char name[STEP_NEED_MAX + 1];

	for (const char *p = needs; p && *p;) {
		size_t len = strcspn(p, " ");

		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			if (!steps_name_registered(name))
				return false;
		}
		p += len;
		p += strspn(p, " ");
	}
	return true;
}

/* The prompt's arguments, and the row's parameters for those it lacks. */
static cJSON *row_args(const cJSON *args, const char *params)
{
	cJSON *a = cJSON_Duplicate(args, true);

	for (const char *p = params; a && p && *p;) {
		size_t len = strcspn(p, " ");
		const char *eq = memchr(p, '=', len);
		char key[64], val[64];

		if (eq && (size_t)(eq - p) < sizeof(key) && len - (size_t)(eq - p) - 1 < sizeof(val)) {
			memcpy(key, p, (size_t)(eq - p));
			key[eq - p] = '\0';
			memcpy(val, eq + 1, len - (size_t)(eq - p) - 1);
			val[len - (size_t)(eq - p) - 1] = '\0';
			if (!cJSON_GetObjectItemCaseSensitive(a, key) &&
			    !(strspn(val, "0123456789") == strlen(val)
				      ? cJSON_AddNumberToObject(a, key, atof(val))
				      : cJSON_AddStringToObject(a, key, val))) {
				cJSON_Delete(a);
				return NULL;
			}
		}
		p += len;
		p += strspn(p, " ");
	}
	return a;
}

/* ------------------------------------------------------------- missing */

struct missing {
	const char *what; /* the step's words, borrowed from the registry */
	const struct smcp_host *owner;
};

struct render {
	const cJSON *args;
	struct missing missing[MAX_MISSING];
	size_t n_missing;
	/* first pass: the steps of each topic row (NULL: the row is off) */
	struct jbuf *rows;
	size_t *n_steps;
	size_t bytes, cut; /* of the steps gathered; steps left out past the limit */
	unsigned step;     /* number of the last step written */
};

static void add_missing(struct missing *list, size_t *n, const char *what,
			const struct smcp_host *owner)
{
	if (!what)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i].what, what) == 0)
			return;
	if (*n < MAX_MISSING)
		list[(*n)++] = (struct missing){ what, owner };
}

/* A plugin's words with every URI-looking word blanked: the text must not
 * name a resource the model cannot read. */
static void scrub(char *s)
{
	char *p;

	while ((p = strstr(s, "://"))) {
		char *start = p, *end = p + 3;

		while (start > s && !isspace((unsigned char)start[-1]))
			start--;
		while (*end && !isspace((unsigned char)*end) && *end != ',' && *end != ';' &&
		       *end != ')')
			end++;
		memmove(start + 3, end, strlen(end) + 1);
		memcpy(start, "...", 3);
	}
}

static bool loaded(const struct smcp_host *h)
{
	return h->state == PLUGIN_LOADED || h->state == PLUGIN_DEGRADED;
}

/*
 * What this prompt would use but cannot: each step left out for want of
 * what it needs (with its plugin's state when degraded), then every plugin
 * found but not loaded, with the loader's reason. The names are the
 * loader's, never written here.
 */
static void write_missing(struct jbuf *b, const struct render *r)
{
	struct smcp_host *const *all;
	size_t n, lines = 0, more = 0;
	char line[800];

	all = loader_plugins(&n);
	for (size_t i = 0; i < n; i++)
		more += !loaded(all[i]);
	if (r->cut)
		jbuf_printf(b, "\n\n(%zu more steps that plugins offer were left out to keep "
			    "this prompt short.)", r->cut);
	if (!r->n_missing && !more)
		return;
	jbuf_puts(b, "\n\nNot available in this schedmcp right now (leave it out and say so in "
		     "your answer; schedmcp://plugins has the details):");
	for (size_t i = 0; i < r->n_missing; i++) {
		const struct smcp_host *o = r->missing[i].owner;

		if (o->state == PLUGIN_DEGRADED)
			snprintf(line, sizeof(line), "%s: not offered here (the %s plugin is "
				 "degraded: %.300s)", r->missing[i].what, o->name,
				 o->reason ? o->reason : "no reason given");
		else
			snprintf(line, sizeof(line), "%s: not offered by this schedmcp right now",
				 r->missing[i].what);
		scrub(line);
		jbuf_printf(b, "\n- %s", line);
	}
	for (size_t i = 0; i < n; i++) {
		const struct smcp_host *h = all[i];

		if (loaded(h))
			continue;
		if (lines++ == MAX_PLUGIN_LINES)
			break;
		more--;
		/* not its description: that may name tools this daemon lacks */
		snprintf(line, sizeof(line), "the %s plugin is %s%s%.300s%s",
			 h->name ? h->name : "?", host_plugin_state_name(h->state),
			 h->reason ? " (" : "", h->reason ? h->reason : "", h->reason ? ")" : "");
		scrub(line);
		jbuf_printf(b, "\n- %s", line);
	}
	if (more)
		jbuf_printf(b, "\n- and %zu more plugins that are not loaded", more);
}

/* -------------------------------------------------------------- pass 1 */

/*
 * The text of step s for args into out: > 0 to show it, 0 to leave it out,
 * -errno when it cannot be written (its missing is listed). A render's text
 * is used as it wrote it, with this plugin's capabilities while it runs; a
 * static text gets its placeholders filled.
 */
static int step_text(const struct reg_step *s, const cJSON *args, struct jbuf *out)
{
	struct smcp_args a = { .obj = (cJSON *)args };
	char buf[SMCP_STEP_TEXT_MAX];
	size_t before = out->len;
	uint64_t caps;
	int n, err;

	if (!s->render) {
		err = expand(s->text, args, out);
		if (!err)
			return out->len > before;
		/* a placeholder without its argument: not for this prompt */
		jbuf_truncate(out, before);
		return err == -ENOENT ? 0 : err;
	}
	buf[0] = '\0';
	caps = privs_enter(s->owner);
	n = s->render(s->data, &a, buf, sizeof(buf));
	privs_leave(caps);
	if (n <= 0)
		return n;
	if ((size_t)n >= sizeof(buf)) {
		log_msg(SMCP_LOG_WARNING, s->owner->name,
			"prompt step (%s) of %d bytes is longer than %d: left out", s->topic, n,
			SMCP_STEP_TEXT_MAX - 1);
		return -ENOSPC;
	}
	buf[sizeof(buf) - 1] = '\0';
	jbuf_put(out, buf, strlen(buf));
	return out->err ? out->err : out->len > before;
}

/* The steps of one topic row, each NUL-separated in out; how many. */
static size_t gather(struct render *r, const struct row *row, struct jbuf *out)
{
	const struct reg_step *s[TOPIC_MAX_STEPS];
	struct missing miss[MAX_MISSING];
	size_t n = steps_of_topic(row->s, s, TOPIC_MAX_STEPS), shown = 0, n_miss = 0;
	/* a copy only where the row adds parameters; most rows borrow */
	cJSON *own = n && row->params && *row->params ? row_args(r->args, row->params) : NULL;
	const cJSON *args = own ? own : r->args;

	if (n && row->params && *row->params && !own) {
		out->err = -ENOMEM;
		return 0;
	}
	if (n > TOPIC_MAX_STEPS)
		n = TOPIC_MAX_STEPS;
	for (size_t i = 0; i < n && !(row->one && shown); i++) {
		size_t before;
		int ret;

		if (!needs_met(s[i]->needs)) {
			add_missing(miss, &n_miss, s[i]->missing, s[i]->owner);
			continue;
		}
		if (r->bytes > PROMPT_STEPS_MAX_BYTES) {
			r->cut++;
			continue;
		}
		before = out->len;
		ret = step_text(s[i], args, out);
		r->bytes += out->len - before;
		if (ret < 0) {
			if (ret == -ENOMEM)
				out->err = ret;
			add_missing(miss, &n_miss, s[i]->missing, s[i]->owner);
		} else if (ret > 0) {
			jbuf_put(out, "", 1); /* the NUL between steps */
			shown++;
		}
	}
	/* alternatives: one shown, the others are not missed */
	for (size_t i = 0; i < n_miss && !(row->one && shown); i++)
		add_missing(r->missing, &r->n_missing, miss[i].what, miss[i].owner);
	cJSON_Delete(own);
	return shown;
}

/* Some (with) / none (without) of the topics has a step shown. */
static bool topics_shown(const struct render *r, const struct flow *f, const char *topics)
{
	for (size_t i = 0; i < f->n_rows; i++) {
		const struct row *row = &f->rows[i];
		size_t tl = strlen(row->s);

		if ((row->kind != ROW_TOPIC && row->kind != ROW_NOTE) || !r->n_steps[i])
			continue;
		for (const char *p = topics; *p;) {
			size_t len = strcspn(p, " ");

			if (len == tl && strncmp(p, row->s, len) == 0)
				return true;
			p += len;
			p += strspn(p, " ");
		}
	}
	return false;
}

/* -------------------------------------------------------------- pass 2 */

static void write_row(struct jbuf *b, struct render *r, const struct flow *f, size_t i)
{
	const struct row *row = &f->rows[i];
	const char *p;

	switch (row->kind) {
	case ROW_TEXT:
	case ROW_STEP:
		if ((row->with && !topics_shown(r, f, row->with)) ||
		    (row->without && topics_shown(r, f, row->without)) || !needs_met(row->needs)) {
			return;
		} else {
			struct jbuf t;

			jbuf_init(&t, JBUF_NO_LIMIT);
			if (expand(row->s, r->args, &t) == 0) {
				if (row->kind == ROW_STEP)
					jbuf_printf(b, "\n%u. ", ++r->step);
				if (t.len)
					jbuf_put(b, t.p, t.len);
			} else if (t.err) {
				b->err = t.err;
			}
			jbuf_free(&t);
		}
		return;
	case ROW_TOPIC:
	case ROW_NOTE:
		p = r->rows[i].p;
		for (size_t k = 0; k < r->n_steps[i]; k++) {
			size_t len = strlen(p);

			if (row->kind == ROW_TOPIC)
				jbuf_printf(b, "\n%u. ", ++r->step);
			jbuf_put(b, p, len);
			if (row->kind == ROW_NOTE)
				jbuf_put(b, "\n\n", 2);
			p += len + 1;
		}
		return;
	}
}

int prompts_render(enum prompt_id id, const cJSON *args, char **ret_text)
{
	const struct flow *f = prompts_flows_get(id);
	struct render r = { .args = args };
	struct jbuf b;
	int err = 0;

	if (!f)
		return -EINVAL;
	jbuf_init(&b, JBUF_NO_LIMIT);
	r.rows = calloc(f->n_rows, sizeof(*r.rows));
	r.n_steps = calloc(f->n_rows, sizeof(*r.n_steps));
	if (!r.rows || !r.n_steps) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f->n_rows; i++)
		jbuf_init(&r.rows[i], JBUF_NO_LIMIT);
	for (size_t i = 0; i < f->n_rows; i++) {
		const struct row *row = &f->rows[i];

		if ((row->kind == ROW_TOPIC || row->kind == ROW_NOTE) && when_holds(row->when, args))
			r.n_steps[i] = gather(&r, row, &r.rows[i]);
		if (r.rows[i].err) {
			err = r.rows[i].err;
			goto out;
		}
	}
	for (size_t i = 0; i < f->n_rows; i++)
		if (when_holds(f->rows[i].when, args))
			write_row(&b, &r, f, i);
	write_missing(&b, &r);
	err = b.err;
	if (!err) {
		*ret_text = b.len ? jbuf_take(&b, NULL) : strdup("");
		err = *ret_text ? 0 : -ENOMEM;
	}
out:
	for (size_t i = 0; r.rows && i < f->n_rows; i++)
		jbuf_free(&r.rows[i]);
	free(r.rows);
	free(r.n_steps);
	jbuf_free(&b);
	return err;
}
