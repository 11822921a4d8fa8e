"""Shared pieces of the metrics tests that drive the synth test plugin
(tests/metrics/synth_plugin.c), a metric source whose every published value
is known: its plugin directory, a fast history configuration, calling its
tools and waiting for its collects. Standard library only."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test as T  # noqa: E402

# one history step: 50 ms, so that minutes of behaviour take seconds
STEP = 0.05


def fast_config(fine_slots):
    """[core] text for 50 ms history steps, fine_slots of them in the fine
    tier, then 400 coarse steps of 5 (250 ms)."""
    return (f"[core]\nhistory_step_ms = {int(STEP * 1000)}\nhistory_fine_slots = {fine_slots}\n"
            "history_coarse_factor = 5\nhistory_coarse_slots = 400\n")


def plugin_dir():
    """A plugin directory with only synth (Skip where it was not built)."""
    return T.fixture_dir("synth", "metrics")


def call(d, name, args=None, ok=True):
    """The structured answer of tool name; an error answer raises, or with
    ok=False is returned whole."""
    r = T.result(d.request("tools/call", {"name": name, "arguments": args or {}}))
    if ok and r.get("isError"):
        raise AssertionError(f"{name}({args}) failed: {r['content'][0]['text']}")
    return r if r.get("isError") else r.get("structuredContent", r)


def wait_collects(d, n, timeout=None, slack_s=10):
    """Until the synth plugin has run n more collects (history steps); by
    default within slack_s plus four times their length (a loaded machine
    runs late)."""
    timeout = timeout or slack_s + n * STEP * 4
    start = call(d, "synth_set")["collects"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(STEP)
        if call(d, "synth_set")["collects"] >= start + n:
            return
    raise AssertionError(f"synth did not collect {n} times in {timeout}s")
