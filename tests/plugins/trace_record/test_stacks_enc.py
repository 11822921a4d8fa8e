"""trace_record's stack-sample encoder against trace_analysis's decoder (no
privilege): tr-stacks-fixture writes known perf records (two threads of
one process, the idle task, a PERF_RECORD_LOST, a second drain that adds
frames to what the first interned) with frames named from a fixture
/proc/kallsyms and mapped through a fixture /proc/4242/maps. protoc must
decode the file; a hand-written reader checks the sequence flags; and
trace_analyze samples must give exactly the counts, functions, unnamed
user frames (rel_pc + file) and stacks the fixture wrote."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "trace_analysis"))
import trtest  # noqa: E402
import test_stacks  # noqa: E402
import tatest as TA  # noqa: E402

KALLSYMS = """ffffffff81000000 T fx_kentry
ffffffff81000100 T fx_kleaf
ffffffff81000200 T fx_kend
"""
MAPS = "7f0000000000-7f0000010000 r-xp 00002000 00:00 0 /nonexistent/libfx.so\n"


def put(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    ck = trtest.smcp_test.Checker("plugins/trace_record/stacks_encode")
    fixture = os.path.join(trtest.mcp_client.BUILD, "tests", "plugins", "trace_record",
                           "tr-stacks-fixture")
    root = tempfile.mkdtemp(prefix="smcp-trs-root-")
    put(os.path.join(root, "proc", "kallsyms"), KALLSYMS)
    put(os.path.join(root, "proc", "4242", "maps"), MAPS)
    put(os.path.join(root, "proc", "4242", "comm"), "fx\n")
    d = TA.trace_dir()
    path = os.path.join(d, "stacks.pftrace")
    p = subprocess.run([fixture, path, root], capture_output=True, text=True, timeout=30)
    ck.eq(p.returncode, 0, f"the fixture ran: {p.stderr}")
    print(p.stdout.strip(), flush=True)
    ck.eq(p.stdout.split(), ["samples", "50", "lost", "7", "callstacks", "4", "frames", "6",
                             "names", "2", "mappings", "1"], "the encoder's counts")
    text = trtest.protoc_decode(path)
    ck.check(text.count("perf_sample {") == 51, "protoc: 50 samples and one lost packet")
    for want in ('str: "fx_kleaf"', 'str: "/nonexistent/libfx.so"', "exact_offset: 8192",
                 "start: 139637976727552", "kernel_records_lost: 7", "rel_pc: 10121"):
        ck.check(want in text, f"protoc finds {want}")
    ck.eq(test_stacks.read_mappings(path),
          {"kernel": None, "/nonexistent/libfx.so": None},
          "the kernel's and the library's mappings, with their paths")
    samples, seqs, names, lost = test_stacks.read_samples(path)
    ck.eq(len(samples), 50, "50 samples on the wire")
    ck.eq(lost, 7, "7 lost on the wire")
    flags = list(seqs.values())[0]
    ck.check(len(seqs) == 1 and flags[0] & 1 and all(f == 2 for f in flags[1:]),
             f"one sequence: cleared first, then needs-state: {flags[:3]}...")
    ck.check(sum(1 for f in flags if f) == len(flags), "every packet of it has flags")

    with TA.daemon(d) as c:
        r = TA.load(c, "stacks.pftrace")
        ck.check(not r.get("isError"), f"loaded: {r}")
        a = TA.analyze(c, "stacks.pftrace", "samples", tid=4243)
        ck.eq(a["samples"], 33, "thread 4243: 33 samples")
        rows = {x["function"]: (x["self"], x["total"]) for x in a["rows"]}
        ck.eq(a["rows"][0]["function"], "fx_kleaf", "its top function is fx_kleaf")
        ck.eq(rows.get("fx_kleaf"), (33, 33), "fx_kleaf: self 33, total 33")
        ck.eq(rows.get("fx_kentry"), (0, 33), "fx_kentry: on every stack, never the leaf")
        ck.eq(rows.get("0x2123 libfx.so"), (0, 30), "an unnamed user frame: rel_pc and file")
        a = TA.analyze(c, "stacks.pftrace", "samples", tid=4244)
        ck.eq([(x["function"], x["self"], x["total"]) for x in a["rows"]],
              [("0x2789 libfx.so", 12, 12), ("0x2456 libfx.so", 0, 12)], "thread 4244")
        a = TA.analyze(c, "stacks.pftrace", "samples")
        ck.eq(a["samples"], 50, "50 samples in the trace")
        ck.eq(a["lost_by_kernel"], 7, "the lost count is read")
        ck.eq(a["samples_unresolved"], 0, "every sample's stack resolved")
        ck.eq((a["rows"][0]["function"], a["rows"][0]["self"]), ("fx_kleaf", 38),
              "fx_kleaf leads the trace (33 + 5 idle)")
        a = TA.analyze(c, "stacks.pftrace", "samples", pid=4242, group="stack", limit=1)
        ck.eq(a["page"]["total"], 3, "three stacks in process 4242")
        row = a["rows"][0]
        ck.eq((row["samples"], row["depth"], row["f0"], row["f1"], row["f2"], row["f3"]),
              (30, 4, "fx_kleaf", "fx_kentry", "0x2123 libfx.so", "0x2456 libfx.so"),
              "the commonest stack, innermost first")
        # a window: the samples are 1 ms apart from t = 1 s (the trace has no
        # sched events, so times count from 0); 30..41 are thread 4244's
        base = 1000000000
        w = TA.analyze(c, "stacks.pftrace", "samples", t1_ns=base + 30000000,
                       t2_ns=base + 41000000)
        ck.eq(w["samples"], 12, f"a window holds its samples only: {w.get('t1_ns')}")

    # refused events: no samples, and the reason (run without privilege)
    with open("/proc/sys/kernel/perf_event_paranoid") as f:
        paranoid = int(f.read())
    if paranoid < 0:
        print("perf_event_paranoid < 0 lets anyone open CPU-wide events: "
              "the refusal is not checked here", flush=True)
    else:
        def drop():
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
        out = os.path.join(tempfile.mkdtemp(prefix="smcp-trs-"), "refused.pftrace")
        os.chmod(os.path.dirname(out), 0o777)
        p = subprocess.run([fixture, out, root, "open"], capture_output=True, text=True,
                           timeout=30, preexec_fn=drop)
        print(p.stdout.strip(), flush=True)
        ck.eq(p.returncode, 0, f"the refused open ran on: {p.stderr}")
        ck.check(p.stdout.startswith("sampling 0 why perf_event_open (software cpu-clock, CPU 0)"
                                     " failed: ") and "CAP_PERFMON" in p.stdout,
                 "refused events say why, and what would allow them")
    sys.exit(ck.done())


if __name__ == "__main__":
    main()
