#!/usr/bin/env python3
"""Streamable HTTP: schedmcp serve against @modelcontextprotocol/server-everything
(its streamableHttp mode), measured in the same run with the same client
(issue 14). Prints ratios; a benchmark, not a test (exit 0 either way).

- ping p50/p99: sequential POST pings on one keep-alive connection;
- pipelined requests/s: C connections, each with D pings written ahead
  (HTTP/1.1 pipelining) before their answers are read;
- 1000 idle connections: the server's RSS before and after they connect,
  each having made one request (keep-alive, held open);
- GET /metrics of schedmcp's default catalog: size and time.

Usage: http_bench.py --daemon build/core/schedmcp --plugin-dir DIR
       [--peer-node NODE --peer-js .../server-everything/dist/index.js]
"""
import argparse
import http.client
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "lib"))
from smcp_test import file_text, free_port, rss_kb, stop_process  # noqa: E402


class Target:
    def __init__(self, name, port, proc, token=None):
        self.name, self.port, self.proc, self.token = name, port, proc, token
        self.sid = None
        self.headers = {"Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream"}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def wait_up(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def post(self, c, body):
        h = dict(self.headers)
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
            h["MCP-Protocol-Version"] = "2025-11-25"
        c.request("POST", "/mcp", body=json.dumps(body), headers=h)
        r = c.getresponse()
        data = r.read()
        return r, data

    def initialize(self):
        self.sid = None
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        r, _ = self.post(c, {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                             "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                        "clientInfo": {"name": "bench", "version": "1"}}})
        self.sid = r.getheader("Mcp-Session-Id")
        self.post(c, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        return c

    def request_bytes(self, i):
        body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}).encode()
        h = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        return (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{h}"
                f"Mcp-Session-Id: {self.sid}\r\nMCP-Protocol-Version: 2025-11-25\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def ping_latency(t, n):
    c = t.initialize()
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        r, data = t.post(c, {"jsonrpc": "2.0", "id": i + 1, "method": "ping"})
        lat.append((time.perf_counter() - t0) * 1e6)
        if r.status != 200 or b'"result"' not in data:
            raise RuntimeError(f"{t.name}: ping answered {r.status} {data[:100]!r}")
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


def pipelined(t, conns, depth, seconds):
    t.initialize()
    socks = [socket.create_connection(("127.0.0.1", t.port)) for _ in range(conns)]
    reqs = b"".join(t.request_bytes(i) for i in range(depth))
    marker = b'"result"'
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for s in socks:
            s.sendall(reqs)
        for s in socks:
            got, buf = 0, b""
            while got < depth:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise RuntimeError(f"{t.name}: connection closed while pipelining: {buf[:300]!r}")
                buf += chunk
                got = buf.count(marker)
            done += depth
    el = time.perf_counter() - t0
    for s in socks:
        s.close()
    return done / el


def scrape(t, n=20):
    """GET /metrics: median time and size (the default catalog)."""
    c = http.client.HTTPConnection("127.0.0.1", t.port, timeout=10)
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", "/metrics", headers={"Authorization": "Bearer " + t.token})
        r = c.getresponse()
        size = len(r.read())
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times), size


def idle(t, n):
    before = rss_kb(t.proc.pid)
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", t.port))
        s.sendall(t.request_bytes(100000 + i))
        socks.append(s)
    for s in socks:
        buf = b""
        while b'"result"' not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"{t.name}: an idle connection was closed")
            buf += chunk
    time.sleep(1)
    after = rss_kb(t.proc.pid)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += s.recv(1) != b""
        except BlockingIOError:
            alive += 1
        s.close()
    return before, after, alive


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--peer-node")
    ap.add_argument("--peer-js")
    ap.add_argument("--pings", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--depth", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--idle", type=int, default=1000)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    work = tempfile.mkdtemp(prefix="smcp-http-bench-")
    os.chmod(work, 0o755)
    token = "tk-" + secrets.token_hex(16)
    tf = os.path.join(work, "token")
    with open(tf, "w") as f:
        f.write(token + "\n")
    os.chmod(tf, 0o600)
    port = free_port()
    targets = []
    log = open(os.path.join(work, "schedmcp.log"), "w")
    smcp = subprocess.Popen(
        [a.daemon, "serve", "--config", "/dev/null", "--socket", f"{work}/run/mcp.sock",
         "--state-dir", f"{work}/state", "--plugin-dir", a.plugin_dir, "--log-level", os.environ.get("SMCP_BENCH_LOG", "warning"),
         "--set", f"core.http_port={port}", "--set", f"core.http_token_file={tf}",
         "--set", "core.http_max_connections=4096",
         "--set", "core.http_max_connections_per_address=4096",
         "--set", "core.http_request_timeout_s=600"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    targets.append(Target("schedmcp", port, smcp, token))
    peer = None
    if a.peer_node and a.peer_js:
        pport = free_port()
        peer = subprocess.Popen([a.peer_node, a.peer_js, "streamableHttp"],
                                env=dict(os.environ, PORT=str(pport)),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        targets.append(Target("server-everything", pport, peer))
    try:
        res = {}
        for t in targets:
            t.wait_up()
            time.sleep(1)  # plugins up (schedmcp listens before)
            p50, p99 = ping_latency(t, a.pings)
            rps = pipelined(t, a.conns, a.depth, a.seconds)
            before, after, alive = idle(t, a.idle)
            res[t.name] = (p50, p99, rps, before, after, alive)
            if t.token:
                med, worst, size = scrape(t)
                print(f"{t.name:18} GET /metrics: {size / 1024:.0f} KiB, median {med:.2f} ms, "
                      f"max {worst:.2f} ms (20 scrapes)", flush=True)
            print(f"{t.name:18} ping p50 {p50:7.0f} us  p99 {p99:7.0f} us  "
                  f"pipelined {rps:8.0f} req/s ({a.conns} conns x {a.depth} deep)  "
                  f"{a.idle} idle conns: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB "
                  f"({(after - before) / a.idle:.1f} KiB each, {alive} still open)", flush=True)
        if len(res) == 2:
            s, e = res["schedmcp"], res["server-everything"]
            print(f"ratios (server-everything / schedmcp): ping p50 {e[0] / s[0]:.1f}x, "
                  f"p99 {e[1] / s[1]:.1f}x; req/s schedmcp / server-everything "
                  f"{s[2] / e[2]:.1f}x (goal >= 5x)")
        else:
            print("server-everything missing: schedmcp alone")
    except Exception:
        print("schedmcp's log:\n" + file_text(log)[-3000:], file=sys.stderr)
        raise
    finally:
        for p in (smcp, peer):
            if p:
                stop_process(p)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
