#!/usr/bin/env python3
"""diagnose_cgroup on real cgroups (issue 18's proof), in whichever layout
carries the cpu controller here (the v1 cpu hierarchy on the build
machines, cgroup2 with cpu where it has it). Under a test cgroup:

- A has a 20 % quota and runs a CPU hog (A, B and the test cgroup have the
  most weight, so that others' load on a shared machine cannot keep A
  under its quota nor B from filling its CPU): the tool calls it throttled, with
  nr_throttled rising, and its counts agree with cpu.stat read by this test
  around the same window; notable.throttling names it on the event stream;
- B runs two hogs and a pinger (sleeps 1 ms, measures how late it wakes),
  all pinned to one CPU: the tool calls it contention and lists the pinger
  among its waiting members.

Everything made is removed, whatever happens. Skips (77) with the reason
without root, a cpu controller, or the plugin's BPF."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

C = sltest.Checker("sched_latency/diagnose-live")

PINGER = r"""
import sys, time
end = time.monotonic() + float(sys.argv[1])
late = []
while time.monotonic() < end:
    t = time.monotonic()
    time.sleep(0.001)
    late.append(time.monotonic() - t - 0.001)
late.sort()
print("pinger_p99_us %.0f waits %d" % (late[int(len(late) * 0.99)] * 1e6, len(late)), flush=True)
"""


def mounts():
    out = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, typ, opts = line.split()[:4]
            if typ == "cgroup2":
                out.setdefault("v2", mnt)
            elif typ == "cgroup":
                o = opts.split(",")
                if "cpu" in o:
                    out.setdefault("cpu", mnt)
                if "cpuacct" in o:
                    out.setdefault("cpuacct", mnt)
    return out


class Cgroups:
    """The test cgroup with A and B in the cpu hierarchy (and their twins in
    a separate v1 cpuacct hierarchy, for usage), removed by close()."""

    def __init__(self):
        m = mounts()
        self.v2 = False
        if "cpu" in m:
            roots = [m["cpu"]] + ([m["cpuacct"]] if m.get("cpuacct", m["cpu"]) != m["cpu"]
                                  else [])
        elif "v2" in m and "cpu" in open(os.path.join(m["v2"], "cgroup.controllers")).read():
            self.v2 = True
            roots = [m["v2"]]
        else:
            sltest.skip("no cpu controller: neither a v1 cpu hierarchy nor cgroup2 with cpu")
        self.name = f"smcp-test-{os.getpid()}"
        self.roots = roots
        self.made = []
        for r in roots:
            top = os.path.join(r, self.name)
            os.mkdir(top)
            self.made.append(top)
            if self.v2:
                with open(os.path.join(top, "cgroup.subtree_control"), "w") as f:
                    f.write("+cpu")
            for sub in ("A", "B"):
                os.mkdir(os.path.join(top, sub))
                self.made.append(os.path.join(top, sub))
        a = self.dir("A")
        # the most weight for the test cgroup, A and B: A's quota and B's own
        # tasks, not others' load on a shared machine, must be what holds them
        top = os.path.join(roots[0], self.name)
        if self.v2:
            for d in (top, a, self.dir("B")):
                self.write(d, "cpu.weight", "10000")
            self.write(a, "cpu.max", "20000 100000")
        else:
            for d in (top, a, self.dir("B")):
                self.write(d, "cpu.shares", "262144")
            self.write(a, "cpu.cfs_period_us", "100000")
            self.write(a, "cpu.cfs_quota_us", "20000")

    def dir(self, sub, root=None):
        return os.path.join(root or self.roots[0], self.name, sub)

    def path(self, sub):
        return f"/{self.name}/{sub}"

    @staticmethod
    def write(d, f, v):
        with open(os.path.join(d, f), "w") as fh:
            fh.write(v)

    def enter(self, sub):
        """A preexec_fn that moves the child into sub in every hierarchy."""
        dirs = [self.dir(sub, r) for r in self.roots]

        def fn():
            for d in dirs:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write("0")
        return fn

    def stat(self, sub):
        out = {}
        with open(os.path.join(self.dir(sub), "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                out[k] = int(v)
        return out

    def close(self):
        for d in reversed(self.made):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    # a process still inside: move what is left to the parent
                    try:
                        with open(os.path.join(d, "cgroup.procs")) as f:
                            pids = f.read().split()
                        for pid in pids:
                            with open(os.path.join(os.path.dirname(os.path.dirname(d))
                                                   if d.endswith(("/A", "/B"))
                                                   else os.path.dirname(d),
                                                   "cgroup.procs"), "w") as f:
                                f.write(pid)
                    except OSError:
                        pass
                    time.sleep(0.1)


def spawn(argv, pre, cpu=None):
    def fn():
        pre()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
    return subprocess.Popen(argv, preexec_fn=fn, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def diagnose(d, path, seconds):
    t0 = time.monotonic()
    r = d.structured("diagnose_cgroup", {"cgroup": path, "duration_s": seconds},
                     timeout=seconds + 20)
    return r, time.monotonic() - t0


@C.case
def test_three_causes():
    if os.geteuid() != 0:
        sltest.skip("needs root (creates cgroups, loads BPF)")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sltest.skip("needs two CPUs: B's on one, A's on another")
    work = sltest.workload_path()
    cg = Cgroups()  # before the daemon: its watcher finds A's quota at start
    procs, d = [], None
    try:
        d = sltest.start_loaded(C)
        procs.append(spawn([work, "hog", "40", str(cpus[1])], cg.enter("A")))
        for _ in range(2):
            procs.append(spawn([work, "hog", "40", str(cpus[0])], cg.enter("B")))
        pinger = spawn([sys.executable, "-c", PINGER, "40"], cg.enter("B"), cpus[0])
        procs.append(pinger)
        _, cursor = poll(d, 0)
        time.sleep(1.0)

        # A: throttled, and the counts agree with cpu.stat around the window
        before = cg.stat("A")
        a, took = diagnose(d, cg.path("A"), 3)
        after = cg.stat("A")
        q = a.get("quota", {})
        print(f"A: {a.get('verdict')}: {a.get('summary')}")
        C.check(a.get("verdict") == "throttled", f"A throttled: {a}")
        C.check(a["cgroup"]["layout"] in ("v1", "hybrid", "v2"), f"layout named: {a['cgroup']}")
        C.check(q.get("nr_throttled", 0) > 0 and
                q["nr_throttled_end"] > q["nr_throttled_start"], f"nr_throttled rising: {q}")
        C.check(before["nr_throttled"] <= q.get("nr_throttled_start", -1) <=
                q.get("nr_throttled_end", -1) <= after["nr_throttled"],
                f"the tool's window inside the test's: {before} {q} {after}")
        test_d = after["nr_throttled"] - before["nr_throttled"]
        # periods are 100 ms: the test's window is longer by (took - span) seconds
        slack = (took - a["window"]["span_s"]) * 10 + 3
        C.check(0 <= test_d - q.get("nr_throttled", 0) <= slack,
                f"tool counted {q.get('nr_throttled')} throttled periods, cpu.stat "
                f"{test_d} over {took:.2f} s (slack {slack:.1f})")
        C.check(abs(q.get("limit_cpus", 0) - 0.2) < 0.01, f"limit 0.2 CPUs: {q}")

        # B: contention (retried with fresh load: other helpers share the CPUs).
        # When the whole machine is saturated by others' work, machine_short is
        # the true answer: B's verdict is then not judged (as the notable tests)
        b = None
        for attempt in range(3):
            b, _ = diagnose(d, cg.path("B"), 3)
            print(f"B: {b.get('verdict')}: {b.get('summary')} (usage {b.get('usage')})")
            if b.get("verdict") == "contention":
                break
        load = os.getloadavg()[0]
        saturated = (b.get("verdict") == "machine_short" and load > 2 * len(cpus) and
                     b.get("pressure", {}).get("machine_idle_pct", 100) < 10)
        if saturated:
            print(f"B's verdict not judged: the machine is saturated by other work "
                  f"(load {load:.0f} on {len(cpus)} CPUs, no idle CPU in the window)")
        else:
            C.check(b.get("verdict") == "contention", f"B contention: {b}")
        C.check("throttled" not in b.get("causes", []), f"B not throttled: {b.get('causes')}")
        members = b.get("members", {})
        pids = {m["pid"] for m in members.get("top_by_p99", [])}
        C.check(members.get("processes") == 3, f"B has 3 processes: {members}")
        C.check(pinger.pid in pids, f"the pinger {pinger.pid} among B's waiters: {members}")
        C.check(members.get("run_queue_latency", {}).get("p99_us", 0) >= 1000,
                f"B's waits p99 over 1 ms: {members}")
        # the cgroup's own BPF series (keyed by each task's cgroup) over the same
        # window: the same tasks, so about the members' count of waits
        cgw = b.get("cgroup_waits")
        mw = members.get("run_queue_latency", {}).get("samples", 0)
        print(f"B: cgroup series {cgw}, members {mw} waits")
        if C.check(cgw is not None, f"B's own series read: {sorted(b)}"):
            C.check(mw > 0 and abs(cgw["waits"] - mw) <= 0.1 * mw + 20,
                    f"the cgroup's series and its members agree: {cgw['waits']} vs {mw}")

        # the workflow prompts send the model to diagnose_cgroup
        text = prompt_text(d, "debug_high_latency", {"pid": str(pinger.pid)})
        C.check(f'diagnose_cgroup {{"cgroup": "{cg.path("B")}"' in text,
                f"debug_high_latency names B and the tool: {text[-1500:]}")
        text = prompt_text(d, "summarize_system", {})
        C.check("diagnose_cgroup" in text and (cg.path("A") in text or cg.path("B") in text),
                f"summarize_system names A or B among the waiters: {text[-1500:]}")

        # the event stream named A's throttling
        events, cursor = poll(d, cursor)
        thr = [e for e in events if e["type"] == "notable.throttling"]
        C.check(any(e.get("cgroup") == cg.path("A") for e in thr),
                f"notable.throttling for {cg.path('A')}: {thr}")
        C.check(not any(e.get("cgroup") == cg.path("B") for e in thr), f"not for B: {thr}")
        C.check(len(thr) <= 2, f"at a readable rate: {len(thr)} events")
    finally:
        kill_all(procs)
        if d:
            d.close()
        cg.close()



def prompt_text(d, name, args):
    r = d.get_prompt(name, args)
    return "\n".join(m["content"]["text"] for m in r["result"]["messages"]
                     if m["content"].get("type") == "text")


def poll(d, cursor):
    return sltest.poll_events(d, cursor, "notable.")


if __name__ == "__main__":
    C.main()
