#!/usr/bin/env python3
"""History and watches across restarts (core/persist*.c), end to end: the real
daemon with --state-dir and the synth test plugin (tests/metrics/synth_plugin.c)
as a metric source whose published values are known.

- SIGTERM: the state is saved; restarted, query_history shows the old samples,
  the time the daemon was down as a gap (no points, no value in between), the
  counters without a spike, every histogram observation once, and the watch.
- SIGKILL after a periodic save: the restart restores up to that save and
  nothing after it; a writer's temporary file does not survive.
- A corrupt state file is set aside with a log line and the start goes on.
- A second daemon on the same directory runs without persistence and says
  which pid holds it.
- Without --state-dir (or [core] state_dir) the stdio server keeps nothing.
- `schedmcp serve --state-dir`: the same across a restart of the service,
  through sessions on its socket.

Runs as root (the daemon then writes as the schedmcp account, as it would in
service) or as any user. argv: the synth plugin .so, then optionally test_*
names.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mcp_client  # noqa: E402
import smcp_test as T  # noqa: E402
from smcp_test import Checker  # noqa: E402
import synthtest  # noqa: E402
from synthtest import STEP, call  # noqa: E402

C = Checker("metrics/persist")
# fine tier 30 s, coarse tier 100 s: a restart fits in both
FAST = synthtest.fast_config(600)


def state_root():
    """A private parent for state directories (removed at exit)."""
    return T.temp_dir("smcp-state-")


def daemon(state_dir, extra=""):
    cfg = T.write_config(FAST + extra)
    args = ["--config", cfg, "--enable", "synth", "--log-level", "debug"]
    if state_dir:
        args += ["--state-dir", state_dir]
    return T.CheckedDaemon(C, args=args, plugin_dir_=synthtest.plugin_dir(), close_timeout=20)


def wait_collects(d, n):
    """synthtest.wait_collects() with 20 s of slack: a restart comes first."""
    synthtest.wait_collects(d, n, slack_s=20)


def stop(d, sig=signal.SIGTERM):
    d.signal(sig)
    rc = d.wait_exit(30)
    C.check(rc is not None, f"daemon exited after {sig.name}")
    return rc


def points(d, metric, start, end=None, labels=None, stats="min,max", step="1s",
           group_by=None):
    args = {"metric": metric, "start": start, "step": step, "stats": stats, "limit": 50}
    if end is not None:
        args["end"] = end
    if labels:
        args["labels"] = labels
    if group_by:
        args["group_by"] = group_by
    return call(d, "query_history", args)


def mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


@C.case
def test_sigterm_restart():
    sd = os.path.join(state_root(), "state")
    state = os.path.join(sd, "state.v1")
    with daemon(sd) as a:
        call(a, "synth_set", {"gauge": 7, "counter_per_tick": 3, "hist_count": 5,
                              "hist_bucket": 3, "ncpu": 2})
        t_set = time.time()  # gauge 0 before this
        w = call(a, "watch_create", {"metric": "synth_gauge_pct", "labels": "cpu=1",
                                     "condition": "value > 50", "for_secs": 2,
                                     "name": "gauge-high"})["watch"][0]
        wait_collects(a, 40)
        # no observations in the last steps: every one published is in history
        call(a, "synth_set", {"hist_count": 0})
        wait_collects(a, 4)
        published = call(a, "synth_set")["hist_published"]
        C.check(published >= 40 * 5 * 2, f"published {published}")
        t_stop = time.time()
        C.eq(stop(a), 0, "exit code after SIGTERM")
        C.check("state saved in" in a.stderr_text(), "the shutdown save is logged")
    C.check(os.path.isfile(state), "the state file exists after SIGTERM")
    time.sleep(3)  # down for 3 s: at least two whole seconds without points
    with daemon(sd) as b:
        t_up = time.time()
        log = b.stderr_text()
        C.check("restored from" in log and "show as a gap" in log,
                f"the restore is logged: {log[-1500:]}")
        call(b, "synth_set", {"gauge": 9, "counter_per_tick": 3})
        t_set_b = time.time()  # gauge 0 before this
        wait_collects(b, 30)
        # the old samples
        q = points(b, "synth_gauge_pct", t_set + 1, t_stop, labels="cpu=0")
        old = q["series"][0]["points"] if q["series"] else []
        C.check(len(old) >= 2, f"samples from before the restart: {q}")
        C.check(all(p[1] == 7 and p[2] == 7 for p in old), f"old values: {old}")
        # the gap: no point, and nothing between the two values anywhere
        q = points(b, "synth_gauge_pct", t_stop + 0.5, t_up - 0.5)
        C.check(all(s["points"] == [] for s in q["series"]),
                f"no points while the daemon was down: {q['series']}")
        q = points(b, "synth_gauge_pct", t_set_b + 1, labels="cpu=0")
        new = q["series"][0]["points"]
        C.check(len(new) >= 1 and all(p[1] == 9 and p[2] == 9 for p in new),
                f"values after the restart: {new}")
        # nothing between the two values anywhere: no interpolation
        q = points(b, "synth_gauge_pct", t_set + 1, labels="cpu=0", step="0.05s")
        vals = {v for p in q["series"][0]["points"] for v in p[1:]}
        C.check(vals <= {0, 7, 9}, f"only values that were published: {vals}")
        # a counter restarts without a spike: its first value is a baseline
        q = call(b, "query_history", {"metric": "synth_events_total", "start": "-60s"})
        s = q["series"][0]["summary"]
        C.check(abs(s["peak_rate"] - 3 / STEP) < 1e-6, f"peak rate {s}")
        # every histogram observation once, across the restart
        q = points(b, "synth_latency_ns", "-60s", stats="count", group_by="all")
        C.eq(q["series"][0]["summary"]["count"], published,
             "histogram observations before the restart, all of them")
        # the watch, as created
        ws = call(b, "watch_status")["watches"]
        C.eq([(x["id"], x.get("name"), x["metric"], x["labels"], x["condition"])
              for x in ws],
             [(w["id"], "gauge-high", "synth_gauge_pct", "cpu=1", "value > 50")],
             "the watch is back")
        C.eq(stop(b), 0, "second exit")


@C.case
def test_sigkill_after_persist():
    sd = os.path.join(state_root(), "state")
    state = os.path.join(sd, "state.v1")
    with daemon(sd, "persist_interval_s = 1\n") as a:
        call(a, "synth_set", {"gauge": 4, "ncpu": 1})
        wait_collects(a, 5)
        # two saves after gauge 4: the second holds some of it for sure
        seen = mtime(state)
        for _ in range(2):
            deadline = time.monotonic() + 20
            while mtime(state) == seen and time.monotonic() < deadline:
                time.sleep(0.01)
            C.check(mtime(state) != seen, "a periodic save happened")
            seen = mtime(state)
        # right after a save: a value the next save would hold, then SIGKILL
        # before it (retried if a save slips in)
        for _ in range(5):
            deadline = time.monotonic() + 20
            while mtime(state) == seen and time.monotonic() < deadline:
                time.sleep(0.005)
            seen = mtime(state)
            t_saved = time.time()
            call(a, "synth_set", {"gauge": 6})
            time.sleep(0.3)
            if mtime(state) == seen:
                break
            call(a, "synth_set", {"gauge": 4})
            seen = mtime(state)
        C.eq(stop(a, signal.SIGKILL), -signal.SIGKILL, "killed")
    with daemon(sd) as b:
        C.check("restored from" in b.stderr_text(), "restored after SIGKILL")
        leftovers = [f for f in os.listdir(sd) if ".tmp-" in f]
        C.eq(leftovers, [], "no temporary file of a killed writer")
        call(b, "synth_set", {"gauge": 8, "ncpu": 1})
        wait_collects(b, 20)
        q = points(b, "synth_gauge_pct", "-60s", labels="cpu=0")
        pts = q["series"][0]["points"]
        vals = {v for p in pts for v in p[1:]}
        C.check(4 in vals and 8 in vals, f"before and after: {vals}")
        C.check(6 not in vals, f"nothing after the last save comes back: {pts}")
        last4 = max(p[0] for p in pts if p[2] == 4)
        C.check(last4 >= int(t_saved) - 2,
                f"history reaches the last save: last 4 at {last4}, saved ~{t_saved:.1f}")
        C.eq(stop(b), 0, "exit")


@C.case
def test_corrupt_set_aside():
    sd = os.path.join(state_root(), "state")
    state = os.path.join(sd, "state.v1")
    with daemon(sd) as a:
        wait_collects(a, 3)
        stop(a)
    with open(state, "wb") as f:
        f.write(b"not a state file\n" * 100)
    with daemon(sd) as b:
        log = b.stderr_text()
        C.check("is not a schedmcp state file" in log and "set aside as state.v1.corrupt-" in log,
                f"set aside with a log line: {log[-1500:]}")
        aside = [f for f in os.listdir(sd) if f.startswith("state.v1.corrupt-")]
        C.eq(len(aside), 1, f"one file set aside: {os.listdir(sd)}")
        C.check(not os.path.exists(state), "the corrupt file is gone from its name")
        wait_collects(b, 3)
        C.check(call(b, "query_history")["metrics"], "the daemon serves")
        stop(b)
    C.check(os.path.isfile(state), "a new state file is written")


@C.case
def test_second_instance():
    sd = os.path.join(state_root(), "state")
    with daemon(sd) as a:
        with daemon(sd) as b:
            log = b.stderr_text()
            C.check(f"state dir {sd} in use by pid {a.pid}" in log,
                    f"the second one says who holds it: {log[-1500:]}")
            C.check("not kept across restarts" in log, "and runs without persistence")
            wait_collects(b, 2)
            C.eq(stop(b), 0, "the second one exits cleanly")
            C.check("state saved" not in b.stderr_text(), "without saving")
        wait_collects(a, 2)
        C.eq(stop(a), 0, "the first one is unaffected")
        C.check("state saved in" in a.stderr_text(), "and saves")


@C.case
def test_stdio_default_keeps_nothing():
    with daemon(None) as d:
        wait_collects(d, 3)
        stop(d)
        log = d.stderr_text()
        for words in ("saved state", "state saved", "restored from", "state dir"):
            C.check(words not in log, f"no state kept on stdio ({words!r}): {log[-800:]}")


def service(root, sd, log):
    sock = os.path.join(root, "mcp.sock")
    proc = subprocess.Popen([T.daemon_path(), "serve", "--socket", sock, "--plugin-dir",
                             synthtest.plugin_dir(), "--no-default-plugins",
                             "--config", T.write_config(FAST), "--enable", "synth",
                             "--state-dir", sd, "--log-level", "debug"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    if not mcp_client.wait_socket(sock, proc, 60):
        proc.kill()
        proc.wait()
        raise AssertionError("the service did not start")
    return proc, sock


@C.case
def test_service_keeps_state():
    root = state_root()
    os.chmod(root, 0o755)
    sd = os.path.join(root, "state")
    with open(os.path.join(root, "log"), "w+") as log:
        proc, sock = service(root, sd, log)
        try:
            with mcp_client.SocketClient(sock) as s:
                call(s, "synth_set", {"gauge": 3})
                w = call(s, "watch_create", {"metric": "synth_gauge_pct",
                                             "condition": "value > 10"})["watch"][0]
                wait_collects(s, 20)
        finally:
            proc.send_signal(signal.SIGTERM)
            C.eq(proc.wait(30), 0, "the service exits after SIGTERM")
        proc, sock = service(root, sd, log)
        try:
            with mcp_client.SocketClient(sock) as s:
                ws = call(s, "watch_status")["watches"]
                C.eq([(x["id"], x["condition"]) for x in ws], [(w["id"], "value > 10")],
                     "the watch is back in the service")
                q = points(s, "synth_gauge_pct", "-60s", labels="cpu=0")
                vals = {v for p in q["series"][0]["points"] for v in p[1:]}
                C.check(3 in vals, f"the history is back: {vals}")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        log.seek(0)
        text = log.read()
        C.check(text.count("state saved in") == 2 and "restored from" in text,
                f"saved twice, restored once: {text[-2000:]}")


if __name__ == "__main__":
    C.main()
