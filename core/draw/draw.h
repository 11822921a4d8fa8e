/* SPDX-License-Identifier: MIT */
/*
 * Pictures: flame graphs from folded stacks and heat maps from metric
 * history, as SVG (written here, no library) or PNG (through cairo).
 *
 * A leaf library (libsmcp-draw.a): it knows neither the core nor the SDK's
 * host API, so the core (CLI, report, query_history) and the perf_profiler
 * plugin (get_perf_results) both link it, the plugin with its symbols
 * hidden. Not in the SDK: it is no part of the plugin ABI and it carries
 * a cairo dependency the SDK must not impose on third-party plugins.
 *
 * Nothing here touches the event loop or the host API; everything is
 * plain computation on the caller's memory, so it may run on a worker.
 * Errors: 0 or -errno (-ENOTSUP: built without cairo, draw_png_missing()
 * says why; -E2BIG: an input past its bound).
 */
#ifndef SMCP_DRAW_H
#define SMCP_DRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <schedmcp/hashmap.h>

/* Bounds on what a folded profile may make: distinct frames (nodes of the
 * merged tree), stack depth kept (deeper frames are folded into the one at
 * the bound), bytes of a frame name kept. */
#define DRAW_MAX_NODES (1u << 20)
#define DRAW_MAX_DEPTH 512
#define DRAW_MAX_NAME 512

/* The largest picture the PNG writers make, and the largest file. A tool
 * answer carries its PNG in base64 (4/3 of its bytes) within the client's
 * max_result_bytes (96 KiB by default): tools ask for DRAW_PNG_TOOL_BYTES. */
#define DRAW_PNG_MAX_W 1200
#define DRAW_PNG_MAX_H 700
#define DRAW_PNG_MAX_BYTES (200 * 1024)
#define DRAW_PNG_TOOL_BYTES (64 * 1024)

/* One frame of the merged tree: every stack with the same path from the
 * root goes through the same node. count[0]: samples of the profile drawn
 * (the "after" one of a differential graph), count[1]: of the "before"
 * one. Inclusive: a node's count is its own plus its children's. */
struct draw_node {
	char *name;
	uint32_t parent, first_child, next_sibling, depth;
	uint64_t count[2];
	double x; /* layout: left edge as a fraction of the root's width */
};

struct draw_flame {
	struct draw_node *nodes; /* nodes[0] is the root, "all" */
	size_t n, cap;
	struct smcp_hashmap idx; /* (parent, name) -> node */
	uint64_t lines[2], bad_lines[2];
	uint32_t max_depth;
	double diff_max; /* the largest change of share of a frame (diff) */
	bool diff;     /* a "before" profile was added */
	bool laid_out; /* children sorted by name, x computed */
	bool cut;      /* DRAW_MAX_NODES reached: later stacks were dropped */
};

int draw_flame_init(struct draw_flame *f);
void draw_flame_free(struct draw_flame *f); /* NULL-safe, idempotent */

/* Add folded stacks ("a;b;c 12" per line; '#' lines skipped; a line
 * without a count is counted in bad_lines) to profile which (0: the one
 * drawn; 1: the "before" of a differential graph). Frames whose names end
 * in "_[k]" (perf_profiler's and flamegraph.pl's mark) are kernel frames.
 * 0, -ENOMEM, -EINVAL (which). */
int draw_flame_add(struct draw_flame *f, const char *text, size_t len, int which);

/* Sort every node's children by name (the picture does not depend on the
 * order of the input) and compute x. Called by the writers when needed. */
void draw_flame_layout(struct draw_flame *f);

bool draw_frame_is_kernel(const char *name);

struct draw_flame_opts {
	const char *title;  /* NULL: "Flame graph" / "Differential flame graph" */
	const char *note;   /* a line under the title, or NULL */
	uint32_t width;	    /* pixels; 0: 1200 */
	uint32_t frame_h;   /* pixels; 0: 16 */
	bool no_script;	    /* SVG without zoom and search (static pictures) */
	bool no_xml_header; /* SVG to inline in HTML */
};

/* Geometry shared by the writers and the tests: left padding and usable
 * width (px) of a picture of the given width. */
#define DRAW_FLAME_XPAD 10

/* The whole SVG document in *ret (malloc'ed, NUL-terminated, *ret_len
 * bytes). 0, -ENOMEM, -ENODATA (no samples). */
int draw_flame_svg(struct draw_flame *f, const struct draw_flame_opts *o, char **ret,
		   size_t *ret_len);

/* A PNG of at most DRAW_PNG_MAX_W x DRAW_PNG_MAX_H and max_bytes (0 or
 * more than DRAW_PNG_MAX_BYTES: that; drawn again without labels, then
 * smaller, until it fits; -E2BIG if it never does). Deeper frames than
 * fit are cut, and *ret_cut_depth says from which depth (0: none cut). 0, -ENOMEM, -ENODATA, -ENOTSUP (no cairo). */
int draw_flame_png(struct draw_flame *f, const struct draw_flame_opts *o, size_t max_bytes,
		   unsigned char **ret, size_t *ret_len, uint32_t *ret_cut_depth);

/* A heat map: cols x rows cells, row 0 at the bottom; cells[row * cols +
 * col] is the value (NaN: no data). Colour: white (0) to dark red (the
 * largest value), on a log scale when log_scale. */
struct draw_heat {
	const char *title;
	const char *y_name;	       /* "run-queue latency", "cpu" */
	const char *value_name;	       /* "wakeups", "% busy" */
	uint32_t cols, rows;
	const double *cells;
	const char *const *row_labels; /* rows of them, or NULL */
	const char *x_first, *x_last;  /* time at the left and right edges */
	bool log_scale;
};

#define DRAW_HEAT_MAX_CELLS (1u << 20)

/* Where the cells are drawn (pixels in the picture), for the writers and
 * the tests: cell (col, row) spans x0 + col * cw .. +cw and, row 0 at the
 * bottom, y0 + h - (row + 1) * ch .. +ch. */
struct draw_heat_geom {
	uint32_t img_w, img_h;
	double x0, y0, w, h, cw, ch;
};
void draw_heat_geometry(const struct draw_heat *h, struct draw_heat_geom *g);
/* The colour of value v in a map whose largest value is max: 0xRRGGBB. */
uint32_t draw_heat_colour(double v, double max, bool log_scale);

int draw_heat_svg(const struct draw_heat *h, char **ret, size_t *ret_len);
int draw_heat_png(const struct draw_heat *h, size_t max_bytes, unsigned char **ret,
		  size_t *ret_len);

/* s as XML or HTML text or attribute value: markup escaped, control bytes
 * as '?', and bytes past ASCII too unless keep_utf8 (an XML parser refuses
 * a document that is not valid UTF-8; an HTML one does not). */
void draw_xml_escape(FILE *out, const char *s, bool keep_utf8);

/* NULL when PNG works, else why not (for a user to read). */
const char *draw_png_missing(void);

#endif
