/* SPDX-License-Identifier: MIT */
/* Built without cairo: SVG still works, PNG says why it does not. */
#include <errno.h>

#include "draw.h"

const char *draw_png_missing(void)
{
	return "PNG needs cairo, which this build of schedmcp lacks (install libcairo2-dev "
	       "and rebuild); SVG pictures still work";
}

int draw_flame_png(struct draw_flame *f, const struct draw_flame_opts *o, size_t max_bytes,
		   unsigned char **ret, size_t *ret_len, uint32_t *ret_cut_depth)
{
	return -ENOTSUP;
}

int draw_heat_png(const struct draw_heat *h, size_t max_bytes, unsigned char **ret,
		  size_t *ret_len)
{
	return -ENOTSUP;
}
