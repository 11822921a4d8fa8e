#!/usr/bin/env python3
"""sysstat plugin through the real daemon, on the live machine: with
`stress-ng --cpu 1` running, total CPU utilisation over the 10 s window
agrees with sysstat's `mpstat` over the same 10 s within 3 points.

The two windows are aligned: mpstat starts right after one of the
plugin's 1 s samples and runs 10 s, so the plugin's 10 s window (newest
sample minus the one 10 s older) covers the same stretch to within the
launch delay. Runs in about 13 s."""
import os
import shutil
import subprocess
import sys
import time

from plugtest import Checker
from mcp_client import Client

ck = Checker()
for tool in ("stress-ng", "mpstat"):
    if not shutil.which(tool):
        print("SKIP: %s not installed (Debian packages stress-ng, sysstat)" % tool)
        sys.exit(77)


def since_start(c):
    return c.read_json("stats://system/cpu")["sampling"].get("since_start_s", 0)


def wait_tick(c, timeout=3.0):
    """Return right after the plugin took a sample."""
    start, deadline = since_start(c), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if since_start(c) != start:
            return True
        time.sleep(0.01)
    return False


env = dict(os.environ, LC_ALL="C")
stress = subprocess.Popen(["stress-ng", "--cpu", "1", "--timeout", "30", "--quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    with Client(args=["--enable", "sysstat"]) as c:
        time.sleep(1.2)  # stress-ng up to speed, and two samples taken
        ck.check(wait_tick(c), "a sample is taken every second")
        t0 = since_start(c)
        mp = subprocess.run(["mpstat", "10", "1"], capture_output=True, text=True, env=env,
                            timeout=30)
        # the sample that closes mpstat's window may come just after mpstat
        deadline = time.monotonic() + 3
        while since_start(c) < t0 + 9.5 and time.monotonic() < deadline:
            time.sleep(0.01)
        body = c.read_json("stats://system/cpu")
        w = next(x for x in body["windows"] if x["window"] == "10s")
        avg = next(l for l in mp.stdout.splitlines() if l.startswith("Average:")).split()
        hdr = next(l for l in mp.stdout.splitlines() if "%idle" in l).split()
        col = {name: i - (len(hdr) - len(avg)) for i, name in enumerate(hdr)}
        mp_busy = 100.0 - float(avg[col["%idle"]]) - float(avg[col["%iowait"]])
        print("mpstat busy %.2f%%, schedmcp 10s busy %.2f%% over %.2f s" %
              (mp_busy, w["cpu"]["busy_pct"], w["covered_s"]))
        ck.eq((w["window"], w["complete"]), ("10s", True), "10s window named and complete")
        ck.check(abs(w["covered_s"] - 10) < 0.2, "10s window covers 10 s (%.2f)" % w["covered_s"])
        ck.check(w["cpu"]["busy_pct"] >= 100.0 / os.cpu_count() - 5,
                 "stress-ng load is visible (%.1f%%)" % w["cpu"]["busy_pct"])
        ck.check(abs(w["cpu"]["busy_pct"] - mp_busy) <= 3.0,
                 "agrees with mpstat within 3 points (%.2f vs %.2f)" %
                (w["cpu"]["busy_pct"], mp_busy))
        per = body["per_cpu"].get("cpus", [])
        if per:  # up to 32 CPUs: the per-CPU split adds up to the total
            # The total is the per-CPU figures weighted by each CPU's own
            # accounted time, so it lies between the least and the most busy
            # CPU exactly. The plain mean is only near it: a busy CPU's time
            # comes from ticks and an idle one's from nanosecond idle clocks,
            # and in a VM the two drift apart by a few per cent over 10 s
            # (CI saw 5 %: mean 56.95 against 55.90 on two CPUs). The range
            # has half a point of slack: the kernel rounds the total line and
            # each CPU's line to ticks separately, and reads them moments
            # apart.
            busy = [r["busy_pct"] for r in per]
            mean, total = sum(busy) / len(busy), w["cpu"]["busy_pct"]
            ck.check(min(busy) - 0.5 <= total <= max(busy) + 0.5,
                     "total busy lies within the per-CPU range (%.2f in %.2f..%.2f)" %
                    (total, min(busy), max(busy)))
            ck.check(abs(mean - total) <= 3.0,
                     "per-CPU busy averages to the total within 3 points (%.2f vs %.2f)" %
                    (mean, total))
        ck.check(w["context_switches_per_s"] > 0, "context switches counted")
finally:
    stress.terminate()
    stress.wait(timeout=10)

sys.exit(ck.done())
