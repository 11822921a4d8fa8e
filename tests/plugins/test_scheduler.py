#!/usr/bin/env python3
"""scheduler plugin against fixture trees (mock host, fake clock):
the fair class on CFS and EEVDF kernels, sched_ext loaded (all tasks or
some), unloaded, the old debugfs dump, change notifications, query_stats."""
import os
import shutil

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
    ck.eq("vm: class/name/active", (cur["class"], cur["name"], cur["active"]),
          ("fair", "EEVDF", False))
    ck.eq("vm: kernel release", cur["kernel"]["release"], "6.18.44-fc-v782")
    ck.eq("vm: sched_ext absent", cur["sched_ext"]["supported"], False)
    ck.eq("vm: procfs tunable", cur["fair"]["tunables"]["sched_rr_timeslice_ms"], 100)
    ck.eq("vm: tunable source", cur["fair"]["tunable_sources"]["sched_rt_runtime_us"], "procfs")
    ck.true("vm: says debugfs is not mounted", "not mounted" in cur["fair"]["debugfs"])
    ck.true("vm: description", "no sched_ext" in cur["description"])
    scxr = m.read("stats://scheduler/scx")
    ck.eq("vm: scx not available", scxr["available"], False)
    ck.true("vm: scx reason names the config option", "CONFIG_SCHED_CLASS_EXT" in scxr["reason"])
    ck.eq("vm: no dump", scxr["debug_dump"]["available"], False)
    ck.true("vm: dump reason", "no sched_ext" in scxr["debug_dump"]["reason"])


# --- this VM with debugfs mounted under lockdown: only sched/debug readable ----
def lockdown(root):
    with open(os.path.join(FIXTURES, "captured", "sched-debug-6.18-lockdown.txt")) as f:
        write(root, "sys/kernel/debug/sched/debug", f.read())
    write(root, "proc/mounts", MOUNTS_DEBUGFS)


def lockdown_check(m, root):
    cur = m.read("scheduler://current")
    t = cur["fair"]["tunables"]
    ck.eq("sched/debug: base slice (ms)", t.get("base_slice_ms"), "1.400000")
    ck.eq("sched/debug: tunable scaling", t.get("tunable_scaling"), "1 (logarithmic)")
    ck.eq("sched/debug: features bitmask", t.get("features"), 99674079)
    ck.eq("sched/debug: source", cur["fair"]["tunable_sources"]["base_slice_ms"], "sched/debug")
    ck.true("sched/debug: says where values come from", "sched/debug" in cur["fair"]["debugfs"])


with_copy("vm-2cpu", lockdown, lockdown_check)

# --- RHEL 9 (5.14): CFS with its debugfs knobs ----------------------------------
with Mock("scheduler", fixture("intel-2s")) as m:
    cur = m.read("scheduler://current")
    ck.eq("5.14: CFS", (cur["class"], cur["name"], cur["fair"]["algorithm"]), ("fair", "CFS", "CFS"))
    t = cur["fair"]["tunables"]
    ck.eq("5.14: CFS latency", t.get("latency_ns"), 24000000)
    ck.eq("5.14: min granularity", t.get("min_granularity_ns"), 3000000)
    ck.eq("5.14: child_runs_first sysctl", t.get("sched_child_runs_first"), 0)
    ck.eq("5.14: preempt", cur["fair"]["preempt"], "none (voluntary) full")
    ck.true("5.14: features", "GENTLE_FAIR_SLEEPERS" in cur["fair"]["features"])
    ck.eq("5.14: debugfs fine", cur["fair"]["debugfs"], None)

# --- 6.6 is the first EEVDF kernel ----------------------------------------------
with Mock("scheduler", fixture("offline-holes")) as m:
    ck.eq("6.6.58: EEVDF", m.read("scheduler://current")["name"], "EEVDF")

# --- scx_layered on a 6.16 kernel, event counters ---------------------------------
with Mock("scheduler", fixture("epyc-256")) as m:
    cur = m.read("scheduler://current")
    ck.eq("layered: class/name/active", (cur["class"], cur["name"], cur["active"]),
          ("sched_ext", "layered", True))
    s = cur["sched_ext"]
    ck.eq("layered: state", (s["state"], s["ops"], s["switch_all"], s["enable_seq"]),
          ("enabled", "layered", True, 4))
    ck.eq("layered: events", s["events"]["SCX_EV_SELECT_CPU_FALLBACK"], 51234)
    ck.eq("layered: nine event counters", len(s["events"]), 9)
    ck.true("layered: description", "runs every normal task" in cur["description"])
    ck.eq("layered: fair class still named", cur["fair"]["algorithm"], "EEVDF")
    scxr = m.read("stats://scheduler/scx")
    ck.eq("layered: scx available", scxr["available"], True)
    ck.eq("layered: events in scx", scxr["sched_ext"]["events"]["SCX_EV_REFILL_SLICE_DFL"], 4410)
    ck.true("layered: dump reason given", bool(scxr["debug_dump"]["reason"]))

# --- partial switching, unloaded-after-use, transitions ----------------------------
with_copy("vm-2cpu", lambda r: scx(r, "enabled", "rusty", switch_all=0, enable_seq=3),
          lambda m, r: (
              ck.eq("partial: class", m.read("scheduler://current")["class"], "sched_ext"),
              ck.true("partial: says the others stay in EEVDF",
                      "switch_all=0" in m.read("scheduler://current")["description"]),
              ck.eq("partial: no events file", m.read("scheduler://current")["sched_ext"]["events"],
                    None)))
with_copy("vm-2cpu", lambda r: scx(r, "disabled", None, switch_all=0, enable_seq=2),
          lambda m, r: (
              ck.eq("unloaded: fair again", m.read("scheduler://current")["name"], "EEVDF"),
              ck.true("unloaded: history", "2 were loaded since boot" in
                      m.read("scheduler://current")["description"]),
              ck.eq("unloaded: scx available", m.read("stats://scheduler/scx")["available"], True)))
with_copy("vm-2cpu", lambda r: scx(r, "enabling", "lavd"),
          lambda m, r: ck.eq("enabling: in transition", m.read("scheduler://current")["description"],
                             'sched_ext scheduler "lavd" is enabling'))


# --- the early interface: /sys/kernel/debug/sched/ext ---------------------------------
def old_dump(root):
    scx(root, "enabled", "simple")
    write(root, "proc/mounts", MOUNTS_DEBUGFS)
    write(root, "sys/kernel/debug/sched/ext",
          "ops           : simple\nenabled       : 1\nswitching_all : 1\nswitched_all  : 1\n"
          "enable_state  : enabled\nbypass_depth  : 0\nnr_rejected   : 0\n")


def old_dump_check(m, root):
    d = m.read("stats://scheduler/scx")["debug_dump"]
    ck.eq("dump: available", d["available"], True)
    ck.true("dump: text", d["text"].startswith("ops           : simple"))
    ck.eq("dump: not cut", d["truncated"], False)
    write(root, "sys/kernel/debug/sched/ext", "x" * 40000)
    r = m.read("stats://scheduler/scx")
    ck.eq("big dump: cut at 32 KiB", (len(r["debug_dump"]["text"]), r["truncated"]), (32768, True))
    ck.true("big dump: the cut is explained", any("cut" in n for n in r["notes"]))


with_copy("vm-2cpu", old_dump, old_dump_check)


# --- load and unload: notifications and events -----------------------------------------
def change_check(m, root):
    m.advance(3000)
    ck.eq("steady: no notification", m.notified, [])
    scx(root, "enabled", "rusty", enable_seq=1)
    m.advance(1000)
    ck.eq("load: both resources notified", m.notified,
          ["scheduler://current", "stats://scheduler/scx"])
    ck.eq("load: one event", [(e["event"], e["from_name"], e["to_class"], e["to_name"])
                              for e in m.events],
          [("scheduler.changed", "EEVDF", "sched_ext", "rusty")])
    ck.eq("load: read shows rusty", m.read("scheduler://current")["name"], "rusty")
    m.notified.clear()
    m.events.clear()
    m.advance(2000)
    ck.eq("loaded: quiet again", m.notified, [])
    scx(root, "disabled", None, enable_seq=1)
    m.advance(1000)
    ck.eq("unload: notified", m.notified, ["scheduler://current", "stats://scheduler/scx"])
    ck.eq("unload: event back to EEVDF", [(e["from_name"], e["to_name"]) for e in m.events],
          [("rusty", "EEVDF")])
    m.notified.clear()
    scx(root, "enabled", "rusty", enable_seq=2)  # a reload of the same scheduler
    m.advance(1000)
    ck.eq("reload: notified", len(m.notified), 2)


with_copy("vm-2cpu", lambda r: None, change_check)

# --- query_stats ---------------------------------------------------------------
with Mock("scheduler", fixture("vm-2cpu")) as m:
    r = m.call_json("query_stats", {})
    uris = [e["uri"] for e in r["resources"]]
    for uri in ("scheduler://current", "topology://info", "stats://system/cpu",
                "stats://aggregated/cpu", "stats://aggregated/dsq", "stats://scheduler/raw",
                "stats://scheduler/scx", "events://stream", "bpf://programs"):
        ck.true("query_stats all lists " + uri, uri in uris)
    by = {e["uri"]: e for e in r["resources"]}
    ck.eq("query_stats: own resources available", by["scheduler://current"]["available"], True)
    ck.eq("query_stats: topology not loaded in the mock", by["topology://info"]["available"],
          False)
    ck.eq("query_stats: tool named", by["stats://system/cpu"]["tool"], "get_system_stats")
    r = m.call_json("query_stats", {"stat_type": "llc"})
    ck.eq("query_stats llc", [e["uri"] for e in r["resources"]],
          ["topology://info", "stats://aggregated/llc"])
    r = m.call("query_stats", {"stat_type": "gpu"})
    ck.true("query_stats: bad type lists the valid ones",
            r["isError"] and "cpu, llc, node, dsq" in r["content"][0]["text"])

# --- no osrelease: degraded, fair class unknown ------------------------------------
with_copy("vm-2cpu", lambda r: os.unlink(os.path.join(r, "proc/sys/kernel/osrelease")),
          lambda m, r: (
              ck.true("no osrelease: degraded", m.cmd("status")["degraded"]),
              ck.eq("no osrelease: algorithm unknown",
                    m.read("scheduler://current")["fair"]["algorithm"], None)))

# --- its steps in the workflow prompts ----------------------------------------------
with Mock("scheduler", fixture("vm-2cpu")) as m:
    ctx = m.step_text("context.scheduler")
    ck.true("steps: no sched_ext, the fair class named",
            "had no sched_ext: only the fair class (EEVDF) can run." in ctx)
    ctx = m.step_text("context.scheduler", {"scheduler_name": "scx_layered"})
    ck.true("steps: an scx scheduler asked about cannot run", "cannot run here" in ctx)
    ck.eq("steps: no sched_ext, no kernel counters", m.step_text("scx.kernel"), "")
    ck.eq("steps: no sched_ext, no scheduler notes", m.step_text("scx.scheduler"), "")
    ck.true("steps: the fair class's tunables", "`base_slice_ms`" in m.step_text("scheduler.fair"))
    ck.true("steps: fair tuning", "SCHED_BATCH" in m.step_text("scheduler.tuning"))
    ck.true("steps: which scheduler",
            "Read scheduler://current" in m.step_text("scheduler.current"))
    ck.eq("steps: no pid, no task", m.step_text("context.task"), "")
    ck.eq("steps: a pid that is not there", m.step_text("context.task", {"pid": 999999}), "")
    v = m.complete("scheduler_name", "scx_la")
    ck.eq("completion: scheduler names", v["values"], ["scx_lavd", "scx_layered"])
    ck.eq("completion: EEVDF", m.complete("scheduler_name", "E")["values"], ["EEVDF"])


def steps_scx(m, root):
    ctx = m.step_text("context.scheduler")
    ck.true("steps scx: the running one", "ops name was layered." in ctx)
    ck.true("steps scx: it is the one asked about",
            "not the scheduler asked about" not in
            m.step_text("context.scheduler", {"scheduler_name": "scx_layered"}))
    ck.true("steps scx: another asked about", "not the scheduler asked about" in
            m.step_text("context.scheduler", {"scheduler_name": "scx_lavd"}))
    ck.true("steps scx: kernel counters", "SCX_EV_SELECT_CPU_FALLBACK" in m.step_text("scx.kernel"))
    ck.true("steps scx: what scx_layered is designed for",
            "LayerStats" in m.step_text("scx.scheduler"))
    ck.true("steps scx: what the one asked about is designed for",
            "scx_lavd favours" in m.step_text("scx.scheduler", {"scheduler_name": "scx_lavd"}))
    ck.eq("steps scx: no fair tunables", m.step_text("scheduler.fair"), "")
    ck.true("steps scx: scx tuning", "command-line knobs" in m.step_text("scheduler.tuning"))
    v = m.complete("scheduler_name", "")["values"]
    ck.eq("completion: the running one first, once", (v[0], v.count("layered")), ("layered", 1))


with_copy("vm-2cpu", lambda r: scx(r, "enabled", "layered"), steps_scx)
with_copy("vm-2cpu", lambda r: scx(r, "disabled", None),
          lambda m, r: ck.true("steps: sched_ext idle",
                               "no sched_ext scheduler was running (state disabled): the fair "
                               "class (EEVDF)" in m.step_text("context.scheduler")))


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
    ck.eq("task: a process", t,
          "Task 4240 is process 4240 (server), scheduled as SCHED_OTHER at nice 0.")
    t = m.step_text("context.task", {"pid": 4242})
    ck.true("task: a thread of its process, policy past a ')' in its name",
            t.startswith("Task 4242 is thread 4242 (worker 1) of process 4240 (server), "
                         "scheduled as SCHED_IDLE at nice 19 (it runs only when") and
            t.endswith("."))
    ck.eq("task: a name is made harmless", m.step_text("context.task", {"pid": 777}),
          "Task 777 is process 777 (?{pid}?x).")
    ck.eq("completion: pids by prefix", m.complete("pid", "424")["values"], ["4240", "4242"])
    ck.eq("completion: pids by name", m.complete("pid", "serv")["values"], ["4240"])


with_copy("vm-2cpu", tasks, tasks_check)

with Mock("scheduler", fixture("epyc-256"), valgrind=True) as m:
    m.steps({"pid": 1, "scheduler_name": "scx_rusty"})
    m.complete("pid", "1")
    m.complete("scheduler_name", "")
    m.read("scheduler://current")
    m.read("stats://scheduler/scx")
    m.call_json("query_stats", {"stat_type": "all"})
    m.advance(2000)

ck.done()
