/* SPDX-License-Identifier: MIT */
/* State shared by the mock host's API (mockhost_api.c) and its command
 * loop (mockhost.c). Test code only. */
#ifndef SMCP_MOCKHOST_H
#define SMCP_MOCKHOST_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <schedmcp/plugin.h>

#define MAX_REG 64
#define MAX_TIMERS 16
#define MAX_DEPTH 64

struct smcp_host {
	const char *fs_root;
	uint64_t now_ns;
	bool in_init, degraded;
	char reason[512];
};

struct reg {
	char *key;       /* URI or tool name */
	char *desc_json; /* what was registered, for "list" */
	smcp_read_fn read;
	smcp_tool_fn call;
	void *data;
};

struct timer {
	int id; /* 0: free slot */
	uint64_t interval_ns, due_ns;
	bool repeat;
	smcp_timer_fn cb;
	void *data;
};

struct smcp_json {
	cJSON *stack[MAX_DEPTH];
	int depth;
	int err;
};

struct smcp_result {
	cJSON *content; /* array of content items */
	struct smcp_json json;
	cJSON *root;    /* structuredContent / JSON body, when result_json was used */
	bool is_error;
};

struct smcp_args {
	cJSON *obj;
};

struct smcp_completion {
	cJSON *values; /* array of strings */
	uint32_t total;
};

/* A step for the core's workflow prompts, copied as the host would. */
struct mock_step {
	char *topic, *text, *needs, *missing;
	int order;
	smcp_step_render_fn render;
	void *data;
};

struct mock_completer {
	char *arg;
	smcp_complete_fn complete;
	void *data;
};

extern struct smcp_host host;
extern struct reg resources[MAX_REG], tools[MAX_REG];
extern int n_resources, n_tools;
extern struct timer timers[MAX_TIMERS];
extern struct mock_step steps[MAX_REG];
extern int n_steps;
extern struct mock_completer completers[MAX_REG];
extern int n_completers;
extern const struct smcp_host_api mock_api;

void writer_init(struct smcp_json *j, cJSON *root);

/* The metric API (mockhost_metrics.c). */
int m_metric_register(struct smcp_host *h, const struct smcp_metric_desc *d);
int m_metric_set(struct smcp_host *h, int id, const char *const *lv, double v);
int m_metric_add(struct smcp_host *h, int id, const char *const *lv, double d);
int m_metric_hist(struct smcp_host *h, int id, const char *const *lv, const uint64_t *counts,
		  uint32_t n, double sum, uint32_t flags);
int m_metric_observe(struct smcp_host *h, int id, const char *const *lv, double v);
int m_metric_collect(struct smcp_host *h, smcp_collect_fn cb, void *data);
int m_metric_window(struct smcp_host *h, int id, const char *const *lv, uint64_t window_ms,
		    struct smcp_metric_window *w);
void mock_metrics_free(void);
/* Series windows read so far (metric_window), for tests of a read's cost. */
extern uint64_t mock_window_reads;

#endif
