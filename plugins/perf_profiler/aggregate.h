/* SPDX-License-Identifier: MIT */
/*
 * Symbolisation and grouping of a profile, independent of the host API so
 * the benchmark and tests drive it directly.
 *
 * Every distinct frame is symbolised once into a symbol row (kernel symbols
 * from kallsyms, user symbols from the cached ELF images); rows then carry
 * self counts (the frame was the leaf) and total counts (the symbol was
 * anywhere on the stack, counted once per stack).
 */
#ifndef SMCP_PP_AGGREGATE_H
#define SMCP_PP_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kallsyms.h"
#include "profile.h"

enum pp_group {
	PP_GROUP_SYMBOL = 0,
	PP_GROUP_STACK,
	PP_GROUP_PROCESS,
	PP_GROUP_CPU,
};

struct pp_symrow {
	const char *name;   /* symbol, or "[unknown]" */
	const char *module; /* file base name, "[kernel.kallsyms]", "[ext4]", "[bpf]", "[vdso]" */
	uint16_t mod;       /* profile module id (PP_MOD_KERNEL / PP_MOD_UNKNOWN for others) */
	bool kernel, resolved;
	uint64_t self, total;
	uint32_t mark;      /* stack generation, to count total once per stack */
};

struct pp_agg_stack {
	uint32_t stack;
	const char *comm;
	uint64_t count;
};

struct pp_agg_group {
	int64_t key; /* pid or cpu */
	const char *comm;
	uint64_t count;
};

struct pp_agg {
	struct pp_profile *prof;
	const struct pp_kallsyms *ks;
	const char *debug_dir;
	struct pp_symrow *rows;
	size_t n_rows, cap_rows;
	struct pp_map64 row_by_key, row_by_frame;
	uint32_t *frame_rows; /* per profile frame index: row */
	uint64_t total;       /* samples that passed the filter */
	uint64_t frames_symbolised, frames_resolved;
	uint64_t kernel_unresolved; /* distinct kernel frames no symbol covers */
	uint32_t *sym_order;  /* rows sorted by self, then total */
	size_t n_sym_order;
	struct pp_agg_stack *stacks; /* PP_GROUP_STACK, by count */
	size_t n_stacks;
	struct pp_agg_group *groups; /* PP_GROUP_PROCESS / CPU, by count */
	size_t n_groups;
	struct pp_map64 group_row;   /* (key << 32 | row) -> self count */
	enum pp_group group;
	int32_t pid_filter;
};

/* Symbolise and group p. pid_filter -1: all. 0 or -ENOMEM. */
int pp_agg_build(struct pp_agg *a, struct pp_profile *p, const struct pp_kallsyms *ks,
		 const char *debug_dir, enum pp_group g, int32_t pid_filter);
void pp_agg_free(struct pp_agg *a);

/* Top self symbols of each of the n groups (pp_agg.groups entries): up to
 * max rows each, in one pass. rows and counts hold n * max entries (those
 * of group i from i * max), ret_n[i] how many group i got. 0 or -ENOMEM. */
int pp_agg_groups_top(const struct pp_agg *a, const struct pp_agg_group *groups, size_t n,
		      size_t max, uint32_t *rows, uint64_t *counts, size_t *ret_n);
/* Top stacks whose leaf is each of the n rows (distinct): up to max each, in
 * one pass over the buckets; laid out as for pp_agg_groups_top. 0 or
 * -ENOMEM. */
int pp_agg_rows_stacks(const struct pp_agg *a, const uint32_t *rows, size_t n, size_t max,
		       uint32_t *stacks, uint64_t *counts, size_t *ret_n);
/*
 * The callers (or callees) of a symbol as a tree: the root is the symbol,
 * a node's children are the frames one step further from it on the stacks
 * through it, counted once per sample (the occurrence nearest the leaf for
 * callers, the outermost for callees, so recursion shows once). Nodes are
 * keyed by (parent, symbol row); each keeps the frame most of its samples
 * had (a majority vote), for its source line. Children are linked in
 * descending count order.
 */
struct pp_tree_node {
	uint32_t row;
	uint32_t parent, first_child, next_sibling; /* PP_TREE_NONE when none */
	uint64_t count;
	uint64_t frame, votes; /* the majority frame, and its vote */
	uint16_t depth;
};

#define PP_TREE_NONE UINT32_MAX

struct pp_tree {
	struct pp_tree_node *nodes; /* [0] is the root */
	size_t n, cap, max_nodes;
	unsigned int max_depth;
	uint64_t cut;     /* samples whose path stopped at max_nodes */
	size_t n_matches; /* symbol rows with the name (one per module) */
	struct pp_map64 idx;
};

/* Build t for the rows named symbol (none: t->n_matches 0 and 0),
 * callers or callees, at most max_depth levels below the root and
 * max_nodes nodes. 0 or -ENOMEM; free t with pp_tree_free either way. */
int pp_agg_tree(const struct pp_agg *a, const char *symbol, bool callers, unsigned int max_depth,
		size_t max_nodes, struct pp_tree *t);
void pp_tree_free(struct pp_tree *t);

/* Row of frame i of stack id. */
uint32_t pp_agg_frame_row(const struct pp_agg *a, uint32_t stack, unsigned int i);
/* "comm;root;...;leaf" (kernel frames suffixed _[k]) into buf; returns the
 * length it needed (like snprintf). comm may be NULL. */
size_t pp_agg_folded(const struct pp_agg *a, uint32_t stack, const char *comm, char *buf,
		     size_t len);

#endif
