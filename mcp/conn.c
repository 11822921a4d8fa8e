/* SPDX-License-Identifier: MIT */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/loop.h"

#define READ_CHUNK 65536

struct chunk {
	struct chunk *next;
	size_t len, off;
	char data[];
};

struct conn {
	int in_fd, out_fd;
	bool owns_fds;
	bool is_socket;	 /* in_fd == out_fd: a unix socket, read with recvmsg */
	int passed[CONN_MAX_FDS]; /* fds the peer sent (SCM_RIGHTS), not yet taken */
	int n_passed;
	struct conn_limits lim;
	const struct conn_ops *ops;
	void *ctx;
	/* input: only a partial line (or lines left by a pause) is kept here;
	 * whole lines are handled straight from the shared read buffer */
	char *in;
	size_t in_len, in_cap;
	bool discarding; /* inside an over-long line */
	size_t discarded;
	bool paused;	   /* by back-pressure or the owner */
	bool processing;   /* inside process(): a resume must not re-enter it */
	bool in_watched;
	bool in_eof;  /* read() saw the end */
	bool in_done; /* ... and every line before it was handled */
	int in_tick;  /* a regular file or /dev/null: read by a 1 ms tick */
	/* output */
	struct chunk *head, *tail;
	size_t queued, queued_peak;
	bool batching;
	bool out_watched;
	bool out_dead;
	uint64_t dropped;
	int stall_timer;
	/* closing */
	bool closed; /* closed() called or scheduled */
	int close_err;
	int close_timer;
};

/* Reads land here first: a connection that only ever receives whole
 * lines (the usual case) keeps no input buffer of its own. */
static char rbuf[READ_CHUNK];

static void on_in(void *data, int fd, uint32_t revents);
static void on_out(void *data, int fd, uint32_t revents);
static void process(struct conn *c, const char *buf, size_t len);

static void fire_closed(void *data)
{
	struct conn *c = data;

	c->close_timer = 0;
	c->ops->closed(c->ctx, c->close_err);
}

/* closed() runs from the loop, never under a caller that may still be
 * using the connection or its owner */
static void schedule_close(struct conn *c, int err)
{
	if (c->closed)
		return;
	c->closed = true;
	c->close_err = err;
	c->close_timer = loop_timer_add(1, false, fire_closed, c, c);
	if (c->close_timer < 0) {
		c->close_timer = 0;
		c->ops->closed(c->ctx, err);
	}
}

static void maybe_done(struct conn *c)
{
	if (c->in_done && !c->head)
		schedule_close(c, 0);
}

/* A pipe's input watch (a socket's is update_socket_watch). */
static void watch_input(struct conn *c, bool on)
{
	if (c->in_eof || c->in_tick > 0 || on == c->in_watched)
		return;
	if (on)
		c->in_watched = loop_watch(c->in_fd, EPOLLIN, on_in, c, c) == 0;
	else
		c->in_watched = loop_unwatch(c->in_fd) != 0;
}

/* One fd for both directions (a socket): one epoll registration with the
 * union of what is wanted (hang-ups are reported whatever it is). */
static void update_socket_watch(struct conn *c)
{
	uint32_t ev = (c->in_watched ? EPOLLIN : 0) | (c->out_watched ? EPOLLOUT : 0);

	(void)loop_modify(c->in_fd, ev);
}

static void set_paused(struct conn *c, bool pause)
{
	if (pause == c->paused)
		return;
	c->paused = pause;
	if (c->in_fd == c->out_fd) {
		c->in_watched = !pause && !c->in_eof;
		update_socket_watch(c);
	} else {
		watch_input(c, !pause);
	}
	/* lines read before the pause are still waiting: handle them now
	 * (a resume inside process() just lets its loop go on) */
	if (!pause && c->in_len)
		process(c, NULL, 0);
}

static void update_pause(struct conn *c)
{
	set_paused(c, c->queued > c->lim.max_queue_bytes);
}

/* Write as much of the queue as the peer takes, many messages per writev. */
static int drain(struct conn *c)
{
	while (c->head) {
		struct iovec iov[64];
		int k = 0;
		ssize_t n;

		for (struct chunk *ch = c->head; ch && k < 64; ch = ch->next, k++) {
			iov[k].iov_base = ch->data + ch->off;
			iov[k].iov_len = ch->len - ch->off;
		}
		n = writev(c->out_fd, iov, k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->queued -= (size_t)n;
		while (n > 0) {
			struct chunk *ch = c->head;
			size_t left = ch->len - ch->off;

			if ((size_t)n < left) {
				ch->off += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			c->head = ch->next;
			if (!c->head)
				c->tail = NULL;
			free(ch);
		}
	}
	return 0;
}

static void out_gone(struct conn *c, int err)
{
	c->out_dead = true;
	schedule_close(c, err);
}

/* A burst of output grew the heap: give it back once the queue drained. */
static void maybe_trim(struct conn *c)
{
	if (!c->head && c->queued_peak > (1u << 20)) {
		malloc_trim(0);
		c->queued_peak = 0;
	}
}

static void stall_check(void *data)
{
	struct conn *c = data;

	c->stall_timer = 0;
	if (c->queued > c->lim.max_queue_bytes)
		out_gone(c, -ETIMEDOUT);
}

/* After the queue changed: watches, pause, the stall policy. */
static void after_queue_change(struct conn *c)
{
	bool want_out = c->head != NULL;

	if (want_out != c->out_watched && !c->out_dead) {
		if (c->in_fd == c->out_fd) {
			c->out_watched = want_out;
			update_socket_watch(c);
		} else if (want_out) {
			c->out_watched = loop_watch(c->out_fd, EPOLLOUT, on_out, c, c) == 0;
		} else {
			(void)loop_unwatch(c->out_fd);
			c->out_watched = false;
		}
	}
	if (c->lim.stall_ms) {
		if (c->queued > 2 * c->lim.max_queue_bytes) {
			out_gone(c, -ENOBUFS);
		} else if (c->queued > c->lim.max_queue_bytes) {
			if (!c->stall_timer)
				c->stall_timer = loop_timer_add(c->lim.stall_ms, false, stall_check, c,
								c);
			if (c->stall_timer < 0)
				c->stall_timer = 0;
		} else if (c->stall_timer) {
			(void)loop_timer_remove(c->stall_timer);
			c->stall_timer = 0;
		}
	}
	maybe_trim(c);
}

static void flush_now(struct conn *c)
{
	int err = drain(c);

	if (err) {
		out_gone(c, err);
		return;
	}
	after_queue_change(c);
}

static void on_writable(struct conn *c)
{
	flush_now(c);
	if (c->out_dead)
		return;
	update_pause(c);
	maybe_done(c);
}

static void on_out(void *data, int fd, uint32_t revents)
{
	on_writable(data);
}

int conn_send(struct conn *c, const char *line, size_t len, bool droppable)
{
	struct chunk *ch;

	if (c->out_dead || (c->closed && c->close_err))
		return -EPIPE;
	if (droppable && c->queued > c->lim.max_queue_bytes / 2) {
		c->dropped++;
		return -ENOBUFS;
	}
	ch = malloc(sizeof(*ch) + len + 1);
	if (!ch) {
		c->dropped++;
		return -ENOBUFS;
	}
	memcpy(ch->data, line, len);
	ch->data[len] = '\n';
	ch->len = len + 1;
	ch->off = 0;
	ch->next = NULL;
	if (c->tail)
		c->tail->next = ch;
	else
		c->head = ch;
	c->tail = ch;
	c->queued += ch->len;
	if (c->queued > c->queued_peak)
		c->queued_peak = c->queued;
	/* while a batch of input lines is handled, answers are written
	 * together afterwards: one writev instead of one write each */
	if (!(c->batching && c->queued < 65536))
		flush_now(c);
	if (c->out_dead)
		return -EPIPE;
	/* a peer that does not read stops us reading its requests */
	update_pause(c);
	return 0;
}

/* Handle one line; a line over the limit is refused, not parsed. */
static void handle(struct conn *c, const char *line, size_t n)
{
	if (c->discarding) {
		/* the end of a line whose start was dropped */
		c->discarding = false;
		c->ops->too_long(c->ctx, c->discarded + n);
		c->discarded = 0;
	} else if (n > c->lim.max_line_bytes) {
		c->ops->too_long(c->ctx, n);
	} else {
		c->ops->line(c->ctx, line, n);
	}
}

static int keep_input(struct conn *c, const char *buf, size_t len)
{
	if (c->in_cap < c->in_len + len) {
		size_t cap = c->in_len + len + (c->in_len ? READ_CHUNK : 0);
		char *nb = realloc(c->in, cap);

		if (!nb)
			return -ENOMEM;
		c->in = nb;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, buf, len);
	c->in_len += len;
	return 0;
}

/* Handle the complete lines at buf until back-pressure pauses input;
 * returns how many bytes were consumed. */
static size_t handle_lines(struct conn *c, const char *buf, size_t len)
{
	size_t start = 0;

	c->batching = true;
	while (!c->paused && !c->closed && !loop_quitting()) {
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - (buf + start));
		handle(c, buf + start, n);
		start += n + 1;
	}
	c->batching = false;
	return start;
}

/*
 * Handle the complete lines of buf (or, with buf NULL, of what is kept)
 * until back-pressure pauses input; what is left is kept. A partial line
 * already over the limit is dropped (and counted) up to its newline, so a
 * connection never holds more than max_line_bytes plus one read. Not
 * re-entered: a resume from inside a handler (its answer drained the
 * queue) lets the running loop go on.
 */
static void process(struct conn *c, const char *buf, size_t len)
{
	size_t used;

	if (c->in_done || c->closed)
		return;
	if (buf && (c->in_len || c->processing)) {
		/* the rest of a line begun earlier, or input arriving while
		 * lines are being handled: behind what is kept */
		if (keep_input(c, buf, len)) {
			log_err("out of memory reading a client's messages");
			schedule_close(c, -ENOMEM);
			return;
		}
		buf = NULL;
	}
	if (c->processing)
		return;
	c->processing = true;
	if (buf) {
		used = handle_lines(c, buf, len);
		if (used < len && keep_input(c, buf + used, len - used)) {
			log_err("out of memory reading a client's messages");
			c->processing = false;
			schedule_close(c, -ENOMEM);
			return;
		}
	}
	/* lines kept (from before, or left by a pause that has since lifted) */
	while (!c->paused && !c->closed && c->in_len && memchr(c->in, '\n', c->in_len)) {
		used = handle_lines(c, c->in, c->in_len);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	c->processing = false;
	if (c->head)
		flush_now(c);
	if (c->in_len == 0 && c->in_cap) {
		/* idle connections keep no buffer */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	if (c->paused || c->closed || (c->in_len && memchr(c->in, '\n', c->in_len)))
		return;
	if (c->in_len > c->lim.max_line_bytes) {
		c->discarding = true;
		c->discarded += c->in_len;
		c->in_len = 0;
	}
	if (c->in_eof) {
		/* a last line without a newline still counts */
		if (c->in_len || c->discarding)
			handle(c, c->in ? c->in : "", c->in_len);
		c->in_len = 0;
		c->in_done = true;
		maybe_done(c);
	}
}

static void read_input(struct conn *c)
{
	ssize_t n;

	if (c->paused || c->in_eof || c->closed)
		return;
	if (c->is_socket) {
		/* a bridge hands its stdin and stdout over with its first line */
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(CONN_MAX_FDS * sizeof(int))];
		} cm;
		struct iovec iov = { rbuf, sizeof(rbuf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf) };

		n = recvmsg(c->in_fd, &mh, MSG_CMSG_CLOEXEC);
		for (struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; h;
		     h = CMSG_NXTHDR(&mh, h)) {
			int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *fds = (int *)CMSG_DATA(h);

			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			for (int i = 0; i < k; i++) {
				if (c->n_passed < CONN_MAX_FDS)
					c->passed[c->n_passed++] = fds[i];
				else
					close(fds[i]);
			}
		}
	} else {
		n = read(c->in_fd, rbuf, sizeof(rbuf));
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno != ECONNRESET)
			log_debug("reading a client: %s", strerror(errno));
		n = 0;
	}
	if (n == 0) {
		c->in_eof = true;
		if (c->in_tick > 0)
			(void)loop_timer_remove(c->in_tick);
		c->in_tick = 0;
		if (c->in_fd == c->out_fd) {
			c->in_watched = false;
			update_socket_watch(c);
		} else if (c->in_watched) {
			(void)loop_unwatch(c->in_fd);
			c->in_watched = false;
		}
	}
	process(c, rbuf, (size_t)n);
}

static void on_in(void *data, int fd, uint32_t revents)
{
	struct conn *c = data;

	if (c->in_fd != c->out_fd) {
		/* a pipe: a hang-up is read as the end of input, after the data */
		if (c->paused)
			watch_input(c, false);
		else
			read_input(c);
		return;
	}
	/* a socket: one watch carries both directions */
	if ((revents & EPOLLOUT) && c->head)
		on_writable(c);
	if (c->closed)
		return;
	if (revents & (EPOLLHUP | EPOLLERR)) {
		/* the peer is gone both ways, but what it sent before is still
		 * there: read it to its end (the peer of a bridge shuts down
		 * its side once its last request is answered) */
		while (!c->in_eof && !c->paused && !c->closed)
			read_input(c);
		/* the hang-up stays reported until the fd is closed */
		(void)loop_unwatch(c->in_fd);
		c->in_watched = c->out_watched = false;
		if (!c->closed && (!c->in_done || c->head))
			out_gone(c, -EPIPE);
		return;
	}
	if (revents & EPOLLIN)
		read_input(c);
}

static void in_tick(void *data)
{
	read_input(data);
}

struct conn *conn_new(int in_fd, int out_fd, bool owns_fds, const struct conn_limits *lim,
		      const struct conn_ops *ops, void *ctx)
{
	struct conn *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->owns_fds = owns_fds;
	c->is_socket = in_fd == out_fd;
	c->lim = *lim;
	c->ops = ops;
	c->ctx = ctx;
	if (fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK) < 0) {
		err = errno;
		free(c);
		errno = err;
		return NULL;
	}
	err = loop_watch(in_fd, EPOLLIN, on_in, c, c);
	if (err == -EPERM) {
		/* a regular file or /dev/null: epoll refuses it, but reading
		 * never blocks, so a 1 ms tick reads it to the end */
		c->in_tick = loop_timer_add(1, true, in_tick, c, c);
		err = c->in_tick < 0 ? c->in_tick : 0;
	} else if (!err) {
		c->in_watched = true;
	}
	if (err) {
		loop_remove_owner(c);
		free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

void conn_flush(struct conn *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->out_fd, .events = POLLOUT };

	while (c->head && !c->out_dead) {
		if (poll(&p, 1, timeout_ms) <= 0 || drain(c) < 0)
			break;
	}
}

int conn_take_fds(struct conn *c, int *fds, int max)
{
	int n = c->n_passed < max ? c->n_passed : max;

	memcpy(fds, c->passed, (size_t)n * sizeof(int));
	for (int i = n; i < c->n_passed; i++)
		close(c->passed[i]);
	c->n_passed = 0;
	return n;
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_passed; i++)
		close(c->passed[i]);
	loop_remove_owner(c);
	while (c->head) {
		struct chunk *ch = c->head;

		c->head = ch->next;
		free(ch);
	}
	if (c->owns_fds) {
		close(c->in_fd);
		if (c->out_fd != c->in_fd)
			close(c->out_fd);
	}
	free(c->in);
	free(c);
}

void conn_stats(const struct conn *c, struct conn_stats *ret)
{
	ret->dropped = c->dropped;
	ret->queued = c->queued;
	ret->queued_peak = c->queued_peak;
	ret->input_paused = c->paused;
}
