#!/usr/bin/env python3
"""perf_profiler beside linux-perf, measured in one run.

1. Overhead of profiling every CPU at 99 Hz while CPU-bound workloads run
   (one per CPU): CPU time the profiler itself used, and how much workload
   throughput it cost, for schedmcp (DWARF unwinding, and frame pointers
   only) and `perf record -a` (-g, and --call-graph dwarf). perf's figure
   is `perf record` alone; reading its data (`perf report`) is counted
   separately, while schedmcp's figure already includes unwinding and
   aggregation (symbolisation happens when results are read: timed too).
2. Symbolisation of a large perf.data (default 100k samples, recorded with
   `perf record -a -g`): schedmcp's ingest + symbolisation code
   (perf-symbench) with an empty symbol cache (cold) and reusing it (warm),
   beside `perf report` on the same file, and the agreement of their top
   symbols. The same for a smaller --call-graph dwarf recording.

Needs root for system-wide sampling; without it the overhead part profiles
the workloads by pid and perf records by pid. Prints a report; exits 0.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def clk():
    return os.sysconf("SC_CLK_TCK")


def cpu_secs(pid):
    """utime + stime of a process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / clk()


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Workloads:
    """One CPU-bound workload per CPU. Throughput is counted per CPU-second
    the workloads got (wait4 rusage), which other load on the machine does
    not change but a profiler's interrupts and cache pollution do."""

    def __init__(self, exe, n, seconds):
        self.procs = [subprocess.Popen([exe, str(seconds)], stdout=subprocess.PIPE, text=True)
                      for _ in range(n)]
        self.pids = []
        for p in self.procs:
            p.stdout.readline()
            self.pids.append(p.pid)

    def finish(self):
        """(rounds per workload CPU-second, rounds per wall second)."""
        rounds = cpu = 0.0
        t = time.monotonic()
        for p in self.procs:
            out = p.stdout.read()
            _, _, ru = os.wait4(p.pid, 0)
            p.returncode = 0
            cpu += ru.ru_utime + ru.ru_stime
            for line in out.splitlines():
                if line.startswith("rounds"):
                    rounds += int(line.split()[1])
        return rounds / cpu if cpu else 0.0


def client(build):
    sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
    os.environ["SMCP_BUILD_DIR"] = build
    import mcp_client
    return mcp_client.Client(args=["--plugin-dir", os.path.join(build, "plugins"),
                                   "--enable", "perf_profiler"])


def tool(c, name, args, timeout=120):
    res = c.tool(name, args, timeout)
    if res.get("isError"):
        raise RuntimeError("%s: %s" % (name, res["content"][0]["text"]))
    return res.get("structuredContent") or json.loads(res["content"][0]["text"])


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else float("nan")


def run_none(args, exe, ncpu, root, c, tmp):
    w = Workloads(exe, ncpu, args.seconds)
    return w.finish(), None, None, ""


def run_schedmcp(unwind):
    def run(args, exe, ncpu, root, c, tmp):
        dur = args.seconds + 1.0
        if root:
            targ = {}
        c0 = cpu_secs(c.proc.pid)
        w = None
        if not root:
            w = Workloads(exe, ncpu, args.seconds)
            targ = {"pid": w.pids[0]}
        tool(c, "start_perf_profiling", dict(targ, frequency_hz=99, duration_secs=dur,
                                             unwind=unwind))
        if w is None:
            w = Workloads(exe, ncpu, args.seconds)
        rate = w.finish()
        tool(c, "get_perf_results", {"wait": True, "limit": 1}, timeout=dur + 30)
        used = cpu_secs(c.proc.pid) - c0
        t = time.monotonic()
        r = tool(c, "get_perf_results", {"limit": 20})
        ms = (time.monotonic() - t) * 1000
        m = r["unwind_methods"]
        return rate, used, r["samples"], "results %.0f ms; dwarf %d fp %d ip_only %d" % (
            ms, m["dwarf"], m["frame_pointer"], m["ip_only"])
    return run


def run_perf(cg):
    def run(args, exe, ncpu, root, c, tmp):
        data = os.path.join(tmp, "o.data")
        w = None
        if root:
            targ = ["-a"]
        else:
            w = Workloads(exe, ncpu, args.seconds)
            targ = ["-p", str(w.pids[0])]
        p = subprocess.Popen(["perf", "record", "-q", "-F", "99"] + cg + targ + ["-o", data, "--",
                                                                                "sleep",
                                                                                str(args.seconds
                                                                                    + 1.0)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        if w is None:
            w = Workloads(exe, ncpu, args.seconds)
        rate = w.finish()
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        used = ru.ru_utime + ru.ru_stime
        before = children_cpu()
        t = time.monotonic()
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--sort", "sym"], capture_output=True, text=True)
        ms = (time.monotonic() - t) * 1000
        return rate, used, samples_in(rep.stdout), "perf report %.0f ms, %.2f s CPU; %.1f MB" % (
            ms, children_cpu() - before, os.path.getsize(data) / 1e6)
    return run


def overhead(args, exe, ncpu, root):
    configs = [("no profiler", run_none),
               ("schedmcp unwind=auto (dwarf)", run_schedmcp("auto")),
               ("schedmcp unwind=fp", run_schedmcp("fp")),
               ("perf record -g", run_perf(["-g"])),
               ("perf record --call-graph dwarf", run_perf(["--call-graph", "dwarf"]))]
    res = {name: [] for name, _ in configs}
    c = client(args.build)
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            for name, fn in configs:
                res[name].append(fn(args, exe, ncpu, root, c, tmp))
    c.close()
    base = median([r[0] for r in res["no profiler"]])
    span = args.seconds + 1.0
    print("\n== Overhead: %s at 99 Hz, %d CPU-bound workloads of %.0f s, median of %d runs" % (
        "every CPU" if root else "one workload by pid (not root)", ncpu, args.seconds,
        args.repeat))
    print("   throughput = workload rounds per CPU-second the workloads got (other load on "
          "the machine does not move it)")
    print("%-30s %12s %8s %22s %8s  %s" % ("", "rounds/CPU-s", "cost", "profiler CPU", "samples",
                                          "notes (last run)"))
    for name, _ in configs:
        rs = res[name]
        rate = median([r[0] for r in rs])
        used = None if rs[0][1] is None else median([r[1] for r in rs])
        cost = "" if name == "no profiler" else "%+.2f%%" % (100.0 * (rate - base) / base)
        cpu = "" if used is None else "%.3f s = %.2f%% of a CPU" % (used, 100.0 * used / span)
        n = rs[-1][2]
        print("%-30s %12.1f %8s %22s %8s  %s" % (name, rate, cost, cpu, "" if n is None else n,
                                                 rs[-1][3]))


def samples_in(report):
    for line in report.splitlines():
        if line.startswith("# Samples:"):
            v = line.split(":")[1].split()[0]
            return int(float(v[:-1]) * 1000) if v.endswith("K") else int(v)
    return None


def perf_report_top(data, n=10):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                          "sym", "-q", "--percent-limit", "0"], capture_output=True,
                         text=True).stdout
    top = []
    for line in out.splitlines():
        line = line.strip()
        if line[:1].isdigit() and "%" in line:
            pct, _, rest = line.partition("%")
            top.append((rest.split("] ", 1)[-1].strip(), float(pct)))
    return top[:n]


def by_name(pairs):
    d = {}
    for sym, p in pairs:
        d[sym] = d.get(sym, 0.0) + p
    return sorted(d.items(), key=lambda x: -x[1])


def timed(cmd, runs):
    """Best wall time and its CPU over runs."""
    best = None
    for _ in range(runs):
        before = children_cpu()
        t = time.monotonic()
        subprocess.run(cmd, capture_output=True, check=True)
        wall = time.monotonic() - t
        cpu = children_cpu() - before
        if best is None or wall < best[0]:
            best = (wall, cpu)
    return best


def symbolisation(args, exe, ncpu, root):
    with tempfile.TemporaryDirectory() as tmp:
        for label, cg, freq, target in (("-g", ["-g"], args.freq, args.samples),
                                        ("--call-graph dwarf", ["--call-graph", "dwarf"],
                                         min(args.freq, 2000), args.dwarf_samples)):
            data = os.path.join(tmp, "s.data")
            secs = max(1.0, target / (freq * ncpu) * 1.15)
            w = Workloads(exe, ncpu, secs + 2)
            dd = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=64"],
                                  stderr=subprocess.DEVNULL)
            targ = ["-a"] if root else ["-p", str(w.pids[0])]
            subprocess.run(["perf", "record", "-q", "-F", str(freq)] + cg + targ +
                           ["-o", data, "--", "sleep", "%.1f" % secs], capture_output=True)
            dd.kill()
            dd.wait()
            for p in w.procs:
                p.kill()
                p.wait()
            sb_out = subprocess.run([args.symbench, "--top", "40", data], capture_output=True,
                                    text=True, check=True).stdout
            sb = json.loads(sb_out)
            rep = timed(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                         "sym"], 2)
            # unresolved addresses: we group them per file as [unknown], perf lists
            # each address; compare named symbols, summed by name on both sides
            ours = by_name((t["symbol"], t["self_pct"]) for t in sb["top"]
                           if t["symbol"] != "[unknown]")
            theirs = by_name((sym, p) for sym, p in perf_report_top(data, 40)
                             if not sym.startswith("0x"))
            top5 = [sym for sym, _ in ours[:5]]
            same5 = top5 == [sym for sym, _ in theirs[:5]]
            tp = dict(theirs)
            diff = max((abs(p - tp.get(sym, 0.0)) for sym, p in ours[:5]), default=0.0)
            n = sb["cold"]["samples"]
            print("\n== Symbolisation: perf record %s, %d samples, %.1f MB, %d distinct frames" %
                  (label, n, os.path.getsize(data) / 1e6, sb["cold"]["distinct_frames"]))
            for run in ("cold", "warm"):
                r = sb[run]
                print("  schedmcp %-5s kallsyms %6.1f ms  ingest+unwind %7.1f ms  symbolise "
                      "%6.1f ms  total %7.1f ms  (%.2f us/sample)" % (
                          run, r["kallsyms_ms"], r["ingest_ms"], r["symbolise_ms"],
                          r["total_ms"], 1000.0 * r["total_ms"] / max(n, 1)))
            print("  perf report (best of 2)  %7.1f ms wall, %.2f s CPU  (%.2f us/sample)" % (
                rep[0] * 1000, rep[1], 1e6 * rep[0] / max(n, 1)))
            print("  ratio perf report / schedmcp: cold %.1fx, warm %.1fx" % (
                rep[0] * 1000 / sb["cold"]["total_ms"], rep[0] * 1000 / sb["warm"]["total_ms"]))
            print("  unwind methods (ours): %s; frames resolved %d of %d" % (
                sb["unwind"], sb["cold"]["resolved_frames"], sb["cold"]["distinct_frames"]))
            print("  top-5 named symbols (self %%): same order %s, largest difference %.2f points" % (
                "yes" if same5 else "NO", diff))
            print("    ours: " + ", ".join("%s %.2f" % x for x in ours[:5]))
            print("    perf: " + ", ".join("%s %.2f" % x for x in theirs[:5]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("SMCP_BUILD_DIR",
                                                      os.path.join(SRC, "build")))
    ap.add_argument("--seconds", type=float, default=10.0, help="per overhead run")
    ap.add_argument("--repeat", type=int, default=3, help="overhead runs per configuration")
    ap.add_argument("--samples", type=int, default=100000, help="for the -g recording")
    ap.add_argument("--dwarf-samples", type=int, default=20000)
    ap.add_argument("--freq", type=int, default=10000, help="for the symbolisation recordings")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--skip-symbolisation", action="store_true")
    args = ap.parse_args()
    exe = os.path.join(args.build, "tests", "plugins", "perf_profiler", "pp-workload-nofp")
    args.symbench = os.path.join(args.build, "plugins", "perf_profiler", "perf-symbench")
    for f in (exe, args.symbench, os.path.join(args.build, "core", "schedmcp")):
        if not os.path.exists(f):
            sys.exit("perf_bench: %s missing: build first (ninja -C %s)" % (f, args.build))
    if subprocess.run(["perf", "--version"], capture_output=True).returncode != 0:
        sys.exit("perf_bench: perf (Debian linux-perf) is not installed")
    ncpu = os.cpu_count() or 1
    root = os.geteuid() == 0
    print("perf_profiler benchmark: %d CPUs, %s, %s" % (
        ncpu, subprocess.run(["perf", "--version"], capture_output=True, text=True).stdout.strip(),
        "root" if root else "unprivileged (pid-only)"))
    if not args.skip_overhead:
        overhead(args, exe, ncpu, root)
    if not args.skip_symbolisation:
        symbolisation(args, exe, ncpu, root)


if __name__ == "__main__":
    main()
