/* SPDX-License-Identifier: MIT */
/*
 * A small streaming protobuf encoder for Perfetto traces.
 *
 * A trace file is a `Trace` message: a run of `packet` fields (field 1,
 * length-delimited), each a TracePacket. tr_pb writes packets straight into
 * a caller-owned chunk buffer and flushes whole chunks to a file with
 * write(2), so the hot path neither allocates nor copies: a nested message
 * gets a 4-byte length slot (a redundant varint, as Perfetto's own protozero
 * writes) that tr_pb_end() patches once the contents are known.
 *
 * Errors are sticky: once a buffer overflows, every call is a no-op and
 * tr_pb_ok() is false, so a caller writes a whole packet and checks once.
 * Chosen over protobuf-c (bench/trace_record, see the commit): protobuf-c
 * needs every repeated field as a heap array of structs built first, then a
 * size pass and a pack pass.
 */
#ifndef TR_PB_H
#define TR_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Wire types. */
#define TR_PB_VARINT 0
#define TR_PB_I64 1
#define TR_PB_LEN 2

/* Bytes of a length slot: four 7-bit groups, messages up to 256 MiB - 1. */
#define TR_PB_LEN_SLOT 4
#define TR_PB_LEN_MAX ((1u << 28) - 1)

struct tr_pb {
	uint8_t *buf;	/* start of the caller's buffer */
	size_t len;	/* bytes used */
	size_t cap;	/* bytes available */
	bool overflow;	/* sticky: something did not fit */
};

static inline void tr_pb_init(struct tr_pb *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
}

static inline bool tr_pb_ok(const struct tr_pb *b)
{
	return !b->overflow;
}

/* Room for n more bytes? Marks overflow when not. */
static inline bool tr_pb_room(struct tr_pb *b, size_t n)
{
	if (b->overflow || b->cap - b->len < n) {
		b->overflow = true;
		return false;
	}
	return true;
}

/* A bare varint (no tag); at most 10 bytes. */
static inline void tr_pb_raw_varint(struct tr_pb *b, uint64_t v)
{
	uint8_t *p;

	if (!tr_pb_room(b, 10))
		return;
	p = b->buf + b->len;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->len = (size_t)(p - b->buf);
}

static inline void tr_pb_tag(struct tr_pb *b, uint32_t field, uint32_t wire)
{
	tr_pb_raw_varint(b, (uint64_t)field << 3 | wire);
}

/* uint32/uint64/bool/enum fields, and int32/int64 (two's complement: a
 * negative value takes 10 bytes, as protobuf says for int32). */
static inline void tr_pb_uint(struct tr_pb *b, uint32_t field, uint64_t v)
{
	tr_pb_tag(b, field, TR_PB_VARINT);
	tr_pb_raw_varint(b, v);
}

static inline void tr_pb_int(struct tr_pb *b, uint32_t field, int64_t v)
{
	tr_pb_uint(b, field, (uint64_t)v);
}

static inline void tr_pb_double(struct tr_pb *b, uint32_t field, double v)
{
	tr_pb_tag(b, field, TR_PB_I64);
	if (!tr_pb_room(b, 8))
		return;
	memcpy(b->buf + b->len, &v, 8); /* little-endian hosts only (x86, arm64) */
	b->len += 8;
}

static inline void tr_pb_bytes(struct tr_pb *b, uint32_t field, const void *data, size_t n)
{
	tr_pb_tag(b, field, TR_PB_LEN);
	tr_pb_raw_varint(b, n);
	if (!tr_pb_room(b, n))
		return;
	memcpy(b->buf + b->len, data, n);
	b->len += n;
}

/* A string of at most max bytes, cut at the first NUL (kernel comm fields). */
static inline void tr_pb_strn(struct tr_pb *b, uint32_t field, const char *s, size_t max)
{
	tr_pb_bytes(b, field, s, strnlen(s, max));
}

/*
 * Open a nested message (or a packed repeated field): writes the tag and a
 * length slot and returns the mark to give tr_pb_end(). Nesting is the
 * caller's stack of marks.
 */
static inline size_t tr_pb_begin(struct tr_pb *b, uint32_t field)
{
	size_t mark;

	tr_pb_tag(b, field, TR_PB_LEN);
	if (!tr_pb_room(b, TR_PB_LEN_SLOT))
		return 0;
	mark = b->len;
	b->len += TR_PB_LEN_SLOT;
	return mark;
}

static inline void tr_pb_end(struct tr_pb *b, size_t mark)
{
	size_t n;
	uint8_t *p;

	if (b->overflow)
		return;
	n = b->len - mark - TR_PB_LEN_SLOT;
	if (n > TR_PB_LEN_MAX) {
		b->overflow = true;
		return;
	}
	p = b->buf + mark;
	p[0] = (uint8_t)(n | 0x80);
	p[1] = (uint8_t)(n >> 7 | 0x80);
	p[2] = (uint8_t)(n >> 14 | 0x80);
	p[3] = (uint8_t)(n >> 21);
}

/*
 * The file side: packets go into a chunk, whole chunks go to the fd.
 * A packet (the `packet` field 1 of Trace, tag included: the tr_enc_*
 * functions write it) is begun with tr_out_packet_begin(), written into
 * the returned buffer and ended with tr_out_packet_end(), which keeps it only when the file stays
 * within max_bytes (else drops it, counted) and flushes the chunk when it
 * is past half full.
 */
struct tr_out {
	int fd;
	struct tr_pb pb;	/* the chunk */
	size_t packet_start;	/* offset in the chunk of the open packet */
	uint64_t written;	/* bytes in the file */
	uint64_t max_bytes;	/* 0: no cap */
	uint64_t packets;	/* packets kept */
	uint64_t packets_dropped_cap;	/* packets dropped at the size cap */
	uint64_t packets_too_big;	/* packets larger than a chunk */
	int err;		/* first write error, -errno; sticky */
};

static inline void tr_out_init(struct tr_out *o, int fd, uint8_t *chunk, size_t cap,
			       uint64_t max_bytes)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->max_bytes = max_bytes;
	tr_pb_init(&o->pb, chunk, cap);
}

/* Write the chunk out; returns 0 or -errno (also kept in o->err). */
int tr_out_flush(struct tr_out *o);

static inline struct tr_pb *tr_out_packet_begin(struct tr_out *o)
{
	o->packet_start = o->pb.len;
	return &o->pb;
}

enum tr_out_result {
	TR_OUT_KEPT,	/* in the chunk (and maybe flushed) */
	TR_OUT_RETRY,	/* did not fit after what the chunk held: flushed; write it again */
	TR_OUT_DROPPED,	/* over the size cap, larger than a chunk, or a write failed */
};

/* Close the packet begun last; see enum tr_out_result. */
enum tr_out_result tr_out_packet_end(struct tr_out *o);

/* Bytes the file would hold with what is in the chunk. */
static inline uint64_t tr_out_size(const struct tr_out *o)
{
	return o->written + o->pb.len;
}

#endif
