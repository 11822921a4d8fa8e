/* SPDX-License-Identifier: MIT */
/*
 * Heat maps: where the cells go and which colour a value gets (shared by
 * the SVG written here and the PNG drawn with cairo), and the SVG.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "draw.h"
#include "draw_impl.h"

void draw_heat_geometry(const struct draw_heat *h, struct draw_heat_geom *g)
{
	g->img_w = 1000;
	g->img_h = 460;
	g->x0 = 130;
	g->y0 = 44;
	g->w = g->img_w - g->x0 - 100;
	g->h = g->img_h - g->y0 - 44;
	g->cw = h->cols ? g->w / h->cols : g->w;
	g->ch = h->rows ? g->h / h->rows : g->h;
}

/* pale yellow (the least but not nothing), orange, dark red (the most) */
uint32_t draw_heat_colour(double v, double max, bool log_scale)
{
	static const double stops[3][3] = { { 255, 237, 160 }, { 253, 141, 60 }, { 165, 0, 38 } };
	double t, c[3];

	if (isnan(v))
		return 0xffffff;
	if (v <= 0 || max <= 0)
		return 0xf0f0f0;
	t = log_scale ? log1p(v) / log1p(max) : v / max;
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	for (int i = 0; i < 3; i++)
		c[i] = t < 0.5 ? stops[0][i] + (stops[1][i] - stops[0][i]) * t * 2
			       : stops[1][i] + (stops[2][i] - stops[1][i]) * (t - 0.5) * 2;
	return ((uint32_t)lround(c[0]) << 16) | ((uint32_t)lround(c[1]) << 8) |
	       (uint32_t)lround(c[2]);
}

double draw_heat_max(const struct draw_heat *h)
{
	double max = 0;

	for (size_t i = 0; i < (size_t)h->cols * h->rows; i++)
		if (!isnan(h->cells[i]) && h->cells[i] > max)
			max = h->cells[i];
	return max;
}

/* Label every k-th row so that labels are at least 12 px apart. */
uint32_t draw_heat_label_every(const struct draw_heat_geom *g)
{
	return g->ch >= 12 ? 1 : (uint32_t)ceil(12 / g->ch);
}

int draw_heat_svg(const struct draw_heat *h, char **ret, size_t *ret_len)
{
	struct draw_heat_geom g;
	size_t len = 0;
	char *buf = NULL;
	double max;
	FILE *out;

	if (!h->cols || !h->rows || (size_t)h->cols * h->rows > DRAW_HEAT_MAX_CELLS)
		return h->cols && h->rows ? -E2BIG : -ENODATA;
	draw_heat_geometry(h, &g);
	max = draw_heat_max(h);
	out = open_memstream(&buf, &len);
	if (!out)
		return -ENOMEM;
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		"viewBox=\"0 0 %u %u\" class=\"heatmap\" "
		"style=\"font:12px Verdana,sans-serif\">\n<rect width=\"%u\" height=\"%u\" "
		"fill=\"#fff\"/>\n<text x=\"%u\" y=\"22\" text-anchor=\"middle\" "
		"style=\"font-size:16px\">",
		g.img_w, g.img_h, g.img_w, g.img_h, g.img_w, g.img_h, g.img_w / 2);
	draw_xml_escape(out, h->title ? h->title : "Heat map", false);
	fputs("</text>\n", out);
	/* shape-rendering crispEdges: neighbouring cells without seams */
	fputs("<g shape-rendering=\"crispEdges\">\n", out);
	for (uint32_t r = 0; r < h->rows; r++) {
		for (uint32_t c = 0; c < h->cols; c++) {
			double v = h->cells[(size_t)r * h->cols + c];

			if (isnan(v))
				continue;
			fprintf(out,
				"<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				"fill=\"#%06x\"><title>%g</title></rect>\n",
				g.x0 + c * g.cw, g.y0 + g.h - (r + 1) * g.ch, g.cw + 0.05,
				g.ch + 0.05,
				draw_heat_colour(v, max, h->log_scale), v);
		}
	}
	fputs("</g>\n", out);
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		"stroke=\"#666\"/>\n",
		g.x0, g.y0, g.w, g.h);
	for (uint32_t r = 0; h->row_labels && r < h->rows; r += draw_heat_label_every(&g)) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", g.x0 - 6,
			g.y0 + g.h - r * g.ch - g.ch / 2 + 4);
		draw_xml_escape(out, h->row_labels[r] ? h->row_labels[r] : "", false);
		fputs("</text>\n", out);
	}
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", g.x0, g.y0 + g.h + 18);
	draw_xml_escape(out, h->x_first ? h->x_first : "", false);
	fprintf(out, "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", g.x0 + g.w,
		g.y0 + g.h + 18);
	draw_xml_escape(out, h->x_last ? h->x_last : "", false);
	fprintf(out, "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time; y: ",
		g.x0 + g.w / 2, g.y0 + g.h + 36);
	draw_xml_escape(out, h->y_name ? h->y_name : "", false);
	fputs("; colour: ", out);
	draw_xml_escape(out, h->value_name ? h->value_name : "value", false);
	fprintf(out, " (max %g%s)</text>\n</svg>\n", max, h->log_scale ? ", log scale" : "");
	if (fclose(out) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
