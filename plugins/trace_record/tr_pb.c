/* SPDX-License-Identifier: MIT */
/* The file side of tr_pb.h: chunk flushing and the size cap. */
#include <errno.h>
#include <unistd.h>

#include "tr_pb.h"

int tr_out_flush(struct tr_out *o)
{
	size_t off = 0;

	while (!o->err && off < o->pb.len) {
		ssize_t n = write(o->fd, o->pb.buf + off, o->pb.len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			o->err = -errno;
			break;
		}
		off += (size_t)n;
	}
	o->written += off;
	o->pb.len = 0;
	o->pb.overflow = false;
	return o->err;
}

enum tr_out_result tr_out_packet_end(struct tr_out *o)
{
	struct tr_pb *b = &o->pb;

	if (b->overflow) {
		/* Did not fit in what was left of the chunk: flush what came
		 * before and tell the caller to try once more with an empty
		 * chunk; a packet larger than the whole chunk is dropped. */
		bool was_empty = o->packet_start == 0;

		b->len = o->packet_start;
		b->overflow = false;
		if (was_empty) {
			o->packets_too_big++;
			return TR_OUT_DROPPED;
		}
		return tr_out_flush(o) ? TR_OUT_DROPPED : TR_OUT_RETRY;
	}
	if (o->err || (o->max_bytes && tr_out_size(o) > o->max_bytes)) {
		b->len = o->packet_start;
		o->packets_dropped_cap++;
		return TR_OUT_DROPPED;
	}
	o->packets++;
	if (b->len > b->cap / 2)
		(void)tr_out_flush(o);
	return TR_OUT_KEPT;
}
