"""trace_analysis with files a hostile local user controls, and the cache's
memory bound: truncated files and huge lengths read as errors with the
offset (a truncated trace.dat, which crashes libtracecmd, too); symlinks, FIFOs, paths leaving the trace directory and files over
max_file_mb are refused; the least recently used trace is evicted (and
named) when a new one would pass cache_mb. Suite 'plugins'."""
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tatest as TA  # noqa: E402
import smcp_test as T  # noqa: E402
from smcp_test import Checker  # noqa: E402
import test_synthetic as S  # noqa: E402

C = Checker("trace_analysis/hostile")
check, eq = C.check, C.eq


def err_text(r):
    return r["content"][0]["text"] if r.get("isError") else None


def compact(cpu, n):
    """A bundle of n switches between two threads on cpu."""
    ts = ", ".join(["1000"] * n)
    pids = ", ".join(str(100 + (i % 2)) for i in range(n))
    st = ", ".join(["0"] * n)
    return (f"packet {{ ftrace_events {{ cpu: {cpu} compact_sched {{ switch_timestamp: [{ts}] "
            f"switch_prev_state: [{st}] switch_next_pid: [{pids}] }} }} }}\n")


@C.case
def test_bad_files():
    d = TA.trace_dir()
    good = TA.encode(S.STATES)
    TA.write(d, "cut.pftrace", good[:-7])
    TA.write(d, "huge.pftrace", b"\x0a\x80\x80\x80\x80\x80\x20" + b"\x00" * 16)
    TA.write(d, "varint.pftrace", b"\x0a" + b"\xff" * 12)
    TA.write(d, "group.pftrace", b"\x0b\x0c")
    TA.write(d, "empty.pftrace", b"")
    TA.write(d, "idx.pftrace", TA.encode(
        "packet { ftrace_events { cpu: 0 compact_sched { intern_table: \"a\" "
        "switch_timestamp: [1] switch_next_pid: [5] switch_next_comm_index: [7] } } }"))
    TA.write(d, "cpu.pftrace", TA.encode("packet { ftrace_events { cpu: 99999 } }"))
    TA.write(d, "big.pftrace", b"\x00" * (2 << 20))
    os.symlink(os.path.join(d, "states.pftrace"), os.path.join(d, "link.pftrace"))
    TA.write(d, "states.pftrace", good)
    outside = TA.trace_dir()
    TA.write(outside, "secret.pftrace", good)
    os.symlink(outside, os.path.join(d, "dirlink"))
    os.mkfifo(os.path.join(d, "fifo.pftrace"))
    rng = random.Random(15)
    TA.write(d, "noise.pftrace", bytes(rng.randrange(256) for _ in range(4096)))
    with TA.daemon(d, "max_file_mb = 1\n") as c:
        e = err_text(TA.load(c, "cut.pftrace"))
        check(e and "offset" in e, f"truncated: an error with the offset: {e}")
        e = err_text(TA.load(c, "huge.pftrace"))
        check(e and "length beyond" in e and "offset 0" in e, f"huge length: {e}")
        e = err_text(TA.load(c, "varint.pftrace"))
        check(e and "varint" in e, f"long varint: {e}")
        check(err_text(TA.load(c, "group.pftrace")), "groups refused")
        check(err_text(TA.load(c, "empty.pftrace")), "empty file refused")
        e = err_text(TA.load(c, "idx.pftrace"))
        check(e and "comm index" in e, f"comm index out of range: {e}")
        e = err_text(TA.load(c, "cpu.pftrace"))
        check(e and "CPU" in e, f"CPU beyond 4095: {e}")
        e = err_text(TA.load(c, "big.pftrace"))
        check(e and "max_file_mb" in e, f"over max_file_mb: {e}")
        e = err_text(TA.load(c, "link.pftrace"))
        check(e and "symlink" in e, f"symlink refused: {e}")
        e = err_text(TA.load(c, "dirlink/secret.pftrace"))
        check(e and "symlink" in e, f"symlinked directory refused: {e}")
        for bad in ("../x.pftrace", "/etc/passwd", "a/../../x", "a//b", ""):
            e = err_text(TA.load(c, bad))
            check(e and "relative" in e, f"{bad!r} refused: {e}")
        e = err_text(TA.load(c, "fifo.pftrace"))
        check(e and "regular" in e, f"FIFO refused: {e}")
        check(err_text(TA.load(c, "noise.pftrace")), "noise refused")
        check(not TA.load(c, "states.pftrace").get("isError"), "the good trace still loads")
        listed = c.read_json("traces://loaded")
        eq([t["file"] for t in listed["traces"]], ["states.pftrace"], "only it is loaded")
        r = c.tool("trace_unload", {"file": "states.pftrace"})
        check(not r.get("isError") and "unloaded" in r["content"][0]["text"], f"unload: {r}")
        r = c.tool("trace_analyze", {"file": "states.pftrace", "analysis": "summary"})
        check(r.get("isError"), "an unloaded trace is not analysed")


@C.case
def test_tracedat():
    """trace.dat through libtracecmd: the committed seed reads with the
    counts trace-cmd report gives; a truncated copy (which crashes
    libtracecmd 3.1.6) is an error, and the daemon lives on; so is a
    header that makes libtracecmd allocate 4 GiB (a fuzz finding), which
    the reader child's address-space bound refuses."""
    seeds = os.path.join(TA.SRC, "tests", "fuzz", "corpus", "tracedat")
    d = TA.trace_dir()
    for name in ("sched-2cpu", "truncated", "flipped"):
        with open(os.path.join(seeds, name), "rb") as f:
            TA.write(d, name + ".dat", f.read())
    # not in the fuzz corpus: every mutation of it would stop a reader
    # child at libFuzzer's malloc limit
    with open(os.path.join(TA.SRC, "tests", "traces", "tracedat-alloc-4g"), "rb") as f:
        TA.write(d, "alloc-4g.dat", f.read())
    with TA.daemon(d) as c:
        st = c.read_json("traces://loaded")
        if st["trace_dat"] != "supported":
            raise T.Skip(st["trace_dat"])
        r = TA.load(c, "truncated.dat")
        check(err_text(r), f"truncated trace.dat refused: {r}")
        TA.load(c, "flipped.dat")  # may read or not; must not kill the daemon
        r = TA.load(c, "alloc-4g.dat")
        check(err_text(r), f"a trace.dat asking for 4 GiB refused: {r}")
        r = c.structured("trace_load", {"file": "sched-2cpu.dat"})
        eq(r["format"], "trace.dat", "format")
        s = TA.analyze(c, "sched-2cpu.dat", "summary")
        counts = {x["event"]: x["count"] for x in s["rows"]}
        if shutil.which("trace-cmd"):
            out = subprocess.run(["trace-cmd", "report", "-i", os.path.join(d, "sched-2cpu.dat")],
                                 capture_output=True, text=True, timeout=30).stdout
            for e in ("sched_switch", "sched_waking"):
                eq(counts[e], out.count(f" {e}: "), f"{e} as trace-cmd report counts")
        check(counts["sched_switch"] > 50, f"switches read: {counts}")


@C.case
def test_lru_eviction():
    d = TA.trace_dir()
    for name in ("a", "b", "c"):
        TA.write(d, name + ".pftrace", TA.encode(compact(0, 12000)))
    TA.write(d, "huge.pftrace", TA.encode(compact(0, 40000) + compact(1, 40000)))
    with TA.daemon(d, "cache_mb = 1\n") as c:
        a = c.structured("trace_load", {"file": "a.pftrace"})
        check(300000 < a["memory_bytes"] < 500000, f"a's memory {a['memory_bytes']}")
        eq(a["sched_switch"], 12000, "a's switches")
        c.structured("trace_load", {"file": "b.pftrace"})
        again = c.structured("trace_load", {"file": "a.pftrace"})
        check(again.get("cached"), "a again: from the cache, now most recently used")
        r = c.structured("trace_load", {"file": "c.pftrace"})
        eq(r.get("evicted"), "b.pftrace", "b, the least recently used, was evicted")
        check(r["cache_used_bytes"] <= r["cache_bound_bytes"], "within the bound")
        listed = c.read_json("traces://loaded")
        eq(sorted(t["file"] for t in listed["traces"]), ["a.pftrace", "c.pftrace"], "loaded")
        e = err_text(TA.load(c, "huge.pftrace"))
        check(e and "memory bound" in e, f"a trace over the bound is refused: {e}")


if __name__ == "__main__":
    C.main()
