/* SPDX-License-Identifier: MIT */
/* The state directory and its lock, the forked writer and its timer, and
 * the restore. The file is persist_file.c's, its payload persist_encode.c's. */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "persist_impl.h"
#include "safeopen.h"
#include "watch.h"

/* How often the timer looks at the writer and the watches. */
#define CHECK_MS 1000
/* A change of the watches is saved at most this often. */
#define WATCH_SAVE_MIN_NS (5ull * 1000000000)
/* A background writer that runs this long is stopped (a hung disk). */
#define WRITER_MAX_NS (300ull * 1000000000)

/* What the forked writer reports back, in a MAP_SHARED page. */
struct report {
	int err;
	struct persist_stats st;
};

static struct {
	char cfg_dir[PATH_MAX]; /* [core] state_dir */
	bool dir_explicit;
	char dir[PATH_MAX]; /* the one opened */
	uint32_t interval_s;
	uint64_t max_bytes;
	int dirfd, lockfd;
	bool active;
	int timer;
	pid_t child;
	uint64_t child_start_ns, last_save_ns;
	uint32_t watch_gen;
	bool failing;
	struct report *shared;
	struct persist_bg_stats bg;
} ps = { .dirfd = -1, .lockfd = -1, .interval_s = 60, .max_bytes = 64ull << 20 };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ config */

void persist_configure(const struct config_section *core, const struct smcp_config_key *keys)
{
	const struct smcp_config_key *k = config_key_find(keys, "state_dir");
	const char *v = config_value(core, "state_dir", NULL);

	ps.dir_explicit = v != NULL;
	snprintf(ps.cfg_dir, sizeof(ps.cfg_dir), "%s", v ? v : k ? k->default_value : "");
	ps.interval_s = (uint32_t)config_key_int(core, keys, "persist_interval_s");
	ps.max_bytes = (uint64_t)config_key_int(core, keys, "state_max_mb") << 20;
}

const char *persist_configured_dir(bool *ret_explicit)
{
	if (ret_explicit)
		*ret_explicit = ps.dir_explicit;
	return ps.cfg_dir[0] ? ps.cfg_dir : NULL;
}

void persist_set_limits(uint32_t interval_s, uint64_t max_file_bytes)
{
	ps.interval_s = interval_s;
	ps.max_bytes = max_file_bytes;
}

bool persist_active(void)
{
	return ps.active;
}

const struct persist_bg_stats *persist_bg_stats(void)
{
	return &ps.bg;
}

/* -------------------------------------------------------------- open */

/* The account privs_drop() will run as: where the daemon's files go. */
static void run_as(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	*uid = geteuid();
	*gid = getegid();
	/* not root: no switch will happen */
	if (*uid != 0 || !user || !*user || strcmp(user, "root") == 0)
		return;
	pw = getpwnam(user);
	/* no such account: privs_drop() stays uid 0 and says so */
	if (pw && pw->pw_uid != 0) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
}

static int take_lock(char *why, size_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;
	int fd, err;

	fd = openat(ps.dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		    0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "cannot open %s/lock: %s", ps.dir, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s/lock is not a regular file", ps.dir);
		close(fd);
		return -EINVAL;
	}
	/* a record lock, not flock(): the forked writer does not inherit it,
	 * and F_GETLK names the holder */
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		err = -errno;
		if (err == -EAGAIN || err == -EACCES) {
			fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
			if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
				snprintf(why, len, "state dir %s in use by pid %d", ps.dir,
					 (int)fl.l_pid);
			else
				snprintf(why, len, "state dir %s in use by another process",
					 ps.dir);
			err = -EBUSY;
		} else {
			snprintf(why, len, "cannot lock %s/lock: %s", ps.dir, strerror(-err));
		}
		close(fd);
		return err;
	}
	ps.lockfd = fd;
	return 0;
}

int persist_open(const char *dir, const char *user, char *why, size_t len)
{
	char parent[PATH_MAX], base[NAME_MAX + 1];
	struct stat st;
	const char *slash;
	bool created = false;
	size_t n;
	int pfd = -1, fd = -1, err;
	uid_t uid;
	gid_t gid;

	persist_close();
	n = dir ? strlen(dir) : 0;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (!n || dir[0] != '/' || n >= sizeof(ps.dir)) {
		snprintf(why, len, "state_dir: expected an absolute path");
		return -EINVAL;
	}
	snprintf(ps.dir, sizeof(ps.dir), "%.*s", (int)n, dir);
	slash = strrchr(ps.dir, '/');
	if (strlen(slash + 1) > NAME_MAX || !slash[1] || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0) {
		snprintf(why, len, "state_dir %s: expected a directory name at its end", ps.dir);
		return -EINVAL;
	}
	snprintf(base, sizeof(base), "%s", slash + 1);
	snprintf(parent, sizeof(parent), "%.*s", slash == ps.dir ? 1 : (int)(slash - ps.dir),
		 ps.dir);
	run_as(user, &uid, &gid);
	/* whoever may swap what is on the path could point us anywhere */
	pfd = safeopen(-1, parent, SAFEOPEN_DIR, why, len);
	if (pfd < 0)
		return pfd;
	if (mkdirat(pfd, base, 0750) == 0)
		created = true;
	else if (errno != EEXIST) {
		err = -errno;
		snprintf(why, len, "cannot create %s: %s", ps.dir, strerror(-err));
		goto fail;
	}
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			snprintf(why, len, "%s is a symlink (name the directory itself)", ps.dir);
		else
			snprintf(why, len, "%s: %s", ps.dir, strerror(-err));
		goto fail;
	}
	/* ours: the account the daemon writes as after start-up owns it */
	if (created && (fchown(fd, uid, gid) < 0 || fchmod(fd, 0750) < 0)) {
		err = -errno;
		snprintf(why, len, "cannot give %s to uid %u: %s", ps.dir, (unsigned)uid,
			 strerror(-err));
		goto fail;
	}
	err = -EPERM;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", ps.dir);
		goto fail;
	}
	if (st.st_uid != 0 && st.st_uid != uid) {
		snprintf(why, len,
			 "%s is owned by uid %u, neither root nor the account the daemon runs as "
			 "(uid %u): chown it, or remove it and it is created",
			 ps.dir, (unsigned)st.st_uid, (unsigned)uid);
		goto fail;
	}
	if (st.st_uid == 0 && uid != 0) {
		snprintf(why, len,
			 "%s is owned by root, but the daemon writes it as %s (uid %u) after "
			 "start-up: chown %s %s, or remove it and it is created",
			 ps.dir, user, (unsigned)uid, user, ps.dir);
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "%s is writable by %s: chmod 0750 it", ps.dir,
			 (st.st_mode & S_IWOTH) ? "others" : "its group");
		goto fail;
	}
	close(pfd);
	pfd = -1;
	ps.dirfd = fd;
	fd = -1;
	err = take_lock(why, len);
	if (err)
		goto fail;
	ps.shared = mmap(NULL, sizeof(*ps.shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ps.shared == MAP_FAILED) {
		ps.shared = NULL;
		err = -errno;
		snprintf(why, len, "cannot map a page: %s", strerror(-err));
		goto fail;
	}
	persist_file_tidy(ps.dirfd, NULL);
	ps.active = true;
	return 0;
fail:
	if (pfd >= 0)
		close(pfd);
	if (fd >= 0)
		close(fd);
	persist_close();
	return err;
}

/* ------------------------------------------------- the forked writer */

static __attribute__((noreturn)) void writer_main(pid_t parent, bool background)
{
	int err;

	/* a daemon killed outright takes its writer along */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	(void)prctl(PR_SET_NAME, "schedmcp-save");
	/* the copy of every BPF, perf and client fd is dropped at once, so
	 * nothing the daemon closes stays open here; stderr stays for the
	 * sanitizers */
	for (int fd = 0; fd < 3; fd++)
		if (fd != STDERR_FILENO && fd != ps.dirfd)
			(void)close(fd);
	if (ps.dirfd > 3)
		(void)close_range(3, (unsigned)ps.dirfd - 1, 0);
	(void)close_range(ps.dirfd >= 3 ? (unsigned)ps.dirfd + 1 : 3, ~0u, 0);
	if (background)
		(void)setpriority(PRIO_PROCESS, 0, 10);
	memset(ps.shared, 0, sizeof(*ps.shared));
	err = persist_write_now(&ps.shared->st);
	ps.shared->err = err;
	/* no atexit handlers, no stdio flush: they belong to the daemon */
	_exit(err ? 1 : 0);
}

static pid_t writer_start(bool background, uint64_t *fork_ns)
{
	pid_t parent = getpid(), pid;
	uint64_t t0 = mono_ns();

	pid = fork();
	if (pid == 0)
		writer_main(parent, background);
	*fork_ns = mono_ns() - t0;
	return pid < 0 ? -errno : pid;
}

/* What the writer that ended with status reported, in words. */
static const char *writer_failure(int status, char *buf, size_t len)
{
	if (WIFEXITED(status) && ps.shared->st.why[0])
		return ps.shared->st.why;
	if (WIFSIGNALED(status))
		snprintf(buf, len, "the writer was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "the writer exited with status %d", WEXITSTATUS(status));
	return buf;
}

/* A writer stopped before it finished leaves its temporary file. */
static void writer_kill(void)
{
	char tmp[64];
	int status;

	if (!ps.child)
		return;
	(void)kill(ps.child, SIGKILL);
	for (int i = 0; i < 400 && waitpid(ps.child, &status, WNOHANG) == 0; i++)
		(void)nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", PERSIST_FILE, (int)ps.child);
	(void)unlinkat(ps.dirfd, tmp, 0);
	ps.child = 0;
}

static void reap(void)
{
	char buf[96];
	int status;
	pid_t r;

	if (!ps.child)
		return;
	r = waitpid(ps.child, &status, WNOHANG);
	if (r == 0) {
		if (mono_ns() - ps.child_start_ns > WRITER_MAX_NS) {
			log_warn("saving state in %s took longer than %llu s; stopped it",
				 ps.dir, (unsigned long long)(WRITER_MAX_NS / 1000000000));
			writer_kill();
			ps.bg.failures++;
		}
		return;
	}
	ps.child = 0;
	if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !ps.shared->err) {
		const struct persist_stats *st = &ps.shared->st;

		ps.bg.saves++;
		ps.bg.last = *st;
		if (ps.failing)
			log_info("state saved in %s again", ps.dir);
		ps.failing = false;
		log_debug("state saved: %u series, %u watches, %llu KiB (%llu KiB raw) in %.1f ms; "
			  "the loop paused %.2f ms to fork",
			  st->series_saved, st->watches_saved,
			  (unsigned long long)(st->file_bytes >> 10),
			  (unsigned long long)(st->raw_bytes >> 10), (double)st->write_ns / 1e6,
			  (double)ps.bg.fork_ns_last / 1e6);
		if (st->series_cut || st->fine_cut)
			log_debug("state_max_mb: %u series' fine tier and %u whole series left out",
				  st->fine_cut, st->series_cut);
		return;
	}
	ps.bg.failures++;
	/* once per episode: a full disk must not fill the log too */
	log_msg(ps.failing ? SMCP_LOG_DEBUG : SMCP_LOG_WARNING, "core",
		"cannot save state in %s: %s (trying again every %u s)", ps.dir,
		r < 0 ? strerror(errno) : writer_failure(status, buf, sizeof(buf)), ps.interval_s);
	ps.failing = true;
}

int persist_save(void)
{
	uint64_t fork_ns;
	pid_t pid;

	if (!ps.active)
		return -ENOTCONN;
	reap();
	if (ps.child)
		return -EBUSY;
	pid = writer_start(true, &fork_ns);
	ps.last_save_ns = mono_ns();
	ps.watch_gen = watch_generation();
	if (pid < 0) {
		ps.bg.failures++;
		log_msg(ps.failing ? SMCP_LOG_DEBUG : SMCP_LOG_WARNING, "core",
			"cannot save state: fork: %s", strerror(-pid));
		ps.failing = true;
		return pid;
	}
	ps.child = pid;
	ps.child_start_ns = ps.last_save_ns;
	ps.bg.fork_ns_last = fork_ns;
	if (fork_ns > ps.bg.fork_ns_max)
		ps.bg.fork_ns_max = fork_ns;
	return 0;
}

int persist_wait(uint64_t timeout_ms)
{
	uint64_t t0 = mono_ns(), failures = ps.bg.failures;

	while (ps.child) {
		reap();
		if (!ps.child)
			break;
		if (mono_ns() - t0 > timeout_ms * 1000000)
			return -ETIMEDOUT;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
	}
	return ps.bg.failures != failures ? -EIO : 0;
}

static void on_timer(void *data)
{
	uint64_t now = mono_ns();

	reap();
	if (ps.child)
		return;
	if (now - ps.last_save_ns >= (uint64_t)ps.interval_s * 1000000000 ||
	    (watch_generation() != ps.watch_gen && now - ps.last_save_ns >= WATCH_SAVE_MIN_NS))
		(void)persist_save();
}

int persist_save_final(void)
{
	struct persist_stats *st;
	uint64_t fork_ns, t0 = mono_ns();
	char buf[96];
	int status = 0, err = 0;
	pid_t pid;

	if (!ps.active)
		return 0;
	/* its snapshot is older than what the store holds now */
	writer_kill();
	pid = writer_start(false, &fork_ns);
	if (pid < 0) {
		/* no memory for a child: write from here, unbounded but saved */
		err = persist_write_now(&ps.shared->st);
		goto done;
	}
	ps.child = pid;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			err = -errno;
			ps.child = 0;
			goto done;
		}
		if (mono_ns() - t0 > PERSIST_FINAL_TIMEOUT_MS * 1000000ull) {
			writer_kill();
			log_err("state not saved: writing %s took longer than %u s", ps.dir,
				PERSIST_FINAL_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		(void)nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
	}
	ps.child = 0;
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) || ps.shared->err) {
		log_err("state not saved in %s: %s", ps.dir,
			writer_failure(status, buf, sizeof(buf)));
		return ps.shared->err ? ps.shared->err : -EIO;
	}
done:
	st = &ps.shared->st;
	if (err) {
		log_err("state not saved in %s: %s", ps.dir, st->why[0] ? st->why : strerror(-err));
		return err;
	}
	log_info("state saved in %s/%s: %u series, %u watches, %llu KiB in %.0f ms", ps.dir,
		 PERSIST_FILE, st->series_saved, st->watches_saved,
		 (unsigned long long)(st->file_bytes >> 10), (double)(mono_ns() - t0) / 1e6);
	return 0;
}

static void set_aside(const char *kind, const char *why, struct persist_stats *st)
{
	snprintf(st->why, sizeof(st->why), "%s", why);
	persist_file_set_aside(ps.dirfd, ps.dir, kind, why);
}

int persist_write_now(struct persist_stats *st)
{
	return persist_file_write(ps.dirfd, ps.dir, ps.max_bytes, st);
}

static void format_unix(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	/* a time no calendar holds comes from a damaged file */
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld ms", (long long)ms);
}

/* Whether the saved timeline can go on now; why not in st->why. */
static bool timeline_ok(const struct persist_meta *mt, int64_t now_unix_ms,
			struct persist_stats *st)
{
	const struct history_geom *g = &metrics_view()->geom;
	uint64_t step_ms = g->step_ns / 1000000, cur, span = (uint64_t)g->coarse_slots * g->factor;
	char saved[32], now[32];

	format_unix(mt->saved_unix_ms, saved, sizeof(saved));
	format_unix(now_unix_ms, now, sizeof(now));
	if (!mt->any_step) {
		snprintf(st->why, sizeof(st->why), "it holds no history");
		return false;
	}
	cur = now_unix_ms >= mt->t0_unix_ms ? (uint64_t)(now_unix_ms - mt->t0_unix_ms) / step_ms
					    : 0;
	if (now_unix_ms < mt->saved_unix_ms || cur <= mt->last_step) {
		snprintf(st->why, sizeof(st->why),
			 "the wall clock (%s) is behind the time it was saved (%s)", now, saved);
		return false;
	}
	if (cur - mt->last_step >= span) {
		snprintf(st->why, sizeof(st->why),
			 "it was saved at %s, longer ago than the coarse tier reaches (%llu s)",
			 saved, (unsigned long long)(span * step_ms / 1000));
		return false;
	}
	st->gap_steps = cur - mt->last_step - 1;
	return true;
}

int persist_restore_at(uint64_t now_ns, int64_t now_unix_ms, struct persist_stats *st)
{
	struct persist_meta meta = { 0 };
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	uint64_t t0 = mono_ns();
	enum persist_read chk;
	uint32_t flags = 0;
	char why[256];
	bool history;
	int err;

	memset(st, 0, sizeof(*st));
	if (!ps.active)
		return -ENOTCONN;
	chk = persist_file_read(ps.dirfd, ps.max_bytes, &raw, &raw_len, &flags, why, sizeof(why));
	st->read_ns = mono_ns() - t0;
	switch (chk) {
	case PREAD_MISSING:
		log_info("no saved state in %s: history starts now", ps.dir);
		return 0;
	case PREAD_CORRUPT:
		set_aside("corrupt", why, st);
		return 0;
	case PREAD_ERROR:
		/* not the file's fault (memory, I/O): keep it for next time */
		snprintf(st->why, sizeof(st->why), "%s", why);
		log_warn("%s/%s %s; starting without it", ps.dir, PERSIST_FILE, why);
		return 0;
	case PREAD_OK:
	case PREAD_GEOMETRY:
		break;
	}
	/* check all of it before anything changes */
	err = persist_decode(raw, raw_len, false, false, &meta, st);
	if (err) {
		free(raw);
		if (err != -EINVAL)
			return err;
		set_aside("corrupt", "is malformed (its records do not add up)", st);
		return 0;
	}
	history = chk == PREAD_OK && timeline_ok(&meta, now_unix_ms, st);
	if (chk == PREAD_GEOMETRY)
		snprintf(st->why, sizeof(st->why), "%s", why);
	if (history) {
		err = metrics_continue(meta.t0_unix_ms, meta.last_step, now_ns, now_unix_ms);
		if (err) {
			snprintf(st->why, sizeof(st->why), "the store has started already (%s)",
				 strerror(-err));
			history = false;
		}
	}
	err = persist_decode(raw, raw_len, true, history, &meta, st);
	free(raw);
	st->history_restored = history;
	st->restore_ns = mono_ns() - t0;
	if (err) {
		log_err("restoring %s/%s failed part way: %s", ps.dir, PERSIST_FILE,
			strerror(-err));
		return err;
	}
	if (history) {
		char saved[32];

		format_unix(meta.saved_unix_ms, saved, sizeof(saved));
		log_info("restored from %s/%s (saved %s): %u series, %u watches in %.0f ms; the "
			 "%.0f s the daemon was down show as a gap",
			 ps.dir, PERSIST_FILE, saved, st->series_restored, st->watches_restored,
			 (double)st->restore_ns / 1e6,
			 (double)st->gap_steps * (double)metrics_view()->geom.step_ns / 1e9);
	} else {
		log_warn("%s/%s: history not restored: %s; %u watches restored", ps.dir,
			 PERSIST_FILE, st->why, st->watches_restored);
	}
	if (st->series_gone || st->series_limits || st->watches_failed)
		log_msg(SMCP_LOG_NOTICE, "core",
			"left out of the restore: %u series of metrics no longer registered (or "
			"registered differently), %u series past metrics_top_n, "
			"metrics_max_series or history_max_mb, %u watches",
			st->series_gone, st->series_limits, st->watches_failed);
	if (flags & (PERSIST_F_FINE_CUT | PERSIST_F_SERIES_CUT))
		log_info("the saved state had been cut to state_max_mb: some series' recent "
			 "(fine) history, or whole series, were not saved");
	if (chk == PREAD_GEOMETRY)
		set_aside("geometry", why, st);
	return 0;
}

int persist_restore(void)
{
	struct persist_stats st;
	int err, id;

	if (!ps.active)
		return -ENOTCONN;
	err = persist_restore_at(loop_now_ns(), metrics_now_unix_ms(), &st);
	if (err < 0 && err != -ENOMEM)
		log_warn("state not restored: %s", strerror(-err));
	ps.last_save_ns = mono_ns();
	ps.watch_gen = watch_generation();
	id = loop_timer_add(CHECK_MS, true, on_timer, NULL, &ps);
	if (id < 0) {
		log_err("cannot start saving state: %s", strerror(-id));
		persist_close();
		return id;
	}
	ps.timer = id;
	return 0;
}

void persist_close(void)
{
	writer_kill();
	if (ps.timer > 0)
		(void)loop_timer_remove(ps.timer);
	ps.timer = 0;
	if (ps.lockfd >= 0)
		close(ps.lockfd);
	if (ps.dirfd >= 0)
		close(ps.dirfd);
	if (ps.shared)
		munmap(ps.shared, sizeof(*ps.shared));
	ps.shared = NULL;
	ps.lockfd = ps.dirfd = -1;
	ps.active = false;
	ps.failing = false;
	memset(&ps.bg, 0, sizeof(ps.bg));
}
