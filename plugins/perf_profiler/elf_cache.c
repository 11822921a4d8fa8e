/* SPDX-License-Identifier: MIT */
/*
 * The cache of ELF images: lookup by file identity or build-id, loading
 * (the file opened as elf_open.c says, its unwind tables copied), reference
 * counting and eviction of the least recently used unreferenced entries
 * beyond max_entries. Each entry holds one open file descriptor.
 */
#include "elf_internal.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

/* larger files are not ELF images we profile (and the offsets stay far
 * from overflowing) */
#define MAX_IMAGE (4ULL << 30)
#define KEY_VDSO 0x76647330ULL

static uint64_t key_bid(const uint8_t *bid, size_t len)
{
	return pp_hash_bytes(bid, len, 0x62696400);
}

static uint64_t key_file(dev_t dev, ino_t ino, off_t size, int64_t mtime_ns)
{
	uint64_t k[4] = { (uint64_t)dev, (uint64_t)ino, (uint64_t)size, (uint64_t)mtime_ns };

	return pp_hash_bytes(k, sizeof(k), 0x66696c65);
}

int pp_elf_cache_init(struct pp_elf_cache *c, const char *debug_dir, size_t max_entries)
{
	memset(c, 0, sizeof(*c));
	c->debug_dir = strdup(debug_dir ? debug_dir : "");
	c->max_entries = max_entries ? max_entries : 256;
	return c->debug_dir ? 0 : -ENOMEM;
}

static void elf_free(struct pp_elf *e)
{
	if (!e)
		return;
	if (e->fd >= 0)
		close(e->fd);
	free(e->img);
	free(e->pages);
	for (size_t i = 0; i < SMCP_COUNT(e->copies); i++)
		free(e->copies[i].p);
	free(e->path);
	free(e->debug_path);
	free(e->dframe);
	free(e->syms);
	pp_arena_free(&e->names);
	free(e);
}

static void remove_slot(struct pp_elf_cache *c, uint32_t slot)
{
	struct pp_elf *e = c->slots[slot];
	uint64_t *v;

	/* the keys point at this slot + 1; clear those that do */
	if (e->build_id_len && (v = pp_map64_get(&c->by_key, key_bid(e->build_id, e->build_id_len))) &&
	    *v == slot + 1ULL)
		*v = 0;
	if ((v = pp_map64_get(&c->by_key, key_file(e->dev, e->ino, e->size, e->mtime_ns))) &&
	    *v == slot + 1ULL)
		*v = 0;
	if (e->is_vdso && (v = pp_map64_get(&c->by_key, KEY_VDSO)) && *v == slot + 1ULL)
		*v = 0;
	c->slots[slot] = NULL;
	c->n_entries--;
	c->copy_bytes -= e->copy_bytes;
	elf_free(e);
}

void pp_elf_cache_fini(struct pp_elf_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_slots; i++)
		if (c->slots[i])
			remove_slot(c, (uint32_t)i);
	free(c->slots);
	free(c->debug_dir);
	pp_map64_free(&c->by_key);
	memset(c, 0, sizeof(*c));
}

void pp_elf_cache_drop_unused(struct pp_elf_cache *c)
{
	for (size_t i = 0; i < c->n_slots; i++)
		if (c->slots[i] && !c->slots[i]->refs)
			remove_slot(c, (uint32_t)i);
}

static void evict(struct pp_elf_cache *c)
{
	while (c->n_entries > c->max_entries) {
		struct pp_elf *old = NULL;
		uint32_t slot = 0;

		for (size_t i = 0; i < c->n_slots; i++) {
			struct pp_elf *e = c->slots[i];

			if (e && !e->refs && (!old || e->last_use < old->last_use)) {
				old = e;
				slot = (uint32_t)i;
			}
		}
		if (!old)
			return; /* everything is in use by the current profile */
		remove_slot(c, slot);
		c->st.evictions++;
	}
}

static struct pp_elf *lookup(struct pp_elf_cache *c, uint64_t key)
{
	uint64_t *v = pp_map64_get(&c->by_key, key);

	if (!v || !*v || *v > c->n_slots)
		return NULL;
	return c->slots[*v - 1];
}

static int insert(struct pp_elf_cache *c, struct pp_elf *e)
{
	uint64_t *v;
	size_t slot;

	for (slot = 0; slot < c->n_slots && c->slots[slot]; slot++)
		;
	if (slot == c->n_slots) {
		size_t n = c->n_slots ? c->n_slots * 2 : 64;
		struct pp_elf **ns;

		/* the windows must stay below the kernel half */
		if (n > (1u << 20))
			return -ENOSPC;
		ns = realloc(c->slots, n * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		memset(ns + c->n_slots, 0, (n - c->n_slots) * sizeof(*ns));
		c->slots = ns;
		c->n_slots = n;
	}
	e->slot = (uint32_t)slot;
	if (e->is_vdso) {
		v = pp_map64_put(&c->by_key, KEY_VDSO, NULL);
		if (!v)
			return -ENOMEM;
		*v = slot + 1;
	} else {
		v = pp_map64_put(&c->by_key, key_file(e->dev, e->ino, e->size, e->mtime_ns), NULL);
		if (!v)
			return -ENOMEM;
		*v = slot + 1;
		if (e->build_id_len) {
			v = pp_map64_put(&c->by_key, key_bid(e->build_id, e->build_id_len), NULL);
			if (!v)
				return -ENOMEM;
			*v = slot + 1;
		}
	}
	c->slots[slot] = e;
	c->n_entries++;
	return 0;
}

static struct pp_elf *take(struct pp_elf_cache *c, struct pp_elf *e)
{
	e->refs++;
	e->last_use = ++c->tick;
	c->st.hits++;
	return e;
}

const char *pp_elf_strerror(int err)
{
	switch (err) {
	case -ESTALE:
		return "file replaced since it was mapped";
	case -ELOOP:
		return "its path now leads through a symbolic link, which is not followed";
	case -ENXIO:
		return "its path is not a regular file now (devices, FIFOs and sockets are not opened)";
	case -EXDEV:
		return "its path climbs out with '..'";
	case -ENOEXEC:
		return "not an x86_64 ELF file (or one beyond the reader's bounds)";
	case -EIO:
		return "the file shrank after it was opened (truncated?)";
	case 0:
		return "not loaded";
	default:
		return strerror(-err);
	}
}

/* Open the file w names by one of its routes (0, 1, 2: see pp_elf_get). */
static int open_route(const struct pp_elf_where *w, int route, struct stat *st)
{
	char base[PATH_MAX];
	const char *root = w->root ? w->root : "";
	const char *rel = w->path;

	switch (route) {
	case 0:
		if (w->pid <= 0 || w->end <= w->start)
			return -ENOENT;
		snprintf(base, sizeof(base), "%s/proc/%" PRId32 "/map_files/%" PRIx64 "-%" PRIx64,
			 root, w->pid, w->start, w->end);
		return pp_open_checked(base, NULL, &w->ident, true, st);
	case 1:
		if (w->pid <= 0 || rel[0] != '/')
			return -ENOENT;
		snprintf(base, sizeof(base), "%s/proc/%" PRId32 "/root", root, w->pid);
		return pp_open_checked(base, rel, &w->ident, false, st);
	default:
		return pp_open_checked(rel[0] == '/' ? "/" : NULL, rel, &w->ident, false, st);
	}
}

/* A failure that says more than "not there" wins over one that does not. */
static bool telling(int err)
{
	return err != -ENOENT && err != -EPERM && err != -EACCES && err != -ESRCH;
}

/* Copy .eh_frame_hdr and .eh_frame to the heap, within the bounds of
 * elf_cache.h; what is not copied is read from the file when needed. */
static void copy_unwind_tables(struct pp_elf_cache *c, struct pp_elf *e)
{
	uint64_t off[2] = { e->eh_hdr_off, 0 }, len[2] = { e->eh_hdr_len, 0 };

	if (!e->have_eh_table || pp_elf_section_range(e, ".eh_frame", &off[1], &len[1]) != 0)
		len[1] = 0;
	for (int i = 0; i < 2; i++) {
		struct pp_elf_copy *cp = &e->copies[i];

		if (!len[i] || len[i] > PP_COPY_MAX || c->copy_bytes + len[i] > PP_COPY_BUDGET)
			continue;
		cp->p = malloc(len[i]);
		if (!cp->p)
			continue;
		/* copies[] is empty yet: this reads the file */
		if (pp_elf_read(e, off[i], cp->p, len[i]) != 0) {
			free(cp->p);
			cp->p = NULL;
			continue;
		}
		cp->off = off[i];
		cp->len = len[i];
		e->copy_bytes += len[i];
		c->copy_bytes += len[i];
	}
	e->mem_bytes += e->copy_bytes;
}

static bool same_bid(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	return a_len == b_len && !memcmp(a, b, a_len);
}

/*
 * Load the file open at fd (taken over) as a new entry, or take the cached
 * one it turns out to be. The build-id the kernel told must match.
 */
static int load_fd(struct pp_elf_cache *c, const struct pp_elf_where *w, size_t bid_len, int fd,
		   const struct stat *st, struct pp_elf **ret)
{
	struct pp_elf *e, *hit;
	int err;

	hit = lookup(c, key_file(st->st_dev, st->st_ino, st->st_size,
				 (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec));
	if (hit && (!bid_len || same_bid(hit->build_id, hit->build_id_len, w->build_id, bid_len))) {
		close(fd);
		*ret = take(c, hit);
		return 0;
	}
	if (st->st_size < 64 || (uint64_t)st->st_size > MAX_IMAGE) {
		close(fd);
		return -ENOEXEC;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		return -ENOMEM;
	}
	e->fd = fd;
	e->img_len = (size_t)st->st_size;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	err = pp_elf_parse_image(e);
	if (err)
		goto fail;
	if (bid_len && !same_bid(e->build_id, e->build_id_len, w->build_id, bid_len)) {
		err = -ESTALE;
		goto fail;
	}
	/* the same file reached by another path (container root, hard link) */
	if (e->build_id_len && (hit = lookup(c, key_bid(e->build_id, e->build_id_len)))) {
		elf_free(e);
		*ret = take(c, hit);
		return 0;
	}
	e->path = strdup(w->path);
	if (!e->path) {
		err = -ENOMEM;
		goto fail;
	}
	err = insert(c, e);
	if (err)
		goto fail;
	copy_unwind_tables(c, e);
	c->st.loads++;
	e->refs = 1;
	e->last_use = ++c->tick;
	evict(c);
	*ret = e;
	return 0;
fail:
	c->st.failures++;
	elf_free(e);
	return err;
}

int pp_elf_get(struct pp_elf_cache *c, const struct pp_elf_where *w, struct pp_elf **ret)
{
	size_t bid_len = w->build_id ? w->build_id_len : 0;
	struct pp_elf *hit;
	int err = -ENOENT;

	c->st.lookups++;
	if (bid_len > PP_BUILD_ID_MAX)
		bid_len = PP_BUILD_ID_MAX;
	/* the kernel told us the build-id: no need to touch the file */
	if (bid_len && (hit = lookup(c, key_bid(w->build_id, bid_len)))) {
		*ret = take(c, hit);
		return 0;
	}
	/*
	 * The mapped file itself while the process maps it; else its path as
	 * the process sees it (another mount namespace), else as we do. A
	 * route whose file turns out to be another one (-ESTALE: replaced on
	 * our side, a container's differs) gives way to the next.
	 */
	for (int route = 0; route < 3; route++) {
		struct stat st;
		int fd = open_route(w, route, &st), r;

		r = fd < 0 ? fd : load_fd(c, w, bid_len, fd, &st, ret);
		if (r == 0)
			return 0;
		if (r == -ENOMEM)
			return r;
		if (!telling(err)) /* the first telling failure is kept */
			err = r;
	}
	return err;
}

int pp_elf_get_vdso(struct pp_elf_cache *c, struct pp_elf **ret)
{
	const unsigned char *vdso = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	struct pp_elf *e, *hit;
	const Elf64_Ehdr *eh;
	size_t len = 0;
	int err;

	c->st.lookups++;
	if ((hit = lookup(c, KEY_VDSO))) {
		*ret = take(c, hit);
		return 0;
	}
	if (!vdso)
		return -ENOENT;
	eh = (const Elf64_Ehdr *)vdso;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	/* the image ends with the last of the section headers or segments */
	len = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(vdso + eh->e_phoff) + i;

		if (ph->p_offset + ph->p_filesz > len)
			len = ph->p_offset + ph->p_filesz;
	}
	if (len < sizeof(*eh) || len > (1u << 20))
		return -ENOEXEC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->is_vdso = true;
	e->fd = -1;
	e->img = malloc(len);
	e->path = strdup("[vdso]");
	if (!e->img || !e->path) {
		err = -ENOMEM;
		goto fail;
	}
	memcpy(e->img, vdso, len);
	e->img_len = len;
	err = pp_elf_parse_image(e);
	if (!err)
		err = insert(c, e);
	if (err)
		goto fail;
	c->st.loads++;
	e->refs = 1;
	e->last_use = ++c->tick;
	*ret = e;
	return 0;
fail:
	elf_free(e);
	return err;
}

void pp_elf_put(struct pp_elf_cache *c, struct pp_elf *e)
{
	if (!e || !e->refs)
		return;
	e->refs--;
	if (!e->refs)
		evict(c);
}
