"""measure_latency, analyze_waker_wakee and their lifecycle (root):
progress notifications while collecting, filters by pid (numeric strings
accepted), CPU and cgroup, grouped rows, answers from a window, a cancelled
call releases its measurement slot, too many at once is an isError result
that says what to do, and bad arguments are explained. Suite 'bpf'."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

CGROOT = "/sys/fs/cgroup"


def cgroup_v2():
    try:
        with open("/proc/mounts") as f:
            return any(ln.split()[1] == CGROOT and ln.split()[2] == "cgroup2" for ln in f)
    except OSError:
        return False


def main():
    sltest.need_root()
    ck = sltest.Checker()
    d = sltest.start_loaded(ck)
    pp = sltest.Workload("pingpong", 60, 0)
    other = sltest.Workload("pingpong", 60, 1)
    try:
        # progress while collecting
        r = d.tool("measure_latency", {"duration_s": "3", "pid": str(pp.pids[1])},
                   meta={"progressToken": "m1"}, timeout=20)
        prog = [m for m in d.messages if m.get("method") == "notifications/progress" and
                m["params"]["progressToken"] == "m1"]
        ck.check(len(prog) == 2 and prog[-1]["params"]["total"] == 3,
                 f"progress each second: {prog}")
        m = r["structuredContent"]
        ck.check(not r.get("isError") and m["filter"]["pid"] == pp.pids[1], f"pid filter: {m}")
        lat = m["run_queue_latency"]
        ck.check(lat["samples"] > 1000 and m["switches_in"] >= lat["samples"],
                 f"the child's waits counted: {lat}")
        ck.check(m["histogram"]["counts"] and
                 sum(c[2] for c in m["histogram"]["counts"]) == lat["samples"],
                 "histogram adds up to the samples")

        # CPU filter: the pair pinned to CPU 1 is not on CPU 0
        m0 = d.structured("measure_latency", {"duration_s": 2, "cpu": 1,
                                              "pid": pp.pids[0]}, timeout=20)
        ck.check(m0["run_queue_latency"]["samples"] == 0,
                 f"pid on CPU 0 has no samples on CPU 1: {m0['run_queue_latency']}")

        # grouped rows, collected
        g = d.structured("measure_latency", {"duration_s": 2, "group_by": "process",
                                             "sort": "waits", "limit": 3}, timeout=20)
        ck.check(g["group_by"] == "process" and 0 < len(g["rows"]) <= 3 and
                 g["window"]["span_s"] >= 1.9, f"grouped: {str(g)[:300]}")
        waits = [row["run_queue_latency"]["samples"] for row in g["rows"]]
        ck.check(waits == sorted(waits, reverse=True), f"sorted by waits: {waits}")
        ck.check({pp.pids[0], pp.pids[1]} & {row["pid"] for row in g["rows"]},
                 "the busy ping-pong is among the top processes")
        cpus = d.structured("measure_latency", {"window": "10s", "group_by": "cpu"})
        ck.check(len(cpus["rows"]) == os.cpu_count() and cpus["window"]["name"] == "10s",
                 "cpu rows from a window")
        llc = d.structured("measure_latency", {"window": "60s", "group_by": "llc"})
        ck.check(llc["rows"] and "cpus" in llc["rows"][0], f"llc rows: {str(llc)[:200]}")

        # cancel releases the slot: then SLOTS measurements at once still work
        d.send({"jsonrpc": "2.0", "id": "cancel-me", "method": "tools/call",
                "params": {"name": "measure_latency", "arguments": {"duration_s": 30}}})
        time.sleep(0.5)
        d.notify("notifications/cancelled", {"requestId": "cancel-me", "reason": "test"})
        time.sleep(0.3)
        results = {}
        # four filtered measurements in flight at once (sent, then read)
        for i in range(4):
            d.send({"jsonrpc": "2.0", "id": f"par{i}", "method": "tools/call",
                    "params": {"name": "measure_latency",
                               "arguments": {"duration_s": 2, "cpu": i % 2}}})
        fifth = d.tool("measure_latency", {"duration_s": 2, "pid": 1}, timeout=10)
        ck.check(fifth.get("isError") and "already running" in fifth["content"][0]["text"],
                 f"a fifth filtered measurement is refused with advice: {fifth}")
        for i in range(4):
            results[i] = d.wait_response(f"par{i}", timeout=20)["result"]
        ck.check(all(not r.get("isError") for r in results.values()),
                 f"four at once after a cancel: {[r.get('isError') for r in results.values()]}")
        again = d.tool("measure_latency", {"duration_s": 1}, timeout=10)
        ck.check(not again.get("isError"), "slots free again afterwards")

        # cgroup filter
        if cgroup_v2():
            cg = f"{CGROOT}/sl-test-{os.getpid()}"
            empty = cg + "-empty"
            os.mkdir(cg)
            os.mkdir(empty)
            try:
                for pid in other.pids:
                    with open(f"{cg}/cgroup.procs", "w") as f:
                        f.write(str(pid))
                mc = d.structured("measure_latency", {"duration_s": 2,
                                                      "cgroup": "/" + os.path.basename(cg)},
                                  timeout=20)
                me = d.structured("measure_latency", {"duration_s": 2,
                                                      "cgroup": "/" + os.path.basename(empty)},
                                  timeout=20)
                ck.check(mc["run_queue_latency"]["samples"] > 1000,
                         f"tasks in the cgroup: {mc['run_queue_latency']}")
                ck.check(me["run_queue_latency"]["samples"] == 0,
                         f"empty cgroup: {me['run_queue_latency']}")
            finally:
                for pid in other.pids:
                    try:
                        with open(f"{CGROOT}/cgroup.procs", "w") as f:
                            f.write(str(pid))
                    except OSError:
                        pass
                time.sleep(0.2)
                os.rmdir(cg)
                os.rmdir(empty)
        else:
            print("note: no cgroup v2 at /sys/fs/cgroup; cgroup filter not tested")

        # waker / wakee pairs
        w = d.structured("analyze_waker_wakee", {"duration_s": 2, "limit": 5}, timeout=20)
        pairs = {(p["waker"]["pid"], p["wakee"]["pid"]) for p in w["pairs"]}
        ck.check((pp.pids[0], pp.pids[1]) in pairs and (pp.pids[1], pp.pids[0]) in pairs,
                 f"the ping-pong pair wakes each other: {w['pairs'][:3]}")
        top = w["pairs"][0]
        ck.check(top["wakeups"] > 1000 and top["wakee_wait"]["samples"] > 0,
                 f"counts and the wakee's wait: {top}")

        # scxtop's modes (analyze_waker_wakee mode=...): the ping-pong pinned to
        # CPU 0 wakes its other end on its own CPU, both ways
        pair = (pp.pids[0], pp.pids[1])
        w = d.structured("analyze_waker_wakee", {"mode": "bidirectional", "duration_s": 2},
                         timeout=20)
        two = [x for x in w["pairs"] if {x["a"]["pid"], x["b"]["pid"]} == set(pair)]
        ck.check(w["mode"] == "bidirectional" and two and
                 two[0]["a_wakes_b"]["wakeups"] > 1000 and two[0]["b_wakes_a"]["wakeups"] > 1000
                 and two[0]["a_wakes_b"]["wakee_wait"]["samples"] > 0
                 and "mean_us" in two[0]["b_wakes_a"]["wakee_wait"],
                 f"bidirectional: the pair counted both ways, with its waits: {w['pairs'][:2]}")
        ck.check(two and two[0]["a_wakes_b"]["placement"]["same_cpu"] >=
                 two[0]["a_wakes_b"]["wakeups"] * 0.9,
                 f"pinned to one CPU: the wakee is put on the waker's CPU: {two[:1]}")
        for mode, key in [("latency", "mean_us"), ("critical", None)]:
            w = d.structured("analyze_waker_wakee", {"mode": mode, "duration_s": 1,
                                                     "limit": 50}, timeout=20)
            rows = w["pairs"]
            if mode == "latency":
                v = [x["wakee_wait"].get("mean_us", 0) for x in rows]
            else:
                v = [x["critical_score_ms"] for x in rows]
            ck.check(w["mode"] == mode and rows and v == sorted(v, reverse=True),
                     f"{mode}: pairs sorted by it: {v[:10]}")
            ck.check(all("max_us" in x["wakee_wait"] for x in rows
                         if x["wakee_wait"]["samples"]),
                     f"{mode}: wakeup-to-run wait has a max: {rows[:1]}")
        w = d.structured("analyze_waker_wakee", {"mode": "for_pid", "pid": pair[0],
                                                 "duration_s": 1}, timeout=20)
        ck.check(any(x["wakee"]["pid"] == pair[1] for x in w["as_waker"]) and
                 any(x["waker"]["pid"] == pair[1] for x in w["as_wakee"]),
                 f"for_pid: the process as waker and as wakee: {w}")
        r = d.tool("analyze_waker_wakee", {"mode": "for_pid"}, timeout=10)
        ck.check(r.get("isError") and "needs pid" in r["content"][0]["text"],
                 f"for_pid without pid explained: {r}")
        w = d.structured("analyze_waker_wakee", {"mode": "summary", "duration_s": 1},
                         timeout=20)
        sm = w["summary"]
        ck.check(sm["bidirectional_pairs"] >= 1 and sm["wakeups"] > 1000 and
                 sm["placement"]["same_cpu"] > 0 and len(w["top_pairs"]) <= 5,
                 f"summary: totals and the busiest pairs: {sm}")

        # arguments explained
        bad = [({"cpu": 4096}, "does not exist"), ({"window": "10s", "cgroup": "/x"}, "cgroup")]
        if cgroup_v2():
            bad.append(({"duration_s": 1, "cgroup": "/no-such-cgroup-here"}, "no cgroup"))
        for args, words in bad:
            r = d.tool("measure_latency", args, timeout=10)
            ck.check(r.get("isError") and words in r["content"][0]["text"],
                     f"{args} explained: {r['content'][0]['text'] if r.get('content') else r}")
    finally:
        pp.kill()
        other.kill()
        d.close()
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
