/* SPDX-License-Identifier: MIT */
/*
 * The hostile user's program for test_hostile.py (run as nobody):
 *
 *   pp-spinhost LIB TARGET [LIB TARGET]...
 *
 * Waits for a line on stdin (so that the profile is already running and
 * sees the mmap with the library's name), dlopens every LIB, then for each
 * whose TARGET is not "-" renames LIB to LIB.away and puts a symlink to
 * TARGET in its place: the mapping stays on the real file, the name now
 * leads elsewhere. Prints "spinning" and spins in each library's
 * pp_spin_ms in turn until killed.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LIBS 8

typedef uint64_t (*spin_fn)(unsigned int ms);

int main(int argc, char **argv)
{
	spin_fn spin[MAX_LIBS];
	char line[64], away[4096];
	int n = 0;

	if (argc < 3 || (argc - 1) % 2 || (argc - 1) / 2 > MAX_LIBS) {
		fprintf(stderr, "usage: pp-spinhost LIB TARGET [LIB TARGET]...\n");
		return 2;
	}
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 1; i < argc; i += 2, n++) {
		void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);

		if (!h || !(spin[n] = (spin_fn)dlsym(h, "pp_spin_ms"))) {
			fprintf(stderr, "pp-spinhost: %s: %s\n", argv[i], dlerror());
			return 1;
		}
		if (strcmp(argv[i + 1], "-") == 0)
			continue;
		snprintf(away, sizeof(away), "%s.away", argv[i]);
		if (rename(argv[i], away) != 0 || symlink(argv[i + 1], argv[i]) != 0) {
			perror("pp-spinhost: plant");
			return 1;
		}
	}
	printf("spinning\n");
	fflush(stdout);
	for (;;)
		for (int i = 0; i < n; i++)
			spin[i](20);
}
