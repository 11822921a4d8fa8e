"""The raw_tp fallback (root), forced with `programs = raw_tp`: the same
counts as tp_btf (switches within 2% of /proc/stat), per-process data from
the tid-keyed hash instead of task storage, measurements and the stream
work, and nothing stays loaded after exit. Suite 'bpf'."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

CONFIG = "[plugin sched_latency]\nprograms = raw_tp\n"


def main():
    sltest.need_root()
    ck = sltest.Checker()
    d = sltest.start_loaded(ck, config=CONFIG)
    try:
        cpu = d.read_json("stats://aggregated/cpu")
        ck.check(cpu["source"]["programs"] == "raw_tp", f"raw_tp in use: {cpu['source']}")
        progs = sltest.our_programs(d.proc.pid) or []
        ids = sltest.program_ids(d.proc.pid)
        ck.check("sl_switch_raw" in progs and "sl_switch" not in progs,
                 f"the raw_tp set is loaded: {progs}")
        c0 = sltest.ctxt()
        s0 = d.read_json("stats://aggregated/cpu")["system"]["since_start"]["all_cpus"]["switches"]
        pp = sltest.Workload("pingpong", 3, 0)
        pp.wait()
        s1 = d.read_json("stats://aggregated/cpu")["system"]["since_start"]["all_cpus"]["switches"]
        c1 = sltest.ctxt()
        ck.check(abs((s1 - s0) - (c1 - c0)) <= 0.02 * (c1 - c0),
                 f"switches within 2%: ours {s1 - s0}, kernel {c1 - c0}")
        time.sleep(1.2)
        body = d.read_json(f"stats://process/{pp.pids[0]}")
        start = [w for w in body.get("windows", []) if w["window"]["name"] == "since_start"]
        row = start[0]["process"][0] if start and start[0]["process"] else None
        ck.check(row and row["run_queue_latency"]["samples"] > 1000,
                 f"the ping-pong process from the hash: {row and row['run_queue_latency']}")
        pp2 = sltest.Workload("pingpong", 10)
        try:
            m = d.structured("measure_latency", {"duration_s": 2, "pid": pp2.pids[1]},
                             timeout=20)
            ck.check(m["run_queue_latency"]["samples"] > 100, f"measure: {m['run_queue_latency']}")
            d.structured("control_event_tracking", {"action": "enable", "pid": pp2.pids[0],
                                                    "types": "wakeup"})
            time.sleep(1.5)
            ev = d.structured("poll_events", {"type": "sched.wakeup", "limit": 50})["events"]
            ck.check(ev and all(pp2.pids[0] in (e["pid"], e.get("waker_pid")) for e in ev),
                     f"stream in raw_tp mode: {ev[:2]}")
            sirq = d.structured("analyze_softirq", {"duration_s": 1})
            ck.check(sirq["softirqs"] and all(
                     t["kernel_count"] - max(10, 0.05 * t["kernel_count"]) <= t["count"]
                     <= t["kernel_count"] for t in sirq["softirqs"]),
                     f"softirqs timed in raw_tp mode, counts as the kernel's: "
                     f"{[(t['name'], t['count'], t['kernel_count']) for t in sirq['softirqs']]}")
        finally:
            pp2.kill()
    finally:
        d.close()
    ck.check(ids and sltest.wait_until(lambda: not sltest.still_loaded(ids)),
             f"nothing left after exit: {sltest.still_loaded(ids)} of {sorted(ids)}")
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
