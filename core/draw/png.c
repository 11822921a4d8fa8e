/* SPDX-License-Identifier: MIT */
/*
 * PNG pictures through cairo's image surfaces: the flame graph (the same
 * layout and colours as the SVG) and heat maps (the geometry of heat.c).
 * Every picture is at most DRAW_PNG_MAX_W x DRAW_PNG_MAX_H; one whose file
 * comes out larger than DRAW_PNG_MAX_BYTES is drawn again without its
 * labels (text makes most of a PNG's bytes), then smaller.
 */
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "draw_impl.h"

const char *draw_png_missing(void)
{
	return NULL;
}

struct png_buf {
	unsigned char *p;
	size_t len, cap, max;
};

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct png_buf *b = closure;

	if (b->len + len > b->max)
		return CAIRO_STATUS_WRITE_ERROR; /* too big: the caller tries smaller */
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		unsigned char *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->p, cap);
		if (!n)
			return CAIRO_STATUS_NO_MEMORY;
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return CAIRO_STATUS_SUCCESS;
}

/* surface to PNG bytes: 0, -E2BIG (over DRAW_PNG_MAX_BYTES), -ENOMEM */
static int encode(cairo_surface_t *s, size_t max, unsigned char **ret, size_t *ret_len)
{
	struct png_buf b = { .max = max && max < DRAW_PNG_MAX_BYTES ? max : DRAW_PNG_MAX_BYTES };
	cairo_status_t st = cairo_surface_write_to_png_stream(s, png_write, &b);

	if (st != CAIRO_STATUS_SUCCESS) {
		free(b.p);
		return st == CAIRO_STATUS_WRITE_ERROR ? -E2BIG : -ENOMEM;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

static void set_rgb(cairo_t *cr, uint32_t rgb)
{
	cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
			     (rgb & 0xff) / 255.0);
}

/* A w x h picture painted bg, and its context; NULL when out of memory. */
static cairo_t *canvas(uint32_t w, uint32_t h, uint32_t bg, cairo_surface_t **ret_s)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
	cairo_t *cr = cairo_create(s);

	if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
		cairo_destroy(cr);
		cairo_surface_destroy(s);
		return NULL;
	}
	set_rgb(cr, bg);
	cairo_paint(cr);
	*ret_s = s;
	return cr;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, int align)
{
	cairo_text_extents_t e;

	cairo_text_extents(cr, s, &e);
	cairo_move_to(cr, align == 0 ? x : align > 0 ? x - e.x_advance : x - e.x_advance / 2, y);
	cairo_show_text(cr, s);
}

/* ------------------------------------------------------------ flame */

/* labels: label boxes at least this wide (px); 0: none */
static int flame_once(struct draw_flame *f, const struct draw_flame_opts *o, uint32_t width,
		      double labels, size_t max_bytes, unsigned char **ret, size_t *ret_len,
		      uint32_t *ret_cut)
{
	uint32_t fh = 16, top = 50, levels, height;
	double avail = width - 2.0 * DRAW_FLAME_XPAD, tot = (double)f->nodes[0].count[0];
	char label[DRAW_MAX_NAME + 8];
	cairo_surface_t *s;
	cairo_t *cr;
	int err;

	levels = f->max_depth + 1;
	if (top + levels * fh + 8 > DRAW_PNG_MAX_H)
		fh = 12;
	if (top + levels * fh + 8 > DRAW_PNG_MAX_H)
		levels = (DRAW_PNG_MAX_H - top - 8) / fh;
	*ret_cut = levels < f->max_depth + 1 ? levels : 0;
	height = top + levels * fh + 8;
	cr = canvas(width, height, 0xf8f8f0, &s);
	if (!cr)
		return -ENOMEM;
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	set_rgb(cr, 0);
	cairo_set_font_size(cr, 15);
	{
		/* grey-level text edges cost most of a PNG's bytes: none, as a
		 * terminal draws it, reads as well at this size */
		cairo_font_options_t *fopt = cairo_font_options_create();

		cairo_font_options_set_antialias(fopt, CAIRO_ANTIALIAS_NONE);
		cairo_font_options_set_hint_style(fopt, CAIRO_HINT_STYLE_FULL);
		cairo_set_font_options(cr, fopt);
		cairo_font_options_destroy(fopt);
	}
	text_at(cr, width / 2.0, 20,
		o && o->title ? o->title
		: f->diff     ? "Differential flame graph"
			      : "Flame graph",
		-1);
	cairo_set_font_size(cr, 11);
	if (o && o->note)
		text_at(cr, width / 2.0, 38, o->note, -1);
	for (uint32_t i = 0; i != UINT32_MAX; i = draw_flame_next(f, i)) {
		const struct draw_node *n = &f->nodes[i];
		double w = n->count[0] / tot * avail, x = DRAW_FLAME_XPAD + n->x * avail, y;
		int chars;

		if (w < 0.5 || n->depth >= levels)
			continue;
		y = height - 8 - (n->depth + 1.0) * fh;
		set_rgb(cr, draw_frame_colour(f, n));
		cairo_rectangle(cr, x, y, w > 1 ? w - 0.5 : w, fh - 1);
		cairo_fill(cr);
		chars = (int)((w - 6) / 6.5);
		if (!labels || w < labels || chars < 3)
			continue;
		draw_frame_label(n->name, label, sizeof(label));
		if ((int)strlen(label) > chars)
			strcpy(label + chars - 2, "..");
		for (char *p = label; *p; p++)
			if ((unsigned char)*p > 0x7e || (unsigned char)*p < 0x20)
				*p = '?'; /* cairo's toy API wants UTF-8 */
		set_rgb(cr, 0);
		cairo_move_to(cr, x + 3, y + fh - 4);
		cairo_show_text(cr, label);
	}
	cairo_destroy(cr);
	cairo_surface_flush(s);
	err = encode(s, max_bytes, ret, ret_len);
	cairo_surface_destroy(s);
	return err;
}

int draw_flame_png(struct draw_flame *f, const struct draw_flame_opts *o, size_t max_bytes,
		   unsigned char **ret, size_t *ret_len, uint32_t *ret_cut_depth)
{
	uint32_t width = o && o->width && o->width < DRAW_PNG_MAX_W ? o->width : DRAW_PNG_MAX_W;
	uint32_t cut = 0;
	int err;

	if (!f->n || !f->nodes[0].count[0])
		return -ENODATA;
	draw_flame_prepare(f);
	/* every label; the wide boxes' only; none; then a narrower picture */
	err = flame_once(f, o, width, 1, max_bytes, ret, ret_len, &cut);
	if (err == -E2BIG)
		err = flame_once(f, o, width, 80, max_bytes, ret, ret_len, &cut);
	if (err == -E2BIG)
		err = flame_once(f, o, width, 0, max_bytes, ret, ret_len, &cut);
	if (err == -E2BIG)
		err = flame_once(f, o, width / 2, 0, max_bytes, ret, ret_len, &cut);
	if (!err && ret_cut_depth)
		*ret_cut_depth = cut;
	return err;
}

/* ------------------------------------------------------------ heat map */

static int heat_once(const struct draw_heat *h, bool labels, size_t max_bytes, unsigned char **ret,
		     size_t *ret_len)
{
	struct draw_heat_geom g;
	double max = draw_heat_max(h);
	cairo_surface_t *s;
	char buf[160];
	cairo_t *cr;
	int err;

	draw_heat_geometry(h, &g);
	cr = canvas(g.img_w, g.img_h, 0xffffff, &s);
	if (!cr)
		return -ENOMEM;
	/* cells edge to edge, no blending across their borders */
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
	for (uint32_t r = 0; r < h->rows; r++) {
		for (uint32_t c = 0; c < h->cols; c++) {
			double v = h->cells[(size_t)r * h->cols + c];
			double x = floor(g.x0 + c * g.cw), y = floor(g.y0 + g.h - (r + 1) * g.ch);

			if (isnan(v))
				continue;
			set_rgb(cr, draw_heat_colour(v, max, h->log_scale));
			cairo_rectangle(cr, x, y, floor(g.x0 + (c + 1) * g.cw) - x,
					floor(g.y0 + g.h - r * g.ch) - y);
			cairo_fill(cr);
		}
	}
	set_rgb(cr, 0x666666);
	cairo_set_line_width(cr, 1);
	cairo_rectangle(cr, g.x0 - 0.5, g.y0 - 0.5, g.w + 1, g.h + 1);
	cairo_stroke(cr);
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	set_rgb(cr, 0);
	cairo_set_font_size(cr, 15);
	text_at(cr, g.img_w / 2.0, 24, h->title ? h->title : "Heat map", -1);
	cairo_set_font_size(cr, 11);
	if (labels) {
		for (uint32_t r = 0; h->row_labels && r < h->rows; r += draw_heat_label_every(&g))
			text_at(cr, g.x0 - 6, g.y0 + g.h - r * g.ch - g.ch / 2 + 4,
				h->row_labels[r] ? h->row_labels[r] : "", 1);
	}
	text_at(cr, g.x0, g.y0 + g.h + 16, h->x_first ? h->x_first : "", 0);
	text_at(cr, g.x0 + g.w, g.y0 + g.h + 16, h->x_last ? h->x_last : "", 1);
	snprintf(buf, sizeof(buf), "time; y: %s; colour: %s (max %g%s)",
		 h->y_name ? h->y_name : "", h->value_name ? h->value_name : "value", max,
		 h->log_scale ? ", log scale" : "");
	text_at(cr, g.x0 + g.w / 2, g.y0 + g.h + 34, buf, -1);
	/* the colour scale, bottom (none) to top (max) */
	for (int i = 0; i < 100; i++) {
		double v = max * i / 99.0;

		if (h->log_scale)
			v = expm1(log1p(max) * i / 99.0);
		set_rgb(cr, draw_heat_colour(v, max, h->log_scale));
		cairo_rectangle(cr, g.x0 + g.w + 30, g.y0 + g.h - (i + 1) * g.h / 100, 14,
				g.h / 100 + 0.5);
		cairo_fill(cr);
	}
	cairo_destroy(cr);
	cairo_surface_flush(s);
	err = encode(s, max_bytes, ret, ret_len);
	cairo_surface_destroy(s);
	return err;
}

int draw_heat_png(const struct draw_heat *h, size_t max_bytes, unsigned char **ret,
		  size_t *ret_len)
{
	int err;

	if (!h->cols || !h->rows)
		return -ENODATA;
	if ((size_t)h->cols * h->rows > DRAW_HEAT_MAX_CELLS)
		return -E2BIG;
	err = heat_once(h, true, max_bytes, ret, ret_len);
	if (err == -E2BIG)
		err = heat_once(h, false, max_bytes, ret, ret_len);
	return err;
}
