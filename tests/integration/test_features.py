#!/usr/bin/env python3
"""MCP features over the wire: pagination with opaque cursors, templates
with percent-decoding, prompts, subscriptions and resources/updated,
logging/setLevel, completion/complete, cancellation and progress."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import Checker, Daemon, is_error, itest_dir, result, write_config  # noqa: E402

T = Checker("integration/features")

LISTS = [("tools/list", "tools", "name"), ("resources/list", "resources", "uri"),
         ("resources/templates/list", "resourceTemplates", "uriTemplate"),
         ("prompts/list", "prompts", "name")]


def walk(d, method, key, field, page_size):
    items, cursors, pages = [], [], 0
    cursor = None
    while True:
        r = result(d.request(method, {"cursor": cursor} if cursor is not None else None))
        page = r[key]
        pages += 1
        T.check(len(page) <= page_size, f"{method} page {pages}: {len(page)} <= {page_size} items")
        items += [x[field] for x in page]
        cursor = r.get("nextCursor")
        if cursor is None:
            return items, cursors, pages
        T.check(isinstance(cursor, str) and cursor, f"{method}: cursor is a non-empty string")
        cursors.append(cursor)
        if pages > 50:
            T.check(False, f"{method}: pagination does not end")
            return items, cursors, pages


@T.case
def test_pagination():
    with Daemon(plugin_dir_=itest_dir()) as full:
        everything = {m: [x[f] for x in result(full.request(m))[k]] for m, k, f in LISTS}
        for m, _, _ in LISTS:
            T.check("nextCursor" not in result(full.request(m)), f"{m}: one page by default")
    T.check(len(everything["resources/list"]) >= 7 and len(everything["tools/list"]) >= 8,
            f"enough items to page: {everything}")
    for size in [1, 2, 3]:
        cfg = write_config(f"[core]\npage_size = {size}\n")
        with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
            for m, k, f in LISTS:
                items, cursors, pages = walk(d, m, k, f, size)
                T.eq(items, everything[m], f"page_size {size}: {m} pages add up to the whole list")
                T.eq(len(set(cursors)), len(cursors), f"{m}: cursors differ")
                if len(everything[m]) > size:
                    T.check(pages >= 2, f"{m}: more than one page")
                # an answered cursor can be replayed (cursors are not one-shot)
                if cursors:
                    again = result(d.request(m, {"cursor": cursors[0]}))
                    T.eq([x[f] for x in again[k]][:1], [items[size]] if len(items) > size else [],
                         f"{m}: cursor replay gives the same page")


@T.case
def test_bad_cursors():
    cfg = write_config("[core]\npage_size = 2\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        r = result(d.request("tools/list"))
        good = r.get("nextCursor")
        T.check(isinstance(good, str), "a first page with a cursor")
        bad = ["", "garbage", good + "x", "p", "p99999.0", " " + good, good.upper() + "?", "\u00e9"]
        m = re.fullmatch(r"p(\d+)\.(\d+)", good or "")
        if m:  # white box: a cursor from a registry generation that is gone
            bad.append(f"p{m.group(1)}.{int(m.group(2)) + 1}")
            bad.append(f"p{m.group(1)}.{int(m.group(2)) - 1}")
        for c in bad:
            r = d.request("tools/list", {"cursor": c})
            T.check(is_error(r, -32602), f"cursor {c!r} refused with -32602: {r}")
        for c in [5, {"offset": 2}, ["p2"], True]:
            r = d.request("tools/list", {"cursor": c})
            T.check(is_error(r, -32602), f"cursor of type {type(c).__name__} refused: {r}")
        r = d.request("tools/list", {"cursor": None})
        T.check("result" in r, "cursor null means the first page")


@T.case
def test_templates_and_reads():
    with Daemon(plugin_dir_=itest_dir()) as d:
        def text(uri):
            r = d.read(uri)
            return result(r)["contents"][0]["text"] if "result" in r else r
        T.eq(text("itest://echo/plain"), "plain", "template variable")
        T.eq(text("itest://echo/hello%20world"), "hello world", "percent-decoded")
        T.eq(text("itest://echo/%E2%82%AC%e2%82%ac"), "\u20ac\u20ac", "UTF-8 escapes, both cases")
        T.eq(text("itest://echo/a%2Fb"), "a/b", "an escaped slash is data")
        T.eq(text("itest://echo/100%25"), "100%", "an escaped percent")
        for uri in ["itest://echo/bad%zz", "itest://echo/bad%2", "itest://echo/nul%00",
                    "itest://echo/a/b"]:
            T.check(is_error(d.read(uri), -32002), f"{uri}: not found")
        r = result(d.read("itest://static/3"))
        c = r["contents"][0]
        T.eq(c.get("uri"), "itest://static/3", "contents carry the URI")
        T.eq(c.get("mimeType"), "text/plain", "default MIME type")
        T.eq(c.get("text"), "static itest://static/3", "text")
        st = d.read_json("schedmcp://plugins")
        T.check(isinstance(st.get("plugins"), list) and "session" in st, "schedmcp://plugins JSON")
        T.eq(result(d.read("schedmcp://plugins"))["contents"][0]["mimeType"], "application/json",
             "JSON resources say so")
        tpls = {t["uriTemplate"]: t for t in result(d.request("resources/templates/list"))["resourceTemplates"]}
        T.check("itest://echo/{value}" in tpls and tpls["itest://echo/{value}"].get("name") == "echo",
                f"templates listed with names: {list(tpls)}")


@T.case
def test_prompts():
    with Daemon(plugin_dir_=itest_dir()) as d:
        p = [x for x in result(d.request("prompts/list"))["prompts"] if x["name"] == "itest_prompt"]
        T.eq(len(p), 1, "prompt listed")
        if p:
            T.eq([(a["name"], a["required"]) for a in p[0]["arguments"]],
                 [("cpu", True), ("mode", False)], "declared arguments")
        r = result(d.request("prompts/get", {"name": "itest_prompt", "arguments": {"cpu": "3"}}))
        T.eq(r.get("description"), "itest prompt", "description")
        T.eq(r["messages"], [{"role": "user", "content": {"type": "text",
                                                          "text": "look at cpu 3 in default mode"}}],
             "messages")
        r = result(d.request("prompts/get", {"name": "itest_prompt",
                                             "arguments": {"cpu": "-2", "mode": "deep"}}))
        T.eq(r["messages"][0]["content"]["text"], "look at cpu -2 in deep mode", "both arguments")


@T.case
def test_subscribe_and_updated():
    with Daemon(plugin_dir_=itest_dir()) as d:
        T.eq(d.request("resources/subscribe", {"uri": "events://stream"}).get("result"), {},
             "subscribe answers {}")
        T.eq(d.request("resources/subscribe", {"uri": "events://stream"}).get("result"), {},
             "subscribing twice is fine")
        T.eq(d.request("resources/subscribe", {"uri": "itest://echo/x"}).get("result"), {},
             "a URI matching a template can be subscribed")
        t0 = time.monotonic()
        result(d.call_tool("itest_emit", {"count": 5}))
        n = d.wait_for(lambda m: m.get("method") == "notifications/resources/updated", 3.0)
        T.check(n is not None, "notifications/resources/updated arrives")
        if n:
            T.eq(n.get("params", {}).get("uri"), "events://stream", "for the subscribed URI")
            T.check("id" not in n, "a notification has no id")
            T.check(time.monotonic() - t0 < 2.5, "within the coalescing interval")
        # coalesced: one notification for the burst, not five
        extra = [m for m in d.drain(quiet=1.3) if m.get("method") == "notifications/resources/updated"]
        T.eq(extra, [], "one notification per burst")
        body = d.read_json("events://stream")
        T.check(any(e.get("type") == "itest.tick" for e in body.get("events", [])),
                f"the events are in the stream: {str(body)[:300]}")

        T.eq(d.request("resources/unsubscribe", {"uri": "events://stream"}).get("result"), {},
             "unsubscribe answers {}")
        T.eq(d.request("resources/unsubscribe", {"uri": "never://subscribed"}).get("result"), {},
             "unsubscribing from something never subscribed is fine")
        result(d.call_tool("itest_emit", {"count": 1}))
        late = [m for m in d.drain(quiet=1.6) if m.get("method") == "notifications/resources/updated"]
        T.eq(late, [], "no notification after unsubscribe")
        st = d.read_json("schedmcp://plugins")["session"]
        T.eq(st.get("subscriptions"), 1, "one subscription left (itest://echo/x)")


@T.case
def test_subscription_limit():
    cfg = write_config("[core]\nmax_subscriptions = 2\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        for u in ["itest://static/0", "itest://static/1"]:
            T.eq(d.request("resources/subscribe", {"uri": u}).get("result"), {}, f"subscribe {u}")
        T.eq(d.request("resources/subscribe", {"uri": "itest://static/0"}).get("result"), {},
             "re-subscribing does not count")
        r = d.request("resources/subscribe", {"uri": "itest://static/2"})
        T.check(is_error(r), f"over max_subscriptions refused: {r}")
        d.request("resources/unsubscribe", {"uri": "itest://static/1"})
        T.eq(d.request("resources/subscribe", {"uri": "itest://static/2"}).get("result"), {},
             "room again after unsubscribe")


@T.case
def test_logging():
    with Daemon(plugin_dir_=itest_dir()) as d:
        def logs_from(level, count=2):
            start = len(d.messages)
            r = d.call_tool("itest_log", {"level": level, "count": count, "message": f"msg-{level}"})
            T.check("result" in r, f"itest_log {level}")
            # notifications are sent while the tool runs: before its answer
            return [m for m in d.messages[start:-1]
                    if m.get("method") == "notifications/message"
                    and f"msg-{level}" in str(m.get("params", {}).get("data"))]

        T.eq(d.request("logging/setLevel", {"level": "debug"}).get("result"), {}, "setLevel debug")
        got = logs_from("debug")
        T.eq(len(got), 2, "debug lines delivered at level debug")
        if got:
            p = got[0]["params"]
            T.eq(p.get("level"), "debug", "level field")
            T.eq(p.get("logger"), "itest", "logger is the plugin name")
            T.eq(p.get("data"), "msg-debug #0", "data is the message")
        T.eq(d.request("logging/setLevel", {"level": "error"}).get("result"), {}, "setLevel error")
        T.eq(logs_from("warning"), [], "below the level: not delivered")
        T.eq(logs_from("info"), [], "below the level: not delivered")
        T.eq(len(logs_from("error")), 2, "at the level: delivered")
        T.eq(len(logs_from("emergency")), 2, "above the level: delivered")
        for lvl in ["info", "notice", "warning", "critical", "alert", "emergency"]:
            T.eq(d.request("logging/setLevel", {"level": lvl}).get("result"), {}, f"level {lvl}")
        T.check(is_error(d.request("logging/setLevel", {"level": "DEBUG"}), -32602),
                "levels are the lowercase syslog names")


@T.case
def test_completion():
    with Daemon(plugin_dir_=itest_dir()) as d:
        def complete(ref, name, value, ctx=None):
            p = {"ref": ref, "argument": {"name": name, "value": value}}
            if ctx is not None:
                p["context"] = {"arguments": ctx}
            return d.request("completion/complete", p)

        prompt = {"type": "ref/prompt", "name": "itest_prompt"}
        r = result(complete(prompt, "cpu", ""))
        T.eq(list(r.keys()), ["completion"], "result holds completion only")
        c = r["completion"]
        T.eq(sorted(c.keys()), ["hasMore", "total", "values"], "completion fields")
        T.eq(len(c["values"]), 100, "at most 100 values")
        T.check(all(isinstance(v, str) for v in c["values"]), "values are strings")
        T.eq(c["total"], 150, "total counts every match")
        T.eq(c["hasMore"], True, "hasMore when cut")
        c = result(complete(prompt, "cpu", "14", {"mode": "x"}))["completion"]
        T.eq(c, {"values": ["14"] + [str(i) for i in range(140, 150)], "total": 11,
                 "hasMore": False}, "prefix 14")
        c = result(complete(prompt, "mode", "a"))["completion"]
        T.eq(c, {"values": [], "total": 0, "hasMore": False}, "an argument with no candidates")
        tpl = {"type": "ref/resource", "uri": "itest://echo/{value}"}
        c = result(complete(tpl, "value", "al"))["completion"]
        T.eq(c, {"values": ["alpha", "alphabet"], "total": 2, "hasMore": False}, "template variable")
        c = result(complete({"type": "ref/resource", "uri": "itest://missing/{x}"}, "x", ""))["completion"]
        T.eq(c["values"], [], "a template without completion")
        for ref, name, what in [(prompt, "nope", "unknown prompt argument"),
                                ({"type": "ref/prompt", "name": "nope"}, "cpu", "unknown prompt"),
                                (tpl, "nope", "unknown template variable"),
                                ({"type": "ref/resource", "uri": "itest://echo/x"}, "value",
                                 "a URI, not the template"),
                                ({"type": "ref/tool", "name": "itest_echo"}, "pid", "bad ref type")]:
            T.check(is_error(complete(ref, name, ""), -32602), f"{what}: -32602")


def slow(d, id_, delay_ms, steps=0, token=None):
    params = {"name": "itest_slow", "arguments": {"delay_ms": delay_ms, "steps": steps}}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    d.send({"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params})


def stats(d):
    return result(d.call_tool("itest_stats"))["structuredContent"]


@T.case
def test_cancellation():
    with Daemon(plugin_dir_=itest_dir()) as d:
        slow(d, "c1", 500)
        slow(d, 77, 500)
        time.sleep(0.05)
        d.notify("notifications/cancelled", {"requestId": "c1", "reason": "changed my mind"})
        # the same number as a string is another request: 77 stays
        d.notify("notifications/cancelled", {"requestId": "77"})
        d.notify("notifications/cancelled", {"requestId": "never-sent"})
        got = d.drain(quiet=1.5)
        ids = [m.get("id") for m in got if "id" in m]
        T.check("c1" not in ids, f"a cancelled request is never answered: {got}")
        T.eq([i for i in ids if i == 77], [77], "the other request is answered once")
        T.eq([m for m in got if "error" in m], [], "cancelling sends no error")
        s = stats(d)
        T.eq(s["cancelled"], 1, "the plugin's cancel callback ran once")
        T.eq(s["completed"], 1, "and the other call completed")
        # the cancelled id is free again
        slow(d, "c1", 50)
        m = d.wait_for(lambda m: m.get("id") == "c1", 3)
        T.check(m is not None and "result" in m, f"id reused after cancel: {m}")
        # cancelling something already answered changes nothing
        d.notify("notifications/cancelled", {"requestId": "c1"})
        T.eq(d.drain(quiet=0.3), [], "late cancel ignored")
        T.eq(stats(d)["cancelled"], 1, "no cancel callback for a finished call")


@T.case
def test_progress():
    with Daemon(plugin_dir_=itest_dir()) as d:
        for token in ["tok-1", 42, 0, ""]:
            id_ = f"p-{token!r}"
            slow(d, id_, 150, steps=3, token=token)
            resp = d.wait_for(lambda m: m.get("id") == id_, 5)
            T.check(resp is not None and "result" in resp, f"{token!r}: answered")
            idx = d.messages.index(resp) if resp else len(d.messages)
            prog = [m["params"] for m in d.messages[:idx]
                    if m.get("method") == "notifications/progress"
                    and m["params"].get("progressToken") == token
                    and type(m["params"].get("progressToken")) is type(token)]
            T.eq([p["progress"] for p in prog], [1, 2, 3], f"{token!r}: progress 1..3 in order")
            T.eq({p.get("total") for p in prog}, {3}, f"{token!r}: total")
            T.eq([p.get("message") for p in prog], [f"step {i} of 3" for i in (1, 2, 3)],
                 f"{token!r}: messages")
            T.check(all("id" not in m for m in d.messages if m.get("method") == "notifications/progress"),
                    "progress notifications carry no id")
            d.messages.clear()
        # no token, no progress
        slow(d, "quiet", 100, steps=3)
        d.wait_for(lambda m: m.get("id") == "quiet", 5)
        T.eq([m for m in d.messages if m.get("method") == "notifications/progress"], [],
             "no progressToken: no progress notifications")
        # a token that is neither string nor integer is not a progress token
        d.messages.clear()
        slow(d, "objtok", 100, steps=2, token={"a": 1})
        r = d.wait_for(lambda m: m.get("id") == "objtok", 5)
        T.check(r is not None, "a request with a bad token is still answered")


@T.case
def test_progress_old_protocol():
    with Daemon(plugin_dir_=itest_dir(), protocol="2024-11-05") as d:
        slow(d, "old", 100, steps=2, token="t")
        d.wait_for(lambda m: m.get("id") == "old", 5)
        prog = [m["params"] for m in d.messages if m.get("method") == "notifications/progress"]
        T.eq(len(prog), 2, "progress sent to a 2024-11-05 client")
        T.check(all("message" not in p for p in prog), "without the 2025-03-26 message field")


@T.case
def test_version_shapes():
    for version, structured, annotations in [("2025-11-25", True, True), ("2025-06-18", True, True),
                                             ("2025-03-26", False, True), ("2024-11-05", False, False)]:
        with Daemon(plugin_dir_=itest_dir(), protocol=version) as d:
            tools = {t["name"]: t for t in result(d.request("tools/list"))["tools"]}
            echo = tools.get("itest_echo", {})
            T.eq("outputSchema" in echo, structured, f"{version}: outputSchema")
            T.eq("annotations" in echo, annotations, f"{version}: annotations")
            if annotations:
                a = echo["annotations"]
                # only hints that differ from the spec's defaults, and no
                # destructive/idempotent on a read-only tool (meaningless there)
                T.eq(a, {"readOnlyHint": True, "openWorldHint": False},
                     f"{version}: annotation hints")
            r = result(d.call_tool("itest_echo", {"pid": 5}))
            T.eq("structuredContent" in r, structured, f"{version}: structuredContent")
            T.eq(r["content"][0]["type"], "text", f"{version}: text content always present")


if __name__ == "__main__":
    T.main()
