"""Per-thread slots under collisions (root): with task_slots = 64 and 256
threads of one process (tids in a row, so four of them per slot, beside
whatever else the machine runs), some threads hold a slot and the rest are
kept in task storage, and every thread's counts are still exact: each
thread's voluntary and involuntary switches equal the kernel's own
(/proc/PID/task/TID/status) once it is blocked, less the switch-out it
blocked in, which is booked at its next switch-in. Once the threads exit,
no slot is still tagged with any of their tids (a slot is given back at a
thread's last switch-out). Suite 'bpf'."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
import smcp_test as T  # noqa: E402

SLOTS = 64
THREADS = 256
CONFIG = f"[plugin sched_latency]\ntask_slots = {SLOTS}\n"


def map_id(pid, name):
    """The id of the BPF map called name that process pid holds an fd of."""
    for mid in sorted(T.fdinfo_ids(pid, "map_id")):
        out = subprocess.run(["bpftool", "map", "show", "id", str(mid), "-j"],
                             capture_output=True, text=True)
        if out.returncode == 0 and json.loads(out.stdout).get("name") == name:
            return mid
    return None


def slot_tids(mid):
    """The tid each slot of task_slots is tagged with (0: free)."""
    out = subprocess.run(["bpftool", "map", "dump", "id", str(mid), "-j"],
                         capture_output=True, text=True, check=True).stdout
    tids = []
    for e in json.loads(out):
        v = e.get("formatted", e).get("value")
        tids.append(v["st"]["tid"])
    return tids


def thread_rows(d, pid):
    rows, offset = {}, 0
    while True:
        r = d.structured("measure_latency", {"window": "since_start", "group_by": "thread",
                                             "pid": pid, "limit": 100, "offset": offset})
        for row in r["rows"]:
            rows[row["tid"]] = row
        if not r.get("has_more"):
            return rows
        offset = r["next_offset"]


def kernel_switches(pid, tid):
    vol = invol = None
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                invol = int(line.split()[1])
    return vol, invol


def main():
    sltest.need_root()
    ck = sltest.Checker()
    if sltest.our_programs() is None:
        sltest.skip("bpftool is missing")
    d = sltest.start_loaded(ck, config=CONFIG)
    w = None
    try:
        cpu = d.read_json("stats://aggregated/cpu")
        if cpu["source"]["programs"] != "tp_btf":
            sltest.skip(f"slots are for tp_btf programs; here: {cpu['source']['programs']}")
        tracked = d.read_json("stats://aggregated/thread")["tracked"]
        ck.check(tracked.get("task_slots") == SLOTS, f"{SLOTS} slots in use: {tracked}")
        fb0 = tracked.get("task_slot_fallbacks", 0)
        mid = map_id(d.proc.pid, "task_slots")
        ck.check(mid is not None, "the daemon's task_slots map is found")

        w = sltest.Workload("threads", THREADS, 300, 4)
        pid = w.pids[0]
        tids = [int(x) for x in w.proc.stdout.readline().split()[1:]]
        ck.check(len(tids) == THREADS and w.proc.stdout.readline().strip() == "parked",
                 f"{THREADS} threads ran and blocked: {len(tids)}")
        time.sleep(2.2)  # blocked for good, and exported at a tick since
        held = set(slot_tids(mid)) & set(tids)
        tracked = d.read_json("stats://aggregated/thread")["tracked"]
        fallbacks = tracked.get("task_slot_fallbacks", 0) - fb0
        print(f"{len(held)} of {THREADS} threads hold a slot; task storage for "
              f"{fallbacks} threads since the load began; state not made "
              f"{tracked.get('task_state_failures')} times")
        ck.check(0 < len(held) <= SLOTS, f"some threads hold slots: {len(held)}")
        ck.check(fallbacks >= THREADS - len(held),
                 f"the others were kept in task storage: {fallbacks} >= {THREADS - len(held)}")

        rows = thread_rows(d, pid)
        bad, checked = [], 0
        for tid in tids:
            row = rows.get(tid)
            kvol, kinvol = kernel_switches(pid, tid)
            checked += 1
            if not row or (row["voluntary"], row["involuntary"]) != (kvol - 1, kinvol):
                bad.append((tid, tid in held, row and (row["voluntary"], row["involuntary"]),
                            (kvol - 1, kinvol)))
        ck.check(checked == THREADS and not bad,
                 f"every thread's switches exact, slot or task storage "
                 f"({checked} checked; wrong: {bad[:8]})")
        vol = sum(r["voluntary"] for t, r in rows.items() if t in held)
        print(f"switches of the threads in slots: {vol} voluntary; all exact: {not bad}")

        ck.check(w.proc.stdout.readline().strip() == "joined", "the threads exited")
        time.sleep(0.3)
        left = set(slot_tids(mid)) & set(tids)
        ck.check(not left, f"exited threads gave their slots back: still held by {sorted(left)}")
        w.wait(30)
    finally:
        if w:
            w.kill()
        d.close()
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
