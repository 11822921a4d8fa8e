"""Bounded memory with many short-lived processes (root): 20 000 processes
come and go through tables of 512 threads and 256 processes; the tables
stay within their capacity (the least recently active make room), the
daemon's RSS stays bounded, and every view still answers. Suite 'bpf'."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402  (it puts tests/lib on the path)
from smcp_test import rss_kb  # noqa: E402

CONFIG = """[plugin sched_latency]
max_threads = 512
max_processes = 256
"""


def main():
    sltest.need_root()
    ck = sltest.Checker()
    d = sltest.start_loaded(ck, config=CONFIG)
    try:
        d.read_json("stats://aggregated/thread")
        time.sleep(1.5)
        rss0 = rss_kb(d.proc.pid)
        t0 = time.monotonic()
        out = sltest.Workload("spawn", 4000).wait(timeout=240)
        print(f"{out.strip()} in {time.monotonic() - t0:.1f} s")
        time.sleep(2)
        rss1 = rss_kb(d.proc.pid)
        for kind, cap in (("thread", 512), ("process", 256)):
            body = d.read_json(f"stats://aggregated/{kind}")
            tr = body["tracked"]
            ck.check(tr["entries"] <= cap and tr["capacity"] == cap,
                     f"{kind} table bounded: {tr}")
            ck.check(tr["evicted"] > 0, f"{kind}s made room: {tr}")
            ck.check(body["top_10s"][kind + "es" if kind == "process" else "threads"] is not None,
                     f"{kind} view answers")
            print(kind, tr)
        print(f"daemon RSS {rss0} kB -> {rss1} kB")
        ck.check(rss1 - rss0 < 32 * 1024, f"RSS grew by less than 32 MiB: {rss0} -> {rss1} kB")
        # a second wave does not grow it further
        sltest.Workload("spawn", 1000).wait(timeout=120)
        time.sleep(2)
        rss2 = rss_kb(d.proc.pid)
        ck.check(rss2 - rss1 < 4 * 1024, f"no growth on a second wave: {rss1} -> {rss2} kB")
        cpu = d.read_json("stats://aggregated/cpu")
        ck.check(cpu["system"]["10s"]["all_cpus"]["switches"] > 0, "cpu view answers")
    finally:
        d.close()
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
