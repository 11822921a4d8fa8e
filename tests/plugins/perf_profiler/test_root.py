#!/usr/bin/env python3
"""Root-only profiler checks (suite root; exit 77 otherwise):

  a system-wide profile with the workload and a syscall-heavy process: both
  processes, user frames unwound by DWARF, kernel frames resolved through
  kallsyms under the syscall's user frames, every online CPU; a CPU filter;
  a tracepoint event (every hit, kernel stacks at __schedule); the kallsyms
  inventory (modules, BPF JIT symbols); and the same daemon run as an
  unprivileged user: a degraded status with the reason, system-wide start
  refused with a reason naming perf_event_paranoid, and a profile of the
  user's own process with kernel frames excluded (and said so).
"""
import os
import shutil
import subprocess
import sys
import tempfile

from pptest import mcp_client  # noqa: E402
from pptest import (BUILD, Checker, Workload, daemon, perf_fds, require_perf, skip, symbols,
                    tool, workload)

if os.geteuid() != 0:
    skip("needs root (system-wide sampling, kernel stacks, switching to an unprivileged user)")

ck = Checker()
tmp = tempfile.mkdtemp(prefix="pp-root-")
os.chmod(tmp, 0o755)


def online_cpus():
    with open("/sys/devices/system/cpu/online") as f:
        n = 0
        for part in f.read().strip().split(","):
            a, _, b = part.partition("-")
            n += int(b or a) - int(a) + 1
        return n


def bpf_syms():
    with open("/proc/kallsyms") as f:
        return {line.split()[2] for line in f if line.rstrip().endswith("[bpf]")}


# BPF programs of other tests come and go: only one loaded from before the
# daemon's start to after the check must be among the symbols it loaded
bpf_before = bpf_syms()
try:
    with daemon() as c:
        st = require_perf(c)
        dpid = c.proc.pid
        ck.check(st["capabilities"]["system_wide"] and st["capabilities"]["kernel_stacks"],
                 f"root: system-wide and kernel stacks allowed: {st}")

        w = Workload(workload("nofp"), 8)
        dd = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=64", "count=100000000"],
                              stderr=subprocess.DEVNULL)
        e, b = tool(c, "start_perf_profiling",
                    {"frequency_hz": 499, "duration_secs": 3, "wait": True}, timeout=20)
        dd.kill()
        dd.wait()
        ck.check(not e and b.get("scope") == "all processes", f"system-wide profile: {b}")
        ck.eq(perf_fds(dpid), 0, "every perf fd closed")
        e, p = tool(c, "get_perf_results", {"group_by": "process", "limit": 50})
        procs = {r["pid"]: r for r in p["processes"]}
        ck.check(w.pid in procs and procs[w.pid]["top_symbols"][0]["symbol"] == "leaf_a",
                 f"the workload is a process row with leaf_a on top: {procs.get(w.pid)}")
        ck.check(dd.pid in procs and procs[dd.pid]["top_symbols"][0]["kind"] == "kernel",
                 f"dd is a process row, with kernel symbols on top: {procs.get(dd.pid)}")
        e, s = tool(c, "get_perf_results", {"pid": dd.pid, "include_stacks": True, "limit": 5})
        k = [r for r in s["symbols"] if r["kind"] == "kernel"]
        ck.check(k and all(r["symbol"] != "[unknown]"
                           for r in k[:3]), f"kernel frames resolved by name: {k[:3]}")
        frames = s["symbols"][0]["stacks"][0]["frames"] if s["symbols"][0].get("stacks") else []
        ck.check(any("(" in f for f in frames) and any("[k]" in f for f in frames) and
                 any("entry_SYSCALL" in f or "do_syscall" in f for f in frames),
                 f"kernel frames sit under dd's user frames (syscall entry in between): {frames}")
        e, s = tool(c, "get_perf_results", {"pid": w.pid, "include_stacks": True, "limit": 2})
        ck.check(s["symbols"][0]["symbol"] == "leaf_a" and
                 any("caller_a" in f for f in s["symbols"][0]["stacks"][0]["frames"]),
                 f'workload stacks unwound by DWARF in a system-wide profile: {s["symbols"][:1]}')
        e, g = tool(c, "get_perf_results", {"group_by": "cpu"})
        ck.eq(len(g["cpus"]), online_cpus(), "every online CPU sampled")

        e, b = tool(c, "start_perf_profiling", {"cpu": 0, "frequency_hz": 499,
                                                 "duration_secs": 1, "wait": True}, timeout=15)
        e, g = tool(c, "get_perf_results", {"group_by": "cpu"})
        ck.check([r["cpu"] for r in g["cpus"]] == [0], f'cpu filter: only CPU 0: {g["cpus"]}')

        if os.path.exists("/sys/kernel/tracing/events/sched/sched_switch/id"):
            e, b = tool(c, "start_perf_profiling", {"event": "tp:sched:sched_switch",
                                                     "duration_secs": 1, "wait": True},
                        timeout=15)
            ck.check(not e and b.get("sampling") ==
                     "every tracepoint hit" and b["samples"] > 0,
                     f"tracepoint event: every hit: {b}")
            ck.check(any(r["symbol"] in ("__schedule", "schedule") for r in b["symbols"]),
                     f"tracepoint stacks end in the scheduler: "
                     f"{[r['symbol'] for r in b['symbols']][:10]}")
        else:
            print("note: tracefs is not mounted; tracepoint event not exercised")

        st = c.read_json("profiling://perf/status")
        ks = st["kallsyms"]
        ck.check(ks["symbols"] > 1000 and not ks["restricted"],
                 f"kallsyms loaded with addresses: {ks}")
        if bpf_before & bpf_syms():
            ck.check(ks["bpf_programs"] > 0, f"BPF programs counted from their JIT symbols: {ks}")
        w.kill()

    # ---- the same daemon as an unprivileged user, from a copy nobody can
    # reach wherever the build tree sits
    with mcp_client.unprivileged(drop_caps=False) as unpriv:
        if unpriv is None:
            print("note: setpriv (util-linux) missing: unprivileged run not exercised")
        else:
            with daemon() as c:
                st = c.read_json("profiling://perf/status")
                caps = st["capabilities"]
                if not caps["perf_event_open"]:
                    print("note: perf_event_open refused to user 65534 altogether (%s)" %
                          caps.get("perf_error"))
                else:
                    para = caps["perf_event_paranoid"]
                    ck.check(not caps["privileged"], f"unprivileged: not privileged: {caps}")
                    if para > 0:
                        pl = c.read_json("schedmcp://plugins")
                        me = [x for x in pl.get("plugins", pl if isinstance(pl, list) else [])
                              if x.get("name") == "perf_profiler"]
                        ck.check(me and me[0].get("state") == "degraded" and
                                 "perf_event_paranoid" in (me[0].get("reason") or ""),
                                 f"unprivileged: plugin degraded, the reason names the "
                                 f"paranoid level: {me}")
                    e, b = tool(c, "start_perf_profiling", {"duration_secs": 1})
                    if para > 0:
                        ck.check(e and "perf_event_paranoid" in b,
                                 f"unprivileged: system-wide refused, naming the paranoid "
                                 f"level: {b}")
                    exe = os.path.join(unpriv, "wl")
                    shutil.copy(workload("nofp"), exe)
                    os.chmod(exe, 0o755)
                    wp = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
                                           "--clear-groups", exe, "5"], stdout=subprocess.PIPE,
                                          text=True)
                    wp.stdout.readline()
                    e, b = tool(c, "start_perf_profiling",
                                {"pid": wp.pid, "frequency_hz": 299, "duration_secs": 1.5,
                                 "wait": True}, timeout=15)
                    wp.kill()
                    wp.wait()
                    ck.check(not e and b["samples"] > 0, f"unprivileged: own process profiled: {b}")
                    if para >= 2:
                        ck.check("kernel frames are not sampled" in b.get("note", "") and
                                 all(r["kind"] == "user" for r in b["symbols"]),
                                 f"unprivileged: kernel frames excluded, and the answer says "
                                 f"so: {b.get('note')}")
                    ck.check(symbols(b).get("leaf_a") and b["unwind_methods"]["dwarf"] > 0,
                             f'unprivileged: user stacks still unwound: {b.get("unwind_methods")}')
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(ck.done())
