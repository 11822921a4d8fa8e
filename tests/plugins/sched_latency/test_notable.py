"""Notable events without setup (root, suite 'bpf'): a model that only reads
the event stream hears of a run-queue latency spike within 5 s, with its CPU
and the hog behind it, while raw sched.* events stay off; an idle machine
gives at most a few notable events; events://stream says how to turn raw
events on. Run one case with its name as argument (test_spike, test_idle)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

C = sltest.Checker()
RAW = ("sched.switch", "sched.wakeup", "sched.wakeup_new", "sched.migrate", "sched.dsq_insert")


def poll_all(d, cursor):
    events = []
    while True:
        r = d.structured("poll_events", {"cursor": cursor, "limit": 100})
        events += r["events"]
        cursor = r["next_cursor"]
        if not r["has_more"]:
            return events, cursor


def target_cpu():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise sltest.smcp_test.Skip("needs 2 CPUs: one for the hogs, one for the rest")
    return cpus[-1]


def busy():
    """Other work on this shared machine running now (over 90 % of its CPUs
    busy over a second, from /proc/stat: a reading of now, where the load
    average would still carry the previous test's minute) makes a background
    whose tail no hog can stand out from; measured: a 270 ms baseline at load
    40. Returns the busy fraction, or None when quiet enough."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = sample()
    time.sleep(1.0)
    t1, i1 = sample()
    frac = 1.0 - (i1 - i0) / max(1, t1 - t0)
    return frac if frac > 0.9 else None


def spike_once(cpu, last):
    """One attempt: a fresh daemon, a pinger for the baseline, then eight
    hogs on its CPU. Returns the notable event that names the CPU and a hog,
    or None (the last attempt says what it saw)."""
    d = sltest.start_loaded(C)
    work = []
    try:
        body = d.read_json("events://stream")
        C.check("notable" in body["note"] and "turn_on_with" in body["note"],
                f"the stream's note says what comes and how to get raw events: {body['note']}")
        C.eq(body.get("turn_on_with"), ["control_event_tracking"],
             "the tool that turns raw events on")
        # a pinger on the CPU gives the baseline its waits (short ones)
        work.append(sltest.Workload("pingpong", 40, cpu))
        time.sleep(6)  # the baseline: more than its warm-up steps
        _, cursor = poll_all(d, 0)
        hogs = [sltest.Workload("hog", 30, cpu) for _ in range(8)]
        work += hogs
        hog_pids = {p for h in hogs for p in h.pids}
        t0 = time.monotonic()
        seen, found = [], None
        while time.monotonic() - t0 < 5.0 and not found:
            time.sleep(0.25)
            events, cursor = poll_all(d, cursor)
            seen += events
            for e in events:
                if e["type"] != "notable.runq_latency" or e.get("cpu") != cpu:
                    continue
                who = {e.get("longest_waiter", {}).get("pid")} | \
                    {r["pid"] for r in e.get("top_runners", [])}
                if who & hog_pids:
                    found = e
        took = time.monotonic() - t0
        raw = [e for e in seen if e["type"] in RAW]
        C.check(not raw, f"raw sched events stay off without control_event_tracking: {raw[:2]}")
        if found:
            print(f"spike reported after {took:.2f} s: {found['summary']}")
            C.check(found["tail_us"] >= 1000 and found["tail_us"] > found["baseline_tail_us"]
                    and found["waits_over_1ms"] >= 3,
                    f"the tail over the floor and the baseline: {found}")
            runner = found.get("top_runner") or found.get("longest_waiter")
            C.check(runner.get("comm") == "sl-workload", f"names the process: {runner}")
            runners = found.get("top_runners", [])
            C.check(runners and runners[0] == found.get("top_runner") and
                    all(a["run_ms"] >= b["run_ms"] for a, b in zip(runners, runners[1:])) and
                    len({r["pid"] for r in runners}) == len(runners) <= 3,
                    f"top_runners: at most 3 threads, busiest first, top_runner first: {runners}")
            C.check(all(r["comm"] in found["summary"] for r in runners),
                    f"the summary names the runners: {found['summary']}")
            C.check(str(cpu) in found["summary"], f"the summary names the CPU: {found}")
            return found
        print(f"no notable.runq_latency naming CPU {cpu} and a hog {sorted(hog_pids)} "
              f"within 5 s: {[e for e in seen if e['type'].startswith('notable.')]}, "
              f"load {os.getloadavg()}")
        if last:
            print(d.stderr_text()[-5000:])
        return None
    finally:
        sltest.stop(d, work)


@C.case
def test_spike():
    sltest.need_root()
    cpu = target_cpu()
    # two attempts, each with its own daemon and load: a burst of other work
    # on a shared machine can raise one attempt's baseline
    found = None
    for attempt in (1, 2):
        frac = busy()
        if frac:
            raise sltest.smcp_test.Skip(f"machine busy ({100 * frac:.0f} % of its CPUs "
                                        "over a second): no quiet CPU to spike")
        found = spike_once(cpu, attempt == 2)
        if found:
            break
    C.check(found is not None, f"a notable.runq_latency naming CPU {cpu} and a hog within 5 s")


@C.case
def test_idle():
    sltest.need_root()
    frac = busy()
    if frac:
        raise sltest.smcp_test.Skip(f"machine busy ({100 * frac:.0f} % of its CPUs over a "
                                    "second): not idle")
    d = sltest.start_loaded(C)
    try:
        _, cursor = poll_all(d, 0)
        t0 = time.monotonic()
        time.sleep(15)
        events, cursor = poll_all(d, cursor)
        elapsed = time.monotonic() - t0
        notable = [e for e in events if e["type"].startswith("notable.")]
        # the budget allows 10 a minute (2 in 15 s); with no load fewer
        C.check(len(notable) <= 2,
                f"at most a few notable events in {elapsed:.0f} s: {len(notable)} {notable}")
        raw = [e for e in events if e["type"] in RAW]
        C.check(not raw, f"no raw sched events: {raw[:2]}")
    finally:
        d.close()


if __name__ == "__main__":
    C.main()
