#!/usr/bin/env python3
"""Pages, never failures: every tool whose input schema pages with a limit
(and a cursor or an offset) answers at its schema's largest limit, under
the smallest max_result_bytes the core accepts, with a page that fits and,
when it had to stop early, the cursor to go on from. Then the pages are
walked to the end: each one starts where the last one stopped, so nothing
is lost or repeated. The same for the resources that hold lists."""
import contextlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Daemon, itest_dir, write_config  # noqa: E402

T = Checker("integration/pages")

PLUGINS = os.path.join(BUILD, "plugins")  # every plugin this build made
PAGES = 12  # pages followed per tool (the kprobe list has thousands)
LIMIT = 4096  # the smallest max_result_bytes the core accepts
CUT = "over this server's limit"

# Arguments a tool needs besides its page to have something to list.
EXTRA = {
    "list_events": [{"event_type": "perf"}, {"event_type": "kprobe"}],
    "analyze_softirq": [{}],
    # the catalog, and the metric with the most series (top-N processes)
    "query_history": [{}, {"metric": "sched_proc_runq_latency_ns"},
                      {"metric": "sched_runq_latency_ns", "group_by": "cpu"}],
}
# The cursor argument and the member that carries the next one.
CURSORS = [("cursor", "next_cursor"), ("offset", "next_offset")]


def text_of(resp):
    r = resp.get("result") or {}
    return " ".join(c.get("text", "") for c in r.get("content", []))


def next_of(body, arg):
    """The cursor a page gives for arg, wherever the tool puts it."""
    for want, member in CURSORS:
        if want != arg:
            continue
        if member in body:
            return body[member]
        page = body.get("page")
        if isinstance(page, dict) and member in page:
            return page[member]
    return None


def more_of(body):
    if "has_more" in body:
        return bool(body["has_more"])
    page = body.get("page")
    if isinstance(page, dict) and "has_more" in page:
        return bool(page["has_more"])
    return None


def walk(d, name, args, limit, arg, pages):
    """Call name at limit and follow its cursor; the pages' sizes."""
    sizes, cursor, seen = [], None, set()
    for _ in range(pages):
        a = dict(args, limit=limit)
        if cursor is not None:
            a[arg] = cursor
        resp = d.call_tool(name, a, timeout=30)
        line = len(json.dumps(resp))
        T.check(CUT not in text_of(resp), f"{name} {a}: a page, not a failure: "
                f"{text_of(resp)[:300]}")
        r = resp.get("result") or {}
        if r.get("isError"):
            return sizes, text_of(resp)
        T.check(line <= LIMIT + 512, f"{name} {a}: {line} bytes fit max_result_bytes")
        body = r.get("structuredContent")
        T.check(isinstance(body, dict), f"{name}: structuredContent")
        sizes.append(line)
        if arg is None or not more_of(body):
            return sizes, None
        nxt = next_of(body, arg)
        T.check(isinstance(nxt, int), f"{name} {a}: has_more with a next {arg}: {body}")
        if not isinstance(nxt, int):
            return sizes, None
        T.check(nxt not in seen and (cursor is None or nxt > cursor),
                f"{name} {a}: the next {arg} {nxt} moves on")
        if nxt in seen or (cursor is not None and nxt <= cursor):
            return sizes, None
        seen.add(nxt)
        cursor = nxt
    return sizes, None  # long enough: the pages went on


@contextlib.contextmanager
def small_daemon():
    """A daemon whose answers may be LIMIT bytes, holding more itest events
    than fit one page (for poll_events and events://stream)."""
    cfg = write_config(f"[core]\nmax_result_bytes = {LIMIT}\n")
    with Daemon(args=["--config", cfg, "--plugin-dir", itest_dir()], plugin_dir_=PLUGINS) as d:
        d.call_tool("itest_emit", {"count": 200})
        yield d


@T.case
def test_every_paged_tool():
    with small_daemon() as d:
        tools = d.request("tools/list")["result"]["tools"]
        paged = [t for t in tools
                 if "limit" in (t.get("inputSchema") or {}).get("properties", {})]
        T.check(len(paged) >= 8, f"paged tools found: {[t['name'] for t in paged]}")
        cut = []
        for t in paged:
            props = t["inputSchema"]["properties"]
            top = props["limit"].get("maximum", 1000)
            arg = next((c for c, _ in CURSORS if c in props), None)
            pages = PAGES
            for extra in EXTRA.get(t["name"], [{}]):
                if "duration_s" in props:
                    # each page measures anew: the shortest, and fewer pages
                    extra, pages = dict(extra, duration_s=1), 3
                sizes, err = walk(d, t["name"], extra, top, arg, pages)
                if err:
                    # an answer about this machine (nothing profiled yet), not a size
                    T.check(CUT not in err, f"{t['name']}: {err[:200]}")
                    continue
                if len(sizes) > 1:
                    cut.append(t["name"])
        # the limit is small enough that the long lists had to be cut
        for name in ["poll_events", "list_events"]:
            T.check(name in cut, f"{name} was paged under {LIMIT} bytes: {cut}")


@T.case
def test_list_resources():
    with small_daemon() as d:
        for uri in ["events://stream", "events://kprobe", "events://perf"]:
            resp = d.request("resources/read", {"uri": uri}, timeout=30)
            err = (resp.get("error") or {}).get("message", "")
            T.check("result" in resp and CUT not in err, f"{uri}: read, not refused: {err[:200]}")


if __name__ == "__main__":
    T.main()
