#!/usr/bin/env python3
"""diagnose_cgroup, stats://cgroup/{+path} and notable.throttling on a
fixture cgroup2 tree (--fs-root), with or without privileges: the layout is
named, names resolve (unit, container id prefix: a guess), bad input is a
clear error, the numbers over the window are the differences of what the
test writes into the fixture's files during it, and a tree without a cpu
controller says so. Suite 'plugins'."""
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

C = sltest.Checker("sched_latency/diagnose-fixture")
WEB = "sys/fs/cgroup/system.slice/web.service"


def write_stat(root, usage, periods, throttled, throttled_us):
    with open(os.path.join(root, WEB, "cpu.stat"), "w") as f:
        f.write(f"usage_usec {usage}\nuser_usec {usage}\nsystem_usec 0\n"
                f"nr_periods {periods}\nnr_throttled {throttled}\n"
                f"throttled_usec {throttled_us}\n")


def tree(name):
    tmp = tempfile.mkdtemp(prefix="sl-cg-")
    root = os.path.join(tmp, "root")
    shutil.copytree(os.path.join(os.environ["SL_FIXTURES"], name), root, symlinks=True)
    return tmp, root


@C.case
def test_v2_fixture():
    tmp, root = tree("cg-v2")
    with open(os.path.join(root, WEB, "cpu.max"), "w") as f:
        f.write("20000 100000\n")
    write_stat(root, 3000000, 100, 0, 0)
    d = sltest.Daemon(extra_args=["--fs-root", root])
    try:
        _, cursor = poll(d, 0)
        # during a 2 s window: 0.4 CPU-seconds used, 20 periods, 18 throttled
        t = threading.Timer(0.6, write_stat, (root, 3400000, 120, 18, 1500000))
        t.start()
        r = d.structured("diagnose_cgroup", {"cgroup": "web.service", "duration_s": 2})
        t.join()
        cg, q, u = r["cgroup"], r["quota"], r["usage"]
        C.check(cg["layout"] == "v2" and cg["hierarchy"] == "/sys/fs/cgroup", f"layout: {cg}")
        C.check(cg["path"] == "/system.slice/web.service" and cg["kind"] == "systemd service"
                and cg["unit"] == "web.service" and not cg.get("guess"), f"name: {cg}")
        C.check(r["verdict"] == "throttled" and "throttled" in r["causes"], f"verdict: {r}")
        C.check(q["nr_periods"] == 20 and q["nr_throttled"] == 18 and
                q["nr_throttled_start"] == 0 and q["nr_throttled_end"] == 18 and
                q["throttled_periods_pct"] == 90 and q["throttled_ms"] == 1500 and
                q["limit_cpus"] == 0.2, f"quota: {q}")
        span = r["window"]["span_s"]
        C.check(1.9 <= span <= 3 and abs(u["cpus"] - 0.4 / span) < 0.01, f"usage: {u} {span}")
        C.check(r["weight"]["file"] == "cpu.weight" and r["weight"]["value"] == 100,
                f"weight: {r['weight']}")
        C.check("some_pct" in r["pressure"], f"cgroup pressure read: {r['pressure']}")

        r = d.structured("diagnose_cgroup", {"cgroup": "3f4e5d6c7b8a", "duration_s": 1})
        cg = r["cgroup"]
        C.check(cg["kind"] == "docker container" and cg.get("guess") is True and
                cg["container_id"].startswith("3f4e5d6c7b8a") and cg["input"] == "3f4e5d6c7b8a",
                f"container id prefix: {cg}")
        for bad, words in (("web", "match"), ("/a/../b", "'..'"), ("nosuch.service", "no cgroup"),
                           ("/nosuch", "no cgroup")):
            e = d.tool("diagnose_cgroup", {"cgroup": bad, "duration_s": 1})
            text = e["content"][0]["text"]
            C.check(e.get("isError") and words in text, f"{bad}: {text}")
        e = d.tool("diagnose_cgroup", {"cgroup": "web.service", "duration_s": 31})
        C.check(e.get("isError"), f"duration bounded: {e}")

        body = d.read_json("stats://cgroup/system.slice/web.service")
        C.check(body.get("cgroup", {}).get("path") == "/system.slice/web.service" and
                body["window"]["span_s"] >= 0.9, f"resource: {str(body)[:300]}")

        # the watcher: two more steps of throttling make one event
        write_stat(root, 3600000, 140, 36, 3000000)
        time.sleep(2.5)
        write_stat(root, 3800000, 160, 54, 4500000)
        time.sleep(2.5)
        events, _ = poll(d, cursor)
        thr = [e for e in events if e["type"] == "notable.throttling"]
        C.check(len(thr) == 1 and thr[0]["cgroup"] == "/system.slice/web.service" and
                thr[0]["unit"] == "web.service" and thr[0]["layout"] == "v2" and
                thr[0]["limit_cpus"] == 0.2, f"one notable.throttling (cooldown): {thr}")

        # and the counters for history and watches: every throttled period written
        time.sleep(1.2)  # the step in progress is recorded
        h = d.structured("query_history", {"metric": "sched_cgroup_throttled_periods_total",
                                           "labels": "cgroup=/system.slice/web.service",
                                           "start": "-60s"})
        print("history:", str(h)[:600])
        got = sum((s.get("summary") or {}).get("increase") or 0 for s in h.get("series", []))
        C.check(got == 54, f"sched_cgroup_throttled_periods_total rose by 54: {got} {h}")
    finally:
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)


@C.case
def test_cancel():
    """Cancelled while a name is resolved on a worker, or while sampling:
    nothing is answered for them and the daemon serves on (run under a
    sanitizer build, this is the use-after-free check of those paths)."""
    tmp, root = tree("cg-v2")
    d = sltest.Daemon(extra_args=["--fs-root", root])
    try:
        ids = []
        for i, (arg, wait) in enumerate((("web.service", 0), ("web.service", 0.4),
                                         ("/system.slice/web.service", 0.3))):
            rid = 900 + i
            ids.append(rid)
            d.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                    "params": {"name": "diagnose_cgroup",
                               "arguments": {"cgroup": arg, "duration_s": 2}}})
            time.sleep(wait)
            d.notify("notifications/cancelled", {"requestId": rid})
        time.sleep(2.5)
        C.check(d.request("ping").get("result") == {}, "ping answers after the cancels")
        answered = [m.get("id") for m in d.messages if m.get("id") in ids]
        C.check(not answered, f"nothing answered for cancelled calls: {answered}")
    finally:
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)


@C.case
def test_no_cpu_controller():
    tmp, root = tree("cg-none")
    d = sltest.Daemon(extra_args=["--fs-root", root])
    try:
        e = d.tool("diagnose_cgroup", {"cgroup": "/", "duration_s": 1})
        text = e["content"][0]["text"]
        C.check(e.get("isError") and "no cpu controller" in text, f"says why: {text}")
        body = d.read_json("stats://cgroup/cron.service")
        C.check(body.get("available") is False and "no cpu controller" in body.get("reason", ""),
                f"the resource says why: {body}")
    finally:
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)



def poll(d, cursor):
    return sltest.poll_events(d, cursor, "notable.")


if __name__ == "__main__":
    C.main()
