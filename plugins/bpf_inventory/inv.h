/* SPDX-License-Identifier: MIT */
/*
 * The bpf_inventory plugin's model of what is loaded: a snapshot of every
 * BPF program, map and link, who holds them, and which struct_ops map
 * (a sched_ext scheduler, a TCP congestion control) each ops program
 * belongs to. Taken with the BPF syscall on demand; nothing is cached
 * between reads except BTF (inv_btf.c).
 */
#ifndef SMCP_INV_H
#define SMCP_INV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INV_NAME_LEN 16   /* BPF_OBJ_NAME_LEN */
#define INV_MAX_OWNERS 4  /* holders kept per object (the count is exact) */
#define INV_MAX_MAP_IDS 64
#define INV_TARGET_LEN 256
#define INV_MAX_OBJECTS 65536 /* listed at most of each kind; far above real use */

struct inv_btf; /* inv_btf.c */

struct inv_owner {
	int32_t pid;
	char comm[16];
};

/* Processes holding an fd to an object (or to a link of a program). */
struct inv_owners {
	uint32_t total;
	uint32_t n;
	struct inv_owner o[INV_MAX_OWNERS];
	int32_t last_pid; /* /proc is walked one process at a time */
	bool self;        /* this daemon is one of them */
};

struct inv_prog {
	uint32_t id, type;
	char name[INV_NAME_LEN + 1]; /* as the kernel keeps it: cut at 15 characters */
	char full_name[128];          /* from the program's BTF when name was cut; "" else */
	uint32_t func_type_id;        /* BTF type of the main function, 0 unknown */
	uint8_t tag[8];
	uint64_t load_time_ns; /* CLOCK_BOOTTIME */
	uint32_t uid;
	uint32_t verified_insns, xlated_len, jited_len;
	bool gpl;
	uint32_t btf_id, nr_func_info;
	uint32_t attach_btf_obj_id, attach_btf_id;
	uint64_t run_time_ns, run_cnt, recursion_misses;
	uint32_t nr_map_ids; /* may exceed INV_MAX_MAP_IDS; map_ids holds the first */
	uint32_t map_ids[INV_MAX_MAP_IDS];
	int64_t memlock;     /* bytes charged, from fdinfo; -1 unknown */
	char target[INV_TARGET_LEN]; /* what it attaches to, from BTF; "" unknown */
	int group;           /* index into inv_snap.groups, -1 none */
	char op[64];         /* struct_ops member it implements */
	uint32_t n_links;
	struct inv_owners owners;
};

struct inv_map {
	uint32_t id, type;
	char name[INV_NAME_LEN + 1];
	uint32_t key_size, value_size, max_entries, map_flags;
	uint32_t btf_id, btf_vmlinux_value_type_id;
	uint64_t map_extra;
	int64_t memlock;
	uint32_t n_progs; /* loaded programs that use it */
	struct inv_owners owners;
};

struct inv_link {
	uint32_t id, type, prog_id;
	char target[INV_TARGET_LEN];
	struct inv_owners owners;
};

struct inv_so_op {
	char op[48];
	uint32_t prog_id;
};

/* One struct_ops map: a sched_ext scheduler, a TCP congestion control... */
struct inv_so_group {
	uint32_t map_id;
	char map_name[INV_NAME_LEN + 1];
	char kind[64];  /* the kernel struct: sched_ext_ops, tcp_congestion_ops */
	char name[128]; /* its "name" member: the scheduler's name */
	int state;      /* enum bpf_struct_ops_state, -1 unknown */
	bool active_sched_ext; /* the scheduler /sys/kernel/sched_ext reports */
	struct inv_so_op *ops;
	size_t n_ops;
	char error[160]; /* why ops could not be read */
};

struct inv_snap {
	struct inv_prog *progs; /* sorted by id */
	size_t n_progs;
	struct inv_map *maps;   /* sorted by id */
	size_t n_maps;
	struct inv_link *links; /* sorted by id */
	size_t n_links;
	struct inv_so_group *groups;
	size_t n_groups;
	size_t vanished;        /* objects unloaded while we looked */
	bool owners_scanned;
	bool owners_cut;        /* the /proc walk stopped at its bound */
	size_t owner_fds;       /* BPF fds found in /proc */
	uint64_t scan_us;
};

enum inv_want {
	INV_WANT_MAPS = 1u << 0,
	INV_WANT_LINKS = 1u << 1,
	INV_WANT_OWNERS = 1u << 2,
	INV_WANT_STRUCT_OPS = 1u << 3, /* implies maps */
	INV_WANT_TARGETS = 1u << 4,    /* BTF names of attach targets (kernel BTF) */
	INV_WANT_NAMES = 1u << 5,      /* full names of cut program names (program BTF) */
	INV_WANT_ALL = 0x3f,
};

/*
 * Take a snapshot. root is the fs_root (only /sys/kernel/sched_ext is read
 * through it: BPF ids are the live kernel's, so /proc is always the real
 * one). Returns 0, or -errno when programs cannot be listed at all (-EPERM
 * without CAP_SYS_ADMIN) with why[] filled.
 */
int inv_scan(struct inv_snap *s, struct inv_btf *btf, const char *root, unsigned want,
	     char *why, size_t why_len);
void inv_snap_free(struct inv_snap *s);
const struct inv_prog *inv_find_prog(const struct inv_snap *s, uint32_t id);
const struct inv_map *inv_find_map(const struct inv_snap *s, uint32_t id);

/* Just the run-time counters of every program, for the sampler. */
struct inv_counter {
	uint32_t id;
	uint64_t run_cnt, run_time_ns;
};

/*
 * bsearch() comparison of a uint32_t id (key) with a record whose first
 * member is its uint32_t id: struct inv_prog, inv_map and inv_counter,
 * which the scans keep sorted by id.
 */
static inline int inv_cmp_id(const void *key, const void *rec)
{
	uint32_t a = *(const uint32_t *)key, b = *(const uint32_t *)rec;

	return a < b ? -1 : a > b;
}
_Static_assert(offsetof(struct inv_prog, id) == 0 && offsetof(struct inv_map, id) == 0 &&
		       offsetof(struct inv_counter, id) == 0,
	       "inv_cmp_id reads the id first");

int inv_read_counters(struct inv_counter **ret, size_t *ret_n);

/* Grow *arr (of *cap elements of size) to hold n + 1, and zero element n;
 * -E2BIG past INV_MAX_OBJECTS. */
int inv_grow(void **arr, size_t *cap, size_t n, size_t size);

/* The walk over one kind of BPF object: next is bpf_{prog,map,link}_get_next_id
 * and by_id its get_fd_by_id. Opens the next object after *id (moving *id on)
 * and returns its fd; an object unloaded before it could be opened is passed
 * over (and counted in *vanished unless that is NULL). -ENOENT after the
 * last, else next's -errno. */
int inv_open_next(int (*next)(uint32_t, uint32_t *), int (*by_id)(uint32_t), uint32_t *id,
		  size_t *vanished);

/* The info of the object open at fd into info (len bytes, zeroed or set up
 * by the caller). false: it was unloaded between its id and this call; fd
 * is then closed and the object counted in *vanished. */
bool inv_get_info(int fd, void *info, uint32_t len, size_t *vanished);

/* Every link with its target, counted on its program (inv_links.c). Needs
 * progs and maps scanned first. */
int inv_scan_links(struct inv_snap *s, struct inv_btf *btf);

/* Who holds BPF fds: fills owners of progs, maps and links (inv_owners.c). */
void inv_scan_owners(struct inv_snap *s);

/* BTF, loaded on demand and kept until inv_btf_release (inv_btf.c); the
 * names it gave are cached (at most 1024) until inv_btf_free. */
struct inv_btf *inv_btf_new(void);
void inv_btf_release(struct inv_btf *b); /* drop loaded BTF, keep the names */
void inv_btf_free(struct inv_btf *b);
bool inv_btf_loaded(const struct inv_btf *b);
/* Whether loaded BTF is worth keeping for the next read: it decoded a
 * struct_ops map since the last release (names alone come from the cache). */
bool inv_btf_keep(const struct inv_btf *b);
/* "tp_btf/sched_switch", "fentry/do_exit"...: what a program of prog_type
 * attaches to given its BTF object and type; "" when unknown. attach_type
 * is the link's (or UINT32_MAX when no link says). */
void inv_btf_target(struct inv_btf *b, uint32_t prog_type, uint32_t attach_type,
		    uint32_t obj_id, uint32_t type_id, char *buf, size_t len);
/* The name of BTF type type_id in the (program) BTF object obj_id; "" when
 * unknown. Program BTF is small and is not kept (its names are). */
void inv_btf_type_name(struct inv_btf *b, uint32_t obj_id, uint32_t type_id, char *buf,
		       size_t len);
/* Fill a struct_ops group from the map's value (kind, name, state, ops). */
int inv_btf_struct_ops(struct inv_btf *b, uint32_t value_type_id, const void *value,
		       size_t value_size, struct inv_so_group *g);

/* Type names as libbpf/bpftool spell them; "type_N" for unknown ones. */
const char *inv_prog_type_name(uint32_t t, char *buf, size_t len);
const char *inv_map_type_name(uint32_t t, char *buf, size_t len);
const char *inv_link_type_name(uint32_t t, char *buf, size_t len);
const char *inv_attach_type_name(uint32_t t, char *buf, size_t len);

#endif
