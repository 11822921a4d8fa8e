"""trace_record's encoder, without the kernel: tr-enc-fixture writes
synthetic records (past the intern table and bundle sizes, negative and
16-byte values, every type) through tr_enc/tr_pb; protoc decodes the file
against tests/traces/perfetto.proto, and a hand-written wire reader finds
every record it printed, field by field. Small chunks exercise the flush
and retry path; a size cap drops whole packets and is never exceeded."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trtest  # noqa: E402

FIXTURE = os.path.join(os.environ.get("SMCP_BUILD_DIR", "build"), "tests", "plugins",
                       "trace_record", "tr-enc-fixture")
NAMES = {1: "sched_switch", 2: "sched_waking", 3: "sched_wakeup_new", 4: "sched_migrate_task",
         5: "sched_process_fork", 6: "sched_process_exec", 7: "sched_process_exit",
         8: "irq_handler_entry", 9: "irq_handler_exit", 10: "softirq_entry",
         11: "softirq_exit", 12: "cpu_frequency", 13: "cpu_idle"}


def expected(line):
    head, comm2, s = line.split("|")
    cpu, ts, typ, pid, a, b, c, d, e, comm = head.split(" ", 9)
    cpu, ts, typ, a, b, c, d, e = map(int, (cpu, ts, typ, a, b, c, d, e))
    name = NAMES[typ]
    u32 = lambda v: v & 0xFFFFFFFF  # noqa: E731
    i64 = lambda v: v & 0xFFFFFFFFFFFFFFFF  # noqa: E731  (int32 on the wire)
    body = {
        "sched_switch": {"prev_state": a, "next_pid": b, "next_prio": c, "next_comm": comm},
        "sched_waking": {"pid": b, "target_cpu": d, "prio": c, "comm": comm},
        "sched_wakeup_new": {1: comm.encode(), 2: i64(b), 3: i64(c), 4: 1, 5: i64(d)},
        "sched_migrate_task": {1: comm.encode(), 2: i64(b), 3: i64(c), 4: i64(d), 5: i64(e)},
        "sched_process_fork": {1: comm.encode(), 2: i64(b), 3: comm2.encode(), 4: i64(c)},
        "sched_process_exec": {1: s.strip().encode(), 2: i64(b), 3: i64(c)},
        "sched_process_exit": {1: comm.encode(), 2: i64(b), 3: i64(c), 4: i64(d)},
        "irq_handler_entry": {1: i64(b), 2: comm2.encode()},
        "irq_handler_exit": {1: i64(b), 2: i64(c)},
        "softirq_entry": {1: u32(b)}, "softirq_exit": {1: u32(b)},
        "cpu_frequency": {1: u32(b), 2: u32(c)}, "cpu_idle": {1: u32(b), 2: u32(c)},
    }[name]
    return cpu, ts, name, body


def run(ck, path, chunk, cap):
    p = subprocess.run([FIXTURE, path, str(chunk), str(cap)], capture_output=True, text=True,
                       timeout=60)
    ck.eq(p.returncode, 0, f"the fixture ran: {p.stderr}")
    print(p.stderr.strip())
    return [expected(x) for x in p.stdout.splitlines()]


def main():
    if not os.path.exists(FIXTURE):
        trtest.skip(f"{FIXTURE} is not built")
    ck = trtest.smcp_test.Checker("plugins/trace_record/format")
    work = tempfile.mkdtemp(prefix="smcp-trfmt-")
    try:
        for chunk, cap in ((1 << 20, 0), (96 << 10, 0), (1 << 20, 150000)):
            path = os.path.join(work, f"t-{chunk}-{cap}.perfetto-trace")
            want = run(ck, path, chunk, cap)
            text = trtest.protoc_decode(path)
            ck.check("compact_sched" in text and "sched_migrate_task" in text and
                     "sched_process_exec" in text, "protoc decodes every kind")
            got = trtest.parse_trace(path)
            evs = []
            for cpu, lost, bundle in got["bundles"]:
                evs += [(cpu, ts, name, body) for ts, name, body in bundle]
            evs.sort(key=lambda x: (x[1], x[2]))
            want.sort(key=lambda x: (x[1], x[2]))
            if cap:
                ck.check(os.path.getsize(path) <= cap,
                         f"the cap holds: {os.path.getsize(path)} <= {cap}")
                ck.check(0 < len(want) < 12000, f"whole bundles were left out: {len(want)}")
            else:
                ck.eq(len(want), 12000, "every record was written")
            ck.eq(len(evs), len(want), f"chunk {chunk}: the reader finds every record")
            diff = [(g, w) for g, w in zip(evs, want) if g != w]
            ck.check(not diff, f"chunk {chunk}: every field as written: {diff[:2]}")
            ck.check(cap or len(got["bundles"]) >= 3, "more records than a bundle holds: split")
            ck.check(got["bundles"][0][1] and not any(b[1] for b in got["bundles"][1:]),
                     "lost_events only where it was set")
    finally:
        trtest.smcp_test.remove_dir(work)
    sys.exit(ck.done())


if __name__ == "__main__":
    main()
