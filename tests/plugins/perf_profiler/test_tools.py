#!/usr/bin/env python3
"""The profiler's tools and resources through the daemon, profiling the
test's own workload process (works unprivileged at perf_event_paranoid <= 2):

  bad input (unknown event, frequency 0 / absurd, missing pid, bad cpu,
  starting twice, wait without duration, unknown group_by) gives tool errors
  naming the valid range; numeric strings are accepted; a waiting call gets
  progress and the results; cancelling it stops the profile; auto-stop at
  max_samples and when the process exits; every perf fd is closed on stop;
  a process whose binary was deleted after it exited still symbolises (both
  unwinders); answers are bounded and say how to get the rest; folded
  output; the resources; shutdown while profiling.
"""
import json
import os
import shutil
import tempfile
import time

from pptest import (Checker, Workload, daemon, perf_fds, require_perf, symbols, tool, texts,
                    wait_until, workload)

ck = Checker()
tmp = tempfile.mkdtemp(prefix="pp-tools-")


def err_text(body):
    return body if isinstance(body, str) else json.dumps(body)


try:
    with daemon() as c:
        st = require_perf(c)
        dpid = c.proc.pid
        ck.eq("status: idle at start", st["state"], "idle")
        e, b = tool(c, "get_perf_results")
        ck.ok("results before any profile: error saying what to do",
              e and "start_perf_profiling" in err_text(b), b)
        e, b = tool(c, "stop_perf_profiling")
        ck.ok("stop before any profile: error", e, b)

        # ---- bad input
        e, b = tool(c, "start_perf_profiling", {"event": "hw:bogus"})
        ck.ok("unknown event: error listing the valid events",
              e and "unknown event" in b and "sw:cpu-clock" in b and "tp:" in b, b)
        e, b = tool(c, "start_perf_profiling", {"event": "tp:nosuch:thing"})
        ck.ok("unknown tracepoint: error", e and "tracepoint" in b, b)
        e, b = tool(c, "start_perf_profiling", {"frequency_hz": 0})
        ck.ok("frequency 0: error with the valid range", e and "1.." in b and "Hz" in b, b)
        e, b = tool(c, "start_perf_profiling", {"frequency_hz": 10**9})
        ck.ok("absurd frequency: error with the valid range", e and "1.." in b, b)
        e, b = tool(c, "start_perf_profiling", {"pid": 2**22 + 12345})
        ck.ok("pid that does not exist: error", e and "does not exist" in b, b)
        e, b = tool(c, "start_perf_profiling", {"pid": 0})
        ck.ok("pid 0: error", e and "pid" in b, b)
        e, b = tool(c, "start_perf_profiling", {"cpu": 4096})
        ck.ok("cpu not online: error listing valid CPUs", e and "valid" in b, b)
        e, b = tool(c, "start_perf_profiling", {"duration_secs": 0})
        ck.ok("duration 0: error with the range", e and "duration_secs" in b, b)
        e, b = tool(c, "start_perf_profiling", {"wait": True})
        ck.ok("wait without duration: error", e and "duration_secs" in b, b)
        e, b = tool(c, "start_perf_profiling", {"unwind": "magic"})
        ck.ok("unknown unwind: error listing valid values", e and "auto" in b and "fp" in b, b)
        e, b = tool(c, "get_perf_results", {"group_by": "thread"})
        ck.ok("unknown group_by: error listing valid values",
              e and "symbol" in b and "process" in b, b)
        ck.eq("no perf fd open after refused starts", perf_fds(dpid), 0)

        # ---- a timed profile we wait for, with progress
        w = Workload(workload("nofp"), 8)
        e, b = tool(c, "start_perf_profiling",
                    {"pid": str(w.pid), "frequency_hz": "199", "duration_secs": 2.5},)
        ck.ok("start with numeric strings", not e and b["state"] == "running", b)
        ck.ok("start reports the event (and the fallback, if any)",
              b.get("event", "").startswith(("hw:", "sw:")) and
              (b["event"] == "hw:cycles" or "note" in b), b)
        ck.ok("perf fds open while running", perf_fds(dpid) > 0, perf_fds(dpid))
        e, b = tool(c, "start_perf_profiling", {"pid": w.pid})
        ck.ok("starting twice: error saying a profile runs", e and "already running" in b, b)
        n0 = len(c.messages)
        e, b = tool(c, "get_perf_results", {"wait": True, "limit": 5},
                    meta={"progressToken": "tok"}, timeout=15)
        prog = [m["params"] for m in c.messages[n0:]
                if m.get("method") == "notifications/progress"]
        ck.ok("waiting call answered after the duration",
              not e and b["state"] == "stopped" and b["stopped_because"] == "duration reached", b)
        ck.ok("progress notifications while waiting", len(prog) >= 1 and
              all(p["progressToken"] == "tok" and p["total"] == 2.5 for p in prog), prog)
        ck.ok("progress increases", all(a["progress"] < b_["progress"]
                                         for a, b_ in zip(prog, prog[1:])), prog)
        ck.eq("every perf fd closed at auto-stop", perf_fds(dpid), 0)
        syms = symbols(b)
        ck.ok("leaf_a and leaf_b are the top symbols",
              [s["symbol"] for s in b["symbols"][:2]] == ["leaf_a", "leaf_b"], b["symbols"][:3])

        # ---- folded output, other groupings, the resources
        lines = texts(c, "get_perf_results", {"format": "folded", "limit": 500})
        folded = [x for x in lines[0].splitlines() if x]
        ck.ok("folded: 'a;b;c N' lines", folded and all(
            ";" in x and x.rsplit(" ", 1)[1].isdigit() for x in folded), lines[0][:300])
        ck.ok("folded: counts add up to the samples",
              sum(int(x.rsplit(" ", 1)[1]) for x in folded) == b["samples"], b["samples"])
        ck.ok("folded: a note says whether it is complete", "complete" in lines[-1], lines[-1])
        ck.ok("folded: callers beneath the leaves",
              any(x.split(" ")[0].endswith("caller_a;leaf_a") for x in folded), folded[:2])
        for g, key in (("stack", "stacks"), ("process", "processes"), ("cpu", "cpus")):
            e, r = tool(c, "get_perf_results", {"group_by": g})
            ck.ok("group_by %s" % g, not e and r.get(key), r)
        e, r = tool(c, "get_perf_results", {"group_by": "process"})
        ck.ok("process row names the workload", r["processes"][0]["pid"] == w.pid and
              r["processes"][0]["top_symbols"][0]["symbol"] == "leaf_a", r["processes"][:1])
        e, r = tool(c, "get_perf_results", {"limit": 1})
        ck.ok("pagination: next_offset when rows remain", r["page"].get("next_offset") == 1 and
              any("offset" in n for n in r["notes"]), r["page"])
        e, r = tool(c, "get_perf_results", {"limit": 1, "offset": 1})
        ck.eq("pagination: second page", r["symbols"][0]["symbol"], "leaf_b")
        res = c.read_json("profiling://perf/results")
        ck.ok("results resource: top symbols", res["symbols"][0]["symbol"] == "leaf_a", res)
        st = c.read_json("profiling://perf/status")
        ck.ok("status resource: stopped, with capabilities and cache",
              st["state"] == "stopped" and "capabilities" in st and "symbol_cache" in st, st)
        e, r = tool(c, "stop_perf_profiling")
        ck.ok("stop after auto-stop: fine, says nothing was open",
              not e and "note_stop" in r, r)

        # ---- cancelling a waiting start stops the profile
        req = {"jsonrpc": "2.0", "id": 900, "method": "tools/call",
               "params": {"name": "start_perf_profiling",
                          "arguments": {"pid": w.pid, "duration_secs": 30, "wait": True}}}
        c.send(req)
        ck.ok("waiting start holds perf fds", wait_until(lambda: perf_fds(dpid) > 0, 5))
        time.sleep(0.5)
        c.notify("notifications/cancelled", {"requestId": 900, "reason": "test"})
        st = None
        for _ in range(50):
            st = c.read_json("profiling://perf/status")
            if st["state"] == "stopped":
                break
            time.sleep(0.1)
        ck.ok("cancelled wait stopped the profile", st["state"] == "stopped" and
              "cancel" in st["stopped_because"], st.get("stopped_because"))
        ck.ok("no answer to the cancelled request",
              not any(m.get("id") == 900 for m in c.messages), "")
        ck.eq("every perf fd closed after cancel", perf_fds(dpid), 0)

        # ---- max_samples
        e, b = tool(c, "start_perf_profiling",
                    {"pid": w.pid, "frequency_hz": 999, "max_samples": 40})
        ck.ok("start with max_samples", not e, b)
        ok = wait_until(lambda: c.read_json("profiling://perf/status")["state"] == "stopped", 10)
        st = c.read_json("profiling://perf/status")
        ck.ok("auto-stop at max_samples", ok and "max_samples" in st["stopped_because"], st)
        ck.eq("exactly max_samples kept", st["samples"] + st.get("dropped_samples", 0), 40)
        ck.eq("every perf fd closed at max_samples", perf_fds(dpid), 0)
        w.kill()

        # ---- a process that exits, and whose binary is then deleted
        for unwind in ("auto", "fp"):
            exe = os.path.join(tmp, "doomed-" + unwind)
            shutil.copy(workload("nofp"), exe)
            w = Workload(exe, 1.5)
            e, b = tool(c, "start_perf_profiling",
                        {"pid": w.pid, "frequency_hz": 499, "duration_secs": 20, "wait": True,
                         "unwind": unwind}, timeout=30)
            w.wait()
            ck.ok(unwind + ": stops when the process exits",
                  not e and "exited" in b.get("stopped_because", ""), b)
            os.unlink(exe)
            e, b = tool(c, "get_perf_results", {"include_stacks": True, "limit": 3})
            s = symbols(b)
            ck.ok(unwind + ": exited process with deleted binary still symbolised",
                  "leaf_a" in s and s["leaf_a"]["module"] == os.path.basename(exe), list(s))
            ck.eq(unwind + ": no perf fd left", perf_fds(dpid), 0)

    # ---- a small answer budget: cut, with a note saying how to continue
    with daemon("[plugin perf_profiler]\nresult_bytes = 4096\n") as c:
        w = Workload(workload("nofp"), 4)
        e, b = tool(c, "start_perf_profiling",
                    {"pid": w.pid, "frequency_hz": 999, "duration_secs": 1.5, "wait": True})
        e, b = tool(c, "get_perf_results", {"limit": 500, "include_stacks": True})
        size = len(json.dumps(b))
        ck.ok("answer within the configured budget (+ summary)", size < 4096 + 1500, size)
        if b["page"]["returned"] < b["page"]["total"]:
            ck.ok("a cut answer says how to get the rest",
                  any("next_offset" in n for n in b["notes"]) and "next_offset" in b["page"], b)
            e, b = tool(c, "get_perf_results", {"offset": b["page"]["next_offset"],
                                                "limit": 500})
            ck.ok("the next page continues", not e and b["page"]["offset"] > 0, b.get("page"))
        else:
            # without kernel frames (unprivileged) every row may fit
            ck.ok("an uncut answer is complete and says nothing was cut",
                  "next_offset" not in b["page"] and not any("cut" in n for n in b["notes"]), b)
        # shutdown while profiling: every fd goes, the daemon exits cleanly
        # (a workload of its own: the one above may have ended on a slow machine)
        w.kill()
        w = Workload(workload("nofp"), 60)
        e, b = tool(c, "start_perf_profiling", {"pid": w.pid})
        ck.ok("profiling at shutdown", not e and perf_fds(c.proc.pid) > 0, b)
        rc = c.close(timeout=10)
        ck.eq("daemon exits cleanly while profiling", rc, 0)
        w.kill()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
ck.done()
