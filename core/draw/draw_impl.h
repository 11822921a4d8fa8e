/* SPDX-License-Identifier: MIT */
/* What the files of libsmcp-draw share (not for its users). */
#ifndef SMCP_DRAW_IMPL_H
#define SMCP_DRAW_IMPL_H

#include <stdio.h>

#include "draw.h"

/* Layout, and the scale of a differential graph's colours. */
void draw_flame_prepare(struct draw_flame *f);
/* The node after i in depth-first order, children by name (after
 * layout); UINT32_MAX after the last. */
uint32_t draw_flame_next(const struct draw_flame *f, uint32_t i);
/* 0xRRGGBB of a frame (after draw_flame_prepare). */
uint32_t draw_frame_colour(const struct draw_flame *f, const struct draw_node *n);
/* "name" or "name [k]" for a kernel frame. */
void draw_frame_label(const char *name, char *buf, size_t len);
/* "name (N samples, P%)" (and the before and change of a diff). */
size_t draw_frame_tooltip(const struct draw_flame *f, const struct draw_node *n, char *buf,
			  size_t len);

/* The largest value of a heat map (0 when none). */
double draw_heat_max(const struct draw_heat *h);
/* Label one row in this many. */
uint32_t draw_heat_label_every(const struct draw_heat_geom *g);

#endif
