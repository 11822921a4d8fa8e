/* SPDX-License-Identifier: MIT */
/*
 * One ELF image: program headers, build-id, the .eh_frame_hdr search table,
 * and section contents (inflating SHF_COMPRESSED and .zdebug_* sections
 * with zlib). Parsing goes through libelf over our own private mapping.
 */
#include "elf_cache.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* a compressed section that claims more than this is refused */
#define MAX_INFLATED (512u << 20)

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
	const unsigned char *h;
	size_t ptr_sz, cnt_sz;

	if (ph->p_offset > e->img_len || ph->p_filesz > e->img_len - ph->p_offset ||
	    ph->p_filesz < 4)
		return;
	h = e->img + ph->p_offset;
	/* version 1; the table must be datarel|sdata4, what libunwind searches */
	if (h[0] != 1 || h[3] != 0x3b || h[1] == 0xff || h[2] == 0xff)
		return;
	ptr_sz = enc_size(h[1]);
	cnt_sz = enc_size(h[2]);
	if (!ptr_sz || !cnt_sz || 4 + ptr_sz + cnt_sz > ph->p_filesz)
		return;
	e->eh_fde_count = read_uval(h + 4 + ptr_sz, cnt_sz);
	if (e->eh_fde_count == 0 ||
	    e->eh_fde_count > (ph->p_filesz - 4 - ptr_sz - cnt_sz) / 8)
		return;
	e->eh_hdr_vaddr = ph->p_vaddr;
	e->eh_table_vaddr = ph->p_vaddr + 4 + ptr_sz + cnt_sz;
	e->have_eh_table = true;
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

	elf_version(EV_CURRENT);
	elf = elf_memory((char *)e->img, e->img_len);
	if (!elf)
		return -ENOEXEC;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    gelf_getclass(elf) != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    elf_getphdrnum(elf, &nph) != 0) {
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
			pp_elf_parse_notes(e, e->img + ph.p_offset, ph.p_filesz);
		}
	}
	if (!e->build_id_len) {
		void *p;
		size_t n;
		bool alloc;

		/* debug files may carry the note only as a section */
		if (pp_elf_section(e->img, e->img_len, ".note.gnu.build-id", &p, &n, &alloc) == 0) {
			pp_elf_parse_notes(e, p, n);
			if (alloc)
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
		memcpy(out, e->img + fo, n < len ? n : len);
		return true;
	}
	return false;
}

static int inflate_buf(const unsigned char *src, size_t src_len, size_t out_len, void **ret)
{
	z_stream zs = { 0 };
	unsigned char *out;
	int zr;

	if (out_len == 0 || out_len > MAX_INFLATED)
		return -EFBIG;
	out = malloc(out_len);
	if (!out)
		return -ENOMEM;
	if (inflateInit(&zs) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	zs.next_in = (unsigned char *)src;
	zs.avail_in = (uInt)(src_len > UINT32_MAX ? UINT32_MAX : src_len);
	zs.next_out = out;
	zs.avail_out = (uInt)out_len;
	zr = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.total_out != out_len) {
		free(out);
		return -EBADMSG;
	}
	*ret = out;
	return 0;
}

int pp_elf_section(const unsigned char *img, size_t img_len, const char *name, void **ret,
		   size_t *ret_len, bool *ret_alloc)
{
	char zname[128];
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int err = -ENOENT;

	snprintf(zname, sizeof(zname), ".z%s", name + 1); /* .debug_x -> .zdebug_x */
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)img, img_len);
	if (!elf)
		return -ENOEXEC;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0) {
		err = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		const unsigned char *p;
		GElf_Shdr sh;
		const char *n;
		bool legacy;

		if (!gelf_getshdr(scn, &sh) || !(n = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		legacy = strcmp(n, zname) == 0;
		if (strcmp(n, name) != 0 && !legacy)
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > img_len ||
		    sh.sh_size > img_len - sh.sh_offset) {
			err = -ENOENT;
			goto out;
		}
		p = img + sh.sh_offset;
		if (sh.sh_flags & SHF_COMPRESSED) {
			Elf64_Chdr ch;

			if (sh.sh_size < sizeof(ch)) {
				err = -EBADMSG;
				goto out;
			}
			memcpy(&ch, p, sizeof(ch));
			if (ch.ch_type != ELFCOMPRESS_ZLIB) {
				err = -ENOTSUP; /* zstd: not with this zlib-only build */
				goto out;
			}
			err = inflate_buf(p + sizeof(ch), sh.sh_size - sizeof(ch), ch.ch_size, ret);
			*ret_len = ch.ch_size;
			*ret_alloc = true;
		} else if (legacy) {
			uint64_t sz = 0;

			/* "ZLIB" then the size as 8 big-endian bytes */
			if (sh.sh_size < 12 || memcmp(p, "ZLIB", 4) != 0) {
				err = -EBADMSG;
				goto out;
			}
			for (int i = 0; i < 8; i++)
				sz = sz << 8 | p[4 + i];
			err = inflate_buf(p + 12, sh.sh_size - 12, sz, ret);
			*ret_len = sz;
			*ret_alloc = true;
		} else {
			*ret = (void *)p;
			*ret_len = sh.sh_size;
			*ret_alloc = false;
			err = 0;
		}
		goto out;
	}
out:
	elf_end(elf);
	return err;
}
