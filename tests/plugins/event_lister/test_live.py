"""event_lister against the running kernel: events://perf agrees with tracefs
available_events line for line, pagination returns every tracepoint exactly
once, the kernel-function list agrees with its source, and tracefs is
mounted when absent (in a private mount namespace). Needs root (exit 77)."""
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["SMCP_SOURCE_DIR"], "tests", "lib"))
import mcp_client  # noqa: E402
from smcp_test import Checker  # noqa: E402

C = Checker("event_lister/live")
check = C.check


def tracefs_dir():
    for line in open("/proc/mounts"):
        f = line.split()
        if f[2] == "tracefs":
            return f[1]
    return "/sys/kernel/tracing"


def tool(c, args):
    r = c.call_tool("list_events", args)
    C.small(r, f"list_events {args}")
    return r["result"]


def read(c, uri):
    r = c.read(uri)
    check("result" in r, f"{uri}: {r.get('error')}")
    C.small(r, uri)
    return json.loads(r["result"]["contents"][0]["text"])


def test_tracepoints():
    with mcp_client.Client(["--enable", "event_lister", "--log-level", "error"]) as c:
        d = read(c, "events://perf")  # mounts tracefs first if it is absent
        lines = [ln.strip() for ln in open(os.path.join(tracefs_dir(), "available_events")) if ln.strip()]
        check(d["total_events"] == len(lines) == d["source"]["lines"],
              f"events://perf total {d['total_events']} == wc -l available_events {len(lines)}")
        per = {}
        for ln in lines:
            per[ln.split(":", 1)[0]] = per.get(ln.split(":", 1)[0], 0) + 1
        check({s["subsystem"]: s["count"] for s in d["subsystems"]} == per, "per-subsystem counts agree")
        got, offset, t0 = [], 0, time.monotonic()
        while True:
            s = tool(c, {"limit": 1000, "offset": offset})["structuredContent"]
            got += s["events"]
            if not s["has_more"]:
                break
            offset = s["next_offset"]
        check(len(got) == len(set(got)) == len(lines) and set(got) == set(lines),
              "pagination returns every tracepoint exactly once")
        print(f"paged {len(got)} tracepoints in {(time.monotonic() - t0) * 1000:.1f} ms")
        s = tool(c, {"subsystem": "sched", "filter": "^sched_switch$", "include_format": True})["structuredContent"]
        names = [f["name"] for f in s["formats"][0]["fields"]]
        fmt = open(os.path.join(tracefs_dir(), "events/sched/sched_switch/format")).read()
        want = [m for m in re.findall(r"field:[^;]*?(\w+)(?:\[\d*\])?;", fmt) if not m.startswith("common_")]
        check(names == want, f"sched_switch fields {names} == tracefs format {want}")


def kallsyms_text():
    names = set()
    for line in open("/proc/kallsyms"):
        f = line.split()
        if len(f) >= 3 and f[1] in "tT":
            names.add(f[2])
    return names


def test_kernel_functions():
    with mcp_client.Client(["--enable", "event_lister", "--log-level", "error"]) as c:
        t0 = time.monotonic()
        d = read(c, "events://kprobe")
        first_ms = (time.monotonic() - t0) * 1000
        try:
            open(os.path.join(tracefs_dir(), "available_filter_functions")).close()
            readable = True
        except OSError as e:
            readable = False
            why = e.strerror
        if readable:
            check(d["source"]["name"] == "available_filter_functions", "ftrace list used when readable")
        else:
            check(d["source"]["name"] == "kallsyms" and why in d["source"]["detail"],
                  f"fallback to kallsyms says why: {d['source']}")
        check(d["total_functions"] > 1000, f"{d['total_functions']} functions")
        text = kallsyms_text()
        got, offset = [], 0
        while True:
            s = tool(c, {"event_type": "kprobe", "limit": 1000, "offset": offset})["structuredContent"]
            got += s["events"]
            if not s["has_more"]:
                break
            offset = s["next_offset"]
        bare = [g.split(" [")[0] for g in got]
        check(len(got) == d["total_functions"] == len(set(got)), "kprobe pages cover the list exactly once")
        check(all(b in text for b in bare), "every listed function is a kallsyms text symbol")
        check(not any(b.startswith(("__pfx_", "__cfi_", ".")) for b in bare), "no padding symbols or labels")
        t0 = time.monotonic()
        s = tool(c, {"event_type": "kprobe", "filter": "^(schedule|try_to_wake_up)$"})["structuredContent"]
        regex_ms = (time.monotonic() - t0) * 1000
        check(s["events"] == ["schedule", "try_to_wake_up"], f"regex over every function: {s['events']}")
        print(f"kernel functions: {d['total_functions']} from {d['source']['name']}, first read "
              f"{first_ms:.0f} ms (list built in {d['source']['build_ms']} ms), regex search over all "
              f"{regex_ms:.0f} ms, excluded {d['excluded']}")


def test_mounts_tracefs():
    if not shutil.which("unshare"):
        print("SKIP mount test: no unshare")
        return
    daemon = mcp_client.daemon_path()
    tmp = tempfile.mkdtemp()
    wrapper = os.path.join(tmp, "schedmcp-nomount")
    # a private mount namespace without tracefs (nor debugfs/tracing)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec unshare -m --propagation private sh -c '"
                "umount -l /sys/kernel/debug/tracing 2>/dev/null; umount -l /sys/kernel/tracing 2>/dev/null; "
                "umount -l /sys/kernel/debug 2>/dev/null; exec \"$0\" \"$@\"' " + daemon + " \"$@\"\n")
    os.chmod(wrapper, stat.S_IRWXU)
    os.environ["SMCP_DAEMON"] = wrapper
    try:
        with mcp_client.Client(["--enable", "event_lister", "--log-level", "error"]) as c:
            d = read(c, "events://perf")
            check(d["source"]["mounted_by_schedmcp"] and "mounted by schedmcp" in d["source"]["found"],
                  f"tracefs mounted when absent: {d['source']}")
            check(d["total_events"] > 100, "tracepoints readable after mounting")
    finally:
        del os.environ["SMCP_DAEMON"]
    # mount_tracefs = false: degraded, with the command to run
    conf = os.path.join(tmp, "nomount.conf")
    with open(conf, "w") as f:
        f.write("[plugin event_lister]\nmount_tracefs = false\n")
    os.environ["SMCP_DAEMON"] = wrapper
    try:
        with mcp_client.Client(["--enable", "event_lister", "--log-level", "error", "--config", conf]) as c:
            r = c.read("events://perf")
            check("error" in r and "mount -t tracefs" in r["error"]["message"],
                  f"mount_tracefs=false explains: {r.get('error')}")
    finally:
        del os.environ["SMCP_DAEMON"]
        shutil.rmtree(tmp)


if os.geteuid() != 0:
    print("SKIP: reading kallsyms addresses and mounting tracefs need root")
    sys.exit(77)
for t in (test_tracepoints, test_kernel_functions, test_mounts_tracefs):
    t()
sys.exit(C.done())
