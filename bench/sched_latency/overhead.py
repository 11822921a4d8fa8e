#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Overhead of the sched_latency BPF programs against libbpf-tools runqlat,
measured in the same run under the same load.

Both tools are attached at once; the kernel's BPF run-time statistics
(kernel.bpf_stats_enabled=1: run_time_ns / run_cnt per program) give each
program's own cost per event while hackbench runs. Also reports the
daemon's user-space CPU during the load and the switch rate.

  bench/sched_latency/overhead.py [--load hackbench|pingpong] [--loops N]
                                  [--groups G] [--seconds S] [--stream]
                                  [--cgroup on|off|both] [--json]

--cgroup: per-cgroup latency tracking (cgroup_max; default both: the phases
run once with it on and once off, each against runqlat, so its own cost
shows). ns_total_per_switch is every program of a tool over the context
switches: the cost a context switch brings with it.

Each tool is attached first once (the first program on a tracepoint pays the
cache misses on the task's lines), and the mean of both orders is reported.
Then the daemon's own CPU use is measured alone while two pinned ping-pong
pairs drive the switch rate above 200k/s (the sl-workload helper from the
build tree), with the event stream off and on.

Needs root, bpftool, runqlat (libbpf-tools) and hackbench (rt-tests).
Exits 77 with the reason when something is missing. Prints ratios; it is a
benchmark, so it exits 0 whether the target (ours <= runqlat) is met or not.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
os.environ.setdefault("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
import mcp_client  # noqa: E402
import smcp_test  # noqa: E402

OURS = ("sl_switch", "sl_waking", "sl_wakeup", "sl_wakeup_new", "sl_migrate", "sl_exit",
        "sl_cg_attach", "sl_cg_transfer")
# runqlat's program names as the kernel keeps them (15 characters at most)
PEER = {"sched_swith": "switch", "sched_switch": "switch", "sched_wakeup": "wakeup",
        "sched_wakeup_ne": "wakeup_new", "sched_wakeup_new": "wakeup_new"}


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def progs():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"]: p for p in json.loads(out)}


def proc_cpu_s(pid):
    """CPU time of the (single-threaded) daemon, ns-precise from schedstat."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ctxt():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    return 0


def workload():
    return os.path.join(os.environ["SMCP_BUILD_DIR"], "tests", "plugins", "sched_latency",
                        "sl-workload")


def run_load(a):
    if a.load == "hackbench":
        subprocess.run(["hackbench", "-g", str(a.groups), "-l", str(a.loops)],
                       stdout=subprocess.DEVNULL, check=True)
        return
    cpus = os.cpu_count() or 1
    ps = [subprocess.Popen([workload(), "pingpong", str(a.seconds), str(i % cpus)],
                           stdout=subprocess.DEVNULL) for i in range(2)]
    for p in ps:
        p.wait()


def daemon_cpu(a, stream):
    """The daemon alone under the ping-pong load: % of one CPU, switches/s."""
    client = mcp_client.Client(args=["--enable", "sched_latency"],
                               stderr=subprocess.DEVNULL)
    try:
        if stream:
            client.call_tool("control_event_tracking", {"action": "enable"})
        time.sleep(1.2)
        cpu0, c0, t0 = proc_cpu_s(client.proc.pid), ctxt(), time.monotonic()
        ps = [subprocess.Popen([workload(), "pingpong", str(a.seconds), str(i % os.cpu_count())],
                               stdout=subprocess.DEVNULL) for i in range(2)]
        for p in ps:
            p.wait()
        cpu1, c1, t1 = proc_cpu_s(client.proc.pid), ctxt(), time.monotonic()
        published = None
        if stream:
            r = client.call_tool("control_event_tracking", {"action": "status"})
            published = r["result"]["structuredContent"]["counters_since_start"]["published"]
    finally:
        client.close()
    return {"stream": stream, "switches_per_s": round((c1 - c0) / (t1 - t0)),
            "daemon_cpu_pct_of_one_cpu": round(100 * (cpu1 - cpu0) / (t1 - t0), 3),
            "events_published": published}


def daemon_args(cgroup):
    """--enable sched_latency, with per-cgroup tracking on (the default) or
    off (cgroup_max = 0)."""
    args = ["--enable", "sched_latency"]
    if not cgroup:
        fd, path = tempfile.mkstemp(prefix="smcp-bench-", suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write("[plugin sched_latency]\ncgroup_max = 0\n")
        args += ["--config", path]
    return args


def run_phase(a, ours_first, cgroup=True):
    """One measurement with both tools attached; ours_first chooses which one
    the kernel calls first on each tracepoint (the first pays the cache misses
    on the task's lines)."""
    before = set(progs())
    runq = client = None

    def start_runqlat(exclude):
        proc = subprocess.Popen(["runqlat", "60", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        found = {}
        for _ in range(50):
            time.sleep(0.1)
            found = {i: p for i, p in progs().items()
                     if i not in exclude and p.get("name") in PEER}
            if len(found) >= 3:
                break
        return proc, found

    try:
        if not ours_first:
            runq, peer = start_runqlat(before)
            if not peer:
                skip("runqlat did not attach (no new sched_* programs)")
            before = set(progs())
        client = mcp_client.Client(args=daemon_args(cgroup))
        st = client.read_json("schedmcp://plugins")
        me = [p for p in st["plugins"] if p["name"] == "sched_latency"]
        if not me or me[0]["state"] != "loaded":
            skip(f"sched_latency did not load: {me}")
        cg = client.read_json("stats://aggregated/cgroup")
        if cgroup and not cg.get("available"):
            skip(f"per-cgroup latency is not available here: {cg.get('reason')}")
        if a.stream:
            # filtered to a pid that does not exist: the filter's cost, no events
            client.call_tool("control_event_tracking", {"action": "enable", "pid": 4194303})
        time.sleep(0.5)
        after_ours = progs()
        # only this daemon's: other daemons on the machine load the same names
        held = smcp_test.bpf_prog_ids(client.proc.pid)
        ours = {i: p for i, p in after_ours.items()
                if i in held and i not in before and p.get("name") in OURS}
        if ours_first:
            runq, peer = start_runqlat(set(after_ours))
            if not peer:
                skip("runqlat did not attach (no new sched_* programs)")
        subprocess.run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1"], check=True)
        s0 = progs()
        cpu0 = proc_cpu_s(client.proc.pid)
        c0, t0 = ctxt(), time.monotonic()
        run_load(a)
        c1, t1 = ctxt(), time.monotonic()
        cpu1 = proc_cpu_s(client.proc.pid)
        s1 = progs()
        subprocess.run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=0"])
    finally:
        if runq:
            runq.kill()
            runq.wait()
        if client:
            client.close()

    def cost(ids):
        res = {}
        for i in ids:
            if i not in s0 or i not in s1:
                continue  # unloaded meanwhile: not one of the tool's own
            name = s1[i]["name"]
            dt = s1[i].get("run_time_ns", 0) - s0[i].get("run_time_ns", 0)
            dn = s1[i].get("run_cnt", 0) - s0[i].get("run_cnt", 0)
            res[name] = (dt, dn)
        return res

    o, r = cost(ours), cost(peer)
    z = (0, 0)

    def per(x):
        return x[0] / x[1] if x[1] else float("nan")

    o_sw, o_wk, o_wking = o.get("sl_switch", z), o.get("sl_wakeup", z), o.get("sl_waking", z)
    r_sw = next((v for k, v in r.items() if PEER[k] == "switch"), z)
    r_wk = next((v for k, v in r.items() if PEER[k] == "wakeup"), z)
    # a wakeup costs us sched_waking plus sched_wakeup (none of them with
    # latency_clock = kernel: then 0 per wakeup); runqlat only sched_wakeup.
    # runqlat's sched_wakeup count is the number of wakeups for both.
    ours_wake = (o_wk[0] + o_wking[0], r_wk[1])
    elapsed = t1 - t0
    return {
        "first_on_tracepoints": "sched_latency" if ours_first else "runqlat",
        "cgroup_tracking": cg.get("hierarchy", "off") if cgroup else "off",
        "elapsed_s": round(elapsed, 2),
        "switches_per_s": round((c1 - c0) / elapsed),
        "ns_per_switch": {"sched_latency": round(per(o_sw), 1), "runqlat": round(per(r_sw), 1)},
        "ns_per_wakeup": {"sched_latency": round(per(ours_wake), 1),
                          "runqlat": round(per(r_wk), 1),
                          "sched_latency_parts": {"sched_waking": round(per(o_wking), 1),
                                                  "sched_wakeup": round(per(o_wk), 1)}},
        # every program of each tool (wakeup_new, exit, ...) over switches + wakeups
        "ns_total_per_switch": {
            "sched_latency": round(sum(v[0] for v in o.values()) / o_sw[1], 1) if o_sw[1]
            else float("nan"),
            "runqlat": round(sum(v[0] for v in r.values()) / r_sw[1], 1) if r_sw[1]
            else float("nan")},
        "ns_per_sched_event": {
            "sched_latency": round(sum(v[0] for v in o.values()) / (o_sw[1] + r_wk[1]), 1),
            "runqlat": round(sum(v[0] for v in r.values()) / (r_sw[1] + r_wk[1]), 1)},
        "programs": {k: {"ns_per_call": round(per(v), 1), "calls": v[1]}
                     for k, v in sorted({**{"sched_latency." + k: v for k, v in o.items()},
                                         **{"runqlat." + k: v for k, v in r.items()}}.items())},
        "daemon_cpu_pct_of_one_cpu": round(100 * (cpu1 - cpu0) / elapsed, 3),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", choices=["hackbench", "pingpong"], default="hackbench")
    ap.add_argument("--seconds", type=int, default=8, help="pingpong load length")
    ap.add_argument("--loops", type=int, default=2000)
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--stream", action="store_true",
                    help="also enable the event stream (filtered to a pid that does not run)")
    ap.add_argument("--cgroup", choices=["on", "off", "both"], default="both",
                    help="per-cgroup latency tracking in the daemon (default: both, compared)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    if os.geteuid() != 0:
        skip("needs root (BPF, kernel.bpf_stats_enabled)")
    for tool in ("bpftool", "runqlat", "hackbench"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            skip(f"{tool} is missing (apt-get install bpftool libbpf-tools rt-tests)")
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    if a.load == "pingpong" and not os.path.exists(workload()):
        skip(f"{workload()} is missing: build the tree first")
    modes = {"on": [True], "off": [False], "both": [False, True]}[a.cgroup]
    try:
        phases = [run_phase(a, first, cg) for cg in modes for first in (True, False)]
    finally:
        subprocess.run(["sysctl", "-q", "-w", f"kernel.bpf_stats_enabled={stats_before}"])
    user = []
    if os.path.exists(workload()):
        user = [daemon_cpu(a, False), daemon_cpu(a, True)]

    def mean(key, who, sel=None):
        ps = [p for p in phases if sel is None or (p["cgroup_tracking"] != "off") == sel]
        return round(sum(p[key][who] for p in ps) / len(ps), 1)

    load = (f"hackbench -g {a.groups} -l {a.loops}" if a.load == "hackbench"
            else f"2 ping-pong pairs for {a.seconds} s")
    summary = {"load": load, "stream_enabled": a.stream}
    keys = ("ns_total_per_switch", "ns_per_switch", "ns_per_wakeup", "ns_per_sched_event")
    for key in keys:
        o, r = mean(key, "sched_latency"), mean(key, "runqlat")
        summary[key] = {"sched_latency": o, "runqlat": r, "ratio": round(o / r, 3)}
    for sel, name in ((True, "cgroup_on"), (False, "cgroup_off")):
        if sel in modes:
            o, r = mean("ns_total_per_switch", "sched_latency", sel), \
                mean("ns_total_per_switch", "runqlat", sel)
            summary["ns_total_per_switch_" + name] = {"sched_latency": o, "runqlat": r,
                                                      "ratio": round(o / r, 3)}
    summary["daemon_cpu_pct_of_one_cpu"] = max(p["daemon_cpu_pct_of_one_cpu"] for p in phases)
    summary["phases"] = phases
    summary["daemon_alone_pingpong"] = user
    if a.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"load: {summary['load']} (each tool first on the tracepoints once, "
          f"per-cgroup tracking {a.cgroup})")
    for p in phases:
        print(f"  {p['first_on_tracepoints']} first, cgroups {p['cgroup_tracking']}: "
              f"{p['elapsed_s']} s, {p['switches_per_s']} switches/s")
        for k, v in p["programs"].items():
            print(f"    {k:30}{v['ns_per_call']:>10} ns x {v['calls']}")
    print(f"{'mean of the phases':32}{'sched_latency':>15}{'runqlat':>10}{'ratio':>8}")
    for key in keys + tuple(k for k in ("ns_total_per_switch_cgroup_on",
                                        "ns_total_per_switch_cgroup_off") if k in summary):
        v = summary[key]
        print(f"{key:32}{v['sched_latency']:>15}{v['runqlat']:>10}{v['ratio']:>8}")
    print("  ns_per_wakeup counts sched_waking too when it is attached (waker_cpu, stream);")
    print("  ns_per_sched_event: all programs of each tool / (switches + wakeups)")
    print(f"daemon user+system CPU during the load: {summary['daemon_cpu_pct_of_one_cpu']} % "
          "of one CPU")
    for u in user:
        print(f"daemon alone, 2 ping-pong pairs, stream {'on ' if u['stream'] else 'off'}: "
              f"{u['switches_per_s']} switches/s, {u['daemon_cpu_pct_of_one_cpu']} % of one CPU"
              + (f", {u['events_published']} events published" if u["stream"] else ""))
    if not user:
        print("daemon alone: skipped (sl-workload not built)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
