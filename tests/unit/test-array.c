/* SPDX-License-Identifier: MIT */
/*
 * smcp_array_grow (sdk/include/schedmcp/array.h): the first allocation, the
 * doubling, an index several doublings out, an element type other than the
 * pointer's, and that a size that would overflow fails with nothing changed.
 */
#include <stdint.h>
#include <stdlib.h>

#include <schedmcp/array.h>

#include "unit.h"

struct row {
	uint64_t a, b, c;
};

int main(void)
{
	struct row *rows = NULL, *before;
	uint32_t *ids = NULL;
	size_t cap = 0, icap = 0;

	UNIT_CASE("first");
	CHECK_INT(smcp_array_grow(&rows, &cap, 0, sizeof(*rows), 16), 0);
	CHECK(rows != NULL);
	CHECK_INT(cap, 16);

	UNIT_CASE("room already");
	before = rows;
	CHECK_INT(smcp_array_grow(&rows, &cap, 15, sizeof(*rows), 16), 0);
	CHECK(rows == before);
	CHECK_INT(cap, 16);

	UNIT_CASE("doubling keeps the elements");
	for (size_t i = 0; i < 1000; i++) {
		CHECK_INT(smcp_array_grow(&rows, &cap, i, sizeof(*rows), 16), 0);
		rows[i] = (struct row){ i, 2 * i, 3 * i };
	}
	CHECK_INT(cap, 1024);
	for (size_t i = 0; i < 1000; i++)
		CHECK_MSG(rows[i].a == i && rows[i].c == 3 * i, "row %zu", i);

	UNIT_CASE("far index");
	CHECK_INT(smcp_array_grow(&ids, &icap, 100, sizeof(*ids), 4), 0);
	CHECK_INT(icap, 128);
	ids[100] = 7;
	CHECK_INT(ids[100], 7);

	UNIT_CASE("no first size");
	{
		char *s = NULL;
		size_t scap = 0;

		CHECK_INT(smcp_array_grow(&s, &scap, 0, 1, 0), 0);
		CHECK_INT(scap, 1);
		free(s);
	}

	UNIT_CASE("overflow");
	before = rows;
	CHECK_INT(smcp_array_grow(&rows, &cap, SIZE_MAX / 4, sizeof(*rows), 16), -ENOMEM);
	CHECK(rows == before);
	CHECK_INT(cap, 1024);
	CHECK_INT(smcp_array_grow(&rows, &cap, 1024, SIZE_MAX / 1024, 16), -ENOMEM);
	CHECK_INT(cap, 1024);

	free(rows);
	free(ids);
	return unit_done("unit-array");
}
