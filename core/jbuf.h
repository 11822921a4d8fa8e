/* SPDX-License-Identifier: MIT */
/*
 * JSON text written once: a growable buffer that escapes while it writes.
 *
 * Every answer is built here directly as the text that goes on the wire:
 * no tree is made and printed, no text is parsed again. Two things make
 * that possible:
 *
 * - esc: everything written while it is set lands escaped as the inside of
 *   a JSON string, so a resource body is written straight into the "text"
 *   member of its answer (a JSON string holding JSON) in one pass;
 * - limit: past it bytes are only counted, not kept, so an answer over
 *   max_result_bytes costs at most the limit in memory, and the count still
 *   says how large it would have been.
 *
 * Strings are escaped as cJSON escapes them and made valid UTF-8 (each
 * ill-formed byte becomes U+FFFD); numbers print as cJSON prints them. Errors
 * (-ENOMEM) are sticky in err.
 */
#ifndef SMCP_JBUF_H
#define SMCP_JBUF_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char *p;	 /* NUL-terminated when held bytes exist and err is 0 */
	size_t len;	 /* bytes held */
	size_t cap;	 /* bytes allocated (or of the caller's storage) */
	size_t total;	 /* bytes written, held or only counted */
	size_t limit;	 /* most bytes held; past it writes are only counted */
	bool esc;	 /* escape what is written as the inside of a JSON string */
	bool borrowed;	 /* p is the caller's storage (jbuf_init_on), never freed */
	int err;
};

#define JBUF_NO_LIMIT SIZE_MAX

/* An empty buffer holding at most limit bytes; nothing is allocated yet. */
void jbuf_init(struct jbuf *b, size_t limit);
/* The same, starting in the caller's storage (stack): a small answer needs
 * no allocation; a larger one moves to the heap. */
void jbuf_init_on(struct jbuf *b, char *storage, size_t size, size_t limit);
void jbuf_free(struct jbuf *b);

/* Whether something was written past the limit (the text is incomplete). */
static inline bool jbuf_over(const struct jbuf *b)
{
	return b->total > b->len;
}

/* Make room for n bytes in all (at most the limit) in one allocation. */
void jbuf_reserve(struct jbuf *b, size_t n);
/* Forget everything after the first n bytes (n <= len). */
void jbuf_truncate(struct jbuf *b, size_t n);
/* Back to an earlier state (len and total as they were then). */
void jbuf_rewind(struct jbuf *b, size_t len, size_t total);
/* Count n bytes that are not written (a part kept elsewhere was over). */
void jbuf_count(struct jbuf *b, size_t n);

/* n bytes as they are (escaped when b->esc). */
void jbuf_put(struct jbuf *b, const char *s, size_t n);
static inline void jbuf_puts(struct jbuf *b, const char *s)
{
	jbuf_put(b, s, __builtin_strlen(s));
}
/* printf's output as it is (escaped when b->esc), whatever its length. */
__attribute__((format(printf, 2, 3))) void jbuf_printf(struct jbuf *b, const char *fmt, ...);
/* A JSON string literal of the n bytes at s, quotes included. */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
/* ... of the NUL-terminated s. */
void jbuf_strz(struct jbuf *b, const char *s);
/* Numbers: integers exactly; doubles as cJSON prints them (null when not
 * finite). */
void jbuf_int(struct jbuf *b, int64_t v);
void jbuf_uint(struct jbuf *b, uint64_t v);
void jbuf_double(struct jbuf *b, double v);
/* Base64 (RFC 4648, padded) of len bytes, as a JSON string literal. */
void jbuf_base64(struct jbuf *b, const void *data, size_t len);
/* A cJSON tree, as cJSON_PrintUnformatted would print it. */
void jbuf_cjson(struct jbuf *b, const cJSON *v);

/*
 * One JSON value from outside (a plugin's json_raw, an event kept as
 * text; jbuf_raw.c): checked against RFC 8259 (strings well-formed UTF-8, at most
 * max_depth levels) and written without the whitespace between tokens.
 * -EINVAL, with nothing written, when it is not exactly one JSON value.
 */
int jbuf_raw(struct jbuf *b, const char *s, size_t n, int max_depth);
/* The same check alone: 0 or -EINVAL. */
int jbuf_raw_check(const char *s, size_t n, int max_depth);

/* The held text, NUL-terminated; the buffer is empty afterwards. NULL when
 * nothing is held, on err, or when the text is incomplete (over). The
 * caller frees it. */
char *jbuf_take(struct jbuf *b, size_t *ret_len);

#endif
