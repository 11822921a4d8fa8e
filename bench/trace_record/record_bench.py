#!/usr/bin/env python3
"""trace_record against the kernel's ftrace buffer and `perf sched record`,
in one run (root; not part of any test suite):
   SMCP_BUILD_DIR=build python3 bench/trace_record/record_bench.py [rounds]
   meson test -C build --benchmark tr-record-bench

Two workloads: `pipe` (a `perf bench sched pipe` pair pinned to each CPU,
about 300k context switches/s on 2 CPUs: the issue's "200k switches/s") and
`hackbench` (pipes, processes). Each runs alone and under each recorder:
  ours    trace_record with its default buffers (ring_mb 16, drain_ms 50)
  ftrace  a tracefs instance with the same events and a buffer that holds
          the whole window (FTRACE_MB per CPU: `trace-cmd record`, which
          reads as it goes, is refused on these machines), saved with
          `trace-cmd extract` afterwards
  perf    `perf sched record` (its own event set), system-wide
Modes alternate within each round and medians are printed, since the host
is shared. Per recorder: the workload's slowdown, the extra CPU time per
recorded event (all CPUs' busy time in the window minus the same without a
recorder: the probes, the buffers, the reader), events recorded and lost,
bytes per event in the file (trace.dat and perf.data with their headers),
and for ours the BPF programs' own ns per event (bpf_stats). trace-cmd 3
writes trace.dat compressed (zstd): ftrace's uncompressed ring bytes and our
file through zstd are printed beside it. Ratios are ours / peer of the same
run."""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "plugins", "trace_record"))
import trtest  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
FTRACE_MB = 128  # per CPU: no reader runs during the window
NCPU = os.cpu_count() or 1
# one pair per CPU: a pair's speed depends on whether its ends share a CPU,
# which left alone varies from run to run
PIPE = ("sh -c 'for c in $(seq 0 $(($(nproc) - 1))); do taskset -c $c perf bench sched pipe "
        "-l 150000 >/dev/null & done; wait'")
WORKLOADS = {"pipe": PIPE, "hackbench": "hackbench -p -g 2 -f 10 -l 8000 >/dev/null"}


def cpu_stat():
    """(context switches, busy CPU seconds over all CPUs) from /proc/stat."""
    with open("/proc/stat") as f:
        text = f.read()
    v = [int(x) for x in text.split("\n", 1)[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq
    return int(re.search(r"^ctxt (\d+)", text, re.M).group(1)), busy / hz


def run_workload(cmd):
    """Runs cmd; returns (wall s, switches/s, busy CPU s)."""
    s0, b0 = cpu_stat()
    t = time.monotonic()
    subprocess.run(cmd, shell=True, check=True)
    wall = time.monotonic() - t
    s1, b1 = cpu_stat()
    return wall, (s1 - s0) / wall, b1 - b0


def bpf_prog_stats():
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"],
                                      capture_output=True, text=True).stdout)
    return {p["id"]: (p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in progs
            if p.get("name", "").startswith("tr_")}


def mode_alone(d, cmd, tmp):
    wall, sw, busy = run_workload(cmd)
    return {"wall": wall, "sw": sw, "busy": busy}


def mode_ours(d, cmd, tmp):
    r = d.structured("trace_record", {"action": "start", "duration_s": 120})
    while d.structured("trace_record", {"action": "status"})["state"] == "starting":
        time.sleep(0.05)
    before = bpf_prog_stats()
    wall, sw, busy = run_workload(cmd)
    after = bpf_prog_stats()
    r = d.structured("trace_record", {"action": "stop", "id": r["id"]}, timeout=120)
    ns = sum(after[k][0] - before.get(k, (0, 0))[0] for k in after)
    cnt = sum(after[k][1] - before.get(k, (0, 0))[1] for k in after)
    lost = r["lost"]["ring_buffer_full"] + r["lost"]["pending_buffer_full"]
    path = os.path.join(d.tdir, r["file"])
    zst = zstd_bytes(path)
    os.unlink(path)
    return {"wall": wall, "sw": sw, "busy": busy, "events": r["events_total"], "lost": lost,
            "bytes": r["bytes"], "zst": zst, "bpf_ns": ns / cnt if cnt else 0}


def zstd_bytes(path):
    """The file's size compressed as trace-cmd 3 compresses trace.dat
    (zstd, its default level), or 0 without the zstd tool."""
    if not shutil.which("zstd"):
        return 0
    p = subprocess.run(["zstd", "-q", "-c", path], capture_output=True)
    return len(p.stdout) if p.returncode == 0 else 0


def mode_ftrace(d, cmd, tmp):
    inst = trtest.FtraceInstance(f"smcp_trace_record_{os.getpid()}",
                                 buffer_kb=FTRACE_MB * 1024)
    try:
        inst.on(True)
        wall, sw, busy = run_workload(cmd)
        inst.on(False)
        events = lost = ring_bytes = 0
        for c in os.listdir(f"{inst.path}/per_cpu"):
            st = open(f"{inst.path}/per_cpu/{c}/stats").read()
            get = lambda k: int(m.group(1)) if (m := re.search(rf"^{k}: (\d+)", st, re.M)) else 0  # noqa: E731
            events += get("entries")
            ring_bytes += get("bytes")
        lost = sum(inst.lost().values())
        out = os.path.join(tmp, "trace.dat")
        # extract fails when /proc/kallsyms changed size meanwhile: then the
        # ring's own byte count stands in (said in the output)
        x = subprocess.run(["trace-cmd", "extract", "-B", inst.name, "-o", out],
                           capture_output=True, text=True, timeout=120)
        size, what = (os.path.getsize(out), "trace.dat") if x.returncode == 0 and \
            os.path.exists(out) else (ring_bytes, "ring bytes")
        if os.path.exists(out):
            os.unlink(out)
        return {"wall": wall, "sw": sw, "busy": busy, "events": events + lost, "lost": lost,
                "bytes": size, "bytes_what": what, "ring": ring_bytes}
    finally:
        inst.close()


def mode_perf(d, cmd, tmp):
    out = os.path.join(tmp, "perf.data")
    s0, b0 = cpu_stat()
    t = time.monotonic()
    p = subprocess.run(["perf", "sched", "record", "-o", out, "--", "sh", "-c", cmd],
                       capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - t
    s1, b1 = cpu_stat()
    if p.returncode:
        raise RuntimeError(f"perf sched record: {p.stderr[-300:]}")
    m = re.search(r"\((\d+) samples\)", p.stderr)
    lost = sum(int(x) for x in re.findall(r"Processed \d+ events and lost (\d+) chunks",
                                           p.stderr))
    lost += sum(int(x) for x in re.findall(r"(\d+) samples? lost", p.stderr))
    size = os.path.getsize(out)
    os.unlink(out)
    return {"wall": wall, "sw": (s1 - s0) / wall, "busy": b1 - b0,
            "events": int(m.group(1)) if m else 0, "lost": lost, "bytes": size}


MODES = {"alone": mode_alone, "ours": mode_ours, "ftrace": mode_ftrace, "perf": mode_perf}


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    trtest.need_root()
    for tool in ("perf", "trace-cmd", "hackbench", "bpftool"):
        if not shutil.which(tool):
            trtest.skip(f"no {tool}: the peers cannot run")
    tdir = trtest.trace_dir()
    tmp = tempfile.mkdtemp(prefix="smcp-trbench-")
    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    old = open(stats_path).read().strip()
    d = trtest.start_loaded(tdir, extra_config="max_duration_s = 120\n")
    res = {w: {m: [] for m in MODES} for w in WORKLOADS}
    try:
        open(stats_path, "w").write("1")
        for rnd in range(ROUNDS):
            order = list(MODES) if rnd % 2 == 0 else list(reversed(MODES))
            for w, cmd in WORKLOADS.items():
                for m in order:
                    res[w][m].append(MODES[m](d, cmd, tmp))
            print(f"round {rnd + 1}/{ROUNDS} done", flush=True)
    finally:
        open(stats_path, "w").write(old)
        d.close(timeout=60)
        trtest.smcp_test.remove_dir(tdir)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{NCPU} CPUs, medians of {ROUNDS} rounds; cost = extra busy CPU time over all "
          "CPUs in the window / events recorded")
    for w in WORKLOADS:
        a = res[w]["alone"]
        base_wall, base_busy = med(a, "wall"), med(a, "busy")
        print(f"\n{w}: {WORKLOADS[w]}\n  alone: {base_wall:.2f} s, "
              f"{med(a, 'sw') / 1000:.0f}k switches/s")
        row = {}
        for m in ("ours", "ftrace", "perf"):
            r = res[w][m]
            ev = med(r, "events")
            cost = (med(r, "busy") - base_busy) / ev * 1e9 if ev else 0
            row[m] = {"slow": med(r, "wall") / base_wall, "cost": cost,
                      "bpe": med(r, "bytes") / ev if ev else 0,
                      "raw": med(r, "ring" if m == "ftrace" else "bytes") / ev if ev else 0,
                      "zst": med(r, "zst" if m == "ours" else "bytes") / ev if ev else 0}
            extra = ""
            if m == "ours":
                extra = f", BPF {med(r, 'bpf_ns'):.0f} ns/event (bpf_stats)"
                if med(r, "zst"):
                    extra += f", {med(r, 'zst') / ev:.1f} bytes/event zstd-compressed"
            elif m == "ftrace":
                extra = f", {med(r, 'ring') / ev:.1f} bytes/event in the ring (uncompressed)"
            what = r[-1].get("bytes_what", {"ours": "perfetto", "perf": "perf.data"}[m]
                             if m != "ftrace" else "trace.dat")
            print(f"  {m:7} x{row[m]['slow']:.2f} wall, {med(r, 'sw') / 1000:.0f}k switches/s, "
                  f"{ev / med(r, 'wall') / 1000:.0f}k events/s, lost {max(x['lost'] for x in r)} "
                  f"(worst round), {cost:.0f} ns CPU/event, {row[m]['bpe']:.1f} bytes/event "
                  f"({what}){extra}")
        for peer in ("ftrace", "perf"):
            p, o = row[peer], row["ours"]
            ratio = (lambda a, b: f"{a / b:.2f}" if b > 0 and a > 0 else
                     "- (within the noise)")
            size = (f"bytes/event {ratio(o['raw'], p['raw'])} uncompressed, "
                    f"{ratio(o['zst'], p['zst'])} compressed" if peer == "ftrace" else
                    f"bytes/event {ratio(o['bpe'], p['bpe'])}")
            print(f"  ours/{peer}: wall {o['slow'] / p['slow']:.2f}, cost/event "
                  f"{ratio(o['cost'], p['cost'])}, {size}")


if __name__ == "__main__":
    main()
