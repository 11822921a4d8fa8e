/* SPDX-License-Identifier: MIT */
#include "stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "server.h"

#define READ_CHUNK 65536

struct chunk {
	struct chunk *next;
	size_t len, off;
	char data[];
};

static struct {
	struct stdio_limits lim;
	char *in;
	size_t in_len, in_cap;
	bool discarding;     /* inside an over-long line */
	size_t discarded;
	bool in_paused;
	bool in_eof;   /* read() saw the end of stdin */
	bool in_done;  /* ... and every line before it was handled */
	struct chunk *head, *tail;
	size_t queued;
	size_t queued_peak;
	bool batching;
	bool out_watched;
	bool out_dead;
	uint64_t dropped;
	int in_tick;
} io;

static void on_stdin(void *data, int fd, uint32_t revents);
static void on_stdout(void *data, int fd, uint32_t revents);

static void stdin_tick(void *data)
{
	if (!io.in_eof && !io.in_paused)
		on_stdin(NULL, STDIN_FILENO, EPOLLIN);
}

static void maybe_quit(void)
{
	if (io.in_done && !io.head)
		loop_quit(0);
}

static void process_input(void);

static void set_input_paused(bool pause)
{
	if (pause == io.in_paused)
		return;
	io.in_paused = pause;
	if (!io.in_eof && io.in_tick <= 0) {
		if (pause)
			(void)loop_unwatch(STDIN_FILENO);
		else
			(void)loop_watch(STDIN_FILENO, EPOLLIN, on_stdin, NULL, &io);
	}
	/* lines read before the pause are still waiting: handle them now */
	if (!pause)
		process_input();
}

/* Write as much of the queue as the pipe takes, many messages per writev. */
static int drain(void)
{
	while (io.head) {
		struct iovec iov[64];
		int k = 0;
		ssize_t n;

		for (struct chunk *c = io.head; c && k < 64; c = c->next, k++) {
			iov[k].iov_base = c->data + c->off;
			iov[k].iov_len = c->len - c->off;
		}
		n = writev(STDOUT_FILENO, iov, k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		io.queued -= (size_t)n;
		while (n > 0) {
			struct chunk *c = io.head;
			size_t left = c->len - c->off;

			if ((size_t)n < left) {
				c->off += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			io.head = c->next;
			if (!io.head)
				io.tail = NULL;
			free(c);
		}
	}
	return 0;
}

static void out_gone(int err)
{
	if (!io.out_dead)
		log_warn("stdout closed by the client (%s); exiting", strerror(-err));
	io.out_dead = true;
	loop_quit(0);
}

/* A burst of output grew the heap: give it back once the queue drained. */
static void maybe_trim(void)
{
	if (!io.head && io.queued_peak > (1u << 20)) {
		malloc_trim(0);
		io.queued_peak = 0;
	}
}

/* Write what is queued; watch stdout for the rest. */
static int flush(void)
{
	int err = drain();

	if (err) {
		out_gone(err);
		return -EPIPE;
	}
	if (io.head && !io.out_watched) {
		if (loop_watch(STDOUT_FILENO, EPOLLOUT, on_stdout, NULL, &io) == 0)
			io.out_watched = true;
	}
	maybe_trim();
	return 0;
}

static void on_stdout(void *data, int fd, uint32_t revents)
{
	int err = drain();

	if (err) {
		out_gone(err);
		return;
	}
	if (!io.head && io.out_watched) {
		(void)loop_unwatch(STDOUT_FILENO);
		io.out_watched = false;
	}
	maybe_trim();
	if (io.queued < io.lim.max_queue_bytes / 2)
		set_input_paused(false);
	maybe_quit();
}

int stdio_transport_send(void *t, const char *line, size_t len, bool droppable)
{
	struct chunk *c;
	int err;

	if (io.out_dead)
		return -EPIPE;
	if (droppable && io.queued > io.lim.max_queue_bytes / 2) {
		io.dropped++;
		return -ENOBUFS;
	}
	c = malloc(sizeof(*c) + len + 1);
	if (!c) {
		io.dropped++;
		return -ENOBUFS;
	}
	memcpy(c->data, line, len);
	c->data[len] = '\n';
	c->len = len + 1;
	c->off = 0;
	c->next = NULL;
	if (io.tail)
		io.tail->next = c;
	else
		io.head = c;
	io.tail = c;
	io.queued += c->len;
	if (io.queued > io.queued_peak)
		io.queued_peak = io.queued;
	/* while a batch of input lines is handled, answers are written
	 * together afterwards: one writev instead of one write each */
	if (!(io.batching && io.queued < 65536)) {
		err = flush();
		if (err)
			return err;
	}
	/* a client that does not read stops us reading its requests */
	if (io.queued > io.lim.max_queue_bytes)
		set_input_paused(true);
	return 0;
}

/* Handle one line; a line over the limit is refused, not parsed. */
static void handle(const char *line, size_t n)
{
	if (io.discarding) {
		/* the end of a line whose start was dropped */
		io.discarding = false;
		mcp_server_line_too_long(io.discarded + n);
	} else if (n > io.lim.max_line_bytes) {
		mcp_server_line_too_long(n);
	} else {
		mcp_server_handle_line(line, n);
	}
}

/*
 * Handle the complete lines in the buffer until output back-pressure pauses
 * input; answers to the batch go out together. A partial line already over
 * the limit is dropped (and counted) up to its newline, so the buffer never
 * holds more than max_line_bytes plus one read.
 */
static void process_input(void)
{
	size_t start = 0;

	if (io.in_done)
		return;
	io.batching = true;
	while (!io.in_paused && !loop_quitting()) {
		char *nl = memchr(io.in + start, '\n', io.in_len - start);
		size_t n;

		if (!nl)
			break;
		n = (size_t)(nl - (io.in + start));
		handle(io.in + start, n);
		start += n + 1;
	}
	io.batching = false;
	if (io.head)
		(void)flush();
	memmove(io.in, io.in + start, io.in_len - start);
	io.in_len -= start;
	if (io.in_paused || memchr(io.in, '\n', io.in_len))
		return;
	if (io.in_len > io.lim.max_line_bytes) {
		io.discarding = true;
		io.discarded += io.in_len;
		io.in_len = 0;
	}
	if (io.in_eof) {
		/* a last line without a newline still counts */
		if (io.in_len || io.discarding)
			handle(io.in, io.in_len);
		io.in_len = 0;
		io.in_done = true;
		maybe_quit();
	}
}

static void on_stdin(void *data, int fd, uint32_t revents)
{
	ssize_t n;

	if (io.in_paused || io.in_eof)
		return;
	if (io.in_cap - io.in_len < READ_CHUNK) {
		size_t cap = io.in_len + READ_CHUNK;
		char *nb = realloc(io.in, cap);

		if (!nb) {
			log_err("out of memory reading stdin");
			return;
		}
		io.in = nb;
		io.in_cap = cap;
	}
	n = read(STDIN_FILENO, io.in + io.in_len, io.in_cap - io.in_len);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_err("reading stdin: %s", strerror(errno));
		n = 0;
	}
	if (n == 0) {
		io.in_eof = true;
		if (io.in_tick > 0)
			(void)loop_timer_remove(io.in_tick);
		else
			(void)loop_unwatch(STDIN_FILENO);
		io.in_tick = 0;
	}
	io.in_len += (size_t)n;
	process_input();
	/* keep the buffer small after a burst */
	if (io.in_cap > 4 * READ_CHUNK && io.in_len < READ_CHUNK) {
		char *nb = realloc(io.in, 2 * READ_CHUNK);

		if (nb) {
			io.in = nb;
			io.in_cap = 2 * READ_CHUNK;
		}
	}
}

int stdio_transport_init(const struct stdio_limits *lim)
{
	int err;

	io.lim = *lim;
	if (fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(STDOUT_FILENO, F_SETFL, fcntl(STDOUT_FILENO, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	err = loop_watch(STDIN_FILENO, EPOLLIN, on_stdin, NULL, &io);
	if (err == -EPERM) {
		/* a regular file or /dev/null: epoll refuses it, but reading
		 * never blocks, so a 1 ms tick reads it to the end */
		io.in_tick = loop_timer_add(1, true, stdin_tick, NULL, &io);
		err = io.in_tick < 0 ? io.in_tick : 0;
	}
	return err;
}

void stdio_transport_flush(int timeout_ms)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };

	while (io.head && !io.out_dead) {
		if (poll(&p, 1, timeout_ms) <= 0 || drain() < 0)
			break;
	}
}

void stdio_transport_fini(void)
{
	while (io.head) {
		struct chunk *c = io.head;

		io.head = c->next;
		free(c);
	}
	loop_remove_owner(&io);
	free(io.in);
	memset(&io, 0, sizeof(io));
}

uint64_t stdio_transport_dropped(void)
{
	return io.dropped;
}
