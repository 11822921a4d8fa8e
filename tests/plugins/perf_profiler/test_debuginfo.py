#!/usr/bin/env python3
"""Symbolisation through compressed and separate debug information, the same
whatever reads it (issue 17: libelf's elf_compress and libdw's dwelf helpers
replaced the reader's own inflate, note and debuglink code).

The workload, built with only .debug_frame CFI and no frame pointers (so
unwinding needs the .debug_frame the variants hide), four ways beside a
plain reference build:

  gz         gcc -gz: SHF_COMPRESSED (zlib) debug sections in the file
  zdebug     objcopy --compress-debug-sections=zlib-gnu: legacy .zdebug_*
  build-id   stripped; its compressed debug file at
             DEBUG_DIR/.build-id/xx/yyyy.debug
  debuglink  built without a build-id, stripped; its compressed debug file
             next to it, found by .gnu_debuglink (CRC checked)

For each: every function's start, middle and last byte symbolised by the
reader (pp-symtool) must name what nm names in the reference build, the
converted .debug_frame must hold as many FDEs as the reference's, and the
source must be the one the variant provides. When perf(1) can record here,
the variant is also profiled (`perf record --call-graph dwarf`) and the
perf.data read through the profiler's own ingest, unwinding and
symbolisation (perf-symbench --folded): the leaves resolve, and nearly all
of their stacks read main, run, their caller, the leaf.

The profiler reports functions and modules, not file:line (it reads no
.debug_line), so those are what is compared.

Before and after: with PP_BEFORE_BIN set to the test directory of another
build (e.g. of main, in a second worktree: build/tests/plugins/perf_profiler,
with perf-symbench beside it or in PP_BEFORE_SYMBENCH), every output of
both builds on the same files and the same perf.data must be identical
(timings aside), and the symbolisation times of the two are printed side by
side with their ratio, alternated over several rounds in this one run.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from pptest import BIN, SRC, SYMBENCH, Checker, build_id, run, skip

TOOL = os.path.join(BIN, "pp-symtool")
WORKLOAD_C = os.path.join(SRC, "tests", "plugins", "perf_profiler", "workload.c")
CFLAGS = ["-O2", "-g", "-fomit-frame-pointer", "-fno-asynchronous-unwind-tables",
          "-fno-unwind-tables"]
CALLERS = {"leaf_a": ["main", "run", "caller_a"], "leaf_b": ["main", "run", "caller_b"]}
BEFORE = os.environ.get("PP_BEFORE_BIN")
ROUNDS = 5

for prog in ("gcc", "objcopy", "strip", "nm", "readelf"):
    if not shutil.which(prog):
        skip("%s is not installed" % prog)

ck = Checker()
tmp = tempfile.mkdtemp(prefix="pp-dbginfo-")


def cc(out, *extra):
    run("gcc", *CFLAGS, *extra, "-o", out, WORKLOAD_C)
    return out


def functions(path):
    """{address: name} for the start, middle and last byte of every sized
    function nm lists in path."""
    out = {}
    for line in run("nm", "-S", "--defined-only", path).splitlines():
        f = line.split()
        if len(f) != 4 or f[2] not in "tTW" or not int(f[1], 16):
            continue
        a, n = int(f[0], 16), int(f[1], 16)
        for x in (a, a + n // 2, a + n - 1):
            out.setdefault(x, f[3])
    return out


def section_flags(path, name):
    for line in run("readelf", "-S", "-W", path).splitlines():
        parts = line.split("]", 1)[-1].split()
        if parts and parts[0] == name:
            return parts[6] if len(parts) == 10 else ""
    return None


def symtool(tool, path, addrs, debug_dir):
    return run(tool, "--debug-dir", debug_dir, "elf", path, *["%x" % a for a in addrs])


def parse(out, n):
    lines = out.splitlines()
    names = [x.split(" ", 2)[1] for x in lines[:n]]
    sources = {x.split(" ", 2)[2] for x in lines[:n]}
    info = dict(x.partition(" ")[::2] for x in lines[n:])
    cfi = dict(x.split("=") for x in info.get("cfi", "").split())
    return names, sources, info, {k: int(v) for k, v in cfi.items()}


def record(exe):
    """A perf.data of exe run for 1.5 s with DWARF call graphs, or None."""
    if not shutil.which("perf"):
        return None
    data = exe + ".perf.data"
    r = subprocess.run(["perf", "record", "-q", "-F", "999", "--call-graph", "dwarf", "-o",
                        data, "--", exe, "1.5"], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(data):
        print("note: perf record failed (%s): profiles not compared" % r.stderr.strip()[-200:])
        return None
    return data


def symbench(exe, data, debug_dir):
    r = json.loads(run(exe, "--top", "100", "--folded", "--debug-dir", debug_dir, data))
    times = (r.pop("cold"), r.pop("warm"))
    return r, times


def same_profile(b):
    """The profile as compared before/after: everything but the timings
    (stacks of equal count in a stable order)."""
    b = dict(b, folded=sorted(b["folded"], key=lambda x: (-x["count"], x["stack"])))
    return json.dumps(b, sort_keys=True, indent=0)


def under_callers(prof, leaf, callers):
    """Samples whose leaf is leaf, and those whose stack has callers, in
    order, beneath it."""
    n = good = 0
    for s in prof["folded"]:
        frames = s["stack"].split(";")
        if frames[-1] != leaf:
            continue
        n += s["count"]
        pos = [frames.index(c) if c in frames else -1 for c in callers]
        if min(pos) >= 0 and pos == sorted(pos):
            good += s["count"]
    return n, good


try:
    ref = cc(os.path.join(tmp, "ref"))
    want = functions(ref)
    addrs = sorted(want)
    ck.check({"leaf_a", "leaf_b", "caller_a", "caller_b", "main"} <= set(want.values()),
             f"nm lists the workload's functions in the reference build: {want}")
    nodebug = os.path.join(tmp, "nodebug")
    os.makedirs(nodebug)
    _, _, _, ref_cfi = parse(symtool(TOOL, ref, addrs, nodebug), len(addrs))
    ck.check(ref_cfi.get("debug_frame", 0) >= 5,
             f"reference: its .debug_frame converted: {ref_cfi}")

    variants = []  # (name, file, its unstripped build, debug dir, expected source)

    gz = cc(os.path.join(tmp, "gz"), "-gz=zlib")
    ck.check("C" in (section_flags(gz, ".debug_frame") or ""),
             f'gz: .debug_frame is SHF_COMPRESSED: {section_flags(gz, ".debug_frame")}')
    variants.append(("gz", gz, gz, nodebug, "symtab"))

    zd = os.path.join(tmp, "zdebug")
    run("objcopy", "--compress-debug-sections=zlib-gnu", ref, zd)
    ck.check(section_flags(zd, ".zdebug_frame") is not None,
             f'zdebug: .zdebug_frame present: {run("readelf", "-S", "-W", zd)}')
    variants.append(("zdebug", zd, ref, nodebug, "symtab"))

    bid = build_id(ref)
    if bid:
        ddir = os.path.join(tmp, "debug")
        where = os.path.join(ddir, ".build-id", bid[:2])
        os.makedirs(where)
        dbg = os.path.join(where, bid[2:] + ".debug")
        run("objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", ref, dbg)
        exe = os.path.join(tmp, "build-id")
        run("strip", "-o", exe, ref)
        variants.append(("build-id", exe, ref, ddir, "build-id debug file"))
    else:
        print("note: the toolchain wrote no build-id; build-id lookup not exercised")

    # no build-id at all: only .gnu_debuglink can lead to the debug file
    nobid = cc(os.path.join(tmp, "nobid"), "-Wl,--build-id=none")
    ck.eq(build_id(nobid), None, "debuglink: built without a build-id")
    dbg = os.path.join(tmp, "debuglink.debug")
    run("objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", nobid, dbg)
    exe = os.path.join(tmp, "debuglink")
    run("strip", "-o", exe, nobid)
    run("objcopy", "--add-gnu-debuglink=" + dbg, exe)
    variants.append(("debuglink", exe, nobid, nodebug, "debuglink debug file"))

    before_symtool = os.path.join(BEFORE, "pp-symtool") if BEFORE else None
    before_symbench = None
    if BEFORE:
        before_symbench = os.environ.get("PP_BEFORE_SYMBENCH") or os.path.join(
            BEFORE, "..", "..", "..", "plugins", "perf_profiler", "perf-symbench")
        for p in (before_symtool, before_symbench):
            if not os.access(p, os.X_OK):
                skip("PP_BEFORE_BIN: %s is not there" % p)

    timing = {"after": [], "before": []}
    for name, exe, unstripped, ddir, source in variants:
        w = functions(unstripped)
        a = sorted(w)
        out = symtool(TOOL, exe, a, ddir)
        names, sources, info, cfi = parse(out, len(a))
        bad = [("%x" % x, n, w[x]) for x, n in zip(a, names) if n != w[x]]
        ck.check(not bad, f"{name}: all {len(a)} addresses name what nm names in the "
                          f"unstripped build: {bad[:5]}")
        ck.eq(sources, {source}, "%s: symbols from the %s" % (name, source))
        ck.eq(cfi.get("debug_frame"), ref_cfi.get("debug_frame"),
              "%s: .debug_frame FDEs converted as from the reference" % name)
        ck.check("note" not in info, f"{name}: no note (nothing missing): {info.get('note')}")
        if before_symtool:
            old = symtool(before_symtool, exe, a, ddir)
            ck.check(old == out, f"{name}: the before build's reader says the same, line for "
                                 f"line: \n--- before\n{old}--- after\n{out}")

        data = record(exe)
        if not data:
            continue
        prof, t = symbench(SYMBENCH, data, ddir)
        top = {s["symbol"]: s for s in prof["top"]}
        ck.check(prof["unwind"]["dwarf"] >= 0.9 * t[0]["samples"],
                 f"{name} profile: unwound by DWARF: {prof['unwind']}")
        for leaf, callers in CALLERS.items():
            n, good = under_callers(prof, leaf, callers)
            ck.check(leaf in top and n and good >= 0.9 * n,
                     f"{name} profile: {leaf} resolved, >= 90% of its stacks "
                     f"{' > '.join(callers)} > {leaf} ({good} of {n}): {top.get(leaf)}")
        if before_symbench:
            old, _ = symbench(before_symbench, data, ddir)
            ck.check(same_profile(old) == same_profile(prof),
                     f"{name} profile: the before build's symbolised profile is identical: "
                     f"\n--- before\n{same_profile(old)}\n--- after\n{same_profile(prof)}")
            # symbolisation time with a cold cache (ELF files, debug files,
            # inflating .debug_frame) and warm, alternated in this one run
            for _ in range(ROUNDS):
                for side, tool in (("before", before_symbench), ("after", SYMBENCH)):
                    _, (cold, warm) = symbench(tool, data, ddir)
                    timing[side].append((name, cold["ingest_ms"] + cold["symbolise_ms"],
                                         warm["ingest_ms"] + warm["symbolise_ms"]))

    if timing["after"] and timing["before"]:
        print("\nsymbolisation (perf-symbench ingest + symbolise, ms; median of %d, "
              "alternated):" % ROUNDS)
        print("%-10s %12s %12s %7s %12s %12s %7s" % ("variant", "cold before", "cold after",
                                                    "ratio", "warm before", "warm after",
                                                    "ratio"))
        for name, *_ in variants:
            b = [x for x in timing["before"] if x[0] == name]
            a = [x for x in timing["after"] if x[0] == name]
            if not a:
                continue
            cb, ca = statistics.median(x[1] for x in b), statistics.median(x[1] for x in a)
            wb, wa = statistics.median(x[2] for x in b), statistics.median(x[2] for x in a)
            print("%-10s %12.2f %12.2f %7.2f %12.2f %12.2f %7.2f" % (
                name, cb, ca, ca / cb if cb else 0, wb, wa, wa / wb if wb else 0))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(ck.done())
