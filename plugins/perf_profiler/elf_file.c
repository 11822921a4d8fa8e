/* SPDX-License-Identifier: MIT */
/*
 * One ELF image: program headers, build-id, the .eh_frame_hdr search table,
 * and section contents (inflating SHF_COMPRESSED and .zdebug_* sections
 * with zlib, a chunk at a time). The file is read with pread, and through
 * libelf in its ELF_C_READ mode, which preads too: nothing is mapped, so a
 * file truncated under us reads short instead of faulting (elf_cache.h).
 */
#include "elf_internal.h"

#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* compressed input is read this much at a time */
#define INFLATE_CHUNK (64u << 10)

/* Serve a small read from e's pages, reading the page first if needed;
 * false when it cannot (the caller reads the file, and reports a short
 * read). */
static bool read_paged(struct pp_elf *e, uint64_t off, void *buf, size_t len)
{
	uint64_t pg = off & ~(uint64_t)(PP_PAGE_SIZE - 1);
	unsigned int slot = (unsigned int)((pg / PP_PAGE_SIZE) % PP_PAGES);
	unsigned char *p;

	if (len > 256 || off - pg + len > PP_PAGE_SIZE)
		return false;
	if (!e->pages) {
		e->pages = malloc((size_t)PP_PAGES * PP_PAGE_SIZE);
		if (!e->pages)
			return false;
		e->mem_bytes += (size_t)PP_PAGES * PP_PAGE_SIZE;
	}
	p = e->pages + (size_t)slot * PP_PAGE_SIZE;
	if (!e->page_len[slot] || e->page_off[slot] != pg) {
		size_t want = e->img_len - pg < PP_PAGE_SIZE ? (size_t)(e->img_len - pg) : PP_PAGE_SIZE;
		ssize_t n;

		do
			n = pread(e->fd, p, want, (off_t)pg);
		while (n < 0 && errno == EINTR);
		e->page_off[slot] = pg;
		e->page_len[slot] = n > 0 ? (size_t)n : 0;
	}
	if (off - pg + len > e->page_len[slot])
		return false;
	memcpy(buf, p + (off - pg), len);
	return true;
}

int pp_elf_read(struct pp_elf *e, uint64_t off, void *buf, size_t len)
{
	unsigned char *out = buf;

	if (off > e->img_len || len > e->img_len - off)
		return -EIO;
	if (e->img) { /* the vDSO's copy */
		memcpy(out, e->img + off, len);
		return 0;
	}
	for (size_t i = 0; i < PP_ARRAY_SIZE(e->copies); i++) {
		const struct pp_elf_copy *c = &e->copies[i];

		if (c->p && off >= c->off && off - c->off <= c->len && len <= c->len - (off - c->off)) {
			memcpy(out, c->p + (off - c->off), len);
			return 0;
		}
	}
	if (read_paged(e, off, out, len))
		return 0;
	while (len) {
		ssize_t n = pread(e->fd, out, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			e->truncated = true;
			return -EIO;
		}
		out += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

Elf *pp_elf_begin(struct pp_elf *e)
{
	Elf64_Ehdr eh;
	Elf *elf;

	if (pp_elf_read(e, 0, &eh, sizeof(eh)) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return NULL;
	/*
	 * libelf sizes its section table (~200 bytes a section) from these
	 * counts before anything checks them against the file: refuse the
	 * extended numbering (e_shnum 0 with sections, e_phnum PN_XNUM) that
	 * lets a small file claim billions, and odd entry sizes.
	 */
	if ((eh.e_shnum == 0 && eh.e_shoff != 0) || eh.e_shnum >= SHN_LORESERVE ||
	    eh.e_phnum == PN_XNUM || (eh.e_shnum && eh.e_shentsize != sizeof(Elf64_Shdr)) ||
	    (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)))
		return NULL;
	elf_version(EV_CURRENT);
	if (e->img)
		elf = elf_memory((char *)e->img, e->img_len);
	else
		elf = elf_begin(e->fd, ELF_C_READ, NULL); /* pread, never mmap */
	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		elf = NULL;
	}
	return elf;
}

bool pp_elf_section_fits(Elf *elf, size_t ndx, uint64_t max)
{
	Elf_Scn *scn = elf_getscn(elf, ndx);
	GElf_Shdr sh;

	return scn && gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_NOBITS || sh.sh_size <= max);
}

/* Size in bytes of a DW_EH_PE-encoded value with a fixed size; 0 if variable/unknown. */
static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		return 8;
	case 0x02: /* udata2 */
	case 0x0a: /* sdata2 */
		return 2;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		return 4;
	default:
		return 0;
	}
}

static uint64_t read_uval(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	memcpy(&v, p, n); /* little-endian hosts only: x86_64 is the target */
	return v;
}

static void parse_eh_frame_hdr(struct pp_elf *e, const GElf_Phdr *ph)
{
	unsigned char h[4 + 8 + 8];
	size_t ptr_sz, cnt_sz;

	if (ph->p_offset > e->img_len || ph->p_filesz > e->img_len - ph->p_offset ||
	    ph->p_filesz < 4 || pp_elf_read(e, ph->p_offset, h, 4) != 0)
		return;
	/* version 1; the table must be datarel|sdata4, what libunwind searches */
	if (h[0] != 1 || h[3] != 0x3b || h[1] == 0xff || h[2] == 0xff)
		return;
	ptr_sz = enc_size(h[1]);
	cnt_sz = enc_size(h[2]);
	if (!ptr_sz || !cnt_sz || 4 + ptr_sz + cnt_sz > ph->p_filesz ||
	    pp_elf_read(e, ph->p_offset + 4, h + 4, ptr_sz + cnt_sz) != 0)
		return;
	e->eh_fde_count = read_uval(h + 4 + ptr_sz, cnt_sz);
	if (e->eh_fde_count == 0 ||
	    e->eh_fde_count > (ph->p_filesz - 4 - ptr_sz - cnt_sz) / 8)
		return;
	e->eh_hdr_vaddr = ph->p_vaddr;
	e->eh_table_vaddr = ph->p_vaddr + 4 + ptr_sz + cnt_sz;
	e->eh_hdr_off = ph->p_offset;
	e->eh_hdr_len = ph->p_filesz;
	e->have_eh_table = true;
}

/* The notes of a PT_NOTE segment (its first PP_NOTES_MAX bytes). */
static void parse_note_segment(struct pp_elf *e, uint64_t off, uint64_t len)
{
	unsigned char *p;

	if (len > PP_NOTES_MAX)
		len = PP_NOTES_MAX;
	if (len < 12 || !(p = malloc(len)))
		return;
	if (pp_elf_read(e, off, p, len) == 0)
		pp_elf_parse_notes(e, p, len);
	free(p);
}

void pp_elf_parse_notes(struct pp_elf *e, const unsigned char *p, size_t len)
{
	size_t off = 0;

	while (off + 12 <= len) {
		uint32_t namesz, descsz, type;
		size_t name_off, desc_off;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		name_off = off + 12;
		desc_off = name_off + ((namesz + 3) & ~3u);
		if (desc_off > len || descsz > len - desc_off)
			return;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 &&
		    memcmp(p + name_off, "GNU", 4) == 0 && descsz > 0) {
			e->build_id_len = descsz > PP_BUILD_ID_MAX ? PP_BUILD_ID_MAX : descsz;
			memcpy(e->build_id, p + desc_off, e->build_id_len);
			return;
		}
		off = desc_off + ((descsz + 3) & ~3u);
	}
}

int pp_elf_parse_image(struct pp_elf *e)
{
	GElf_Ehdr eh;
	size_t nph;
	Elf *elf;
	int err = 0;

	elf = pp_elf_begin(e);
	if (!elf)
		return -ENOEXEC;
	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &nph) != 0) {
		err = -ENOEXEC;
		goto out;
	}
	e->e_type = eh.e_type;
	e->min_vaddr = UINT64_MAX;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && e->n_loads < PP_ELF_MAX_LOADS) {
			struct pp_elf_load *l = &e->loads[e->n_loads++];

			l->vaddr = ph.p_vaddr;
			l->memsz = ph.p_memsz;
			l->off = ph.p_offset;
			l->filesz = ph.p_filesz;
			l->flags = ph.p_flags;
			if (ph.p_vaddr < e->min_vaddr)
				e->min_vaddr = ph.p_vaddr;
			if (ph.p_vaddr + ph.p_memsz > e->max_vaddr)
				e->max_vaddr = ph.p_vaddr + ph.p_memsz;
		} else if (ph.p_type == PT_GNU_EH_FRAME) {
			parse_eh_frame_hdr(e, &ph);
		} else if (ph.p_type == PT_NOTE && !e->build_id_len &&
			   ph.p_offset < e->img_len && ph.p_filesz <= e->img_len - ph.p_offset) {
			parse_note_segment(e, ph.p_offset, ph.p_filesz);
		}
	}
	if (!e->build_id_len) {
		void *p;
		size_t n;

		/* debug files may carry the note only as a section */
		if (pp_elf_section(e, ".note.gnu.build-id", PP_NOTES_MAX, &p, &n) == 0) {
			pp_elf_parse_notes(e, p, n);
			free(p);
		}
	}
	if (!e->n_loads) {
		e->min_vaddr = e->max_vaddr = 0;
		err = -ENOEXEC;
		goto out;
	}
	/* windows are PP_WIN_SIZE wide; converted CFI goes above max_vaddr */
	if (e->max_vaddr >= PP_WIN_SIZE / 2)
		e->have_eh_table = false;
out:
	elf_end(elf);
	return err;
}

bool pp_elf_off_to_vaddr(const struct pp_elf *e, uint64_t off, uint64_t *ret)
{
	for (unsigned int i = 0; i < e->n_loads; i++) {
		const struct pp_elf_load *l = &e->loads[i];

		/* mappings start on page boundaries: accept the page-aligned head */
		uint64_t start = l->off & ~0xfffULL;

		if (off >= start && off < l->off + l->filesz) {
			*ret = off - l->off + l->vaddr;
			return true;
		}
	}
	return false;
}

bool pp_elf_window_read(struct pp_elf *e, uint64_t woff, void *buf, size_t len)
{
	unsigned char *out = buf;

	memset(buf, 0, len);
	if (e->dframe && woff >= e->dframe_base && woff < e->dframe_base + e->dframe_len) {
		size_t o = woff - e->dframe_base, n = e->dframe_len - o;

		memcpy(out, e->dframe + o, n < len ? n : len);
		return true;
	}
	/* the segment holding the first byte; the rest reads as zero past its
	 * end (reads are word-sized, segments rarely end mid-word) */
	for (unsigned int i = 0; i < e->n_loads; i++) {
		const struct pp_elf_load *l = &e->loads[i];
		uint64_t fo, n;

		if (woff < l->vaddr || woff >= l->vaddr + l->filesz)
			continue;
		fo = woff - l->vaddr + l->off;
		if (fo >= e->img_len)
			return false;
		n = l->vaddr + l->filesz - woff;
		if (n > e->img_len - fo)
			n = e->img_len - fo;
		return pp_elf_read(e, fo, out, n < len ? n : len) == 0;
	}
	return false;
}

/*
 * Inflate the zlib stream of in_len bytes at file offset off to exactly
 * out_len bytes. out_len above max is refused before anything is read;
 * input is read INFLATE_CHUNK at a time and the output grows as it fills,
 * so a section claiming more than its stream holds costs what it holds.
 */
static int inflate_range(struct pp_elf *e, uint64_t off, uint64_t in_len, uint64_t out_len,
			 size_t max, void **ret)
{
	unsigned char *in = NULL, *out = NULL, spill;
	size_t cap = 0, done = 0;
	bool spilling = false;
	z_stream zs = { 0 };
	int err;

	if (out_len == 0)
		return -EBADMSG;
	if (out_len > max)
		return -EFBIG;
	in = malloc(INFLATE_CHUNK);
	if (!in)
		return -ENOMEM;
	if (inflateInit(&zs) != Z_OK) {
		free(in);
		return -ENOMEM;
	}
	for (;;) {
		uInt before;
		int zr;

		if (zs.avail_in == 0 && in_len) {
			size_t n = in_len < INFLATE_CHUNK ? (size_t)in_len : INFLATE_CHUNK;

			err = pp_elf_read(e, off, in, n);
			if (err)
				goto out;
			off += n;
			in_len -= n;
			zs.next_in = in;
			zs.avail_in = (uInt)n;
		}
		if (zs.avail_out == 0 && done == out_len) {
			/* all it claimed is there: only the stream's end may
			 * follow, and one byte more is a lie */
			zs.next_out = &spill;
			zs.avail_out = 1;
			spilling = true;
		} else if (zs.avail_out == 0) {
			size_t ncap = cap ? cap * 2 : (1u << 20);
			unsigned char *np;

			if (ncap > out_len)
				ncap = (size_t)out_len;
			np = realloc(out, ncap);
			if (!np) {
				err = -ENOMEM;
				goto out;
			}
			out = np;
			zs.next_out = out + done;
			zs.avail_out = (uInt)(ncap - done);
			cap = ncap;
		}
		before = zs.avail_out;
		zr = inflate(&zs, Z_NO_FLUSH);
		if (spilling && zs.avail_out == 0) {
			err = -EBADMSG;
			goto out;
		}
		if (!spilling)
			done += before - zs.avail_out;
		if (zr == Z_STREAM_END)
			break;
		/* Z_BUF_ERROR: no progress; more input or room comes next
		 * round, unless the stream was cut short */
		if ((zr != Z_OK && zr != Z_BUF_ERROR) ||
		    (zr == Z_BUF_ERROR && zs.avail_in == 0 && in_len == 0)) {
			err = -EBADMSG;
			goto out;
		}
	}
	err = done == out_len ? 0 : -EBADMSG;
out:
	inflateEnd(&zs);
	free(in);
	if (err) {
		free(out);
		return err;
	}
	*ret = out;
	return 0;
}

/* The header of the first section named name (or zname, when not NULL:
 * *ret_legacy says which). */
static int find_section(Elf *elf, const char *name, const char *zname, GElf_Shdr *ret,
			bool *ret_legacy)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0 ||
	    !pp_elf_section_fits(elf, shstrndx, PP_SHSTRTAB_MAX))
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, ret) || !(n = elf_strptr(elf, shstrndx, ret->sh_name)))
			continue;
		if (strcmp(n, name) == 0 || (zname && strcmp(n, zname) == 0)) {
			if (ret_legacy)
				*ret_legacy = zname && strcmp(n, zname) == 0;
			return 0;
		}
	}
	return -ENOENT;
}

int pp_elf_section_range(struct pp_elf *e, const char *name, uint64_t *ret_off,
			 uint64_t *ret_len)
{
	Elf *elf = pp_elf_begin(e);
	GElf_Shdr sh;
	int err;

	if (!elf)
		return -ENOEXEC;
	err = find_section(elf, name, NULL, &sh, NULL);
	elf_end(elf);
	if (err)
		return err;
	if (sh.sh_type == SHT_NOBITS || sh.sh_offset > e->img_len ||
	    sh.sh_size > e->img_len - sh.sh_offset)
		return -ENOENT;
	*ret_off = sh.sh_offset;
	*ret_len = sh.sh_size;
	return 0;
}

int pp_elf_section(struct pp_elf *e, const char *name, size_t max, void **ret, size_t *ret_len)
{
	char zname[128];
	GElf_Shdr sh;
	bool legacy = false;
	Elf *elf;
	int err;

	snprintf(zname, sizeof(zname), ".z%s", name + 1); /* .debug_x -> .zdebug_x */
	elf = pp_elf_begin(e);
	if (!elf)
		return -ENOEXEC;
	err = find_section(elf, name, zname, &sh, &legacy);
	elf_end(elf);
	if (err)
		return err;
	if (sh.sh_type == SHT_NOBITS || sh.sh_offset > e->img_len ||
	    sh.sh_size > e->img_len - sh.sh_offset)
		return -ENOENT;
	if (sh.sh_flags & SHF_COMPRESSED) {
		Elf64_Chdr ch;

		if (sh.sh_size < sizeof(ch))
			return -EBADMSG;
		err = pp_elf_read(e, sh.sh_offset, &ch, sizeof(ch));
		if (err)
			return err;
		if (ch.ch_type != ELFCOMPRESS_ZLIB)
			return -ENOTSUP; /* zstd: not with this zlib-only build */
		err = inflate_range(e, sh.sh_offset + sizeof(ch), sh.sh_size - sizeof(ch),
				    ch.ch_size, max, ret);
		if (!err)
			*ret_len = ch.ch_size;
	} else if (legacy) {
		unsigned char h[12];
		uint64_t sz = 0;

		/* "ZLIB" then the size as 8 big-endian bytes */
		if (sh.sh_size < 12)
			return -EBADMSG;
		err = pp_elf_read(e, sh.sh_offset, h, sizeof(h));
		if (err)
			return err;
		if (memcmp(h, "ZLIB", 4) != 0)
			return -EBADMSG;
		for (int i = 0; i < 8; i++)
			sz = sz << 8 | h[4 + i];
		err = inflate_range(e, sh.sh_offset + 12, sh.sh_size - 12, sz, max, ret);
		if (!err)
			*ret_len = sz;
	} else {
		void *p;

		if (sh.sh_size > max)
			return -EFBIG;
		p = malloc(sh.sh_size ? sh.sh_size : 1);
		if (!p)
			return -ENOMEM;
		err = pp_elf_read(e, sh.sh_offset, p, sh.sh_size);
		if (err) {
			free(p);
			return err;
		}
		*ret = p;
		*ret_len = sh.sh_size;
	}
	return err;
}
