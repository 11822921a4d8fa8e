"""trace_record's stack samples (root): a 2 s recording with stack_hz 199
while pp-workload-fp (perf_profiler's proof workload: main -> run ->
caller_a -> leaf_a 7 units in 10, caller_b -> leaf_b 3 in 10, frame
pointers) spins. Checks: protoc decodes the file; a hand-written reader of
the wire finds PerfSample packets on one sequence whose first packet
clears the incremental state, each naming an interned callstack; the
workload's samples are 199/s of the time it ran (its running time from the
same trace, trace_analysis states) within 25 %; trace_load + trace_analyze
samples for its tid puts leaf_a first and leaf_b second, with caller_a, run
and main on their stacks; kernel frames carry names from /proc/kallsyms;
samples the kernel lost are counted the same in the answer and the file.
Exits 77 with the reason when perf_event_open is refused here."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trtest  # noqa: E402

HZ = 199


def read_samples(path):
    """(samples, sequences, interned function names, lost) from the file."""
    with open(path, "rb") as f:
        data = f.read()
    samples, names, lost, seqs = [], {}, 0, {}
    for no, _, pkt in trtest.fields(data):
        if no != 1:
            continue
        top = {}
        for f, w, v in trtest.fields(pkt):
            top.setdefault(f, v)
        if 66 not in top and 12 not in top:
            continue
        seq = top.get(10)
        first = seq not in seqs
        seqs.setdefault(seq, []).append(top.get(13, 0))
        if first:
            assert top.get(13, 0) & 1, f"the first packet of sequence {seq} clears its state"
        else:
            assert top.get(13, 0) & 2, "later packets need the incremental state"
        if 12 in top:
            for f, w, v in trtest.fields(top[12]):
                if f == 5:
                    s = dict((a, b) for a, _, b in trtest.fields(v))
                    names[s[1]] = s[2].decode()
        if 66 in top:
            ps = {f: v for f, _, v in trtest.fields(top[66])}
            if ps.get(17):
                lost += ps[17]
                continue
            assert ps.get(4), f"a sample names its callstack: {ps}"
            samples.append((top.get(8), ps.get(1, 0), ps.get(2), ps.get(3), ps[4]))
    return samples, seqs, names, lost


def interned(path):
    """(InternedData field, {its fields}) of every interned entry in the file."""
    with open(path, "rb") as f:
        data = f.read()
    for no, _, pkt in trtest.fields(data):
        if no != 1:
            continue
        for f, w, v in trtest.fields(pkt):
            if f == 12:
                for g, _, x in trtest.fields(v):
                    yield g, {a: b for a, _, b in trtest.fields(x)}


def read_mappings(path):
    """{mapping path: build id bytes or None} from the interned data."""
    paths, builds, maps = {}, {}, []
    for g, s in interned(path):
        if g in (16, 17):
            (builds if g == 16 else paths)[s[1]] = s.get(2, b"")
        elif g == 19:
            maps.append(s)
    return {paths[m[7]].decode(): builds.get(m.get(2)) for m in maps if 7 in m}


def named_frames(path):
    """[(function name, rel_pc)] of the frames that have a name."""
    names, frames = {}, []
    for g, s in interned(path):
        if g == 5:
            names[s[1]] = s[2].decode()
        elif g == 6 and s.get(2):
            frames.append((s[2], s.get(4, 0)))
    return [(names.get(n), pc) for n, pc in frames]


def elf_symbol(path, name):
    """(address, size) of a function in the ELF's symbol table."""
    out = subprocess.run(["nm", "-S", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 4 and p[3] == name:
            return int(p[0], 16), int(p[1], 16)
    return None


def elf_build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Build ID:" in line:
            return bytes.fromhex(line.split("Build ID:")[1].strip())
    return None


def kallsyms_text():
    out = set()
    with open("/proc/kallsyms") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3 and p[1] in "tTwW":
                out.add(p[2])
    return out


def main():
    trtest.need_root()
    ck = trtest.smcp_test.Checker("plugins/trace_record/stacks")
    work = os.path.join(trtest.mcp_client.BUILD, "tests", "plugins", "perf_profiler",
                        "pp-workload-fp")
    if not os.access(work, os.X_OK):
        trtest.skip(f"{work} is not built (the perf_profiler plugin is off in this build)")
    tdir = trtest.trace_dir()
    cfg = trtest.smcp_test.write_config(
        f"[plugin trace_record]\ndir = {tdir}\n[plugin trace_analysis]\ndir = {tdir}\n")
    os.chmod(cfg, 0o644)
    d = trtest.mcp_client.Client(args=["--enable", "trace_record,trace_analysis",
                                       "--config", cfg], plugin_dir_=trtest.mcp_client.plugin_dir())
    w = None
    try:
        st = d.plugin_state("trace_record")
        if not st or st["state"] != "loaded":
            trtest.skip(f"trace_record did not load here: {st}")
        r = d.tool("trace_record", {"stack_hz": 1001})
        ck.check(r.get("isError"), "stack_hz over 1000 is refused")
        w = subprocess.Popen([work, "8"], stdout=subprocess.PIPE, text=True)
        ready = w.stdout.readline().split()
        wpid = int(ready[1])
        r = d.structured("trace_record", {"duration_s": 2, "stack_hz": HZ}, timeout=120)
        print(f"answer: {r}", flush=True)
        ck.check(r["state"] == "done", f"the recording is done: {r['state']} {r['reason']}")
        s = r.get("stacks", {})
        if not s.get("sampling"):
            trtest.skip(f"no stack samples here: {s.get('why')}")
        path = os.path.join(tdir, r["file"])
        text = trtest.protoc_decode(path)
        ck.check("perf_sample {" in text and "callstacks {" in text and "mappings {" in text,
                 "protoc decodes PerfSample packets and the interned data")

        samples, seqs, names, lost = read_samples(path)
        ck.eq(len(seqs), 1, "the samples have one sequence of their own")
        ck.eq(len(samples), s["samples"], "every sample the answer counts is in the file")
        ck.eq(lost, s["lost_by_kernel"], "lost samples: the file's count is the answer's")
        d.structured("trace_load", {"file": r["file"]}, timeout=60)
        summ = d.structured("trace_analyze", {"file": r["file"], "analysis": "summary"},
                            timeout=60)
        # the window both the samples and the sched events cover
        lo = max(summ["first_ts_ns"], min(x[0] for x in samples))
        hi = min(summ["last_ts_ns"], max(x[0] for x in samples))
        mine_all = [x for x in samples if x[3] == wpid]
        mine = [x for x in mine_all if lo <= x[0] <= hi]
        ck.check(all(x[2] == wpid for x in mine_all), "the workload's samples carry its pid")
        ts = sorted(x[0] for x in samples)
        ck.check(r["start_ns"] - 10**10 <= ts[0] and ts[-1] <= r["end_ns"] + 10**10 and
                 r["start_ns"] <= ts[len(ts) // 2] <= r["end_ns"],
                 "sample times are the trace's clock (CLOCK_BOOTTIME, about the window)")

        t1, t2 = lo - summ["first_ts_ns"], hi - summ["first_ts_ns"]
        states = d.structured("trace_analyze", {"file": r["file"], "analysis": "states",
                                                "tid": wpid, "t1_ns": t1, "t2_ns": t2},
                              timeout=60)
        running_s = states["rows"][0]["running_ns"] / 1e9
        want = HZ * running_s
        print(f"window {(hi - lo) / 1e9:.3f} s; "
              f"workload {wpid}: {len(mine)} samples, ran {running_s:.3f} s: "
              f"{len(mine) / running_s if running_s else 0:.1f}/s (asked {HZ})", flush=True)
        ck.check(running_s > 0.5, f"the workload ran in the window ({running_s:.3f} s)")
        # none lost: at least 75 % of the asked rate. Above it, up to 1.5x:
        # on CI's loaded host the vCPU stalls, and the frequency mode's
        # period correction and the timer's catch-up at its resume overshoot
        # (seen: 261/s asked 199, 18 % of them on pvm_irq_enable)
        ck.check(0.75 * want <= len(mine) <= 1.5 * want,
                 f"{len(mine)} samples within -25 %/+50 % of {HZ} x {running_s:.3f} s = "
                 f"{want:.0f}")

        a = d.structured("trace_analyze", {"file": r["file"], "analysis": "samples",
                                           "tid": wpid, "t1_ns": t1, "t2_ns": t2}, timeout=60)
        print("top functions:", [(x["function"], x["self"], x["total"]) for x in a["rows"][:6]],
              flush=True)
        ck.eq(a["samples"], len(mine),
              "trace_analysis reads as many samples of the thread as the file holds")
        fn = [x["function"] for x in a["rows"]]
        ck.check(fn[:2] == ["leaf_a", "leaf_b"], f"leaf_a, then leaf_b on top: {fn[:4]}")
        # 70/30 by construction among the workload's own leaves (kernel
        # leaves, e.g. at an interrupt's return, take a load-dependent share)
        own = {x["function"]: x["self"] for x in a["rows"] if x["function"] in ("leaf_a", "leaf_b")}
        share = own.get("leaf_a", 0) / max(1, own.get("leaf_a", 0) + own.get("leaf_b", 0))
        ck.check(0.6 <= share <= 0.8, f"leaf_a has about 70 % of leaf_a and leaf_b: {share:.2f}")
        tot = {x["function"]: x["total"] for x in a["rows"]}
        for f in ("caller_a", "run", "main"):
            ck.check(tot.get(f, 0) >= 0.5 * len(mine), f"{f} is on most stacks: {tot.get(f)}")

        stk = d.structured("trace_analyze", {"file": r["file"], "analysis": "samples",
                                             "tid": wpid, "group": "stack", "limit": 5},
                           timeout=60)
        row = stk["rows"][0]
        ck.check(row["f0"] == "leaf_a" and row["f1"] == "caller_a",
                 f"the commonest stack is leaf_a <- caller_a: {row}")

        maps = read_mappings(path)
        want_bid = elf_build_id(work)
        got = [b for p, b in maps.items() if p.endswith("/pp-workload-fp")]
        ck.check(got and want_bid and got[0] == want_bid,
                 f"the workload's mapping carries its build id, raw: {got} {want_bid}")

        sym = elf_symbol(work, "leaf_a")
        pcs = [pc for n, pc in named_frames(path) if n == "leaf_a"]
        ck.check(sym and pcs and all(sym[0] <= pc < sym[0] + sym[1] for pc in pcs),
                 f"leaf_a's frames have rel_pc inside its link-time range {sym}: "
                 f"{[hex(x) for x in pcs[:4]]}")

        ks = kallsyms_text()
        knamed = [n for n in names.values() if n in ks]
        ck.check(len(knamed) >= 3, f"kernel frames are named from kallsyms: {knamed[:5]}")
        allf = d.structured("trace_analyze", {"file": r["file"], "analysis": "samples",
                                              "limit": 20}, timeout=60)
        ck.check(any(x["function"] in ks for x in allf["rows"]),
                 "the whole trace's top functions include kernel ones")
    finally:
        if w:
            w.kill()
            w.wait()
        d.close()
    sys.exit(ck.done())


if __name__ == "__main__":
    main()
