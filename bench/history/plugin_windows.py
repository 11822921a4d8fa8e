#!/usr/bin/env python3
"""The cost of the sysstat and sched_latency windows: two builds side by side.

Starts one daemon of each build (a directory holding `schedmcp` and
`plugins/` with sysstat.so and sched_latency.so, root-owned 0755) with only
those two plugins, at the same time, so both see the same machine. Then:

- idle CPU: the run time of each daemon's threads over --idle seconds
  (/proc/PID/task/*/schedstat),
  nobody talking to it;
- memory: VmRSS at the end of the idle period;
- answer time: median and p90 of --reads reads of every stats:// resource
  the two plugins serve, the builds taking turns read by read.

Prints each figure for both builds and the ratio new / old. Root (BPF).

  bench/history/plugin_windows.py OLD_DIR NEW_DIR [--idle 60] [--reads 50]
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
import mcp_client  # noqa: E402

URIS = ["stats://system/cpu", "stats://system/memory", "stats://system/network",
        "stats://aggregated/cpu", "stats://aggregated/llc", "stats://aggregated/process",
        "stats://aggregated/thread"]


def cpu_s(pid):
    """CPU time of every thread, in ns precision (schedstat), as seconds."""
    ns = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            ns += int(f.read().split()[0])
    return ns / 1e9


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(build):
    os.environ["SMCP_DAEMON"] = os.path.join(build, "schedmcp")
    return mcp_client.Client(["--enable", "sysstat,sched_latency"],
                             plugin_dir_=os.path.join(build, "plugins"),
                             stderr=open(os.devnull, "w"))


def ratio(new, old):
    return "%.2f" % (new / old) if old else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--reads", type=int, default=50)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (sched_latency loads BPF)")
        return 77
    names = ("old", "new")
    ds = [start(a.old), start(a.new)]
    try:
        time.sleep(3)  # past start-up
        c0 = [cpu_s(d.proc.pid) for d in ds]
        time.sleep(a.idle)
        idle = [(cpu_s(d.proc.pid) - c0[i]) / a.idle * 100 for i, d in enumerate(ds)]
        rss = [rss_kb(d.proc.pid) for d in ds]
        print("idle CPU over %d s (%% of one CPU): old %.3f new %.3f ratio %s" %
              (a.idle, idle[0], idle[1], ratio(idle[1], idle[0])))
        print("RSS (kB): old %d new %d ratio %s" % (rss[0], rss[1], ratio(rss[1], rss[0])))
        for uri in URIS:
            times = [[], []]
            for _ in range(a.reads):
                for i, d in enumerate(ds):
                    t = time.perf_counter()
                    r = d.read(uri)
                    times[i].append((time.perf_counter() - t) * 1000)
                    if "error" in r:
                        raise RuntimeError("%s %s: %r" % (names[i], uri, r["error"]))
            med = [statistics.median(t) for t in times]
            p90 = [sorted(t)[int(len(t) * 0.9)] for t in times]
            print("%-28s median ms old %.3f new %.3f ratio %s | p90 old %.3f new %.3f" %
                  (uri, med[0], med[1], ratio(med[1], med[0]), p90[0], p90[1]))
    finally:
        for d in ds:
            d.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
