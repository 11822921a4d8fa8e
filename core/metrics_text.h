/* SPDX-License-Identifier: MIT */
/* Times, durations and quantities with units, as clients write them and as
 * answers show them. Pure functions. */
#ifndef SMCP_METRICS_TEXT_H
#define SMCP_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Time: "now", "-15m", "15m ago", "90s", "14:02" (today, local; yesterday if
 * that is still to come), "2025-01-31T14:02:00Z" / "2025-01-31 14:02" (local
 * unless Z or +hh:mm), unix seconds (>= 1e9). Returns 0 or -EINVAL.
 */
int metrics_text_parse_time(const char *s, int64_t now_ms, int64_t *ret_ms, char *err,
			    size_t errlen);
/* "90", "90s", "15m", "1h30m", "2d", "500ms" -> ms. */
int metrics_text_parse_duration_ms(const char *s, int64_t *ret_ms);
/* ISO-8601 local time with offset. */
void metrics_text_format_time(int64_t unix_ms, char *buf, size_t len);

/* A number with a unit suffix converted to unit: "2ms" for "ns" gives 2e6;
 * "80%" for "pct" gives 80; "1.5k" gives 1500. */
int metrics_text_parse_quantity(const char *s, const char *unit, double *ret, char *err,
				size_t errlen);
/* v in unit as text people read ("3.40 ms", "81.2%", "1.2k/s"). */
void metrics_text_format_quantity(double v, const char *unit, char *buf, size_t len);
/* Rounded to 4 significant digits: shorter answers, same information. */
double metrics_text_round_sig(double v);

#endif
