/* SPDX-License-Identifier: MIT */
/* Analyses of a loaded trace (ta_analyze.c): an answer is a header and a
 * page of rows of typed cells, built on a worker and written out as JSON on
 * the loop (trace_analysis.c), which cuts it to max_result_bytes. */
#ifndef TA_AN_H
#define TA_AN_H

#include "ta.h"

#define TA_ROW_CELLS 24
#define TA_MAX_ROWS 500

enum ta_cell_kind { TA_C_INT = 1, TA_C_UINT, TA_C_DBL, TA_C_STR, TA_C_NULL };

struct ta_cell {
	const char *key; /* static text */
	uint8_t kind;
	union {
		int64_t i;
		uint64_t u;
		double d;
	};
	char s[40];
};

struct ta_row {
	uint32_t n;
	struct ta_cell c[TA_ROW_CELLS];
};

/* The machine's topology, for migrations (-1: unknown). */
struct ta_topo {
	uint32_t n_cpus;
	int32_t *core, *llc, *node;
	bool valid;
};

struct ta_query {
	char analysis[24];
	int64_t tid, pid, cpu; /* -1: not given */
	int64_t t1_ns, t2_ns;  /* relative to the trace's first event; -1: not given */
	char group[16];        /* process, thread, cpu */
	uint64_t cursor;
	uint32_t limit;
	const struct ta_topo *topo; /* NULL: not this machine */
	const char *topo_why;       /* why topology is unknown */
};

struct ta_answer {
	char method[512];
	char note[512];
	struct ta_row head;
	struct ta_row *rows;
	uint32_t n_rows;
	uint64_t total;
	int err;
	char errmsg[256];
};

/* The analyses' names, NULL-terminated. */
extern const char *const ta_analyses[];
struct ta_replay;
/* Run q on t into a (allocated rows; free with ta_answer_free). shared: a
 * replay of t made before (read only, may be NULL: one is made, and handed
 * to *ret_rp when ret_rp is not NULL, for the caller to keep or free with
 * ta_replay_free and free). 0, or -errno with a->errmsg for the client
 * (-EINVAL: a bad query). */
int ta_analyze(const struct ta_trace *t, const struct ta_replay *shared, const struct ta_query *q,
	       struct ta_answer *a, struct ta_replay **ret_rp);
void ta_answer_free(struct ta_answer *a);

void ta_cell_int(struct ta_row *r, const char *key, int64_t v);
void ta_cell_uint(struct ta_row *r, const char *key, uint64_t v);
void ta_cell_dbl(struct ta_row *r, const char *key, double v);
void ta_cell_str(struct ta_row *r, const char *key, const char *v);

/* Shared by the analyses' files (ta_analyze.c). The row i of the answer
 * when it falls in the query's page (NULL otherwise; a->total counts it). */
struct ta_row *ta_an_page_row(struct ta_answer *a, const struct ta_query *q, uint64_t i);
/* The query's window in trace time [*lo, *hi]; false: none was asked. */
bool ta_an_window(const struct ta_trace *t, const struct ta_query *q, uint64_t *lo, uint64_t *hi);
/* t1_ns, t2_ns of the window into the answer's head. */
void ta_an_put_window(struct ta_answer *a, const struct ta_trace *t, uint64_t lo, uint64_t hi);

/* ta_dsq.c: the dsq analysis. */
int ta_an_dsq(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a);
/* ta_stacks.c: top functions (group "function") or stacks ("stack") of the
 * stack samples in the query's scope (tid, pid, cpu, t1_ns..t2_ns). */
int ta_an_samples(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a);

#endif
