#!/usr/bin/env python3
"""trace_record under load, with figures (root; not part of any test suite):
   SMCP_BUILD_DIR=build python3 bench/trace_record/record_bench.py [seconds]
hackbench (pipes) runs while trace_record records; prints events/s written,
bytes per event, losses, and the BPF cost per event of each program
(run_time_ns / run_cnt with kernel.bpf_stats_enabled=1, restored after),
beside hackbench's own time with and without the recording."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "plugins", "trace_record"))
import trtest  # noqa: E402

SECS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
HB = ["hackbench", "-p", "-g", "2", "-f", "10", "-l", "20000"]


def hackbench_s():
    t = time.monotonic()
    subprocess.run(HB, stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - t


def main():
    trtest.need_root()
    tdir = trtest.trace_dir()
    old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    d = trtest.start_loaded(tdir, extra_config="max_duration_s = 120\n")
    try:
        base = min(hackbench_s() for _ in range(2))
        open("/proc/sys/kernel/bpf_stats_enabled", "w").write("1")
        r = d.structured("trace_record", {"action": "start", "duration_s": 120})
        while d.structured("trace_record", {"action": "status"})["state"] == "starting":
            time.sleep(0.1)
        rec = min(hackbench_s() for _ in range(2))
        progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"],
                                          capture_output=True, text=True).stdout)
        r = d.structured("trace_record", {"action": "stop", "id": r["id"]}, timeout=120)
        win = (r["end_ns"] - r["start_ns"]) / 1e9
        print(f"hackbench {' '.join(HB[1:])}: {base:.2f} s alone, {rec:.2f} s recorded "
              f"(x{rec / base:.2f})")
        print(f"recorded {r['events_total']} events in {win:.2f} s: "
              f"{r['events_total'] / win:.0f} events/s, {r['bytes']} bytes, "
              f"{r.get('bytes_per_event', 0):.2f} bytes/event (file, with headers)")
        sw = r["events"].get("sched_switch", 0)
        print(f"sched_switch {sw} ({sw / win:.0f}/s); lost {r['lost']}; "
              f"longest job {r['longest_job_ms']:.0f} ms")
        for p in progs:
            if p.get("name", "").startswith("tr_") and p.get("run_cnt"):
                print(f"  {p['name']:18} {p['run_time_ns'] / p['run_cnt']:7.0f} ns/event "
                      f"over {p['run_cnt']} runs")
    finally:
        open("/proc/sys/kernel/bpf_stats_enabled", "w").write(old)
        d.close(timeout=60)
        trtest.smcp_test.remove_dir(tdir)


if __name__ == "__main__":
    main()
