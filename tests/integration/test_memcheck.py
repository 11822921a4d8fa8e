#!/usr/bin/env python3
"""A session that touches every server path, and one that reads every
resource of every built plugin (BPF, perf and tracefs ones included when
root), with the daemon under valgrind: no invalid access, no uninitialised
read, no definite leak, clean exit. valgrind.supp holds the libbpf false
positives. Skipped (77) when valgrind is missing."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test  # noqa: E402
from smcp_test import VG_ERROR, Checker, Daemon, itest_dir, valgrind_or_skip  # noqa: E402

T = Checker("integration/valgrind-session")
VALGRIND = None  # valgrind_or_skip() finds it
SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")


class VgDaemon(Daemon):
    """Daemon whose command line starts with valgrind."""

    def __init__(self, logfile, **kw):
        real = smcp_test.mcp_client.daemon_path
        wrapper = os.path.join(os.path.dirname(logfile), "vg-schedmcp.sh")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s -q --error-exitcode=%d --leak-check=full "
                    "--errors-for-leak-kinds=definite --show-leak-kinds=definite "
                    "--suppressions=%s --log-file=%s %s \"$@\"\n"
                    % (VALGRIND, VG_ERROR, SUPP, logfile, real()))
        os.chmod(wrapper, 0o755)
        smcp_test.mcp_client.daemon_path = lambda: wrapper
        try:
            super().__init__(**kw)
        finally:
            smcp_test.mcp_client.daemon_path = real

    def initialize(self, protocol="2025-11-25", capabilities=None, timeout=10.0):
        # every plugin starting under valgrind (BPF loads included) took
        # just over 10 s once on a busy 2-CPU VM
        return super().initialize(protocol, capabilities, timeout=max(timeout, 60.0))


def session(d):
    d.request("tools/list")
    d.request("resources/list")
    d.request("resources/templates/list")
    d.request("prompts/list")
    d.read("schedmcp://plugins")
    d.read("events://stream")
    d.read("itest://echo/a%20b")
    d.read("itest://missing/1")
    d.read("nope://x")
    d.call_tool("itest_echo", {"pid": "12", "opts": {"verbose": "true"}, "text": "x"})
    d.call_tool("itest_echo", {"pid": "abc"})
    d.call_tool("itest_fail")
    d.call_tool("itest_blob", {"bytes": 200000})
    d.call_tool("itest_emit", {"count": 10})
    d.call_tool("poll_events", {"limit": 5})
    d.call_tool("nope")
    d.request("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "3"}})
    d.request("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "5000"}})
    d.request("completion/complete", {"ref": {"type": "ref/prompt", "name": "itest_prompt"},
                                      "argument": {"name": "cpu", "value": "1"}})
    d.request("completion/complete", {"ref": {"type": "ref/resource", "uri": "itest://echo/{value}"},
                                      "argument": {"name": "value", "value": ""}})
    d.request("resources/subscribe", {"uri": "events://stream"})
    d.request("logging/setLevel", {"level": "debug"})
    d.call_tool("itest_log", {"level": "info", "count": 3})
    d.request("resources/unsubscribe", {"uri": "events://stream"})
    d.request("tools/list", {"cursor": "bogus"})
    # pending calls: one completes with progress, one is cancelled, one is
    # still in flight at exit
    for id_, ms in [("done", 100), ("cancel", 2000), ("left", 5000)]:
        d.send({"jsonrpc": "2.0", "id": id_, "method": "tools/call",
                "params": {"name": "itest_slow", "arguments": {"delay_ms": ms, "steps": 2},
                           "_meta": {"progressToken": id_}}})
    d.notify("notifications/cancelled", {"requestId": "cancel"})
    d.wait_response("done", timeout=20)
    for raw in [b'{"jsonrpc":"2.0","id":1,"method":"ping"', b"[1]", b"\xff\xfe",
                b"[" * 1000, b'{"jsonrpc":"2.0","id":null,"method":"ping"}',
                b'{"jsonrpc":"2.0","id":"r1","result":{}}']:
        d.send_raw(raw + b"\n")
    d.request("ping", timeout=20)


@T.case
def test_session_under_valgrind():
    logdir = smcp_test.plugin_dir()
    log = os.path.join(logdir, "valgrind.log")
    with VgDaemon(log, plugin_dir_=itest_dir()) as d:
        session(d)
        time.sleep(0.2)
        d.proc.stdin.close()
        rc = d.wait_exit(30)
    report = open(log).read() if os.path.exists(log) else ""
    T.check(rc is not None, "exited after EOF")
    T.check(rc != VG_ERROR, f"valgrind found errors:\n{report[-6000:]}")
    T.eq(rc, 0, "clean exit")


@T.case
def test_plugins_under_valgrind():
    plugins = os.path.join(smcp_test.BUILD, "plugins")
    if not os.path.isdir(plugins):
        raise smcp_test.Skip("no plugins built")
    log = os.path.join(smcp_test.plugin_dir(), "valgrind-plugins.log")
    with VgDaemon(log, plugin_dir_=plugins) as d:
        uris, cursor = [], None
        while True:
            r = d.request("resources/list", {"cursor": cursor} if cursor else {}, timeout=60)
            uris += [x["uri"] for x in r["result"]["resources"]]
            cursor = r["result"].get("nextCursor")
            if not cursor:
                break
        for uri in uris:
            d.read(uri, timeout=60)
        # every plugin built must be there: one that failed to load (an
        # unresolved symbol, say) would leave its code untested here
        built = {f[:-3] for _, _, fs in os.walk(plugins) for f in fs if f.endswith(".so")}
        states = {p["name"]: p["state"]
                  for p in d.read_json("schedmcp://plugins")["plugins"]}
        T.eq(sorted(n for n in built if states.get(n) not in ("loaded", "degraded")), [],
             "every built plugin loaded under valgrind")
        r = d.request("tools/list", timeout=60)
        names = {t["name"] for t in r["result"]["tools"]}
        for name, args in [("get_topology", {"detail_level": "full"}),
                           ("get_system_stats", {"kind": "network"}),
                           ("query_stats", {}), ("list_events", {"subsystem": "sched"}),
                           ("measure_latency", {"duration_s": 1}),
                           ("control_stats_collection", {"action": "sample"})]:
            if name in names:
                d.call_tool(name, args, timeout=120)
        d.proc.stdin.close()
        rc = d.wait_exit(60)
    report = open(log).read() if os.path.exists(log) else ""
    T.check(rc != VG_ERROR, f"valgrind found errors with the plugins loaded:\n{report[-6000:]}")
    T.eq(rc, 0, f"clean exit after reading {len(uris)} resources")


if __name__ == "__main__":
    VALGRIND = valgrind_or_skip()
    T.main()
