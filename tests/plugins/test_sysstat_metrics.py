#!/usr/bin/env python3
"""The metrics sysstat and scheduler publish (docs/metrics.md), through the
real daemon, unprivileged, against a fake kernel (--fs-root).

A thread plays the kernel: every 50 ms it rewrites /proc/stat, pressure,
vmstat and net/dev with counters equal to a per-second rate times the wall
time elapsed, so a percentage over any interval is exact (every CPU field of
one file grows together) and a rate is exact to the 50 ms the files lag.
The daemon runs as nobody without capabilities when the test is root.

Checks: every documented metric is in the catalog with its type, unit,
labels and flags; the values match the fake kernel; a watch on cpu_busy_pct
fires and its context snapshot names the scheduler and the CPU load.
"""
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time

from plugtest import Checker, write, plugin_so
from sysstat_fake import FakeKernel
import smcp_test as T  # noqa: E402  (plugtest puts tests/lib on the path)

ck = Checker()

# per second, per CPU: user nice system idle iowait irq softirq steal (x1000
# so rounding to whole ticks is invisible); totals: busy 30, iowait 7.5,
# steal 2.5, softirq 1.25; per CPU busy 80, 20, 20, 0
CPU = [[60, 0, 20, 20, 0, 0, 0, 0], [10, 10, 0, 50, 30, 0, 0, 0],
       [0, 0, 0, 80, 0, 5, 5, 10], [0, 0, 0, 100, 0, 0, 0, 0]]
CTXT, FORKS, MAJFLT = 1234, 7, 2
PSI_CPU_SOME, PSI_MEM_SOME, PSI_MEM_FULL = 250000, 50000, 10000  # us per s
ETH0_RX, ETH0_TX = 125000, 25000

# name: (type, unit, labels, context)
SYSSTAT = {
    "cpu_busy_pct": ("gauge", "pct", [], True),
    "cpu_busy_per_cpu_pct": ("gauge", "pct", ["cpu"], False),
    "cpu_iowait_pct": ("gauge", "pct", [], False),
    "cpu_steal_pct": ("gauge", "pct", [], False),
    "cpu_softirq_pct": ("gauge", "pct", [], False),
    "loadavg_1m": ("gauge", "1", [], True),
    "procs_running": ("gauge", "1", [], True),
    "procs_blocked": ("gauge", "1", [], False),
    "context_switches_total": ("counter", "1", [], False),
    "forks_total": ("counter", "1", [], False),
    "psi_cpu_some_pct": ("gauge", "pct", [], False),
    "psi_memory_some_pct": ("gauge", "pct", [], False),
    "psi_memory_full_pct": ("gauge", "pct", [], False),
    "memory_available_bytes": ("gauge", "bytes", [], False),
    "memory_used_pct": ("gauge", "pct", [], False),
    "page_major_faults_total": ("counter", "1", [], False),
    "net_rx_bytes_total": ("counter", "bytes", ["iface"], False),
    "net_tx_bytes_total": ("counter", "bytes", ["iface"], False),
    "net_rx_drops_total": ("counter", "1", ["iface"], False),
}
SCHEDULER = {
    "scheduler_info": ("gauge", "1", ["class", "ops"], True),
    "scx_nr_rejected_total": ("counter", "1", [], False),
    "scx_events_total": ("counter", "1", ["event"], False),
}


class Player(threading.Thread):
    def __init__(self, k):
        super().__init__(daemon=True)
        self.k, self.t0, self.stop = k, time.monotonic(), threading.Event()

    def set(self, dt):
        k = self.k
        for c in range(k.ncpu):
            k.cpu[c] = [int(v * 1000 * dt) for v in CPU[c]]
        k.ctxt, k.forks = int(CTXT * dt), int(FORKS * dt)
        k.psi = {"cpu": [int(PSI_CPU_SOME * dt), 0],
                 "memory": [int(PSI_MEM_SOME * dt), int(PSI_MEM_FULL * dt)]}
        k.vm["pgmajfault"] = int(MAJFLT * dt)
        k.net["eth0"][0], k.net["eth0"][8] = int(ETH0_RX * dt), int(ETH0_TX * dt)
        k.net["eth0"][3] = int(3 * dt)
        k.running = 3
        k.write()

    def run(self):
        while not self.stop.wait(0.05):
            self.set(time.monotonic() - self.t0)


def call(d, name, args=None):
    r = T.result(d.request("tools/call", {"name": name, "arguments": args or {}}))
    assert not r.get("isError"), "%s(%s): %s" % (name, args, r["content"][0]["text"])
    return r["structuredContent"]


def summary(d, metric, labels=None, start="-3s"):
    args = {"metric": metric, "start": start, "group_by": "all"}
    if labels:
        args = {"metric": metric, "start": start, "labels": labels}
    s = call(d, "query_history", args)["series"]
    return s[0]["summary"] if s else {}


def approx(what, got, want, tol):
    ck.check(got is not None and abs(got - want) <= tol,
             "%s: got %r, want %r +- %r" % (what, got, want, tol))


tmp = tempfile.mkdtemp(prefix="smcp-sysstat-metrics-")
stack = contextlib.ExitStack()
# as root, the daemon runs as nobody with no capabilities
wrap = stack.enter_context(T.mcp_client.unprivileged())
player = None
try:
    root = os.path.join(tmp, "root")
    k = FakeKernel(root, 4)
    write(root, "proc/sys/kernel/osrelease", "6.18.0\n")
    os.chmod(tmp, 0o755)
    player = Player(k)
    player.set(0)
    player.start()
    plugins = T.plugin_dir([plugin_so("sysstat"), plugin_so("scheduler")])
    with T.Daemon(args=["--enable", "sysstat,scheduler", "--fs-root", root],
                  plugin_dir_=plugins) as d:
        if wrap:
            uid = [line for line in open("/proc/%d/status" % d.pid) if line.startswith("Uid:")]
            ck.check(uid and uid[0].split()[1] == "65534", "the daemon runs as nobody: %s" % uid)
        cat = {m["name"]: m for m in call(d, "query_history")["metrics"]}
        for plugin, want in (("sysstat", SYSSTAT), ("scheduler", SCHEDULER)):
            for name, (typ, unit, labels, context) in want.items():
                m = cat.get(name)
                ck.check(m is not None, "%s in the catalog" % name)
                if not m:
                    continue
                ck.eq((m["type"], m["unit"], m["labels"], m["plugin"]), (typ, unit, labels, plugin),
                      "%s: type, unit, labels, plugin" % name)
                ck.eq(bool(m.get("context")), context, "%s: context flag" % name)
                ck.eq(bool(m.get("top_n")), False, "%s: not top-N" % name)
        time.sleep(5.5)
        approx("cpu_busy_pct", summary(d, "cpu_busy_pct").get("mean"), 30, 0.05)
        for cpu, busy in enumerate([80, 20, 20, 0]):
            approx("cpu_busy_per_cpu_pct cpu=%d" % cpu,
                   summary(d, "cpu_busy_per_cpu_pct", "cpu=%d" % cpu).get("mean"), busy, 0.05)
        approx("cpu_iowait_pct", summary(d, "cpu_iowait_pct").get("mean"), 7.5, 0.05)
        approx("cpu_steal_pct", summary(d, "cpu_steal_pct").get("mean"), 2.5, 0.05)
        approx("cpu_softirq_pct", summary(d, "cpu_softirq_pct").get("mean"), 1.25, 0.05)
        approx("loadavg_1m", summary(d, "loadavg_1m").get("mean"), 2.5, 0.001)
        approx("procs_running", summary(d, "procs_running").get("mean"), 3, 0.001)
        approx("procs_blocked", summary(d, "procs_blocked").get("mean"), 1, 0.001)
        approx("memory_used_pct", summary(d, "memory_used_pct").get("mean"), 75, 0.01)
        approx("memory_available_bytes", summary(d, "memory_available_bytes").get("mean"),
               4000000 * 1024, 4000)
        # rates: the files lag the wall clock by up to 50 ms, the steps jitter
        approx("context_switches_total rate", summary(d, "context_switches_total").get("rate"),
               CTXT, CTXT * 0.2)
        approx("forks_total rate", summary(d, "forks_total", start="-4s").get("rate"),
               FORKS, FORKS * 0.5)
        approx("psi_cpu_some_pct", summary(d, "psi_cpu_some_pct").get("mean"), 25, 2.5)
        approx("psi_memory_some_pct", summary(d, "psi_memory_some_pct").get("mean"), 5, 1)
        approx("psi_memory_full_pct", summary(d, "psi_memory_full_pct").get("mean"), 1, 0.5)
        approx("net_rx_bytes_total eth0 rate",
               summary(d, "net_rx_bytes_total", "iface=eth0").get("rate"), ETH0_RX,
               ETH0_RX * 0.2)
        approx("net_tx_bytes_total eth0 rate",
               summary(d, "net_tx_bytes_total", "iface=eth0").get("rate"), ETH0_TX,
               ETH0_TX * 0.2)
        ck.eq(summary(d, "net_rx_bytes_total", "iface=lo").get("rate"), 0, "lo is idle")
        info = call(d, "query_history", {"metric": "scheduler_info", "start": "-3s"})["series"]
        ck.eq([(s["labels"], s["summary"].get("last")) for s in info],
              [({"class": "fair", "ops": "EEVDF"}, 1)], "scheduler_info names the fair class")
        ck.eq((cat["scx_nr_rejected_total"]["series"], cat["scx_events_total"]["series"]), (0, 0),
              "no sched_ext: its counters have no series")

        w = call(d, "watch_create", {"metric": "cpu_busy_pct", "condition": "value > 20%",
                                     "for_secs": 1, "window_secs": 2})["watch"][0]["id"]
        ev = []
        for _ in range(40):
            time.sleep(0.25)
            st = call(d, "watch_status", {"cursor": 0})
            ev = [e for e in st["events"] if e["watch_id"] == w and e["kind"] == "breach"]
            if ev:
                break
        ck.check(bool(ev), "a watch on cpu_busy_pct fires")
        ctx = ev[0].get("context", {}) if ev else {}
        for name in ("scheduler_info", "cpu_busy_pct", "loadavg_1m", "procs_running"):
            ck.check(name in ctx, "breach context has %s: %s" % (name, ctx))
        ck.check("EEVDF" in str(ctx.get("scheduler_info")),
                 "context names EEVDF: %s" % ctx.get("scheduler_info"))

    # 256 CPUs: the per-CPU split by mode stays out of the core's history
    # (8 series per CPU would take about 43 MiB of the 64 MiB budget)
    big = os.path.join(tmp, "big")
    k = FakeKernel(big, 256)
    rates = {"cpu": lambda c: [c % 100, 0, 0, 100 - c % 100, 0, 0, 0, 0]}
    k.tick(rates)
    with T.Daemon(args=["--enable", "sysstat", "--fs-root", big],
                  plugin_dir_=T.plugin_dir([plugin_so("sysstat")])) as d:
        for _ in range(30):  # the counters move, so every per-CPU series exists
            time.sleep(0.1)
            k.tick(rates)
        cat = call(d, "query_history")
        names = {m["name"]: m["series"] for m in cat["metrics"]}
        store = cat["store"]
        ck.check("cpu_seconds_per_cpu_total" not in names, "256 CPUs: no per-CPU x mode series")
        ck.eq(names.get("cpu_busy_per_cpu_pct"), 256, "256 CPUs: one busy series per CPU")
        ck.check(store["series"] < 300 and store["bytes_used"] < 8 << 20,
                 "256 CPUs: %d series, %.1f MiB of history (under 300 and 8 MiB)" %
                 (store["series"], store["bytes_used"] / 2**20))
        ck.eq(store["series_refused"], 0, "256 CPUs: no series refused")
finally:
    if player:
        player.stop.set()
        player.join()
    stack.close()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(ck.done())
