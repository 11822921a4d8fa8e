/* SPDX-License-Identifier: MIT */
#include "metrics_text.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* --------------------------------------------------------------- time */

int metrics_text_parse_duration_ms(const char *s, int64_t *ret_ms)
{
	static const struct {
		const char *u;
		double ms;
	} units[] = {
		{ "ms", 1 },	    { "s", 1e3 },	 { "sec", 1e3 },      { "secs", 1e3 },
		{ "m", 60e3 },	    { "min", 60e3 },	 { "mins", 60e3 },    { "h", 3600e3 },
		{ "hr", 3600e3 },   { "hour", 3600e3 },	 { "hours", 3600e3 }, { "d", 86400e3 },
		{ "day", 86400e3 }, { "days", 86400e3 },
	};
	const char *p = skip_ws(s);
	double total = 0;
	bool any = false;

	while (*p) {
		char unit[8];
		size_t n = 0;
		char *end;
		double v = strtod(p, &end);
		bool found = false;

		if (end == p || v < 0 || !isfinite(v))
			return -EINVAL;
		p = skip_ws(end);
		while (isalpha((unsigned char)*p) && n < sizeof(unit) - 1)
			unit[n++] = (char)tolower((unsigned char)*p++);
		unit[n] = '\0';
		if (!n) {
			if (*skip_ws(p))
				return -EINVAL;
			total += v * 1e3;
			any = true;
			break;
		}
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(unit, units[i].u) == 0) {
				total += v * units[i].ms;
				found = true;
			}
		if (!found)
			return -EINVAL;
		any = true;
		p = skip_ws(p);
	}
	if (!any || total > 1e13)
		return -EINVAL;
	*ret_ms = (int64_t)llround(total);
	return 0;
}

static bool parse_hms(const char *p, int *h, int *mi, int *se, const char **end)
{
	int n = 0;

	*se = 0;
	if (sscanf(p, "%2d:%2d%n", h, mi, &n) != 2)
		return false;
	p += n;
	if (*p == ':') {
		int k = 0;

		if (sscanf(p + 1, "%2d%n", se, &k) != 1)
			return false;
		p += 1 + k;
		if (*p == '.') /* fractions of a second are dropped */
			for (p++; isdigit((unsigned char)*p); p++)
				;
	}
	*end = p;
	return *h >= 0 && *h < 24 && *mi >= 0 && *mi < 60 && *se >= 0 && *se < 61;
}

int metrics_text_parse_time(const char *s, int64_t now_ms, int64_t *ret_ms, char *err,
			    size_t errlen)
{
	const char *p = skip_ws(s);
	size_t n = strlen(p);
	int64_t d;
	char *end;
	double v;

	while (n && p[n - 1] == ' ')
		n--;
	if (n == 3 && strncasecmp(p, "now", 3) == 0) {
		*ret_ms = now_ms;
		return 0;
	}
	if (*p == '-' || (n > 4 && strncasecmp(p + n - 4, " ago", 4) == 0)) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%.*s", (int)(*p == '-' ? n - 1 : n - 4),
			 *p == '-' ? p + 1 : p);
		if (metrics_text_parse_duration_ms(buf, &d) == 0) {
			*ret_ms = now_ms - d;
			return 0;
		}
		goto bad;
	}
	v = strtod(p, &end);
	if (end != p && (size_t)(end - p) == n) {
		if (v >= 1e12) { /* unix milliseconds */
			*ret_ms = (int64_t)v;
			return 0;
		}
		if (v >= 1e9) {
			*ret_ms = (int64_t)(v * 1000);
			return 0;
		}
		goto bad;
	}
	/* "15m": a duration alone means that long ago */
	if (isalpha((unsigned char)p[n - 1]) && metrics_text_parse_duration_ms(p, &d) == 0) {
		*ret_ms = now_ms - d;
		return 0;
	}
	{
		struct tm tm = { 0 };
		int y, mo, da, h = 0, mi = 0, se = 0, k = 0;
		const char *q = p;
		time_t t;
		bool utc = false;
		long off_s = 0;

		if (sscanf(p, "%4d-%2d-%2d%n", &y, &mo, &da, &k) == 3) {
			q = p + k;
			if (*q == 'T' || *q == 't' || *q == ' ') {
				if (!parse_hms(q + 1, &h, &mi, &se, &q))
					goto bad;
			}
			if (*q == 'Z' || *q == 'z') {
				utc = true;
				q++;
			} else if (*q == '+' || *q == '-') {
				int sign = *q == '-' ? -1 : 1, oh = 0, om = 0, kk = 0;

				q++;
				if (!isdigit((unsigned char)*q) ||
				    sscanf(q, "%2d%n", &oh, &kk) != 1)
					goto bad;
				q += kk;
				if (*q == ':')
					q++;
				if (isdigit((unsigned char)*q)) {
					if (sscanf(q, "%2d%n", &om, &kk) != 1)
						goto bad;
					q += kk;
				}
				off_s = sign * (oh * 3600L + om * 60L);
				utc = true;
			}
			if ((size_t)(q - p) != n)
				goto bad;
			tm.tm_year = y - 1900;
			tm.tm_mon = mo - 1;
			tm.tm_mday = da;
			tm.tm_hour = h;
			tm.tm_min = mi;
			tm.tm_sec = se;
			tm.tm_isdst = -1;
			t = utc ? timegm(&tm) - off_s : mktime(&tm);
			if (t == (time_t)-1)
				goto bad;
			*ret_ms = (int64_t)t * 1000;
			return 0;
		}
		if (parse_hms(p, &h, &mi, &se, &q) && (size_t)(q - p) == n) {
			time_t now = (time_t)(now_ms / 1000);

			localtime_r(&now, &tm);
			tm.tm_hour = h;
			tm.tm_min = mi;
			tm.tm_sec = se;
			tm.tm_isdst = -1;
			t = mktime(&tm);
			if (t == (time_t)-1)
				goto bad;
			/* a time of day still to come means yesterday's */
			if ((int64_t)t * 1000 > now_ms + 60000)
				t -= 86400;
			*ret_ms = (int64_t)t * 1000;
			return 0;
		}
	}
bad:
	snprintf(err, errlen,
		 "cannot read time '%s': use \"now\", \"-15m\" (15 minutes ago), \"14:02\" (local "
		 "time today), \"2025-01-31T14:02:00Z\" or unix seconds",
		 s);
	return -EINVAL;
}

void metrics_text_format_time(int64_t unix_ms, char *buf, size_t len)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	char z[8];
	size_t n;

	localtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(z, sizeof(z), "%z", &tm);
	if (n && strlen(z) == 5)
		snprintf(buf + n, len - n, "%.3s:%s", z, z + 3);
}

/* ---------------------------------------------------------- quantities */

static double time_unit_ns(const char *u)
{
	if (strcmp(u, "ns") == 0)
		return 1;
	if (strcmp(u, "us") == 0 || strcmp(u, "\xc2\xb5s") == 0)
		return 1e3;
	if (strcmp(u, "ms") == 0)
		return 1e6;
	if (strcmp(u, "s") == 0 || strcmp(u, "sec") == 0)
		return 1e9;
	return 0;
}

int metrics_text_parse_quantity(const char *s, const char *unit, double *ret, char *err,
				size_t errlen)
{
	char base[16], suf[16];
	const char *p = skip_ws(s);
	size_t n = 0, bl;
	char *end;
	double v = strtod(p, &end), tu, mu;

	snprintf(base, sizeof(base), "%s", unit);
	bl = strlen(base);
	if (bl > 2 && strcmp(base + bl - 2, "/s") == 0)
		base[bl - 2] = '\0';
	if (end == p || !isfinite(v))
		goto bad;
	p = skip_ws(end);
	while (*p && *p != ' ' && n < sizeof(suf) - 1)
		suf[n++] = *p++;
	suf[n] = '\0';
	if (*skip_ws(p))
		goto bad;
	if (n > 2 && strcmp(suf + n - 2, "/s") == 0)
		suf[n -= 2] = '\0';
	if (!n) {
		*ret = v;
		return 0;
	}
	tu = time_unit_ns(suf);
	mu = time_unit_ns(base);
	if (tu) {
		if (!mu) {
			snprintf(err, errlen, "'%s': a time, but the metric's unit is %s", s, unit);
			return -EINVAL;
		}
		*ret = v * tu / mu;
		return 0;
	}
	if (strcmp(suf, "%") == 0 || strcmp(suf, "pct") == 0) {
		if (strcmp(base, "pct") != 0) {
			snprintf(err, errlen, "'%s': a percentage, but the metric's unit is %s", s,
				 unit);
			return -EINVAL;
		}
		*ret = v;
		return 0;
	}
	{
		static const struct {
			const char *s;
			double m;
		} mult[] = { { "k", 1e3 },	     { "K", 1e3 },
			     { "M", 1e6 },	     { "G", 1e9 },
			     { "Ki", 1024.0 },	     { "Mi", 1048576.0 },
			     { "Gi", 1073741824.0 }, { "KiB", 1024.0 },
			     { "MiB", 1048576.0 },   { "GiB", 1073741824.0 },
			     { "kB", 1e3 },	     { "MB", 1e6 },
			     { "GB", 1e9 },	     { "B", 1 } };

		for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++)
			if (strcmp(suf, mult[i].s) == 0) {
				*ret = v * mult[i].m;
				return 0;
			}
	}
bad:
	snprintf(err, errlen,
		 "cannot read '%s' as a number in %s (e.g. \"2ms\", \"80%%\", \"1.5k\", \"1000\")",
		 s, unit);
	return -EINVAL;
}

double metrics_text_round_sig(double v)
{
	char buf[32];

	if (!isfinite(v) || v == 0)
		return v;
	snprintf(buf, sizeof(buf), "%.4g", v);
	return strtod(buf, NULL);
}

/* The largest step a magnitude reaches names its unit; the last is the base. */
struct unit_step {
	double div;
	const char *unit;
	int digits;
};

static const struct unit_step time_steps[] = {
	{ 1e9, " s", 3 }, { 1e6, " ms", 3 }, { 1e3, " us", 3 }, { 1, " ns", 3 },
};
static const struct unit_step byte_steps[] = {
	{ 1073741824.0, " GiB", 3 }, { 1048576.0, " MiB", 3 }, { 1024.0, " KiB", 3 }, { 1, " B", 4 },
};

static void format_scaled(double x, const struct unit_step *u, size_t n, const char *rate,
			  char *buf, size_t len)
{
	size_t i = 0;

	while (i + 1 < n && fabs(x) < u[i].div)
		i++;
	snprintf(buf, len, "%.*g%s%s", u[i].digits, x / u[i].div, u[i].unit, rate);
}

void metrics_text_format_quantity(double v, const char *unit, char *buf, size_t len)
{
	char base[16];
	const char *rate = "";
	size_t bl;
	double ns;

	snprintf(base, sizeof(base), "%s", unit);
	bl = strlen(base);
	if (bl > 2 && strcmp(base + bl - 2, "/s") == 0) {
		base[bl - 2] = '\0';
		rate = "/s";
	}
	if (!isfinite(v))
		snprintf(buf, len, "n/a");
	else if ((ns = time_unit_ns(base)))
		format_scaled(v * ns, time_steps, ARRAY_SIZE(time_steps), rate, buf, len);
	else if (strcmp(base, "bytes") == 0)
		format_scaled(v, byte_steps, ARRAY_SIZE(byte_steps), rate, buf, len);
	else if (strcmp(base, "pct") == 0)
		snprintf(buf, len, "%.3g%%%s", v, rate);
	else if (strcmp(base, "1") == 0)
		snprintf(buf, len, "%.4g%s", v, rate);
	else
		snprintf(buf, len, "%.4g %s%s", v, base, rate);
}
