#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Memory over hours (issue 20): the daemon's RSS and fds under a steady
load for a long time.

One session with every built plugin, event tracking on, reading every
resource and one instance of every resource template five times a second
and calling poll_events with its cursor, while hackbench runs in a loop
(tests/lib/soak.py). RSS, anonymous memory, what the metric history says
it holds ('store', metrics://catalog) and open fds are sampled every
minute; the table shows each sample against the first minute's.

Verdict: flat when the least-squares slope of RSS over the second half of
the run is below --max-slope-kib (KiB/min) and the highest RSS is below
--max-rss-mib (32 MiB with every plugin), and the fd count ends where it
was after warm-up.

  bench/soak/soak.py [--minutes 60] [--every 60] [--rate 5] [--json FILE]
                     [--no-hackbench] [--args '--enable a,b']

Needs root (the BPF and perf plugins) and hackbench (rt-tests); exits 77
with the reason otherwise. It is a benchmark: it exits 0 whatever the
verdict, unless --strict is given.
"""
import argparse
import json
import os
import shlex
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
os.environ.setdefault("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
import mcp_client  # noqa: E402
import soak  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--rate", type=float, default=5.0, help="read rounds per second")
    ap.add_argument("--max-slope-kib", type=float, default=64.0,
                    help="flat: RSS slope over the second half below this (KiB/min)")
    ap.add_argument("--max-rss-mib", type=float, default=32.0)
    ap.add_argument("--no-hackbench", action="store_true")
    ap.add_argument("--args", default="", help="extra daemon arguments")
    ap.add_argument("--json", help="write the samples and verdict here")
    ap.add_argument("--malloc-stats", action="store_true",
                    help="also glibc's heap (arena, in use, mmapped) through gdb each sample; "
                    "a diagnostic: gdb calling into the daemon can hang it if it stopped "
                    "inside malloc")
    ap.add_argument("--stderr", help="keep the daemon's log here (default: a temporary file)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when not flat")
    o = ap.parse_args()

    if os.geteuid() != 0:
        print("SKIP: needs root (BPF event tracking, perf)")
        return 77
    hb = None
    if not o.no_hackbench:
        hb = soak.Hackbench()
        if not hb.args:
            print("SKIP: hackbench not found (Debian: rt-tests)")
            return 77

    err_path = o.stderr or tempfile.mkstemp(prefix="soak-", suffix=".log")[1]
    c = mcp_client.Client(args=shlex.split(o.args), stderr=open(err_path, "wb"))
    pid = soak.daemon_pid(c)
    load = soak.Load(c, hackbench=hb, rate_hz=o.rate)
    load.discover()
    tracking = load.enable_tracking()
    if hb:
        hb.start()
    print(f"soak: daemon {pid}, {len(load.static)} resources, "
          f"{sum(len(v) for v in load.instances.values())} template instances over "
          f"{len(load.instances)} templates, tracking {'on' if tracking else 'FAILED'}, "
          f"{o.rate:g} rounds/s, {o.minutes:g} min, a sample every {o.every:g} s", flush=True)
    heap_hdr = f" {'arena':>6} {'a.used':>6} {'mmap':>6}" if o.malloc_stats else ""
    print(f"{'min':>6} {'rss MiB':>8} {'x base':>7} {'anon MiB':>9} {'store':>6} {'fds':>4} "
          f"{'rounds/s':>9} {'events':>8} {'errors':>7}{heap_hdr}", flush=True)

    samples = []
    last = {"t": 0.0, "rounds": 0}

    def on_sample(t):
        s = soak.proc_sample(pid)
        s["t_s"] = round(t, 1)
        s["rounds"] = load.rounds
        s["events"] = load.events
        s["errors"] = load.errors
        # what the metric history says it holds (metrics://catalog)
        store = (load.read_json("metrics://catalog") or {}).get("store", {})
        s["store_kb"] = store.get("bytes_used", 0) // 1024
        heap = ""
        if o.malloc_stats:
            if hb:
                hb.pause()
            try:
                m = soak.malloc_stats(pid, err_path)
            finally:
                if hb:
                    hb.resume()
            if m:
                s.update(m)
                heap = (f" {m['arena_kb'] / 1024:6.1f} {m['arena_used_kb'] / 1024:6.1f}"
                        f" {m['mmap_kb'] / 1024:6.1f}")
        samples.append(s)
        base = samples[1]["rss_kb"] if len(samples) > 1 else s["rss_kb"]
        dt = t - last["t"]
        rate = (load.rounds - last["rounds"]) / dt if dt > 0 else 0.0
        last.update(t=t, rounds=load.rounds)
        print(f"{t / 60:6.1f} {s['rss_kb'] / 1024:8.1f} {s['rss_kb'] / base:7.2f} "
              f"{s['anon_kb'] / 1024:9.1f} {s['store_kb'] / 1024:6.1f} {s['fds']:4d} {rate:9.1f} {load.events:8d} "
              f"{load.errors:7d}{heap}", flush=True)

    try:
        load.run(o.minutes * 60, o.every, on_sample)
    finally:
        if hb:
            hb.stop()
        try:
            c.close(timeout=20)
        except Exception:
            c.proc.kill()
        if not o.stderr:
            os.unlink(err_path)

    # the first minute is warm-up (plugins' first reads, the history's
    # first blocks); the baseline is the sample at one minute
    later = samples[1:] if len(samples) > 2 else samples
    half = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2]
    slope = soak.linear_slope([s["t_s"] / 60 for s in half], [s["rss_kb"] for s in half])
    max_rss = max(s["rss_kb"] for s in samples)
    fds_grew = samples[-1]["fds"] - later[0]["fds"]
    flat = slope < o.max_slope_kib and max_rss < o.max_rss_mib * 1024 and fds_grew <= 0
    print(f"\nRSS: {later[0]['rss_kb'] / 1024:.1f} MiB at {later[0]['t_s'] / 60:.1f} min, "
          f"{samples[-1]['rss_kb'] / 1024:.1f} MiB at the end "
          f"(x{samples[-1]['rss_kb'] / later[0]['rss_kb']:.2f}), max {max_rss / 1024:.1f} MiB "
          f"(bound {o.max_rss_mib:g})")
    print(f"slope over the second half: {slope:+.1f} KiB/min (bound {o.max_slope_kib:g}); "
          f"fds {later[0]['fds']} -> {samples[-1]['fds']}")
    print(f"{load.rounds} rounds, {load.reads} reads, {load.events} events polled, "
          f"{load.errors} errors, {hb.runs if hb else 0} hackbench runs")
    if load.error_uris:
        print("errors: " + ", ".join(f"{u} {n}" for u, n in sorted(load.error_uris.items())))
    print(f"verdict: {'FLAT' if flat else 'GROWING'}")
    if o.json:
        with open(o.json, "w") as f:
            json.dump({"samples": samples, "slope_kib_per_min": slope, "max_rss_kb": max_rss,
                       "flat": flat}, f, indent=1)
    return 1 if o.strict and not flat else 0


if __name__ == "__main__":
    sys.exit(main())
