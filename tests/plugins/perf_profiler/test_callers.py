#!/usr/bin/env python3
"""get_perf_results with symbol (issue 16, seed example 6: "show me the stack
trace for the schedule function"): the callers of a leaf as a tree, with the
share of the leaf's samples on each path, and its callees; user frames carry
their source line.

The workload (callers.c, built with -g) calls one leaf, work, from two
callers, hot_path 7 and cold_path 3 units of every 10. The callers of work
must be those two at 70 % and 30 % within a few points, with run and main
above them; the callees of run must be the same two with work below each;
every frame's line must be what `addr2line -e BIN ADDR` says for the
address the answer gives, and lie inside the function the frame names.
The same program stripped, with its DWARF in a debug file that
.gnu_debuglink names, has the same lines. As root, the seed's own question: the callers of schedule in a system-wide
sched_switch profile.
"""
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

from pptest import BIN, Checker, Workload, daemon, require_perf, tool

ck = Checker()
EXE = os.path.join(BIN, "pp-callers")
SRC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callers.c")


def tolerance(n):
    """Points a 70/30 share may be off with n samples: 3 standard deviations
    of the sampling error (a loaded machine gives the workload fewer), at
    least 4."""
    return max(4.0, 3 * 100 * math.sqrt(0.7 * 0.3 / max(n, 1)))


def function_lines(path):
    """{name: (first, last)} source lines of each function of callers.c."""
    spans, name, first = {}, None, 0
    with open(path) as f:
        for no, line in enumerate(f, 1):
            m = re.match(r"^(?:__attribute__\(\(.*\)\) )?(?:static )?\w+ (\w+)\(.*\)$", line)
            if m:
                name, first = m.group(1), no
            elif line.startswith("}") and name:
                spans[name] = (first, no)
                name = None
    return spans


def addr2line(addr, exe=EXE):
    out = subprocess.run(["addr2line", "-e", exe, addr], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out.split(" (discriminator")[0]


def walk(nodes, key, depth=0):
    for n in nodes:
        yield n, depth
        yield from walk(n.get(key, []), key, depth + 1)


def check_lines(body, key, spans, module="pp-callers", exe=EXE):
    """Each frame of module with a line: addr2line on exe agrees, and the
    line is in its function."""
    nodes = [(body, 0)] + list(walk(body.get(key, []), key, 1))
    with_line = 0
    for n, _ in nodes:
        # libc's frames have lines too where its debug file is installed
        if "line" not in n or n.get("module") != module:
            continue
        with_line += 1
        path, _, no = n["line"].rpartition(":")
        want = addr2line(n["addr"], exe)
        wpath, _, wno = want.rpartition(":")
        ck.check(os.path.basename(path) == os.path.basename(wpath) and no == wno,
                 f"{key}: {n['symbol']} at {n['addr']}: {n['line']}, addr2line says {want}")
        span = spans.get(n["symbol"])
        ck.check(span and span[0] <= int(no) <= span[1],
                 f"{key}: {n['symbol']}'s line {no} lies in its body {span}")
    return with_line


try:
    with daemon() as c:
        require_perf(c)
        spans = function_lines(SRC_FILE)
        ck.check({"work", "hot_path", "cold_path", "run", "main"} <= set(spans),
                 f"callers.c's functions found: {spans}")
        w = Workload(EXE, 8)
        try:
            e, b = tool(c, "start_perf_profiling",
                        {"pid": w.pid, "frequency_hz": 999, "duration_secs": 3, "wait": True},
                        timeout=20)
            ck.check(not e, f"profiled: {b}")
        finally:
            w.kill()

        # ---- callers of the leaf
        e, b = tool(c, "get_perf_results", {"symbol": "work", "pid": w.pid})
        ck.check(not e and b.get("symbol") == "work", f"symbol work: an answer about it: {b}")
        callers = {n["symbol"]: n for n in b.get("callers", [])}
        print("  callers of work:", {k: v["pct"] for k, v in callers.items()},
              "samples", b.get("symbol_samples"))
        n_work = b.get("symbol_samples", 0)
        TOL = tolerance(n_work)
        ck.check(n_work >= 200,
                 f"enough samples of work: {b.get('symbol_samples')}")
        ck.check({"hot_path", "cold_path"} <= set(callers), f"both callers shown: {callers}")
        if {"hot_path", "cold_path"} <= set(callers):
            hot, cold = callers["hot_path"], callers["cold_path"]
            ck.check(abs(hot["pct"] - 70) <= TOL and abs(cold["pct"] - 30) <= TOL,
                     f"shares match the workload's 70/30 split: {hot['pct']}/{cold['pct']}")
            ck.eq(hot["samples"] + cold["samples"], b["symbol_samples"],
                  "every sample of work is on one of the two paths")
            up = [n["symbol"] for n in hot.get("callers", [])]
            ck.check(up[:1] == ["run"], f"hot_path's caller is run: {up}")
            upup = [n["symbol"] for n in hot["callers"][0].get("callers", [])] if up else []
            ck.check("main" in upup, f"run's caller is main: {upup}")
        n = check_lines(b, "callers", spans)
        ck.check(n >= 4, f"frames with a source line: {n} (work, both callers, run): "
                 f"{b.get('notes')}")

        # ---- callees of the caller
        e, b = tool(c, "get_perf_results", {"symbol": "run", "pid": w.pid})
        callees = {n["symbol"]: n for n in b.get("callees", [])} if not e else {}
        print("  callees of run:", {k: v["pct"] for k, v in callees.items()})
        ck.check({"hot_path", "cold_path"} <= set(callees), f"run's callees: {b}")
        if {"hot_path", "cold_path"} <= set(callees):
            ck.check(abs(callees["hot_path"]["pct"] - 70) <= TOL,
                     f"hot_path's share of run: {callees['hot_path']['pct']}")
            below = [n["symbol"] for n in callees["hot_path"].get("callees", [])]
            ck.eq(below[:1], ["work"], "hot_path calls work")
        ck.check(check_lines(b, "callees", spans) >= 3, "callee frames with source lines")

        # ---- lines from a separate debug file, found by .gnu_debuglink
        tmp = tempfile.mkdtemp(prefix="pp-callers-")
        try:
            prog, dbg = os.path.join(tmp, "prog"), os.path.join(tmp, "prog.debug")
            shutil.copy(EXE, prog)
            subprocess.run(["objcopy", "--only-keep-debug", prog, dbg], check=True)
            subprocess.run(["objcopy", "--strip-debug", "--add-gnu-debuglink=prog.debug",
                            "prog"], cwd=tmp, check=True)
            w = Workload(prog, 5)
            try:
                e, b = tool(c, "start_perf_profiling",
                            {"pid": w.pid, "frequency_hz": 999, "duration_secs": 1,
                             "wait": True}, timeout=20)
                e, b = tool(c, "get_perf_results", {"symbol": "work", "pid": w.pid})
            finally:
                w.kill()
            ck.check(not e and "callers.c:" in b.get("line", ""),
                     f"work's line from prog.debug: {b}")
            n = check_lines(b, "callers", spans, "prog", dbg)
            ck.check(n >= 3, f"stripped program: frames with lines from its debug file: {n}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

        # ---- symbol decides the answer's shape; bounded; errors that say what to do
        e, b = tool(c, "get_perf_results", {"symbol": "work", "format": "folded",
                                            "group_by": "cpu"})
        ck.check(not e and isinstance(b, dict) and b.get("callers"),
                 f"symbol with format folded and group_by cpu: still the trees: {b}")
        ck.small(b, "the symbol answer")
        e, b = tool(c, "get_perf_results", {"symbol": "no_such_function"})
        ck.check(e and "get_perf_results" in b, f"unknown symbol: error saying what to do: {b}")
        e, b = tool(c, "get_perf_results", {"symbol": "x" * 300})
        ck.check(e and "255" in b, f"a 300-byte symbol is refused: {b}")

        # ---- the seed's question, as root: who calls schedule
        if os.geteuid() == 0:
            e, b = tool(c, "start_perf_profiling",
                        {"event": "tp:sched:sched_switch", "duration_secs": 1, "wait": True},
                        timeout=20)
            ck.check(not e, f"sched_switch profiled: {b}")
            e, b = tool(c, "get_perf_results", {"symbol": "schedule"})
            callers = b.get("callers", []) if not e else []
            print("  callers of schedule:", [(n["symbol"], n["pct"]) for n in callers][:5])
            ck.check(not e and b.get("kind") == "kernel" and len(callers) >= 2,
                     f"schedule: its kernel callers: {b}")
            ck.check(all(n["kind"] == "kernel" for n in callers) and
                     sum(n["pct"] for n in callers) <= 100.5,
                     "callers of schedule: kernel frames whose shares add up to at most 100")
            ck.check(b.get("callees"), "schedule's callees (__schedule) shown beside its callers")
        else:
            print("  not root: the system-wide schedule case is left out")
except Exception as ex:  # noqa: BLE001
    ck.check(False, f"unexpected: {ex!r}")
sys.exit(ck.done())
