/* SPDX-License-Identifier: MIT */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "work.h"

/* Older headers lack these; the numbers are the kernel's ABI. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif
#define MAX_CAP 63

/* What an observability plugin that said nothing may plausibly need. */
#define PRIVS_UNDECLARED                                                                  \
	(PRIVS_CAP(CAP_BPF) | PRIVS_CAP(CAP_PERFMON) | PRIVS_CAP(CAP_SYS_ADMIN) |         \
	 PRIVS_CAP(CAP_SYS_PTRACE) | PRIVS_CAP(CAP_DAC_READ_SEARCH) | PRIVS_CAP(CAP_SYSLOG) | \
	 PRIVS_CAP(CAP_IPC_LOCK))

static const char *const cap_names[] = {
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
	"cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
	"cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw",
	"cap_ipc_lock", "cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot",
	"cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice",
	"cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
	"cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override",
	"cap_mac_admin", "cap_syslog", "cap_wake_alarm", "cap_block_suspend", "cap_audit_read",
	"cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
};

static struct declared {
	const struct smcp_host *h;
	uint64_t caps;
} *declared;
static size_t n_declared;
static uint64_t kept;
/* after privs_drop(): effective is managed per callback (privs_enter) */
static bool scoped;
static uint64_t cur_effective;

static struct declared *declared_find(const void *h)
{
	for (size_t i = 0; i < n_declared; i++)
		if (declared[i].h == h)
			return &declared[i];
	return NULL;
}

static int last_cap(void);

static int declare(const struct smcp_host *h, uint64_t caps)
{
	struct declared *d = declared_find(h);

	if (d) {
		d->caps |= caps;
		return 0;
	}
	d = realloc(declared, (n_declared + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	declared = d;
	declared[n_declared++] = (struct declared){ .h = h, .caps = caps };
	return 0;
}

int privs_keep_caps(struct smcp_host *h, uint64_t caps)
{
	int last;

	if (!h)
		return -EINVAL;
	if (!h->in_init)
		return -EPERM;
	last = last_cap();
	if (last < MAX_CAP && (caps >> (last + 1)))
		return -EINVAL;
	return declare(h, caps);
}

const char *privs_format(uint64_t mask, char *buf, size_t len)
{
	size_t at = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (int c = 0; c <= MAX_CAP && at < len; c++) {
		char num[16];
		const char *name = num;

		if (!(mask & PRIVS_CAP(c)))
			continue;
		if ((size_t)c < sizeof(cap_names) / sizeof(cap_names[0]))
			name = cap_names[c];
		else
			snprintf(num, sizeof(num), "cap_%d", c);
		at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "," : "", name);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
	return buf;
}

/* What plugin p needs: what it declared; nothing when it said nothing
 * (ABI 1.2 and later); what an observability plugin may plausibly need
 * when it was built before it could say (ABI 1.0 and 1.1). */
static uint64_t needs_of(const struct smcp_host *p)
{
	const struct declared *d = declared_find(p);

	if (d)
		return d->caps;
	if (p->info && p->info->abi_minor < 2)
		return PRIVS_UNDECLARED;
	return 0;
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1 || n < 0 || n > MAX_CAP)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

static uint64_t mask_of(const struct __user_cap_data_struct data[2], int which)
{
	uint32_t lo = which == 0 ? data[0].effective : which == 1 ? data[0].permitted
							       : data[0].inheritable;
	uint32_t hi = which == 0 ? data[1].effective : which == 1 ? data[1].permitted
							       : data[1].inheritable;

	return (uint64_t)hi << 32 | lo;
}

static int caps_set(uint64_t effective, uint64_t permitted)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	/* capset changes the calling thread only: the daemon has one (plugins
	 * may not start threads, plugin.h) */
	memset(data, 0, sizeof(data));
	data[0].effective = (uint32_t)effective;
	data[1].effective = (uint32_t)(effective >> 32);
	data[0].permitted = (uint32_t)permitted;
	data[1].permitted = (uint32_t)(permitted >> 32);
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/*
 * Become user, keeping the permitted set (the caller trims it next). 0 when
 * done or when user is root or empty; -ENOENT (no such account), -errno.
 */
static int switch_user(const char *user, uid_t *ret_uid)
{
	struct passwd *pw;

	*ret_uid = 0;
	if (!user || !*user || strcmp(user, "root") == 0)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return errno ? -errno : -ENOENT;
	if (pw->pw_uid == 0)
		return 0;
	/* keep the permitted set across the uid change; effective is cleared */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	*ret_uid = pw->pw_uid;
	return 0;
}

int privs_drop(const char *user)
{
	struct __user_cap_data_struct data[2];
	uint64_t want = 0, eff, perm, valid;
	int last = last_cap(), err, dropped = 0;
	struct smcp_host *const *plugins;
	char have_s[512], keep_s[512];
	uid_t uid = 0;
	size_t n;

	/* capabilities are per thread: a worker started before the drop would
	 * keep all of them, so none outlives it (they start again on demand) */
	work_stop_threads();
	plugins = loader_plugins(&n);
	for (size_t i = 0; i < n; i++) {
		struct smcp_host *p = plugins[i];
		uint64_t c;

		if (p->state != PLUGIN_LOADED && p->state != PLUGIN_DEGRADED)
			continue;
		c = needs_of(p);
		if (c)
			log_debug("plugin %s keeps %s", p->name, privs_format(c, keep_s,
									  sizeof(keep_s)));
		/* from now on what it keeps is looked up, not computed */
		if (c && !declared_find(p) && (err = declare(p, c)))
			return err;
		want |= c;
	}
	/* kernels before 5.8 know neither CAP_PERFMON nor CAP_BPF, before 5.9
	 * not CAP_CHECKPOINT_RESTORE: CAP_SYS_ADMIN covers them there */
	if (last < CAP_PERFMON && (want & (PRIVS_CAP(CAP_PERFMON) | PRIVS_CAP(CAP_BPF))))
		want |= PRIVS_CAP(CAP_SYS_ADMIN);
	if (last < CAP_CHECKPOINT_RESTORE && (want & PRIVS_CAP(CAP_CHECKPOINT_RESTORE)))
		want |= PRIVS_CAP(CAP_SYS_ADMIN);
	valid = last >= MAX_CAP ? ~0ull : PRIVS_CAP(last + 1) - 1;

	err = caps_get(data);
	if (err) {
		log_warn("cannot read this process's capabilities: %s; keeping them",
			 strerror(-err));
		return err;
	}
	eff = mask_of(data, 0);
	perm = mask_of(data, 1);
	kept = want & perm & valid;

	/* the bounding set first, while CAP_SETPCAP is still ours; it only
	 * matters for exec, which no_new_privs below rules out as well */
	if (eff & PRIVS_CAP(CAP_SETPCAP)) {
		for (int c = 0; c <= last; c++) {
			if ((kept & PRIVS_CAP(c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0)
				dropped++;
		}
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* uid 0 owns most of the files on the machine, capabilities or not:
	 * leave it, so that what no plugin may do, the daemon cannot */
	if (geteuid() == 0 && (eff & PRIVS_CAP(CAP_SETUID))) {
		err = switch_user(user, &uid);
		if (err == -ENOENT) {
			log_warn("no account '%s' to run as: staying uid 0, which can still write "
				 "files root owns (create it: useradd --system --no-create-home "
				 "--shell /usr/sbin/nologin %s; or set [core] user = root)",
				 user, user);
		} else if (err) {
			log_err("cannot run as '%s': %s; stopping", user, strerror(-err));
			return err;
		}
	}
	/* core code runs with no effective capability; each plugin's own are
	 * raised while its callbacks run (privs_enter) */
	err = caps_set(0, kept);
	if (err) {
		log_warn("cannot drop capabilities: %s; keeping %s", strerror(-err),
			 privs_format(perm, have_s, sizeof(have_s)));
		kept = perm;
		return uid ? err : 0;
	}
	scoped = true;
	cur_effective = 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		log_warn("cannot set no_new_privs: %s", strerror(-err));
		return 0;
	}
	if (uid)
		log_info("running as %s (uid %u); capabilities kept after start-up: %s, each "
			 "effective only while a plugin that declared it runs (dropped %d others)",
			 user, (unsigned)uid, privs_format(kept, keep_s, sizeof(keep_s)),
			 __builtin_popcountll(perm & ~kept));
	else
		/* said even when nothing was dropped (systemd handed over just
		 * what is needed): the journal should name what is kept */
		log_info("capabilities kept after start-up: %s, each effective only while a "
			 "plugin that declared it runs (dropped %d others, %d from the bounding "
			 "set)",
			 privs_format(kept, keep_s, sizeof(keep_s)),
			 __builtin_popcountll(perm & ~kept), dropped);
	return 0;
}

uint64_t privs_enter(const void *owner)
{
	uint64_t prev = cur_effective, want = 0;
	const struct declared *d;

	if (!scoped)
		return prev;
	d = declared_find(owner);
	if (d)
		want = d->caps & kept;
	if (want != cur_effective && caps_set(want, kept) == 0)
		cur_effective = want;
	return prev;
}

void privs_thread_enter(const void *owner)
{
	const struct declared *d;

	if (!scoped)
		return;
	/* the declarations are fixed once privs_drop() ran: read freely */
	d = declared_find(owner);
	(void)caps_set(d ? d->caps & kept : 0, kept);
}

void privs_leave(uint64_t saved)
{
	if (scoped && saved != cur_effective && caps_set(saved, kept) == 0)
		cur_effective = saved;
}

long privs_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}

uint64_t privs_kept(void)
{
	return kept;
}

void privs_reset(void)
{
	free(declared);
	declared = NULL;
	n_declared = 0;
	kept = 0;
	scoped = false;
	cur_effective = 0;
}
