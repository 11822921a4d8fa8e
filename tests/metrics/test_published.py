#!/usr/bin/env python3
"""What sched_latency publishes (docs/metrics.md), on the live kernel (root,
BPF; skips 77 otherwise): every documented metric is in the catalog with its
type, unit, labels and flags; after a few seconds of load,
history://sched_runq_latency_ns has data with ordered, plausible
percentiles; per-CPU counters move and agree with /proc/stat (sysstat's
context_switches_total); the loaded process shows up in
sched_proc_runq_latency_ns under its pid and comm.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test as T  # noqa: E402
from smcp_test import Checker, Daemon, Skip  # noqa: E402

C = Checker("metrics/published")

# name: (type, unit, labels, top_n, context)
SCHED_LATENCY = {
    "sched_runq_latency_ns": ("histogram", "ns", ["node", "llc", "cpu"], False, False),
    "sched_proc_runq_latency_ns": ("histogram", "ns", ["pid", "comm"], True, True),
    "sched_cpu_runq_waits_total": ("counter", "1", ["cpu"], False, False),
    "sched_cpu_runq_wait_ns_total": ("counter", "ns", ["cpu"], False, False),
    "sched_cpu_switches_total": ("counter", "1", ["cpu"], False, False),
    "sched_cpu_wakeups_total": ("counter", "1", ["cpu"], False, False),
    "sched_cpu_migrations_total": ("counter", "1", ["cpu"], False, False),
    "sched_events_dropped_total": ("counter", "1", [], False, False),
    # where a cpu controller is mounted (both layouts; the build machines have v1)
    "sched_cgroup_throttled_periods_total": ("counter", "1", ["cgroup"], True, False),
    "sched_cgroup_throttled_ns_total": ("counter", "ns", ["cgroup"], True, False),
}

# three processes on one CPU: two hogs that wait a slice for each other
# (a sleeper alone preempts a single hog at once under EEVDF: its p99 stays
# near 50 us), and one waking 1000 times a second
LOAD = r"""
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
for _ in range(2):
    if os.fork() == 0:
        end = time.monotonic() + float(sys.argv[2])
        while time.monotonic() < end:
            pass
        os._exit(0)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    time.sleep(0.001)
os.wait()
os.wait()
"""


def daemon():
    if not T.is_root():
        raise Skip("needs root for BPF")
    return Daemon(args=["--enable", "sched_latency,sysstat"],
                  plugin_dir_=T.build_plugins("sched_latency"))


def catalog(d):
    cat = {m["name"]: m for m in d.structured("query_history")["metrics"]}
    if "sched_runq_latency_ns" not in cat:
        raise Skip(f"sched_latency publishes nothing (no BPF here?): {sorted(cat)}")
    return cat


@C.case
def test_catalog_and_history():
    with daemon() as d:
        cat = catalog(d)
        for name, (typ, unit, labels, top_n, context) in SCHED_LATENCY.items():
            m = cat.get(name)
            C.check(m is not None, f"{name} in the catalog")
            if not m:
                continue
            C.eq((m["type"], m["unit"], m["labels"], m["plugin"]),
                 (typ, unit, labels, "sched_latency"), f"{name}: type, unit, labels, plugin")
            C.eq((bool(m.get("top_n")), bool(m.get("context"))), (top_n, context),
                 f"{name}: flags")
        # the DSQ metrics exist only where sched_ext does (proved in tests/scxlab)
        dsq = sorted(n for n in cat if n.startswith("sched_dsq_"))
        if os.path.isdir("/sys/kernel/sched_ext"):
            C.check("sched_dsq_latency_ns" in dsq, f"sched_ext kernel: DSQ metrics {dsq}")
        else:
            C.eq(dsq, [], "no sched_ext: no DSQ metrics in the catalog")
        cpu = max(os.sched_getaffinity(0))
        load = subprocess.Popen([sys.executable, "-c", LOAD, str(cpu), "9"])
        try:
            time.sleep(7)
            # the CPU counters: every CPU moves; switches agree with /proc/stat,
            # over a window that lies inside the load (the two plugins sample on
            # their own 1 s timers, up to a second apart: a window that saw the
            # load stop would count it differently in each)
            sw = d.structured("query_history",
                              {"metric": "sched_cpu_switches_total", "start": "-5s"})
            C.eq(sorted(x["labels"]["cpu"] for x in sw["series"]),
                 sorted(str(c) for c in range(os.cpu_count())), "one switches series per CPU")
            bpf_rate = sum(x["summary"]["rate"] for x in sw["series"])
            ctxt = d.structured("query_history",
                                {"metric": "context_switches_total", "start": "-5s"})
            proc_rate = ctxt["series"][0]["summary"]["rate"] if ctxt["series"] else 0
            C.check(proc_rate > 0 and abs(bpf_rate - proc_rate) <= 0.25 * proc_rate,
                    f"switches/s from BPF ({bpf_rate}) agree with /proc/stat ({proc_rate})")
        finally:
            load.wait()
        h = d.read_json("history://sched_runq_latency_ns")
        C.check(h["series"], f"history://sched_runq_latency_ns has series: {h}")
        cpus = sorted(s["labels"]["cpu"] for s in h["series"])
        if os.cpu_count() <= 64:  # latency_per_cpu_max_cpus
            C.check(set(cpus) <= {str(c) for c in range(os.cpu_count())} and str(cpu) in cpus,
                    f"one series per CPU, the loaded one among them: {cpus}")
        C.check(all(s["labels"]["node"].isdigit() and s["labels"]["llc"].isdigit()
                    for s in h["series"]), f"decimal node and llc ids: {h['series']}")
        r = d.structured("query_history", {"metric": "sched_runq_latency_ns", "group_by": "all",
                                           "start": "-8s"})
        s = r["series"][0]["summary"]
        C.check(s["count"] > 1000, f"samples over 8 s of load: {s}")
        C.check(0 < s["p50"] <= s["p90"] <= s["p99"] <= s["p999"] <= s["max"],
                f"percentiles ordered: {s}")
        C.check(s["p99"] < 60e9 and s["mean"] > 0, f"percentiles plausible: {s}")
        hog = d.structured("query_history", {"metric": "sched_runq_latency_ns", "group_by": "all",
                                             "labels": f"cpu={cpu}", "start": "-8s"})
        hs = hog["series"][0]["summary"] if hog["series"] else {}
        print(f"CPU {cpu} under load: p50 {hs.get('p50')} p99 {hs.get('p99')} ns; "
              f"switches/s BPF {bpf_rate:.0f}, /proc/stat {proc_rate:.0f}")
        C.check(hs.get("p99", 0) > 100000, f"two CPU hogs make p99 on their CPU above 100 us: {hs}")

        for name in ("sched_cpu_runq_waits_total", "sched_cpu_runq_wait_ns_total",
                     "sched_cpu_wakeups_total"):
            r = d.structured("query_history", {"metric": name, "group_by": "all", "start": "-6s"})
            C.check(r["series"] and r["series"][0]["summary"]["rate"] > 0, f"{name} moves: {r}")

        procs = d.structured("query_history", {"metric": "sched_proc_runq_latency_ns",
                                               "labels": f"pid={load.pid}", "start": "-8s"})
        C.eq([x["labels"] for x in procs["series"]],
             [{"pid": str(load.pid), "comm": "python3"}],
             "the loaded process is among the top waiters, by pid and comm")
        if procs["series"]:
            p = procs["series"][0]["summary"]
            C.check(p["count"] > 500 and p["p50"] <= p["p99"], f"its latency: {p}")


if __name__ == "__main__":
    C.main()
