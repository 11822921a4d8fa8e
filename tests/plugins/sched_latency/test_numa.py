"""NUMA placement (stats://numa, stats://numa/{pid}). On a two-node
fixture (--fs-root: the real CPUs 0 and 1 on nodes 0 and 1, numastat
files the test rewrites, a fake /proc/4242/numa_maps): memory locality
rates from two numastat samples over the core's windows, numa_maps pages
per node (a file= path that looks like counts is not counted, an overlong
line is skipped), and, where BPF runs, a hog pinned to CPU 1 listed on
node 1 with its CPU share. Then the live machine: one node per
/sys/devices/system/node, sane rates, this test's own pages on a node.
Suite 'plugins' (the BPF parts need root and skip otherwise)."""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

FIELDS = ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node",
          "other_node"]

# one mapping per line; N<node>= counts are pages of kernelpagesize_kB
NUMA_MAPS = "\n".join([
    "00400000 default file=/usr/bin/app mapped=10 mapcount=2 N0=6 N1=4 kernelpagesize_kB=4",
    "7f0000000000 bind:1 anon=512 dirty=512 N1=512 kernelpagesize_kB=2048",
    # a path holding " N0=999 ": read from the end, only N0=2 counts
    "7f1000000000 default file=/tmp/x\\ N0=999 y mapped=2 N0=2 kernelpagesize_kB=4",
    "7f2000000000 default file=/" + "a" * 1500 + " N0=1000 kernelpagesize_kB=4",
    "7f3000000000 default stack anon=3 dirty=3 N1=3 kernelpagesize_kB=4",
]) + "\n"


def write_numastat(root, node, v):
    d = os.path.join(root, "sys/devices/system/node/node%d" % node)
    tmp = os.path.join(d, "numastat.tmp")
    with open(tmp, "w") as f:
        f.write("".join("%s %d\n" % (k, v[k]) for k in FIELDS))
    os.replace(tmp, os.path.join(d, "numastat"))


def proc_cpu_s(pid):
    """utime + stime of pid so far, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def share_ok(ck, doc, row, pid, what):
    """pid's cpu_pct over the window matches its CPU time from /proc: the
    hog started inside the window, so all its time but what it ran since
    the window's end (ends_ms_ago, up to a step; other tenants share the
    CPU, hence half) is in it."""
    total = proc_cpu_s(pid)
    after = doc["window"].get("ends_ms_ago", 0) / 1000
    got = row["cpu_pct"] / 100 * doc["window"]["span_s"]
    ck.check(0.5 * (total - after) - 0.1 <= got <= total + 0.1,
             f"{what}: {row['cpu_pct']} % of {doc['window']['span_s']} s = {got:.2f} s, "
             f"/proc says {total:.2f} s")


def node_row(doc, n):
    rows = [r for r in doc["nodes"] if r["node"] == n]
    return rows[0] if rows else None


def close(a, b, tol=0.01):
    return a is not None and abs(a - b) <= tol * max(abs(b), 1)


def fixture(ck):
    tmp = tempfile.mkdtemp(prefix="sl-numa-")
    root = os.path.join(tmp, "root")
    shutil.copytree(os.path.join(os.environ["SL_FIXTURES"], "topo-2cpu-split"), root)
    os.makedirs(os.path.join(root, "proc/4242"))
    with open(os.path.join(root, "proc/4242/numa_maps"), "w") as f:
        f.write(NUMA_MAPS)
    with open(os.path.join(root, "proc/4242/comm"), "w") as f:
        f.write("fixtureproc\n")
    base = {0: dict.fromkeys(FIELDS, 1000), 1: dict.fromkeys(FIELDS, 2000)}
    for n in (0, 1):
        write_numastat(root, n, base[n])
    d = sltest.Daemon(extra_args=["--fs-root", root])
    loaded = d.plugin_state()["state"] == "loaded"
    hog = sltest.Workload("hog", 6, 1) if loaded and os.cpu_count() == 2 else None
    try:
        time.sleep(1.5)  # the baseline sample and a step or two
        inc = {0: {"numa_hit": 5000, "numa_miss": 500, "local_node": 4000, "other_node": 1000},
               1: {"numa_hit": 300, "numa_foreign": 700, "local_node": 300}}
        for n in (0, 1):
            write_numastat(root, n, {k: base[n][k] + inc[n].get(k, 0) for k in FIELDS})
        time.sleep(3.2)
        doc = d.read_json("stats://numa")
        ck.check(doc["node_count"] == 2, f"two nodes: {doc.get('node_count')}")
        for n in (0, 1):
            row = node_row(doc, n)
            mem = ((row or {}).get("memory") or {}).get("10s")
            if not ck.check(mem is not None, f"node {n}: a 10s memory window: {row}"):
                continue
            for k in FIELDS:
                got = mem[k + "_per_s"] * mem["span_s"]
                ck.check(close(got, inc[n].get(k, 0), 0.01),
                         f"node {n} {k}: {mem[k + '_per_s']}/s over {mem['span_s']} s "
                         f"= {got}, expected {inc[n].get(k, 0)}")
        m0 = node_row(doc, 0)["memory"]["10s"]
        ck.check(close(m0["local_pct"], 80, 0.001) and close(m0["hit_pct"], 5000 / 55, 0.001),
                 f"node 0: local 80 %, hit 90.9 %: {m0}")

        one = d.read_json("stats://numa/4242")
        nodes = {r["node"]: r for r in one["nodes"]}
        ck.check(one["comm"] == "fixtureproc" and one["mappings"] == 4,
                 f"numa_maps: comm and 4 mappings parsed (one too long): {one}")
        ck.check(nodes.get(0, {}).get("pages") == 8 and nodes.get(1, {}).get("pages") == 519,
                 f"pages per node: N0 6+2 (not 999, not 1000), N1 4+512+3: {one['nodes']}")
        ck.check(nodes.get(1, {}).get("kb") == 16 + 512 * 2048 + 12,
                 f"N1 kB with each mapping's page size: {one['nodes']}")
        ck.check(one.get("lines_skipped") == 1, f"the overlong line is skipped: {one}")
        r = d.read("stats://numa/999999")
        ck.check("error" in r or r.get("result", {}).get("isError"),
                 f"an unknown pid is an error: {r}")

        if hog:
            rows = node_row(doc, 1)["processes"]
            mine = [p for p in rows if p["pid"] == hog.proc.pid]
            if ck.check(mine and mine[0]["comm"] == "sl-workload",
                        f"the hog pinned to CPU 1 runs on node 1: {rows}"):
                share_ok(ck, doc, mine[0], hog.proc.pid, "the hog's share on node 1")
            ck.check(node_row(doc, 1)["process_count"] >= 1 and
                     node_row(doc, 1)["cpus"] == "1",
                     f"node 1: CPU 1, a process count: {node_row(doc, 1)}")
            ck.check(not [p for p in node_row(doc, 0)["processes"] if p["pid"] == hog.proc.pid],
                     "the hog is not on node 0")
        else:
            print("note: placement of processes not checked:",
                  "sched_latency degraded" if not loaded else "not 2 CPUs")
    finally:
        sltest.stop(d, [hog] if hog else [])
        shutil.rmtree(tmp, ignore_errors=True)


def live(ck):
    nodes = sorted(int(e[4:]) for e in os.listdir("/sys/devices/system/node")
                   if e.startswith("node") and e[4:].isdigit())
    d = sltest.Daemon()
    loaded = d.plugin_state()["state"] == "loaded"
    hog = sltest.Workload("hog", 5, 0) if loaded else None
    try:
        time.sleep(2.5)
        doc = d.read_json("stats://numa")
        ck.check([r["node"] for r in doc["nodes"]] == nodes,
                 f"live: the nodes of sysfs {nodes}: {[r['node'] for r in doc['nodes']]}")
        mem = node_row(doc, nodes[0])["memory"]["10s"]
        ck.check(mem and all(mem[k + "_per_s"] >= 0 for k in FIELDS) and
                 (len(nodes) > 1 or mem["numa_miss_per_s"] == 0),
                 f"live: rates, no misses with one node: {mem}")
        # this test's own process: as root it holds every capability, so
        # the read passes the kernel's ptrace check only with CAP_SYS_PTRACE
        one = d.read_json("stats://numa/%d" % os.getpid())
        ck.check(one["pages"] > 100 and {r["node"] for r in one["nodes"]} <= set(nodes) and
                 sum(r["pct"] for r in one["nodes"]) > 99.9,
                 f"live: this test's pages on the machine's nodes: {one}")
        if hog:
            procs = [p for r in doc["nodes"] for p in r["processes"]]
            mine = [p for p in procs if p["pid"] == hog.proc.pid]
            if ck.check(mine, f"live: the hog is listed: {procs}"):
                share_ok(ck, doc, mine[0], hog.proc.pid, "live: the hog's share")
            ck.check(sum(r["process_count"] for r in doc["nodes"]) >= 2,
                     f"live: process counts: {[r['process_count'] for r in doc['nodes']]}")
    finally:
        sltest.stop(d, [hog] if hog else [])


def main():
    ck = sltest.Checker()
    ck.case(lambda: fixture(ck))
    ck.cases[-1].__name__ = "fixture_2node"
    ck.case(lambda: live(ck))
    ck.cases[-1].__name__ = "live"
    return ck.run()


if __name__ == "__main__":
    sys.exit(main())
