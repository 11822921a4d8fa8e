#!/usr/bin/env python3
"""Flow control: a client that stops reading must not grow the daemon's
memory without bound. The daemon stops reading requests while its output
queue is full, drops (and counts) notifications instead of queueing them,
and answers every request exactly once when the client reads again."""
import json
import os
import select
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (SANITIZED, Checker, Daemon, itest_dir, result, rss_limit_kb,  # noqa: E402
                       write_config)

T = Checker("integration/flow-control")
QUEUE = 256 * 1024
MiB = 1 << 20
SLOW = 3 if SANITIZED else 1  # ASan: ~3x slower


def requests(n, start=0, blob=32768, logs=20):
    """n requests alternating a big answer and a burst of log notifications."""
    out = []
    for i in range(start, start + n):
        if i % 2:
            args = {"name": "itest_log", "arguments": {"level": "warning", "count": logs,
                                                       "message": "flood"}}
        else:
            args = {"name": "itest_blob", "arguments": {"bytes": blob}}
        out.append(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": args}).encode() + b"\n")
    return out


@T.case
def test_client_stops_reading():
    cfg = write_config(f"[core]\nmax_output_queue_bytes = {QUEUE}\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        d.request("logging/setLevel", {"level": "debug"})
        rss0 = d.rss_kb()
        total = 3000  # ~370 KB of requests (more than a pipe and a read buffer hold),
                      # asking for 1500 answers of 32 KiB (~190 times the queue limit)
        pending = b"".join(requests(total))
        fd = d.proc.stdin.fileno()
        os.set_blocking(fd, False)
        written = 0
        peak = rss0
        stalled_since = None
        t_end = time.monotonic() + 8
        # write without ever reading, until the daemon stops taking input
        while written < len(pending) and time.monotonic() < t_end:
            try:
                n = os.write(fd, pending[written:written + 65536])
                written += n
                stalled_since = None
            except BlockingIOError:
                if stalled_since is None:
                    stalled_since = time.monotonic()
                elif time.monotonic() - stalled_since > 1.0:
                    break
                time.sleep(0.02)
            peak = max(peak, d.rss_kb())
        time.sleep(0.3)
        peak = max(peak, d.rss_kb())
        T.check(written < len(pending),
                f"the daemon stopped reading a client that does not read ({written} of "
                f"{len(pending)} bytes taken)")
        T.check(peak - rss0 < rss_limit_kb(16 * 1024),
                f"RSS grew by {peak - rss0} KiB with a {QUEUE // 1024} KiB queue limit")

        # read again: finish writing in the background, collect everything
        os.set_blocking(fd, True)
        t, err = d.send_raw_in_thread(pending[written:])
        seen, dups = d.answers(range(total), 8 * SLOW)
        t.join(5)
        T.eq(err, [], "the rest of the requests were taken once we read")
        if not T.eq(len(seen), total, "every request answered"):
            return  # the daemon is stuck; the counters below cannot be read
        T.eq(dups, [], "none answered twice")
        T.check(all("result" in m for m in seen.values()), "all succeeded")
        notes = sum(1 for m in d.messages if m.get("method") == "notifications/message"
                    and "flood" in str(m.get("params", {}).get("data")))
        sent_logs = (total // 2) * 20
        T.check(notes < sent_logs, f"notifications were dropped, not queued ({notes} of {sent_logs})")
        st = d.read_json("schedmcp://plugins")["session"]
        T.check(st["notifications_dropped"] > 0, f"drops are counted: {st}")
        T.eq(st["notifications_dropped"] + notes >= sent_logs, True,
             f"dropped ({st['notifications_dropped']}) + delivered ({notes}) account for all")
        T.check(d.rss_kb() - rss0 < rss_limit_kb(16 * 1024), "memory back to bounded after the burst")


@T.case
def test_burst_then_late_reader():
    """Requests already read into the daemon's buffer when it paused input
    must be served once the client catches up, even though the client sends
    nothing more (it is waiting for those very answers)."""
    cfg = write_config(f"[core]\nmax_output_queue_bytes = {QUEUE}\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        n = 100  # 50 answers of 32 KiB: several times the queue limit; input is ~10 KB
        d.send_raw(b"".join(requests(n, start=1000, logs=1)))
        time.sleep(0.5)  # do not read: the daemon pauses input
        seen, dups = d.answers(range(1000, 1000 + n), 3 * SLOW)
        missing = sorted(set(range(1000, 1000 + n)) - set(seen))
        T.eq(missing, [], "every buffered request answered once the client reads")
        T.eq(dups, [], "none twice")


@T.case
def test_burst_then_eof():
    """A client that writes a burst, closes stdin and then reads: every
    request before EOF is answered, each on its own (not glued together)."""
    cfg = write_config(f"[core]\nmax_output_queue_bytes = {QUEUE}\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        n = 40
        d.send_raw(b"".join(requests(n, start=2000, logs=1)))
        d.proc.stdin.close()
        time.sleep(0.5)
        seen, dups = d.answers(range(2000, 2000 + n), 3 * SLOW)
        T.eq(sorted(set(range(2000, 2000 + n)) - set(seen)), [], "all answered before exit")
        T.eq([m for m in d.messages if m.get("error", {}).get("code") == -32700], [],
             "no parse error from lines glued together")
        rc = d.wait_exit(5)
        T.eq(rc, 0, "then a clean exit")


@T.case
def test_input_buffer_bounded():
    """A client that floods requests while reading answers as fast as it can:
    the daemon must not read (and buffer) requests faster than it serves
    them, so its memory stays bounded by the queue limit, not by how much
    the client writes."""
    cfg = write_config(f"[core]\nmax_output_queue_bytes = {QUEUE}\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        rss0 = d.rss_kb()
        one = [json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                           "params": {"name": "itest_blob", "arguments": {"bytes": 32768}}}
                          ).encode() + b"\n" for i in range(1000)]
        block = b"".join(one)  # ~100 KB of requests asking for ~32 MB of answers
        stop = threading.Event()
        written = [0]

        def writer():
            try:
                while not stop.is_set() and written[0] < 40 * MiB:
                    d.proc.stdin.write(block)
                    written[0] += len(block)
                d.proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        fd = d.proc.stdout.fileno()
        peak, got, buf, answers, errors = rss0, 0, b"", 0, []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                chunk = os.read(fd, 1 << 20)
                got += len(chunk)
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    m = json.loads(line)
                    if "error" in m:
                        errors.append(m)
                    elif "result" in m:
                        answers += 1
            peak = max(peak, d.rss_kb())
        stop.set()
        T.check(answers > 0, "answers flowed")
        T.eq(errors[:2], [], f"every request was well-formed: no error may come back "
                             f"({len(errors)} errors, {answers} answers)")
        T.check(peak - rss0 < rss_limit_kb(16 * 1024),
                f"RSS grew by {(peak - rss0) // 1024} MiB while the client wrote "
                f"{written[0] // MiB} MiB of requests and read {got // MiB} MiB of answers")
        d.kill()


@T.case
def test_slow_reader_gets_everything():
    """A client that reads slowly (small reads with pauses) still gets every
    answer complete and in order."""
    with Daemon(plugin_dir_=itest_dir()) as d:
        ids = list(range(5000, 5040))
        d.send_raw(b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                        "params": {"name": "itest_blob",
                                                   "arguments": {"bytes": 60000}}}).encode() + b"\n"
                            for i in ids))
        got = []
        buf = b""
        fd = d.proc.stdout.fileno()
        deadline = time.monotonic() + 20
        while len(got) < len(ids) and time.monotonic() < deadline:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                got.append(json.loads(line))
            time.sleep(0.0005)
        T.eq([m.get("id") for m in got], ids, "all answers, in order")
        T.check(all(len(result(m)["content"][0]["text"]) == 60000 for m in got if "result" in m),
                "each answer complete")


if __name__ == "__main__":
    T.main()
