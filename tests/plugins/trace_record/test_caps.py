"""trace_record's bounds (root): the size and duration caps hold, stop by id
ends a recording early, the client names no path (ids are checked, a planted
symlink is not followed or listed), files are 0640 regular files under the
configured directory, and the directory's file count is capped."""
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trtest  # noqa: E402

CONFIG = "max_duration_s = 8\ndefault_duration_s = 8\nmax_mb = 4\nmax_files = 5\n"


def err_text(d, args):
    r = d.tool("trace_record", args)
    return r["content"][0]["text"] if r.get("isError") else None


def main():
    trtest.need_root()
    ck = trtest.smcp_test.Checker("plugins/trace_record/caps")
    tdir = trtest.trace_dir()
    d = trtest.start_loaded(tdir, extra_config=CONFIG)
    hb = None
    try:
        ck.check("nothing recorded" in (err_text(d, {"action": "status"}) or ""),
                 "status before any recording says so")
        for bad in ("../../etc/passwd", "20261207-082541-d89", "20261207-082541-D899",
                    "/tmp/x", "20261207-082541-d899/../x"):
            for action in ("status", "stop"):
                t = err_text(d, {"action": action, "id": bad})
                ck.check(t and "id must be" in t, f"{action} refuses id {bad!r}: {t}")
        ck.check("takes no id" in (err_text(d, {"action": "start", "id": "20261207-082541-d899"})
                                   or ""), "the client cannot name a recording")
        ck.check("cap of 8" in (err_text(d, {"duration_s": 9}) or ""), "the duration cap holds")
        ck.check("cap of 4" in (err_text(d, {"max_mb": 5}) or ""), "the size cap holds")

        # duration: the window the snapshots bound is the one asked for
        r = d.structured("trace_record", {"duration_s": 1}, timeout=60)
        win = (r["end_ns"] - r["start_ns"]) / 1e9
        ck.check(r["state"] == "done" and r["reason"] == "duration reached", f"done: {r}")
        # (the timer may fire late on a loaded machine, never early)
        ck.check(0.99 <= win <= 5, f"a 1 s recording spans about 1 s: {win:.3f}")

        # stop by id, early
        r = d.structured("trace_record", {"action": "start"})
        ck.check(r["state"] in ("starting", "recording"), f"start answers at once: {r}")
        ck.check("one at a time" in (err_text(d, {"action": "start"}) or ""),
                 "one recording at a time")
        st = d.structured("trace_record", {"action": "status", "id": r["id"]})
        ck.eq(st["id"], r["id"], "status by id")
        # loading the programs takes a while on a loaded machine
        trtest.smcp_test.wait_until(lambda: d.structured(
            "trace_record", {"action": "status"})["state"] != "starting", timeout=30)
        time.sleep(1)
        st = d.structured("trace_record", {"action": "status"})
        ck.check(st["state"] == "recording", f"it records: {st}")
        t0 = time.time()
        st = d.structured("trace_record", {"action": "stop", "id": r["id"]}, timeout=60)
        ck.check(st["state"] == "done" and st["reason"] == "stopped by the client",
                 f"stopped: {st}")
        ck.check((st["end_ns"] - st["start_ns"]) / 1e9 < 7, "stopped before the duration")
        print(f"stop answered in {time.time() - t0:.2f} s")

        # a cancelled record call stops its recording; progress came meanwhile
        d.send({"jsonrpc": "2.0", "id": "rec-1", "method": "tools/call",
                "params": {"name": "trace_record", "arguments": {"duration_s": 8},
                           "_meta": {"progressToken": "p1"}}})
        def progressed():
            d.recv(0.2)  # keeps what arrives in d.messages
            return any(m.get("method") == "notifications/progress" for m in d.messages)
        ok = trtest.smcp_test.wait_until(progressed, timeout=30)
        ck.check(ok, "progress notifications while it records")
        d.notify("notifications/cancelled", {"requestId": "rec-1", "reason": "test"})
        trtest.smcp_test.wait_until(lambda: d.structured(
            "trace_record", {"action": "status"})["state"] == "done", timeout=30)
        st = d.structured("trace_record", {"action": "status"})
        ck.check(st["state"] == "done" and "cancelled" in st["reason"],
                 f"cancelling the call stopped the recording: {st}")
        ck.check(not any(m.get("id") == "rec-1" for m in d.messages),
                 "no answer to the cancelled call")

        # size: 1 MiB under a busy workload
        if trtest.shutil.which("hackbench"):
            hb = subprocess.Popen(["hackbench", "-p", "-g", "1", "-f", "2", "-l", "2000000"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = d.structured("trace_record", {"max_mb": 1}, timeout=60)
        size = os.path.getsize(os.path.join(tdir, r["file"]))
        print(f"size-capped recording: {size} bytes, {r['events_total']} events, "
              f"{r.get('bytes_per_event', 0):.2f} bytes/event, reason {r['reason']!r}")
        ck.check(size <= 1 << 20, f"the file stays within max_mb: {size}")
        if r["reason"] == "size cap reached":
            ck.check(size > (1 << 20) - (256 << 10), f"and is filled up to near it: {size}")
        else:
            ck.check(r["reason"] == "duration reached", f"the duration ended it: {r}")
        text = trtest.protoc_decode(os.path.join(tdir, r["file"]))
        ck.check("ftrace_stats" in text and text.count("clock_snapshot") == 2,
                 "a capped file still ends with its statistics and clock snapshot")

        # the directory: regular 0640 files named by id, nothing else
        names = sorted(os.listdir(tdir))
        ck.check(len(names) == 4 and all(n.endswith(".perfetto-trace") for n in names),
                 f"only our recordings: {names}")
        for n in names:
            st_ = os.lstat(os.path.join(tdir, n))
            ck.check(stat.S_ISREG(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o640,
                     f"{n} is a 0640 regular file: {oct(st_.st_mode)}")

        # a planted symlink named like a recording is neither followed nor listed
        planted = "20200101-000000-abcd"
        os.symlink("/etc/passwd", os.path.join(tdir, planted + ".perfetto-trace"))
        t = err_text(d, {"action": "status", "id": planted})
        ck.check(t and "no recording" in t, f"a symlink is no recording: {t}")
        lst = d.read_json("traces://recordings")
        ids = [x["id"] for x in lst["recordings"]]
        ck.check(planted not in ids and len(ids) == 4, f"the listing skips it: {ids}")
        ck.check(ids == sorted(ids, reverse=True), "newest first")

        # the file count cap: 4 recordings + 1 more file reach max_files = 5
        for k in range(1):
            open(os.path.join(tdir, f"20200101-00000{k}-0000.perfetto-trace"), "w").close()
        t = err_text(d, {"action": "start"})
        ck.check(t and "max_files" in t, f"a full directory refuses another: {t}")
    finally:
        if hb:
            hb.kill()
            hb.wait()
        d.close(timeout=60)
        trtest.smcp_test.remove_dir(tdir)
    sys.exit(ck.done())


if __name__ == "__main__":
    main()
