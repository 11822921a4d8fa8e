/* SPDX-License-Identifier: MIT */
/* UTF-8 checks and repair, base64, the pointer-table helpers (core/util.c,
 * core/util.h); the JSON scan of <schedmcp/jsontext.h> that the server and
 * the scx_stats plugin share. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <schedmcp/jsontext.h>

#include "jbuf.h"
#include "unit.h"
#include "util.h"

#define V(s) util_utf8_valid(s, sizeof(s) - 1)

static void test_utf8_valid(void)
{
	UNIT_CASE("util_utf8_valid: well-formed");
	CHECK(V(""));
	CHECK(V("plain ascii"));
	CHECK(V("\xc2\x80"));                 /* U+0080 */
	CHECK(V("\xdf\xbf"));                 /* U+07FF */
	CHECK(V("\xe0\xa0\x80"));             /* U+0800 */
	CHECK(V("\xed\x9f\xbf"));             /* U+D7FF, just below the surrogates */
	CHECK(V("\xee\x80\x80"));             /* U+E000, just above */
	CHECK(V("\xef\xbf\xbd"));             /* U+FFFD */
	CHECK(V("\xef\xbf\xbf"));             /* U+FFFF */
	CHECK(V("\xf0\x90\x80\x80"));         /* U+10000 */
	CHECK(V("\xf4\x8f\xbf\xbf"));         /* U+10FFFF */
	CHECK(V("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	CHECK(util_utf8_valid("a\0b", 3)); /* NUL is a character */
	CHECK(util_utf8_valid("\xff", 0)); /* nothing to look at */

	UNIT_CASE("util_utf8_valid: ill-formed");
	CHECK(!V("\x80"));                    /* lone continuation */
	CHECK(!V("\xbf"));
	CHECK(!V("\xc0\xaf"));                /* overlong '/' */
	CHECK(!V("\xc1\xbf"));                /* overlong */
	CHECK(!V("\xe0\x80\xaf"));            /* overlong 3-byte */
	CHECK(!V("\xe0\x9f\xbf"));            /* overlong U+07FF */
	CHECK(!V("\xf0\x80\x80\xaf"));        /* overlong 4-byte */
	CHECK(!V("\xf0\x8f\xbf\xbf"));        /* overlong U+FFFF */
	CHECK(!V("\xed\xa0\x80"));            /* U+D800 high surrogate */
	CHECK(!V("\xed\xbf\xbf"));            /* U+DFFF low surrogate */
	CHECK(!V("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
	CHECK(!V("\xf4\x90\x80\x80"));        /* U+110000 */
	CHECK(!V("\xf5\x80\x80\x80"));
	CHECK(!V("\xf8\x88\x80\x80\x80"));    /* 5-byte form */
	CHECK(!V("\xfe"));
	CHECK(!V("\xff"));
	CHECK(!V("\xc3"));                    /* truncated */
	CHECK(!V("\xe2\x82"));
	CHECK(!V("\xf0\x9f\x98"));
	CHECK(!V("\xc3\x28"));                /* bad continuation */
	CHECK(!V("\xe2\x28\xa1"));
	CHECK(!V("ok then \xe2\x82"));
	/* the length bounds the check: a sequence cut by n is ill-formed */
	CHECK(!util_utf8_valid("\xc3\xa9", 1));
	CHECK(util_utf8_valid("\xc3\xa9"
			      "\xff",
			      2));
}

static void test_utf8_sanitize(void)
{
	int err = 1;
	char *s;
	uint32_t seed = 12345;

	UNIT_CASE("util_utf8_sanitize");
	CHECK(util_utf8_sanitize("already fine \xc3\xa9", &err) == NULL);
	CHECK_INT(err, 0);
	CHECK(util_utf8_sanitize("", NULL) == NULL);
	s = util_utf8_sanitize("a\xff"
			       "b",
			       &err);
	CHECK_STR(s, "a\xef\xbf\xbd" "b");
	CHECK_INT(err, 0);
	free(s);
	s = util_utf8_sanitize("\xc0\xaf", NULL);
	CHECK(s && util_utf8_valid(s, strlen(s)) && strstr(s, "\xef\xbf\xbd") && !strchr(s, '/'));
	free(s);
	s = util_utf8_sanitize("\xed\xa0\x80x", NULL);
	CHECK(s && util_utf8_valid(s, strlen(s)) && s[strlen(s) - 1] == 'x' &&
	      strstr(s, "\xef\xbf\xbd"));
	free(s);
	s = util_utf8_sanitize("end \xe2\x82", NULL);
	CHECK(s && util_utf8_valid(s, strlen(s)) && strncmp(s, "end \xef\xbf\xbd", 7) == 0);
	free(s);
	/* good sequences around bad bytes survive intact */
	s = util_utf8_sanitize("\xc3\xa9\x80\xe2\x82\xac", NULL);
	CHECK_STR(s, "\xc3\xa9\xef\xbf\xbd\xe2\x82\xac");
	free(s);

	UNIT_CASE("util_utf8_sanitize: random bytes always come out valid");
	for (int round = 0; round < 20000; round++) {
		char in[24];
		size_t n = 1 + (size_t)(round % 23);

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)((seed >> 16) | 1); /* never NUL */
		}
		in[n] = '\0';
		s = util_utf8_sanitize(in, &err);
		if (s) {
			if (!util_utf8_valid(s, strlen(s))) {
				CHECK_MSG(false, "round %d: output not valid", round);
				free(s);
				break;
			}
			free(s);
		} else if (err || !util_utf8_valid(in, n)) {
			CHECK_MSG(false, "round %d: NULL for invalid input (err %d)", round, err);
			break;
		}
	}
	CHECK(true);
}

/* jbuf_base64's text without its quotes; the caller frees it. */
static char *base64_encode(const void *data, size_t len)
{
	struct jbuf b;
	size_t n = 0;
	char *s;

	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_base64(&b, data, len);
	s = jbuf_take(&b, &n);
	if (!s || n < 2 || s[0] != '"' || s[n - 1] != '"') {
		free(s);
		return NULL;
	}
	memmove(s, s + 1, n - 2);
	s[n - 2] = '\0';
	return s;
}

static void test_base64(void)
{
	static const struct {
		const char *in, *out;
	} rfc4648[] = {
		{ "", "" },         { "f", "Zg==" },         { "fo", "Zm8=" },
		{ "foo", "Zm9v" },  { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const unsigned char bin[] = { 0x00, 0xff, 0xfe, 0x3e, 0x3f, 0x80, 0x00 };
	unsigned char all[256];
	char *s;

	UNIT_CASE("base64: RFC 4648 section 10 vectors");
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		s = base64_encode(rfc4648[i].in, strlen(rfc4648[i].in));
		CHECK_STR(s, rfc4648[i].out);
		free(s);
	}

	UNIT_CASE("base64: binary");
	s = base64_encode(bin, 1);
	CHECK_STR(s, "AA==");
	free(s);
	s = base64_encode(bin, 2);
	CHECK_STR(s, "AP8=");
	free(s);
	s = base64_encode(bin, sizeof(bin));
	CHECK_STR(s, "AP/+Pj+AAA==");
	free(s);
	s = base64_encode(NULL, 0);
	CHECK_STR(s, "");
	free(s);
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	s = base64_encode(all, sizeof(all));
	CHECK(s && strlen(s) == 344);
	CHECK(s && strncmp(s, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44) == 0);
	CHECK(s && strcmp(s + 340, "/w==") == 0);
	free(s);
}

static void test_json_scan(void)
{
	struct smcp_json_counts sc;

	UNIT_CASE("smcp_json_scan: values and depth outside strings");
	smcp_json_scan("{\"a\":[1,2,{\"b\":\"[{,\\\"]\"}],\"c\":3}", 32, 0, 0, &sc);
	CHECK_INT(sc.depth, 3);
	CHECK_INT(sc.values, 7); /* the text, 3 containers, 3 commas */
	smcp_json_scan("7", 1, 0, 0, &sc);
	CHECK_INT(sc.values, 1);
	CHECK_INT(sc.depth, 0);

	UNIT_CASE("smcp_json_scan: stops past a bound");
	smcp_json_scan("[[[[[[]]]]]]", 12, 0, 3, &sc);
	CHECK_INT(sc.depth, 4);
	smcp_json_scan("[0,0,0,0,0,0,0,0]", 17, 4, 0, &sc);
	CHECK_INT(sc.values, 5);
}

struct owned {
	int owner;
	int id;
};

static int n_freed;

static void owned_free(struct owned *o)
{
	n_freed++;
	free(o);
}

static void test_tables(void)
{
	static const char *const names[] = { [1] = "one", [3] = "three" };
	struct owned **tab = NULL, *o;
	size_t n = 0, removed = 0;

	UNIT_CASE("UTIL_ENUM_NAME: entries, holes and values past the table");
	CHECK_STR(UTIL_ENUM_NAME(names, 1, "?"), "one");
	CHECK_STR(UTIL_ENUM_NAME(names, 3, "?"), "three");
	CHECK_STR(UTIL_ENUM_NAME(names, 0, "?"), "?");
	CHECK_STR(UTIL_ENUM_NAME(names, 2, "?"), "?");
	CHECK_STR(UTIL_ENUM_NAME(names, 4, "?"), "?");
	CHECK_STR(UTIL_ENUM_NAME(names, -1, "?"), "?");

	UNIT_CASE("util_new_slot, UTIL_REMOVE_OWNED, UTIL_FREE_ALL");
	for (int i = 0; i < 6; i++) {
		o = util_new_slot((void ***)&tab, n, sizeof(*o));
		CHECK(o != NULL);
		if (!o)
			break;
		CHECK_INT(o->owner, 0); /* zeroed */
		o->owner = i % 2;
		o->id = i;
		tab[n++] = o;
	}
	CHECK_INT(n, 6);
	UTIL_REMOVE_OWNED(tab, n, 1, owned_free, removed);
	CHECK_INT(removed, 3);
	CHECK_INT(n_freed, 3);
	CHECK_INT(n, 3);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(tab[i]->id, (int)i * 2); /* the rest keep their order */
	UTIL_REMOVE_OWNED(tab, n, 7, owned_free, removed);
	CHECK_INT(removed, 3);
	CHECK_INT(n, 3);
	UTIL_FREE_ALL(tab, n, owned_free);
	CHECK_INT(n_freed, 6);
	CHECK(tab == NULL);
	CHECK_INT(n, 0);
}

int main(void)
{
	test_utf8_valid();
	test_utf8_sanitize();
	test_base64();
	test_json_scan();
	test_tables();
	return unit_done("test-util");
}
