/* SPDX-License-Identifier: MIT */
/*
 * The metric catalog in the Prometheus text format (0.0.4), or OpenMetrics
 * 1.0.0, for GET /metrics (mcp/http.c). Every family of the store, with
 * HELP and TYPE (and UNIT for OpenMetrics when the name ends in it); a
 * counter's samples are NAME_total, a histogram's NAME_bucket{le=...}
 * (cumulative, the last bucket "+Inf"), NAME_sum and NAME_count.
 *
 * Values are those of the steps the store has recorded (series->total and
 * ->htotal, kept by series_close()), so a scrape agrees with query_history
 * over the same window, a step behind the plugins at most. The cost is
 * one pass over the store: at most metrics_max_series series of at most
 * SMCP_METRIC_MAX_BUCKETS buckets, no allocation but the answer's.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jbuf.h"
#include "metrics.h"

static void put_double(struct jbuf *b, double v)
{
	char num[40];

	if (isnan(v))
		jbuf_puts(b, "NaN");
	else if (isinf(v))
		jbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(num, sizeof(num), "%.17g", v);
		jbuf_puts(b, num);
	}
}

/* Backslash and newline escaped, and double quotes when quotes is set: a
 * label value always, HELP text in OpenMetrics only. */
static void put_escaped(struct jbuf *b, const char *s, bool quotes)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			jbuf_puts(b, "\\\\");
		else if (*s == '\n')
			jbuf_puts(b, "\\n");
		else if (*s == '"' && quotes)
			jbuf_puts(b, "\\\"");
		else
			jbuf_put(b, s, 1);
	}
}

/* {a="x",b="y"[,le="..."]} or nothing */
static void put_labels(struct jbuf *b, const struct series *s, const char *le)
{
	const struct metric *m = s->m;

	if (!m->n_labels && !le)
		return;
	jbuf_puts(b, "{");
	for (uint32_t i = 0; i < m->n_labels; i++) {
		if (i)
			jbuf_puts(b, ",");
		jbuf_puts(b, m->label[i]);
		jbuf_puts(b, "=\"");
		put_escaped(b, series_label(s, i), true);
		jbuf_puts(b, "\"");
	}
	if (le) {
		if (m->n_labels)
			jbuf_puts(b, ",");
		jbuf_puts(b, "le=\"");
		jbuf_puts(b, le);
		jbuf_puts(b, "\"");
	}
	jbuf_puts(b, "}");
}

static void put_sample(struct jbuf *b, const char *name, const char *suffix,
		       const struct series *s, const char *le, double v)
{
	jbuf_puts(b, name);
	jbuf_puts(b, suffix);
	put_labels(b, s, le);
	jbuf_puts(b, " ");
	put_double(b, v);
	jbuf_puts(b, "\n");
}

static void put_hist(struct jbuf *b, const char *name, const struct series *s)
{
	const struct metric *m = s->m;
	uint64_t cum = 0;
	char le[40];

	for (uint32_t i = 0; i < m->nb; i++) {
		cum += s->htotal[i];
		/* the last bucket takes everything above the one before it */
		if (i + 1 == m->nb || isinf(m->bounds[i]))
			snprintf(le, sizeof(le), "+Inf");
		else
			snprintf(le, sizeof(le), "%.17g", m->bounds[i]);
		put_sample(b, name, "_bucket", s, le, (double)cum);
		if (!strcmp(le, "+Inf"))
			break;
	}
	/* a plugin that publishes no sum leaves it NaN: no _sum then */
	if (isfinite(s->hsum_total))
		put_sample(b, name, "_sum", s, NULL, s->hsum_total);
	put_sample(b, name, "_count", s, NULL, (double)cum);
}

/* OpenMetrics: a UNIT line only where the family name ends in _UNIT */
static bool name_has_unit(const struct metric *m)
{
	size_t n = strlen(m->name), u = strlen(m->unit);

	return u && n > u + 1 && m->name[n - u - 1] == '_' && !strcmp(m->name + n - u, m->unit);
}

static void put_family(struct jbuf *b, const struct metric *m, bool om)
{
	static const char *const types[] = { [SMCP_METRIC_COUNTER] = "counter",
					     [SMCP_METRIC_GAUGE] = "gauge",
					     [SMCP_METRIC_HISTOGRAM] = "histogram" };
	char name[SMCP_METRIC_NAME_MAX + 8];
	size_t n = strlen(m->name);

	snprintf(name, sizeof(name), "%s", m->name);
	/* a counter's samples are NAME_total; the family is NAME in
	 * OpenMetrics, NAME_total in the 0.0.4 format (as client libraries) */
	if (m->type == SMCP_METRIC_COUNTER && n > 6 && !strcmp(m->name + n - 6, "_total"))
		name[n - 6] = '\0';
	jbuf_puts(b, "# HELP ");
	jbuf_puts(b, name);
	if (m->type == SMCP_METRIC_COUNTER && !om)
		jbuf_puts(b, "_total");
	jbuf_puts(b, " ");
	put_escaped(b, m->help ? m->help : m->name, om);
	jbuf_puts(b, "\n# TYPE ");
	jbuf_puts(b, name);
	if (m->type == SMCP_METRIC_COUNTER && !om)
		jbuf_puts(b, "_total");
	jbuf_puts(b, " ");
	jbuf_puts(b, types[m->type]);
	jbuf_puts(b, "\n");
	if (om && name_has_unit(m)) {
		jbuf_puts(b, "# UNIT ");
		jbuf_puts(b, name);
		jbuf_puts(b, " ");
		jbuf_puts(b, m->unit);
		jbuf_puts(b, "\n");
	}
	for (uint32_t i = 0; i < m->n_series; i++) {
		const struct series *s = m->series[i];

		if (m->type == SMCP_METRIC_HISTOGRAM)
			put_hist(b, name, s);
		else if (m->type == SMCP_METRIC_COUNTER)
			put_sample(b, name, "_total", s, NULL, s->total);
		else if (!isnan(s->cur)) /* a restored gauge not published again */
			put_sample(b, name, "", s, NULL, s->cur);
	}
}

int metrics_prom_render(struct jbuf *b, bool openmetrics)
{
	const struct metrics_store *st = metrics_view();

	for (uint32_t i = 0; st && i < st->n_metrics; i++) {
		const struct metric *m = st->m[i];

		if (m && !m->dead && m->type <= SMCP_METRIC_HISTOGRAM)
			put_family(b, m, openmetrics);
	}
	if (openmetrics)
		jbuf_puts(b, "# EOF\n");
	return b->err;
}
