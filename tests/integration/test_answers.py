#!/usr/bin/env python3
"""What a model trips on in answers, with every plugin this build made:

- measured values carry at most 4 significant digits (ids and counts are
  integers, exact);
- reading an unknown id through a template (stats://process/999999,
  bpf://programs/999999) says why it failed and where the valid ids are;
- query_stats says for every URI whether it is served here, and by which
  plugin (none left null)."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Daemon  # noqa: E402

T = Checker("integration/answers")
PLUGINS = os.path.join(BUILD, "plugins")

READS = ["stats://system/cpu", "stats://system/memory", "stats://aggregated/cpu",
         "stats://aggregated/process", "topology://info", "bpf://programs",
         "scheduler://current", "schedmcp://plugins", "metrics://catalog"]
CALLS = [("get_system_stats", {"kind": "cpu"}), ("query_history", {"metric": "cpu_busy_pct"}),
         ("what_changed", {"window": "2s", "baseline": "2s"}), ("query_stats", {})]


def significant(text):
    """Significant digits of a number as JSON wrote it."""
    mant = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mant.rstrip("0")) if "." not in text.split("e")[0] else len(mant)


def fractions(raw):
    """The numbers with a fraction or exponent in a JSON text."""
    return [m.group(0) for m in re.finditer(
        r'(?<![\w."])-?\d+(\.\d+)?([eE][-+]?\d+)?(?![\w"])', raw)
        if "." in m.group(0) or "e" in m.group(0).lower()]


def body_text(resp):
    r = resp.get("result") or {}
    if "contents" in r:
        return r["contents"][0].get("text", "")
    return json.dumps(r.get("structuredContent", {}))


@T.case
def test_four_significant_digits():
    with Daemon(plugin_dir_=PLUGINS) as d:
        time.sleep(2.5)  # a few history steps and windows
        for uri in READS:
            resp = d.request("resources/read", {"uri": uri}, timeout=20)
            if "error" in resp:
                continue  # not served here: another test's business
            long_ = [x for x in fractions(body_text(resp)) if significant(x) > 4]
            T.check(not long_, f"{uri}: at most 4 significant digits: {long_[:5]}")
        for name, args in CALLS:
            resp = d.call_tool(name, args, timeout=20)
            if (resp.get("result") or {}).get("isError"):
                continue
            long_ = [x for x in fractions(body_text(resp)) if significant(x) > 4]
            T.check(not long_, f"{name}: at most 4 significant digits: {long_[:5]}")


@T.case
def test_unknown_ids_say_why():
    with Daemon(plugin_dir_=PLUGINS) as d:
        for uri, lists in [("stats://process/999999", "stats://aggregated/process"),
                           ("bpf://programs/999999", "bpf://programs"),
                           ("events://perf/nosuch", "events://perf"),
                           ("history://no_such_metric", "metrics://catalog")]:
            resp = d.request("resources/read", {"uri": uri}, timeout=20)
            err = resp.get("error") or {}
            served = (d.request("resources/templates/list")["result"]["resourceTemplates"])
            if not any(t["uriTemplate"].split("{")[0] in uri for t in served):
                continue  # the plugin is not loaded here
            T.check(err.get("code") == -32002 and lists in err.get("message", "") and
                    "reason" in err.get("data", {}),
                    f"{uri}: not found, why, and where the valid ids are: {err}")


@T.case
def test_query_stats_availability():
    with Daemon(plugin_dir_=PLUGINS) as d:
        r = d.call_tool("query_stats", {})["result"]["structuredContent"]
        listed = {x["uri"] for x in d.request("resources/list")["result"]["resources"]}
        for e in r["resources"]:
            T.check(isinstance(e["available"], bool),
                    f"{e['uri']}: available is true or false: {e}")
            if e["uri"] in listed:
                T.check(e["plugin"] and (e["available"] or e.get("reason")),
                        f"{e['uri']}: served here, by whom (or why not): {e}")
            else:
                T.check(e["available"] is False and e.get("reason"),
                        f"{e['uri']}: not served, and says so: {e}")


if __name__ == "__main__":
    T.main()
