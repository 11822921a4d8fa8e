/* SPDX-License-Identifier: MIT */
/* `schedmcp flamegraph`: folded stacks on stdin, a flame graph (SVG, or
 * PNG with --png) on stdout; --diff OLD makes it differential. A filter a
 * person runs on their own files: human-facing output to stdout is allowed
 * here (the file is named for the CLI). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "draw/draw.h"

/* Folded stacks of even a long system-wide profile are a few MiB. */
#define CLI_MAX_FOLDED (256u << 20)

/* All of fd, at most CLI_MAX_FOLDED bytes: 0, -E2BIG, -errno. */
static int read_all(int fd, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb;

			if (cap >= CLI_MAX_FOLDED) {
				free(buf);
				return -E2BIG;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int add_file(struct draw_flame *f, const char *path, int which)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd = 0, err;

	if (path) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			return -EISDIR;
		}
	}
	err = read_all(fd, &buf, &len);
	if (path)
		close(fd);
	if (!err)
		err = draw_flame_add(f, buf, len, which);
	free(buf);
	return err;
}

int cli_flamegraph(const struct daemon_opts *o)
{
	struct draw_flame_opts fo = { .title = o->title };
	struct draw_flame f;
	char note[160];
	uint32_t cut = 0;
	void *out = NULL;
	size_t out_len = 0;
	int err;

	if (o->png && draw_png_missing()) {
		fprintf(stderr, "schedmcp flamegraph: %s\n", draw_png_missing());
		return 1;
	}
	if (o->png && isatty(1)) {
		fputs("schedmcp flamegraph: not writing a PNG to a terminal: redirect standard "
		      "output to a file\n", stderr);
		return 1;
	}
	if (isatty(0))
		fputs("schedmcp flamegraph: reading folded stacks from standard input\n", stderr);
	if (draw_flame_init(&f))
		return 1;
	err = add_file(&f, NULL, 0);
	if (err) {
		fprintf(stderr, "schedmcp flamegraph: standard input: %s\n",
			err == -E2BIG ? "more than 256 MiB" : strerror(-err));
		goto out;
	}
	if (o->diff_path && (err = add_file(&f, o->diff_path, 1))) {
		fprintf(stderr, "schedmcp flamegraph: %s: %s\n", o->diff_path,
			err == -E2BIG ? "more than 256 MiB" : strerror(-err));
		goto out;
	}
	if (!f.nodes[0].count[0]) {
		fprintf(stderr, "schedmcp flamegraph: no samples in the input (%llu lines without "
				"a count); expected lines like 'main;work;leaf 42'\n",
			(unsigned long long)f.bad_lines[0]);
		err = -ENODATA;
		goto out;
	}
	snprintf(note, sizeof(note), "%llu samples%s%s", (unsigned long long)f.nodes[0].count[0],
		 f.diff ? "; width: this profile, colour: change from the one before" : "",
		 f.cut ? "; frames past the node limit dropped" : "");
	fo.note = note;
	if (o->png)
		err = draw_flame_png(&f, &fo, 0, (unsigned char **)&out, &out_len, &cut);
	else
		err = draw_flame_svg(&f, &fo, (char **)&out, &out_len);
	if (err) {
		fprintf(stderr, "schedmcp flamegraph: cannot draw: %s\n", strerror(-err));
		goto out;
	}
	if (cut)
		fprintf(stderr, "schedmcp flamegraph: the PNG shows frames up to depth %u of %u "
				"(SVG shows all)\n", cut, f.max_depth);
	if (f.bad_lines[0] + f.bad_lines[1])
		fprintf(stderr,
			"schedmcp flamegraph: %llu lines skipped (no sample count, or one too "
			"large)\n",
			(unsigned long long)(f.bad_lines[0] + f.bad_lines[1]));
	if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout)) {
		fprintf(stderr, "schedmcp flamegraph: writing: %s\n", strerror(errno));
		err = -EIO;
	}
out:
	free(out);
	draw_flame_free(&f);
	return err ? 1 : 0;
}
