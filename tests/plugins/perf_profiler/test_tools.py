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
import sys
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
        ck.eq(st["state"], "idle", "status: idle at start")
        e, b = tool(c, "get_perf_results")
        ck.check(e and "start_perf_profiling" in err_text(b),
                 f"results before any profile: error saying what to do: {b}")
        e, b = tool(c, "stop_perf_profiling")
        ck.check(e, f"stop before any profile: error: {b}")

        # ---- bad input
        e, b = tool(c, "start_perf_profiling", {"event": "hw:bogus"})
        ck.check(e and "unknown event" in b and "sw:cpu-clock" in b and "tp:" in b,
                 f"unknown event: error listing the valid events: {b}")
        e, b = tool(c, "start_perf_profiling", {"event": "tp:nosuch:thing"})
        ck.check(e and "tracepoint" in b, f"unknown tracepoint: error: {b}")
        e, b = tool(c, "start_perf_profiling", {"frequency_hz": 0})
        ck.check(e and "1.." in b and "Hz" in b, f"frequency 0: error with the valid range: {b}")
        e, b = tool(c, "start_perf_profiling", {"frequency_hz": 10**9})
        ck.check(e and "1.." in b, f"absurd frequency: error with the valid range: {b}")
        e, b = tool(c, "start_perf_profiling", {"pid": 2**22 + 12345})
        ck.check(e and "does not exist" in b, f"pid that does not exist: error: {b}")
        e, b = tool(c, "start_perf_profiling", {"pid": 0})
        ck.check(e and "pid" in b, f"pid 0: error: {b}")
        e, b = tool(c, "start_perf_profiling", {"cpu": 4096})
        ck.check(e and "valid" in b, f"cpu not online: error listing valid CPUs: {b}")
        e, b = tool(c, "start_perf_profiling", {"duration_secs": 0})
        ck.check(e and "duration_secs" in b, f"duration 0: error with the range: {b}")
        e, b = tool(c, "start_perf_profiling", {"wait": True})
        ck.check(e and "duration_secs" in b, f"wait without duration: error: {b}")
        e, b = tool(c, "start_perf_profiling", {"unwind": "magic"})
        ck.check(e and "auto" in b and "fp" in b,
                 f"unknown unwind: error listing valid values: {b}")
        e, b = tool(c, "get_perf_results", {"group_by": "thread"})
        ck.check(e and "symbol" in b and "process" in b,
                 f"unknown group_by: error listing valid values: {b}")
        ck.eq(perf_fds(dpid), 0, "no perf fd open after refused starts")

        # ---- scxtop's spellings, as the seed writes them: "start_perf_profiling
        # with freq=99, duration_secs=10", tracepoint:sched:sched_switch
        e, b = tool(c, "start_perf_profiling", {"freq": 99, "duration_secs": 10})
        ck.check(not e and b["state"] == "running" and b.get("frequency_hz") == 99,
                 f"freq=99 is frequency_hz 99: {b}")
        e, _ = tool(c, "stop_perf_profiling")
        ck.check(not e, "stopped")
        e, b = tool(c, "start_perf_profiling", {"freq": 99, "frequency_hz": 199})
        ck.check(e and "disagree" in b, f"freq and frequency_hz that differ: error: {b}")
        e, b = tool(c, "start_perf_profiling", {"freq": 0})
        ck.check(e and "freq must be 1.." in b, f"freq 0: error naming freq: {b}")
        e, b = tool(c, "start_perf_profiling", {"event": "hw:cpu-clock", "duration_secs": 10})
        ck.check(not e and b.get("event") == "sw:cpu-clock",
                 f"hw:cpu-clock (scxtop's docs) is the software clock: {b}")
        tool(c, "stop_perf_profiling")
        e, b = tool(c, "start_perf_profiling",
                    {"event": "tracepoint:sched:sched_switch", "duration_secs": 10})
        if e:
            # unprivileged, perf may refuse a tracepoint: but the name was understood
            ck.check("must be SUBSYSTEM:NAME" not in b and "unknown event" not in b,
                     f"tracepoint:sched:sched_switch is understood: {b}")
        else:
            ck.eq(b.get("event"), "tp:sched:sched_switch", "tracepoint:SUBSYS:NAME is tp:")
            tool(c, "stop_perf_profiling")
        ck.eq(perf_fds(dpid), 0, "no perf fd open after the scxtop spellings")

        # ---- a timed profile we wait for, with progress
        w = Workload(workload("nofp"), 8)
        e, b = tool(c, "start_perf_profiling",
                    {"pid": str(w.pid), "frequency_hz": "199", "duration_secs": 2.5},)
        ck.check(not e and b["state"] == "running", f"start with numeric strings: {b}")
        ck.check(b.get("event", "").startswith(("hw:", "sw:")) and
                 (b["event"] == "hw:cycles" or "note" in b),
                 f"start reports the event (and the fallback, if any): {b}")
        ck.check(perf_fds(dpid) > 0, f"perf fds open while running: {perf_fds(dpid)}")
        e, b = tool(c, "start_perf_profiling", {"pid": w.pid})
        ck.check(e and "already running" in b, f"starting twice: error saying a profile runs: {b}")
        n0 = len(c.messages)
        e, b = tool(c, "get_perf_results", {"wait": True, "limit": 5},
                    meta={"progressToken": "tok"}, timeout=15)
        prog = [m["params"] for m in c.messages[n0:]
                if m.get("method") == "notifications/progress"]
        ck.check(not e and b["state"] == "stopped" and b["stopped_because"] == "duration reached",
                 f"waiting call answered after the duration: {b}")
        ck.check(len(prog) >= 1 and
                 all(p["progressToken"] == "tok" and p["total"] == 2.5 for p in prog),
                 f"progress notifications while waiting: {prog}")
        ck.check(all(a["progress"] < b_["progress"]
                      for a, b_ in zip(prog, prog[1:])), f"progress increases: {prog}")
        ck.eq(perf_fds(dpid), 0, "every perf fd closed at auto-stop")
        syms = symbols(b)
        ck.check([s["symbol"] for s in b["symbols"][:2]] == ["leaf_a", "leaf_b"],
                 f'leaf_a and leaf_b are the top symbols: {b["symbols"][:3]}')

        # ---- folded output, other groupings, the resources
        lines = texts(c, "get_perf_results", {"format": "folded", "limit": 500})
        folded = [x for x in lines[0].splitlines() if x]
        ck.check(folded and all(
                 ";" in x and x.rsplit(" ", 1)[1].isdigit() for x in folded),
                 f"folded: 'a;b;c N' lines: {lines[0][:300]}")
        ck.check(sum(int(x.rsplit(" ", 1)[1]) for x in folded) == b["samples"],
                 f'folded: counts add up to the samples: {b["samples"]}')
        ck.check("complete" in lines[-1],
                 f"folded: a note says whether it is complete: {lines[-1]}")
        ck.check(any(x.split(" ")[0].endswith("caller_a;leaf_a") for x in folded),
                 f"folded: callers beneath the leaves: {folded[:2]}")
        for g, key in (("stack", "stacks"), ("process", "processes"), ("cpu", "cpus")):
            e, r = tool(c, "get_perf_results", {"group_by": g})
            ck.check(not e and r.get(key), f"group_by {g}: {r}")
        e, r = tool(c, "get_perf_results", {"group_by": "process"})
        ck.check(r["processes"][0]["pid"] == w.pid and
                 r["processes"][0]["top_symbols"][0]["symbol"] == "leaf_a",
                 f'process row names the workload: {r["processes"][:1]}')
        e, r = tool(c, "get_perf_results", {"limit": 1})
        ck.check(r["page"].get("next_offset") == 1 and
                 any("offset" in n for n in r["notes"]),
                 f'pagination: next_offset when rows remain: {r["page"]}')
        e, r = tool(c, "get_perf_results", {"limit": 1, "offset": 1})
        ck.eq(r["symbols"][0]["symbol"], "leaf_b", "pagination: second page")
        res = c.read_json("profiling://perf/results")
        ck.check(res["symbols"][0]["symbol"] == "leaf_a", f"results resource: top symbols: {res}")
        st = c.read_json("profiling://perf/status")
        ck.check(st["state"] == "stopped" and "capabilities" in st and "symbol_cache" in st,
                 f"status resource: stopped, with capabilities and cache: {st}")
        e, r = tool(c, "stop_perf_profiling")
        ck.check(not e and "note_stop" in r,
                 f"stop after auto-stop: fine, says nothing was open: {r}")

        # ---- cancelling a waiting start stops the profile
        req = {"jsonrpc": "2.0", "id": 900, "method": "tools/call",
               "params": {"name": "start_perf_profiling",
                          "arguments": {"pid": w.pid, "duration_secs": 30, "wait": True}}}
        c.send(req)
        ck.check(wait_until(lambda: perf_fds(dpid) > 0, 5), "waiting start holds perf fds")
        time.sleep(0.5)
        c.notify("notifications/cancelled", {"requestId": 900, "reason": "test"})
        st = None
        for _ in range(50):
            st = c.read_json("profiling://perf/status")
            if st["state"] == "stopped":
                break
            time.sleep(0.1)
        ck.check(st["state"] == "stopped" and
                 "cancel" in st["stopped_because"],
                 f'cancelled wait stopped the profile: {st.get("stopped_because")}')
        ck.check(not any(m.get("id") == 900 for m in c.messages),
                 "no answer to the cancelled request")
        ck.eq(perf_fds(dpid), 0, "every perf fd closed after cancel")

        # ---- max_samples
        e, b = tool(c, "start_perf_profiling",
                    {"pid": w.pid, "frequency_hz": 999, "max_samples": 40})
        ck.check(not e, f"start with max_samples: {b}")
        ok = wait_until(lambda: c.read_json("profiling://perf/status")["state"] == "stopped", 10)
        st = c.read_json("profiling://perf/status")
        ck.check(ok and "max_samples" in st["stopped_because"], f"auto-stop at max_samples: {st}")
        ck.eq(st["samples"] + st.get("dropped_samples", 0), 40, "exactly max_samples kept")
        ck.eq(perf_fds(dpid), 0, "every perf fd closed at max_samples")
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
            ck.check(not e and "exited" in b.get("stopped_because", ""),
                     f"{unwind}: stops when the process exits: {b}")
            os.unlink(exe)
            e, b = tool(c, "get_perf_results", {"include_stacks": True, "limit": 3})
            s = symbols(b)
            ck.check("leaf_a" in s and s["leaf_a"]["module"] == os.path.basename(exe),
                     f"{unwind}: exited process with deleted binary still symbolised: {list(s)}")
            ck.eq(perf_fds(dpid), 0, unwind + ": no perf fd left")

    # ---- a small answer budget: cut, with a note saying how to continue
    with daemon("[plugin perf_profiler]\nresult_bytes = 4096\n") as c:
        w = Workload(workload("nofp"), 4)
        e, b = tool(c, "start_perf_profiling",
                    {"pid": w.pid, "frequency_hz": 999, "duration_secs": 1.5, "wait": True})
        e, b = tool(c, "get_perf_results", {"limit": 500, "include_stacks": True})
        size = len(json.dumps(b))
        ck.check(size < 4096 + 1500, f"answer within the configured budget (+ summary): {size}")
        if b["page"]["returned"] < b["page"]["total"]:
            ck.check(any("next_offset" in n for n in b["notes"]) and "next_offset" in b["page"],
                     f"a cut answer says how to get the rest: {b}")
            e, b = tool(c, "get_perf_results", {"offset": b["page"]["next_offset"],
                                                "limit": 500})
            ck.check(not e and b["page"]["offset"] > 0, f'the next page continues: {b.get("page")}')
        else:
            # without kernel frames (unprivileged) every row may fit
            ck.check("next_offset" not in b["page"] and not any("cut" in n for n in b["notes"]),
                     f"an uncut answer is complete and says nothing was cut: {b}")
        w.kill()

    # ---- the client's max_result_bytes below the profiler's own budget: a
    # shorter page with its next_offset, never an answer that fails
    with daemon("[core]\nmax_result_bytes = 4096\n") as c:
        w = Workload(workload("nofp"), 4)
        e, b = tool(c, "start_perf_profiling",
                    {"pid": w.pid, "frequency_hz": 999, "duration_secs": 1.5, "wait": True})
        for group in ("symbol", "stack", "process"):
            e, b = tool(c, "get_perf_results", {"limit": 500, "include_stacks": True,
                                                "group_by": group})
            ck.check(not e and "page" in b, f"{group}: a page under 4096 bytes: {b}")
            if e or "page" not in b:
                continue
            if b["page"]["returned"] < b["page"]["total"]:
                ck.check("next_offset" in b["page"] and
                         any("cut" in n for n in b["notes"]),
                         f"{group}: the cut page says how to go on: {b['page']}")
        # shutdown while profiling: every fd goes, the daemon exits cleanly
        # (a workload of its own: the one above may have ended on a slow machine)
        w.kill()
        w = Workload(workload("nofp"), 60)
        e, b = tool(c, "start_perf_profiling", {"pid": w.pid})
        ck.check(not e and perf_fds(c.proc.pid) > 0, f"profiling at shutdown: {b}")
        rc = c.close(timeout=10)
        ck.eq(rc, 0, "daemon exits cleanly while profiling")
        w.kill()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(ck.done())
