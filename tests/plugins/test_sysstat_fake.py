#!/usr/bin/env python3
"""sysstat plugin against a fake kernel (mock host, fake clock).

The test plays the kernel: before each 1 s tick it rewrites /proc/stat,
/proc/pressure/*, /proc/vmstat and /proc/net/dev with counters that grow at
known rates, so every percentage and rate the plugin reports has an exact
expected value, per window (1 s, 10 s, 60 s, since start).
"""
import os
import shutil
import sys
import tempfile

from plugtest import Checker, Mock
from sysstat_fake import FakeKernel

ck = Checker()
HZ = 100


# per-second ticks: cpu0 80% busy, cpu1 20% busy + 30% iowait, cpu2 irq/softirq/steal
def phase_a(c):
    return [[60, 0, 20, 20, 0, 0, 0, 0], [10, 10, 0, 50, 30, 0, 0, 0],
            [0, 0, 0, 80, 0, 5, 5, 10], [0, 0, 0, 100, 0, 0, 0, 0]][c]


def phase_b(c):  # cpu0 goes idle
    return [0, 0, 0, 100, 0, 0, 0, 0] if c == 0 else phase_a(c)


RATES = {"cpu": phase_a, "ctxt": 1234, "forks": 7, "psi_cpu": (250000, 0),
         "psi_memory": (50000, 10000), "pgfault": 1000, "pgmajfault": 2, "pswpout": 5,
         "net": {"eth0": (125000, 25000), "lo": (500, 500)}}


def win(body, name):
    """A window by name, following "same_as" to the window it repeats."""
    w = next(w for w in body["windows"] if w["window"] == name)
    if "same_as" in w:
        return dict(win(body, w["same_as"]), window=name, requested_s=w["requested_s"],
                    complete=w["complete"], same_as=w["same_as"])
    return w


def approx(what, got, want, tol=0.011):
    ck.check(got is not None and abs(got - want) <= tol, "%s: got %r, want %r" % (what, got, want))


tmp = tempfile.mkdtemp(prefix="smcp-sysstat-")
try:
    root = os.path.join(tmp, "root")
    k = FakeKernel(root, 4)
    k.tick(RATES)  # t=1: the sample taken at init
    with Mock("sysstat", root) as m:
        cpu = m.read("stats://system/cpu")
        for w in cpu["windows"]:
            ck.eq(w["available"], False, "first read: %s not yet available" % w["window"])
            ck.check("only one sample" in w["reason"], "first read: says why")
        ck.eq(cpu["now"]["load_avg_1m"], 2.5, "first read: load averages right away")
        ck.eq(cpu["now"]["cpu_pressure"]["some"]["avg60"], 2.5,
              "first read: kernel PSI averages right away")

        for _ in range(5):  # t=2..6
            k.tick(RATES)
            m.advance(1000)
        cpu = m.read("stats://system/cpu")
        w10 = win(cpu, "10s")
        ck.eq((w10["complete"], w10["covered_s"]), (False, 5), "5 s in: 10s window is partial")
        ck.eq(win(cpu, "1s")["complete"], True, "5 s in: 1s window complete")
        ck.eq([w.get("same_as") for w in cpu["windows"]], [None, None, "10s", "10s"],
              "5 s in: 60s and since_start repeat 10s, said once")

        for _ in range(55):  # t=7..61: 60 s of phase A
            k.tick(RATES)
            m.advance(1000)
        n0 = m.cmd("status")["window_reads"]
        cpu = m.read("stats://system/cpu")
        n1 = m.cmd("status")["window_reads"]
        m.read("stats://system/cpu")
        m.read("stats://system/memory")
        n2 = m.cmd("status")["window_reads"]
        m.read("stats://system/network")
        n3 = m.cmd("status")["window_reads"]
        # the core's history is read once per window and step, per series of
        # the machine (20), never per CPU: 3 windows, the since-start run-queue
        # means and the sampling state; then only what was not read yet
        ck.check(n1 - n0 <= 64,
                 "first read of a step: %d series windows read (at most 64)" % (n1 - n0))
        ck.eq(n2 - n1, 0, "reads again in the step: series windows read")
        ck.eq(n3 - n2, 48, "then the network: only the 2 interfaces' 8 series, 3 windows")
        w60 = win(cpu, "60s")
        ck.eq((w60["complete"], w60["covered_s"]), (True, 60), "60 s in: 60s window complete")
        want = {"busy_pct": 30, "user_pct": 17.5, "nice_pct": 2.5, "system_pct": 5,
                "idle_pct": 62.5, "iowait_pct": 7.5, "irq_pct": 1.25, "softirq_pct": 1.25,
                "steal_pct": 2.5}
        for name in ("1s", "10s", "60s", "since_start"):
            w = win(cpu, name)
            for f, v in want.items():
                approx("phase A %s %s" % (name, f), w["cpu"][f], v)
            approx("%s ctxt/s" % name, w["context_switches_per_s"], 1234)
            approx("%s forks/s" % name, w["forks_per_s"], 7)
            approx("%s cpu pressure some" % name, w["cpu_pressure_some_pct"], 25)
            approx("%s cpu pressure full" % name, w["cpu_pressure_full_pct"], 0)
        approx("10s run queue average", win(cpu, "10s")["procs_running_avg"], 3.5)
        ck.eq(win(cpu, "10s")["procs_blocked_avg"], 1, "10s procs_blocked average")
        rows = {r["cpu"]: r for r in cpu["per_cpu"]["cpus"]}
        ck.eq(cpu["per_cpu"]["window"], "10s", "per-CPU window named")
        ck.eq([rows[c]["busy_pct"] for c in range(4)], [80, 20, 20, 0], "per-CPU busy")
        ck.eq(rows[1]["iowait_pct"], 30, "cpu1 iowait")
        ck.eq(rows[2]["steal_pct"], 10, "cpu2 steal")

        for _ in range(10):  # t=62..71: phase B, cpu0 idle
            k.tick(dict(RATES, cpu=phase_b))
            m.advance(1000)
        cpu = m.read("stats://system/cpu")
        approx("phase B 1s busy", win(cpu, "1s")["cpu"]["busy_pct"], 10)
        approx("phase B 10s busy", win(cpu, "10s")["cpu"]["busy_pct"], 10)
        approx("60s mixes 50 s of A and 10 s of B", win(cpu, "60s")["cpu"]["busy_pct"],
               (50 * 120 + 10 * 40) * 100 / (60 * 400))
        st = win(cpu, "since_start")
        approx("since start covers 70 s", st["covered_s"], 70)
        approx("since start busy", st["cpu"]["busy_pct"], (60 * 120 + 10 * 40) * 100 / (70 * 400))
        # the core's history holds 15 min: since start keeps its run-queue
        # average well past the 64 samples the plugin's own ring once held
        approx("since start run-queue average from the core's history",
               st.get("procs_running_avg"), 3.5)
        ck.eq(cpu["sampling"]["samples_kept"], 71, "every sample's step kept")
        ck.eq(cpu["sampling"]["history_s"], 70, "history covers 70 s")

        mem = m.read("stats://system/memory")
        ck.eq(mem["total_kb"], 16000000, "meminfo total")
        ck.eq(mem["used_pct"], 75, "used_pct from MemAvailable")
        ck.eq(mem["swap_used_pct"], 25, "swap_used_pct")
        w = win(mem, "10s")
        approx("page faults/s", w["page_faults_per_s"], 1000)
        approx("major faults/s", w["major_faults_per_s"], 2)
        approx("swap out pages/s", w["swap_out_pages_per_s"], 5)
        approx("memory pressure some", w["pressure_some_pct"], 5)
        approx("memory pressure full", w["pressure_full_pct"], 1)

        net = m.read("stats://system/network")
        w = win(net, "60s")
        approx("net rx bytes/s leaves out lo", w["rx_bytes_per_s"], 125000)
        approx("net tx bytes/s", w["tx_bytes_per_s"], 25000)
        ck.eq([i["name"] for i in net["interfaces"]], ["eth0", "lo"], "interfaces busiest first")
        approx("lo rate listed", net["interfaces"][1]["rates"]["rx_bytes_per_s"], 500)
        ck.eq(net["total_recv_bytes"], 71 * 125000 + 71 * 500,
              "scxtop total_recv_bytes (cumulative)")

        r = m.call_json("get_system_stats", {"kind": "cpu", "window": "60s", "cpus": "0,2"})
        ck.eq(r["window"]["window"], "60s", "tool names its window")
        ck.eq([c["cpu"] for c in r["cpus"]], [0, 2], "tool cpus filter")
        approx("tool cpu0 over 60 s", r["cpus"][0]["busy_pct"], (50 * 80) / 60)
        approx("tool cpu2 over 60 s", r["cpus"][1]["busy_pct"], 20)
        for name in ("1s", "10s"):  # phase B: cpu0 idle for the last 10 s
            r = m.call_json("get_system_stats", {"kind": "cpu", "window": name})
            ck.eq([c["busy_pct"] for c in r["cpus"]], [0, 20, 20, 0],
                  "tool per-CPU busy over %s" % name)
            ck.eq(r["cpus"][1]["iowait_pct"], 30, "tool cpu1 iowait over %s" % name)
        r = m.call_json("get_system_stats", {"kind": "cpu", "window": "since_start"})
        approx("tool cpu0 since start", r["cpus"][0]["busy_pct"], 60 * 80 / 70)
        r = m.call("get_system_stats", {"window": "5m"})
        ck.check(r["isError"] and "1s, 10s, 60s, since_start" in r["content"][0]["text"],
                 "bad window lists the valid ones")
        r = m.call("get_system_stats", {"kind": "disk"})
        ck.check(r["isError"] and "cpu, memory, network" in r["content"][0]["text"],
                 "bad kind lists the valid ones")
        r = m.call("get_system_stats", {"cpus": "x"})
        ck.check(r["isError"], "bad cpus is a tool error")
        r = m.call_json("get_system_stats", {"kind": "memory"})
        ck.eq((r["kind"], r["total_kb"]), ("memory", 16000000), "tool kind=memory")
    shutil.rmtree(tmp)

    # --- 256 CPUs, 40 interfaces: bounded answers that say how to get the rest ---
    root = os.path.join(tmp, "root")
    ifaces = ["lo", "eth0"] + ["veth%02d" % i for i in range(38)]
    k = FakeKernel(root, 256, ifaces)
    big = {"cpu": lambda c: [c % 100, 0, 0, 100 - c % 100, 0, 0, 0, 0],
           "net": {i: (1000 * (n + 1), 10) for n, i in enumerate(ifaces)}}
    k.tick(big)
    with Mock("sysstat", root) as m:
        for _ in range(10):
            k.tick(big)
            m.advance(1000)
        n0 = m.cmd("status")["window_reads"]
        cpu = m.read("stats://system/cpu")
        n1 = m.cmd("status")["window_reads"]
        ck.check(n1 - n0 <= 64,
                 "256 CPUs: a read costs what it costs on 4 (%d series windows)" % (n1 - n0))
        pc = cpu["per_cpu"]
        ck.eq(pc.get("summarised"), True, "256 CPUs: per-CPU summarised")
        ck.eq([r["cpu"] for r in pc["busiest"]][:3], [99, 199, 98], "256 CPUs: busiest first")
        ck.eq(len(pc["busy_by_cpu"]), 256, "256 CPUs: busy for every CPU")
        ck.eq(pc["busy_pct"]["max"], 99, "256 CPUs: max")
        ck.check("get_system_stats" in pc["note"] and '"cpus"' in pc["note"],
                 "256 CPUs: note says how to get every split")
        import json
        ck.check(len(json.dumps(cpu)) < 60000, "256 CPUs: resource under 25k tokens")
        r = m.call_json("get_system_stats", {"kind": "cpu"})
        ck.eq((len(r["cpus"]), r["page"]["next_offset"]), (64, 64), "256 CPUs: first page")
        ck.check(r["truncated"], "256 CPUs: page cut is flagged")
        r = m.call_json("get_system_stats", {"kind": "cpu", "offset": 192})
        ck.eq((r["cpus"][-1]["cpu"], r["page"]["next_offset"]), (255, None), "256 CPUs: last page")
        net = m.read("stats://system/network")
        ck.eq(len(net["interfaces"]), 32, "40 interfaces: 32 listed")
        ck.eq(net["interfaces"][0]["name"], "veth37", "40 interfaces: busiest first")
        ck.check(net["truncated"] and any("offset" in n for n in net["notes"]),
                 "40 interfaces: cut flagged and explained")
        r = m.call_json("get_system_stats", {"kind": "network", "offset": 32})
        ck.eq(len(r["interfaces"]), 8, "40 interfaces: the rest by page")
    shutil.rmtree(tmp)

    # --- no /proc/stat: degraded, CPU windows null, the rest still served --------
    root = os.path.join(tmp, "root")
    k = FakeKernel(root, 2)
    k.tick(RATES)
    os.unlink(os.path.join(root, "proc/stat"))
    os.unlink(os.path.join(root, "proc/vmstat"))
    with Mock("sysstat", root, valgrind=True) as m:
        ck.check(m.cmd("status")["degraded"], "no /proc/stat: degraded")
        k.tick(RATES)
        os.unlink(os.path.join(root, "proc/stat"))
        os.unlink(os.path.join(root, "proc/vmstat"))
        m.advance(1000)
        cpu = m.read("stats://system/cpu")
        ck.eq(win(cpu, "1s")["cpu"], None, "no /proc/stat: cpu split null")
        ck.check("cannot read /proc/stat" in cpu["notes"], "no /proc/stat: said in notes")
        approx("no /proc/stat: PSI still windowed", win(cpu, "1s")["cpu_pressure_some_pct"], 25)
        # no /proc/vmstat either: series that never existed leave the window
        # its length (it spans the steps of the series that answer)
        ck.eq(win(cpu, "1s")["covered_s"], 1, "no /proc/stat nor vmstat: 1s window covers 1 s")
        m.read("stats://system/memory")
        m.read("stats://system/network")
        k.tick(RATES)
        m.advance(1000)
        ck.eq(m.cmd("status")["degraded"], False, "/proc/stat back: no longer degraded")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(ck.done())
