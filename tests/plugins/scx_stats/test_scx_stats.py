#!/usr/bin/env python3
"""scx_stats through the real daemon against the fake stats server: the stats and
their metadata, targets and struct picking, completion, the sampling tool (rates,
progress, cancel), and every way a stats server can misbehave (no socket, a stale
socket, errors, slow replies, no reply, a reply cut short, an oversize reply,
garbage, a backlog that never gets accepted, a restart) without ever blocking the
loop: a ping sent while a read waits is answered at once. Hostile replies
(stats_meta repeating field names, bytes that are not UTF-8, paths longer than
255 bytes, more values than allowed) cost a read little time and memory and lose
nothing in silence."""
import contextlib
import json
import os
import signal
import time

import sxtest
from sxtest import Server, daemon, read_json, sockdir
import smcp_test
from smcp_test import Checker

ck = Checker("scx_stats")
FAST = "connect_timeout_ms = 500\nread_timeout_ms = 800\n"


def ping_while(c, send_id, method, params, limit_s=0.3):
    """Send a request, then a ping; the ping must come back within limit_s while
    the first is still pending. Returns (first response, ping latency)."""
    c.send({"jsonrpc": "2.0", "id": send_id, "method": method, "params": params})
    t0 = time.monotonic()
    pong = c.request("ping", {}, timeout=5)
    lat = time.monotonic() - t0
    ck.check("result" in pong, "ping answered")
    first = c.wait_response(send_id, timeout=10)
    return first, lat


def responses(c, ids, timeout=10):
    """Responses to every id in ids, in whatever order they come."""
    want, got = set(ids), {}
    for m in c.messages:
        if m.get("id") in want and ("result" in m or "error" in m):
            got[m["id"]] = m
    deadline = time.monotonic() + timeout
    while len(got) < len(want) and time.monotonic() < deadline:
        m = c.recv(max(0.05, deadline - time.monotonic()))
        if m and m.get("id") in want and ("result" in m or "error" in m):
            got[m["id"]] = m
    return [got.get(i) for i in ids]


@contextlib.contextmanager
def served(*server_args, extra_conf=FAST):
    """The fake stats server, started with server_args on a fresh socket, and
    a daemon whose scx_stats reads it with extra_conf; yields the daemon."""
    path = os.path.join(sockdir(), "stats")
    with Server(path, *server_args), daemon(path, extra_conf=extra_conf) as c:
        yield c


def text_json(resp):
    return json.loads(resp["result"]["contents"][0]["text"])


@ck.case
def test_exports():
    import shutil
    import subprocess
    if not shutil.which("nm"):
        raise smcp_test.Skip("no nm")
    out = subprocess.run(["nm", "-D", "--defined-only", sxtest.plugin_so("scx_stats")],
                         capture_output=True, text=True).stdout
    syms = [line.split()[-1] for line in out.splitlines() if line.strip()]
    ck.eq(syms, ["schedmcp_plugin_entry"], "one exported symbol")


@ck.case
def test_no_socket():
    path = os.path.join(sockdir(), "stats")
    with daemon(path, extra_conf=FAST) as c:
        (a, dt) = sxtest.timed(lambda: read_json(c, "stats://scheduler/raw"))
        ck.eq(a["available"], False, "nothing serves")
        ck.check("does not exist" in a["reason"], "reason says the socket is missing: %r" % a)
        ck.check("hint" in a and "sched_ext" in a, "hint and sched_ext state given")
        ck.check(dt < 1.0, "answered at once (%.2fs)" % dt)
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 2})
        ck.check(r["result"].get("isError") is True, "sampling without a server is an error")
        ck.check("does not exist" in r["result"]["content"][0]["text"], "with the reason")


@ck.case
def test_stale_socket():
    import socket
    path = os.path.join(sockdir(), "stats")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens: a scheduler that crashed
    with daemon(path, extra_conf=FAST) as c:
        a = read_json(c, "stats://scheduler/raw")
        ck.eq(a["available"], False, "stale socket")
        ck.check("nothing listens" in a["reason"], "reason: %r" % a["reason"])


@ck.case
def test_stats_and_meta():
    with served() as c:
        a = read_json(c, "stats://scheduler/raw")
        ck.eq(a["available"], True, "available")
        ck.eq(a["target"], "top", "target")
        ck.eq(a["stats"]["name"], "test cluster", "stats passed through")
        ck.eq(a["period_s"], None, "first read: no period")
        ck.eq(a["meta"]["top"], "ClusterStats", "top struct from stats_meta")
        f = a["meta"]["structs"]["ClusterStats"]["fields"]
        ck.eq(f["events"]["type"], "u64", "u64 field type")
        ck.eq(f["doms_dict"]["type"], "{u64:DomainStats}", "dict type")
        ck.eq(f["bitmap"]["type"], "[u64]", "array type")
        ck.eq(f["bitmap"].get("not_a_metric"), True, "_om_skip shown")
        ck.eq(f["events"]["desc"], "events handled since start", "field description")
        ck.check("DomainStats" in a["meta"]["structs"], "nested struct described")
        time.sleep(0.2)
        b = read_json(c, "stats://scheduler/raw")
        ck.check(isinstance(b["period_s"], float) and b["period_s"] > 0.1,
                 "second read: period since the previous read (%r)" % b["period_s"])
        t = read_json(c, "stats://scheduler/raw/top")
        ck.eq(t["stats"]["name"], "test cluster", "template with top")
        d = read_json(c, "stats://scheduler/raw/DomainStats")
        ck.eq(d["struct"], "DomainStats", "struct name picks instances")
        ck.eq(sorted(d["instances"].keys()), ["doms_dict.0", "doms_dict.1"], "instance paths")
        ck.eq(list(d["meta"]["structs"].keys()), ["DomainStats"], "only that struct's meta")
        s = read_json(c, "stats://scheduler/raw/sched_samples")
        ck.eq(s["stats"], {"samples": [1, 2, 3]}, "another served target")
        u = read_json(c, "stats://scheduler/raw/nope")
        ck.eq((u["available"], u["found"]), (True, False), "unknown target")
        ck.check("errno 22" in u["reason"], "server's EINVAL reported: %r" % u["reason"])
        ck.check("top" in u["targets_seen"] and "ClusterStats" in u["structs"],
                 "known targets and structs listed")
        bad = read_json(c, "stats://scheduler/raw/a%20b")
        ck.eq(bad["available"], False, "a target with a space is refused")
        comp = c.request("completion/complete", {
            "ref": {"type": "ref/resource", "uri": "stats://scheduler/raw/{target}"},
            "argument": {"name": "target", "value": ""}})
        vals = comp["result"]["completion"]["values"]
        ck.check({"top", "ClusterStats", "DomainStats", "sched_samples"} <= set(vals),
                 "completion offers targets and stats_meta structs: %r" % vals)
        comp = c.request("completion/complete", {
            "ref": {"type": "ref/resource", "uri": "stats://scheduler/raw/{target}"},
            "argument": {"name": "target", "value": "Do"}})
        ck.eq(comp["result"]["completion"]["values"], ["DomainStats"], "prefix filter")


@ck.case
def test_concurrent_reads():
    with served("--mode", "slow", "--delay-ms", "100") as c:
        ids = list(range(100, 106))
        for i in ids:
            uri = "stats://scheduler/raw" if i % 2 else "stats://scheduler/raw/DomainStats"
            c.send({"jsonrpc": "2.0", "id": i, "method": "resources/read",
                    "params": {"uri": uri}})
        got = responses(c, ids)
        ck.check(all(got), "all six answered")
        got = [text_json(g) for g in got if g]
        ck.check(all(g["available"] for g in got), "six reads queued on one connection")


@ck.case
def test_sampling():
    with served() as c:
        progress = []
        r = c.request("tools/call", {"name": "sample_scheduler_stats",
                                     "arguments": {"duration_s": 2, "interval_ms": 250},
                                     "_meta": {"progressToken": "p1"}},
                      timeout=20, on_message=lambda m: progress.append(m)
                      if m.get("method") == "notifications/progress" else None)
        res = r["result"]
        ck.check(not res.get("isError"), "sampling succeeds: %r" % res)
        sc = res["structuredContent"]
        ck.check(sc["samples"] >= 7, "about 8 samples (%d)" % sc["samples"])
        ck.eq(sc["typed_by_stats_meta"], True, "typed by stats_meta")
        counters = {r["path"]: r for r in sc["counters"]}
        ck.check("events" in counters, "cumulative u64 is a counter: %r" % list(counters))
        ck.check(800 < counters["events"]["rate_per_s"] < 1200,
                 "rate of events ~1000/s (%r)" % counters["events"]["rate_per_s"])
        ck.check("doms_dict.1.events" in counters, "dict members flattened with their key")
        gauges = {r["path"]: r for r in sc["gauges"]}
        ck.check("busy" in gauges and gauges["busy"]["min"] <= gauges["busy"]["mean"]
                 <= gauges["busy"]["max"], "float is a gauge with mean/min/max")
        ck.check("nr_tasks" in sc["constant"], "a value that never changed is constant")
        ck.check(not any(k.startswith("bitmap") or k == "at"
                         for k in list(counters) + list(gauges) + list(sc["constant"])),
                 "_om_skip fields left out")
        ck.check(len(progress) >= 5, "progress per sample (%d)" % len(progress))
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 1, "interval_ms": 200,
                                                   "fields": "doms_dict.*.pressure"},
                        timeout=20)
        sc = r["result"]["structuredContent"]
        paths = [x["path"] for x in sc["counters"] + sc["gauges"]] + list(sc["constant"])
        ck.check(paths and all(p.endswith(".pressure") for p in paths),
                 "fields filter: %r" % paths)
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 1, "interval_ms": 2000})
        ck.check(r["result"].get("isError") is True, "interval longer than duration refused")
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 1, "target": "nope"})
        ck.check(r["result"].get("isError") is True and "errno 22" in
                 r["result"]["content"][0]["text"], "unknown target: an error with errno")


@ck.case
def test_sampling_cancel():
    with served() as c:
        for round_ in range(6):  # more than the 4 sampler slots: cancel frees them
            rid = 500 + round_
            c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                    "params": {"name": "sample_scheduler_stats",
                               "arguments": {"duration_s": 60}}})
            time.sleep(0.3)
            c.notify("notifications/cancelled", {"requestId": rid, "reason": "test"})
        got = c.drain(quiet=0.5)
        ck.check(not any(m.get("id") in range(500, 506) for m in got),
                 "no answer to cancelled calls")
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 1, "interval_ms": 500},
                        timeout=10)
        ck.check(not r["result"].get("isError"), "a new sampling runs after cancels")


@ck.case
def test_sampling_scheduler_exits():
    path = os.path.join(sockdir(), "stats")
    with daemon(path, extra_conf=FAST) as c:
        srv = Server(path)
        c.send({"jsonrpc": "2.0", "id": 600, "method": "tools/call",
                "params": {"name": "sample_scheduler_stats",
                           "arguments": {"duration_s": 30, "interval_ms": 200}}})
        time.sleep(1.5)
        srv.stop()
        os.unlink(path)
        t0 = time.monotonic()
        r = c.wait_response(600, timeout=10)
        sc = r["result"]["structuredContent"]
        ck.check(time.monotonic() - t0 < 3, "ends soon after the scheduler exits")
        ck.check(sc["samples"] >= 3 and sc["failed_samples"] >= 1, "partial result: %r" %
                 {k: sc[k] for k in ("samples", "failed_samples")})
        # the sample after the exit finds the connection closed, the socket
        # gone, or (between stop and unlink) a socket nobody listens on
        ck.check(any(w in sc.get("error", "") for w in ("closed", "exist", "nothing listens")),
                 "with the error: %r" % sc.get("error"))


@ck.case
def test_slow_but_in_time():
    with served("--mode", "slow", "--delay-ms", "400", extra_conf="read_timeout_ms = 2000\n") as c:
        first, lat = ping_while(c, 900, "resources/read", {"uri": "stats://scheduler/raw"})
        ck.check(lat < 0.3, "loop not blocked by a slow reply (ping %.3fs)" % lat)
        ck.eq(text_json(first)["available"], True, "slow reply within the time-out")


@ck.case
def test_silent_server():
    with served("--mode", "silent") as c:
        t0 = time.monotonic()
        first, lat = ping_while(c, 901, "resources/read", {"uri": "stats://scheduler/raw"})
        dt = time.monotonic() - t0
        a = text_json(first)
        ck.check(lat < 0.3, "loop not blocked while waiting (ping %.3fs)" % lat)
        ck.eq(a["available"], False, "a server that never answers")
        ck.check("did not answer within 800 ms" in a["reason"], "reason: %r" % a["reason"])
        # the lower bound proves the time-out; the upper one only that it ends
        ck.check(0.7 < dt < 4.0, "read time-out honoured (%.2fs; meta then stats)" % dt)


@ck.case
def test_close_mid_reply():
    with served("--mode", "close-mid") as c:
        a = read_json(c, "stats://scheduler/raw")
        ck.eq(a["available"], False, "cut reply")
        ck.check("closed the connection after" in a["reason"] and "bytes" in a["reason"],
                 "reason: %r" % a["reason"])
        a = read_json(c, "stats://scheduler/raw")
        ck.eq(a["available"], False, "and again on a new connection")


@ck.case
def test_oversize_reply():
    with served("--mode", "oversize", "--oversize-bytes", str(1 << 20),
                extra_conf=FAST + "max_reply_bytes = 65536\n") as c:
        first, lat = ping_while(c, 902, "resources/read", {"uri": "stats://scheduler/raw"})
        a = text_json(first)
        ck.eq(a["available"], False, "oversize reply refused")
        ck.check("larger than 65536 bytes" in a["reason"], "reason: %r" % a["reason"])
        ck.check(lat < 0.3, "loop not blocked (ping %.3fs)" % lat)


@ck.case
def test_garbage_and_errno():
    with served("--mode", "garbage") as c:
        a = read_json(c, "stats://scheduler/raw")
        ck.eq(a["available"], False, "garbage")
        ck.check("not a JSON object" in a["reason"], "reason: %r" % a["reason"])
    with served("--mode", "errno") as c:
        a = read_json(c, "stats://scheduler/raw")
        ck.check("errno 5" in a.get("reason", ""), "the server's errno: %r" % a)


@ck.case
def test_noaccept():
    with served("--mode", "noaccept") as c:
        reads = []
        for i in range(3):
            reads.append(read_json(c, "stats://scheduler/raw"))
        ck.check(all(r["available"] is False for r in reads), "never accepted: unavailable")
        ck.check(all("timed out" in r["reason"] or "did not answer" in r["reason"]
                     or "not accepting" in r["reason"] for r in reads),
                 "reasons: %r" % [r["reason"] for r in reads])


@ck.case
def test_restart():
    path = os.path.join(sockdir(), "stats")
    with daemon(path, extra_conf=FAST) as c:
        with Server(path, "--name", "first"):
            ck.eq(read_json(c, "stats://scheduler/raw")["stats"]["name"], "first", "first")
        a = read_json(c, "stats://scheduler/raw")
        ck.eq(a["available"], False, "scheduler gone")
        with Server(path, "--name", "second", "--shape", "layered"):
            b = read_json(c, "stats://scheduler/raw")
            ck.eq(b["available"], True, "reconnected after restart")
            ck.eq(b["meta"]["top"], "SysStats", "stats_meta fetched again for the new one")
            ck.check("layers" in b["stats"], "the new scheduler's stats")
        # a restart while our connection is idle and open
        with Server(path, "--name", "third"):
            ck.eq(read_json(c, "stats://scheduler/raw")["stats"]["name"], "third", "third")
        with Server(path, "--name", "fourth"):
            ck.eq(read_json(c, "stats://scheduler/raw")["stats"]["name"], "fourth",
                  "idle connection to a dead server replaced")


@ck.case
def test_cut_to_budget():
    with served("--shape", "wide", extra_conf=FAST + "max_answer_bytes = 16384\n") as c:
        r = c.read("stats://scheduler/raw")
        ck.check("result" in r, "read answered")
        text = r["result"]["contents"][0]["text"]
        a = json.loads(text)
        ck.check(len(text) < 16384 + 4096, "answer bounded (%d bytes)" % len(text))
        ck.eq(a["truncated"], True, "says it was cut")
        ck.check(any("cut" in n for n in a["notes"]), "and how to get the rest")
        ck.eq(a["stats"]["doms_dict"].get("cut"), True, "the big dict summarised")
        ck.eq(a["stats"]["doms_dict"]["members"], 3000, "with its size")


@ck.case
def test_sampling_pages_under_max_result_bytes():
    # 3000 dict members sampled at the schema's largest limit under the
    # smallest max_result_bytes: shorter lists that say so, not a failure
    path = os.path.join(sockdir(), "stats")
    with Server(path, "--shape", "wide"), \
            daemon(path, extra_conf=FAST, args=["--set", "core.max_result_bytes=4096"]) as c:
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 1, "interval_ms": 250,
                                                   "limit": 500}, timeout=20)
        res = r["result"]
        ck.check(not res.get("isError"), "a page, not a failure: %r" % json.dumps(res)[:300])
        if not res.get("isError"):
            sc = res["structuredContent"]
            ck.check(sc["truncated"] and len(sc["counters"]) + len(sc["gauges"]) <
                     sc["counters_total"] + sc["gauges_total"],
                     "cut, and says so: %r" % {k: sc[k] for k in ("counters_total",
                                                                 "gauges_total")})


@ck.case
def test_layered_periods():
    with served("--shape", "layered") as c:
        # 12 samples: a per-period value that rises every time by chance (and so
        # looks like a counter) is then a 1 in 12! event
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 3, "interval_ms": 250,
                                                   "fields": "layers.*.total,layers.*.util"},
                        timeout=20)
        sc = r["result"]["structuredContent"]
        g = {x["path"]: x for x in sc["gauges"]}
        k = sc["constant"]
        ck.check("layers.batch.total" in g, "per-period count is a gauge: %r" % list(g))
        ck.check(150 < g.get("layers.batch.total", {}).get("mean", 0) < 450,
                 "its mean is per interval (~250 per 0.25 s): %r" % g.get("layers.batch.total"))
        ck.eq(k.get("layers.batch.util"), 190.0, "unchanging util is constant")


@ck.case
def test_shutdown_with_pending():
    path = os.path.join(sockdir(), "stats")
    with Server(path, "--mode", "silent"):
        c = daemon(path, extra_conf="read_timeout_ms = 60000\n")
        c.send({"jsonrpc": "2.0", "id": 77, "method": "resources/read",
                "params": {"uri": "stats://scheduler/raw"}})
        c.send({"jsonrpc": "2.0", "id": 78, "method": "tools/call",
                "params": {"name": "sample_scheduler_stats", "arguments": {"duration_s": 60}}})
        time.sleep(0.3)
        c.signal(signal.SIGTERM)
        rc = c.wait_exit(5)
        ck.eq(rc, 0, "clean exit with a read and a sampling pending")
        c.kill()
        c.stderr_file.close()


# ------------------------------------------------------------ hostile servers
# Whoever can bind the socket path is untrusted (SECURITY.md): no reply may
# make one read cost more than a moment of CPU or a few MiB, or freeze the loop.

def read_with_pings(c, rid, uri, timeout=10):
    """Send a read, then pings one after another (each when the previous one is
    answered, 50 ms apart) until the read is answered. Returns (read response,
    seconds to it, the slowest ping's seconds), None for what did not come; a
    ping left unanswered for 2 s ends the wait."""
    t0 = time.monotonic()
    c.send({"jsonrpc": "2.0", "id": rid, "method": "resources/read", "params": {"uri": uri}})
    read = read_at = None
    worst = 0.0
    pid = rid + 1
    while read is None and time.monotonic() - t0 < timeout:
        sent = time.monotonic()
        c.send({"jsonrpc": "2.0", "id": pid, "method": "ping"})
        pong = None
        while pong is None and time.monotonic() - sent < 2.0:
            m = c.recv(0.05)
            if m and m.get("id") == rid and ("result" in m or "error" in m):
                read, read_at = m, time.monotonic() - t0
            elif m and m.get("id") == pid:
                pong = time.monotonic() - sent
        if pong is None:
            return read, read_at, None
        worst = max(worst, pong)
        pid += 1
        time.sleep(0.05)
    return read, read_at, worst


def hostile_read(c, rid, uri, what):
    """A read that must answer within 1 s, every ping answered meanwhile (in
    under 1 s), peak RSS under 64 MiB. Returns the answer (None when it did
    not come)."""
    r, dt, ping = read_with_pings(c, rid, uri)
    ck.check(ping is not None and ping < 1.0, "%s: pings answered meanwhile (slowest %s s)" %
             (what, ping))
    ck.check(r is not None and dt < 1.0, "%s: answered within 1 s (%s s)" % (what, dt))
    hwm = smcp_test.hwm_kb(c.pid)
    ck.check(hwm < smcp_test.rss_limit_kb(64 * 1024),
             "%s: peak RSS %d KiB under 64 MiB" % (what, hwm))
    return text_json(r) if r and "result" in r else None


@ck.case
def test_dup_fields_deep():
    """A field name repeated 8 times at each of 20 struct levels: the walk
    that picks B out of top once took 8^16 steps (3 repeats: 16 s)."""
    with served("--shape", "dup-deep") as c:
        a = hostile_read(c, 1000, "stats://scheduler/raw/B", "8x along 20 levels")
        if a is None:
            return
        ck.eq((a["available"], a["struct"]), (True, "B"), "picked from top")
        dup = a["meta"].get("duplicates_ignored") or {}
        ck.eq(dup.get("fields"), 20 * 7, "stats_meta's repeats dropped and counted: %r" % dup)
        ck.eq(dup.get("first"), "S0.n", "with the first")
        ck.eq(a["instances"], {}, "B lies deeper than the walk goes")
        ck.eq(a["truncated"], True, "the answer says it was cut")
        ck.check(any("deeper than 16" in n for n in a["notes"]), "and why: %r" % a["notes"])
        ck.check(any("repeats 140 field names" in n for n in a["notes"]),
                 "a note on the repeats: %r" % a["notes"])
        top = read_json(c, "stats://scheduler/raw")
        ck.eq(list(top["meta"]["structs"]["S3"]["fields"]), ["n"], "one field n per struct")


@ck.case
def test_dup_fields_wide():
    """One field repeated 1000 times, a 12 KB stats reply: the instance was
    copied once per repeat (peak RSS 961 MB, 473 MB kept)."""
    with served("--shape", "dup-wide") as c:
        a = hostile_read(c, 2000, "stats://scheduler/raw/B", "1000x, 12 KB reply")
        if a is None:
            return
        ck.eq(list(a["instances"]), ["b"], "one instance, once")
        ck.eq(len(a["instances"]["b"]["v"]), 6000, "whole")
        ck.eq(a["instances_found"], 1, "found once")
        ck.eq(a["meta"]["duplicates_ignored"]["fields"], 999, "999 repeats dropped")
        a = hostile_read(c, 3000, "stats://scheduler/raw", "1000x, top")
        if a is not None:
            ck.eq(list(a["meta"]["structs"]["T"]["fields"]), ["b"], "meta lists b once")


@ck.case
def test_reply_values():
    """A reply of 250000 values (3 MB, under max_reply_bytes) is refused before
    cJSON builds ~80 bytes for each: 4 MB of numbers cost 330 MB and seconds."""
    with served("--shape", "many-doms") as c:
        a = hostile_read(c, 4000, "stats://scheduler/raw", "250000 values")
        if a is not None:
            ck.eq(a["available"], False, "a reply of 250000 values is refused")
            ck.check("more than 100000 JSON values" in a["reason"], "why: %r" % a["reason"])
            ck.check("max_reply_values" in a.get("hint", ""), "and what to raise")


@ck.case
def test_walk_budgets():
    """The walk keeps at most 1000 instances and looks at most at 200000
    values, and the answer says so."""
    with served("--shape", "wide") as c:
        a = read_json(c, "stats://scheduler/raw/DomainStats")
        ck.eq(a.get("instances_found"), 3000, "all 3000 instances counted")
        ck.eq(a["truncated"], True, "cut")
        ck.check(any("2000 instances past the first 1000" in n for n in a["notes"]),
                 "why: %r" % a["notes"])
    with served("--shape", "many-doms",
                extra_conf="read_timeout_ms = 5000\nmax_reply_values = 1000000\n") as c:
        a = read_json(c, "stats://scheduler/raw/DomainStats", timeout=20)
        ck.eq(a["available"], True, "allowed by max_reply_values")
        ck.check(0 < a["instances_found"] < 250000, "the walk stopped early: %r found" %
                 a["instances_found"])
        ck.check(any("stopped after looking at 200000 values" in n for n in a["notes"]),
                 "and says why: %r" % a["notes"])


@ck.case
def test_invalid_utf8():
    """One byte that is not UTF-8 in a string dropped the whole stats member,
    with truncated false."""
    with served("--shape", "badutf8") as c:
        a = read_json(c, "stats://scheduler/raw")
        st = a.get("stats") or {}
        ck.eq(st.get("name"), "test cluster", "the rest of the stats kept")
        ck.eq(st.get("doms_dict", {}).get("1", {}).get("name"), "dom\ufffd1",
              "the bad byte replaced by U+FFFD")
        ck.eq(st.get("doms_dict", {}).get("0", {}).get("name"), "domain 0", "its neighbour kept")
        ck.eq(a.get("invalid_utf8"), {"strings": 1, "first_path": "doms_dict.1.name",
                                      "replaced_with": "U+FFFD"}, "what was replaced, and where")
        ck.check(any("not UTF-8" in n and "doms_dict.1.name" in n for n in a["notes"]),
                 "and a note: %r" % a["notes"])
        d = read_json(c, "stats://scheduler/raw/DomainStats")
        ck.eq(d["instances"].get("doms_dict.1", {}).get("name"), "dom\ufffd1",
              "picked instances too")


@ck.case
def test_long_paths_not_merged():
    """Sampled paths were cut at 255 characters: two fields whose paths differ
    only after that became one series."""
    with served("--shape", "longpaths") as c:
        r = c.call_tool("sample_scheduler_stats", {"duration_s": 1, "interval_ms": 250},
                        timeout=20)
        sc = r["result"]["structuredContent"]
        rows = {x["path"]: x for x in sc["counters"] + sc["gauges"]}
        paths = list(rows) + list(sc["constant"])
        k = "doms_dict." + "k" * 299
        for p in (k + "A.events", k + "B.events", k + "A.pressure", k + "B.pressure"):
            ck.check(p in paths, "full path kept: ...%s" % p[-12:])
        ck.eq(len([p for p in paths if p.startswith(k)]), 4, "four series, none merged")
        ck.check(k + "A.events" in [x["path"] for x in sc["counters"]],
                 "a's events a counter of its own")
        ck.check(not any(p.startswith("doms_dict.LLL") for p in paths), "the 1500 one left out")
        sk = sc.get("paths_skipped") or {}
        ck.eq(sk.get("too_long"), 1, "counted: %r" % sk)
        ck.check((sk.get("too_long_example") or "").startswith("doms_dict.LLLL") and
                 "(1510 bytes)" in sk["too_long_example"], "with an example: %r" %
                 sk.get("too_long_example"))
        ck.eq(sk.get("repeated"), 1, "dot.ted twice: the second left out")
        ck.eq(sk.get("repeated_example"), "dot.ted", "named")
        ck.eq(sc["constant"].get("dot.ted"), 1, "the first value kept, not merged")
        ck.eq(sc["truncated"], True, "the answer says something was left out")
        ck.check(any("longer than 1023 bytes" in n for n in sc["notes"]), "why: %r" % sc["notes"])
        log = c.stderr_text()
        ck.check("longer than 1023 bytes" in log and "doms_dict.LLLL" in log,
                 "and the log says so")


if __name__ == "__main__":
    try:
        ck.main()
    finally:
        sxtest.cleanup()
