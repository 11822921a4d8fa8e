#!/usr/bin/env python3
"""perf_stat, the counter mode (suite root; exit 77 otherwise):

  a ping-pong process counted by pid: its context switches match the
  kernel's own count (/proc/PID/status voluntary + nonvoluntary switches)
  and its task-clock matches its utime + stime; system-wide counting for
  duration_s answers per CPU, per LLC and per node and closes every fd;
  without a PMU (this VM) the answer says so and counts the software
  counters, and events hardware is refused with the software ones offered;
  a process whose threads x events exceed max_fds is refused before any
  fd is opened.
  The derived metrics are checked on synthetic counts by test-pstat.
"""
import os
import subprocess
import sys
import time

from pptest import Checker, daemon, perf_fds, require_perf, skip, tool

if os.geteuid() != 0:
    skip("needs root (system-wide counting)")

ROUNDS = 3000
SPIN_S = 0.4

# The pinger waits for "go" on stdin, then does ROUNDS blocking round trips
# with its child over pipes (one voluntary switch each when it blocks), then
# spins SPIN_S of CPU, prints "done" and waits for stdin to close.
PINGPONG = f"""
import os, sys, time
r1, w1 = os.pipe(); r2, w2 = os.pipe()
if os.fork() == 0:
    os.close(w1)  # so that the pinger's exit ends it
    while os.read(r1, 1):
        os.write(w2, b"x")
    os._exit(0)
print("ready", flush=True)
sys.stdin.readline()
for _ in range({ROUNDS}):
    os.write(w1, b"x")
    os.read(r2, 1)
t = time.process_time()
while time.process_time() - t < {SPIN_S}:
    pass
print("done", flush=True)
sys.stdin.readline()
os.close(w1)
"""

ck = Checker()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def switches(pid):
    n = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
    return n


def cpu_ns(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e9 / CLK_TCK  # utime + stime


with daemon() as c:
    require_perf(c)
    dpid = c.proc.pid

    e, b = tool(c, "perf_stat", {"action": "read"})
    ck.check(e and "nothing counted yet" in str(b), f"read before start says what to do: {b}")

    # --- one process, against the kernel's own counts
    p = subprocess.Popen([sys.executable, "-c", PINGPONG], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ck.eq(p.stdout.readline().strip(), "ready", "ping-pong started")
        sw0, ns0 = switches(p.pid), cpu_ns(p.pid)
        e, b = tool(c, "perf_stat", {"action": "start", "pid": p.pid, "events": "software"})
        ck.check(not e and b.get("state") == "running" and b.get("pid") == p.pid,
                 f"pid counting started: {b}")
        ck.eq(b.get("perf_fds"), 4, "4 software counters, one thread")
        p.stdin.write("go\n")
        p.stdin.flush()
        ck.eq(p.stdout.readline().strip(), "done", "ping-pong ran")
        e, b = tool(c, "perf_stat", {"action": "stop"})
        sw1, ns1 = switches(p.pid), cpu_ns(p.pid)
    finally:
        p.stdin.close()
        p.wait(10)
    counts = b.get("total", {}).get("counts", {}) if isinstance(b, dict) else {}
    want = sw1 - sw0
    got = counts.get("context-switches", -1)
    print(f"    context switches: perf_stat {got}, /proc status {want} ({ROUNDS} rounds)")
    ck.check(want >= ROUNDS * 0.9, f"the workload blocked once per round: {want}")
    ck.check(abs(got - want) <= max(10, want * 0.02),
             f"context switches within 2 % of /proc/PID/status: {got} vs {want}")
    got_ns, want_ns = counts.get("task-clock", -1), ns1 - ns0
    print(f"    task-clock: perf_stat {got_ns / 1e6:.1f} ms, utime+stime {want_ns / 1e6:.1f} ms")
    ck.check(got_ns >= SPIN_S * 1e9 * 0.95, f"task-clock covers the spin: {got_ns}")
    ck.check(abs(got_ns - want_ns) <= want_ns * 0.2 + 3 * 1e9 / CLK_TCK,
             f"task-clock within 20 % (+3 ticks) of utime+stime: {got_ns} vs {want_ns}")
    ck.check(b.get("state") == "stopped" and "cpus_utilized" in b.get("total", {}),
             f"stopped, with derived metrics: {b}")
    ck.eq(perf_fds(dpid), 0, "stop closed every perf fd")

    e, again = tool(c, "perf_stat", {"action": "read"})
    ck.check(not e and again.get("total", {}).get("counts") == counts,
             "the last counts stay readable after stop")

    # --- system-wide, one-shot
    t0 = time.monotonic()
    e, b = tool(c, "perf_stat", {"duration_s": 1}, timeout=20)
    took = time.monotonic() - t0
    ck.check(not e and b.get("scope") == "system", f"system-wide one-shot: {b}")
    ck.check(0.9 <= took < 5, f"answered when the duration ended: {took:.2f} s")
    with open("/sys/devices/system/cpu/online") as f:
        n_cpus = sum(int(b_ or a) - int(a) + 1 for a, _, b_ in
                     (x.partition("-") for x in f.read().strip().split(",")))
    if not e:
        ck.eq(len(b["per_cpu"]), min(n_cpus, 64), "a row per online CPU")
        ck.check(b["per_node"] and b["per_llc"], "folded per node and per LLC")
        ck.eq(sum(r["counts"].get("context-switches", 0) for r in b["per_node"]),
              b["total"]["counts"].get("context-switches"), "nodes sum to the total")
        tc = b["total"]["counts"].get("task-clock", 0)
        ck.check(n_cpus * 0.9e9 <= tc <= took * n_cpus * 1.05e9,
                 f"task-clock: each CPU's for the second: {tc} ns on {n_cpus} CPUs")
        ck.check("cpus_utilized" not in b["total"],
                 "no cpus_utilized system-wide (a CPU's task-clock includes idle)")
    ck.eq(perf_fds(dpid), 0, "the one-shot closed every perf fd")

    # --- with or without a PMU
    if not b.get("hardware"):
        ck.check("no hardware PMU here" in b.get("note", "") and
                 "context-switches" in b.get("note", ""),
                 f"no PMU: said so, software counters named: {b.get('note')}")
        ck.check("ipc" not in b["total"], "no IPC made up without a PMU")
        e, h = tool(c, "perf_stat", {"action": "start", "events": "hardware"})
        ck.check(e and "no hardware PMU" in str(h) and "task-clock" in str(h),
                 f"events hardware refused, software offered: {h}")
        ck.eq(perf_fds(dpid), 0, "nothing left open by the refusal")
    else:
        ck.check("ipc" in b["total"] and "cycles" in b["total"]["counts"],
                 f"a PMU: IPC derived: {b['total']}")

# --- bounded fds: 6 threads x 4 software counters = 24 > max_fds 16
THREADS = """
import sys, threading
for _ in range(5):
    threading.Thread(target=sys.stdin.readline, daemon=True).start()
print("ready", flush=True)
sys.stdin.readline()
"""
with daemon("[plugin perf_profiler]\nmax_fds = 16\n") as c:
    dpid = c.proc.pid
    p = subprocess.Popen([sys.executable, "-c", THREADS], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        p.stdout.readline()
        e, b = tool(c, "perf_stat", {"pid": p.pid, "events": "software"})
    finally:
        p.stdin.close()
        p.wait(10)
    ck.check(e and "24 perf fds, over max_fds (16)" in str(b),
             f"6 threads x 4 events refused over max_fds: {b}")
    ck.eq(perf_fds(dpid), 0, "nothing opened by the refusal")

sys.exit(ck.done())
