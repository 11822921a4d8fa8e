#!/usr/bin/env python3
"""GET /metrics scraped by a real Prometheus (Debian's `prometheus`, issue 14).

Two services (the synth metric source) on two loopback ports, each with
its own bearer token given to Prometheus as a credentials file. Checked:

- both targets up (up == 1), no scrape error, every family of the catalog
  (query_history without a metric) exposed with HELP and TYPE;
- the format: promtool parses it (it may still lint the catalog's names,
  which keep their units as written, e.g. _ns),
  OpenMetrics ends with "# EOF", label values are escaped;
- histogram_quantile(0.99, sum by (le) (rate(synth_latency_ns_bucket[1m])))
  agrees with query_history's p99 over the same minute, within one bucket;
- /metrics without a token: 401 (http_metrics_auth = token is the default);
- with fleet.so: the fleet plugin's four tools against that Prometheus (the
  two services are the fleet), a Prometheus refusing or not answering (a
  clear error within timeout_ms, the loop free meanwhile), and no url
  (disabled with the reason, no tools).

argv: synth.so. Skips (77) without the prometheus package.
"""
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (Checker, Daemon, daemon_path, file_text, free_port,  # noqa: E402
                       plugin_dir, stop_process, wait_log)

T = Checker("prometheus")
SYNTH = next((a for a in sys.argv[1:] if a.endswith("synth.so")), None)
FLEET = next((a for a in sys.argv[1:] if a.endswith("fleet.so")), None)
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
BOUNDS = [1000.0 * (1 << i) for i in range(16)]  # synth_latency_ns, then +Inf


class Service:
    def __init__(self, work, name):
        self.token = "tk-" + secrets.token_hex(16)
        self.port = free_port()
        self.tokfile = os.path.join(work, name + ".token")
        with open(self.tokfile, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.tokfile, 0o600)
        self.err = open(os.path.join(work, name + ".log"), "w+")
        self.proc = subprocess.Popen(
            [daemon_path(), "serve", "--config", "/dev/null",
             "--socket", os.path.join(work, name, "mcp.sock"),
             "--state-dir", os.path.join(work, name, "state"),
             "--plugin-dir", plugin_dir([SYNTH]), "--no-default-plugins", "--log-level", "info",
             "--set", f"core.http_port={self.port}",
             "--set", f"core.http_token_file={self.tokfile}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
        wait_log(self.proc, self.log, "serving MCP over HTTP")
        self.sid = None
        self.next_id = 1
        r = self.rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "prom-test", "version": "1"}})
        T.check("result" in r, "initialize")

    def log(self):
        return file_text(self.err)

    def get(self, path, token=True, accept=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {}
        if token:
            h["Authorization"] = "Bearer " + self.token
        if accept:
            h["Accept"] = accept
        c.request("GET", path, headers=h)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()

    def rpc(self, method, params):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "Authorization": "Bearer " + self.token}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.next_id += 1
        c.request("POST", "/mcp", body=json.dumps(body), headers=h)
        r = c.getresponse()
        self.sid = self.sid or r.getheader("Mcp-Session-Id")
        text = r.read().decode()
        if r.getheader("Content-Type") == "text/event-stream":
            msgs = [json.loads(ln[6:]) for ln in text.splitlines()
                    if ln.startswith("data: ") and ln[6:].strip()]
            return next(m for m in msgs if m.get("id") == body["id"])
        return json.loads(text)

    def tool(self, name, args):
        r = self.rpc("tools/call", {"name": name, "arguments": args})["result"]
        if r.get("isError"):
            raise AssertionError(f"{name}({args}) failed: {r['content'][0]['text']}")
        return r.get("structuredContent", r)

    def close(self):
        stop_process(self.proc)
        self.err.close()


def prom_query(port, q):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    return json.loads(c.getresponse().read())["data"]["result"]


def bucket_of(v):
    return next((i for i, b in enumerate(BOUNDS) if v <= b), len(BOUNDS))


def fleet_daemon(url, instance, timeout_ms=5000):
    cfg = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    cfg.write(f"[plugin fleet]\nurl = {url}\nlatency_metric = synth_latency_ns\n"
              f"instance = {instance}\ntimeout_ms = {timeout_ms}\n")
    cfg.close()
    return Daemon(["--config", cfg.name, "--standalone"], plugin_dir_=plugin_dir([FLEET]))


def fleet_call(d, name, args):
    r = d.call_tool(name, args, timeout=30).get("result", {})
    return r, r.get("structuredContent")


def fleet(svcs, pport):
    """The fleet plugin against the same Prometheus: the two services are the
    fleet; service 1 (bucket 8) is the worst, service 0 is "this host"."""
    a, b = (f"127.0.0.1:{s.port}" for s in svcs)
    # service 1 changes its scheduler; two scrapes see the new one
    svcs[1].tool("synth_set", {"sched_ops": "sched_b"})
    time.sleep(2.5)
    with fleet_daemon(f"http://127.0.0.1:{pport}", a) as d:
        r, sc = fleet_call(d, "fleet_worst_hosts", {"k": 5, "window": "1m"})
        T.check(sc and [h["instance"] for h in sc["hosts"]] == [b, a],
                f"worst hosts, worst first: {r}")
        if sc and len(sc["hosts"]) == 2:
            T.check(128000 <= sc["hosts"][0]["value"] <= 256000,
                    f"the worst host's p99 is in its bucket (128-256 us): {sc['hosts'][0]}")
        r, sc = fleet_call(d, "fleet_compare", {"window": "1m"})
        T.check(sc and sc["hosts"] == 2 and sc["this_host"]["instance"] == a
                and sc["this_host"]["rank_from_worst"] == 2,
                f"this host (the better one) against the fleet: {r}")
        r, sc = fleet_call(d, "fleet_scheduler_changes", {"window": "5m"})
        T.check(sc and [c["instance"] for c in sc["changed"]] == [b]
                and sorted(sc["changed"][0]["schedulers"]) == ["ext/sched_a", "ext/sched_b"]
                and sc["hosts_seen"] == 2, f"the host whose scheduler changed: {r}")
        r, sc = fleet_call(d, "fleet_host_history", {"instance": b, "window": "5m",
                                                     "step": "5s"})
        pts = [p["value"] for p in (sc or {}).get("points", []) if p["value"] == p["value"]]
        T.check(sc and sc["as"] == "quantile of the histogram" and pts
                and all(128000 <= v <= 256000 for v in pts), f"a host's history: {r}")
        r, sc = fleet_call(d, "fleet_host_history", {"instance": b, "metric": "synth_gauge_pct",
                                                     "window": "5m", "step": "5s"})
        T.check(sc and sc["as"] == "gauge", f"a gauge's history: {r}")
        # unescaped, this instance would make the first query valid PromQL
        # that answers vector(1)
        evil = 'x"}[60s]))) or vector(1) or (sum(rate(synth_latency_ns_bucket{instance="x'
        r, _ = fleet_call(d, "fleet_host_history", {"instance": evil, "window": "5m",
                                                    "step": "5s"})
        T.check(r.get("isError"), f"an instance that would escape its quotes finds nothing: {r}")
    # a Prometheus that is not there, or does not answer: a clear error in time
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)  # accepts, never answers
    dead = free_port()
    for url, what in ((f"http://127.0.0.1:{dead}", "refused"),
                      (f"http://127.0.0.1:{lst.getsockname()[1]}", "timeout")):
        with fleet_daemon(url, a, timeout_ms=1000) as d:
            t0 = time.monotonic()
            r, _ = fleet_call(d, "fleet_worst_hosts", {})
            took = time.monotonic() - t0
            text = json.dumps(r)
            T.check(r.get("isError") and url in text and took < 3,
                    f"Prometheus {what}: an error naming it within the timeout "
                    f"({took:.1f} s): {text[:200]}")
            t0 = time.monotonic()
            p = d.request("ping", {})
            T.check("result" in p and time.monotonic() - t0 < 0.5, "the loop stays free")
    lst.close()
    # no url: disabled, with the reason, and no tools
    with Daemon(["--config", "/dev/null", "--standalone"], plugin_dir_=plugin_dir([FLEET])) as d:
        tools = [t["name"] for t in d.request("tools/list", {})["result"]["tools"]]
        T.check(not any(t.startswith("fleet_") for t in tools), "no url: no fleet tools")
        st = d.read_json("schedmcp://plugins")
        text = json.dumps(st)
        T.check("no [plugin fleet] url" in text, "and the status says why")


def main():
    work = tempfile.mkdtemp(prefix="smcp-prom-")
    os.chmod(work, 0o755)
    svcs, prom = [], None
    try:
        svcs = [Service(work, "a"), Service(work, "b")]
        # different latencies on the two hosts: bucket 5 (16-32 us), bucket 8
        for svc, bucket in zip(svcs, (5, 8)):
            svc.tool("synth_set", {"hist_count": 20, "hist_bucket": bucket, "ncpu": 2,
                                   "counter_per_tick": 3, "sched_ops": "sched_a"})
        pport = free_port()
        cfg = os.path.join(work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                    "scrape_configs:\n")
            for i, svc in enumerate(svcs):
                f.write(f"  - job_name: smcp{i}\n    authorization:\n"
                        f"      type: Bearer\n      credentials_file: {svc.tokfile}\n"
                        f"    static_configs:\n      - targets: ['127.0.0.1:{svc.port}']\n")
        plog = open(os.path.join(work, "prometheus.log"), "w+")
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}",
                                 f"--storage.tsdb.path={work}/tsdb",
                                 f"--web.listen-address=127.0.0.1:{pport}"],
                                stdin=subprocess.DEVNULL, stdout=plog, stderr=plog)
        deadline = time.monotonic() + 30
        ups = []
        while time.monotonic() < deadline:
            try:
                ups = prom_query(pport, "up")
                samples = prom_query(pport, "count_over_time(up[1m])")
                if len(ups) == 2 and all(float(s["value"][1]) >= 6 for s in samples):
                    break
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        T.eq(sorted(float(u["value"][1]) for u in ups), [1.0, 1.0], "up == 1 for both services")
        c = http.client.HTTPConnection("127.0.0.1", pport, timeout=10)
        c.request("GET", "/api/v1/targets")
        targets = json.loads(c.getresponse().read())["data"]["activeTargets"]
        T.eq(len(targets), 2, "two targets")
        for t in targets:
            T.check(t["health"] == "up" and t["lastError"] == "",
                    f"target {t['scrapeUrl']}: {t['health']} {t['lastError']!r}")
        # every family of the catalog is there
        for svc in svcs:
            cat = svc.tool("query_history", {})
            names = [m["name"] for m in cat["metrics"]]
            T.check(len(names) >= 5, f"the catalog lists the synth metrics: {names}")
            st, ctype, text = svc.get("/metrics")
            T.check(st == 200 and ctype.startswith("text/plain; version=0.0.4"),
                    f"/metrics: {st} {ctype}")
            for n in names:
                T.check(f"# HELP {n} " in text and f"# TYPE {n} " in text,
                        f"{n}: HELP and TYPE")
            T.check('synth_latency_ns_bucket{cpu="0",le="+Inf"}' in text, "+Inf bucket")
            T.check("synth_latency_ns_count{" in text and "synth_latency_ns_sum{" in text,
                    "_count and _sum")
            st, ctype, om = svc.get("/metrics", accept="application/openmetrics-text; "
                                    "version=1.0.0, text/plain;q=0.5")
            T.check(ctype.startswith("application/openmetrics-text") and om.endswith("# EOF\n"),
                    "OpenMetrics when asked: its type, # EOF at the end")
            T.check("# TYPE synth_events counter" in om and "synth_events_total " in om,
                    "OpenMetrics counter: family without _total, sample with it")
            T.check('# UNIT synth_latency_ns ns' in om, "OpenMetrics UNIT")
            st, _, _ = svc.get("/metrics", token=False)
            T.eq(st, 401, "/metrics without the token")
            if PROMTOOL:
                p = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                                   capture_output=True, text=True)
                # its naming lint (units in names, "gauge" in synth_gauge_pct)
                # is advice; a format error is "error while linting"
                out = p.stdout + p.stderr
                T.check("error" not in out.lower(), f"promtool parses it: {out[:300]}")
        # p99: Prometheus against query_history, per service
        for i, svc in enumerate(svcs):
            pq = prom_query(pport, "histogram_quantile(0.99, sum by (le) "
                            f"(rate(synth_latency_ns_bucket{{job=\"smcp{i}\"}}[1m])))")
            q = svc.tool("query_history", {"metric": "synth_latency_ns", "group_by": "all",
                                           "start": "-1m", "stats": "p99"})
            mine = q["series"][0]["summary"]["p99"]
            theirs = float(pq[0]["value"][1]) if pq else float("nan")
            T.check(abs(bucket_of(mine) - bucket_of(theirs)) <= 1,
                    f"service {i}: Prometheus p99 {theirs:.0f} ns, query_history p99 "
                    f"{mine:.0f} ns: within one bucket")
            print(f"  service {i}: p99 Prometheus {theirs:.0f} ns, query_history {mine:.0f} ns")
            cnt = prom_query(pport, f"synth_events_total{{job=\"smcp{i}\"}}")
            T.check(cnt and float(cnt[0]["value"][1]) > 0, "the counter grows")
        if FLEET:
            fleet(svcs, pport)
        # the scrape itself, as Prometheus measured it
        for s in prom_query(pport, "scrape_duration_seconds"):
            print(f"  scrape of {s['metric']['instance']}: {float(s['value'][1]) * 1000:.2f} ms")
    finally:
        if prom:
            stop_process(prom)
        for svc in svcs:
            svc.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if not SYNTH:
        print("usage: test_prometheus.py synth.so [fleet.so]", file=sys.stderr)
        sys.exit(2)
    if not PROMETHEUS:
        print("SKIP: prometheus is not installed (apt-get install prometheus)", file=sys.stderr)
        sys.exit(77)
    if "libmicrohttpd" not in subprocess.run(["ldd", daemon_path()], capture_output=True,
                                             text=True).stdout:
        print("SKIP: this schedmcp has no HTTP transport", file=sys.stderr)
        sys.exit(77)
    T.case(main)
    sys.exit(T.run())
