#!/usr/bin/env python3
"""topology plugin through the real daemon: the live machine's CPU -> core/
socket/node/LLC mapping equals `lscpu -p`, subscribers hear about hotplug,
and `schedmcp report` shows the topology."""
import json
import os
import shutil
import subprocess
import sys
import time

from plugtest import BUILD, Checker, copy_fixture, fixture
from mcp_client import Client, daemon_path

ck = Checker()


def cpu_rows(c):
    rows, offset = [], 0
    while offset is not None:
        r = c.call_tool("get_topology", {"detail_level": "full", "offset": offset, "limit": 128})
        sc = r["result"]["structuredContent"]
        rows += sc["cpus"]
        offset = sc["page"]["next_offset"]
    return rows


def lscpu_live():
    out = subprocess.run(["lscpu", "-p=CPU,CORE,SOCKET,NODE,CACHE"], capture_output=True,
                         text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        f = line.split(",")
        caches = [x for x in f[5:] if x != ""]
        rows[int(f[0])] = {"core_id": int(f[1]), "package_id": int(f[2]),
                           "node_id": int(f[3]) if f[3] else None,
                           "llc_kernel_id": int(caches[-1]) if caches else None}
    return rows


# --- the live machine against lscpu -------------------------------------------------
with Client(args=["--enable", "topology"]) as c:
    rows = cpu_rows(c)
    ref = lscpu_live()
    ck.eq(sorted(r["id"] for r in rows), sorted(ref), "live: same online CPUs as lscpu")
    for r in rows:
        got = {k: r[k] for k in ("core_id", "package_id", "node_id", "llc_kernel_id")}
        ck.eq(got, ref[r["id"]], "live cpu %d vs lscpu" % r["id"])
    info = c.read_json("topology://info")
    ck.eq(info["nr_cpus"], os.cpu_count(), "live: nr_cpus is the online count")
    r = c.call_tool("get_topology", {"detail_level": "verbose"})
    ck.check(r.get("result", {}).get("isError") is True, "live: bad detail_level is a tool error")
    text = json.dumps(r)
    ck.check("summary" in text and "full" in text, "live: the error names the valid values")
    r = c.call_tool("get_topology", {"detail_level": "full", "limit": "1"})
    ck.eq(len(r["result"]["structuredContent"]["cpus"]), 1, "live: numeric strings accepted")

# --- a 256-CPU fixture through the daemon: bounded answers ---------------------------
with Client(args=["--enable", "topology", "--fs-root", fixture("epyc-256")]) as c:
    took = 1e9
    for _ in range(3):  # the fastest of three: one stalled read on a busy machine says nothing
        t0 = time.monotonic()
        body = c.read("topology://info")
        took = min(took, time.monotonic() - t0)
    text = body["result"]["contents"][0]["text"]
    ck.check(len(text) < 100000, "256: topology://info under 25k tokens (%d chars)" % len(text))
    ck.eq(json.loads(text)["summary"]["llcs"], 16, "256: counts")
    ck.check(took < 0.5, "256: answered from memory (%.1f ms)" % (took * 1000))
    r = c.call_tool("get_topology", {"detail_level": "full"})
    ck.check(len(json.dumps(r["result"]["structuredContent"])) < 60000,
             "256: a full page stays under 25k tokens")

# --- 256 CPUs under a small max_result_bytes: pages end where the answer is full ---------
cfg = os.path.join(BUILD, "topology-pages.conf")
with open(cfg, "w") as f:
    f.write("[core]\nmax_result_bytes = 16384\n")
with Client(args=["--enable", "topology", "--fs-root", fixture("epyc-256"), "--config", cfg]) as c:
    seen, cores, offset, pages = [], [], 0, 0
    while offset is not None and pages < 100:
        r = c.call_tool("get_topology", {"detail_level": "full", "limit": 128, "offset": offset})
        ck.check(not r["result"].get("isError"),
                 "16k: a page, not a failure: %s" % json.dumps(r)[:300])
        if r["result"].get("isError"):
            break
        b = r["result"]["structuredContent"]
        seen += [x["id"] for x in b["cpus"]]
        cores += [x["id"] for x in b["cores"]]
        offset = b["page"]["next_offset"]
        pages += 1
    ck.check(pages > 2, "16k: the 256 CPUs take several pages (%d)" % pages)
    ck.eq(sorted(seen), list(range(256)), "16k: the pages hold every CPU once")
    ck.eq(len(cores), len(set(cores)), "16k: no core on two pages")
os.unlink(cfg)

# --- hotplug: a subscriber is told, and the new topology is served -------------------
root = copy_fixture("offline-holes")
try:
    import gen_fixtures
    with Client(args=["--enable", "topology", "--fs-root", root]) as c:
        r = c.request("resources/subscribe", {"uri": "topology://info"})
        ck.check("result" in r, "subscribe accepted")
        mach = gen_fixtures.offline_holes()
        mach.cpus[13].online = False
        # the daemon holds the root open (core/host.c): swap what is in it,
        # each part in one rename as the kernel's sysfs changes at once
        tmp = root + ".new"
        gen_fixtures.write_machine(mach, tmp)
        for part in sorted(os.listdir(tmp)):
            old = os.path.join(root, part + ".old")
            if os.path.exists(os.path.join(root, part)):
                os.rename(os.path.join(root, part), old)
            os.rename(os.path.join(tmp, part), os.path.join(root, part))
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        deadline, seen = time.monotonic() + 8, False
        while time.monotonic() < deadline and not seen:
            m = c.recv(timeout=max(0.1, deadline - time.monotonic()))
            seen = bool(m and m.get("method") == "notifications/resources/updated" and
                        m["params"]["uri"] == "topology://info")
        ck.check(seen, "hotplug: notifications/resources/updated within the 2 s poll")
        ck.eq(c.read_json("topology://info")["summary"]["online"], "0-3,8-11",
              "hotplug: new online set")
finally:
    shutil.rmtree(os.path.dirname(root), ignore_errors=True)

# --- schedmcp report shows it -----------------------------------------------------------
out = subprocess.run([daemon_path(), "report", "--json", "--plugin-dir",
                      os.path.join(BUILD, "plugins"), "--no-default-plugins", "--enable", "topology", "--fs-root",
                      fixture("intel-2s"), "--interval", "0"],
                     capture_output=True, text=True, timeout=30)
ck.eq(out.returncode, 0, "report exits 0")
rep = json.loads(out.stdout or "{}")
ck.eq(rep.get("topology://info", {}).get("nr_cpus"), 80, "report --json has topology://info")

sys.exit(ck.done())
