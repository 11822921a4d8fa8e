#!/usr/bin/env python3
"""Hostile input: over-long lines, deep nesting, invalid UTF-8, notification
storms, binary junk. After each, the daemon must still answer ping, and
every line it sent must be valid UTF-8 JSON (the strict reader checks)."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (Checker, Daemon, is_error, itest_dir, result, rss_limit_kb,  # noqa: E402
                       write_config)

T = Checker("integration/hostile-input")
MiB = 1 << 20


def still_serving(d, what, timeout=10.0):
    marker = f"alive-{what}"
    d.send({"jsonrpc": "2.0", "id": marker, "method": "ping"})
    m = d.wait_for(lambda m: m.get("id") == marker, timeout)
    T.check(m is not None and m.get("result") == {}, f"answers ping after {what}: {m}")
    T.check(d.proc.poll() is None, f"alive after {what}")


def answer(d, line):
    """Send one raw line and return what comes back (None after 5 s)."""
    d.send_raw(line + b"\n")
    return d.recv(5)


def echo_line(id_, text):
    """An itest_echo call whose text argument is these raw bytes."""
    return (b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"itest_echo",'
            b'"arguments":{"pid":1,"text":"%s"}}}' % (id_, text))


@T.case
def test_16MiB_line():
    with Daemon() as d:
        pad = b"a" * (16 * MiB)
        line = b'{"jsonrpc":"2.0","id":"long-one","method":"ping","params":{"pad":"' + pad + b'"}}\n'
        t, err = d.send_raw_in_thread(line)
        m = d.recv(20.0)
        t.join(20)
        T.eq(err, [], "the daemon kept reading the whole line")
        T.check(is_error(m, -32600) or is_error(m, -32700),
                f"an over-long line is answered with an error: {str(m)[:300]}")
        T.check(m is not None and m.get("id") is None, "with id null (the id was never parsed)")
        T.check(m is not None and "limit" in m.get("error", {}).get("message", ""),
                "saying the limit")
        T.check(d.rss_kb() < rss_limit_kb(64 * 1024), f"RSS stayed bounded ({d.rss_kb()} KiB)")
        still_serving(d, "16 MiB line")
        # the request inside the long line was never executed
        T.eq([x for x in d.messages if x.get("id") == "long-one"], [], "the long request did nothing")


@T.case
def test_line_limit_is_exact():
    cfg = write_config("[core]\nmax_line_bytes = 4096\n")
    with Daemon(args=["--config", cfg]) as d:
        def line_of(n, id_):
            head = b'{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"pad":"' % id_
            tail = b'"}}'
            return head + b"x" * (n - len(head) - len(tail)) + tail
        ok = line_of(4000, 10)
        T.check(len(ok) == 4000, "4000-byte line")
        m = answer(d, ok)
        T.check(m is not None and m.get("id") == 10 and "result" in m, f"a line under the limit: {m}")
        for n in [4097, 5000, 60000, 200000]:
            m = answer(d, line_of(n, n))
            T.check(is_error(m) and m.get("id") is None,
                    f"a {n}-byte line over max_line_bytes=4096 is refused: {str(m)[:200]}")
        still_serving(d, "lines around the limit")


@T.case
def test_deep_nesting():
    with Daemon() as d:
        cases = [b"[" * 10000,
                 b"[" * 10000 + b"]" * 10000,
                 b'{"a":' * 10000 + b"1" + b"}" * 10000,
                 b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":' + b"[" * 10000
                 + b"]" * 10000 + b"}}",
                 b'{"jsonrpc":"2.0","id":6,"method":"ping","params":' + b'{"a":' * 5000
                 + b"{}" + b"}" * 5001]
        for c in cases:
            m = answer(d, c)
            T.check(is_error(m, -32600) or is_error(m, -32700),
                    f"nesting {c[:30]!r}...: an error, got {str(m)[:200]}")
        still_serving(d, "deep nesting")
        # depth that a real client might send is fine
        r = d.request("ping", {"x": [[[[[[[[[[1]]]]]]]]]]})
        T.eq(r.get("result"), {}, "ten levels of nesting are fine")


@T.case
def test_invalid_utf8():
    with Daemon(plugin_dir_=itest_dir()) as d:
        bad = [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
               b"\xc3", b"\x80", b"\xfe\xfe"]
        for b in bad:
            m = answer(d, echo_line(1, b))
            T.check(is_error(m, -32700) and m.get("id") is None,
                    f"invalid UTF-8 {b!r} in a string: -32700, got {str(m)[:200]}")
            m = answer(d, b'{"jsonrpc":"2.0","id":2,"method":"ping"' + b + b"}")
            T.check(is_error(m, -32700), f"invalid UTF-8 {b!r} outside a string: {str(m)[:200]}")
        # escaped lone surrogates: refused, or passed on as valid UTF-8 (the
        # strict reader fails the test if the answer is not)
        for esc in [b"\\ud800", b"\\udfff", b"\\ud800x", b"\\ud83d\\ude00"]:
            m = answer(d, echo_line(3, esc))
            T.check(m is not None, f"{esc!r}: answered")
            if esc == b"\\ud83d\\ude00":
                T.eq(result(m).get("structuredContent", {}).get("text"), "\U0001F600",
                     "a proper surrogate pair decodes")
        # the method name is echoed in "Method not found": it must stay valid
        m = answer(d, b'{"jsonrpc":"2.0","id":4,"method":"' + b"m" * 99 + "é".encode() * 3 + b'"}')
        T.check(is_error(m, -32601), f"long non-ASCII method name: {str(m)[:200]}")
        still_serving(d, "invalid UTF-8")


@T.case
def test_notification_storm():
    with Daemon(plugin_dir_=itest_dir()) as d:
        kinds = [b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":%d}}',
                 b'{"jsonrpc":"2.0","method":"notifications/unknown","params":{"n":%d}}',
                 b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%d}}',
                 b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"itest_echo","arguments":{"pid":%d}}}',
                 b'{"method":"broken","params":%d}']
        block = b"\n".join(kinds[i % len(kinds)] % i for i in range(100000)) + b"\n"
        rss0 = d.rss_kb()
        t0 = time.monotonic()
        t, err = d.send_raw_in_thread(block)
        t.join(30)
        T.eq(err, [], "storm written")
        d.send({"jsonrpc": "2.0", "id": "after-storm", "method": "ping"})
        first = d.recv(20.0)
        took = time.monotonic() - t0
        T.check(first is not None and first.get("id") == "after-storm",
                f"the first thing sent after 100k notifications is the ping answer: {str(first)[:200]}")
        T.check(took < 15, f"100k notifications handled in {took:.1f}s")
        T.check(d.rss_kb() - rss0 < rss_limit_kb(32 * 1024), f"RSS grew by {d.rss_kb() - rss0} KiB")
        st = d.read_json("schedmcp://plugins")["session"]
        T.check(st["notifications_received"] >= 80000,
                f"notifications counted: {st['notifications_received']}")
        T.eq(st["errors_sent"], 0, "no error sent for any notification")


@T.case
def test_blank_lines_and_junk():
    with Daemon() as d:
        d.send_raw(b"\n" * 100000 + b"   \n\t\n\r\n")
        still_serving(d, "100k blank lines")
        T.eq([m for m in d.messages if "error" in m], [], "blank lines are not errors")
        rnd = random.Random(7)
        junk = bytes(rnd.randrange(256) for _ in range(200000))
        d.send_raw(junk + b"\n")
        d.drain(quiet=0.5)
        still_serving(d, "200 KB of random bytes")
        m = answer(d, b"\x00\x00\x00")
        T.check(is_error(m, -32700), f"NUL bytes: parse error, got {m}")
        m = answer(d, b'{"jsonrpc":"2.0","id":9,"method":"ping"}\x00{"x":1}')
        T.check(is_error(m, -32700), f"a NUL byte after a message is not ignored: {m}")
        still_serving(d, "NUL bytes")


@T.case
def test_big_valid_requests():
    with Daemon(plugin_dir_=itest_dir()) as d:
        # a 1 MiB argument is well under the line limit: accepted, validated
        r = d.call_tool("itest_echo", {"pid": 1, "text": "y" * MiB}, timeout=20)
        T.check("result" in r, "a 1 MiB argument is fine")
        # an answer over max_result_bytes is refused, not sent
        T.eq(result(r).get("isError"), True, "its echo is over max_result_bytes")
        r = d.request("ping", {"k%d" % i: i for i in range(50000)})
        T.eq(r.get("result"), {}, "50k keys in params")
        still_serving(d, "big requests")


if __name__ == "__main__":
    T.main()
