#!/usr/bin/env python3
"""scheduler plugin through the real daemon: the live kernel's scheduler,
a subscriber told when a sched_ext scheduler loads and unloads (fixture
root rewritten under the running daemon), the scheduler.changed event for
clients that poll, and `schedmcp report`."""
import json
import os
import shutil
import subprocess
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
    ck.eq("live: kernel release", cur["kernel"]["release"], rel)
    ck.eq("live: fair class by release", cur["fair"]["algorithm"], want_fair)
    ck.eq("live: sched_ext support seen", cur["sched_ext"]["supported"], has_scx)
    if not has_scx:
        ck.eq("live: no sched_ext, so the fair class", (cur["class"], cur["name"]),
              ("fair", want_fair))
        scx = c.read_json("stats://scheduler/scx")
        ck.eq("live: scx unavailable", scx["available"], False)
        ck.true("live: with a reason", "CONFIG_SCHED_CLASS_EXT" in scx["reason"])
    times = []
    for _ in range(100):
        t0 = time.monotonic()
        c.read("scheduler://current")
        times.append(time.monotonic() - t0)
    per = sorted(times)[len(times) // 2]  # the median: a stall elsewhere says nothing of ours
    ck.true("live: a read round trip takes %.2f ms (median)" % (per * 1000), per < 0.01)
    r = c.call_tool("query_stats", {"stat_type": "scheduler"})
    ck.eq("live: query_stats scheduler",
          [e["uri"] for e in r["result"]["structuredContent"]["resources"]],
          ["scheduler://current", "stats://scheduler/scx", "stats://scheduler/raw"])

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
    with Client(args=["--enable", "scheduler", "--fs-root", root]) as c:
        ck.true("subscribe", "result" in c.request("resources/subscribe",
                                                   {"uri": "scheduler://current"}))
        ck.eq("before: EEVDF", c.read_json("scheduler://current")["name"], "EEVDF")
        set_scx(root, "enabled", "rusty", 1)
        ck.true("load: subscriber notified within the 1 s poll",
                wait_updated(c, "scheduler://current"))
        cur = c.read_json("scheduler://current")
        ck.eq("load: now sched_ext/rusty", (cur["class"], cur["name"]), ("sched_ext", "rusty"))
        set_scx(root, "disabled", None, 1)
        ck.true("unload: subscriber notified", wait_updated(c, "scheduler://current"))
        ck.eq("unload: EEVDF again", c.read_json("scheduler://current")["name"], "EEVDF")
        r = c.call_tool("poll_events", {"type": "scheduler."})
        evs = r["result"]["structuredContent"]["events"]
        ck.eq("poll_events has both changes",
              [(e.get("from_name"), e.get("to_name")) for e in evs],
              [("EEVDF", "rusty"), ("rusty", "EEVDF")])
finally:
    shutil.rmtree(os.path.dirname(root), ignore_errors=True)

# --- schedmcp report -----------------------------------------------------------------
out = subprocess.run([daemon_path(), "report", "--json", "--plugin-dir",
                      os.path.join(BUILD, "plugins"), "--no-default-plugins", "--enable", "scheduler", "--interval", "0"],
                     capture_output=True, text=True, timeout=30)
ck.eq("report exits 0", out.returncode, 0)
rep = json.loads(out.stdout or "{}")
ck.eq("report --json has scheduler://current",
      rep.get("scheduler://current", {}).get("kernel", {}).get("release"), rel)

ck.done()
