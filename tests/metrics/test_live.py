#!/usr/bin/env python3
"""A watch on real run-queue latency (root, BPF): it fires while a CPU hog
competes with a latency-sensitive pinger on one CPU, and stays quiet while the
pinger runs alone.

Needs the sched_latency plugin publishing sched_runq_latency_ns and
sched_proc_runq_latency_ns (docs/metrics.md); skips (77) otherwise.

Two watches: the pinger's own latency (sched_proc_runq_latency_ns, labels
pid=<pinger>, p90 > 1ms) is the assertion that cannot be disturbed by other
load on the machine; the machine-wide one (sched_runq_latency_ns p99 above
four times the quiet baseline) is asserted when the quiet baseline is clean.

Why p90 and a nice -20 hog: on a shared 2-CPU VM the pinger's p99 alone
reaches 1-4 ms for seconds at a time (other tenants), while EEVDF lets a
waking pinger preempt an equal-weight hog at once (p90 stays ~15 us, only
p99 rises to ~3 ms). A nice -20 hog has ~87 times the pinger's weight, so
the pinger waits out its slices: p90 2.8-6 ms, against 5-150 us alone.

sysstat and scheduler run too: the breach's context snapshot must name the
scheduler in charge and the CPU load beside the busiest processes.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test as T  # noqa: E402
from smcp_test import Checker, Daemon, Skip  # noqa: E402

C = Checker("metrics/live-watch")

PINGER = r"""
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    time.sleep(0.0005)   # ~1000+ wakeups per second, each waits for the CPU
"""
HOG = r"""
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
os.nice(-20)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    pass
"""


def kinds(d, wid, cursor=0):
    st = d.structured("watch_status", {"cursor": cursor, "limit": 50})
    return [e["kind"] for e in st["events"] if e["watch_id"] == wid], st


@C.case
def test_watch_fires_under_competition():
    if not T.is_root():
        raise Skip("needs root for BPF")
    with Daemon(args=["--enable", "sched_latency,sysstat,scheduler"],
                plugin_dir_=T.build_plugins("sched_latency")) as d:
        time.sleep(3)
        names = {m["name"] for m in d.structured("query_history")["metrics"]}
        if not {"sched_runq_latency_ns", "sched_proc_runq_latency_ns"} <= names:
            raise Skip("sched_latency does not publish the latency metrics (not loaded, no "
                       f"BPF, or not yet): {sorted(names)}")
        cpu = max(os.sched_getaffinity(0))
        pinger = subprocess.Popen([sys.executable, "-c", PINGER, str(cpu), "60"])
        try:
            time.sleep(12)
            base = d.structured("query_history", {"metric": "sched_runq_latency_ns",
                                                  "group_by": "all", "start": "-10s"})
            p99 = base["series"][0]["summary"]["p99"] or 0
            thr_us = max(4 * p99 / 1000, 1000)
            wp = d.structured("watch_create", {
                "metric": "sched_proc_runq_latency_ns", "labels": f"pid={pinger.pid}",
                "condition": "p90 > 1ms", "for_secs": 3, "window_secs": 3,
                "min_samples": 50})["watch"][0]["id"]
            ws = d.structured("watch_create", {
                "metric": "sched_runq_latency_ns", "condition": f"p99 > {thr_us:.0f}us",
                "for_secs": 3, "window_secs": 3})["watch"][0]["id"]
            time.sleep(10)
            C.eq(kinds(d, wp)[0], [], "the pinger alone: its watch stays quiet")
            quiet_sys = kinds(d, ws)[0]
            hog = subprocess.Popen([sys.executable, "-c", HOG, str(cpu), "15"])
            time.sleep(15)
            hog.wait()
            ev, st = kinds(d, wp)
            C.eq(ev[:1], ["breach"], f"the pinger's watch fires under the hog: {st['watches']}")
            ctx = next((e["context"] for e in st["events"]
                        if e["watch_id"] == wp and e["kind"] == "breach"), {})
            C.check("sched_proc_runq_latency_ns" in ctx, f"context has processes: {ctx}")
            C.check(str(pinger.pid) in str(ctx.get("sched_proc_runq_latency_ns")),
                    f"the pinger is among them: {ctx}")
            for m in ("scheduler_info", "cpu_busy_pct", "loadavg_1m"):
                C.check(m in ctx, f"context has {m}: {ctx}")
            hog_sys = d.structured("query_history", {"metric": "sched_runq_latency_ns",
                                                     "group_by": "all", "start": "-12s"})
            hog_p99 = hog_sys["series"][0]["summary"]["p99"] if hog_sys["series"] else None
            # Asserted only on a clean baseline: when other tenants already push the
            # machine's p99 near a millisecond, 4x that is beyond the hog's slices.
            if not quiet_sys and p99 < 250000:
                C.check("breach" in kinds(d, ws)[0],
                        f"the machine-wide watch (p99 > {thr_us:.0f}us; quiet p99 {p99} ns) "
                        f"fires too: p99 under the hog {hog_p99} ns")
            else:
                print(f"machine-wide watch not asserted: quiet p99 {p99} ns, "
                      f"quiet events {quiet_sys}")
            time.sleep(10)
            C.eq(kinds(d, wp)[0], ["breach", "clear"], "and clears once the hog is gone")
        finally:
            pinger.kill()
            pinger.wait()


if __name__ == "__main__":
    C.main()
