/* SPDX-License-Identifier: MIT */
/* Windows over the sample ring. */
#include "stat_window.h"

#include <math.h>
#include <string.h>

static const struct {
	const char *name;
	uint64_t secs; /* 0: since the plugin started */
} windows[WIN_NR] = {
	[WIN_1S] = { "1s", 1 },
	[WIN_10S] = { "10s", 10 },
	[WIN_60S] = { "60s", 60 },
	[WIN_START] = { "since_start", 0 },
};

int window_by_name(const char *name)
{
	for (int i = 0; i < WIN_NR; i++)
		if (strcmp(name, windows[i].name) == 0)
			return i;
	return -1;
}

const char *window_name(enum window_id w)
{
	return windows[w].name;
}

double round2(double v)
{
	return round(v * 100.0) / 100.0;
}

void put_num(const struct emit_ctx *c, const char *key, double v)
{
	if (v < 0)
		c->api->json_null(c->j, key);
	else
		c->api->json_double(c->j, key, round2(v));
}

bool win_get(const struct emit_ctx *c, enum window_id id, struct win *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->id = id;
	ret->newest = sampler_newest(c->s);
	ret->base = sampler_base(c->s, windows[id].secs * 1000000000ull, c->interval_ns,
				 &ret->complete);
	if (!ret->base || !ret->newest || ret->newest->t_ns <= ret->base->t_ns)
		return false;
	ret->covered_s = (double)(ret->newest->t_ns - ret->base->t_ns) / 1e9;
	return true;
}

bool win_open(const struct emit_ctx *c, const char *key, enum window_id id, struct win *ret)
{
	const struct smcp_host_api *api = c->api;
	bool ok = win_get(c, id, ret);

	api->json_object(c->j, key);
	api->json_string(c->j, "window", windows[id].name);
	if (windows[id].secs)
		api->json_int(c->j, "requested_s", (int64_t)windows[id].secs);
	else
		api->json_null(c->j, "requested_s");
	if (!ok) {
		api->json_bool(c->j, "available", false);
		api->json_string(c->j, "reason",
				 "only one sample so far; windows need two and the sampler "
				 "takes one per second");
		api->json_end(c->j);
		return false;
	}
	api->json_bool(c->j, "available", true);
	api->json_double(c->j, "covered_s", round2(ret->covered_s));
	api->json_bool(c->j, "complete", ret->complete);
	return true;
}

bool win_same_as(const struct emit_ctx *c, const struct win *w, struct win *prev)
{
	if (prev->base && prev->base->t_ns == w->base->t_ns &&
	    prev->newest->t_ns == w->newest->t_ns) {
		c->api->json_string(c->j, "same_as", windows[prev->id].name);
		c->api->json_end(c->j);
		return true;
	}
	*prev = *w;
	return false;
}

double win_rate(const struct win *w, uint64_t before, uint64_t after)
{
	if (after < before || w->covered_s <= 0)
		return 0;
	return (double)(after - before) / w->covered_s;
}

double win_psi_pct(const struct win *w, int res, int kind)
{
	if (!w->base->psi_have[res][kind] || !w->newest->psi_have[res][kind])
		return -1;
	return win_rate(w, w->base->psi_us[res][kind], w->newest->psi_us[res][kind]) / 1e6 *
	       100.0;
}

void emit_sampling(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	const struct sample *newest = sampler_newest(c->s);
	const struct sample *oldest;

	api->json_object(c->j, "sampling");
	api->json_int(c->j, "interval_ms", (int64_t)(c->interval_ns / 1000000));
	api->json_int(c->j, "samples_kept", c->s->count);
	if (newest) {
		oldest = &c->s->ring[(c->s->head - c->s->count + 1 + RING_SLOTS) % RING_SLOTS];
		api->json_double(c->j, "history_s",
				 round2((double)(newest->t_ns - oldest->t_ns) / 1e9));
		api->json_double(c->j, "since_start_s",
				 round2((double)(newest->t_ns - c->s->first.t_ns) / 1e9));
	}
	api->json_end(c->j);
}
