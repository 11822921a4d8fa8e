"""Per-LLC and per-node folding with a fixture topology (root): the real
CPUs 0 and 1 described as two LLCs on two nodes (--fs-root); migrations
between them count as cross-LLC and cross-node in BPF, the LLC and node
views have one row each with its CPUs, and CPU rows name their LLC and
node. Suite 'bpf'."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402


def main():
    sltest.need_root()
    if os.cpu_count() != 2:
        sltest.skip("the fixture describes exactly 2 CPUs")
    ck = sltest.Checker()
    root = os.path.join(os.environ["SL_FIXTURES"], "topo-2cpu-split")
    d = sltest.start_loaded(ck, extra_args=["--fs-root", root])
    loads = [sltest.Workload("pingpong", 4), sltest.Workload("pingpong", 4),
             sltest.Workload("hog", 4, 0)]
    try:
        for w in loads:
            w.wait()
        time.sleep(1.2)
        llc = d.read_json("stats://aggregated/llc")
        ck.check("level 3" in llc["mapping"], f"mapping from the fixture's caches: {llc['mapping']}")
        start = [w for w in llc["windows"] if w["window"]["name"] == "since_start"][0]
        rows = start["llcs"]
        ck.check([(r["llc"], r["cpus"]) for r in rows] == [(0, "0"), (1, "1")],
                 f"two LLCs of one CPU each: {[(r['llc'], r['cpus']) for r in rows]}")
        x = sum(r["migrations_out_cross_llc_per_s"] for r in rows)
        m = sum(r["migrations_out_per_s"] for r in rows)
        ck.check(m > 0 and abs(x - m) <= 0.2, f"every migration crosses an LLC: {x} of {m} /s")
        node = d.read_json("stats://aggregated/node")
        nrows = [w for w in node["windows"] if w["window"]["name"] == "since_start"][0]["nodes"]
        ck.check(len(nrows) == 2 and sum(r["migrations_out_cross_node_per_s"] for r in nrows) > 0,
                 f"cross-node migrations: {nrows}")
        cpu = d.read_json("stats://aggregated/cpu")["per_cpu"]["cpus"]
        ck.check([(r["cpu"], r["llc"], r["node"]) for r in cpu] == [(0, 0, 0), (1, 1, 1)],
                 f"CPU rows name LLC and node: {[(r['cpu'], r['llc'], r['node']) for r in cpu]}")
        ck.check(cpu[0]["migrations_in_per_s"] > 0 or cpu[1]["migrations_in_per_s"] > 0,
                 "migrations in are counted")

        # analyze_waker_wakee: a ping-pong whose ends sit on CPUs 0 and 1 (two
        # LLCs on two nodes here) wakes across both with every wakeup
        pp = sltest.Workload("pingpong", 30)
        loads.append(pp)
        os.sched_setaffinity(pp.pids[0], {0})
        os.sched_setaffinity(pp.pids[1], {1})
        time.sleep(0.2)
        w = d.structured("analyze_waker_wakee", {"mode": "summary", "duration_s": 2},
                         timeout=20)
        pl = w["summary"]["placement"]
        ck.check(pl["cross_llc"] > 1000 and pl["cross_node"] > 1000,
                 f"summary: wakeups across an LLC and a node: {w['summary']}")
        w = d.structured("analyze_waker_wakee", {"mode": "for_pid", "pid": pp.pids[0],
                                                 "duration_s": 2}, timeout=20)
        out = [p for p in w["as_waker"] if p["wakee"]["pid"] == pp.pids[1]]
        ck.check(out and out[0]["placement"]["cross_llc"] >= out[0]["wakeups"] * 0.9 and
                 out[0]["placement"]["cross_node"] >= out[0]["wakeups"] * 0.9 and
                 out[0]["placement"]["same_cpu"] <= out[0]["wakeups"] * 0.1,
                 f"for_pid: the pair's wakeups cross LLC and node: {out}")
    finally:
        sltest.stop(d, loads)
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
