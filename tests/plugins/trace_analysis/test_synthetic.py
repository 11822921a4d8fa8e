"""trace_analysis on synthetic traces with hand-computed answers: task
states of two threads on one CPU (per-event FtraceEvents), a wakeup chain
across three threads on two CPUs (compact_sched, delta-encoded, interned
comms, split over bundles out of order), and a trace of track events
(slices, counters, a DSQ counter track). Suite 'plugins', unprivileged."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tatest as TA  # noqa: E402
from smcp_test import Checker  # noqa: E402

C = Checker("trace_analysis/synthetic")
check, eq = C.check, C.eq

# One CPU. A (100) runs, is preempted by B (200), runs again, blocks (D);
# B sleeps (S), A wakes B, B wakes A, A runs to the end.
STATES = TA.bundle(0, "".join([
    TA.switch(1000, 0, 0, 100, "swapper/0", "A"),
    TA.switch(2000, 100, 0, 200, "A", "B"),            # A preempted (R) by B
    TA.switch(3000, 200, 1, 100, "B", "A"),            # B sleeps (S)
    TA.waking(4000, 200, "B", 0, cur=100),             # A wakes B
    TA.ev(4300, 100, 'sched_wakeup { comm: "B" pid: 200 prio: 120 success: 1 '
                     'target_cpu: 0 }'),                 # B on the run queue 300 ns later
    TA.switch(5000, 100, 2, 200, "A", "B"),            # A blocks (D)
    TA.waking(7000, 100, "A", 0, cur=200),             # B wakes A
    TA.switch(8000, 200, 1, 100, "B", "A"),            # B sleeps
    TA.switch(10000, 100, 0, 0, "A", "swapper/0"),     # A preempted by idle at the end
]))

# Two CPUs, compact_sched. CPU 1: Y(400) runs, sleeps; Z(500) runs,
# sleeps; idle; Y runs (woken by X on CPU 0 at 2000), wakes Z at 3000,
# sleeps at 3500; Z runs to 5000. CPU 0: X(300) runs from 50.
# The second CPU-1 bundle comes first in the file (order across bundles is
# by timestamp, not by file position).
CHAIN = """
packet { ftrace_events { cpu: 1 compact_sched {
  intern_table: "swapper/1" intern_table: "Y" intern_table: "Z"
  switch_timestamp: [2500, 1000, 1500]
  switch_prev_state: [0, 1, 1]
  switch_next_pid: [400, 500, 0]
  switch_next_prio: [120, 120, 120]
  switch_next_comm_index: [1, 2, 0]
  waking_timestamp: [3000]
  waking_pid: [500]
  waking_target_cpu: [1]
  waking_prio: [120]
  waking_comm_index: [2]
} } }
packet { ftrace_events { cpu: 1 compact_sched {
  intern_table: "Y" intern_table: "Z" intern_table: "swapper/1"
  switch_timestamp: [100, 100, 300]
  switch_prev_state: [0, 1, 1]
  switch_next_pid: [400, 500, 0]
  switch_next_prio: [120, 120, 120]
  switch_next_comm_index: [0, 1, 2]
} } }
packet { ftrace_events { cpu: 0 compact_sched {
  intern_table: "X" intern_table: "Y"
  switch_timestamp: [50]
  switch_prev_state: [0]
  switch_next_pid: [300]
  switch_next_prio: [120]
  switch_next_comm_index: [0]
  waking_timestamp: [2000]
  waking_pid: [400]
  waking_target_cpu: [1]
  waking_prio: [120]
  waking_comm_index: [1]
} } }
packet { process_tree { processes { pid: 300 ppid: 1 cmdline: "/usr/bin/xproc" }
                        threads { tid: 400 tgid: 300 name: "Y" } } }
"""

TRACKS = """
packet { track_descriptor { uuid: 11 name: "slices" } }
packet { track_descriptor { uuid: 12 name: "DSQ 0 depth" counter { } } }
packet { timestamp: 100 track_event { type: TYPE_SLICE_BEGIN track_uuid: 11 name: "work" } }
packet { timestamp: 200 track_event { type: TYPE_SLICE_END track_uuid: 11 } }
packet { timestamp: 300 track_event { type: TYPE_SLICE_BEGIN track_uuid: 11 name: "more" } }
packet { timestamp: 400 track_event { type: TYPE_SLICE_END track_uuid: 11 } }
packet { timestamp: 500 track_event { type: TYPE_INSTANT track_uuid: 11 name: "mark" } }
packet { timestamp: 600 track_event { type: TYPE_COUNTER track_uuid: 12 counter_value: 4 } }
packet { timestamp: 700 track_event { type: TYPE_COUNTER track_uuid: 12 counter_value: 2 } }
packet { timestamp: 800 track_event { type: TYPE_COUNTER track_uuid: 12 counter_value: 6 } }
packet { ftrace_events { cpu: 1
  event { timestamp: 100 pid: 0 irq_handler_entry { irq: 24 name: "virtio" } }
  event { timestamp: 150 pid: 0 irq_handler_exit { irq: 24 ret: 1 } }
  event { timestamp: 200 pid: 0 softirq_entry { vec: 3 } }
  event { timestamp: 260 pid: 0 softirq_exit { vec: 3 } } } }
"""


def by_tid(rows):
    return {r["tid"]: r for r in rows if "tid" in r}


@C.case
def test_task_states():
    d = TA.trace_dir()
    TA.write(d, "states.pftrace", TA.encode(STATES))
    with TA.daemon(d) as c:
        r = TA.load(c, "states.pftrace")
        check(not r.get("isError"), f"loaded: {r}")
        s = TA.analyze(c, "states.pftrace", "summary")
        eq(s["first_ts_ns"], 1000, "first event")
        eq(s["last_ts_ns"], 10000, "last event")
        counts = {x["event"]: x["count"] for x in s["rows"]}
        eq(counts["sched_switch"], 6, "switches")
        eq(counts["sched_waking"], 2, "wakings")
        rows, _ = TA.all_rows(c, "states.pftrace", "states")
        t = by_tid(rows)
        a, b = t[100], t[200]
        eq(a["comm"], "A", "A's name")
        # A: run 1000-2000, 3000-5000, 8000-10000; runnable 2000-3000 and
        # 7000-8000; blocked 5000-7000
        eq(a["running_ns"], 5000, "A running")
        eq(a["runnable_ns"], 2000, "A runnable")
        eq(a["blocked_ns"], 2000, "A blocked (D)")
        eq(a["sleeping_ns"], 0, "A sleeping")
        eq(a["observed_ns"], 9000, "A observed")
        eq(a["preempted"], 2, "A preempted twice")
        # B: first seen at 2000; run 2000-3000, 5000-8000; sleep 3000-4000,
        # 8000-10000; runnable 4000-5000
        eq(b["running_ns"], 4000, "B running")
        eq(b["sleeping_ns"], 3000, "B sleeping")
        eq(b["runnable_ns"], 1000, "B runnable")
        eq(b["blocked_ns"], 0, "B blocked")
        check(abs(a["running_pct"] - 100 * 5000 / 9000) < 0.01, f"A running % {a['running_pct']}")
        check(a["iowait_ns"] is None, "iowait is said to be unknown")
        lat, _ = TA.all_rows(c, "states.pftrace", "latency", group="thread")
        lt = by_tid(lat)
        eq(lt[100]["samples"], 2, "A's delays")
        eq(lt[100]["after_wakeup_delay_ns"], 1000, "A woken 7000, ran 8000")
        eq(lt[100]["after_preemption_delay_ns"], 1000, "A preempted 2000, ran 3000")
        eq(lt[200]["after_wakeup_delay_ns"], 1000, "B woken 4000, ran 5000")
        eq(lt[200]["p99_ns"], 1000, "B's p99")
        eq((lt[200]["wakeups_with_enqueue"], lt[200]["waking_to_runnable_ns"]), (1, 300),
           "B: waking -> runnable 300 ns (then runnable -> running 700)")
        check("waking_to_runnable_ns" not in lt[100], "A's wakes had no sched_wakeup")
        cpu = TA.analyze(c, "states.pftrace", "latency", group="cpu")["rows"][0]
        eq((cpu["cpu"], cpu["samples"], cpu["total_delay_ns"]), (0, 3, 3000), "CPU 0's delays")
        check(abs(cpu["busy_pct"] - 100) < 1e-6, f"CPU 0 busy all the time: {cpu}")
        pre, _ = TA.all_rows(c, "states.pftrace", "preemptions")
        eq([(p["preempter_tid"], p["victim_tid"], p["count"]) for p in pre], [(200, 100, 1)],
           "B preempted A once")
        wk, _ = TA.all_rows(c, "states.pftrace", "wakeups")
        eq(sorted((w["waker_tid"], w["wakee_tid"], w["count"]) for w in wk),
           [(100, 200, 1), (200, 100, 1)], "A woke B, B woke A")
        w = TA.analyze(c, "states.pftrace", "thread_window", tid=100, t1_ns=500, t2_ns=3500)
        eq([(x["start_ns"], x["dur_ns"], x["state"]) for x in w["rows"]],
           [(500, 500, "running"), (1000, 1000, "runnable"), (2000, 1500, "running")],
           "what A did between 500 and 3500 ns from the start")
        eq(w["running_ns"], 2000, "A's running time in the window")
        # states and latency over a window: 2500-6500 (1500-5500 from the start)
        ws = by_tid(TA.all_rows(c, "states.pftrace", "states", t1_ns=1500, t2_ns=5500)[0])
        eq((ws[100]["running_ns"], ws[100]["runnable_ns"], ws[100]["blocked_ns"],
            ws[100]["switches"]), (2000, 500, 1500, 1),
           "A in the window: runnable 2500-3000, runs 3000-5000, blocked 5000-6500")
        eq((ws[200]["running_ns"], ws[200]["sleeping_ns"], ws[200]["runnable_ns"],
            ws[200]["switches"]), (2000, 1000, 1000, 1),
           "B in the window: runs 2500-3000 and 5000-6500, sleeps 3000-4000, runnable "
           "4000-5000, switched in once (at 5000)")
        wl = by_tid(TA.all_rows(c, "states.pftrace", "latency", group="thread",
                                t1_ns=1500, t2_ns=5500)[0])
        eq((wl[100]["samples"], wl[100]["after_preemption"], wl[200]["samples"]), (1, 1, 1),
           "the waits that ended in the window: A's after its preemption, B's wake")
        tl = TA.analyze(c, "states.pftrace", "timeline", cpu=0)
        eq([x["tid"] for x in tl["rows"]], [100, 200, 100, 200, 100], "what ran on CPU 0")
        tp = TA.analyze(c, "states.pftrace", "timeline", pid=100)
        eq([(x["start_ns"], x["dur_ns"], x["state"]) for x in tp["rows"]],
           [(0, 1000, "running"), (1000, 1000, "runnable"), (2000, 2000, "running"),
            (6000, 1000, "runnable"), (7000, 2000, "running")], "process 100's timeline")
        eq(tp["rows"][1].get("preempted_by"), "B", "who preempted it")
        dsq = TA.analyze(c, "states.pftrace", "dsq")
        check("not applicable" in dsq.get("note", ""), f"dsq not applicable: {dsq}")


@C.case
def test_wakeup_chain():
    d = TA.trace_dir()
    TA.write(d, "sub/chain.pftrace", TA.encode(CHAIN))
    with TA.daemon(d) as c:
        r = TA.load(c, "sub/chain.pftrace")
        check(not r.get("isError"), f"loaded: {r}")
        s = TA.analyze(c, "sub/chain.pftrace", "summary")
        eq(s["first_ts_ns"], 50, "first event")
        eq(s["last_ts_ns"], 5000, "last event")
        check(s["reordered_events"] > 0, "the bundles out of order were sorted")
        rows, _ = TA.all_rows(c, "sub/chain.pftrace", "states")
        t = by_tid(rows)
        eq(t[400]["pid"], 300, "Y's process from the process tree")
        eq(t[300]["comm"], "X", "X's name from the intern table")
        eq(t[500]["sleeping_ns"], 2500, "Z slept 500-3000")
        eq(t[500]["running_ns"], 300 + 1500, "Z ran 200-500 and 3500-5000")
        eq(t[400]["sleeping_ns"], 1800 + 1500, "Y slept 200-2000 and 3500-5000")
        cp = TA.analyze(c, "sub/chain.pftrace", "critical_path", tid=500)
        got = [(x["tid"], x["state"], x["start_ns"] + 50, x["dur_ns"], x.get("by_tid"))
               for x in cp["rows"]]
        want = [(500, "running", 3500, 1500, None), (500, "runnable", 3000, 500, None),
                (500, "sleeping", 500, 2500, 400), (400, "running", 2500, 500, None),
                (400, "runnable", 2000, 500, None), (400, "sleeping", 200, 1800, 300),
                (300, "running", 50, 1950, None)]
        eq(got, want, "Z's critical path: Z <- Y <- X")
        wk, _ = TA.all_rows(c, "sub/chain.pftrace", "wakeups")
        eq(sorted((w["waker_tid"], w["wakee_tid"]) for w in wk), [(300, 400), (400, 500)],
           "X woke Y, Y woke Z")


@C.case
def test_track_events():
    d = TA.trace_dir()
    TA.write(d, "tracks.pftrace", TA.encode(TRACKS))
    with TA.daemon(d) as c:
        check(not TA.load(c, "tracks.pftrace").get("isError"), "loaded")
        s = TA.analyze(c, "tracks.pftrace", "summary")
        eq(s["track_slices"], 2, "slices")
        eq(s["track_instants"], 1, "instants")
        eq(s["track_counters"], 3, "counter values")
        dsq = TA.analyze(c, "tracks.pftrace", "dsq")
        eq(len(dsq["rows"]), 1, "one DSQ track")
        r = dsq["rows"][0]
        eq((r["track"], r["values"], r["min"], r["max"]), ("DSQ 0 depth", 3, 2, 6), "its values")
        check(abs(r["mean"] - 4) < 1e-9, "mean depth 4")
        st = TA.analyze(c, "tracks.pftrace", "states")
        eq((st["irq_ns"], st["softirq_ns"]), (50, 60), "time in irq and softirq handlers")


def sys_read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def expected_class(a, b):
    """How /sys relates CPUs a and b: same_core, same_llc, same_node or
    cross_node (what the plugin should say for a trace of this machine)."""
    def topo(c, leaf):
        return sys_read(f"/sys/devices/system/cpu/cpu{c}/topology/{leaf}")

    def llc(c):
        for i in (3, 2):
            v = sys_read(f"/sys/devices/system/cpu/cpu{c}/cache/index{i}/id")
            if v is not None:
                return (topo(c, "physical_package_id"), v)
        return None

    def node(c):
        d = f"/sys/devices/system/cpu/cpu{c}"
        return next((n for n in sorted(os.listdir(d)) if n.startswith("node")), "node0")

    if (topo(a, "physical_package_id"), topo(a, "core_id")) == \
            (topo(b, "physical_package_id"), topo(b, "core_id")) and topo(a, "core_id"):
        return "same_core"
    if llc(a) and llc(a) == llc(b):
        return "same_llc"
    return "same_node" if node(a) == node(b) else "cross_node"


@C.case
def test_migrations():
    """Classes from this machine's topology when the trace says it comes
    from this kernel and CPU count; unknown otherwise."""
    ncpu = os.cpu_count()
    if ncpu < 2:
        raise TA.T.Skip("one CPU: no migration between two")
    u = os.uname()
    mig = TA.bundle(0, "".join(
        TA.ev(1000 + i, 0, f'sched_migrate_task {{ comm: "m" pid: 77 prio: 120 '
                           f"orig_cpu: {i % 2} dest_cpu: {(i + 1) % 2} }}") for i in range(3)))
    info = (f'packet {{ system_info {{ utsname {{ sysname: "{u.sysname}" version: "{u.version}" '
            f'release: "{u.release}" machine: "{u.machine}" }} num_cpus: {ncpu} }} }}\n')
    d = TA.trace_dir()
    TA.write(d, "here.pftrace", TA.encode(info + mig))
    TA.write(d, "elsewhere.pftrace", TA.encode(mig))
    want = expected_class(0, 1)
    with TA.daemon(d) as c:
        for name, cls in (("here.pftrace", want), ("elsewhere.pftrace", "unknown")):
            TA.load(c, name)
            r = TA.analyze(c, name, "migrations")
            got = {x["class"]: x["count"] for x in r["rows"]}
            eq(got[cls], 3, f"{name}: all three migrations are {cls} ({got})")
        r = TA.analyze(c, "elsewhere.pftrace", "migrations")
        check("does not say" in r["method"], f"unknown says why: {r['method']}")


@C.case
def test_fairness():
    """H (prio 100, nice -20) and L (prio 139, nice 19) take turns on one
    CPU, each preempting the other: H runs 6000 of 8000 ns."""
    text = TA.bundle(0, "".join([
        TA.switch(0, 0, 0, 10, "swapper/0", "H", prio=100),
        TA.switch(3000, 10, 0, 11, "H", "L", prio=139),
        TA.switch(4000, 11, 0, 10, "L", "H", prio=100),
        TA.switch(7000, 10, 0, 11, "H", "L", prio=139),
        TA.switch(8000, 11, 0, 10, "L", "H", prio=100),
    ]))
    d = TA.trace_dir()
    TA.write(d, "fair.pftrace", TA.encode(text))
    with TA.daemon(d) as c:
        TA.load(c, "fair.pftrace")
        r = TA.analyze(c, "fair.pftrace", "fairness")
        eq([x["tid"] for x in r["rows"]], [11, 10], "least served first")
        lo, hi = r["rows"]
        eq((lo["weight"], hi["weight"]), (15, 88761), "weights from the nice table")
        check(abs(hi["cpu_share_pct"] - 75) < 1e-6 and abs(lo["cpu_share_pct"] - 25) < 1e-6,
              f"CPU shares: {hi['cpu_share_pct']}, {lo['cpu_share_pct']}")
        check(abs(hi["served_pct"] - 75) < 1e-6 and abs(lo["served_pct"] - 40) < 1e-6,
              f"served: H 6000/8000, L 2000/5000: {hi['served_pct']}, {lo['served_pct']}")
        eq((lo["max_wait_ns"], hi["max_wait_ns"]), (3000, 1000), "longest waits")
        eq(r["starved_threads"], 0, "nobody waited 50 ms")


@C.case
def test_outliers():
    """20 wakeups of X run 100 ns after the waking, one 100 us after: that
    one is above Tukey's far-out fence, the rest are not."""
    evs, t = [], 1000
    for i in range(21):
        delay = 100000 if i == 13 else 100
        evs += [TA.waking(t, 50, "X", 0), TA.switch(t + delay, 0, 0, 50, "swapper/0", "X"),
                TA.switch(t + delay + 500, 50, 1, 0, "X", "swapper/0")]
        t += delay + 1000
    d = TA.trace_dir()
    TA.write(d, "out.pftrace", TA.encode(TA.bundle(0, "".join(evs))))
    with TA.daemon(d) as c:
        TA.load(c, "out.pftrace")
        r = TA.analyze(c, "out.pftrace", "outliers")
        eq([(x["tid"], x["delay_ns"], x["after"]) for x in r["rows"]], [(50, 100000, "wakeup")],
           "the one slow wakeup")
        eq((r["samples"], r["q1_ns"], r["q3_ns"], r["fence_ns"]), (21, 100, 100, 100),
           "the fence and what it came from")
        check("Tukey" in r["method"], "the method is stated")


@C.case
def test_exports():
    C.entry_only(os.path.join(TA.T.BUILD, "plugins", "trace_analysis", "trace_analysis.so"))


@C.case
def test_paging():
    """300 threads: states pages follow next_cursor to every thread once,
    and a small max_result_bytes cuts a page early (saying so) without
    losing rows."""
    n = 300
    pids = ", ".join(str(1000 + i) for i in range(n))
    text = (f"packet {{ ftrace_events {{ cpu: 0 compact_sched {{ "
            f"switch_timestamp: [{', '.join(['1000'] * n)}] "
            f"switch_prev_state: [{', '.join(['1'] * n)}] switch_next_pid: [{pids}] }} }} }}\n")
    d = TA.trace_dir()
    TA.write(d, "many.pftrace", TA.encode(text))
    for extra, cut in (("", False), ("[core]\nmax_result_bytes = 8192\n", True)):
        cfg = extra
        so = os.path.join(TA.T.BUILD, "plugins", "trace_analysis", "trace_analysis.so")
        conf = TA.T.write_config(f"{cfg}[plugin trace_analysis]\ndir = {d}\n")
        with TA.T.Daemon(["--enable", "trace_analysis", "--log-level", "error", "--config",
                          conf], plugin_dir_=TA.T.plugin_dir(nested=[so])) as c:
            TA.load(c, "many.pftrace")
            first = TA.analyze(c, "many.pftrace", "states", limit=500)
            eq(first["page"]["total"], n - 1, "threads that ran (the last never switched out)")
            if cut:
                check(first["page"]["returned"] < 500 and "max_result_bytes" in
                      first["page"].get("how", ""), f"cut and said so: {first['page']}")
            rows, _ = TA.all_rows(c, "many.pftrace", "states", limit=500)
            eq(sorted(r["tid"] for r in rows), list(range(1000, 1000 + n - 1)),
               f"every thread once over the pages (cut={cut})")


if __name__ == "__main__":
    C.main()
