#!/usr/bin/env python3
"""scheduler plugin through the real daemon: the live kernel's scheduler,
a subscriber told when a sched_ext scheduler loads and unloads (fixture
root rewritten under the running daemon), the scheduler.changed event for
clients that poll, and `schedmcp report`."""
import json
import os
import shutil
import subprocess
import sys
import time

from plugtest import BUILD, Checker, copy_fixture, write
from mcp_client import Client, daemon_path

ck = Checker()

# --- the live kernel -------------------------------------------------------------
rel = os.uname().release
major, minor = (int(x) for x in rel.split(".")[:2])
want_fair = "EEVDF" if (major, minor) >= (6, 6) else "CFS"
has_scx = os.path.isdir("/sys/kernel/sched_ext")
with Client(args=["--enable", "scheduler"]) as c:
    cur = c.read_json("scheduler://current")
    ck.eq(cur["kernel"]["release"], rel, "live: kernel release")
    ck.eq(cur["fair"]["algorithm"], want_fair, "live: fair class by release")
    ck.eq(cur["sched_ext"]["supported"], has_scx, "live: sched_ext support seen")
    if not has_scx:
        ck.eq((cur["class"], cur["name"]), ("fair", want_fair),
              "live: no sched_ext, so the fair class")
        scx = c.read_json("stats://scheduler/scx")
        ck.eq(scx["available"], False, "live: scx unavailable")
        ck.check("CONFIG_SCHED_CLASS_EXT" in scx["reason"], "live: with a reason")
    times = []
    for _ in range(100):
        t0 = time.monotonic()
        c.read("scheduler://current")
        times.append(time.monotonic() - t0)
    per = sorted(times)[len(times) // 2]  # the median: a stall elsewhere says nothing of ours
    ck.check(per < 0.01, "live: a read round trip takes %.2f ms (median)" % (per * 1000))
    r = c.call_tool("query_stats", {"stat_type": "scheduler"})
    ck.eq([e["uri"] for e in r["result"]["structuredContent"]["resources"]],
          ["scheduler://current", "stats://scheduler/scx", "stats://scheduler/raw"],
          "live: query_stats scheduler")

# --- load and unload under a running daemon ----------------------------------------
def set_scx(root, state, ops, seq):
    """Change the fixture's sched_ext directory in one step, as the kernel
    does: a full new copy swapped in by renaming a symlink. Writing its
    files one by one would let the daemon's 1 s poll see half a change
    (enabled without ops) and report an extra transition."""
    kernel = os.path.join(root, "sys/kernel")
    link = os.path.join(kernel, "sched_ext")
    new = os.path.join(kernel, "sched_ext.%d.%s" % (seq, state))
    if os.path.isdir(link):
        shutil.copytree(os.path.realpath(link), new, symlinks=True)
    write(new, "state", state + "\n")
    write(new, "enable_seq", "%d\n" % seq)
    write(new, "switch_all", "1\n")
    if ops:
        write(new, "root/ops", ops + "\n")
    else:
        shutil.rmtree(os.path.join(new, "root"), ignore_errors=True)
    if os.path.isdir(link) and not os.path.islink(link):
        shutil.rmtree(link)  # the fixture's own directory, before the daemon starts
    os.symlink(os.path.basename(new), link + ".tmp")
    os.replace(link + ".tmp", link)


def wait_updated(c, uri, timeout=4.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.recv(timeout=max(0.05, deadline - time.monotonic()))
        if m and m.get("method") == "notifications/resources/updated" and \
                m["params"]["uri"] == uri:
            return True
    return False


root = copy_fixture("vm-2cpu")
try:
    set_scx(root, "disabled", None, 0)
    # the kernel log: an exit of an earlier run (skipped), then this run's
    kmsg = os.path.join(root, "dev", "kmsg")
    os.makedirs(os.path.dirname(kmsg), exist_ok=True)
    with open(kmsg, "w") as f:
        f.write('6,10,100,-;sched_ext: BPF scheduler "old" disabled (unregistered from BPF)\n')
    with Client(args=["--enable", "scheduler", "--fs-root", root]) as c:
        ck.check("result" in c.request("resources/subscribe",
                                       {"uri": "scheduler://current"}), "subscribe")
        ck.eq(c.read_json("scheduler://current")["name"], "EEVDF", "before: EEVDF")
        set_scx(root, "enabled", "rusty", 1)
        ck.check(wait_updated(c, "scheduler://current"),
                 "load: subscriber notified within the 1 s poll")
        cur = c.read_json("scheduler://current")
        ck.eq((cur["class"], cur["name"]), ("sched_ext", "rusty"), "load: now sched_ext/rusty")
        with open(kmsg, "a") as f:
            f.write('3,11,200,-;sched_ext: BPF scheduler "rusty" disabled (runtime error)\n'
                    ' SUBSYSTEM=sched\n'
                    '3,12,201,-;sched_ext: rusty: dispatch to invalid DSQ 0x99\n')
        set_scx(root, "disabled", None, 1)
        ck.check(wait_updated(c, "scheduler://current"), "unload: subscriber notified")
        ck.eq(c.read_json("scheduler://current")["name"], "EEVDF", "unload: EEVDF again")
        r = c.call_tool("poll_events", {"type": "scheduler."})
        evs = r["result"]["structuredContent"]["events"]
        ck.eq([(e.get("from_name"), e.get("to_name")) for e in evs],
              [("EEVDF", "rusty"), ("rusty", "EEVDF")], "poll_events has both changes")
        ck.eq([e.get("change") for e in evs], ["attached", "detached"], "what changed")
        ck.eq(evs[-1].get("reason") if evs else None,
              "runtime error: dispatch to invalid DSQ 0x99",
              "the exit reason from the kernel log, not an earlier run's")
finally:
    shutil.rmtree(os.path.dirname(root), ignore_errors=True)

# --- schedmcp report -----------------------------------------------------------------
out = subprocess.run([daemon_path(), "report", "--json", "--plugin-dir",
                      os.path.join(BUILD, "plugins"), "--no-default-plugins", "--enable", "scheduler", "--interval", "0"],
                     capture_output=True, text=True, timeout=30)
ck.eq(out.returncode, 0, "report exits 0")
rep = json.loads(out.stdout or "{}")
ck.eq(rep.get("scheduler://current", {}).get("kernel", {}).get("release"), rel,
      "report --json has scheduler://current")

sys.exit(ck.done())
