/* SPDX-License-Identifier: MIT */
/*
 * .debug_frame for libunwind's remote search.
 *
 * libunwind only searches .debug_frame through internals the distribution
 * library does not export, but it searches an .eh_frame_hdr-style binary
 * table over .eh_frame-format entries through any address space. So the
 * .debug_frame of a file (or of its debug file) is rewritten once into that
 * form: CIE ids become 0, FDE CIE pointers become relative, start addresses
 * become pc-relative (so the image does not depend on where it is placed),
 * and a sorted table of (start, FDE) pairs follows. The result lives in the
 * entry's unwind window above the file's own addresses (see elf_cache.h).
 *
 * Only 32-bit DWARF, 8-byte addresses and CIEs without augmentation are
 * converted, which is what compilers emit into .debug_frame on x86_64.
 */
#include "elf_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

struct obuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void put(struct obuf *o, const void *src, size_t n)
{
	if (o->err)
		return;
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : 4096;
		unsigned char *np;

		while (cap - o->len < n)
			cap *= 2;
		np = realloc(o->p, cap);
		if (!np) {
			o->err = -ENOMEM;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}

static void put_u8(struct obuf *o, uint8_t v)
{
	put(o, &v, 1);
}

static void put_u32(struct obuf *o, uint32_t v)
{
	put(o, &v, 4);
}

static void put_uleb(struct obuf *o, uint64_t v)
{
	do {
		uint8_t b = v & 0x7f;

		v >>= 7;
		put_u8(o, b | (v ? 0x80 : 0));
	} while (v);
}

static void put_sleb(struct obuf *o, int64_t v)
{
	for (;;) {
		uint8_t b = v & 0x7f;
		bool done;

		v >>= 7; /* arithmetic shift on gcc/clang */
		done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
		put_u8(o, b | (done ? 0 : 0x80));
		if (done)
			break;
	}
}

struct rd {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t rd_fixed(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return 0;
	}
	memcpy(&v, r->p, n);
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (r->p < r->end) {
		uint8_t b = *r->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0; /* unsigned: shifting bits into a signed sign bit is undefined */
	unsigned int shift = 0;
	uint8_t b = 0;

	while (r->p < r->end) {
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ULL << shift; /* sign-extend */
			return (int64_t)v;
		}
	}
	r->bad = true;
	return 0;
}

struct cie_out {
	uint64_t out_off; /* where the converted CIE starts */
	uint8_t addr_size;
};

struct tab_ent {
	int32_t start, fde;
};

static int cmp_tab(const void *a, const void *b)
{
	const struct tab_ent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void pad8(struct obuf *o, size_t entry_start)
{
	/* DW_CFA_nop up to 8-byte alignment, inside the entry's length */
	while ((o->len - entry_start) % 8)
		put_u8(o, 0);
}

static void patch_len(struct obuf *o, size_t entry_start)
{
	uint32_t len = (uint32_t)(o->len - entry_start - 4);

	if (!o->err)
		memcpy(o->p + entry_start, &len, 4);
}

/* Convert one CIE at df[off..end) (after the 4-byte length). */
static bool convert_cie(struct obuf *o, const unsigned char *body, const unsigned char *end,
			struct cie_out *c)
{
	struct rd r = { body + 4, end, false }; /* skip the 0xffffffff id */
	uint64_t code_align, ra;
	int64_t data_align;
	uint8_t version;
	size_t start;

	version = (uint8_t)rd_fixed(&r, 1);
	if (version != 1 && version != 3 && version != 4)
		return false;
	if (r.p >= r.end || *r.p != '\0') /* augmentation must be empty */
		return false;
	r.p++;
	c->addr_size = 8;
	if (version >= 4) {
		c->addr_size = (uint8_t)rd_fixed(&r, 1);
		if (rd_fixed(&r, 1) != 0) /* segment selector size */
			return false;
	}
	code_align = rd_uleb(&r);
	data_align = rd_sleb(&r);
	ra = version == 1 ? rd_fixed(&r, 1) : rd_uleb(&r);
	if (r.bad || c->addr_size != 8)
		return false;
	start = o->len;
	c->out_off = start;
	put_u32(o, 0); /* length, patched */
	put_u32(o, 0); /* CIE id in .eh_frame */
	put_u8(o, ra > 255 ? 3 : 1);
	put(o, "zR", 3);
	put_uleb(o, code_align);
	put_sleb(o, data_align);
	if (ra > 255)
		put_uleb(o, ra);
	else
		put_u8(o, (uint8_t)ra);
	put_uleb(o, 1);
	put_u8(o, 0x1b); /* DW_EH_PE_pcrel | DW_EH_PE_sdata4 */
	put(o, r.p, (size_t)(r.end - r.p));
	pad8(o, start);
	patch_len(o, start);
	return !o->err;
}

int pp_debug_frame_convert(struct pp_elf *e, const unsigned char *df, size_t len)
{
	struct obuf o = { 0 };
	struct pp_map64 cies = { 0 }; /* input CIE offset -> index into civ + 1 */
	struct cie_out *civ = NULL;
	struct tab_ent *tab = NULL;
	size_t n_cie = 0, cap_cie = 0, n_tab = 0, cap_tab = 0, off;
	uint64_t base;
	int err = 0;

	base = ((e->max_vaddr + 0xffff) & ~0xffffULL) + 0x10000;
	if (base - e->min_vaddr >= 0x7fff0000ULL || base >= PP_WIN_SIZE / 2)
		return -EFBIG;
	/* pass 1: CIEs first, so every FDE can point back to its CIE */
	for (int pass = 0; pass < 2 && !err; pass++) {
		for (off = 0; off + 8 <= len;) {
			uint32_t l32, id;
			const unsigned char *body = df + off + 4, *end;

			memcpy(&l32, df + off, 4);
			if (l32 == 0) {
				off += 4;
				continue;
			}
			if (l32 == 0xffffffffu || l32 > len - off - 4)
				break; /* 64-bit DWARF or truncated: stop here */
			if (l32 < 4) {
				/* too short for its own id: the readers below
				 * would start past the entry's end (and the
				 * section's) */
				off += 4 + l32;
				continue;
			}
			end = body + l32;
			memcpy(&id, body, 4);
			if (pass == 0 && id == 0xffffffffu) {
				struct cie_out c;
				bool isnew;
				uint64_t *slot;

				if (convert_cie(&o, body, end, &c)) {
					err = smcp_array_grow(&civ, &cap_cie, n_cie, sizeof(*civ),
							      16);
					if (err)
						break;
					civ[n_cie++] = c;
					slot = pp_map64_put(&cies, off, &isnew);
					if (!slot) {
						err = -ENOMEM;
						break;
					}
					*slot = n_cie;
				}
			} else if (pass == 1 && id != 0xffffffffu) {
				struct rd r = { body + 4, end, false };
				uint64_t *ci = pp_map64_get(&cies, id), loc, range;
				size_t start;
				int64_t rel;

				off += 4 + l32;
				if (!ci)
					continue;
				loc = rd_fixed(&r, 8);
				range = rd_fixed(&r, 8);
				if (r.bad || !range || range > 0x7fffffff || loc < e->min_vaddr ||
				    loc >= e->max_vaddr || range > e->max_vaddr - loc)
					continue; /* discarded (address 0) or not in this file */
				start = o.len;
				put_u32(&o, 0);
				put_u32(&o, (uint32_t)(o.len - civ[*ci - 1].out_off));
				/* pc-relative: target minus the field's own window offset */
				rel = (int64_t)loc - (int64_t)(base + o.len);
				put_u32(&o, (uint32_t)(int32_t)rel);
				put_u32(&o, (uint32_t)range);
				put_uleb(&o, 0); /* augmentation data length ('z') */
				put(&o, r.p, (size_t)(r.end - r.p));
				pad8(&o, start);
				patch_len(&o, start);
				err = smcp_array_grow(&tab, &cap_tab, n_tab, sizeof(*tab), 256);
				if (err)
					break;
				tab[n_tab].start = (int32_t)((int64_t)loc - (int64_t)base);
				tab[n_tab].fde = (int32_t)start;
				n_tab++;
				continue;
			}
			off += 4 + l32;
		}
	}
	if (!err && o.err)
		err = o.err;
	if (!err && n_tab == 0)
		err = -ENOENT;
	if (!err && o.len > 0x7fff0000u)
		err = -EFBIG;
	if (err)
		goto out;
	qsort(tab, n_tab, sizeof(*tab), cmp_tab);
	while (o.len % 8)
		put_u8(&o, 0);
	e->dframe_table_off = o.len;
	put(&o, tab, n_tab * sizeof(*tab));
	if (o.err) {
		err = o.err;
		goto out;
	}
	e->dframe = o.p;
	e->dframe_len = o.len;
	e->dframe_base = base;
	e->dframe_fde_count = n_tab;
	e->mem_bytes += o.cap;
	o.p = NULL;
out:
	free(o.p);
	free(civ);
	free(tab);
	pp_map64_free(&cies);
	return err;
}
