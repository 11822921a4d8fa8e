#!/usr/bin/env python3
"""Load: 100k pipelined requests, 1000 calls in flight at once, a subscriber
that never reads, and the largest message a client may send. No request is
lost or answered twice, and the daemon's memory stays within the bound
SECURITY.md states (measured here: peak RSS growth, sampled every few ms).
Runs in about 30 s."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (Checker, Daemon, SANITIZED, itest_dir, result, rss_limit_kb,  # noqa: E402
                       write_config)

T = Checker("fault/load")
MiB = 1024  # in KiB, as rss_kb() counts
SLOW = 1 if not SANITIZED else 3  # sanitizer builds run ~3 times slower


class Peak:
    """Samples a process's RSS in the background; .kb is the peak."""

    def __init__(self, d):
        self.d, self.kb, self.stop = d, d.rss_kb(), False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                self.kb = max(self.kb, self.d.rss_kb())
            except OSError:
                return
            time.sleep(0.005)

    def done(self):
        self.stop = True
        self.t.join()
        return self.kb


@T.case
def test_100k_pipelined():
    n = 100000
    with Daemon(plugin_dir_=itest_dir()) as d:
        rss0 = d.rss_kb()
        lines = []
        for i in range(n):
            k = i % 10
            if k < 6:
                msg = {"jsonrpc": "2.0", "id": i, "method": "ping"}
            elif k < 9:
                msg = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": "itest_echo", "arguments": {"pid": str(i + 1)}}}
            else:
                msg = {"jsonrpc": "2.0", "id": i, "method": "resources/read",
                       "params": {"uri": "itest://static/%d" % (i % 5)}}
            lines.append(json.dumps(msg, separators=(",", ":")).encode())
        data = b"\n".join(lines) + b"\n"
        peak = Peak(d)
        t0 = time.monotonic()
        t, err = d.send_raw_in_thread(data)
        seen, dups = d.answers(range(n), 60 * SLOW)
        took = time.monotonic() - t0
        t.join(10)
        top = peak.done()
        T.eq(err, [], "all 100k requests written")
        T.eq(len(seen), n, f"every request answered ({len(seen)} of {n} in {took:.1f} s, "
                           f"{len(data) / 1e6:.1f} MB in)")
        T.eq(dups, [], "none answered twice")
        bad = [m for m in seen.values() if "error" in m or m["result"].get("isError")]
        T.eq(bad[:3], [], "every answer a success")
        echo = {i: m for i, m in seen.items() if i % 10 in (6, 7, 8)}
        T.check(echo and all(m["result"]["structuredContent"]["pid"] == i + 1
                             for i, m in echo.items()),
                "each echo carries its own request's argument")
        T.check(top - rss0 < rss_limit_kb(32 * MiB),
                f"peak RSS growth {(top - rss0) // 1024} MiB (bound 32 MiB)")
        print(f"    100k pipelined: {took:.1f} s, {n / took:.0f} requests/s, "
              f"peak RSS +{(top - rss0) // 1024} MiB", flush=True)


@T.case
def test_1000_in_flight():
    n = 1000
    cfg = write_config("[core]\nmax_pending_requests = %d\n" % n)
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        rss0 = d.rss_kb()
        peak = Peak(d)
        delay = 3000 * SLOW
        ids = ["slow-%d" % i for i in range(n)]
        data = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                    "params": {"name": "itest_slow",
                                               "arguments": {"delay_ms": delay, "steps": 1},
                                               "_meta": {"progressToken": i}}}).encode() + b"\n"
                        for i in ids)
        t0 = time.monotonic()
        d.send_raw(data)
        over = d.request("tools/call", {"name": "itest_slow", "arguments": {"delay_ms": 10}},
                         id_="one-too-many", timeout=30 * SLOW)
        T.check(over.get("error", {}).get("code") == -32000
                and "in flight" in over["error"].get("message", ""),
                f"request 1001 is refused as busy, at once: {str(over)[:200]}")
        t1 = time.monotonic()
        r = d.request("ping", id_="ping-during", timeout=10)
        T.eq(r.get("result"), {}, "ping answered while 1000 calls are in flight")
        T.check(time.monotonic() - t1 < 1.0 * SLOW, "promptly")
        # at the limit every request but ping is refused as busy, so the
        # status resource is read once 100 calls are cancelled
        cancelled = ids[::10]
        for i in cancelled:
            d.notify("notifications/cancelled", {"requestId": i})
        st = d.read_json("schedmcp://plugins")["session"]
        T.eq(st["requests_in_flight"], n - len(cancelled), "900 in flight after 100 cancels")
        want = set(ids) - set(cancelled)
        seen, dups = d.answers(want, (delay / 1000) + 30 * SLOW)
        took = time.monotonic() - t0
        top = peak.done()
        T.eq(len(seen), len(want), f"all {len(want)} uncancelled calls answered")
        T.eq(dups, [], "none answered twice")
        T.eq([m for m in seen.values() if "error" in m or m["result"].get("isError")][:3], [],
             "all succeeded")
        d.drain(quiet=0.3)
        T.eq([m for m in d.messages if m.get("id") in cancelled], [],
             "the 100 cancelled calls got no answer")
        prog = [m for m in d.messages if m.get("method") == "notifications/progress"]
        T.check(len(prog) >= len(want) // 2, f"progress flowed ({len(prog)} notifications)")
        stats = json.loads(d.call_tool("itest_stats")["result"]["content"][0]["text"])
        T.eq((stats["started"], stats["completed"], stats["cancelled"]),
             (n, n - len(cancelled), len(cancelled)), "the plugin agrees")
        st = d.read_json("schedmcp://plugins")["session"]
        T.eq(st["requests_in_flight"], 0, "none left in flight")
        T.check(top - rss0 < rss_limit_kb(32 * MiB),
                f"peak RSS growth {(top - rss0) // 1024} MiB with 1000 calls in flight")
        print(f"    1000 in flight: {took:.1f} s for {delay} ms calls, "
              f"peak RSS +{(top - rss0) // 1024} MiB", flush=True)


@T.case
def test_subscriber_never_reads():
    """Subscribed, logging at debug, sending requests that publish events and
    log, and never reading: the daemon stops reading at the queue limit, drops
    (and counts) notifications, and answers every request once reading
    resumes."""
    queue = 256 * 1024
    cfg = write_config("[core]\nmax_output_queue_bytes = %d\n" % queue)
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        d.request("resources/subscribe", {"uri": "events://stream"})
        d.request("resources/subscribe", {"uri": "itest://static/1"})
        d.request("logging/setLevel", {"level": "debug"})
        rss0 = d.rss_kb()
        peak = Peak(d)
        n = 4000
        reqs = []
        for i in range(n):
            if i % 2:
                p = {"name": "itest_emit", "arguments": {"count": 50}}
            else:
                p = {"name": "itest_log", "arguments": {"level": "debug", "count": 20,
                                                        "message": "never-read"}}
            reqs.append(json.dumps({"jsonrpc": "2.0", "id": "r%d" % i, "method": "tools/call",
                                    "params": p}).encode() + b"\n")
        data = b"".join(reqs)
        fd = d.proc.stdin.fileno()
        os.set_blocking(fd, False)
        written, stalled = 0, None
        end = time.monotonic() + 5
        while written < len(data) and time.monotonic() < end:
            try:
                written += os.write(fd, data[written:written + 65536])
                stalled = None
            except BlockingIOError:
                stalled = stalled or time.monotonic()
                if time.monotonic() - stalled > 1.0:
                    break
                time.sleep(0.02)
        time.sleep(0.3)
        T.check(written < len(data), f"the daemon stopped taking requests ({written} of "
                                     f"{len(data)} bytes)")
        grown = peak.kb - rss0
        T.check(grown < rss_limit_kb(16 * MiB),
                f"RSS grew {grown // 1024} MiB with a {queue // 1024} KiB queue and a reader "
                f"that never reads")
        os.set_blocking(fd, True)
        t, err = d.send_raw_in_thread(data[written:])
        seen, dups = d.answers({"r%d" % i for i in range(n)}, 60 * SLOW)
        t.join(10)
        peak.done()
        T.eq(len(seen), n, "every request answered once the client reads")
        T.eq(dups, [], "none twice")
        st = d.read_json("schedmcp://plugins")["session"]
        T.check(st["notifications_dropped"] > 0, f"notifications were dropped and counted: {st}")
        print(f"    never-reading subscriber: peak RSS +{grown // 1024} MiB with a "
              f"{queue // 1024} KiB queue; {st['notifications_dropped']} notifications dropped",
              flush=True)


@T.case
def test_largest_messages():
    """The most a single message can make the daemon allocate: a line at
    max_line_bytes, or 100000 JSON values (MAX_JSON_VALUES, mcp/server.c)."""
    with Daemon(plugin_dir_=itest_dir()) as d:
        rss0 = d.rss_kb()
        peak = Peak(d)
        cases = [
            ("100k values of 30-byte keys", 99990, 30, True),
            ("100k short values", 99990, 1, True),
            ("one value too many (2M)", 2000000, 0, False),
        ]
        for what, n, keylen, ok in cases:
            if keylen:
                body = b"{" + b",".join(b'"%0*d":0' % (keylen, i) for i in range(n)) + b"}"
            else:
                body = b"[" + b"0," * (n - 1) + b"0]"
            line = (b'{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":'
                    b'"itest_echo","arguments":{"pid":1,"opts":' + body + b'}}}\n')
            t0 = time.monotonic()
            d.send_raw(line)
            m = d.recv(30 * SLOW)
            took = time.monotonic() - t0
            if ok:
                T.check(m and m.get("id") == "big" and result(m).get("isError"),
                        f"{what}: validated and refused by the schema: {str(m)[:200]}")
            else:
                T.check(m and m.get("id") is None and "JSON values" in m["error"]["message"],
                        f"{what}: refused before parsing: {str(m)[:200]}")
            T.check(took < 5 * SLOW, f"{what}: {len(line) // 1024} KiB handled in {took:.2f} s")
        top = peak.done()
        T.check(top - rss0 < rss_limit_kb(48 * MiB),
                f"peak RSS growth {(top - rss0) // 1024} MiB for the largest messages "
                f"(bound 48 MiB)")
        print(f"    largest messages: peak RSS +{(top - rss0) // 1024} MiB", flush=True)
        r = d.request("ping")
        T.eq(r.get("result"), {}, "still serving")


if __name__ == "__main__":
    T.main()
