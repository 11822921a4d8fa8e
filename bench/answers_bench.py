#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What an answer costs the server, against another build in the same run.

For each request kind (ping, a resources/read of each large resource, a
small tools/call, a prompts/get, and initialize) every daemon given answers
the same requests, in alternating rounds so that whatever else the machine
does falls on all of them alike:

  cpu/req    the server's own CPU per answer (schedstat of all its threads)
             over --pipeline requests written without waiting
  p50, p99   sequential round trips (--requests per kind)
  bytes      the size of one answer's result

initialize is answered once per session, so it is measured on the service
(`schedmcp serve` on a socket in a private directory): --init-sessions
sessions per round, each connect, initialize, answer, close; cpu/req is then
the service's CPU per session.

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
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mcp_bench as mb  # noqa: E402 - the same client and measures


def own_flags(daemon):
    """The flags that keep a build to its own plugins, in-process, where it
    has them: a build from before the service and the plugin search path
    (`--standalone`, `--no-default-plugins`) is always both."""
    out = subprocess.run([daemon, "--help"], capture_output=True, text=True).stdout
    return [f for f in ("--standalone", "--no-default-plugins") if f in out]


def plugins_of(daemon, a):
    """--plugin-dir when given, else the plugins built beside the daemon (a
    build's own: an older host refuses a newer plugin's ABI)."""
    return a.plugin_dir or os.path.join(os.path.dirname(os.path.dirname(daemon)), "plugins")


def spec(daemon, plugin_dir, name):
    return {"name": name, "key": name, "kind": "schedmcp", "label": name,
            "cmd": [daemon] + own_flags(daemon) + ["--log-level", "warning",
                                                   "--plugin-dir", plugin_dir]}


def kinds_of(a):
    """(label, method, params) of every request kind measured."""
    out = [("ping", "ping", None)]
    out += [(f"read {u}", "resources/read", {"uri": u}) for u in a.uri]
    out.append((f"call {a.tool}", "tools/call", {"name": a.tool, "arguments": json.loads(a.args)}))
    out.append((f"prompt {a.prompt}", "prompts/get",
                {"name": a.prompt, "arguments": json.loads(a.prompt_args)}))
    return out


class Service:
    """`schedmcp serve` on a socket of its own: one initialize per session."""

    def __init__(self, daemon, plugin_dir):
        # the service wants a root-owned directory nobody else can write
        self.dir = tempfile.mkdtemp(prefix="answers-bench-")
        self.path = os.path.join(self.dir, "mcp.sock")
        self.errf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([daemon, "serve", "--socket", self.path,
                                      "--no-default-plugins", "--log-level", "warning",
                                      "--plugin-dir", plugin_dir],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.errf)
        self.pid = self.proc.pid
        for _ in range(200):
            if os.path.exists(self.path):
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not os.path.exists(self.path):
            self.errf.seek(0)
            raise RuntimeError(f"{daemon} serve: no socket: {self.errf.read()[-400:]}")
        self.line = mb.req(1, "initialize", mb.INIT_PARAMS)
        self.bytes = 0

    cpu_ns = mb.Server.cpu_ns

    def session(self):
        """connect, initialize, read the answer, close; the round trip in ns"""
        t0 = mb.now_ns()
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.connect(self.path)
            c.sendall(self.line)
            buf = b""
            while not buf.endswith(b"\n"):
                d = c.recv(65536)
                if not d:
                    raise RuntimeError("service closed the session before answering")
                buf += d
        finally:
            c.close()
        t = mb.now_ns() - t0
        m = json.loads(buf)
        if "result" not in m:
            raise RuntimeError(f"initialize: {buf[:300]!r}")
        self.bytes = len(json.dumps(m["result"], separators=(",", ":")))
        return t

    def close(self):
        mb.stop(self.proc, 5)
        self.errf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(a, daemons):
    servers, services = {}, {}
    kinds = kinds_of(a)
    labels = [k[0] for k in kinds] + (["initialize"] if a.init_sessions else [])
    out = {name: {k: {"cpu": [], "lat": []} for k in labels} for name, _ in daemons}
    try:
        for name, d in daemons:
            s = mb.Server(spec(d, plugins_of(d, a), name))
            servers[name] = s
            s.initialize()
            for k, m, p in kinds:
                r = s.call(m, p)
                out[name][k]["bytes"] = len(json.dumps(r, separators=(",", ":")))
                mb.latency_samples(s, m, p, a.warmup)
            if a.init_sessions:
                services[name] = Service(d, plugins_of(d, a))
                for _ in range(a.init_sessions):
                    services[name].session()
                out[name]["initialize"]["bytes"] = services[name].bytes
        for _ in range(a.rounds):
            for k, m, p in kinds:
                for name, _ in daemons:
                    s = servers[name]
                    c0 = s.cpu_ns()
                    mb.pipeline_rps(s, m, p, a.pipeline)
                    out[name][k]["cpu"].append((s.cpu_ns() - c0) / 1e3 / a.pipeline)
                    out[name][k]["lat"] += mb.latency_samples(s, m, p, a.requests)
            for name in services:
                v = services[name]
                c0 = v.cpu_ns()
                lat = [v.session() for _ in range(a.init_sessions)]
                out[name]["initialize"]["cpu"].append((v.cpu_ns() - c0) / 1e3 / a.init_sessions)
                out[name]["initialize"]["lat"] += lat
    finally:
        for s in servers.values():
            s.close()
        for v in services.values():
            v.close()
    return out, labels


HEAP = re.compile(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated")


def heap_per_kind(a, daemon):
    """Allocations per request of each kind: runs with n of one kind and
    2n of it (n of the others), difference over n."""
    res = {}
    n = a.valgrind_requests
    labels = [k[0] for k in kinds_of(a)]
    base = heap_run_kinds(a, daemon, {k: n for k in labels})
    for k in labels:
        counts = {x: n for x in labels}
        counts[k] = 2 * n
        more = heap_run_kinds(a, daemon, counts)
        res[k] = ((more[0] - base[0]) / n, (more[1] - base[1]) / n)
    return res


def heap_run_kinds(a, daemon, counts):
    lines = [mb.req(1, "initialize", mb.INIT_PARAMS), mb.INITIALIZED]
    rid = 10
    for k, m, p in kinds_of(a):
        for _ in range(counts[k]):
            lines.append(mb.req(rid, m, p))
            rid += 1
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"".join(lines))
        f.flush()
        with open(f.name, "rb") as stdin:
            r = subprocess.run(["valgrind", "--tool=memcheck", "--leak-check=no", daemon,
                                "--standalone", "--no-default-plugins", "--log-level",
                                "warning", "--plugin-dir", a.plugin_dir],
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
    ap.add_argument("--plugin-dir", help="the plugins every daemon loads (default: each "
                    "build's own, beside its core/schedmcp)")
    ap.add_argument("--uri", action="append",
                    help="a large resource to read (repeat; default metrics://catalog)")
    ap.add_argument("--tool", default="poll_events", help="the small tool to call")
    ap.add_argument("--args", default='{"limit": 1}', help="its arguments (JSON)")
    ap.add_argument("--prompt", default="debug_high_latency", help="the prompt to get")
    ap.add_argument("--prompt-args", default="{}", help="its arguments (JSON)")
    ap.add_argument("--init-sessions", type=int, default=100,
                    help="initialize sessions on the service per round (0: not measured)")
    ap.add_argument("--requests", type=int, default=500, help="sequential, per round")
    ap.add_argument("--pipeline", type=int, default=2000, help="pipelined, per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--valgrind", action="store_true", help="count allocations per request")
    ap.add_argument("--valgrind-requests", type=int, default=200)
    a = ap.parse_args()
    a.uri = a.uri or ["metrics://catalog"]
    daemons = [(f"d{i}:{os.path.relpath(d)}", d) for i, d in
               enumerate(a.daemon or [os.path.join(build, "core", "schedmcp")])]
    res, labels = measure(a, daemons)
    first = daemons[0][0]
    print(f"{a.rounds} rounds of {a.pipeline} pipelined and {a.requests} sequential requests "
          f"per kind, {a.init_sessions} initialize sessions; ratio: cpu/req over {first}'s")
    print(f"{'daemon':24} {'kind':34} {'bytes':>7} {'cpu/req us':>10} {'ratio':>6} "
          f"{'p50 us':>7} {'p99 us':>7}")
    for name, _ in daemons:
        for k in labels:
            r = res[name][k]
            cpu = sorted(r["cpu"])[len(r["cpu"]) // 2]
            ref = sorted(res[first][k]["cpu"])[len(res[first][k]["cpu"]) // 2]
            lat = mb.lat_summary(r["lat"])
            print(f"{name:24} {k:34} {r['bytes']:7d} {cpu:10.2f} {cpu / ref:6.2f} "
                  f"{lat['p50_us']:7.1f} {lat['p99_us']:7.1f}")
    if a.valgrind:
        print(f"allocations per request (valgrind memcheck, {a.valgrind_requests} vs "
              f"{2 * a.valgrind_requests} requests of a kind)")
        for name, d in daemons:
            h = heap_per_kind(a, d)
            for k in h:
                print(f"{name:24} {k:34} {h[k][0]:8.1f} allocs {h[k][1]:10.0f} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
