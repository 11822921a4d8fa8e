/* SPDX-License-Identifier: MIT */
/* The HTTP transport of a build without libmicrohttpd: a config that asks
 * for it gets an error that says how to get it (meson.build chooses this
 * file or http.c; no #ifdef). */
#include "http.h"

#include <errno.h>
#include <stdio.h>

bool http_available(void)
{
	return false;
}

int http_listen(const struct http_opts *o, char *why, size_t why_len)
{
	snprintf(why, why_len, "this schedmcp was built without the HTTP transport "
		 "(libmicrohttpd was not found: apt-get install libmicrohttpd-dev, then rebuild)");
	return -ENOTSUP;
}

int http_serve(void)
{
	return -ENOTSUP;
}

void http_close(void)
{
}

uint16_t http_port(void)
{
	return 0;
}
