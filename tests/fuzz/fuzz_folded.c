/* SPDX-License-Identifier: MIT */
/* Fuzz the folded-stack reader and the flame graph layout and SVG writer
 * (core/draw/flame.c): what `schedmcp flamegraph` reads from a file a
 * person gives it. A NUL byte splits the input into the profile drawn and
 * the "before" of a differential graph. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/draw/draw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nul = memchr(data, 0, size);
	size_t first = nul ? (size_t)(nul - text) : size;
	struct draw_flame f;
	char *svg = NULL;
	size_t len = 0;

	if (draw_flame_init(&f))
		return 0;
	(void)draw_flame_add(&f, text, first, 0);
	if (nul)
		(void)draw_flame_add(&f, nul + 1, size - first - 1, 1);
	if (draw_flame_svg(&f, NULL, &svg, &len) == 0 && (!svg || strlen(svg) != len))
		abort(); /* the document is one NUL-free string */
	free(svg);
	draw_flame_free(&f);
	return 0;
}
