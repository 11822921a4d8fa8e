/* SPDX-License-Identifier: MIT */
/*
 * One ELF image: program headers, build-id, the .eh_frame_hdr search table,
 * and section contents (SHF_COMPRESSED and .zdebug_* sections inflated by
 * libelf's elf_compress). The file is read with pread, and through libelf
 * in its ELF_C_READ mode, which preads too: nothing is mapped, so a file
 * truncated under us reads short instead of faulting (elf_cache.h). libelf
 * reads what it is asked for whole (a note, a section, a compressed
 * stream), so every such size is checked against a bound before the call
 * (elf_internal.h).
 */
#include "elf_internal.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	for (size_t i = 0; i < SMCP_COUNT(e->copies); i++) {
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
	GElf_Chdr ch;

	if (!scn || !gelf_getshdr(scn, &sh))
		return false;
	if (sh.sh_type == SHT_NOBITS)
		return true;
	if (sh.sh_size > max)
		return false;
	/*
	 * elf_strptr inflates a compressed string table on first use, to the
	 * size its header claims (up to 1032 times the section): that size is
	 * the one bounded. gelf_getchdr reads the section, within max above.
	 */
	return !(sh.sh_flags & SHF_COMPRESSED) || (gelf_getchdr(scn, &ch) && ch.ch_size <= max);
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

/*
 * Whether the notes libdw's dwelf_elf_gnu_build_id() would read fit in
 * PP_NOTES_MAX together: it reads every SHT_NOTE section, or every PT_NOTE
 * segment of a file without section headers, whole, and libelf keeps each
 * until elf_end (a file can name the same 64 KiB in 65 000 section
 * headers). Real files hold well under 1 KiB of notes; one with more is
 * taken to have no build-id.
 */
static bool notes_fit(Elf *elf, size_t nph)
{
	Elf_Scn *scn = NULL;
	uint64_t total = 0;
	bool any = false;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		any = true;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		if (sh.sh_size > PP_NOTES_MAX - total)
			return false;
		total += sh.sh_size;
	}
	for (size_t i = 0; !any && i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		if (ph.p_filesz > PP_NOTES_MAX - total)
			return false;
		total += ph.p_filesz;
	}
	return true;
}

static void read_build_id(struct pp_elf *e, Elf *elf, size_t nph)
{
	const void *bid;
	ssize_t n;

	if (!notes_fit(elf, nph))
		return;
	n = dwelf_elf_gnu_build_id(elf, &bid);
	if (n <= 0)
		return;
	e->build_id_len = n > PP_BUILD_ID_MAX ? PP_BUILD_ID_MAX : (uint8_t)n;
	memcpy(e->build_id, bid, e->build_id_len);
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
		}
	}
	read_build_id(e, elf, nph);
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

int pp_elf_find_section(Elf *elf, const char *name, const char *zname, Elf_Scn **ret_scn,
			GElf_Shdr *ret_sh, bool *ret_legacy)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0 ||
	    !pp_elf_section_fits(elf, shstrndx, PP_SHSTRTAB_MAX))
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, ret_sh) || !(n = elf_strptr(elf, shstrndx, ret_sh->sh_name)))
			continue;
		if (strcmp(n, name) == 0 || (zname && strcmp(n, zname) == 0)) {
			if (ret_legacy)
				*ret_legacy = zname && strcmp(n, zname) == 0;
			if (ret_scn)
				*ret_scn = scn;
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
	err = pp_elf_find_section(elf, name, NULL, NULL, &sh, NULL);
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

/*
 * Inflate section scn in place with libelf: elf_compress for SHF_COMPRESSED
 * (the Elf64_Chdr, read with gelf_getchdr, says its size), elf_compress_gnu
 * for the legacy .zdebug_ form ("ZLIB" and a big-endian size, read with
 * dwelf_scn_gnu_compressed_size). libelf allocates the size claimed at once
 * and inflates into it, so the claim is checked against max first, and the
 * compressed bytes, which it reads whole, against PP_DEFLATED_MAX(max).
 */
static int inflate_section(Elf_Scn *scn, const GElf_Shdr *sh, size_t max)
{
	uint64_t claim;

	if (sh->sh_size > PP_DEFLATED_MAX(max))
		return -EFBIG;
	if (sh->sh_flags & SHF_COMPRESSED) {
		GElf_Chdr ch;

		if (!gelf_getchdr(scn, &ch))
			return -EBADMSG;
		if (ch.ch_type != ELFCOMPRESS_ZLIB)
			return -ENOTSUP; /* zstd: libelf 0.188 has zlib only */
		claim = ch.ch_size;
	} else {
		ssize_t n = dwelf_scn_gnu_compressed_size(scn);

		if (n < 0)
			return -EBADMSG;
		claim = (uint64_t)n;
	}
	if (claim == 0)
		return -EBADMSG;
	if (claim > max)
		return -EFBIG;
	if ((sh->sh_flags & SHF_COMPRESSED ? elf_compress(scn, 0, 0)
					   : elf_compress_gnu(scn, 0, 0)) != 1)
		return -EBADMSG;
	return 0;
}

int pp_elf_section(struct pp_elf *e, const char *name, size_t max, struct pp_elf_section *ret)
{
	char zname[128];
	Elf_Scn *scn;
	Elf_Data *d;
	GElf_Shdr sh;
	bool legacy = false;
	int err;

	memset(ret, 0, sizeof(*ret));
	snprintf(zname, sizeof(zname), ".z%s", name + 1); /* .debug_x -> .zdebug_x */
	ret->elf = pp_elf_begin(e);
	if (!ret->elf)
		return -ENOEXEC;
	err = pp_elf_find_section(ret->elf, name, zname, &scn, &sh, &legacy);
	if (err)
		goto out;
	if (sh.sh_type == SHT_NOBITS || sh.sh_offset > e->img_len ||
	    sh.sh_size > e->img_len - sh.sh_offset) {
		err = -ENOENT;
		goto out;
	}
	if ((sh.sh_flags & SHF_COMPRESSED) || legacy)
		err = inflate_section(scn, &sh, max);
	else if (sh.sh_size > max)
		err = -EFBIG;
	if (err)
		goto out;
	/* the inflated bytes, or the section as it is (read whole, bounded above) */
	d = elf_getdata(scn, NULL);
	if (!d || (d->d_size && !d->d_buf)) {
		err = -EIO;
		goto out;
	}
	ret->p = d->d_buf;
	ret->len = d->d_size;
out:
	if (err)
		pp_elf_section_free(ret);
	return err;
}

void pp_elf_section_free(struct pp_elf_section *s)
{
	if (s->elf)
		elf_end(s->elf);
	memset(s, 0, sizeof(*s));
}
