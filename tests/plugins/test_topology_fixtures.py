#!/usr/bin/env python3
"""topology plugin against fixture trees of five machines (mock host).

Each machine's expected CPU -> core/package/LLC/node mapping is written
below from the machine's facts (how Linux numbers its CPUs, which cores
share an L3), independently of the generator; util-linux `lscpu --sysroot`
on the same tree is a second, independent reader.
"""
import json
import shutil
import subprocess
import sys

from plugtest import Checker, Mock, cpulist, fixture, write, copy_fixture

ck = Checker()


def all_cpu_rows(m, include_offline=False):
    """Page through get_topology full; check every page stays bounded."""
    rows, offset = [], 0
    while True:
        r = m.call_json("get_topology", {"detail_level": "full", "offset": offset,
                                         "include_offline": include_offline})
        ck.check(len(json.dumps(r)) < 40000, "page at %d under 40 kB" % offset)
        rows += r["cpus"]
        nxt = r["page"]["next_offset"]
        if nxt is None:
            ck.eq(r["page"]["total"], len(rows), "page total")
            return rows, r
        ck.check(r["truncated"], "truncated flag set when more pages")
        offset = nxt


def check_rows(name, rows, expect):
    """expect(cpu) -> dict of the fields to compare."""
    for row in rows:
        want = expect(row["id"])
        got = {k: row[k] for k in want}
        ck.eq(got, want, "%s cpu %d" % (name, row["id"]))


def lscpu_rows(root):
    out = subprocess.run(["lscpu", "-p=CPU,CORE,SOCKET,NODE,CACHE", "--sysroot", root],
                         capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        f = line.split(",")
        caches = [c for c in f[5:] if c != ""] if len(f) > 5 else []
        rows[int(f[0])] = {"core_id": int(f[1]), "package_id": int(f[2]),
                           "node_id": int(f[3]) if f[3] else None,
                           "llc_kernel_id": int(caches[-1]) if caches else None}
    return rows


def cross_check_lscpu(name, root, rows):
    if not shutil.which("lscpu"):
        return
    ref = lscpu_rows(root)
    online = [r for r in rows if r["online"]]
    ck.eq(sorted(ref), sorted(r["id"] for r in online),
          "%s: lscpu lists the same online CPUs" % name)
    for r in online:
        got = {k: r[k] for k in ("core_id", "package_id", "node_id", "llc_kernel_id")}
        ck.eq(got, ref.get(r["id"]), "%s cpu %d vs lscpu" % (name, r["id"]))


def machine(name, expect, summary, llcs=None, nodes=None, extra=None):
    root = fixture(name)
    with Mock("topology", root) as m:
        s = m.call_json("get_topology")
        for k, v in summary.items():
            ck.eq(s["summary"][k], v, "%s summary.%s" % (name, k))
        ck.check("cpus" not in s, "%s summary has no cpu rows" % name)
        if llcs is not None:
            ck.eq([(l["id"], l["kernel_id"], l["cpus"]) for l in s["llcs"]], llcs,
                  "%s llc spans" % name)
        if nodes is not None:
            ck.eq([(n["id"], n["cpus"], n["distance"]) for n in s["nodes"]], nodes,
                  "%s nodes" % name)
        rows, _ = all_cpu_rows(m, include_offline=True)
        check_rows(name, rows, expect)
        cross_check_lscpu(name, root, rows)
        info = m.read("topology://info")
        ck.eq(info["nr_cpus"], summary["total_cpus"], "%s info nr_cpus" % name)
        ck.check(len(json.dumps(info)) < 100000, "%s info under 25k tokens (~100 kB)" % name)
        if extra:
            extra(m, s, info)


# --- this 2-CPU VM, captured files (no cache folder, no cpufreq) -------------
def vm_extra(m, s, info):
    ck.check(any("no cache topology" in n for n in s["notes"]),
             "vm: says LLCs are unknown, not guessed")
    ck.eq([c["llc_id"] for c in info["cpus"]], [None, None], "vm: llc ids")


machine("vm-2cpu",
        lambda c: {"core_id": c, "package_id": 0, "node_id": 0, "llc_id": None,
                   "smt_siblings": str(c), "capacity": 1024, "max_freq_khz": None},
        {"total_cpus": 2, "cores": 2, "packages": 1, "llcs": 0, "numa_nodes": 1,
         "smt_enabled": False, "threads_per_core": 1, "llc_level": None},
        llcs=[], nodes=[(0, "0-1", [10])], extra=vm_extra)

# --- 2x Xeon Gold 6148: thread 0 of every core first, sparse core_ids --------
SKX_CORE_IDS = [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 16, 17, 18, 19, 20, 24, 25, 26, 27, 28]


def intel(c):
    pkg = (c % 40) // 20
    return {"core_id": c % 40, "core_kernel_id": SKX_CORE_IDS[c % 20], "package_id": pkg,
            "llc_id": pkg, "llc_kernel_id": pkg, "node_id": pkg,
            "smt_siblings": "%d,%d" % (c % 40, c % 40 + 40), "min_freq_khz": 1000000,
            "max_freq_khz": 3700000, "base_freq_khz": 2400000, "capacity": None}


machine("intel-2s", intel,
        {"total_cpus": 80, "cores": 40, "packages": 2, "llcs": 2, "numa_nodes": 2,
         "smt_enabled": True, "threads_per_core": 2, "llc_level": 3,
         "cpufreq_driver": "intel_pstate"},
        llcs=[(0, 0, "0-19,40-59"), (1, 1, "20-39,60-79")],
        nodes=[(0, "0-19,40-59", [10, 21]), (1, "20-39,60-79", [21, 10])])


# --- 2x EPYC 7302: 8 CCX (LLCs) of 2 cores per socket, L3 ids 0-7 and 16-23 ---
def epyc(c):
    pkg, i = (c % 32) // 16, c % 16
    ccx = i // 2
    return {"core_id": c % 32, "core_kernel_id": ccx * 4 + i % 2, "package_id": pkg,
            "llc_id": pkg * 8 + ccx, "llc_kernel_id": pkg * 16 + ccx, "node_id": pkg,
            "smt_siblings": "%d,%d" % (c % 32, c % 32 + 32), "base_freq_khz": None,
            "max_freq_khz": 3000000}


def epyc_llcs():
    out = []
    for pkg in range(2):
        for ccx in range(8):
            a = pkg * 16 + ccx * 2
            out.append((pkg * 8 + ccx, pkg * 16 + ccx, "%d-%d,%d-%d" % (a, a + 1, a + 32, a + 33)))
    return out


machine("amd-epyc-2s", epyc,
        {"total_cpus": 64, "cores": 32, "packages": 2, "llcs": 16, "numa_nodes": 2,
         "smt_enabled": True, "llc_level": 3},
        llcs=epyc_llcs(), nodes=[(0, "0-15,32-47", [10, 32]), (1, "16-31,48-63", [32, 10])])


# --- 256 CPUs: 2x EPYC 7763, NPS4 (8 nodes), 16 LLCs ---------------------------
def milan(c):
    pkg, core = (c % 128) // 64, c % 64
    return {"core_id": c % 128, "package_id": pkg, "llc_id": pkg * 8 + core // 8,
            "llc_kernel_id": pkg * 8 + core // 8, "node_id": pkg * 4 + core // 16,
            "smt_siblings": "%d,%d" % (c % 128, c % 128 + 128), "capacity": None}


def milan_nodes():
    out = []
    for n in range(8):
        a = n * 16
        out.append((n, "%d-%d,%d-%d" % (a, a + 15, a + 128, a + 143),
                    [10 if n == o else 12 if n // 4 == o // 4 else 32 for o in range(8)]))
    return out


def milan_extra(m, s, info):
    ck.eq(len(info["cpus"]), 256, "256: info lists every CPU")
    ck.eq(info["truncated"], False, "256: info not cut")
    r = m.call_json("get_topology", {"detail_level": "full", "cpus": "0-7,64"})
    ck.eq([c["id"] for c in r["cpus"]], [0, 1, 2, 3, 4, 5, 6, 7, 64], "256: cpus filter")
    ck.eq([c["cpus"] for c in r["cores"]][:2], ["0,128", "1,129"],
          "256: cores on the filtered page")
    r = m.call_json("get_topology", {"detail_level": "full"})
    ck.eq(len(r["cpus"]), 64, "256: default page is 64 rows")
    ck.check(any("offset=64" in n for n in r["notes"]), "256: the cut says how to get the rest")


machine("epyc-256", milan,
        {"total_cpus": 256, "cores": 128, "packages": 2, "llcs": 16, "numa_nodes": 8,
         "smt_enabled": True},
        nodes=milan_nodes(), extra=milan_extra)

# --- offline CPUs and holes: present 0-5,8-13; offline 4,5,12 -----------------
ONLINE = [0, 1, 2, 3, 8, 9, 10, 11, 13]


def holes(c):
    if c not in ONLINE:
        return {"online": False, "core_id": None, "package_id": None, "llc_id": None,
                "node_id": 0 if c < 8 else 1, "smt_siblings": None}
    return {"online": True, "core_id": ONLINE.index(c), "package_id": 0 if c < 8 else 1,
            "llc_id": 0 if c < 8 else 1, "node_id": 0 if c < 8 else 1,
            "smt_siblings": str(c), "capacity": 1024}


def holes_extra(m, s, info):
    r = m.call_json("get_topology", {"detail_level": "full"})
    ck.eq([c["id"] for c in r["cpus"]], ONLINE, "holes: offline CPUs hidden by default")
    r = m.call_json("get_topology", {"detail_level": "full", "include_offline": True})
    ck.eq([c["id"] for c in r["cpus"]], [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13],
          "holes: include_offline lists present CPUs")
    ck.eq([c["id"] for c in info["cpus"]], [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13],
          "holes: info lists present CPUs")
    ck.check(any("offline CPUs" in n for n in s["notes"]), "holes: says why offline CPUs lack ids")


machine("offline-holes", holes,
        {"total_cpus": 9, "present_cpus": 12, "possible_cpus": 16, "online": "0-3,8-11,13",
         "offline": "4-5,12", "cores": 9, "packages": 2, "llcs": 2, "numa_nodes": 2,
         "smt_enabled": False},
        llcs=[(0, 0, "0-3"), (1, 1, "8-11,13")],
        nodes=[(0, "0-3", [10, 20]), (1, "8-11,13", [20, 10])], extra=holes_extra)

# --- bad input: tool errors that name the valid values -------------------------
with Mock("topology", fixture("vm-2cpu")) as m:
    r = m.call("get_topology", {"detail_level": "everything"})
    ck.check(r["isError"], "bad detail_level is a tool error")
    ck.check("summary, full" in r["content"][0]["text"], "bad detail_level lists valid values")
    r = m.call("get_topology", {"detail_level": "full", "cpus": "3-1"})
    ck.check(r["isError"] and "0-7,64" in r["content"][0]["text"], "bad cpus is a tool error")
    r = m.call("get_topology", {"detail_level": "full", "cpus": "0-9999"})
    ck.check(r["isError"], "out-of-range cpus is a tool error")

# --- hotplug: a CPU goes offline, the poll notices and notifies ----------------
root = copy_fixture("offline-holes")
try:
    import gen_fixtures
    with Mock("topology", root) as m:
        m.advance(2000)
        ck.eq(m.notified, [], "no notification while nothing changes")
        mach = gen_fixtures.offline_holes()
        mach.cpus[13].online = False
        shutil.rmtree(root)
        gen_fixtures.write_machine(mach, root)
        m.advance(2000)
        ck.eq(m.notified, ["topology://info"], "hotplug notifies topology://info")
        s = m.call_json("get_topology")
        ck.eq(s["summary"]["online"], "0-3,8-11", "hotplug: new online set")
        ck.eq(s["nodes"][1]["cpus"], "8-11", "hotplug: node 1 shrank")
        shutil.rmtree(root + "/sys")
        m.advance(2000)
        info = m.read("topology://info")
        ck.eq(info["nr_cpus"], 8, "sysfs gone: last good topology still served")
finally:
    shutil.rmtree(root.rsplit("/", 1)[0], ignore_errors=True)

# --- no sysfs at all: degraded, reads fail with a reason ------------------------
with Mock("topology", "/nonexistent") as m:
    st = m.cmd("status")
    ck.check(st["degraded"], "no sysfs: degraded")
    r = m.cmd("read topology://info")
    ck.check(r["rc"] < 0 and "cannot read" in r["content"][0]["text"],
             "no sysfs: read fails with a reason")
    r = m.call("get_topology")
    ck.check(r["isError"], "no sysfs: tool error")

# --- valgrind over the biggest and the oddest trees -----------------------------
for name in ("epyc-256", "offline-holes"):
    with Mock("topology", fixture(name), valgrind=True) as m:
        m.read("topology://info")
        m.call_json("get_topology", {"detail_level": "full", "include_offline": True})
        m.advance(2000)

sys.exit(ck.done())
