#!/usr/bin/env python3
"""JSON-RPC exactness over the wire: ids echoed with their type, notifications
never answered, the standard error codes, tool failures as isError results,
the pending-request limit, and 1000 pipelined requests answered once each."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (BUILD, Checker, Daemon, hwm_kb, is_error, itest_dir,  # noqa: E402
                       result, rss_limit_kb, write_config)

T = Checker("integration/jsonrpc")
MiB = 1 << 20


def raw(d, line: bytes, timeout=5.0):
    """Send one raw line and return the next message."""
    d.send_raw(line + b"\n")
    return d.recv(timeout)


def only_answers_until_ping(d, marker):
    """Send a ping with id marker; return every message that came before its
    answer (the ping answer itself is checked)."""
    before = []
    d.send({"jsonrpc": "2.0", "id": marker, "method": "ping"})
    while True:
        m = d.recv(10.0)
        if m is None:
            T.check(False, f"no answer to ping {marker!r}")
            return before
        if m.get("id") == marker and type(m.get("id")) is type(marker):
            T.eq(m.get("result"), {}, "ping answer")
            return before
        before.append(m)


def ask(d, method, id_):
    """Send one request and return the next message (answers to ping and
    unknown methods are immediate and in order), without matching the id:
    a mangled id must show up as a failed check, not as a time-out."""
    d.send({"jsonrpc": "2.0", "id": id_, "method": method})
    return d.recv(5.0) or {}


@T.case
def test_ids_keep_their_type():
    with Daemon() as d:
        for id_ in [0, 1, -1, 2**31, 2**53 - 1, -(2**53 - 1), "0", "", "1", "abc", " ",
                    "\u00e9\u2713", "x" * 1000, "null", "1.5"]:
            r = ask(d, "ping", id_)
            T.check(r.get("id") == id_ and type(r.get("id")) is type(id_),
                    f"id {id_!r:.40} echoed as {r.get('id')!r:.40}")
            T.eq(r.get("result"), {}, f"ping {id_!r:.20}")
        # ids are also echoed exactly in errors
        for id_ in [0, 2**53 - 1, "", "7"]:
            r = ask(d, "no/such/method", id_)
            T.check(is_error(r, -32601) and type(r["id"]) is type(id_) and r["id"] == id_,
                    f"error for id {id_!r} echoes it: {r}")
        # on the wire, not just after parsing: the literal digits come back
        d.send_raw(b'{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}\n')
        d.recv(5.0)
        T.check(d.messages and d.raw_lines, "answered")
        line = getattr(d, "last_raw", b"")
        T.check(b'"id":9007199254740991' in line, f"2^53-1 printed exactly: {line!r}")


@T.case
def test_notifications_never_answered():
    with Daemon(plugin_dir_=itest_dir()) as d:
        notes = [
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "method": "notifications/unknown_kind"},
            {"jsonrpc": "2.0", "method": "no/such/method"},
            {"jsonrpc": "2.0", "method": "tools/list"},
            {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "nope"}},
            {"jsonrpc": "2.0", "method": "resources/read", "params": {"uri": "nope://x"}},
            {"jsonrpc": "2.0", "method": "ping"},
            {"jsonrpc": "2.0", "method": "initialize", "params": {"protocolVersion": "x"}},
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 42}},
            {"jsonrpc": "2.0", "method": "notifications/cancelled"},
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": "bad"},
            {"jsonrpc": "2.0", "method": "notifications/progress",
             "params": {"progressToken": "t", "progress": 1}},
            {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
            {"jsonrpc": "2.0", "method": "logging/setLevel", "params": {"level": "nonsense"}},
            {"jsonrpc": "2.0", "method": "notifications/x", "params": [1, 2]},
            {"jsonrpc": "2.0", "method": "notifications/x", "params": 5},
            # malformed notifications: still no id, so still no answer
            {"jsonrpc": "1.0", "method": "notifications/x"},
            {"method": "notifications/x"},
            {"jsonrpc": 2.0, "method": "notifications/x"},
        ]
        for n in notes:
            d.send(n)
        before = only_answers_until_ping(d, "after-notes")
        T.eq([m for m in before if "id" in m], [], "no answer to any notification")
        T.eq(d.drain(quiet=0.3), [], "and nothing after")


@T.case
def test_parse_errors():
    with Daemon() as d:
        for line in [b'{"jsonrpc":"2.0","id":1,"method":"ping"',
                     b'{"jsonrpc":"2.0","id":1,"method":"ping",}',
                     b'{"jsonrpc":"2.0","id":1,"method":"ping"}}',
                     b'{"jsonrpc":"2.0","id":1,"method":"ping"} {"x":1}',
                     b'{"jsonrpc":"2.0","id":1,"method":"ping"}garbage',
                     b"{'jsonrpc':'2.0','id':1,'method':'ping'}",
                     b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}',
                     b"nonsense", b"{", b"}", b'"unterminated']:
            m = raw(d, line)
            T.check(is_error(m, -32700), f"{line!r:.70}: -32700, got {m}")
            T.check(m is not None and m.get("id") is None, f"{line!r:.50}: id null")
        T.check("result" in d.request("ping"), "serving after parse errors")


@T.case
def test_invalid_requests():
    with Daemon() as d:
        for line, echo in [
                (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":{},"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":[],"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":false,"method":"ping"}', None),
                (b'{"jsonrpc":"2.0","id":1e300,"method":"ping"}', None),
                (b'{"id":3,"method":"ping"}', 3),
                (b'{"jsonrpc":"1.0","id":4,"method":"ping"}', 4),
                (b'{"jsonrpc":2.0,"id":5,"method":"ping"}', 5),
                (b'{"jsonrpc":"2.0","id":6}', 6),
                (b'{"jsonrpc":"2.0","id":7,"method":null}', 7),
                (b'{"jsonrpc":"2.0","id":"s","method":["ping"]}', "s"),
                (b'[{"jsonrpc":"2.0","id":8,"method":"ping"}]', None),
                (b'[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","id":9,"method":"ping"}]', None),
                (b'[]', None), (b'5', None), (b'"ping"', None), (b'null', None), (b'true', None)]:
            m = raw(d, line)
            T.check(is_error(m, -32600), f"{line!r:.70}: -32600, got {m}")
            if m is not None:
                T.check(m.get("id") == echo and type(m.get("id")) is type(echo),
                        f"{line!r:.60}: id {m.get('id')!r}, expected {echo!r}")
        # a batch is not executed: no ping answers for ids 8 or 9 arrive
        T.eq([m for m in d.drain(quiet=0.2) if m.get("id") in (8, 9)], [], "batch not executed")
        T.check("result" in d.request("ping"), "serving after invalid requests")


@T.case
def test_method_and_params_errors():
    with Daemon(plugin_dir_=itest_dir()) as d:
        r = d.request("no/such/method")
        T.check(is_error(r, -32601), f"unknown method: {r}")
        T.check("no/such/method" in r["error"]["message"], "message names the method")
        T.check(is_error(d.request("resources/Read", {"uri": "x"}), -32601), "methods are case-sensitive")
        for method, params, what in [
                ("tools/list", [1], "params an array"),
                ("tools/list", "x", "params a string"),
                ("tools/call", None, "tools/call without params"),
                ("tools/call", {}, "tools/call without name"),
                ("tools/call", {"name": 5}, "tools/call name not a string"),
                ("tools/call", {"name": "nope"}, "unknown tool"),
                ("tools/call", {"name": "itest_echo", "arguments": [1]}, "arguments an array"),
                ("tools/call", {"name": "itest_echo", "arguments": "pid=1"}, "arguments a string"),
                ("prompts/get", {"name": "nope"}, "unknown prompt"),
                ("prompts/get", {}, "prompt without name"),
                ("prompts/get", {"name": "itest_prompt"}, "missing required prompt argument"),
                ("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "x"}}, "int argument not an int"),
                ("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": 3}}, "prompt argument not a string"),
                ("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "1", "z": "1"}}, "unknown prompt argument"),
                ("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "5000"}}, "prompt handler says -EINVAL"),
                ("resources/read", {}, "read without uri"),
                ("resources/read", {"uri": 5}, "uri not a string"),
                ("resources/subscribe", {}, "subscribe without uri"),
                ("logging/setLevel", {"level": "verbose"}, "unknown log level"),
                ("logging/setLevel", {}, "no log level"),
                ("completion/complete", {"ref": {"type": "ref/prompt", "name": "nope"},
                                         "argument": {"name": "x", "value": ""}}, "completion for an unknown prompt"),
                ("tools/list", {"cursor": "not-a-cursor"}, "bad cursor")]:
            r = d.request(method, params)
            T.check(is_error(r, -32602), f"{what}: -32602, got {r}")
        r = d.request("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "5000"}})
        T.check("cpu 5000 does not exist" in r.get("error", {}).get("message", ""),
                f"the plugin's message reaches the client: {r}")
        # a tool no plugin has: where to look (itest says nothing of it)
        r = d.request("tools/call", {"name": "control_analyzers", "arguments": {"action": "start"}})
        T.check(is_error(r, -32602) and "Unknown tool: control_analyzers" in r["error"]["message"]
                and "schedmcp://plugins" in r["error"]["message"],
                f"an unknown tool: where to look: {r}")
    # scxtop's tools that have no place here: the plugin that serves instead says what
    with Daemon(plugin_dir_=os.path.join(BUILD, "plugins"),
                args=["--enable", "sched_latency"]) as d:
        r = d.request("tools/call", {"name": "control_analyzers", "arguments": {"action": "start"}})
        T.check(is_error(r, -32602) and "needs no analyzer started" in r["error"]["message"] and
                "measure_latency" in r["error"]["message"],
                f"control_analyzers: what to do instead: {r}")
        r = d.request("tools/call", {"name": "load_perfetto_trace", "arguments": {}})
        msg = r.get("error", {}).get("message", "")
        T.check(is_error(r, -32602) and "reads no trace files" in msg, f"trace tools: {r}")
        T.eq(msg.count("reads no trace files"), 1, "two hints that say the same, said once")


@T.case
def test_unknown_resource():
    with Daemon(plugin_dir_=itest_dir()) as d:
        for uri in ["nope://x", "schedmcp://plugins/extra", "itest://static/99",
                    "itest://missing/1", "itest://echo/", "itest://echo/a/b", ""]:
            r = d.read(uri)
            T.check(is_error(r, -32002), f"{uri!r}: -32002, got {r}")
            if is_error(r, -32002) and uri:
                T.eq(r["error"].get("data", {}).get("uri"), uri, f"{uri}: error data names the URI")
        T.check(is_error(d.request("resources/subscribe", {"uri": "nope://x"}), -32002),
                "subscribe to an unknown resource")


@T.case
def test_tool_errors_are_results():
    with Daemon(plugin_dir_=itest_dir()) as d:
        ok = result(d.call_tool("itest_echo", {"pid": "1234", "opts": {"verbose": "true"}}))
        T.eq(ok.get("isError"), False, "valid call")
        T.eq(ok.get("structuredContent"), {"pid": 1234, "verbose": True},
             "numeric and boolean strings arrive converted")
        T.eq(json.loads(ok["content"][0]["text"]), ok["structuredContent"],
             "structured content mirrored as text")
        for args, needle in [({"pid": "abc"}, "'pid'"), ({}, "'pid'"), ({"pid": 0}, "'pid'"),
                             ({"pid": 1.5}, "'pid'"), ({"pid": 1, "bogus": 1}, "'bogus'"),
                             ({"pid": 1, "mode": "medium"}, "'mode'"),
                             ({"pid": 1, "opts": {"verbose": "maybe"}}, "'opts.verbose'"),
                             ({"pid": 1, "opts": {"x": 1}}, "'opts.x'")]:
            r = d.call_tool("itest_echo", args)
            if not T.check("result" in r, f"{args}: a result, not a protocol error: {r}"):
                continue
            res = r["result"]
            T.eq(res.get("isError"), True, f"{args}: isError")
            text = " ".join(c.get("text", "") for c in res.get("content", []))
            T.check(needle in text, f"{args}: message names {needle}: {text!r}")
        r = result(d.call_tool("itest_fail"))
        T.eq(r.get("isError"), True, "a tool's own failure")
        T.check("failed on purpose" in r["content"][0]["text"], "with its message")
        # arguments: null counts as no arguments
        r = result(d.request("tools/call", {"name": "itest_stats", "arguments": None}))
        T.eq(r.get("isError"), False, "arguments null")
        r = result(d.request("tools/call", {"name": "itest_stats"}))
        T.eq(r.get("isError"), False, "arguments absent")


@T.case
def test_result_size_limit():
    with Daemon(plugin_dir_=itest_dir()) as d:
        r = result(d.call_tool("itest_blob", {"bytes": 50000}))
        T.eq(len(r["content"][0]["text"]), 50000, "a result under max_result_bytes")
        r = result(d.call_tool("itest_blob", {"bytes": 200000}))
        T.eq(r.get("isError"), True, "a result over max_result_bytes (98304) is a tool error")
        T.check("max_result_bytes" in r["content"][0]["text"], "saying which limit")
        T.check(d.raw_lines and "result" in d.request("ping"), "serving")


@T.case
def test_result_size_limit_memory():
    """An answer over max_result_bytes is refused while it is built: the
    daemon holds at most the limit of it, not copies of all of it (the
    plugin's own 4 MiB text is the only large buffer)."""
    with Daemon(plugin_dir_=itest_dir()) as d:
        T.check("result" in d.request("ping"), "up")
        before = hwm_kb(d.proc.pid)
        r = result(d.call_tool("itest_blob", {"bytes": 4 * MiB}, timeout=20))
        T.eq(r.get("isError"), True, "a 4 MiB result is over max_result_bytes")
        T.check("max_result_bytes" in r["content"][0]["text"], "saying which limit")
        T.check("about 41943" in r["content"][0]["text"],
                f"and how large it was: {r['content'][0]['text'][:120]}")
        grew = hwm_kb(d.proc.pid) - before
        # 4 MiB for the plugin's text, and a little for the answer; building
        # the whole answer first took 3 to 4 copies of it (12 MiB and more)
        T.check(grew < rss_limit_kb(6 * 1024),
                f"peak memory grew by {grew} KiB for a refused 4 MiB answer")


@T.case
def test_duplicate_id_in_flight():
    with Daemon(plugin_dir_=itest_dir()) as d:
        slow = {"jsonrpc": "2.0", "id": "dup", "method": "tools/call",
                "params": {"name": "itest_slow", "arguments": {"delay_ms": 300}}}
        d.send(slow)
        d.send(slow)
        first = d.recv(2.0)
        T.check(is_error(first, -32600) and first.get("id") == "dup",
                f"second request with an id in flight refused: {first}")
        second = d.recv(2.0)
        T.check(second is not None and "result" in second and second.get("id") == "dup",
                f"the first one still completes: {second}")
        T.eq(d.drain(quiet=0.4), [], "answered once")
        # once answered, the id may be used again
        r = d.request("ping", id_="dup")
        T.eq(r.get("result"), {}, "id reusable after its answer")


@T.case
def test_pending_limit():
    cfg = write_config("[core]\nmax_pending_requests = 4\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        for i in range(6):
            d.send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "itest_slow", "arguments": {"delay_ms": 300}}})
        got = {}
        deadline = time.monotonic() + 5
        while len(got) < 6 and time.monotonic() < deadline:
            m = d.recv(5)
            if m and "id" in m:
                got[m["id"]] = m
        busy = [i for i, m in got.items() if is_error(m)]
        done = [i for i, m in got.items() if "result" in m]
        T.eq(sorted(busy), [4, 5], "requests over max_pending_requests refused")
        T.check(all(got[i]["error"]["code"] == -32000 for i in busy), f"with -32000: {got}")
        T.eq(sorted(done), [0, 1, 2, 3], "the others complete")
        T.check("result" in d.request("ping"), "ping is not a pending request")


@T.case
def test_pipelined_1000():
    with Daemon(plugin_dir_=itest_dir()) as d:
        kinds = [("ping", None),
                 ("tools/list", None),
                 ("resources/read", {"uri": "schedmcp://plugins"}),
                 ("tools/call", {"name": "itest_echo", "arguments": {"pid": "7"}}),
                 ("resources/read", {"uri": "itest://echo/v"}),
                 ("no/such", None)]
        lines = []
        expect = {}
        for i in range(1000):
            method, params = kinds[i % len(kinds)]
            id_ = i if i % 2 else f"s{i}"
            msg = {"jsonrpc": "2.0", "id": id_, "method": method}
            if params is not None:
                msg["params"] = params
            lines.append(json.dumps(msg).encode())
            expect[(type(id_).__name__, id_)] = method
        t0 = time.monotonic()
        d.send_raw(b"\n".join(lines) + b"\n")
        seen = {}
        dups = []
        while len(seen) < 1000:
            m = d.recv(10.0)
            if m is None:
                break
            if "id" not in m:
                continue
            key = (type(m["id"]).__name__, m["id"])
            if key in seen:
                dups.append(key)
            seen[key] = m
        took = time.monotonic() - t0
        T.eq(len(seen), 1000, "every request answered")
        T.eq(dups, [], "none answered twice")
        T.eq(set(seen) - set(expect), set(), "no answer to an id we did not send")
        wrong = [k for k, m in seen.items()
                 if (expect.get(k) == "no/such") != is_error(m, -32601)]
        T.eq(wrong, [], "each answer fits its request")
        T.eq(d.drain(quiet=0.3), [], "nothing more")
        T.check(took < 10, f"1000 pipelined requests in {took:.2f}s")


if __name__ == "__main__":
    T.main()
