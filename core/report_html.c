/* SPDX-License-Identifier: MIT */
/*
 * `schedmcp report --html FILE`: one self-contained page for a person. The
 * report's sections as tables, the flame graph of a short profile taken
 * while the page samples (inline SVG with its zoom and search), and heat
 * maps of the history (inline SVG): no script, style or font is fetched
 * from anywhere, so the page opens offline. Which tools profile is the
 * wiring's business (core/main.c); the heat maps are chosen by what the
 * metrics are (a histogram or a percentage gauge with a cpu label), not by
 * their names.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "draw/draw.h"
#include "metrics.h"
#include "metrics_heat.h"
#include "registry.h"
#include "smcp-config.h"

#define HTML_MIN_SECS 5.0
#define HTML_MAX_ROWS 50
#define HTML_MAX_DEPTH 6
#define HTML_MAX_FOLDED (16u << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the start tool's arguments with ${secs} replaced */
static int profile_args(const char *tmpl, double secs, char *buf, size_t len)
{
	const char *p = strstr(tmpl, "${secs}");
	int n;

	if (!p)
		n = snprintf(buf, len, "%s", tmpl);
	else
		n = snprintf(buf, len, "%.*s%g%s", (int)(p - tmpl), tmpl, secs, p + 7);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

char *report_html_profile(const struct daemon_opts *o, char *err, size_t err_len)
{
	const struct report_profile *p = o->profile;
	double secs = o->report_interval_s < HTML_MIN_SECS ? HTML_MIN_SECS : o->report_interval_s;
	double t0 = now_s(), left;
	char args[512], *out = NULL;
	size_t len = 0;
	cJSON *items, *it;

	if (!p || !registry_find_tool(p->start_tool) || !registry_find_tool(p->folded_tool)) {
		snprintf(err, err_len, "no profiler is loaded here: no flame graph");
		goto wait;
	}
	if (profile_args(p->start_args, secs, args, sizeof(args))) {
		snprintf(err, err_len, "profile arguments too long");
		goto wait;
	}
	items = report_call_tool(p->start_tool, args, (uint64_t)(secs + 60) * 1000, err, err_len);
	if (!items)
		goto wait;
	cJSON_Delete(items);
	items = report_call_tool(p->folded_tool, p->folded_args, 60000, err, err_len);
	if (!items)
		goto wait;
	cJSON_ArrayForEach(it, items) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "text");
		size_t n = cJSON_IsString(t) ? strlen(t->valuestring) : 0;
		char *nb;

		if (!n || len + n + 2 > HTML_MAX_FOLDED)
			continue;
		nb = realloc(out, len + n + 2);
		if (!nb)
			break;
		out = nb;
		memcpy(out + len, t->valuestring, n);
		len += n;
		out[len++] = '\n';
		out[len] = '\0';
	}
	cJSON_Delete(items);
	return out;
wait:
	/* the heat maps still want their window */
	left = secs - (now_s() - t0);
	if (left > 0)
		report_wait(left);
	return NULL;
}

/* ------------------------------------------------------------ writing */

static void esc(FILE *f, const char *s)
{
	draw_xml_escape(f, s, true); /* an HTML parser takes UTF-8 as it comes */
}

static void scalar(FILE *f, const cJSON *v)
{
	if (cJSON_IsString(v))
		esc(f, v->valuestring);
	else if (cJSON_IsBool(v))
		fputs(cJSON_IsTrue(v) ? "yes" : "no", f);
	else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d == floor(d) && fabs(d) < 1e15)
			fprintf(f, "%.0f", d);
		else
			fprintf(f, "%.4g", d);
	} else {
		fputs("-", f);
	}
}

static void value(FILE *f, const cJSON *v, int depth);

static void table(FILE *f, const cJSON *arr)
{
	const cJSON *first = cJSON_GetArrayItem(arr, 0), *row, *col;
	int n = 0, total = cJSON_GetArraySize(arr);

	fputs("<table><tr>", f);
	cJSON_ArrayForEach(col, first) {
		fputs("<th>", f);
		esc(f, col->string);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	cJSON_ArrayForEach(row, arr) {
		if (n++ == HTML_MAX_ROWS)
			break;
		fputs("<tr>", f);
		cJSON_ArrayForEach(col, first) {
			fputs("<td>", f);
			scalar(f, cJSON_GetObjectItemCaseSensitive(row, col->string));
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	if (total > HTML_MAX_ROWS)
		fprintf(f,
			"<p class=\"note\">%d more rows (schedmcp report --json has them "
			"all)</p>\n",
			total - HTML_MAX_ROWS);
}

static void value(FILE *f, const cJSON *v, int depth)
{
	const cJSON *e;
	int n = 0;

	if (report_is_scalar(v)) {
		scalar(f, v);
		return;
	}
	if (depth >= HTML_MAX_DEPTH) {
		fputs("&hellip;", f);
		return;
	}
	if (cJSON_IsArray(v)) {
		bool scalars = true;

		cJSON_ArrayForEach(e, v)
			scalars &= report_is_scalar(e);
		if (scalars) {
			cJSON_ArrayForEach(e, v) {
				if (n == 30) {
					fprintf(f, " &hellip; (%d more)",
						cJSON_GetArraySize(v) - 30);
					break;
				}
				if (n++)
					fputs(", ", f);
				scalar(f, e);
			}
			return;
		}
		if (report_tabular(v)) {
			table(f, v);
			return;
		}
		fputs("<ol>", f);
		cJSON_ArrayForEach(e, v) {
			if (n++ == HTML_MAX_ROWS)
				break;
			fputs("<li>", f);
			value(f, e, depth + 1);
			fputs("</li>", f);
		}
		fputs("</ol>\n", f);
		return;
	}
	fputs("<table class=\"kv\">", f);
	cJSON_ArrayForEach(e, v) {
		fputs("<tr><th>", f);
		esc(f, e->string);
		fputs("</th><td>", f);
		value(f, e, depth + 1);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void flame(FILE *f, const char *folded, const char *why)
{
	struct draw_flame_opts fo = { .no_xml_header = true,
				      .title = "Flame graph of a short profile" };
	struct draw_flame fl;
	char note[96];
	char *svg = NULL;
	size_t len = 0;
	int err = -ENODATA;

	fputs("<section><h2>Flame graph</h2>\n", f);
	if (folded && !draw_flame_init(&fl)) {
		err = draw_flame_add(&fl, folded, strlen(folded), 0);
		snprintf(note, sizeof(note), "%llu samples; click a frame to zoom, Search to find",
			 (unsigned long long)fl.nodes[0].count[0]);
		fo.note = note;
		if (!err)
			err = draw_flame_svg(&fl, &fo, &svg, &len);
		draw_flame_free(&fl);
	}
	if (!err) {
		fputs("<div class=\"pic\">", f);
		fwrite(svg, 1, len, f);
		fputs("</div>\n", f);
	} else {
		fputs("<p class=\"note\">No flame graph: ", f);
		esc(f, folded ? "the profile had no samples" : why && *why ? why : "no profile");
		fputs("</p>\n", f);
	}
	free(svg);
	fputs("</section>\n", f);
}

/* The metric of type t (and unit, if given) with a cpu label and the most
 * series. */
static const struct metric *pick(enum smcp_metric_type t, const char *unit)
{
	const struct metric *best = NULL;

	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->dead || m->type != t || !m->n_series || metrics_label_index(m, "cpu") < 0 ||
		    (unit && strcmp(m->unit, unit) != 0))
			continue;
		if (!best || m->n_series > best->n_series)
			best = m;
	}
	return best;
}

static void heat(FILE *f, const char *what, const struct metric *m)
{
	int64_t now = metrics_now_unix_ms();
	struct heat_map h;
	char err[400] = "";
	char *svg = NULL;
	size_t len = 0;
	int ret;

	fprintf(f, "<section><h2>%s</h2>\n", what);
	if (!m) {
		fputs("<p class=\"note\">No such metric is published here (its plugin is not "
		      "loaded).</p>\n</section>\n", f);
		return;
	}
	ret = metrics_heat_build(m, NULL, NULL, now - 15 * 60000, now + 1000, &h, err, sizeof(err));
	if (!ret) {
		ret = draw_heat_svg(&h.d, &svg, &len);
		if (!ret) {
			fputs("<p>", f);
			esc(f, h.summary);
			fputs("</p>\n<div class=\"pic\">", f);
			fwrite(svg, 1, len, f);
			fputs("</div>\n", f);
		}
		metrics_heat_free(&h);
	}
	if (ret) {
		fputs("<p class=\"note\">No heat map: ", f);
		esc(f, *err ? err : strerror(-ret));
		fputs("</p>\n", f);
	}
	free(svg);
	fputs("</section>\n", f);
}

static const char css[] =
	"body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;background:#fff}"
	"h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}"
	"table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid #ddd;padding:2px 6px;"
	"text-align:left;vertical-align:top}th{background:#f4f4f4}table.kv>tbody>tr>th{"
	"font-weight:normal;color:#555}.note{color:#777}.pic{overflow-x:auto}"
	"code{background:#f4f4f4}";

int report_html_write(const char *path, const cJSON *sections, const char *folded,
		      const char *profile_err)
{
	const cJSON *sec;
	char host[256] = "", when[64];
	time_t t = time(NULL);
	struct tm tm;
	FILE *f;
	int fd;

	/* a path the person gave: no following a planted link */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	(void)gethostname(host, sizeof(host) - 1);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>schedmcp report: ",
	      f);
	esc(f, host);
	fprintf(f, "</title>\n<style>%s</style>\n</head><body>\n<h1>schedmcp report: ", css);
	esc(f, host);
	fprintf(f, "</h1>\n<p class=\"note\">%s, schedmcp %s</p>\n", when, SMCP_VERSION);
	flame(f, folded, profile_err);
	heat(f, "Run-queue latency over time", pick(SMCP_METRIC_HISTOGRAM, NULL));
	heat(f, "CPU utilisation over time", pick(SMCP_METRIC_GAUGE, "pct"));
	cJSON_ArrayForEach(sec, sections) {
		const cJSON *title = cJSON_GetObjectItemCaseSensitive(sec, "title");
		const cJSON *uri = cJSON_GetObjectItemCaseSensitive(sec, "uri");
		const cJSON *body = cJSON_GetObjectItemCaseSensitive(sec, "body");
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(sec, "error");

		fputs("<section><h2>", f);
		scalar(f, title);
		fputs(" <code>", f);
		scalar(f, uri);
		fputs("</code></h2>\n", f);
		if (body && cJSON_IsString(body)) {
			fputs("<pre>", f);
			esc(f, body->valuestring);
			fputs("</pre>\n", f);
		} else if (body) {
			value(f, body, 0);
		} else {
			fputs("<p class=\"note\">unavailable: ", f);
			scalar(f, err);
			fputs("</p>\n", f);
		}
		fputs("</section>\n", f);
	}
	fputs("</body></html>\n", f);
	if (fflush(f) || ferror(f)) {
		int err = errno ? -errno : -EIO;

		fclose(f);
		return err;
	}
	return fclose(f) ? -errno : 0;
}
