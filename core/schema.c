/* SPDX-License-Identifier: MIT */
#include "schema.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

static const char *const type_names[] = { "object", "array",   "string", "integer",
					  "number", "boolean", "null" };

static bool known_type(const char *t)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(t, type_names[i]) == 0)
			return true;
	return false;
}

static int check(const cJSON *s, int depth)
{
	const cJSON *type, *props, *items, *req;

	if (depth > MAX_DEPTH || !cJSON_IsObject(s))
		return -EINVAL;
	type = cJSON_GetObjectItemCaseSensitive(s, "type");
	if (type) {
		if (cJSON_IsString(type)) {
			if (!known_type(type->valuestring))
				return -EINVAL;
		} else if (cJSON_IsArray(type)) {
			const cJSON *t;

			cJSON_ArrayForEach(t, type)
				if (!cJSON_IsString(t) || !known_type(t->valuestring))
					return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	if (props) {
		const cJSON *p;

		if (!cJSON_IsObject(props))
			return -EINVAL;
		cJSON_ArrayForEach(p, props)
			if (check(p, depth + 1))
				return -EINVAL;
	}
	items = cJSON_GetObjectItemCaseSensitive(s, "items");
	if (items && check(items, depth + 1))
		return -EINVAL;
	req = cJSON_GetObjectItemCaseSensitive(s, "required");
	if (req) {
		const cJSON *r;

		if (!cJSON_IsArray(req))
			return -EINVAL;
		cJSON_ArrayForEach(r, req)
			if (!cJSON_IsString(r))
				return -EINVAL;
	}
	return 0;
}

int schema_check(const cJSON *schema, bool top)
{
	const cJSON *type;

	if (check(schema, 0))
		return -EINVAL;
	if (!top)
		return 0;
	type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	return cJSON_IsString(type) && strcmp(type->valuestring, "object") == 0 ? 0 : -EINVAL;
}

static const char *kind(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "boolean";
	return "null";
}

static bool is_integer(double d)
{
	return isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740991.0;
}

/* Parse a whole string as a number; false if anything else is in it. */
static bool numeric_string(const char *s, double *ret)
{
	char *end;
	double d;

	if (!*s || strlen(s) > 64)
		return false;
	while (*s == ' ')
		s++;
	/* strtod also accepts hex, inf and nan: a model never means those */
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789+-.eE ", *p))
			return false;
	d = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (end == s || *end || !isfinite(d))
		return false;
	*ret = d;
	return true;
}

/* Whether v matches one type name, converting a string where that helps. */
static bool matches_type(cJSON *v, const char *t)
{
	double d;

	if (strcmp(t, "object") == 0)
		return cJSON_IsObject(v);
	if (strcmp(t, "array") == 0)
		return cJSON_IsArray(v);
	if (strcmp(t, "string") == 0)
		return cJSON_IsString(v);
	if (strcmp(t, "null") == 0)
		return cJSON_IsNull(v);
	if (strcmp(t, "boolean") == 0) {
		if (cJSON_IsBool(v))
			return true;
		if (cJSON_IsString(v) && (strcmp(v->valuestring, "true") == 0 ||
					  strcmp(v->valuestring, "false") == 0)) {
			bool b = strcmp(v->valuestring, "true") == 0;

			free(v->valuestring);
			v->valuestring = NULL;
			v->type = b ? cJSON_True : cJSON_False;
			return true;
		}
		return false;
	}
	/* integer or number */
	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v) && numeric_string(v->valuestring, &d))
		;
	else
		return false;
	if (strcmp(t, "integer") == 0 && !is_integer(d))
		return false;
	if (cJSON_IsString(v)) {
		free(v->valuestring);
		v->valuestring = NULL;
		v->type = cJSON_Number;
		cJSON_SetNumberValue(v, d);
	}
	return true;
}

static void describe(const cJSON *v, char *buf, size_t len)
{
	char *txt = cJSON_PrintUnformatted(v);

	if (!txt) {
		snprintf(buf, len, "%s", kind(v));
		return;
	}
	if (strlen(txt) > 40)
		snprintf(buf, len, "%s %.37s...", kind(v), txt);
	else
		snprintf(buf, len, "%s %s", kind(v), txt);
	free(txt);
}

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t len, const char *path,
							const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (*path)
		snprintf(err, len, "argument '%s': %s", path, msg);
	else
		snprintf(err, len, "arguments: %s", msg);
	return -EINVAL;
}

static int validate(const cJSON *s, cJSON *v, const char *path, int depth, char *err, size_t len);

static int validate_object(const cJSON *s, cJSON *v, const char *path, int depth, char *err,
			   size_t len)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *addl = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
	const cJSON *r;
	cJSON *m;
	char sub[256];

	cJSON_ArrayForEach(r, req) {
		if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", r->valuestring);
			return fail(err, len, sub, "required%s%s", "", "");
		}
	}
	cJSON_ArrayForEach(m, v) {
		const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, m->string) : NULL;
		int e;

		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", m->string);
		if (!ps) {
			if (cJSON_IsFalse(addl)) {
				char known[160] = "";
				const cJSON *p;

				cJSON_ArrayForEach(p, props) {
					size_t k = strlen(known);

					if (k + strlen(p->string) + 3 >= sizeof(known))
						break;
					snprintf(known + k, sizeof(known) - k, "%s%s", k ? ", " : "",
						 p->string);
				}
				return fail(err, len, sub, "unknown argument (accepted: %s)%s",
					    *known ? known : "none", "");
			}
			if (cJSON_IsObject(addl)) {
				e = validate(addl, m, sub, depth + 1, err, len);
				if (e)
					return e;
			}
			continue;
		}
		e = validate(ps, m, sub, depth + 1, err, len);
		if (e)
			return e;
	}
	return 0;
}

static int validate(const cJSON *s, cJSON *v, const char *path, int depth, char *err, size_t len)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
	const cJSON *k;
	char got[96];

	if (depth > MAX_DEPTH)
		return fail(err, len, path, "nested too deeply%s%s", "", "");
	if (type) {
		bool ok = false;

		if (cJSON_IsString(type)) {
			ok = matches_type(v, type->valuestring);
		} else {
			const cJSON *t;

			cJSON_ArrayForEach(t, type)
				if ((ok = matches_type(v, t->valuestring)))
					break;
		}
		if (!ok) {
			char want[64] = "";

			if (cJSON_IsString(type))
				snprintf(want, sizeof(want), "%s", type->valuestring);
			else
				snprintf(want, sizeof(want), "one of the listed types");
			describe(v, got, sizeof(got));
			return fail(err, len, path, "expected %s, got %s", want, got);
		}
	}
	if (cJSON_IsArray(en)) {
		const cJSON *e;
		bool found = false;

		cJSON_ArrayForEach(e, en)
			if (cJSON_Compare(e, v, true))
				found = true;
		if (!found) {
			char *allowed = cJSON_PrintUnformatted(en);
			char a[160];

			snprintf(a, sizeof(a), "%s", allowed ? allowed : "?");
			free(allowed);
			describe(v, got, sizeof(got));
			return fail(err, len, path, "must be one of %s, got %s", a, got);
		}
	}
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		char b[64];

		if ((k = cJSON_GetObjectItemCaseSensitive(s, "minimum")) && cJSON_IsNumber(k) &&
		    d < k->valuedouble) {
			snprintf(b, sizeof(b), "%.17g", k->valuedouble);
			return fail(err, len, path, "must be >= %s%s", b, "");
		}
		if ((k = cJSON_GetObjectItemCaseSensitive(s, "maximum")) && cJSON_IsNumber(k) &&
		    d > k->valuedouble) {
			snprintf(b, sizeof(b), "%.17g", k->valuedouble);
			return fail(err, len, path, "must be <= %s%s", b, "");
		}
		if ((k = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum")) &&
		    cJSON_IsNumber(k) && d <= k->valuedouble) {
			snprintf(b, sizeof(b), "%.17g", k->valuedouble);
			return fail(err, len, path, "must be > %s%s", b, "");
		}
		if ((k = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum")) &&
		    cJSON_IsNumber(k) && d >= k->valuedouble) {
			snprintf(b, sizeof(b), "%.17g", k->valuedouble);
			return fail(err, len, path, "must be < %s%s", b, "");
		}
	}
	if (cJSON_IsString(v)) {
		size_t n = 0;
		char b[32];

		/* length in characters, as JSON Schema counts it */
		for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
			n += (*p & 0xC0) != 0x80;
		if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxLength")) && cJSON_IsNumber(k) &&
		    (double)n > k->valuedouble) {
			snprintf(b, sizeof(b), "%.0f", k->valuedouble);
			return fail(err, len, path, "longer than %s characters%s", b, "");
		}
		if ((k = cJSON_GetObjectItemCaseSensitive(s, "minLength")) && cJSON_IsNumber(k) &&
		    (double)n < k->valuedouble) {
			snprintf(b, sizeof(b), "%.0f", k->valuedouble);
			return fail(err, len, path, "shorter than %s characters%s", b, "");
		}
	}
	if (cJSON_IsArray(v)) {
		int n = cJSON_GetArraySize(v), i = 0;
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
		cJSON *e;
		char b[32];

		if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxItems")) && cJSON_IsNumber(k) &&
		    n > k->valuedouble) {
			snprintf(b, sizeof(b), "%.0f", k->valuedouble);
			return fail(err, len, path, "more than %s items%s", b, "");
		}
		if ((k = cJSON_GetObjectItemCaseSensitive(s, "minItems")) && cJSON_IsNumber(k) &&
		    n < k->valuedouble) {
			snprintf(b, sizeof(b), "%.0f", k->valuedouble);
			return fail(err, len, path, "fewer than %s items%s", b, "");
		}
		if (cJSON_IsObject(items)) {
			cJSON_ArrayForEach(e, v) {
				char sub[256];
				int r;

				snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
				r = validate(items, e, sub, depth + 1, err, len);
				if (r)
					return r;
			}
		}
	}
	if (cJSON_IsObject(v))
		return validate_object(s, v, path, depth, err, len);
	return 0;
}

int schema_validate(const cJSON *schema, cJSON *value, char *err, size_t err_len)
{
	return validate(schema, value, "", 0, err, err_len);
}
