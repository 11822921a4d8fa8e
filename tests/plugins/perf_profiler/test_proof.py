#!/usr/bin/env python3
"""Proof: the workload's hot functions, unwinding, and agreement with perf.

1. The workload (leaf_a 70% under caller_a, leaf_b 30% under caller_b) built
   without frame pointers, with them, with only .debug_frame CFI, and
   stripped with its .debug_frame in a compressed debug file, is profiled by
   pid for 3 s at 499 Hz. The two leaves must be the top user symbols at
   70/30 (+-10 points), their callers must appear beneath them in the stacks,
   and the unwind method counts must say DWARF did it (or frame pointers,
   with unwind:fp on the frame-pointer build).
2. The same workload under `perf record -g` (linux-perf), run at the same
   time as our profile: the top symbols agree.
3. `perf record -g` and `--call-graph dwarf` data read back through our own
   code (perf-symbench): the same top symbols and shares as `perf report` on
   the same file.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from pptest import (SYMBENCH, Checker, Workload, daemon, require_perf, symbols, tool, workload)

ck = Checker()
tmp = tempfile.mkdtemp(prefix="pp-proof-")
LEAVES = ["leaf_a", "leaf_b"]
rows = []


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def stripped_with_debuglink(src):
    """src stripped, its debug info (compressed, zlib) found by .gnu_debuglink."""
    exe = os.path.join(tmp, "wl-dframe-stripped")
    dbg = exe + ".debug"
    run("objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", src, dbg)
    run("strip", "-o", exe, src)
    run("objcopy", "--add-gnu-debuglink=" + dbg, exe)
    return exe


def stack_has(body, leaf, callers):
    """Whether the top stack ending in leaf has callers in this order, root first."""
    s = symbols(body).get(leaf)
    if not s or not s.get("stacks"):
        return False
    frames = [f.split(" ")[0] for f in s["stacks"][0]["frames"]]
    pos = [frames.index(x) if x in frames else -1 for x in callers + [leaf]]
    return all(p >= 0 for p in pos) and pos == sorted(pos)


def profile(c, exe, unwind):
    w = Workload(exe, 6)
    try:
        e, b = tool(c, "start_perf_profiling",
                    {"pid": w.pid, "frequency_hz": 499, "duration_secs": 3, "wait": True,
                     "unwind": unwind}, timeout=20)
        if e:
            raise RuntimeError(b)
        e, b = tool(c, "get_perf_results", {"include_stacks": True, "limit": 10, "pid": w.pid})
        return b
    finally:
        w.kill()


def perf_report_top(path, n=10):
    out = run("perf", "report", "-i", path, "--stdio", "--no-children", "--sort", "sym", "-q",
              "--percent-limit", "0")
    top = []
    for line in out.splitlines():
        line = line.strip()
        if not line or not line[0].isdigit() or "%" not in line:
            continue
        pct, _, rest = line.partition("%")
        name = rest.split("] ", 1)[1].strip() if "] " in rest else rest.strip()
        top.append((name, float(pct)))
    return top[:n]


def agree(ours, theirs, what, min_pct, tol):
    """Symbols at >= min_pct in either list are in both, within tol points."""
    a, b = dict(ours), dict(theirs)
    big = sorted({s for s, p in ours if p >= min_pct} | {s for s, p in theirs if p >= min_pct})
    bad = [(s, a.get(s), b.get(s)) for s in big
           if s not in a or s not in b or abs(a[s] - b[s]) > tol]
    print("  %-28s %s" % ("ours:", ", ".join("%s %.1f" % x for x in ours[:5])))
    print("  %-28s %s" % ("perf:", ", ".join("%s %.1f" % x for x in theirs[:5])))
    ck.check(big and not bad, f"{what}: {bad}")


try:
    with daemon() as c:
        require_perf(c)
        cases = [("nofp", workload("nofp"), "auto", "dwarf"),
                 ("fp", workload("fp"), "auto", "dwarf"),
                 ("fp", workload("fp"), "fp", "frame_pointer"),
                 ("nofp", workload("nofp"), "fp", None),
                 ("dframe", workload("dframe"), "auto", "dwarf")]
        if shutil.which("objcopy") and shutil.which("strip"):
            cases.append(("dframe stripped+debuglink",
                          stripped_with_debuglink(workload("dframe")), "auto", "dwarf"))
        for name, exe, unwind, method in cases:
            b = profile(c, exe, unwind)
            sh = {s["symbol"]: s["self"] for s in b["symbols"] if s["kind"] == "user"}
            user = sum(sh.values())
            share = {x: 100.0 * sh.get(x, 0) / user if user else 0 for x in LEAVES}
            top2 = [s["symbol"] for s in b["symbols"] if s["kind"] == "user"][:2]
            m = b["unwind_methods"]
            callers = stack_has(b, "leaf_a", ["main", "run", "caller_a"]) and \
                stack_has(b, "leaf_b", ["main", "run", "caller_b"])
            rows.append((name, unwind, b["samples"], share["leaf_a"], share["leaf_b"], m,
                         callers))
            label = "%s, unwind %s" % (name, unwind)
            ck.check(top2 == LEAVES, f"{label}: leaf_a, leaf_b are the top user symbols: {top2}")
            ck.check(abs(share["leaf_a"] - 70) <= 10 and abs(share["leaf_b"] - 30) <= 10,
                     f"{label}: 70/30 within 10 points ({share['leaf_a']:.1f}/"
                     f"{share['leaf_b']:.1f}): {share}")
            if method:
                ck.check(m[method] >= 0.9 * b["samples"],
                         f"{label}: {method} unwound >= 90% of samples: {m}")
                stacks = [s.get("stacks", [{}])[0].get("frames") for s in b["symbols"][:2]]
                ck.check(callers,
                         f"{label}: main > run > caller_x > leaf_x in the stacks: {stacks}")
            else:
                ck.check(m["frame_pointer"] + m["dwarf"] < 0.5 * b["samples"],
                         f"{label}: frame pointers alone cannot unwind it "
                         f"(method counts say so): {m}")

        print("\nvariant                     unwind  samples  leaf_a%  leaf_b%  callers  "
              "dwarf/fp/ip_only")
        for name, unwind, n, a, bb, m, cal in rows:
            print("%-27s %-6s %8d %8.1f %8.1f  %-7s  %d/%d/%d" % (
                name, unwind, n, a, bb, "yes" if cal else "no", m["dwarf"],
                m["frame_pointer"], m["ip_only"]))
        print()

        # ---- beside perf record on the same process, at the same time
        if not shutil.which("perf"):
            print("note: perf (linux-perf) is not installed: agreement not measured")
        else:
            w = Workload(workload("nofp"), 8)
            data = os.path.join(tmp, "live.data")
            rec = subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-p",
                                    str(w.pid), "-o", data, "--", "sleep", "3.5"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.3)
            e, b = tool(c, "start_perf_profiling",
                        {"pid": w.pid, "frequency_hz": 499, "duration_secs": 3, "wait": True},
                        timeout=20)
            rec.wait()
            w.kill()
            if rec.returncode != 0 or not os.path.exists(data):
                print("note: perf record failed (%s): agreement not measured" %
                      rec.stderr.strip()[-200:])
            else:
                tot = b["samples"]
                ours = [(s["symbol"], 100.0 * s["self"] / tot) for s in b["symbols"] if s["self"]]
                print("live, same process, same time (top 5 self %):")
                agree(ours, perf_report_top(data), "top symbols agree with perf report "
                      "(>= 1.5%, within 5 points)", 1.5, 5.0)

                # ---- the same perf.data through our code
                for mode, extra in (("-g", ["-g"]), ("dwarf", ["--call-graph", "dwarf"])):
                    w = Workload(workload("nofp"), 5)
                    f = os.path.join(tmp, "same-%s.data" % mode)
                    r = subprocess.run(["perf", "record", "-q", "-F", "499"] + extra +
                                       ["-p", str(w.pid), "-o", f, "--", "sleep", "2"],
                                       capture_output=True, text=True)
                    w.kill()
                    if r.returncode != 0:
                        print("note: perf record %s failed: %s" % (mode, r.stderr[-200:]))
                        continue
                    sb = json.loads(run(SYMBENCH, "--top", "10", f))
                    ours = [(s["symbol"], s["self_pct"]) for s in sb["top"]]
                    print("perf.data from perf record %s, read by both:" % mode)
                    agree(ours, perf_report_top(f), "perf.data (%s): same top symbols as "
                          "perf report (>= 0.5%%, within 0.5 points)" % mode, 0.5, 0.5)
                    if mode == "dwarf":
                        ck.check(sb["unwind"]["dwarf"] >= 0.9 * sb["cold"]["samples"],
                                 f"perf.data (dwarf): stacks unwound by our DWARF unwinder: "
                                 f"{sb['unwind']}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(ck.done())
