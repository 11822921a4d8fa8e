"""Per-cgroup run-queue latency (root, BPF): a fresh cgroup whose members are
a CPU hog and a ping-pong pair, all started inside it and sharing CPU 0
with a hog outside it. Its since-start row in stats://aggregated/cgroup must
agree with the peer computed from its members' own per-process histograms
(stats://process/{pid}): the same sample count (within 1 %, the tick that
read one and not the other) and a p99 within one bucket. The metric
sched_cgroup_runq_latency_ns carries a series labelled with the cgroup's
path. Run for the hierarchy the host's cpu controller is in (auto: v1 here)
and again keyed by cgroup v2 (cgroup_hierarchy = v2) when cgroup2 is mounted.

On v2 hosts issue 18 also asks for agreement with runqlat -c: not done
here, as runqlat -c filters on the task switched out (current in
sched_switch), not the one that waited, so the two measure different sets;
the per-process peer is used on both layouts (test_cgroup_runqlat.py
builds a workload on which the two definitions meet and compares there).

A cgroup's subtree (issue 18, hierarchy): a parent with two children, each
running load, and no task of its own. diagnose_cgroup on the parent answers
for the subtree (scope "subtree", cgroups_summed 2) and its count is the sum
of its two descendants' counts in the same reading (exactly), and the sum of
the children's own since-start rows of stats://aggregated/cgroup read after
the load ended (within a tick's worth). Suite 'bpf'; exits 77 with the
reason without BPF or without a cpu controller."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

SECONDS = 4


def bucket(ns):
    """sl_hist_bucket() (plugins/sched_latency/sl_hist.c)."""
    q = int(ns) // 250
    if q < 4:
        return q
    k = q.bit_length() - 1 - 2
    if k >= 25:
        return 103
    return min(4 + 4 * k + (q >> k) - 4, 103)


def quantile_us(counts, q):
    """sl_hist_quantile_us() over [lo_us, hi_us, count] rows."""
    total = sum(c for _, _, c in counts)
    if not total:
        return None
    rank, seen = q * total, 0
    for lo, hi, c in sorted(counts):
        if seen + c >= rank:
            return lo + (hi - lo) * ((rank - seen) / c)
        seen += c
    return counts[-1][1]


def start_in(cgdir, *args):
    """sl-workload started inside cgdir (it and its children)."""
    cmd = ["sh", "-c", f'echo $$ > "{cgdir}/cgroup.procs" && exec "$0" "$@"',
           sltest.workload_path()] + [str(a) for a in args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline().split() if args[0] == "pingpong" else []
    pids = [int(x) for x in first[1:]] if first and first[0] == "pids" else []
    return proc, [proc.pid] + [p for p in pids if p != proc.pid]


def rmdir(cgdir):
    """A cgroup empties once its exited tasks are reaped: retry a moment.
    The error when it never does."""
    err = None
    for _ in range(100):
        try:
            os.rmdir(cgdir)
            return None
        except FileNotFoundError:
            return None
        except OSError as e:
            err = e
            time.sleep(0.1)
    return err


def cgroup_row(d, path):
    res = d.read_json("stats://aggregated/cgroup")
    for r in res["top_since_start"]["longest_waiting"] + res["top_since_start"]["busiest"]:
        if r.get("cgroup") == path:
            return r
    return None


def member_hist(d, pids):
    counts = {}
    for pid in pids:
        one = d.read_json(f"stats://process/{pid}")
        for w in one.get("windows", []):
            if w.get("window", {}).get("name") != "since_start":
                continue
            for row in w.get("process", []):
                for lo, hi, c in row.get("histogram", {}).get("counts", []):
                    counts[(lo, hi)] = counts.get((lo, hi), 0) + c
    return [[lo, hi, c] for (lo, hi), c in counts.items()]


def run(ck, hierarchy):
    d = sltest.start_loaded(ck, config=f"[plugin sched_latency]\ncgroup_hierarchy = {hierarchy}\n")
    cgdir = None
    procs = []
    try:
        info = d.read_json("stats://aggregated/cgroup")
        if not info.get("available"):
            return f"{hierarchy}: {info.get('reason')}"
        ck.check(info["hierarchy"] in ("v1-cpu", "v2"), f"hierarchy named: {info['hierarchy']}")
        name = f"smcp-cgtest-{os.getpid()}-{hierarchy}"
        if hierarchy == "v2":  # longer than a label value: labelled by its tail
            name += "-" + "x" * 60
        cgdir = os.path.join(info["mount"], name)
        os.mkdir(cgdir)
        path = "/" + name
        outside = subprocess.Popen([sltest.workload_path(), "hog", str(SECONDS + 1), "0"],
                                   stdout=subprocess.DEVNULL)
        procs.append(outside)
        hog, hog_pids = start_in(cgdir, "hog", SECONDS, 0)
        pp, pp_pids = start_in(cgdir, "pingpong", SECONDS, 0)
        procs += [hog, pp]
        for p in (hog, pp):
            p.communicate(timeout=SECONDS + 30)
        time.sleep(1.2)  # a tick: the exits are in the process series
        row = cgroup_row(d, path)
        ck.check(row is not None, f"{hierarchy}: the cgroup {path} has a row: "
                 f"{d.read_json('stats://aggregated/cgroup')}")
        if row is None:
            return None
        peer = member_hist(d, hog_pids + pp_pids)
        n_peer = sum(c for _, _, c in peer)
        p99_peer = quantile_us(peer, 0.99)
        print(f"{hierarchy}: cgroup {path} waits {row['waits']} p99 {row.get('p99_us')} us; "
              f"members {hog_pids + pp_pids} samples {n_peer} p99 {p99_peer} us")
        ck.check(row["waits"] > 100, f"{hierarchy}: the cgroup's tasks waited: {row['waits']}")
        ck.check(abs(row["waits"] - n_peer) <= max(2, n_peer // 100),
              f"{hierarchy}: samples agree with its members': {row['waits']} vs {n_peer}")
        if p99_peer is not None and "p99_us" in row:
            b_ours, b_peer = bucket(row["p99_us"] * 1000), bucket(p99_peer * 1000)
            ck.check(abs(b_ours - b_peer) <= 1,
                  f"{hierarchy}: p99 within one bucket of its members': bucket {b_ours} "
                  f"({row['p99_us']} us) vs {b_peer} ({p99_peer:.1f} us)")
        time.sleep(1.5)  # the next history step publishes the series
        label = path if len(path) <= 63 else "..." + path[-60:]
        ck.check(row.get("metric_label", path) == label,
                 f"{hierarchy}: metric label {row.get('metric_label')} for {path}")
        h = d.structured("query_history", {"metric": "sched_cgroup_runq_latency_ns",
                                           "labels": f"cgroup={label}", "start": "-60s"})
        series = h.get("series", [])
        count = sum((s.get("summary") or {}).get("count") or 0 for s in series)
        ck.check(series and count > 0,
              f"{hierarchy}: sched_cgroup_runq_latency_ns{{cgroup={label}}} has samples: "
              f"{count} in {len(series)} series")
        # removed, the cgroup gives its slot back within a few ticks
        before = d.read_json("stats://aggregated/cgroup")["tracked"]["cgroups"]
        root_before = (cgroup_row(d, "/") or {}).get("switches", 0)
        err = rmdir(cgdir)
        ck.check(err is None, f"{hierarchy}: the cgroup is removed: {err}")
        if err is None:
            cgdir = None
        for _ in range(40):
            time.sleep(0.25)
            after = d.read_json("stats://aggregated/cgroup")["tracked"]["cgroups"]
            if cgroup_row(d, path) is None and after < before:
                break
        ck.check(cgroup_row(d, path) is None and after < before,
                 f"{hierarchy}: a removed cgroup leaves the map: tracked {before} -> {after}")
        # the slot given back is the removed cgroup's, not another's
        root_after = (cgroup_row(d, "/") or {}).get("switches", 0)
        ck.check(root_after >= root_before or not root_before,
                 f"{hierarchy}: the root cgroup keeps its counts: {root_before} -> {root_after}")
        return None
    finally:
        sltest.smcp_test.kill_all(procs)
        d.close()
        if cgdir:
            rmdir(cgdir)


def subtree(ck):
    """The parent's subtree is the sum of its children (the host's cpu
    hierarchy, where diagnose_cgroup also reads cgroupfs)."""
    d = sltest.start_loaded(ck)
    top = None
    procs = []
    try:
        info = d.read_json("stats://aggregated/cgroup")
        if not info.get("available"):
            return f"subtree: {info.get('reason')}"
        ck.check(info.get("scope") == "own", f"aggregated rows say they are own: {info.get('scope')}")
        name = f"smcp-cgtree-{os.getpid()}"
        top = os.path.join(info["mount"], name)
        os.mkdir(top)
        for child in ("a", "b"):
            os.mkdir(os.path.join(top, child))
        path = "/" + name
        # a: a ping-pong pair; b: a pair and a hog; all on CPU 0, so both wait
        pa, _ = start_in(os.path.join(top, "a"), "pingpong", 3, 0)
        pb, _ = start_in(os.path.join(top, "b"), "pingpong", 3, 0)
        hb, _ = start_in(os.path.join(top, "b"), "hog", 3, 0)
        procs += [pa, pb, hb]
        for p in procs:
            p.communicate(timeout=40)
        time.sleep(1.2)  # a tick: the last waits are in the series
        rows = {}
        res = d.read_json("stats://aggregated/cgroup")["top_since_start"]
        for r in res["longest_waiting"] + res["busiest"]:
            rows[r.get("cgroup")] = r
        children = [rows.get(f"{path}/{c}", {}).get("waits", 0) for c in ("a", "b")]
        # 2 s: the percentiles and parts come from the last 10 s, which hold
        # the whole load
        r10 = d.structured("diagnose_cgroup", {"cgroup": path, "duration_s": 2}, timeout=30)
        w10 = r10.get("cgroup_waits", {})
        last10 = w10.get("last_10s", {})
        desc = last10.get("descendants", [])
        own = w10.get("own", {}).get("last_10s", {}).get("waits")
        print(f"subtree {path}: children since start {children}; diagnose last_10s "
              f"{last10.get('waits')} summed {w10.get('cgroups_summed')} own {own} "
              f"descendants {[(x.get('cgroup'), x['waits']) for x in desc]}; "
              f"quota scope {r10.get('quota', {}).get('scope')}")
        ck.check(all(c > 100 for c in children), f"subtree: both children waited: {children}")
        ck.check(w10.get("scope") == "subtree" and w10.get("cgroups_summed") == 2,
                 f"subtree: the parent answers for its subtree of 2: {w10}")
        ck.check(own == 0, f"subtree: the parent has no waits of its own: {own}")
        ck.check(sorted(x.get("cgroup") for x in desc) == [f"{path}/a", f"{path}/b"],
                 f"subtree: the descendants are named: {desc}")
        ck.check(last10.get("waits") == own + sum(x["waits"] for x in desc),
                 f"subtree: the sum is its parts, same reading: {last10.get('waits')} vs "
                 f"{own} + {[x['waits'] for x in desc]}")
        total = sum(children)
        ck.check(abs((last10.get("waits") or 0) - total) <= max(2, total // 100),
                 f"subtree: the sum is the children's own rows: {last10.get('waits')} vs "
                 f"{children}")
        # the resource (1 s, after the load: nothing summed) answers the same way
        w = d.read_json(f"stats://cgroup/{name}").get("cgroup_waits", {})
        ck.check(w.get("scope") == "subtree" and w.get("cgroups_summed") == 0 and
                 w.get("waits") == 0 and "own" in w,
                 f"subtree: stats://cgroup/{name} says its scope too: {w}")
        ck.check("hierarchical" in (r10.get("quota", {}).get("scope") or "") and
                 "hierarchical" in (r10.get("usage", {}).get("scope") or ""),
                 "subtree: the cgroupfs counters say they are hierarchical")
        ck.check(sum(b[2] for b in last10.get("histogram", {}).get("counts", [])) ==
                 last10.get("waits"), "subtree: the histogram holds the summed waits")
        return None
    finally:
        sltest.smcp_test.kill_all(procs)
        d.close()
        if top:
            for child in ("a", "b"):
                rmdir(os.path.join(top, child))
            rmdir(top)


def no_cpu_controller(ck):
    """A host whose layouts have no cpu controller (a fixture mount table under
    --fs-root): per-cgroup latency is off and says why."""
    root = os.path.join(os.environ.get("SL_FIXTURES", ""), "cgroup-nocpu")
    if not os.path.isdir(root):
        return
    d = sltest.start_loaded(ck, extra_args=["--fs-root", root])
    try:
        info = d.read_json("stats://aggregated/cgroup")
        ck.check(info.get("available") is False and
                 "no cpu controller" in (info.get("reason") or ""),
                 f"no cpu controller: off with the reason: {info}")
        names = {m["name"] for m in d.structured("query_history")["metrics"]}
        ck.check("sched_cgroup_runq_latency_ns" not in names,
                 "no cpu controller: no per-cgroup metric")
    finally:
        d.close()


def main():
    sltest.need_root()
    ck = sltest.Checker()
    no_cpu_controller(ck)
    skipped = [run(ck, "auto"), subtree(ck)]
    if any(line.split()[2] == "cgroup2" for line in open("/proc/self/mounts")):
        skipped.append(run(ck, "v2"))
    skipped = [s for s in skipped if s]
    if skipped and not ck.passed and not ck.failed:
        sltest.skip("; ".join(skipped))
    for s in skipped:
        print("not run:", s)
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
