/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the trace_analysis plugin's trace.dat reading: the bytes go to
 * libtracecmd (through a memfd, as the plugin hands it the file's fd), the
 * events it yields into our model, and every analysis runs on what was
 * read. Crashes here may be libtracecmd's: the plugin still trusts it with
 * hostile files, so they count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ta.h"
#include "ta_an.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void ta_fuzz_analyses(const struct ta_trace *t);
const char *__asan_default_options(void);

/* libtracecmd runs in the reader child, whose failures the plugin contains
 * and reports; the fuzz target's findings are the parent's. Absurd sizes
 * from a hostile header get NULL from malloc, as they do outside ASan,
 * instead of a report (and a crash file) from the child. (Allocations
 * over libFuzzer's -malloc_limit_mb still leave an oom- file written by
 * the child: the parent, whose exit status is the finding, goes on.) */
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ta_trace *t;
	char err[256] = "";
	int fd = memfd_create("trace.dat", MFD_CLOEXEC), rc;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	t = ta_trace_new("fuzz", "trace.dat", 16u << 20);
	if (t) {
		rc = ta_read_tracedat(t, fd, err, sizeof(err));
		if (rc && !err[0])
			abort(); /* every failure says why */
		if (!rc && ta_trace_finish(t) == 0)
			ta_fuzz_analyses(t);
		ta_trace_free(t);
	}
	close(fd);
	return 0;
}
