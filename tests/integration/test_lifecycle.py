#!/usr/bin/env python3
"""Session lifecycle over real pipes: version negotiation, what is allowed
before initialize, and every way the session ends (stdin EOF, SIGTERM,
SIGINT, SIGHUP, the client closing our stdout), each with exit code 0 in
under a second."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import Checker, Daemon, is_error, itest_dir  # noqa: E402

T = Checker("integration/lifecycle")
VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
NEWEST = VERSIONS[0]


def init_params(version):
    return {"protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}


@T.case
def test_version_negotiation():
    for v in VERSIONS + ["1999-01-01", "2099-12-31", "", "not a date"]:
        with Daemon(initialize=False) as d:
            r = d.request("initialize", init_params(v))
            want = v if v in VERSIONS else NEWEST
            if not T.check("result" in r, f"initialize {v!r} answered with a result: {r}"):
                continue
            res = r["result"]
            T.eq(res.get("protocolVersion"), want, f"version for a client asking {v!r}")
            T.check(isinstance(res.get("capabilities"), dict), "capabilities object")
            info = res.get("serverInfo", {})
            T.eq(info.get("name"), "schedmcp", "serverInfo.name")
            T.check(isinstance(info.get("version"), str) and info["version"], "serverInfo.version")
            caps = res["capabilities"]
            for c in ["resources", "tools", "prompts", "logging"]:
                T.check(c in caps, f"{want}: capability {c}")
            T.check(caps.get("resources", {}).get("subscribe") is True, "resources.subscribe")
            # completions arrived in 2025-03-26; older clients must not see it
            T.eq("completions" in caps, want >= "2025-03-26", f"{want}: completions capability")
            T.check("sampling" not in caps and "elicitation" not in caps,
                    "no client-side capabilities advertised by the server")
            d.notify("notifications/initialized")
            T.check("result" in d.request("ping"), f"{v!r}: session works after negotiation")


@T.case
def test_initialize_errors():
    with Daemon(initialize=False) as d:
        r = d.request("initialize", {"capabilities": {}})
        T.check(is_error(r, -32602), f"initialize without protocolVersion: {r}")
        r = d.request("initialize", {"protocolVersion": 20251125, "capabilities": {}})
        T.check(is_error(r, -32602), f"non-string protocolVersion: {r}")
        r = d.request("initialize", init_params(NEWEST))
        T.check("result" in r, f"initialize after failed attempts: {r}")
        r = d.request("initialize", init_params(NEWEST))
        T.check(is_error(r), f"second initialize refused: {r}")


@T.case
def test_before_initialize():
    with Daemon(initialize=False, plugin_dir_=itest_dir()) as d:
        r = d.request("ping")
        T.eq(r.get("result"), {}, "ping before initialize")
        for method, params in [("tools/list", None), ("resources/list", None),
                               ("resources/read", {"uri": "schedmcp://plugins"}),
                               ("tools/call", {"name": "itest_echo", "arguments": {"pid": 1}}),
                               ("prompts/list", None), ("logging/setLevel", {"level": "debug"})]:
            r = d.request(method, params)
            T.check(is_error(r) and "result" not in r, f"{method} before initialize refused: {r}")
            T.check(isinstance(r.get("error", {}).get("message"), str), "with a message")
        # nothing was sent except answers to our requests (no log notifications)
        T.check(all("id" in m for m in d.messages), "no notification before initialize")
        r = d.request("initialize", init_params(NEWEST))
        T.eq(r["result"]["protocolVersion"], NEWEST, "initialize still possible")
        d.notify("notifications/initialized")
        T.check("result" in d.request("tools/list"), "requests work after initialize")


def ends_cleanly(d, how, max_s=1.0):
    t0 = time.monotonic()
    rc = d.wait_exit(5.0)
    took = time.monotonic() - t0
    T.eq(rc, 0, f"{how}: exit code (stderr: {d.stderr_text()[-600:]})")
    T.check(took < max_s, f"{how}: exited in {took:.2f}s (< {max_s}s)")


@T.case
def test_exit_on_stdin_eof():
    with Daemon(plugin_dir_=itest_dir()) as d:
        T.check("result" in d.request("ping"), "serving")
        d.proc.stdin.close()
        ends_cleanly(d, "stdin EOF")
        # everything already answered was flushed, nothing extra after
        T.check(d.recv(1.0) is None, "nothing after EOF")


@T.case
def test_eof_flushes_pending_answers():
    # requests written just before EOF are still answered
    with Daemon(plugin_dir_=itest_dir()) as d:
        d.send_raw(b"".join(
            b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % i for i in range(100, 120)))
        d.send_raw(b'{"jsonrpc":"2.0","id":120,"method":"ping"}')  # no final newline
        d.proc.stdin.close()
        got = sorted(m["id"] for m in d.drain(quiet=1.0) if "id" in m)
        T.eq(got, list(range(100, 121)), "every request before EOF answered, the last one too")
        ends_cleanly(d, "EOF after a burst", 2.0)


@T.case
def test_exit_on_signals():
    for sig in [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]:
        with Daemon(plugin_dir_=itest_dir()) as d:
            T.check("result" in d.request("ping"), "serving")
            d.signal(sig)
            ends_cleanly(d, signal.Signals(sig).name)


@T.case
def test_exit_with_requests_in_flight():
    for sig in [signal.SIGTERM, signal.SIGINT]:
        with Daemon(plugin_dir_=itest_dir()) as d:
            for i in range(5):
                d.send({"jsonrpc": "2.0", "id": f"slow{i}", "method": "tools/call",
                        "params": {"name": "itest_slow", "arguments": {"delay_ms": 5000}}})
            T.check("result" in d.request("ping"), "serving with slow calls pending")
            d.signal(sig)
            ends_cleanly(d, f"{signal.Signals(sig).name} with 5 calls in flight")
            late = [m for m in d.drain(quiet=0.2) if str(m.get("id", "")).startswith("slow")]
            T.eq(late, [], "cancelled calls are not answered")
            T.check("Segmentation" not in d.stderr_text(), "no crash")


@T.case
def test_exit_when_stdout_closed():
    with Daemon(plugin_dir_=itest_dir()) as d:
        T.check("result" in d.request("ping"), "serving")
        d.proc.stdout.close()
        # the daemon finds out when it next writes
        d.send({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        ends_cleanly(d, "stdout closed by the client")


@T.case
def test_exit_when_stdout_closed_while_idle_with_pending():
    # a pending call completing later is the write that finds stdout gone
    with Daemon(plugin_dir_=itest_dir()) as d:
        d.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "itest_slow", "arguments": {"delay_ms": 200}}})
        time.sleep(0.05)
        d.proc.stdout.close()
        ends_cleanly(d, "stdout closed, pending answer written later", 1.5)


if __name__ == "__main__":
    T.main()
