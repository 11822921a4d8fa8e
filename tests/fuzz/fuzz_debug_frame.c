/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the perf profiler's .debug_frame conversion on its own (fuzz_elf
 * reaches it only through a well-formed ELF file): the section of a file a
 * hostile process maps, or of its debug file, rewritten into .eh_frame form
 * plus a search table (plugins/perf_profiler/debug_frame.c).
 *
 * Input: 8 bytes, the span of the file's PT_LOAD segments as two
 * little-endian u32 (min_vaddr, then its length), then the section bytes,
 * copied to a buffer of exactly their size so that ASan sees any read
 * past the end.
 */
#include <stdlib.h>
#include <string.h>

#include "elf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_elf e = { 0 };
	uint32_t lo, span;
	unsigned char *df, buf[16];

	if (size < 8)
		return 0;
	memcpy(&lo, data, 4);
	memcpy(&span, data + 4, 4);
	e.min_vaddr = lo;
	e.max_vaddr = (uint64_t)lo + span;
	size -= 8;
	df = malloc(size ? size : 1);
	if (!df)
		return 0;
	memcpy(df, data + 8, size);
	if (pp_debug_frame_convert(&e, df, size) == 0) {
		/* every table entry and the FDE it names, as libunwind reads them */
		for (uint64_t i = 0; i < e.dframe_fde_count; i++) {
			int32_t ent[2];

			if (!pp_elf_window_read(&e, e.dframe_base + e.dframe_table_off + 8 * i, ent,
						sizeof(ent)))
				abort(); /* the table it wrote must be readable */
			if ((uint64_t)ent[1] >= e.dframe_table_off)
				abort(); /* an FDE offset outside the converted entries */
			(void)pp_elf_window_read(&e, e.dframe_base + (uint32_t)ent[1], buf,
						 sizeof(buf));
		}
	}
	free(e.dframe);
	free(df);
	return 0;
}
