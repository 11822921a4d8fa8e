#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What an answer costs the server, against another build in the same run.

For each request kind (ping, a resources/read of a large resource, a small
tools/call) every daemon given answers the same requests, in alternating
rounds so that whatever else the machine does falls on all of them alike:

  cpu/req    the server's own CPU per answer (schedstat of all its threads)
             over --pipeline requests written without waiting
  p50, p99   sequential round trips (--requests per kind)
  bytes      the size of one answer

With --valgrind, each daemon also runs a fixed script of requests under
valgrind (memcheck's heap summary) twice, with N and 2N requests of each
kind: the difference over N is the allocations per request, free of
start-up and shutdown.

Usage: answers_bench.py --daemon build/core/schedmcp [--daemon old/schedmcp]
       [--plugin-dir DIR] [--uri URI] [--tool NAME --args JSON]
Typical: the new build and `main`'s, to show a change in one run. Exits 0
(a benchmark, not a test).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mcp_bench as mb  # noqa: E402 - the same client and measures


def spec(daemon, plugin_dir, name):
    return {"name": name, "key": name, "kind": "schedmcp", "label": name,
            "cmd": [daemon, "--log-level", "warning", "--plugin-dir", plugin_dir]}


KINDS = ("ping", "read", "call")


def request_of(kind, a):
    if kind == "ping":
        return "ping", None
    if kind == "read":
        return "resources/read", {"uri": a.uri}
    return "tools/call", {"name": a.tool, "arguments": json.loads(a.args)}


def measure(a, daemons):
    servers = {}
    out = {name: {k: {"cpu": [], "lat": []} for k in KINDS} for name, _ in daemons}
    try:
        for name, d in daemons:
            s = mb.Server(spec(d, a.plugin_dir, name))
            servers[name] = s
            s.initialize()
            for k in KINDS:
                m, p = request_of(k, a)
                r = s.call(m, p)
                out[name][k]["bytes"] = len(json.dumps(r, separators=(",", ":")))
                mb.latency_samples(s, m, p, a.warmup)
        for _ in range(a.rounds):
            for k in KINDS:
                m, p = request_of(k, a)
                for name, _ in daemons:
                    s = servers[name]
                    c0 = s.cpu_ns()
                    mb.pipeline_rps(s, m, p, a.pipeline)
                    out[name][k]["cpu"].append((s.cpu_ns() - c0) / 1e3 / a.pipeline)
                    out[name][k]["lat"] += mb.latency_samples(s, m, p, a.requests)
    finally:
        for s in servers.values():
            s.close()
    return out


HEAP = re.compile(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated")


def heap_per_kind(a, daemon):
    """Allocations per request of each kind: runs with n of one kind and
    2n of it (n of the others), difference over n."""
    res = {}
    n = a.valgrind_requests
    base = heap_run_kinds(a, daemon, {k: n for k in KINDS})
    for k in KINDS:
        counts = {x: n for x in KINDS}
        counts[k] = 2 * n
        more = heap_run_kinds(a, daemon, counts)
        res[k] = ((more[0] - base[0]) / n, (more[1] - base[1]) / n)
    return res


def heap_run_kinds(a, daemon, counts):
    lines = [mb.req(1, "initialize", mb.INIT_PARAMS), mb.INITIALIZED]
    rid = 10
    for k in KINDS:
        m, p = request_of(k, a)
        for _ in range(counts[k]):
            lines.append(mb.req(rid, m, p))
            rid += 1
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"".join(lines))
        f.flush()
        with open(f.name, "rb") as stdin:
            r = subprocess.run(["valgrind", "--tool=memcheck", "--leak-check=no", daemon,
                                "--log-level", "warning", "--plugin-dir", a.plugin_dir],
                               stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=900)
    m = HEAP.search(r.stderr.decode(errors="replace"))
    answers = r.stdout.count(b"\n")
    if not m or answers < 1 + sum(counts.values()):
        raise RuntimeError(f"{daemon}: {answers} answers; {r.stderr.decode()[-500:]}")
    return int(m.group(1).replace(",", "")), int(m.group(3).replace(",", ""))


def main():
    root = os.path.dirname(HERE)
    build = os.environ.get("SMCP_BUILD_DIR", os.path.join(root, "build"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--daemon", action="append", help="a schedmcp binary (repeat to compare)")
    ap.add_argument("--plugin-dir", default=os.path.join(build, "plugins"))
    ap.add_argument("--uri", default="metrics://catalog", help="the large resource to read")
    ap.add_argument("--tool", default="poll_events", help="the small tool to call")
    ap.add_argument("--args", default='{"limit": 1}', help="its arguments (JSON)")
    ap.add_argument("--requests", type=int, default=500, help="sequential, per round")
    ap.add_argument("--pipeline", type=int, default=2000, help="pipelined, per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--valgrind", action="store_true", help="count allocations per request")
    ap.add_argument("--valgrind-requests", type=int, default=200)
    a = ap.parse_args()
    daemons = [(f"d{i}:{os.path.relpath(d)}", d) for i, d in
               enumerate(a.daemon or [os.path.join(build, "core", "schedmcp")])]
    res = measure(a, daemons)
    first = daemons[0][0]
    print(f"uri {a.uri}, tool {a.tool} {a.args}; {a.rounds} rounds of {a.pipeline} pipelined "
          f"and {a.requests} sequential requests per kind")
    print(f"{'daemon':40} {'kind':5} {'bytes':>7} {'cpu/req us':>10} {'ratio':>6} "
          f"{'p50 us':>7} {'p99 us':>7}")
    for name, _ in daemons:
        for k in KINDS:
            r = res[name][k]
            cpu = sorted(r["cpu"])[len(r["cpu"]) // 2]
            ref = sorted(res[first][k]["cpu"])[len(res[first][k]["cpu"]) // 2]
            lat = mb.lat_summary(r["lat"])
            print(f"{name:40} {k:5} {r['bytes']:7d} {cpu:10.2f} {cpu / ref:6.2f} "
                  f"{lat['p50_us']:7.1f} {lat['p99_us']:7.1f}")
    if a.valgrind:
        print(f"allocations per request (valgrind memcheck, {a.valgrind_requests} vs "
              f"{2 * a.valgrind_requests} requests of a kind)")
        for name, d in daemons:
            h = heap_per_kind(a, d)
            for k in KINDS:
                print(f"{name:40} {k:5} {h[k][0]:8.1f} allocs {h[k][1]:10.0f} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
