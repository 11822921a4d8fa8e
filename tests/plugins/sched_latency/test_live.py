"""sched_latency on the live kernel (root): a workload with a known shape
(two processes ping-ponging through pipes and a CPU hog on the same CPU)
gives switch counts within 2% of /proc/stat ctxt over the same interval,
shows up per process and thread with its latency, windows are named with
their spans, PIDs complete, sched_ext's absence is stated, and nothing of
ours stays loaded after the daemon exits (stdin closed or SIGTERM).
Suite 'bpf'."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402


def all_cpus(d, window):
    return d.read_json("stats://aggregated/cpu")["system"][window]["all_cpus"]


def main():
    sltest.need_root()
    ck = sltest.Checker()
    if sltest.our_programs() is None:
        sltest.skip("bpftool is missing")
    d = sltest.start_loaded(ck)
    progs = sltest.our_programs(d.proc.pid)
    ck.check({"sl_switch", "sl_wakeup", "sl_wakeup_new", "sl_exit"} <= set(progs),
             f"our programs are loaded: {progs}")
    ids = sltest.program_ids(d.proc.pid)

    # switch counts against /proc/stat over the same interval
    hog = sltest.Workload("hog", 6, 0)
    s0, c0 = all_cpus(d, "since_start")["switches"], sltest.ctxt()
    pp = sltest.Workload("pingpong", 3, 0)
    out = pp.wait()
    s1, c1 = all_cpus(d, "since_start")["switches"], sltest.ctxt()
    ours, kernel = s1 - s0, c1 - c0
    ck.check(kernel > 10000, f"the workload switched enough: {kernel}")
    ck.check(abs(ours - kernel) <= 0.02 * kernel,
             f"switches within 2% of /proc/stat ctxt: ours {ours}, kernel {kernel}")
    print(f"switches: ours {ours}, /proc/stat {kernel}, {out.strip()}")

    # the ping-pong processes per process and per thread
    parent, child = pp.pids
    body = d.read_json(f"stats://process/{parent}")
    ck.check(body.get("pid") == parent, f"template answers for {parent}")
    start = [w for w in body.get("windows", []) if w["window"]["name"] == "since_start"]
    row = start[0]["process"][0] if start and start[0]["process"] else None
    ck.check(row and row["voluntary"] > 1000, f"ping-pong switches counted: {row}")
    lat = row and row["run_queue_latency"]
    ck.check(lat and lat["samples"] > 1000 and lat["p50_us"] > 0 and "max_us" in lat,
             f"latency with samples beside percentiles: {lat}")
    ck.check(row and "histogram" in row and row["histogram"]["counts"], "histogram since start")
    threads = d.structured("measure_latency", {"window": "since_start", "group_by": "thread",
                                              "pid": str(child), "limit": 5})
    tids = [r["tid"] for r in threads["rows"]]
    ck.check(tids == [child], f"thread rows filtered by pid: {tids}")

    # windows are named, spans given, sample counts beside percentiles
    cpu = d.read_json("stats://aggregated/cpu")
    for w in ("1s", "10s", "60s", "since_start"):
        win = cpu["system"][w]["window"]
        ck.check(win["name"] == w and win["span_s"] > 0, f"window {w}: {win}")
        ck.check("samples" in cpu["system"][w]["all_cpus"]["run_queue_latency"],
                 f"samples in {w}")
    ck.check(cpu["system"]["60s"]["window"].get("incomplete") is True,
             "60 s window after a few seconds says it is incomplete")
    ck.check(len(cpu["per_cpu"]["cpus"]) == os.cpu_count(), "one row per CPU")
    hog.wait()

    # completion offers the busy PIDs
    r = d.request("completion/complete", {
        "ref": {"type": "ref/resource", "uri": "stats://process/{pid}"},
        "argument": {"name": "pid", "value": str(parent)[:2]}})
    vals = r.get("result", {}).get("completion", {}).get("values", [])
    ck.check(str(parent) in vals or r["result"]["completion"].get("hasMore"),
             f"completion offers {parent}: {vals[:10]}")

    # sched_ext is absent on this kernel, and said so
    dsq = d.read_json("stats://aggregated/dsq")
    if not dsq["sched_ext"]["in_kernel"]:
        ck.check(dsq["available"] is False and
                 "sched_ext is not available on this kernel" in dsq["reason"],
                 f"dsq: {dsq}")

    # llc and node views exist and name their mapping
    for uri, key in (("stats://aggregated/llc", "llcs"), ("stats://aggregated/node", "nodes")):
        body = d.read_json(uri)
        ck.check(body.get("mapping") and body["windows"] and key in body["windows"][0],
                 f"{uri}: {str(body)[:200]}")

    # nothing stays attached: stdin closed ...
    d.close()
    ck.check(ids and sltest.wait_until(lambda: not sltest.still_loaded(ids)),
             f"no program of ours after exit: {sltest.still_loaded(ids)} of {sorted(ids)}")
    # ... or SIGTERM
    d = sltest.start_loaded(ck)
    ids = sltest.program_ids(d.proc.pid)
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(10)
    ck.check(ids and sltest.wait_until(lambda: not sltest.still_loaded(ids)),
             f"no program of ours after SIGTERM: {sltest.still_loaded(ids)} of {sorted(ids)}")
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
