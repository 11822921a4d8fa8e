"""sched_ext DSQ tracks without sched_ext: tr-dsq-fixture writes synthetic
DSQ inserts and dispatches through trace_record's encoder (the plugin's own
tr_dsq_step + tr_enc_dsq); protoc must decode the counter tracks, and
trace_analysis's dsq analysis must read back the hand-computed depth and
latency, over the whole trace and in a window. Then the host's own answer:
where the kernel has no sched_ext (every build machine), traces://recordings
and, as root, a recording say that DSQ tracks are absent and why.
Suite plugins (the recording part needs root and is skipped without it)."""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "trace_analysis"))
import tatest as TA  # noqa: E402
import trtest  # noqa: E402
from smcp_test import Checker, Skip  # noqa: E402

C = Checker("trace_record/dsq")
check, eq = C.check, C.eq
FIXTURE = os.path.join(os.environ.get("SMCP_BUILD_DIR", "build"), "tests", "plugins",
                       "trace_record", "tr-dsq-fixture")


def kernel_has_scx():
    """The kernel's BTF names a DSQ insert kfunc (what trace_record looks up)."""
    try:
        with open("/sys/kernel/btf/vmlinux", "rb") as f:
            b = f.read()
    except OSError:
        return False
    return b"\0scx_bpf_dsq_insert\0" in b or b"\0scx_bpf_dispatch\0" in b


def near(a, b):
    return a is not None and abs(a - b) <= 1e-3 * max(1, abs(b))  # answers carry 4 digits


@C.case
def test_synthetic():
    d = TA.trace_dir()
    path = os.path.join(d, "dsq.perfetto-trace")
    p = subprocess.run([FIXTURE, path], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, f"the fixture ran: {p.stderr}")
    # the depth the encoder computed, step by step (1000 and local as below)
    depth = [ln.split() for ln in p.stdout.splitlines()]
    eq([int(x[4]) for x in depth if x[2] == "1000"], [1, 2, 1, 2, 1, 0], "DSQ 1000's depth")
    eq([int(x[4]) for x in depth if x[2] == str(0x8000000000000002)], [1, 0, 0],
       "the local DSQ's depth: a dispatch without its insert stays at 0")

    text = trtest.protoc_decode(path)
    for name in ("sched_ext DSQs", "dsq 1000 depth", "dsq 1000 latency", "dsq local depth",
                 "dsq local latency", "dsq 7 latency"):
        check(f'name: "{name}"' in text, f"protoc sees the track {name!r}")
    check("unit: UNIT_COUNT" in text and "unit: UNIT_TIME_NS" in text,
          "counter descriptors with their units")
    check("type: TYPE_COUNTER" in text and "counter_value: 5000000000" in text,
          "counter values, one past 32 bits")

    with TA.daemon(d) as c:
        r = TA.load(c, "dsq.perfetto-trace")
        check(not r.get("isError"), f"loaded: {r}")
        a = TA.analyze(c, "dsq.perfetto-trace", "dsq")
        rows = {x.get("dsq"): x for x in a["rows"]}
        eq(sorted(rows), ["1000", "7", "local"], f"one row per DSQ: {a['rows']}")
        check("read 6 trace_record DSQ counter tracks" in a.get("note", "")
              and "3 DSQs" in a["note"], f"the note says what it read: {a.get('note')}")
        r = rows["1000"]
        eq((r["inserts"], r["dispatches"]), (3, 3), "DSQ 1000: 3 inserts, 3 dispatches")
        # latencies 2500, 4000, 5000: nearest rank p50 = 2nd, p90 = p99 = 3rd
        eq((r["latency_p50_ns"], r["latency_p90_ns"], r["latency_p99_ns"],
            r["latency_max_ns"]), (4000, 5000, 5000, 5000), "DSQ 1000's latency")
        check(near(r["latency_mean_ns"], 11500 / 3), f"mean latency {r['latency_mean_ns']}")
        # depth values 1 2 1 2 1 0
        eq(r["depth_max"], 2, "DSQ 1000's depth max")
        check(near(r["depth_mean"], 7 / 6), f"depth mean {r['depth_mean']}")
        r = rows["local"]
        eq((r["inserts"], r["dispatches"], r["latency_p50_ns"], r["latency_p99_ns"]),
           (1, 2, 100, 300), "local: 1 insert seen, 2 dispatches (100, 300 ns)")
        eq(r["depth_max"], 1, "local's depth max")
        check(near(r["depth_mean"], 1 / 3), f"local's depth mean {r['depth_mean']}")
        eq(rows["7"]["latency_max_ns"], 5e9, "a 5 s wait survives the 32-bit halves")
        eq(a["rows"][0]["dsq"], "1000", "the busiest DSQ first")

        # the window [2000, 6500] from the first event (1000): 3000..7500
        w = TA.analyze(c, "dsq.perfetto-trace", "dsq", t1_ns=2000, t2_ns=6500)
        rows = {x.get("dsq"): x for x in w["rows"]}
        r = rows["1000"]
        eq((r["inserts"], r["dispatches"], r["latency_p50_ns"], r["latency_p99_ns"]),
           (1, 2, 2500, 4000), "DSQ 1000 in the window: depth 1 2 1, latencies 2500 4000")
        eq(r["depth_max"], 2, "its depth max in the window")
        check(near(r["depth_mean"], 4 / 3), f"its depth mean in the window {r['depth_mean']}")
        r = rows["local"]
        eq((r["inserts"], r["dispatches"], r["latency_p99_ns"]), (0, 1, 300),
           "local in the window: one dispatch")
        check("within [t1_ns, t2_ns]" in w.get("note", ""), "the note names the window")


@C.case
def test_host_says_why():
    if kernel_has_scx():
        raise Skip("this kernel has sched_ext: the lab's trace_dsq check covers it")
    tdir = trtest.trace_dir()
    d = trtest.Daemon(tdir)
    try:
        lst = d.read_json("traces://recordings")
        eq(lst.get("dsq_tracks"), False, "no DSQ tracks here")
        why = lst.get("dsq_reason", "")
        check("sched_ext" in why and "not loaded" in why, f"and why: {why!r}")
        if os.geteuid() != 0 or not lst.get("available"):
            return
        r = d.structured("trace_record", {"action": "start", "duration_s": 2})
        t0 = time.monotonic()
        while d.structured("trace_record", {"action": "status"})["state"] == "starting":
            check(time.monotonic() - t0 < 30, "the recording started")
            time.sleep(0.1)
        if shutil.which("bpftool"):
            # zero cost: the DSQ object is not even loaded while recording
            out = subprocess.run(["bpftool", "prog", "show"], capture_output=True,
                                 text=True, timeout=30).stdout
            check(" name tr_switch " in out, "bpftool sees the recording's programs")
            check(" name tr_dsq_" not in out, "and none of the DSQ object's")
        while d.structured("trace_record", {"action": "status"})["state"] != "done":
            check(time.monotonic() - t0 < 60, "the recording ended")
            time.sleep(0.2)
        r = d.structured("trace_record", {"action": "status"})
        eq(r["dsq"]["tracks"], False, "the recording has no DSQ tracks")
        check("sched_ext" in r["dsq"].get("reason", ""), f"and says why: {r['dsq']}")
        check("dsq_insert" not in r["lost"], "no DSQ losses counted where nothing was hooked")
    finally:
        d.close()


sys.exit(C.run())
