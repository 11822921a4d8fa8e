#!/usr/bin/env python3
"""scheduler plugin against fixture trees (mock host, fake clock):
the fair class on CFS and EEVDF kernels, sched_ext loaded (all tasks or
some), unloaded, the old debugfs dump, change notifications, query_stats."""
import os
import shutil
import sys

from plugtest import FIXTURES, Checker, Mock, copy_fixture, fixture, write

ck = Checker()
SCX = "sys/kernel/sched_ext/"
MOUNTS_DEBUGFS = ("sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\n"
                  "debugfs /sys/kernel/debug debugfs rw,relatime 0 0\n")


def scx(root, state, ops=None, switch_all=1, enable_seq=1, events=None):
    """Lay out /sys/kernel/sched_ext the way kernel/sched/ext.c does."""
    write(root, SCX + "state", state + "\n")
    write(root, SCX + "switch_all", "%d\n" % switch_all)
    write(root, SCX + "nr_rejected", "0\n")
    write(root, SCX + "hotplug_seq", "0\n")
    write(root, SCX + "enable_seq", "%d\n" % enable_seq)
    shutil.rmtree(os.path.join(root, SCX, "root"), ignore_errors=True)
    if ops:
        write(root, SCX + "root/ops", ops + "\n")
        if events:
            write(root, SCX + "root/events", "".join("%s %d\n" % e for e in events))


def with_copy(name, setup, check):
    root = copy_fixture(name)
    try:
        setup(root)
        with Mock("scheduler", root) as m:
            check(m, root)
    finally:
        shutil.rmtree(os.path.dirname(root), ignore_errors=True)


# --- this VM: EEVDF, no sched_ext, debugfs not mounted --------------------------
with Mock("scheduler", fixture("vm-2cpu")) as m:
    cur = m.read("scheduler://current")
    ck.eq((cur["class"], cur["name"], cur["active"]), ("fair", "EEVDF", False),
          "vm: class/name/active")
    ck.eq(cur["kernel"]["release"], "6.18.44-fc-v782", "vm: kernel release")
    ck.eq(cur["sched_ext"]["supported"], False, "vm: sched_ext absent")
    ck.eq(cur["fair"]["tunables"]["sched_rr_timeslice_ms"], 100, "vm: procfs tunable")
    ck.eq(cur["fair"]["tunable_sources"]["sched_rt_runtime_us"], "procfs", "vm: tunable source")
    ck.check("not mounted" in cur["fair"]["debugfs"], "vm: says debugfs is not mounted")
    ck.check("no sched_ext" in cur["description"], "vm: description")
    scxr = m.read("stats://scheduler/scx")
    ck.eq(scxr["available"], False, "vm: scx not available")
    ck.check("CONFIG_SCHED_CLASS_EXT" in scxr["reason"], "vm: scx reason names the config option")
    ck.eq(scxr["debug_dump"]["available"], False, "vm: no dump")
    ck.check("no sched_ext" in scxr["debug_dump"]["reason"], "vm: dump reason")


# --- this VM with debugfs mounted under lockdown: only sched/debug readable ----
def lockdown(root):
    with open(os.path.join(FIXTURES, "captured", "sched-debug-6.18-lockdown.txt")) as f:
        write(root, "sys/kernel/debug/sched/debug", f.read())
    write(root, "proc/mounts", MOUNTS_DEBUGFS)


def lockdown_check(m, root):
    cur = m.read("scheduler://current")
    t = cur["fair"]["tunables"]
    ck.eq(t.get("base_slice_ms"), "1.400000", "sched/debug: base slice (ms)")
    ck.eq(t.get("tunable_scaling"), "1 (logarithmic)", "sched/debug: tunable scaling")
    ck.eq(t.get("features"), 99674079, "sched/debug: features bitmask")
    ck.eq(cur["fair"]["tunable_sources"]["base_slice_ms"], "sched/debug", "sched/debug: source")
    ck.check("sched/debug" in cur["fair"]["debugfs"], "sched/debug: says where values come from")
    ck.check("`base_slice_ms`" in m.step_text("sched.fair"),
             "steps: the base slice by the name the tunables give it")
    ck.check("base_slice_ms, nice" in m.step_text("sched.tuning"), "steps: fair tuning names it")


with_copy("vm-2cpu", lockdown, lockdown_check)

# --- RHEL 9 (5.14): CFS with its debugfs knobs ----------------------------------
with Mock("scheduler", fixture("intel-2s")) as m:
    cur = m.read("scheduler://current")
    ck.eq((cur["class"], cur["name"], cur["fair"]["algorithm"]), ("fair", "CFS", "CFS"),
          "5.14: CFS")
    t = cur["fair"]["tunables"]
    ck.eq(t.get("latency_ns"), 24000000, "5.14: CFS latency")
    ck.eq(t.get("min_granularity_ns"), 3000000, "5.14: min granularity")
    ck.eq(t.get("sched_child_runs_first"), 0, "5.14: child_runs_first sysctl")
    ck.eq(cur["fair"]["preempt"], "none (voluntary) full", "5.14: preempt")
    ck.check("GENTLE_FAIR_SLEEPERS" in cur["fair"]["features"], "5.14: features")
    ck.eq(cur["fair"]["debugfs"], None, "5.14: debugfs fine")

# --- 6.6 is the first EEVDF kernel ----------------------------------------------
with Mock("scheduler", fixture("offline-holes")) as m:
    ck.eq(m.read("scheduler://current")["name"], "EEVDF", "6.6.58: EEVDF")

# --- scx_layered on a 6.16 kernel, event counters ---------------------------------
with Mock("scheduler", fixture("epyc-256")) as m:
    cur = m.read("scheduler://current")
    ck.eq((cur["class"], cur["name"], cur["active"]), ("sched_ext", "layered", True),
          "layered: class/name/active")
    s = cur["sched_ext"]
    ck.eq((s["state"], s["ops"], s["switch_all"], s["enable_seq"]), ("enabled", "layered", True, 4),
          "layered: state")
    ck.eq(s["events"]["SCX_EV_SELECT_CPU_FALLBACK"], 51234, "layered: events")
    ck.eq(len(s["events"]), 9, "layered: nine event counters")
    ck.check("runs every normal task" in cur["description"], "layered: description")
    ck.eq(cur["fair"]["algorithm"], "EEVDF", "layered: fair class still named")
    scxr = m.read("stats://scheduler/scx")
    ck.eq(scxr["available"], True, "layered: scx available")
    ck.eq(scxr["sched_ext"]["events"]["SCX_EV_REFILL_SLICE_DFL"], 4410, "layered: events in scx")
    ck.check(bool(scxr["debug_dump"]["reason"]), "layered: dump reason given")

# --- partial switching, unloaded-after-use, transitions ----------------------------
with_copy("vm-2cpu", lambda r: scx(r, "enabled", "rusty", switch_all=0, enable_seq=3),
          lambda m, r: (
              ck.eq(m.read("scheduler://current")["class"], "sched_ext", "partial: class"),
              ck.check("switch_all=0" in m.read("scheduler://current")["description"],
                       "partial: says the others stay in EEVDF"),
              ck.eq(m.read("scheduler://current")["sched_ext"]["events"], None,
                    "partial: no events file")))
with_copy("vm-2cpu", lambda r: scx(r, "disabled", None, switch_all=0, enable_seq=2),
          lambda m, r: (
              ck.eq(m.read("scheduler://current")["name"], "EEVDF", "unloaded: fair again"),
              ck.check("2 were loaded since boot" in
                       m.read("scheduler://current")["description"], "unloaded: history"),
              ck.eq(m.read("stats://scheduler/scx")["available"], True, "unloaded: scx available")))
with_copy("vm-2cpu", lambda r: scx(r, "enabling", "lavd"),
          lambda m, r: ck.eq(m.read("scheduler://current")["description"],
                             'sched_ext scheduler "lavd" is enabling', "enabling: in transition"))


# --- the early interface: /sys/kernel/debug/sched/ext ---------------------------------
def old_dump(root):
    scx(root, "enabled", "simple")
    write(root, "proc/mounts", MOUNTS_DEBUGFS)
    write(root, "sys/kernel/debug/sched/ext",
          "ops           : simple\nenabled       : 1\nswitching_all : 1\nswitched_all  : 1\n"
          "enable_state  : enabled\nbypass_depth  : 0\nnr_rejected   : 0\n")


def old_dump_check(m, root):
    d = m.read("stats://scheduler/scx")["debug_dump"]
    ck.eq(d["available"], True, "dump: available")
    ck.check(d["text"].startswith("ops           : simple"), "dump: text")
    ck.eq(d["truncated"], False, "dump: not cut")
    write(root, "sys/kernel/debug/sched/ext", "x" * 40000)
    r = m.read("stats://scheduler/scx")
    ck.eq((len(r["debug_dump"]["text"]), r["truncated"]), (32768, True), "big dump: cut at 32 KiB")
    ck.check(any("cut" in n for n in r["notes"]), "big dump: the cut is explained")


with_copy("vm-2cpu", old_dump, old_dump_check)


# --- load and unload: notifications and events -----------------------------------------
def change_check(m, root):
    m.advance(3000)
    ck.eq(m.notified, [], "steady: no notification")
    scx(root, "enabled", "rusty", enable_seq=1)
    m.advance(1000)
    ck.eq(m.notified, ["scheduler://current", "stats://scheduler/scx"],
          "load: both resources notified")
    ck.eq([(e["event"], e["from_name"], e["to_class"], e["to_name"])
           for e in m.events], [("scheduler.changed", "EEVDF", "sched_ext", "rusty")],
          "load: one event")
    ck.eq(m.read("scheduler://current")["name"], "rusty", "load: read shows rusty")
    m.notified.clear()
    m.events.clear()
    m.advance(2000)
    ck.eq(m.notified, [], "loaded: quiet again")
    scx(root, "disabled", None, enable_seq=1)
    m.advance(1000)
    ck.eq(m.notified, ["scheduler://current", "stats://scheduler/scx"], "unload: notified")
    ck.eq([(e["from_name"], e["to_name"]) for e in m.events], [("rusty", "EEVDF")],
          "unload: event back to EEVDF")
    m.notified.clear()
    scx(root, "enabled", "rusty", enable_seq=2)  # a reload of the same scheduler
    m.advance(1000)
    ck.eq(len(m.notified), 2, "reload: notified")


with_copy("vm-2cpu", lambda r: None, change_check)

# --- query_stats ---------------------------------------------------------------
with Mock("scheduler", fixture("vm-2cpu")) as m:
    r = m.call_json("query_stats", {})
    uris = [e["uri"] for e in r["resources"]]
    for uri in ("scheduler://current", "topology://info", "stats://system/cpu",
                "stats://aggregated/cpu", "stats://aggregated/dsq", "stats://scheduler/raw",
                "stats://scheduler/scx", "events://stream", "bpf://programs"):
        ck.check(uri in uris, "query_stats all lists " + uri)
    by = {e["uri"]: e for e in r["resources"]}
    ck.eq(by["scheduler://current"]["available"], True, "query_stats: own resources available")
    ck.eq(by["topology://info"]["available"], False, "query_stats: topology not loaded in the mock")
    ck.eq(by["stats://system/cpu"]["tool"], "get_system_stats", "query_stats: tool named")
    r = m.call_json("query_stats", {"stat_type": "llc"})
    ck.eq([e["uri"] for e in r["resources"]], ["topology://info", "stats://aggregated/llc"],
          "query_stats llc")
    r = m.call("query_stats", {"stat_type": "gpu"})
    ck.check(r["isError"] and "cpu, llc, node, dsq" in r["content"][0]["text"],
             "query_stats: bad type lists the valid ones")

# --- no osrelease: degraded, fair class unknown ------------------------------------
with_copy("vm-2cpu", lambda r: os.unlink(os.path.join(r, "proc/sys/kernel/osrelease")),
          lambda m, r: (
              ck.check(m.cmd("status")["degraded"], "no osrelease: degraded"),
              ck.eq(m.read("scheduler://current")["fair"]["algorithm"], None,
                    "no osrelease: algorithm unknown")))

# --- its steps in the workflow prompts ----------------------------------------------
with Mock("scheduler", fixture("vm-2cpu")) as m:
    ctx = m.step_text("context.scheduler")
    ck.check("had no sched_ext: only the fair class (EEVDF) can run." in ctx,
             "steps: no sched_ext, the fair class named")
    ctx = m.step_text("context.scheduler", {"scheduler_name": "scx_layered"})
    ck.check("cannot run here" in ctx, "steps: an scx scheduler asked about cannot run")
    ck.eq(m.step_text("scx.kernel"), "", "steps: no sched_ext, no kernel counters")
    ck.eq(m.step_text("scx.scheduler"), "", "steps: no sched_ext, no scheduler notes")
    fair = m.step_text("sched.fair")
    ck.check("`fair`.`tunables`" in fair and "base_slice" not in fair and "`debugfs` says why"
             in fair, f"steps: no debugfs, the tunables without a base slice: {fair}")
    ck.check("SCHED_BATCH" in m.step_text("sched.tuning") and
             "base_slice" not in m.step_text("sched.tuning"), "steps: fair tuning")
    ck.check("Read scheduler://current" in m.step_text("sched.current"),
             "steps: which scheduler")
    ck.eq(m.step_text("context.task"), "", "steps: no pid, no task")
    ck.eq(m.step_text("context.task", {"pid": 999999}), "", "steps: a pid that is not there")
    v = m.complete("scheduler_name", "scx_la")
    ck.eq(v["values"], ["scx_lavd", "scx_layered"], "completion: scheduler names")
    ck.eq(m.complete("scheduler_name", "E")["values"], ["EEVDF"], "completion: EEVDF")


def steps_scx(m, root):
    ctx = m.step_text("context.scheduler")
    ck.check("ops name was layered." in ctx, "steps scx: the running one")
    ck.check("not the scheduler asked about" not in
             m.step_text("context.scheduler", {"scheduler_name": "scx_layered"}),
             "steps scx: it is the one asked about")
    ck.check("not the scheduler asked about" in
             m.step_text("context.scheduler", {"scheduler_name": "scx_lavd"}),
             "steps scx: another asked about")
    ck.check("SCX_EV_SELECT_CPU_FALLBACK" in m.step_text("scx.kernel"),
             "steps scx: kernel counters")
    ck.check("LayerStats" in m.step_text("scx.scheduler"),
             "steps scx: what scx_layered is designed for")
    ck.check("scx_lavd favours" in m.step_text("scx.scheduler", {"scheduler_name": "scx_lavd"}),
             "steps scx: what the one asked about is designed for")
    ck.eq(m.step_text("sched.fair"), "", "steps scx: no fair tunables")
    ck.check("command-line knobs" in m.step_text("sched.tuning"), "steps scx: scx tuning")
    v = m.complete("scheduler_name", "")["values"]
    ck.eq((v[0], v.count("layered")), ("layered", 1), "completion: the running one first, once")


with_copy("vm-2cpu", lambda r: scx(r, "enabled", "layered"), steps_scx)
with_copy("vm-2cpu", lambda r: scx(r, "disabled", None),
          lambda m, r: ck.check("no sched_ext scheduler was running (state disabled): the fair "
                                "class (EEVDF)" in m.step_text("context.scheduler"),
                                "steps: sched_ext idle"))


def tasks(root):
    """A server process and a thread of it; one with a hostile name."""
    # fields 1-9, 10-17, 18-24 (priority, nice...), 25-40, 41 (policy), 42-44 (proc(5))
    stat = "%d (%s) S 1 %d %d 0 -1 4194560" + " 0" * 8 + " 20 %d 2 0 100 0 0" + " 0" * 16 + \
        " %d 0 0 0\n"
    write(root, "proc/4240/status", "Name:\tserver\nTgid:\t4240\nPid:\t4240\n")
    write(root, "proc/4240/comm", "server\n")
    write(root, "proc/4240/stat", stat % (4240, "server", 4240, 4240, 0, 0))
    write(root, "proc/4242/status", "Name:\tworker 1\nTgid:\t4240\nPid:\t4242\n")
    write(root, "proc/4242/comm", "worker 1\n")
    write(root, "proc/4242/stat", stat % (4242, "worker 1) S", 4240, 4240, 19, 5))
    write(root, "proc/777/status", "Name:\t${pid}`x\nTgid:\t777\n")
    write(root, "proc/777/comm", "${pid}`x\n")


def tasks_check(m, root):
    t = m.step_text("context.task", {"pid": 4240})
    ck.eq(t, "Task 4240 is process 4240 (server), scheduled as SCHED_OTHER at nice 0.",
          "task: a process")
    t = m.step_text("context.task", {"pid": 4242})
    ck.check(t.startswith("Task 4242 is thread 4242 (worker 1) of process 4240 (server), "
                          "scheduled as SCHED_IDLE at nice 19 (it runs only when") and
             t.endswith("."), "task: a thread of its process, policy past a ')' in its name")
    ck.eq(m.step_text("context.task", {"pid": 777}), "Task 777 is process 777 (?{pid}?x).",
          "task: a name is made harmless")
    ck.eq(m.complete("pid", "424")["values"], ["4240", "4242"], "completion: pids by prefix")
    ck.eq(m.complete("pid", "serv")["values"], ["4240"], "completion: pids by name")


with_copy("vm-2cpu", tasks, tasks_check)

with Mock("scheduler", fixture("epyc-256"), valgrind=True) as m:
    m.steps({"pid": 1, "scheduler_name": "scx_rusty"})
    m.complete("pid", "1")
    m.complete("scheduler_name", "")
    m.read("scheduler://current")
    m.read("stats://scheduler/scx")
    m.call_json("query_stats", {"stat_type": "all"})
    m.advance(2000)

sys.exit(ck.done())
