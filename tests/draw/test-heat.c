/* SPDX-License-Identifier: MIT */
/*
 * Heat maps of metric history (core/metrics_heat.c, core/draw/): a store
 * seeded with known latency histograms and per-CPU gauges, drawn as PNG
 * and read back pixel by pixel. A latency spike at a known step must light
 * the cell of that column and bucket, and only there; a label filter must
 * leave it out; the per-CPU map must light the right CPU's row.
 */
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/seed_store.h"
#include "../unit/unit.h"
#include "metrics_heat.h"
#include "watch.h"

#define STEP_NS 1000000000ull
#define STEPS 50
#define SPIKE 30   /* the step of the latency spike, on cpu 1 */
#define SPIKE_B 5  /* its bucket: <= 320 ns */
#define BASE_B 1   /* every step's background: <= 20 ns */
#define HOT_CPU 2  /* the busy CPU of the gauge, steps 20..25 */

static struct smcp_host plug = { .name = "t", .state = PLUGIN_LOADED };
static struct seed_ids ids;

struct png_in {
	const unsigned char *p;
	size_t len, off;
};

static cairo_status_t png_read(void *closure, unsigned char *data, unsigned int len)
{
	struct png_in *in = closure;

	if (in->off + len > in->len)
		return CAIRO_STATUS_READ_ERROR;
	memcpy(data, in->p + in->off, len);
	in->off += len;
	return CAIRO_STATUS_SUCCESS;
}

/* The colour at the centre of cell (col, row) of the PNG. */
static uint32_t cell_rgb(cairo_surface_t *s, const struct heat_map *h, uint32_t col, uint32_t row)
{
	struct draw_heat_geom g;
	int x, y, stride = cairo_image_surface_get_stride(s);
	const unsigned char *px = cairo_image_surface_get_data(s);

	draw_heat_geometry(&h->d, &g);
	x = (int)(g.x0 + (col + 0.5) * g.cw);
	y = (int)(g.y0 + g.h - (row + 0.5) * g.ch);
	return *(const uint32_t *)(px + (size_t)y * stride + (size_t)x * 4) & 0xffffff;
}

static cairo_surface_t *draw(const struct heat_map *h)
{
	unsigned char *png = NULL;
	size_t len = 0;
	struct png_in in;
	cairo_surface_t *s;

	CHECK_INT(draw_heat_png(&h->d, DRAW_PNG_TOOL_BYTES, &png, &len), 0);
	CHECK_MSG(png && len > 100 && len <= DRAW_PNG_TOOL_BYTES, "png of %zu bytes", len);
	in = (struct png_in){ png, len, 0 };
	s = cairo_image_surface_create_from_png_stream(png_read, &in);
	CHECK_MSG(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "the PNG decodes");
	CHECK_MSG(cairo_image_surface_get_width(s) <= DRAW_PNG_MAX_W &&
			  cairo_image_surface_get_height(s) <= DRAW_PNG_MAX_H,
		  "%dx%d", cairo_image_surface_get_width(s), cairo_image_surface_get_height(s));
	free(png);
	return s;
}

static bool red(uint32_t rgb)
{
	return (rgb >> 16) > 140 && ((rgb >> 8) & 0xff) < 60;
}

static bool grey(uint32_t rgb)
{
	return rgb == 0xf0f0f0;
}

static void seed(void)
{
	struct metrics_limits l = seed_limits();
	uint64_t now_ns = 1000 * STEP_NS;
	static const char *const cpus[] = { "0", "1", "2", "3" };

	CHECK_INT((metrics_store_init(&l, now_ns) ?: watch_store_init(l.max_watches, l.breach_ring)), 0);
	seed_register(&plug, SEED_SAME, &ids);
	for (int step = 0; step < STEPS; step++) {
		for (int c = 0; c < 4; c++) {
			uint64_t counts[SEED_NB] = { 0 };
			const char *lv[1] = { cpus[c] };

			if (c < 2) {
				counts[BASE_B] = 5;
				if (step == SPIKE && c == 1)
					counts[SPIKE_B] = 1000;
				(void)metrics_publish_hist(&plug, ids.lat, lv, counts, SEED_NB, 0,
							   SMCP_HIST_DELTA);
			}
			(void)metrics_publish_set(&plug, ids.gauge, lv,
						  c == HOT_CPU && step >= 20 && step <= 25 ? 90 : 10);
		}
		now_ns += STEP_NS;
		metrics_tick(now_ns);
	}
}

static void test_latency_spike(void)
{
	const struct metric *m = metrics_find("t_lat_ns");
	struct heat_map h;
	struct selector sel;
	cairo_surface_t *s;
	char err[400];
	uint32_t col;

	UNIT_CASE("latency spike");
	CHECK_INT(metrics_heat_build(m, NULL, NULL, metrics_step_unix_ms(0),
				     metrics_step_unix_ms(STEPS), &h, err, sizeof(err)),
		  0);
	CHECK_MSG(h.per == 1 && h.d.cols >= STEPS, "%u columns of %u slots", h.d.cols, h.per);
	CHECK_MSG(h.row0_bucket <= BASE_B && h.row0_bucket + h.d.rows > SPIKE_B, "rows %u+%u",
		  h.row0_bucket, h.d.rows);
	col = metrics_heat_col_of(&h, SPIKE);
	s = draw(&h);
	CHECK_MSG(red(cell_rgb(s, &h, col, SPIKE_B - h.row0_bucket)), "the spike's cell is red: %06x",
		  cell_rgb(s, &h, col, SPIKE_B - h.row0_bucket));
	/* the same bucket a few columns away saw nothing, the background
	 * bucket of the spike's column is lit but not red */
	CHECK(grey(cell_rgb(s, &h, col - 3, SPIKE_B - h.row0_bucket)));
	CHECK(grey(cell_rgb(s, &h, col + 3, SPIKE_B - h.row0_bucket)));
	CHECK_MSG(!red(cell_rgb(s, &h, col, BASE_B - h.row0_bucket)) &&
			  !grey(cell_rgb(s, &h, col, BASE_B - h.row0_bucket)),
		  "background: %06x", cell_rgb(s, &h, col, BASE_B - h.row0_bucket));
	CHECK_HAS(h.summary, "1000 observations/s in the bucket up to 320 ");
	cairo_surface_destroy(s);
	metrics_heat_free(&h);

	/* cpu 0 alone never saw it */
	CHECK_INT(metrics_query_selector_parse(&sel, m, "cpu=0", err, sizeof(err)), 0);
	CHECK_INT(metrics_heat_build(m, &sel, "cpu=0", metrics_step_unix_ms(0),
				     metrics_step_unix_ms(STEPS), &h, err, sizeof(err)),
		  0);
	CHECK_MSG(h.row0_bucket + h.d.rows <= SPIKE_B, "cpu=0 rows stop below the spike: %u+%u",
		  h.row0_bucket, h.d.rows);
	metrics_heat_free(&h);
	/* a range with nothing */
	CHECK_INT(metrics_heat_build(m, NULL, NULL, metrics_step_unix_ms(STEPS + 100),
				     metrics_step_unix_ms(STEPS + 200), &h, err, sizeof(err)),
		  -ENODATA);
}

static void test_per_cpu(void)
{
	const struct metric *m = metrics_find("t_gauge_pct");
	struct heat_map h;
	cairo_surface_t *s;
	char err[400];

	UNIT_CASE("per-cpu gauge");
	CHECK_INT(metrics_heat_build(m, NULL, NULL, metrics_step_unix_ms(0),
				     metrics_step_unix_ms(STEPS), &h, err, sizeof(err)),
		  0);
	CHECK_INT(h.d.rows, 4);
	CHECK_STR(h.labels[HOT_CPU], "cpu=2");
	s = draw(&h);
	CHECK(red(cell_rgb(s, &h, metrics_heat_col_of(&h, 22), HOT_CPU)));
	CHECK(!red(cell_rgb(s, &h, metrics_heat_col_of(&h, 22), 0)));
	CHECK(!red(cell_rgb(s, &h, metrics_heat_col_of(&h, 40), HOT_CPU)));
	CHECK_HAS(h.summary, "for cpu=2");
	cairo_surface_destroy(s);
	metrics_heat_free(&h);
}

int main(void)
{
	if (draw_png_missing()) {
		printf("SKIP: %s\n", draw_png_missing());
		return 77;
	}
	seed();
	test_latency_spike();
	test_per_cpu();
	return unit_done("draw/heat");
}
