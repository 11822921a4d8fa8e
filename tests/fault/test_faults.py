#!/usr/bin/env python3
"""Plugin callbacks that fail: the faulty plugin (tests/fault/fault_plugin.c)
fails every resource read, tool call, prompt and completion in the ways the
ABI allows (-errno with and without a message, later from a timer, never,
invalid JSON, over-size answers) and misuses the host API at run time. The
daemon must answer each request once, with an error that says what went
wrong, keep serving, keep the plugin loaded, and exit cleanly; under
scripts/test-sanitizers the same run must leave no ASan/LSan report."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import Checker, Daemon, is_error, plugin_dir, result  # noqa: E402

T = Checker("fault/plugin-errors")
FAULTY = os.environ.get("SMCP_FAULTY") or os.path.join(
    os.environ.get("SMCP_BUILD_DIR", "build"), "tests", "fault", "faulty.so")
_dir = None


def faulty_dir():
    global _dir
    if _dir is None:
        _dir = plugin_dir([FAULTY])
    return _dir


def alive(d, what):
    r = d.request("ping", timeout=10)
    T.eq(r.get("result"), {}, f"still answers ping after {what}")


def text_of(r):
    return " ".join(c.get("text", "") for c in result(r).get("content", []))


@T.case
def test_failing_reads():
    with Daemon(plugin_dir_=faulty_dir()) as d:
        cases = {
            # mode: (JSON-RPC code, words the message must carry)
            "eio": (-32603, "Input/output error"),
            "eio_msg": (-32603, "the sensor is on fire"),
            "einval": (-32603, "Invalid argument"),
            "later_eio": (-32603, "Input/output error"),
            "huge": (-32603, "max_result_bytes"),
            "json_unclosed": (-32603, "failed"),
            "json_overclosed": (-32603, "failed"),
            "json_key_in_array": (-32603, "failed"),
            "json_no_key": (-32603, "failed"),
            "json_raw": (-32603, "failed"),
            "json_deep": (-32603, "failed"),
        }
        for mode, (code, words) in cases.items():
            r = d.read("fault://read/" + mode, timeout=20)
            T.check(is_error(r, code), f"read {mode}: error {code}, got {str(r)[:200]}")
            T.check(words in r.get("error", {}).get("message", ""),
                    f"read {mode}: the message says '{words}': {str(r)[:200]}")
        r = d.read("fault://read/enoent")
        T.check(is_error(r, -32002), f"-ENOENT is 'resource not found': {r}")
        T.eq(r.get("error", {}).get("data", {}).get("uri"), "fault://read/enoent",
             "naming the URI asked for")
        r = d.read("fault://read/positive")
        T.eq(result(r)["contents"][0]["text"], "fine", "a positive return is success")
        r = d.read("fault://read/empty")
        T.eq(result(r).get("contents"), [], "a read that adds nothing: empty contents")
        r = d.read("fault://read/json_values")
        body = result(r)["contents"][0]["text"]
        T.check('"nan":null' in body and '"inf":null' in body and "\ufffd" in body,
                f"NaN, infinities and bad UTF-8 come out valid: {body}")
        alive(d, "failing reads")


@T.case
def test_failing_tools():
    with Daemon(plugin_dir_=faulty_dir()) as d:
        cases = {
            "eio": "Input/output error",
            "enomem": "Cannot allocate memory",
            "error_result": "FAULT: asked to fail",
            "error_and_fail": "FAULT: failed with a message",
            "later_eio": "Input/output error",
            "json_unclosed": "fault_tool failed",
            "json_overclosed": "fault_tool failed",
            "json_key_in_array": "fault_tool failed",
            "json_no_key": "fault_tool failed",
            "json_raw": "fault_tool failed",
            "json_deep": "fault_tool failed",
        }
        for mode, words in cases.items():
            r = d.call_tool("fault_tool", {"mode": mode}, timeout=20)
            T.check("result" in r, f"tool {mode}: a result, not a protocol error: {str(r)[:200]}")
            if "result" not in r:
                continue
            T.eq(result(r).get("isError"), True, f"tool {mode}: isError")
            T.check(words in text_of(r), f"tool {mode}: says '{words}': {text_of(r)[:200]}")
        r = d.call_tool("fault_tool", {"mode": "later_ok"})
        T.eq((result(r).get("isError"), text_of(r)), (False, "late but fine"),
             "a pending call that succeeds")
        log = d.stderr_text()
        # handlers that returned 0 over a broken writer (unclosed, too deep):
        # the host notices and logs it; the others returned the writer's error
        T.check(log.count("this is a plugin bug") >= 2,
                "invalid JSON a plugin called success is logged as a plugin bug")
        alive(d, "failing tools")


@T.case
def test_api_misuse_at_run_time():
    with Daemon(plugin_dir_=faulty_dir()) as d:
        def tool(mode, **kw):
            return text_of(d.call_tool("fault_tool", {"mode": mode}, **kw))
        T.eq(tool("register_late"), "register_tool -1", "registering after init: -EPERM")
        T.eq(tool("loop_misuse"), "loop -2 -2 -9 -22",
             "bogus timer/fd ids: -ENOENT; fd -1: -EBADF; a 0 ms timer: -EINVAL")
        T.eq(tool("event_null"), "event_commit -22", "committing a NULL event: -EINVAL")
        T.eq(tool("args"), "args -2 -22 -22 -22 -2",
             "missing paths -ENOENT, wrong types -EINVAL, an empty name -ENOENT")
        T.eq(tool("client_request"), "client_request -95",
             "sampling without the client's capability: -ENOTSUP")
        T.eq(tool("client_request_bad_params"), "client_request -22",
             "a request whose params are not an object: -EINVAL")
        T.eq(tool("status_flip"), "flipped", "set_status at run time")
        # progress that goes backwards or is NaN is refused when a token exists
        r = d.request("tools/call", {"name": "fault_tool", "arguments": {"mode": "progress_backwards"},
                                     "_meta": {"progressToken": "p1"}})
        T.eq(text_of(r), "progress 0 -22 -22", "progress must increase and be a number")
        notes = [m for m in d.messages if m.get("method") == "notifications/progress"]
        T.eq([n["params"]["progress"] for n in notes], [5], "only the valid progress was sent")
        st = [p for p in d.read_json("schedmcp://plugins")["plugins"] if p["name"] == "faulty"]
        T.eq(st and st[0]["state"], "loaded", "the plugin is still loaded after all that")
        alive(d, "API misuse")


@T.case
def test_prompts_and_completion():
    with Daemon(plugin_dir_=faulty_dir()) as d:
        r = d.request("prompts/get", {"name": "fault_prompt", "arguments": {"mode": "einval"}})
        T.check(is_error(r, -32602), f"-EINVAL without a message: invalid params: {r}")
        T.check(r.get("error", {}).get("message"), "still with a message")
        for mode in ["eio", "later_eio"]:
            r = d.request("prompts/get", {"name": "fault_prompt", "arguments": {"mode": mode}})
            T.check(is_error(r, -32603) and "Input/output error" in r["error"]["message"],
                    f"prompt {mode}: internal error naming the cause: {r}")
        r = d.request("prompts/get", {"name": "fault_prompt", "arguments": {"mode": "empty"}})
        T.eq(result(r).get("messages"), [], "a prompt that adds nothing")
        r = d.request("completion/complete", {"ref": {"type": "ref/resource",
                                                      "uri": "fault://read/{mode}"},
                                              "argument": {"name": "mode", "value": "e"}})
        T.check("result" in r, f"a completion callback that fails still answers: {r}")
        alive(d, "failing prompts")


@T.case
def test_calls_that_never_finish():
    """A call the plugin never completes is freed when the client cancels it
    (the plugin hears it) or when the daemon stops (exit stays clean)."""
    with Daemon(plugin_dir_=faulty_dir()) as d:
        for i in range(20):
            d.send({"jsonrpc": "2.0", "id": f"never-{i}", "method": "tools/call",
                    "params": {"name": "fault_tool", "arguments": {"mode": "never"}}})
            d.send({"jsonrpc": "2.0", "id": f"rnever-{i}", "method": "resources/read",
                    "params": {"uri": "fault://read/never"}})
        alive(d, "40 calls left pending")
        st = d.read_json("schedmcp://plugins")["session"]
        T.eq(st["requests_in_flight"], 40, "40 requests in flight")
        for i in range(10):
            d.notify("notifications/cancelled", {"requestId": f"never-{i}"})
        r = d.call_tool("fault_tool", {"mode": "count"})
        T.check("cancelled so far: 10" in text_of(r), f"the plugin heard 10 cancels: {text_of(r)}")
        st = d.read_json("schedmcp://plugins")["session"]
        T.eq(st["requests_in_flight"], 30, "30 left in flight")
        answered = [m for m in d.messages if str(m.get("id", "")).startswith(("never", "rnever"))]
        T.eq(answered, [], "cancelled and pending calls got no answer")
        t0 = time.monotonic()
        d.proc.stdin.close()
        rc = d.wait_exit(10)
        T.eq(rc, 0, "exit 0 with 30 calls still pending")
        T.check(time.monotonic() - t0 < 5, "promptly")


if __name__ == "__main__":
    T.main()
