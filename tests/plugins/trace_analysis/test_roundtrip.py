"""trace_record -> trace_analysis: a recording of a ping-pong workload made
by the trace_record plugin loads in trace_analysis with the same count of
every event type the recorder says it wrote. Needs root and BPF (suite
bpf); exits 77 with the reason when trace_record is not built or cannot
record here."""
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tatest as TA  # noqa: E402
import smcp_test as T  # noqa: E402

C = T.Checker("trace_analysis/roundtrip")
check, eq = C.check, C.eq
BOTH = ["sched_switch", "sched_waking", "sched_wakeup_new", "sched_migrate_task",
        "irq_handler_entry", "irq_handler_exit", "softirq_entry", "softirq_exit",
        "sched_process_fork", "sched_process_exit"]


@C.case
def test_record_then_load():
    if os.geteuid() != 0:
        raise T.Skip("recording needs root")
    so = [os.path.join(T.BUILD, "plugins", n, n + ".so") for n in ("trace_analysis",
                                                                   "trace_record")]
    for f in so:
        if not os.path.isfile(f):
            raise T.Skip(f"{os.path.basename(f)} is not built")
    d = TA.trace_dir()
    try:  # the recorder writes as the daemon's account, which must own the directory
        pw = pwd.getpwnam("schedmcp")
        os.chown(d, pw.pw_uid, pw.pw_gid)
    except KeyError:
        pass
    cfg = T.write_config(f"[plugin trace_analysis]\ndir = {d}\n[plugin trace_record]\ndir = {d}\n")
    with T.Daemon(["--enable", "trace_analysis,trace_record", "--log-level",
                   "error", "--config", cfg], plugin_dir_=T.plugin_dir(nested=so)) as c:
        ta = c.plugin_state("trace_analysis")
        check(ta and ta.get("state") in ("loaded", "degraded"), f"trace_analysis: {ta}")
        st = c.plugin_state("trace_record")
        if not st or st.get("state") != "loaded":
            raise T.Skip(f"trace_record cannot run here: {st}")
        w = subprocess.Popen(["perf", "bench", "sched", "pipe", "-T", "-l", "20000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) \
            if T.shutil.which("perf") else None
        r = c.tool("trace_record", {"action": "record", "duration_s": 2}, timeout=60)
        if w:
            w.wait()
        check(not r.get("isError"), f"recorded: {r}")
        rec = r["structuredContent"]
        loaded = c.structured("trace_load", {"file": rec["file"]})
        eq(loaded["format"], "perfetto", "our own trace is a Perfetto trace")
        s = TA.analyze(c, rec["file"], "summary")
        counts = {x["event"]: x["count"] for x in s["rows"]}
        check(rec["events"].get("sched_switch", 0) > 100, f"switches recorded: {rec['events']}")
        for e in BOTH:
            eq(counts.get(e, 0), rec["events"].get(e, 0), f"{e}: loaded vs recorded")
        # the trace's per-CPU losses: the ring's, the pending buffers', and
        # the interrupts the kernel ran no BPF for (the per-type ring keys
        # only split ring_buffer_full)
        lost = sum(rec["lost"].get(k, 0) for k in ("ring_buffer_full", "pending_buffer_full",
                                                   "kernel_ran_no_bpf"))
        eq(s["lost_events"], lost, "losses written into the trace and read back")
        states, _ = TA.all_rows(c, rec["file"], "states", limit=500)
        check(any(x["switches"] > 0 for x in states), "states from our own trace")


if __name__ == "__main__":
    C.main()
