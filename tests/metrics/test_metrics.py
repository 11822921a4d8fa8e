#!/usr/bin/env python3
"""Metric history and watches, end to end: the real daemon over pipes with the
synth test plugin (tests/metrics/synth_plugin.c) as a metric source whose
every published value is known.

The daemon runs with 50 ms history steps (fine tier 40 steps = 2 s, coarse
steps of 5 = 250 ms, 400 of them) so that minutes of behaviour take seconds.

argv: the synth plugin .so (default BUILD/tests/metrics/synth.so), then
optionally test_* names to run.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test as T  # noqa: E402
from smcp_test import Checker  # noqa: E402
import synthtest  # noqa: E402
from synthtest import STEP, call, wait_collects  # noqa: E402

C = Checker("metrics/history")
FAST = synthtest.fast_config(40)
TOOLS = {"query_history", "what_changed", "watch_create", "watch_delete", "watch_status"}


def daemon(extra="", **kw):
    cfg = T.write_config(FAST + extra)
    return T.CheckedDaemon(C, args=["--config", cfg, "--enable", "synth"],
                           plugin_dir_=synthtest.plugin_dir(), **kw)


def error_text(d, name, args):
    r = T.result(d.request("tools/call", {"name": name, "arguments": args}))
    return r["content"][0]["text"] if r.get("isError") else None


def wait_steps(n):
    time.sleep(n * STEP)


@C.case
def test_surface():
    with daemon() as d:
        tools = {t["name"] for t in T.result(d.request("tools/list"))["tools"]}
        C.check(TOOLS <= tools, f"history tools listed: {sorted(TOOLS - tools)} missing")
        C.check(len(TOOLS) <= 5, "at most 5 tools for history and watches")
        res = {r["uri"] for r in T.result(d.request("resources/list"))["resources"]}
        C.check({"metrics://catalog", "watches://breaches"} <= res, f"resources: {res}")
        tpl = {r["uriTemplate"] for r in
               T.result(d.request("resources/templates/list"))["resourceTemplates"]}
        C.check("history://{metric}" in tpl, f"templates: {tpl}")
        wait_steps(4)
        cat = call(d, "query_history")
        names = {m["name"] for m in cat["metrics"]}
        C.eq(names, {"synth_gauge_pct", "synth_events_total", "synth_latency_ns",
                     "synth_proc_latency_ns", "scheduler_info", "cpu_busy_pct"}, "catalog")
        C.check(cat["store"]["bytes_used"] <= cat["store"]["bytes_max"], "budget respected")
        glob = call(d, "query_history", {"metric": "synth_*"})
        C.eq(len(glob["metrics"]), 4, "a glob narrows the catalog")
        # the monitor prompt names only tools, resources and metrics that exist
        p = T.result(d.request("prompts/get", {"name": "monitor", "arguments": {}}))
        text = p["messages"][0]["content"]["text"]
        for t in ["watch_create", "watch_status", "what_changed", "query_history",
                  "watch_delete"]:
            C.check(t in text and t in tools, f"prompt names {t}")
        C.check("synth_latency_ns" in text, "prompt names a latency metric that exists")
        comp = T.result(d.request("completion/complete", {
            "ref": {"type": "ref/resource", "uri": "history://{metric}"},
            "argument": {"name": "metric", "value": "synth_l"}}))
        C.eq(comp["completion"]["values"], ["synth_latency_ns"], "template completion")
        r = T.result(d.request("resources/read", {"uri": "history://synth_latency_ns"}))
        C.check('"synth_latency_ns"' in r["contents"][0]["text"], "history:// read")
        r = d.request("resources/read", {"uri": "history://no_such_metric"})
        C.check(T.is_error(r), "unknown metric in history:// is an error")


def hist_total(d, args):
    q = call(d, "query_history", dict({"metric": "synth_latency_ns", "group_by": "all",
                                       "start": "-1h"}, **args))
    return q, (q["series"][0]["summary"]["count"] if q["series"] else 0)


@C.case
def test_hist_totals_survive_downsampling():
    for delta in (False, True):
        with daemon() as d:
            call(d, "synth_set", {"hist_count": 7, "hist_bucket": 3, "ncpu": 2,
                                  "delta": delta})
            wait_collects(d, 100)  # 5 s: far past the 2 s fine tier
            st = call(d, "synth_set", {"hist_count": 0})
            wait_collects(d, 25)  # the fine tier's last second is empty now
            published = call(d, "synth_set")["hist_published"]
            C.check(published >= 100 * 7 * 2, "published")
            q, total = hist_total(d, {})
            C.eq(q["range"]["tier"], "coarse", "an hour back reads the coarse tier")
            C.eq(total, published, f"coarse total equals everything published (delta={delta})")
            s = q["series"][0]["summary"]
            C.check(4000 <= s["p50"] < 8000 and 4000 <= s["p99"] <= 8000,
                    f"percentiles stay in bucket 3 [4us, 8us): {s}")
            # points at the coarse step add up to the same total
            q2 = call(d, "query_history", {"metric": "synth_latency_ns", "group_by": "all",
                                           "start": "-1h", "step": "0.25s",
                                           "stats": "count"})
            C.eq(sum(p[1] for p in q2["series"][0]["points"]), published,
                 "per-step counts sum to the total")
            # one cpu is half of it
            _, half = hist_total(d, {"labels": "cpu=1"})
            C.eq(half * 2, published, "a label filter selects one cpu")
            g = call(d, "query_history", {"metric": "synth_latency_ns", "group_by": "cpu",
                                          "start": "-1h"})
            C.eq(sorted(x["labels"]["cpu"] for x in g["series"]), ["0", "1"], "group_by cpu")
            # the fine tier holds the last 2 s: nothing was published then
            f = call(d, "query_history", {"metric": "synth_latency_ns", "group_by": "all",
                                          "start": "-1s"})
            C.eq(f["range"]["tier"], "fine", "the last second reads the fine tier")
            C.eq(f["series"][0]["summary"]["count"], 0, "nothing since publishing stopped")
            del st


@C.case
def test_counter_rates():
    with daemon() as d:
        call(d, "synth_set", {"counter_per_tick": 3})
        wait_collects(d, 30)
        q = call(d, "query_history", {"metric": "synth_events_total", "start": "-1s"})
        s = q["series"][0]["summary"]
        C.check(abs(s["rate"] - 3 / STEP) < 1e-6, f"rate per second: {s}")
        C.check(abs(s["peak_rate"] - 3 / STEP) < 1e-6, f"peak: {s}")


def events(d, cursor=0):
    st = call(d, "watch_status", {"cursor": cursor, "limit": 50})
    return st, st["events"]


@C.case
def test_watch_breach_in_event_stream():
    """A model that only reads events://stream (or poll_events) hears of a
    breach and its clear too, with the cursor of the full event."""
    with daemon() as d:
        w = call(d, "watch_create", {"metric": "synth_gauge_pct", "labels": "cpu=0",
                                     "condition": "value > 5", "for_secs": 0.1,
                                     "clear_secs": 0.1, "name": "gauge-high"})
        wid = w["watch"][0]["id"]
        wait_collects(d, 4)
        call(d, "synth_set", {"gauge": 10, "pulse_ticks": 10, "gauge_after": 1})
        wait_collects(d, 30)
        ev = call(d, "poll_events", {"type": "watch."})["events"]
        C.eq([e["type"] for e in ev], ["watch.breach", "watch.clear"], "breach and clear")
        if len(ev) == 2:
            C.eq(ev[0]["watch_id"], wid, "the breach names its watch")
            C.eq(ev[0]["name"], "gauge-high", "and its name")
            C.check(ev[0]["metric"] == "synth_gauge_pct" and ev[0]["condition"],
                    f"metric and condition: {ev[0]}")
            full = call(d, "watch_status", {"cursor": ev[0]["watch_status_cursor"]})["events"]
            C.check(full and full[0]["kind"] == "breach" and "context" in full[0],
                    f"watch_status_cursor leads to the full breach: {full[:1]}")


@C.case
def test_watch_fires_once_per_episode():
    with daemon() as d:
        d.request("resources/subscribe", {"uri": "watches://breaches"})
        w = call(d, "watch_create", {"metric": "synth_gauge_pct", "labels": "cpu=0",
                                     "condition": "value > 5", "for_secs": 0.5,
                                     "clear_secs": 0.25, "hysteresis_pct": 10,
                                     "name": "gauge-high"})
        wid = w["watch"][0]["id"]
        wait_collects(d, 4)
        # a spike shorter than for_secs (10 steps) fires nothing; steps are
        # wall-clock time, so 2 ticks leave room for 400 ms of stalled ticks
        call(d, "synth_set", {"gauge": 10, "pulse_ticks": 2, "gauge_after": 1})
        wait_collects(d, 20)
        st, ev = events(d)
        C.eq(ev, [], "a 2-step spike does not fire a 10-step watch")
        C.eq(st["watches"][0]["state"], "ok", "state ok")
        # held long enough: one breach, then one clear
        call(d, "synth_set", {"gauge": 10, "pulse_ticks": 30, "gauge_after": 1})
        wait_collects(d, 50)
        st, ev = events(d)
        C.eq([e["kind"] for e in ev], ["breach", "clear"], "one breach, one clear")
        b = ev[0]
        C.eq(b["watch_id"], wid, "breach names its watch")
        # held_secs counts steps; late ticks on a loaded machine can add a few
        C.check(0.5 <= b["held_secs"] <= 1.5, f"fired once for_secs had passed: {b}")
        C.eq(b["value"], 10, "value at breach")
        ctx = b["context"]
        C.eq(ctx["scheduler_info"]["series"][0]["labels"], {"class": "ext", "ops": "synth_sched"},
             "context: current scheduler")
        C.eq(ctx["cpu_busy_pct"]["series"][0]["value"], 10, "context: CPU load")
        C.check(1 <= ev[1]["breach_secs"] and ev[1]["peak"] == 10, f"clear: {ev[1]}")
        cursor = st["next_cursor"]
        # hysteresis: back below 5 but not below 4.5 does not clear
        call(d, "synth_set", {"gauge": 10})
        wait_collects(d, 15)
        call(d, "synth_set", {"gauge": 4.8})
        wait_collects(d, 15)
        st, ev = events(d, cursor)
        C.eq([e["kind"] for e in ev], ["breach"], "second episode fired, not yet cleared")
        C.eq(st["watches"][0]["state"], "firing", "4.8 is inside the 10% hysteresis")
        call(d, "synth_set", {"gauge": 7})
        wait_collects(d, 10)
        call(d, "synth_set", {"gauge": 1})
        wait_collects(d, 10)
        st, ev = events(d, cursor)
        C.eq([e["kind"] for e in ev], ["breach", "clear"],
             "going up again inside an episode does not fire again; clears below 4.5")
        C.eq(st["breaches_total"], 2, "two episodes")
        C.eq(st["watches"][0]["breaches"], 2, "counted on the watch")
        # delivery: warning log lines and resource updates, one per breach
        d.drain(0.3)
        logs = [m["params"] for m in d.messages if m.get("method") == "notifications/message"
                and m["params"].get("logger") == "watch"]
        C.eq([x["level"] for x in logs], ["warning", "notice", "warning", "notice"],
             "breaches as warning messages, clears as notices")
        C.check("gauge-high" in logs[0]["data"] and "synth_gauge_pct" in logs[0]["data"],
                f"message names the watch: {logs[0]}")
        upd = [m for m in d.messages if m.get("method") == "notifications/resources/updated"
               and m["params"]["uri"] == "watches://breaches"]
        C.eq(len(upd), 4, "an update notification per breach and clear")
        r = T.result(d.request("resources/read", {"uri": "watches://breaches"}))
        C.check('"breach"' in r["contents"][0]["text"], "watches://breaches holds them")
        # cursors: nothing new, and a cursor past the end is refused
        st, ev = events(d, st["next_cursor"])
        C.eq(ev, [], "nothing after the cursor")
        C.check(error_text(d, "watch_status", {"cursor": 999}) is not None, "cursor ahead")
        # delete
        C.eq(call(d, "watch_delete", {"id": wid})["status"], "deleted", "deleted")
        C.check(error_text(d, "watch_delete", {"id": wid}) is not None, "gone")


@C.case
def test_watch_histogram_p99():
    with daemon() as d:
        call(d, "watch_create", {"metric": "synth_latency_ns", "condition": "p99 > 2ms",
                                 "for_secs": 0.2, "window_secs": 0.25, "clear_secs": 0.2})
        call(d, "synth_set", {"hist_count": 50, "hist_bucket": 3, "procs": 3})
        wait_collects(d, 20)
        C.eq(events(d)[1], [], "p99 of 4-8 us is under 2 ms")
        call(d, "synth_set", {"hist_bucket": 13})  # [4.096 ms, 8.192 ms)
        wait_collects(d, 20)
        st, ev = events(d)
        C.eq([e["kind"] for e in ev], ["breach"], "p99 in the 4-8 ms bucket fires")
        C.check(4.096e6 <= ev[0]["value"] <= 8.192e6, f"value: {ev[0]}")
        top = ev[0]["context"]["synth_proc_latency_ns"]["series"]
        C.eq([s["labels"]["pid"] for s in top], ["1002", "1001", "1000"],
             "context: processes by latency, busiest first")
        call(d, "synth_set", {"hist_count": 0})
        wait_collects(d, 20)
        C.eq([e["kind"] for e in events(d)[1]], ["breach", "clear"],
             "no samples at all clears a latency watch")


@C.case
def test_watch_validation():
    with daemon("max_watches = 2\n") as d:
        wait_steps(3)
        cases = [
            ({"metric": "nope", "condition": "value > 1"}, "no metric"),
            ({"metric": "synth_gauge_pct", "condition": "p99 > 1"}, "gauge"),
            ({"metric": "synth_gauge_pct", "condition": "value >> 1"}, "operator"),
            ({"metric": "synth_gauge_pct", "condition": "value > 2ms"}, "unit"),
            ({"metric": "synth_latency_ns", "condition": "p99 > 2%"}, "percentage"),
            ({"metric": "synth_gauge_pct", "condition": "value > 1", "labels": "gpu=1"},
             "no label"),
        ]
        for args, want in cases:
            t = error_text(d, "watch_create", args)
            C.check(t is not None and want in t, f"{args}: {t}")
        for _ in range(2):
            call(d, "watch_create", {"metric": "synth_gauge_pct", "condition": "value > 1"})
        t = error_text(d, "watch_create", {"metric": "synth_gauge_pct",
                                           "condition": "value > 1"})
        C.check(t is not None and "max_watches" in t, f"watch limit: {t}")
        # numbers as strings are accepted (models send them)
        t = error_text(d, "watch_delete", {"id": "1"})
        C.check(t is None, "id as a numeric string")


@C.case
def test_top_n_and_series_limit():
    with daemon("metrics_top_n = 5\nmetrics_max_series = 16\n") as d:
        call(d, "synth_set", {"procs": 30})
        wait_collects(d, 10)
        cat = call(d, "query_history")
        m = {x["name"]: x for x in cat["metrics"]}
        C.eq(m["synth_proc_latency_ns"]["series"], 5, "top-N keeps 5 processes")
        q = call(d, "query_history", {"metric": "synth_proc_latency_ns", "start": "-0.5s",
                                      "limit": 50})
        pids = sorted(int(s["labels"]["pid"]) for s in q["series"])
        C.eq(pids, [1025, 1026, 1027, 1028, 1029], "the 5 most active are kept")
        C.check(cat["store"]["series"] <= 16, f"series limit: {cat['store']}")
        call(d, "synth_set", {"ncpu": 8})
        wait_collects(d, 3)
        cat = call(d, "query_history")
        C.check(cat["store"]["series"] <= 16, "series limit holds")
        m = {x["name"]: x for x in cat["metrics"]}
        C.check(m["synth_latency_ns"].get("refused_publishes", 0) +
                m["synth_gauge_pct"].get("refused_publishes", 0) > 0,
                "refusals are counted in the catalog")


@C.case
def test_what_changed_ranks_by_significance():
    # the issue's case: a share of CPU time from 0 to 0.04 % beside a p99
    # run-queue latency from ~58 us to ~12 ms (buckets 32-64 us, 8-16 ms)
    with daemon() as d:
        call(d, "synth_set", {"ncpu": 1, "gauge": 0, "hist_count": 50, "hist_bucket": 6})
        wait_collects(d, 50)
        call(d, "synth_set", {"gauge": 0.04, "hist_bucket": 13})
        wait_collects(d, 10)
        # after reaches back past the change: before holds only the old latency
        r = call(d, "what_changed", {"window": "0.8s", "baseline": "1.2s"})
        names = [c["metric"] for c in r["changes"]]
        C.check(names and names[0] == "synth_latency_ns" and r["changes"][0]["stat"] == "p99",
                f"the p99 that went from microseconds to milliseconds ranks first: "
                f"{r['changes'][:4]}")
        small = [c for c in r["changes"] if c["metric"] in ("synth_gauge_pct", "cpu_busy_pct")]
        C.check(all(c["significance"] < 0.1 for c in small),
                f"0 -> 0.04 % is barely significant: {small}")


@C.case
def test_what_changed():
    with daemon() as d:
        call(d, "synth_set", {"gauge": 5, "counter_per_tick": 1})
        wait_collects(d, 50)
        call(d, "synth_set", {"counter_per_tick": 40})
        wait_collects(d, 10)
        r = call(d, "what_changed", {"window": "0.4s", "baseline": "2s"})
        top = r["changes"][0]
        C.eq(top["metric"], "synth_events_total", f"the counter moved most: {r['changes'][:3]}")
        # the before window may catch a few steps of the new rate
        C.check(20 <= top["before"] < 400 and abs(top["after"] - 800) < 1e-6,
                f"before/after rates: {top}")
        C.check(all(c["metric"] != "synth_gauge_pct" for c in r["changes"]),
                "an unchanged gauge is not listed")
        C.check(r["before"]["end"] <= r["after"]["start"],
                f"the windows do not overlap: {r['before']} {r['after']}")
        C.check(r["history"]["available_s"] > 0 and "note" not in r["history"],
                f"history that covers both windows: {r['history']}")
        # more than there is: answered with what exists, and it says so
        r = call(d, "what_changed", {"window": "0.4s", "baseline": "1h"})
        C.check("shortened" in r["history"].get("note", "") and
                r["before"]["seconds"] < 3600 and r["before"]["end"] <= r["after"]["start"],
                f"a baseline longer than history: {r['history']} {r['before']}")
        r = call(d, "what_changed", {"window": "0.4s", "baseline": "2s", "metric": "synth_g*"})
        C.eq(r["changes"], [], "a glob narrows what is compared")


@C.case
def test_time_arguments():
    with daemon() as d:
        wait_steps(4)
        now = time.time()
        for start in ["-10s", "10s ago", time.strftime("%H:%M", time.localtime(now - 60)),
                      int(now - 30), str(int(now - 30)),
                      time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 30))]:
            r = call(d, "query_history", {"metric": "cpu_busy_pct", "start": start})
            C.check("series" in r, f"start {start!r} accepted")
        for bad in ["yesterday-ish", "900", "25:99"]:
            t = error_text(d, "query_history", {"metric": "cpu_busy_pct", "start": bad})
            C.check(t is not None and "cannot read time" in t, f"{bad!r}: {t}")
        t = error_text(d, "query_history", {"metric": "cpu_busy", "start": "-1m"})
        C.check(t is not None and "cpu_busy_pct" in t, f"unknown metric suggests: {t}")
        t = error_text(d, "query_history", {"metric": "synth_gauge_pct", "group_by": "gpu"})
        C.check(t is not None and "gpu" in t, f"bad group_by: {t}")


@C.case
def test_failed_plugin_leaves_nothing():
    with daemon("[plugin synth]\nfail_init = true\n") as d:
        wait_steps(5)
        cat = call(d, "query_history")
        C.eq(cat["metrics"], [], "a plugin that failed init leaves no metrics")
        C.eq(cat["store"]["series"], 0, "and no series")
        C.check(d.proc.poll() is None, "daemon alive (no collect into an unloaded plugin)")


if __name__ == "__main__":
    C.main()
