"""Per-cgroup run-queue latency against libbpf-tools runqlat -c (root, BPF,
cgroup v2): issue 18's "on v2, the per-cgroup p99 agrees with runqlat's -c
cgroup filter for the same cgroup, within one bucket".

The two tools define "the cgroup's latency" differently:
  - we key a sample by the cgroup (here: the unified hierarchy's, as
    cgroup_hierarchy = v2) of the task that waited, i.e. the woken or
    preempted task, when it gets the CPU;
  - runqlat -c checks bpf_current_task_under_cgroup() on the *current*
    task: at sched_wakeup that is the waker (it stamps the wakee only when
    the waker is in the cgroup), at sched_switch it is the task switched
    out (it stamps a preempted prev and takes the sample of next only when
    prev is in the cgroup).
So the workload is built for the definitions to meet: a fresh cgroup holds
a CPU spinner and two ping-pong pairs, all pinned to CPU 0. Every wakeup of
a member comes from a member (its pipe partner, on CPU 0), and CPU 0 is
never idle (the spinner), so every member that gets CPU 0 takes it from a
member, and every preempted member was switched out while it was current.
Both tools therefore see the same samples, save the few where a task from
outside (a kernel thread, an interrupt's work) runs on CPU 0 between two
members (on a shared machine those are what makes the tails differ: a
member that waited behind an outsider is ours and not runqlat's; with a
foreign hog and ping-pong pair on CPU 0 beside the test the p99 still fell
within one slot; runqlat -c also keeps the wakeup stamp of a sample it
filtered out, and times it at a later switch: its rare 0.5-2 s outliers).
The cgroup is new and empty before the load starts inside it, and
both measurements span the whole load: runqlat -c (one interval) and
diagnose_cgroup on the same cgroup, whose last_10s histogram is the whole
load. Our buckets (octaves split in four) are folded into runqlat's log2
microsecond slots (sltest.our_slot_hist, as test_runqlat.py does); p50 and
p99 must fall within one slot of runqlat's, and the sample counts within
10 % (they agree to a few in ten thousand here). Both histograms are printed.
The daemon runs with latency_clock = ktime, runqlat's clock, so that only
the cgroup definitions differ (the default clock's difference from runqlat
is test_runqlat.py's subject).

On a hybrid host (cgroup2 without controllers, the cpu controller in v1)
the cgroup is also made, with the same name and members, in the v1 cpu
hierarchy, where diagnose_cgroup reads cgroupfs; the latency is keyed by the
v2 cgroup. Suite 'bpf'; exits 77 with the reason without runqlat, without a
writable cgroup2, or without BPF."""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

SECONDS = 4          # the load
SPAN = SECONDS + 2   # runqlat's interval and diagnose_cgroup's duration (<= 10: last_10s)


def mounts():
    """(cgroup2 mount, v1 cpu hierarchy mount or None)."""
    v2 = cpu = None
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, typ, opts = line.split()[:4]
            if typ == "cgroup2" and v2 is None:
                v2 = mnt
            elif typ == "cgroup" and "cpu" in opts.split(","):
                cpu = mnt
    return v2, cpu


def rmdir(cgdir):
    for _ in range(100):
        try:
            os.rmdir(cgdir)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def start_in(dirs, *args):
    """sl-workload started inside every cgroup of dirs (one per hierarchy)."""
    joins = " && ".join(f'echo $$ > "{d}/cgroup.procs"' for d in dirs)
    cmd = ["sh", "-c", f'{joins} && exec "$0" "$@"', sltest.workload_path()] + \
        [str(a) for a in args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)


def run_once(d, dirs, path):
    rq = sltest.start_runqlat("-c", dirs[0], SPAN, 1)
    result = {}

    def diagnose():
        try:
            result["r"] = d.structured("diagnose_cgroup", {"cgroup": path, "duration_s": SPAN},
                                       timeout=SPAN + 20)
        except Exception as e:  # reported by the caller
            result["err"] = e

    t = threading.Thread(target=diagnose)
    t.start()
    time.sleep(0.3)  # diagnose_cgroup took its first reading
    loads = [start_in(dirs, "hog", SECONDS, 0), start_in(dirs, "pingpong", SECONDS, 0),
             start_in(dirs, "pingpong", SECONDS, 0)]
    try:
        for p in loads:
            p.wait(timeout=SECONDS + 30)
        out = rq.stdout.read()
        rq.wait(timeout=SPAN + 20)
        t.join(SPAN + 30)
    finally:
        sltest.smcp_test.kill_all(loads + [rq])
    if "err" in result:
        raise result["err"]
    return sltest.parse_runqlat(out), result.get("r", {}), out


def main():
    sltest.need_root()
    if not sltest.runqlat_path():
        sltest.skip("runqlat is missing (apt-get install libbpf-tools)")
    v2, cpu = mounts()
    if not v2:
        sltest.skip("no cgroup2 file system is mounted")
    probe = os.path.join(v2, f"smcp-rqc-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as e:
        sltest.skip(f"cgroup2 at {v2} cannot be written: {e}")
    with open(os.path.join(v2, "cgroup.controllers")) as f:
        v2_has_cpu = "cpu" in f.read().split()
    if not v2_has_cpu and not cpu:
        sltest.skip("no cpu controller in either layout: diagnose_cgroup cannot read the cgroup")
    if len(os.sched_getaffinity(0)) < 2 or 0 not in os.sched_getaffinity(0):
        sltest.skip("needs CPU 0 for the load and another CPU for the rest")

    ck = sltest.Checker()
    # latency_clock = ktime: runqlat's clock (bpf_ktime_get_ns at the
    # tracepoints), so that what differs is only which samples the cgroup
    # takes; the default clock's own difference is test_runqlat.py's
    d = sltest.start_loaded(ck, config="[plugin sched_latency]\ncgroup_hierarchy = v2\n"
                                       "latency_clock = ktime\n")
    made = []
    try:
        info = d.read_json("stats://aggregated/cgroup")
        if not info.get("available") or info.get("hierarchy") != "v2":
            sltest.skip(f"per-cgroup latency keyed by cgroup v2 is off: {info.get('reason')}")
        # a boundary case can move one quantile across a slot edge, and on a
        # shared machine others' tasks on CPU 0 move our tail (see above):
        # the claim is that both see the same distribution, so up to two more
        # runs are allowed (7-8 s each)
        for attempt in range(3):
            name = f"smcp-rqc-{os.getpid()}-{attempt}"
            dirs = [os.path.join(v2, name)] + ([] if v2_has_cpu else [os.path.join(cpu, name)])
            for x in dirs:
                os.mkdir(x)
                made.append(x)
            theirs, r, raw = run_once(d, dirs, "/" + name)
            w = r.get("cgroup_waits", {})
            last = w.get("last_10s", {})
            ours = sltest.our_slot_hist(last.get("histogram", {"counts": []}))
            n_ours, n_theirs = sum(ours.values()), sum(theirs.values())
            p = {q: (sltest.slot_quantile(ours, q), sltest.slot_quantile(theirs, q))
                 for q in (0.5, 0.99)}
            print(f"attempt {attempt}: cgroup /{name} (v2 id {w.get('id')}, source "
                  f"{w.get('source')}, scope {w.get('scope')}, summed {w.get('cgroups_summed')})")
            print(f"  samples ours {n_ours} runqlat -c {n_theirs}; p50 slot ours/runqlat {p[0.5]}, "
                  f"p99 slot {p[0.99]}; ours p50 {last.get('p50_us')} us p99 {last.get('p99_us')} us")
            print("  slot (us)        ours  runqlat -c")
            for s in sorted(x for x in set(ours) | set(theirs) if ours.get(x) or theirs.get(x)):
                lo = 0 if s == 0 else 1 << s
                print(f"  {s:3} {lo:>7}-{(1 << (s + 1)) - 1:<7} {ours.get(s, 0):6} "
                      f"{theirs.get(s, 0):10}")
            agree = all(None not in v and abs(v[0] - v[1]) <= 1 for v in p.values())
            counts_ok = n_theirs > 1000 and abs(n_ours - n_theirs) <= 0.1 * n_theirs
            if agree and counts_ok:
                break
        if n_theirs == 0:
            print(raw)
        ck.check(w.get("source") == "v2", f"keyed by cgroup v2: {w.get('source')}")
        ck.check(n_theirs > 1000 and n_ours > 1000,
                 f"both saw the load: ours {n_ours}, runqlat -c {n_theirs}")
        ck.check(abs(n_ours - n_theirs) <= 0.1 * max(n_theirs, 1),
                 f"sample counts within 10%: ours {n_ours}, runqlat -c {n_theirs}")
        for q in (0.5, 0.99):
            ok = None not in p[q] and abs(p[q][0] - p[q][1]) <= 1
            ck.check(ok, f"p{int(q * 100)} within one slot: ours {p[q][0]}, runqlat -c {p[q][1]}")
    finally:
        d.close()
        for x in reversed(made):
            rmdir(x)
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
