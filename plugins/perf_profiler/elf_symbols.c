/* SPDX-License-Identifier: MIT */
/*
 * Symbols and debug information of one cached ELF image: .symtab and
 * .dynsym through libelf, and for stripped files the separate debug file
 * found by build-id (DEBUG_DIR/.build-id/xx/rest.debug) or .gnu_debuglink
 * (next to the file, in its .debug/ folder, or under DEBUG_DIR), checked
 * against its CRC32. The same debug file supplies .debug_frame when the
 * image has no .eh_frame entry for a function.
 *
 * Debug files are opened like the images (elf_open.c), read with pread,
 * and bounded (elf_internal.h). One next to the image is in a directory
 * its owner controls: no symlink is followed there. Under DEBUG_DIR, which
 * only root writes, the last one may be a symlink (distributions link
 * .build-id/xx/yyyy.debug to the debug file), but it must lead to a regular
 * file.
 *
 * libdw reads what the image says about its debug file (the build-id note:
 * dwelf_elf_gnu_build_id in elf_file.c; .gnu_debuglink's name and CRC:
 * dwelf_elf_gnu_debuglink here), but the debug file itself is looked for
 * and opened here, not by dwfl's find_debuginfo callbacks
 * (dwfl_standard_find_debuginfo, dwfl_build_id_find_debuginfo; elfutils
 * 0.188). Those open each candidate by path with a plain open(), which
 * follows a symlink anywhere in the path and blocks on a FIFO, also in the
 * image's own directory, which its owner controls; they map the candidate
 * (its CRC, and libelf's ELF_C_READ_MMAP_PRIVATE), so a debug file its owner
 * truncates kills the daemon with SIGBUS; and with DEBUGINFOD_URLS in the
 * daemon's environment they download debug files as root. A find_debuginfo
 * callback of our own would leave dwfl nothing to do: the search below is
 * that callback.
 */
#include "elf_internal.h"

#include <dlfcn.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <schedmcp/array.h>

#define MAX_DEBUG_FILE (4ULL << 30)
/* a debuglink's CRC covers the whole debug file: read this much at a time */
#define CRC_CHUNK (256u << 10)

const char *pp_sym_source_name(enum pp_sym_source s)
{
	static const char *const names[] = {
		[PP_SYMS_NONE] = "none",
		[PP_SYMS_SYMTAB] = "symtab",
		[PP_SYMS_DYNSYM] = "dynsym",
		[PP_SYMS_BUILD_ID] = "build-id debug file",
		[PP_SYMS_DEBUGLINK] = "debuglink debug file",
	};

	return (size_t)s < SMCP_COUNT(names) ? names[s] : "none";
}

struct sym_tmp {
	struct pp_sym s;
	uint8_t bind, has_size;
};

/* Aliases at one address: a sized symbol first, then perf's preference.
 * Negative: a is better. */
static int cmp_sym_tmp(const void *pa, const void *pb)
{
	const struct sym_tmp *a = pa, *b = pb;

	if (a->s.addr != b->s.addr)
		return a->s.addr < b->s.addr ? -1 : 1;
	if (a->has_size != b->has_size)
		return a->has_size ? -1 : 1;
	return pp_alias_cmp(a->bind == STB_WEAK, a->bind == STB_GLOBAL, a->s.name,
			    b->bind == STB_WEAK, b->bind == STB_GLOBAL, b->s.name);
}

/* Append the function symbols of every SHT_SYMTAB / SHT_DYNSYM section of
 * src (want_type) to *v, named in e's arena. Returns how many were added or
 * -errno. */
static int read_symtab(struct pp_elf *e, struct pp_elf *src, Elf64_Word want_type,
		       struct sym_tmp **v, size_t *n, size_t *cap)
{
	Elf_Scn *scn = NULL;
	int added = 0;
	Elf *elf;

	elf = pp_elf_begin(src);
	if (!elf)
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Shdr sh;
		size_t cnt;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != want_type || !sh.sh_entsize)
			continue;
		if (sh.sh_offset > src->img_len || sh.sh_size > src->img_len - sh.sh_offset)
			continue;
		/* libelf reads a table and its strings whole: bounded first */
		if (sh.sh_size > PP_SYMTAB_MAX || !pp_elf_section_fits(elf, sh.sh_link, PP_SYMTAB_MAX))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		cnt = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < cnt; i++) {
			GElf_Sym sym;
			const char *name;
			int t;

			if (!gelf_getsym(d, (int)i, &sym))
				break;
			t = GELF_ST_TYPE(sym.st_info);
			if ((t != STT_FUNC && t != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
			    !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			if (smcp_array_grow(v, cap, *n, sizeof(**v), 1024)) {
				elf_end(elf);
				return -ENOMEM;
			}
			(*v)[*n].s.addr = sym.st_value;
			(*v)[*n].s.size = sym.st_size;
			(*v)[*n].s.name = pp_arena_strdup(&e->names, name);
			(*v)[*n].bind = GELF_ST_BIND(sym.st_info);
			(*v)[*n].has_size = sym.st_size != 0;
			if (!(*v)[*n].s.name) {
				elf_end(elf);
				return -ENOMEM;
			}
			(*n)++;
			added++;
		}
	}
	elf_end(elf);
	return added;
}

/* Sort, keep the best alias per address, fill sizes up to the next
 * symbol where the table gave none. */
static int finish_syms(struct pp_elf *e, struct sym_tmp *v, size_t n)
{
	size_t out = 0;

	if (n > 1) /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), cmp_sym_tmp);
	e->syms = malloc((n ? n : 1) * sizeof(*e->syms));
	if (!e->syms)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (out && e->syms[out - 1].addr == v[i].s.addr)
			continue;
		e->syms[out++] = v[i].s;
	}
	for (size_t i = 0; i < out; i++) {
		uint64_t gap = i + 1 < out ? e->syms[i + 1].addr - e->syms[i].addr : 4096;

		if (!e->syms[i].size || e->syms[i].size > gap)
			e->syms[i].size = e->syms[i].size ? e->syms[i].size : gap;
	}
	e->n_syms = out;
	e->mem_bytes += out * sizeof(*e->syms);
	return 0;
}

/* Open a debug file into dbg (fd -1 when closed). follow: the last
 * component may be a symlink (under DEBUG_DIR); otherwise none may. */
static int open_debug(const char *path, bool follow, struct pp_elf *dbg)
{
	struct stat st;
	int fd;

	memset(dbg, 0, sizeof(*dbg));
	dbg->fd = -1;
	if (follow)
		fd = pp_open_checked(path, NULL, NULL, false, &st);
	else
		fd = pp_open_checked(path[0] == '/' ? "/" : NULL, path, NULL, false, &st);
	if (fd < 0)
		return fd;
	if (st.st_size < 64 || (uint64_t)st.st_size > MAX_DEBUG_FILE) {
		close(fd);
		return -ENOEXEC;
	}
	dbg->fd = fd;
	dbg->img_len = (size_t)st.st_size;
	return 0;
}

static void close_debug(struct pp_elf *dbg)
{
	if (dbg->fd >= 0)
		close(dbg->fd);
	dbg->fd = -1;
	free(dbg->pages);
	dbg->pages = NULL;
}

static bool same_build_id(const struct pp_elf *e, struct pp_elf *dbg)
{
	struct pp_elf probe = { .fd = dbg->fd, .img_len = dbg->img_len };

	/* a debug file keeps the note of the file it was split from */
	(void)pp_elf_parse_image(&probe);
	free(probe.pages);
	return probe.build_id_len && probe.build_id_len == e->build_id_len &&
	       memcmp(probe.build_id, e->build_id, e->build_id_len) == 0;
}

static int try_build_id_file(struct pp_elf *e, const char *debug_dir, struct pp_elf *dbg,
			     char *path, size_t path_len)
{
	char hex[2 * PP_BUILD_ID_MAX + 1];

	if (!e->build_id_len || !debug_dir || !*debug_dir)
		return -ENOENT;
	for (unsigned int i = 0; i < e->build_id_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", e->build_id[i]);
	snprintf(path, path_len, "%s/.build-id/%.2s/%s.debug", debug_dir, hex, hex + 2);
	if (open_debug(path, true, dbg))
		return -ENOENT;
	if (!same_build_id(e, dbg)) {
		close_debug(dbg);
		return -ENOENT;
	}
	return 0;
}

/* CRC32 of the whole file, read CRC_CHUNK at a time. */
static int file_crc(struct pp_elf *f, uint32_t *ret)
{
	unsigned char *buf = malloc(CRC_CHUNK);
	uLong crc = crc32_z(0L, Z_NULL, 0);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < f->img_len && !err;) {
		size_t n = f->img_len - off < CRC_CHUNK ? (size_t)(f->img_len - off) : CRC_CHUNK;

		err = pp_elf_read(f, off, buf, n);
		crc = crc32_z(crc, buf, n);
		off += n;
	}
	free(buf);
	*ret = (uint32_t)crc;
	return err;
}

/* The file name and CRC .gnu_debuglink holds (dwelf_elf_gnu_debuglink reads
 * the section whole: it is bounded first): 0 or -ENOENT. */
static int read_debuglink(struct pp_elf *e, char *link, size_t link_size, uint32_t *ret_crc)
{
	Elf *elf = pp_elf_begin(e);
	const char *name;
	GElf_Shdr sh;
	GElf_Word crc;
	size_t len;
	int err = -ENOENT;

	if (!elf)
		return -ENOENT;
	if (pp_elf_find_section(elf, ".gnu_debuglink", NULL, NULL, &sh, NULL) != 0 ||
	    sh.sh_size > PP_DEBUGLINK_MAX)
		goto out;
	name = dwelf_elf_gnu_debuglink(elf, &crc);
	/* a name, not a path: nothing that leads out of the directories tried */
	if (!name || !*name || (len = strlen(name)) >= link_size || strchr(name, '/') ||
	    strcmp(name, "..") == 0)
		goto out;
	memcpy(link, name, len + 1);
	*ret_crc = crc;
	err = 0;
out:
	elf_end(elf);
	return err;
}

static int try_debuglink(struct pp_elf *e, const char *debug_dir, struct pp_elf *dbg, char *path,
			 size_t path_len)
{
	char dir[PATH_MAX], link[256];
	const char *slash;
	uint32_t crc, got;

	if (read_debuglink(e, link, sizeof(link), &crc) != 0)
		return -ENOENT;
	slash = strrchr(e->path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - e->path) : 0, e->path);
	for (int i = 0; i < 3; i++) {
		if (i == 0)
			snprintf(path, path_len, "%s/%s", dir, link);
		else if (i == 1)
			snprintf(path, path_len, "%s/.debug/%s", dir, link);
		else if (debug_dir && *debug_dir)
			snprintf(path, path_len, "%s%s/%s", debug_dir, dir, link);
		else
			break;
		/* the image's directory is its owner's: no symlink there */
		if (strcmp(path, e->path) == 0 || open_debug(path, i == 2, dbg))
			continue;
		if (file_crc(dbg, &got) == 0 && got == crc)
			return 0;
		close_debug(dbg);
	}
	return -ENOENT;
}

int pp_elf_open_debug(struct pp_elf *e, const char *debug_dir, struct pp_elf *dbg)
{
	char path[PATH_MAX];

	memset(dbg, 0, sizeof(*dbg));
	dbg->fd = -1;
	if (e->is_vdso || (!e->img && e->fd < 0))
		return -ENOENT;
	if (try_build_id_file(e, debug_dir, dbg, path, sizeof(path)) == 0 ||
	    try_debuglink(e, debug_dir, dbg, path, sizeof(path)) == 0)
		return 0;
	return -ENOENT;
}

void pp_elf_close_debug(struct pp_elf *dbg)
{
	close_debug(dbg);
}

/* Convert the .debug_frame of src. False when src has none that could be
 * read (the next source may have one), true when it was tried. */
static bool convert_debug_frame(struct pp_elf *e, struct pp_elf *src)
{
	struct pp_elf_section df;
	int err;

	err = pp_elf_section(src, ".debug_frame", PP_DEBUG_FRAME_MAX, &df);
	if (err == -ENOTSUP)
		e->debug_note = ".debug_frame is compressed with zstd (only zlib supported)";
	else if (err == -EFBIG)
		e->debug_note = ".debug_frame is over the reader's bound (32 MiB): not read";
	if (err || !df.len) {
		pp_elf_section_free(&df);
		return false;
	}
	if (pp_debug_frame_convert(e, df.p, df.len) && !e->debug_note)
		e->debug_note = ".debug_frame could not be converted";
	pp_elf_section_free(&df);
	return true;
}

void pp_elf_load_debuginfo(struct pp_elf *e, const char *debug_dir, struct pp_elf_cache_stats *st)
{
	struct sym_tmp *v = NULL;
	size_t n = 0, cap = 0;
	struct pp_elf dbg = { .fd = -1 };
	char dpath[PATH_MAX];
	struct stat fst;
	int r;

	if (e->syms_tried)
		return;
	e->syms_tried = true;
	e->dframe_tried = true;
	if (!e->img && e->fd < 0)
		return;
	if (!e->img && fstat(e->fd, &fst) == 0 && (uint64_t)fst.st_size < e->img_len)
		e->truncated = true;
	r = read_symtab(e, e, SHT_SYMTAB, &v, &n, &cap);
	if (r > 0) {
		e->sym_source = PP_SYMS_SYMTAB;
	} else if (!e->is_vdso) {
		enum pp_sym_source src = PP_SYMS_BUILD_ID;

		if (try_build_id_file(e, debug_dir, &dbg, dpath, sizeof(dpath)) != 0) {
			src = PP_SYMS_DEBUGLINK;
			if (try_debuglink(e, debug_dir, &dbg, dpath, sizeof(dpath)) != 0)
				src = PP_SYMS_NONE;
		}
		if (src != PP_SYMS_NONE) {
			if (st)
				st->debug_files++;
			r = read_symtab(e, &dbg, SHT_SYMTAB, &v, &n, &cap);
			if (r > 0) {
				e->sym_source = src;
				e->debug_path = strdup(dpath);
			}
		}
	}
	r = read_symtab(e, e, SHT_DYNSYM, &v, &n, &cap);
	if (r > 0 && e->sym_source == PP_SYMS_NONE)
		e->sym_source = PP_SYMS_DYNSYM;
	if (e->truncated)
		e->debug_note = "the file shrank after it was opened (truncated?): what it no "
				"longer holds is not read";
	else if (e->sym_source == PP_SYMS_NONE)
		e->debug_note = "no .symtab, .dynsym or debug file";
	else if (e->sym_source == PP_SYMS_DYNSYM)
		e->debug_note = "stripped and no debug file: only exported functions resolve";
	if (finish_syms(e, v, n))
		e->n_syms = 0;
	free(v);

	/* CFI for functions .eh_frame does not cover */
	if (!convert_debug_frame(e, e) && dbg.fd >= 0)
		(void)convert_debug_frame(e, &dbg);
	close_debug(&dbg);
	e->mem_bytes += e->names.bytes;
}

/*
 * C++ names are demangled when a symbol is first hit, with libstdc++'s
 * __cxa_demangle if the system has it (looked up at run time: the daemon
 * is C and must not depend on libstdc++), and shown without the parameter
 * list, as perf report shows them.
 */
typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static demangle_fn demangler(void)
{
	static demangle_fn fn;
	static bool tried;
	void *lib;

	if (tried)
		return fn;
	tried = true;
	lib = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (lib)
		fn = (demangle_fn)dlsym(lib, "__cxa_demangle");
	/* kept open for the life of the process: fn points into it */
	return fn;
}

/* "ns::f<int>(char const*) const [clone .isra.0]" -> "ns::f<int>" */
static void strip_params(char *s)
{
	size_t n = strlen(s);
	char *clone;
	int depth = 0;

	while (n && s[n - 1] == ']' && (clone = strstr(s, " [clone "))) {
		*clone = '\0';
		n = strlen(s);
	}
	/* trailing qualifiers after the parameter list */
	for (;;) {
		static const char *const quals[] = { " const", " volatile", " &&", " &" };
		bool cut = false;

		for (size_t i = 0; i < SMCP_COUNT(quals); i++) {
			size_t q = strlen(quals[i]);

			if (n > q && strcmp(s + n - q, quals[i]) == 0) {
				n -= q;
				s[n] = '\0';
				cut = true;
			}
		}
		if (!cut)
			break;
	}
	if (!n || s[n - 1] != ')')
		return;
	for (size_t i = n; i-- > 0;) {
		if (s[i] == ')')
			depth++;
		else if (s[i] == '(' && --depth == 0) {
			if (i > 0)
				s[i] = '\0';
			return;
		}
	}
}

static void demangle(struct pp_elf *e, struct pp_sym *sym)
{
	demangle_fn fn;
	char *d;
	const char *kept;
	int status = -1;

	if (strncmp(sym->name, "_Z", 2) != 0 || !(fn = demangler()))
		return;
	d = fn(sym->name, NULL, NULL, &status);
	if (!d || status != 0) {
		free(d);
		return;
	}
	strip_params(d);
	kept = pp_arena_strdup(&e->names, d);
	free(d);
	if (kept)
		sym->name = kept;
}

const struct pp_sym *pp_elf_symbol(struct pp_elf *e, const char *debug_dir, uint64_t vaddr)
{
	size_t lo = 0, hi;

	if (!e->syms_tried)
		pp_elf_load_debuginfo(e, debug_dir, NULL);
	hi = e->n_syms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	lo--;
	if (vaddr - e->syms[lo].addr >= e->syms[lo].size)
		return NULL;
	demangle(e, &e->syms[lo]);
	return &e->syms[lo];
}
