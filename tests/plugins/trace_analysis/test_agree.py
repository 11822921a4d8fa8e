"""Our trace and the kernel's ftrace buffer of the same window give the same
answers (issue 15's proof; root, suite bpf). trace_record records while a
tracefs instance of our own (boot clock, the same sched events) records a
window nested inside ours: it is switched on once the recording runs and
off before it stops. `trace-cmd extract -B` makes its trace.dat; both load
in trace_analysis, and for every thread of the workload with MIN_WAITS
(1000) or more waits in both:
- the run-queue latency p99 falls in the same log2 bucket, or a
  neighbouring one when it lies within 10 % of their edge (the two probes
  read their clocks a few hundred ns apart);
- the time in each state (running, runnable, sleeping) differs by at most
  1 % of the window (from the thread's first event in ftrace's buffer on:
  before it ftrace's trace cannot know the thread's state).
Both are read over the window both traces hold (both clocks are
CLOCK_BOOTTIME; t1_ns and t2_ns of each trace's own origin).
Events our recording lost (counted per type: the ring buffer was full while
a loaded host starved the drain) leave holes the analyses cannot agree
across; such an attempt is reported and recorded again, three times at
most, with a 64 MiB ring.
Exits 77 with the reason when either plugin is not built, recording is not
possible here or trace-cmd is missing."""
import math
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tatest as TA  # noqa: E402
import smcp_test as T  # noqa: E402

C = T.Checker("trace_analysis/agree")
check, eq = C.check, C.eq
TRACEFS = "/sys/kernel/tracing"
EVENTS = ["sched_switch", "sched_waking", "sched_wakeup", "sched_wakeup_new",
          "sched_migrate_task"]
STATES = ("running", "runnable", "sleeping")


# Threads with fewer waits are not compared: the two probes of one event
# (ftrace's and ours) read their clocks one after the other, and on a VM
# whose vCPU the host stalls between them (CI's loaded host) one event's
# two timestamps can lie milliseconds apart; among a few hundred waits one
# such event moves a p99 by buckets and a state's share by percents (seen:
# a CPU hog's 174 waits, p99 11.7 ms ours and 4.0 ms ftrace's, every count
# equal). sched-pipe's threads have 50 000 and more.
MIN_WAITS = 1000
ATTEMPTS = 3


def put(path, text):
    with open(path, "w") as f:
        f.write(text)


def need():
    if os.geteuid() != 0:
        raise T.Skip("needs root (recording, tracefs instances)")
    for n in ("trace_analysis", "trace_record"):
        if not os.path.isfile(os.path.join(T.BUILD, "plugins", n, n + ".so")):
            raise T.Skip(f"{n} is not built")
    if not shutil.which("trace-cmd"):
        raise T.Skip("no trace-cmd (Debian trace-cmd): the kernel's buffer cannot be saved")
    if not shutil.which("perf"):
        raise T.Skip("no perf: the workload is perf bench sched pipe")
    if not os.path.isdir(os.path.join(TRACEFS, "instances")):
        raise T.Skip("tracefs with instances is not mounted at " + TRACEFS)


def log2_bucket(ns):
    return int(math.log2(max(ns, 1)))


def same_bucket(a, b):
    if log2_bucket(a) == log2_bucket(b):
        return True
    lo, hi = min(a, b), max(a, b)
    edge = 1 << log2_bucket(hi)  # the edge between their buckets
    return log2_bucket(hi) - log2_bucket(lo) == 1 and \
        (hi - edge <= 0.1 * edge or edge - lo <= 0.1 * edge)


def record(c, inst, work):
    """Our recording around the instance's, the workload started once ours
    runs (loading the programs needs CPU time the workload would take);
    returns our file."""
    r = c.structured("trace_record", {"action": "start", "duration_s": 60})
    rid = r["id"]
    t_end = time.monotonic() + 60
    while c.structured("trace_record", {"action": "status", "id": rid})["state"] != "recording":
        if time.monotonic() > t_end:
            raise RuntimeError("the recording did not start")
        time.sleep(0.02)
    # a ping-pong (wakeups) beside a spinner on its CPUs (preemptions)
    work.append(subprocess.Popen(["perf", "bench", "sched", "pipe", "-T", "-l", "100000000"],
                                 stdout=subprocess.DEVNULL))
    work.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    time.sleep(0.3)
    put(os.path.join(inst, "tracing_on"), "1")
    time.sleep(1.5)
    put(os.path.join(inst, "tracing_on"), "0")
    for w in work:  # else the stop's last drain has the workload's backlog to write
        w.kill()
        w.wait()
    work.clear()
    r = c.tool("trace_record", {"action": "stop", "id": rid}, timeout=60)
    check(not r.get("isError"), f"stopped: {r}")
    st = c.structured("trace_record", {"action": "status", "id": rid})
    t_end = time.monotonic() + 30
    while st["state"] not in ("done", "failed") and time.monotonic() < t_end:
        time.sleep(0.1)
        st = c.structured("trace_record", {"action": "status", "id": rid})
    eq(st["state"], "done", f"the recording ended: {st}")
    print(f"ours: {st['events_total']} events written, {st['events_seen_by_bpf']} seen, "
          f"lost {st['lost']}, longest job {st['longest_job_ms']} ms")
    return st


@C.case
def test_analyses_agree():
    need()
    d = TA.trace_dir()
    try:  # the recorder writes as the daemon's account
        pw = pwd.getpwnam("schedmcp")
        os.chown(d, pw.pw_uid, pw.pw_gid)
    except KeyError:
        pass
    so = [os.path.join(T.BUILD, "plugins", n, n + ".so") for n in ("trace_analysis",
                                                                   "trace_record")]
    cfg = T.write_config(f"[plugin trace_analysis]\ndir = {d}\n[plugin trace_record]\n"
                         f"dir = {d}\nring_mb = 64\n")
    inst = os.path.join(TRACEFS, "instances", f"smcp_agree_{os.getpid()}")
    os.mkdir(inst)
    work = []
    try:
        put(os.path.join(inst, "buffer_size_kb"), "65536")  # per CPU: no overrun
        put(os.path.join(inst, "trace_clock"), "boot")
        for e in EVENTS:
            put(os.path.join(inst, "events", "sched", e, "enable"), "1")
        with T.Daemon(["--enable", "trace_analysis,trace_record", "--log-level", "error",
                       "--config", cfg], plugin_dir_=T.plugin_dir(nested=so)) as c:
            st = c.plugin_state("trace_record")
            if not st or st.get("state") != "loaded":
                raise T.Skip(f"trace_record cannot record here: {st}")
            for attempt in range(1, ATTEMPTS + 1):
                st = record(c, inst, work)
                # losses that make the analyses disagree: records dropped on
                # our side. The interrupts the kernel ran no BPF for are
                # missing from ftrace's switch and wakeup view alike
                # (docs/plugins/trace_record.md) and touch no thread state
                lost = {k: st["lost"][k] for k in ("ring_buffer_full", "pending_buffer_full")
                        if st["lost"].get(k)}
                if not lost:
                    break
                print(f"attempt {attempt}: our recording lost events ({lost}); recording again")
                put(os.path.join(inst, "trace"), "")  # empties the instance's buffer
            eq(lost, {}, f"our recording kept every event in one of {ATTEMPTS} attempts")
            ours = st["file"]
            overrun = {}
            for cpu in sorted(os.listdir(os.path.join(inst, "per_cpu"))):
                with open(os.path.join(inst, "per_cpu", cpu, "stats")) as f:
                    for line in f:
                        if line.startswith(("overrun:", "dropped events:")):
                            overrun[cpu + " " + line.split(":")[0]] = int(line.split(":")[1])
            eq(sum(overrun.values()), 0, f"the kernel's buffer kept every event: {overrun}")
            for _ in range(5):  # extract reads the top buffer too: retry a busy moment
                r = subprocess.run(["trace-cmd", "extract", "-B", os.path.basename(inst),
                                    "-o", os.path.join(d, "ftrace.dat")],
                                   capture_output=True, text=True, timeout=60)
                if r.returncode == 0:
                    break
                time.sleep(1)
            if r.returncode:
                raise RuntimeError("trace-cmd extract: " + r.stderr)
            os.chmod(os.path.join(d, "ftrace.dat"), 0o644)
            for f in (ours, "ftrace.dat"):
                r = c.tool("trace_load", {"file": f}, timeout=120)
                check(not r.get("isError"), f"loaded {f}: {r}")
            # both clocks are CLOCK_BOOTTIME: the window both traces hold, as
            # each one's ns from its own first event
            first, last = {}, {}
            for f in (ours, "ftrace.dat"):
                s = TA.analyze(c, f, "summary")
                first[f], last[f] = s["first_ts_ns"], s["last_ts_ns"]
            lo, hi = max(first.values()), min(last.values())
            check(hi - lo > 1e9, f"a common window of over a second: {lo}..{hi} "
                                 f"({first}, {last})")
            span = {f: hi - lo for f in first}
            win = {f: {"t1_ns": lo - first[f], "t2_ns": hi - first[f]} for f in first}
            lat = {f: {x["tid"]: x for x in TA.all_rows(c, f, "latency", group="thread",
                                                        limit=500, **win[f])[0]}
                   for f in (ours, "ftrace.dat")}
            states = {f: {x["tid"]: x for x in TA.all_rows(c, f, "states", limit=500,
                                                           **win[f])[0]}
                      for f in (ours, "ftrace.dat")}
            mine, theirs = lat[ours], lat["ftrace.dat"]
            compared = 0
            for tid in sorted(set(mine) & set(theirs)):
                a, b = mine[tid], theirs[tid]
                if min(a["samples"], b["samples"]) < MIN_WAITS or a["comm"] != "sched-pipe" and \
                        a["comm"] != "python3":
                    if a["comm"] in ("sched-pipe", "python3"):
                        print(f"tid {tid} {a['comm']}: not compared, {a['samples']} and "
                              f"{b['samples']} waits (under {MIN_WAITS})")
                    continue
                compared += 1
                check(same_bucket(a["p99_ns"], b["p99_ns"]),
                      f"tid {tid} {a['comm']}: p99 {a['p99_ns']} ns ours, {b['p99_ns']} ns "
                      f"ftrace's ({a['samples']} and {b['samples']} waits)")
                sa, sb = states[ours].get(tid), states["ftrace.dat"].get(tid)
                check(sa and sb, f"tid {tid}: states in both")
                if sa and sb and sb["observed_ns"] < span["ftrace.dat"]:
                    # ftrace's buffer starts inside ours: until the thread's
                    # first event there its state is unknown to ftrace's trace
                    # (a CPU hog kept waiting at that moment can stay so for
                    # tens of ms on a loaded machine). Compare from there on.
                    skip = span["ftrace.dat"] - sb["observed_ns"]
                    sa, sb = ({x["tid"]: x for x in TA.all_rows(
                        c, f, "states", tid=tid, limit=500,
                        t1_ns=win[f]["t1_ns"] + skip, t2_ns=win[f]["t2_ns"])[0]}.get(tid)
                        for f in (ours, "ftrace.dat"))
                    print(f"tid {tid}: states compared over the last "
                          f"{(hi - lo - skip) / 1e9:.3f} s (ftrace's trace knows its state "
                          f"from there)")
                    check(sa and sb, f"tid {tid}: states in both after {skip} ns")
                if sa and sb:
                    for k in STATES:
                        pa = 100.0 * sa[k + "_ns"] / sa["observed_ns"]
                        pb = 100.0 * sb[k + "_ns"] / sb["observed_ns"]
                        check(abs(pa - pb) <= 1.0,
                              f"tid {tid} {a['comm']}: {k} {pa:.3f} % of the window in "
                              f"ours, {pb:.3f} % in ftrace's")
                print(f"tid {tid} {a['comm']}: waits {a['samples']}/{b['samples']}, p99 "
                      f"{a['p99_ns']}/{b['p99_ns']} ns, running "
                      f"{100.0 * sa['running_ns'] / sa['observed_ns']:.2f}/"
                      f"{100.0 * sb['running_ns'] / sb['observed_ns']:.2f} %")
            print(f"common window {(hi - lo) / 1e9:.3f} s; ours "
                  f"{(last[ours] - first[ours]) / 1e9:.3f} s, ftrace's "
                  f"{(last['ftrace.dat'] - first['ftrace.dat']) / 1e9:.3f} s")
            check(compared >= 2, f"the workload's threads compared: {compared} "
                                 f"(ours {len(mine)}, ftrace {len(theirs)} threads)")
    finally:
        for w in work:
            w.kill()
            w.wait()
        for e in EVENTS:
            try:
                put(os.path.join(inst, "events", "sched", e, "enable"), "0")
            except OSError:
                pass
        if os.path.isdir(inst):
            os.rmdir(inst)


if __name__ == "__main__":
    C.main()
