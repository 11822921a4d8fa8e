#!/usr/bin/env python3
"""trace_analysis speed and memory on a large synthetic trace.

  bench/trace_analysis/bench.py [EVENTS]   (default 1,000,000; needs a build)

Writes a Perfetto trace of EVENTS sched events (compact_sched bundles on 8
CPUs: 200 threads switching and waking each other), loads it through the
daemon and times the load (which makes the thread-state replay too) and
every analysis. Prints the memory per loaded event, model and replay. Targets (issue 15): load + summary < 1 s, each analysis < 200 ms.
"""
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "plugins", "trace_analysis"))
import tatest as TA  # noqa: E402


def varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(no, wt, payload):
    return varint(no << 3 | wt) + payload


def ld(no, data):
    return field(no, 2, varint(len(data)) + data)


def packed(no, values):
    return ld(no, b"".join(varint(v) for v in values))


def make(events, cpus=8, threads=200, per_bundle=5000):
    rng = random.Random(1)
    comms = [f"t{i}".encode() for i in range(threads)]
    out = bytearray()
    per_cpu = events // cpus
    for cpu in range(cpus):
        ts = 1_000_000
        done = 0
        while done < per_cpu:
            n = min(per_bundle, per_cpu - done)
            nsw = n * 2 // 3
            nwk = n - nsw
            sw_d, sw_pid, sw_st, sw_comm, wk_d, wk_pid, wk_cpu, wk_comm = ([] for _ in range(8))
            last = ts
            for _ in range(nsw):
                d = rng.randrange(1000, 20000)
                ts += d
                sw_d.append(ts - last if not sw_d else d)
                last = ts
                k = rng.randrange(threads)
                sw_pid.append(1000 + k)
                sw_comm.append(k)
                sw_st.append(rng.choice((0, 1, 1, 2)))
            wts = ts - nsw * 5000
            first = True
            for _ in range(nwk):
                d = rng.randrange(1000, 10000)
                wts += d
                wk_d.append(wts if first else d)
                first = False
                k = rng.randrange(threads)
                wk_pid.append(1000 + k)
                wk_cpu.append(rng.randrange(cpus))
                wk_comm.append(k)
            sw_d[0] = sw_d[0] if len(sw_d) > 1 else sw_d[0]
            sw_abs0 = last - sum(sw_d[1:])
            sw_d[0] = sw_abs0
            cs = b"".join(ld(5, c) for c in comms)
            cs += packed(1, sw_d) + packed(2, sw_st) + packed(3, sw_pid) + packed(4, [120] * nsw)
            cs += packed(6, sw_comm) + packed(7, wk_d) + packed(8, wk_pid) + packed(9, wk_cpu)
            cs += packed(10, [120] * nwk) + packed(11, wk_comm)
            bundle = field(1, 0, varint(cpu)) + ld(4, cs)
            out += ld(1, ld(1, bundle))
            done += n
    return bytes(out)


def main():
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    d = TA.trace_dir()
    t0 = time.monotonic()
    data = make(events)
    TA.write(d, "big.pftrace", data)
    print(f"wrote {len(data)} bytes ({len(data) / events:.1f} B/event) in "
          f"{time.monotonic() - t0:.1f} s")
    with TA.daemon(d, "cache_mb = 4096\nmax_file_mb = 4096\n") as c:
        t0 = time.monotonic()
        r = c.structured("trace_load", {"file": "big.pftrace"}, timeout=120)
        t_load = time.monotonic() - t0
        t0 = time.monotonic()
        TA.analyze(c, "big.pftrace", "summary")
        t_sum = time.monotonic() - t0
        rp = c.read_json("traces://loaded")["traces"][0]["replay_bytes"]
        print(f"events {r['events']}: load {t_load * 1000:.0f} ms + summary {t_sum * 1000:.0f} ms"
              f" (target < 1000); in memory {r['memory_bytes'] / r['events']:.1f} bytes per "
              f"event, and {rp / r['events']:.1f} more for the replay made at load")
        tid = 1000
        for a in ("states", "latency", "preemptions", "wakeups", "critical_path", "migrations",
                  "timeline", "thread_window", "fairness", "outliers", "dsq"):
            kw = {"tid": tid} if a in ("critical_path", "thread_window") else {}
            if a == "timeline":
                kw = {"cpu": 0}
            t0 = time.monotonic()
            TA.analyze(c, "big.pftrace", a, **kw)
            print(f"  {a}: {(time.monotonic() - t0) * 1000:.0f} ms (target < 200)")


if __name__ == "__main__":
    main()
