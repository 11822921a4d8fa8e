#!/usr/bin/env python3
"""What tools/list costs a model: the default build's answer (protocol
2025-11-25) stays within BUDGET bytes, since a model reads it before every
conversation; every tool says in a description what it is for; and making
the text short lost no constraint of any argument (RECORDED: each input
schema without its descriptions)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Daemon, result  # noqa: E402

T = Checker("integration/tool-budget")

# bytes of the tools/list answer lines (all pages), newline excluded
BUDGET = 15000

# Every tool of the default build: top-level keywords of its input schema
# other than type and properties, and each property without description.
# A change here is a change of what a model may send: make it on purpose.
RECORDED = {
    "poll_events": ({"additionalProperties": False}, {
        "cursor": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "type": {"type": "string", "maxLength": 47},
    }),
    "query_history": ({"additionalProperties": False}, {
        "metric": {"type": "string", "maxLength": 63},
        "labels": {"type": "string", "maxLength": 200},
        "group_by": {"type": "string", "maxLength": 100},
        "start": {"type": ["string", "number"], "default": "-15m"},
        "end": {"type": ["string", "number"]},
        "step": {"type": ["string", "number"]},
        "stats": {"type": "string", "maxLength": 60},
        "agg": {"type": "string", "enum": ["sum", "avg", "max", "min"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        "format": {"type": "string", "enum": ["png"]},
    }),
    "what_changed": ({"additionalProperties": False}, {
        "window": {"type": ["string", "number"], "default": "5m"},
        "baseline": {"type": ["string", "number"], "default": "1h"},
        "end": {"type": ["string", "number"]},
        "metric": {"type": "string", "maxLength": 63},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
    }),
    "watch_create": ({"required": ["metric", "condition"], "additionalProperties": False}, {
        "metric": {"type": "string", "maxLength": 63},
        "condition": {"type": "string", "maxLength": 80},
        "labels": {"type": "string", "maxLength": 200},
        "agg": {"type": "string", "enum": ["sum", "avg", "max", "min"]},
        "for_secs": {"type": "number", "minimum": 0, "maximum": 86400, "default": 10},
        "window_secs": {"type": "number", "minimum": 0, "maximum": 900, "default": 10},
        "clear_secs": {"type": "number", "minimum": 0, "maximum": 86400},
        "hysteresis_pct": {"type": "number", "minimum": 0, "maximum": 100, "default": 10},
        "min_samples": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 20},
        "name": {"type": "string", "maxLength": 60},
    }),
    "trace_record": ({"additionalProperties": False}, {
        "action": {"enum": ["record", "start", "stop", "status"]},
        "id": {"type": "string", "maxLength": 64},
        "duration_s": {"type": "integer", "minimum": 1, "maximum": 3600},
        "max_mb": {"type": "integer", "minimum": 1, "maximum": 65536},
        "stack_hz": {"type": "integer", "minimum": 0, "maximum": 1000},
    }),
    "watch_delete": ({"required": ["id"], "additionalProperties": False}, {
        "id": {"type": "integer", "minimum": 1},
    }),
    "watch_status": ({"additionalProperties": False}, {
        "cursor": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
    }),
    "control_stats_collection": ({"additionalProperties": False, "required": ["action"]}, {
        "action": {"type": "string", "enum": ["start", "stop", "status", "sample"]},
        "interval_ms": {"type": "integer", "minimum": 100, "maximum": 60000},
        "duration_s": {"type": "integer", "minimum": 0, "maximum": 86400},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50},
    }),
    "list_event_subsystems": ({"additionalProperties": False}, {
        "event_type": {"type": "string", "enum": ["all", "perf", "tracepoint", "kprobe"]},
    }),
    "list_events": ({"additionalProperties": False}, {
        "event_type": {"type": "string", "enum": ["perf", "tracepoint", "kprobe"]},
        "subsystem": {"type": "string", "maxLength": 128},
        "filter": {"type": "string", "maxLength": 256},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "offset": {"type": "integer", "minimum": 0},
        "include_format": {"type": "boolean"},
    }),
    "start_perf_profiling": ({"additionalProperties": False}, {
        "event": {"type": "string"},
        "frequency_hz": {"type": "integer"},
        "freq": {"type": "integer"},
        "cpu": {"type": "integer"},
        "pid": {"type": "integer"},
        "max_samples": {"type": "integer"},
        "duration_secs": {"type": "number"},
        "unwind": {"type": "string", "enum": ["auto", "fp"]},
        "wait": {"type": "boolean"},
    }),
    "stop_perf_profiling": ({}, {}),
    "get_perf_results": ({"additionalProperties": False}, {
        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
        "offset": {"type": "integer", "minimum": 0},
        "include_stacks": {"type": "boolean"},
        "group_by": {"type": "string", "enum": ["symbol", "stack", "process", "cpu"]},
        "format": {"type": "string", "enum": ["json", "folded", "png"]},
        "pid": {"type": "integer"},
        "symbol": {"type": "string"},
        "wait": {"type": "boolean"},
    }),
    "perf_stat": ({"additionalProperties": False}, {
        "action": {"type": "string", "enum": ["start", "read", "stop"]},
        "duration_s": {"type": "number", "minimum": 0.1, "maximum": 600},
        "pid": {"type": "integer", "minimum": 1},
        "events": {"type": "string", "enum": ["auto", "hardware", "software"]},
    }),
    "measure_latency": ({"additionalProperties": False}, {
        "duration_s": {"type": "integer", "minimum": 1, "maximum": 60, "default": 5},
        "window": {"type": "string", "enum": ["1s", "10s", "60s", "since_start"]},
        "pid": {"type": "integer", "minimum": 1},
        "cpu": {"type": "integer", "minimum": 0},
        "cgroup": {"type": "string", "maxLength": 255},
        "group_by": {"type": "string",
                     "enum": ["none", "cpu", "llc", "node", "process", "thread"]},
        "sort": {"type": "string", "enum": ["wait_time", "p99", "p50", "mean", "waits",
                                            "switches", "wakeups", "migrations", "run_time"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "offset": {"type": "integer", "minimum": 0},
        "histogram": {"type": "boolean"},
    }),
    "diagnose_cgroup": ({"additionalProperties": False, "required": ["cgroup"]}, {
        "cgroup": {"type": "string", "maxLength": 511},
        "duration_s": {"type": "integer", "minimum": 1, "maximum": 30},
    }),
    "control_event_tracking": ({"additionalProperties": False, "required": ["action"]}, {
        "action": {"type": "string", "enum": ["enable", "disable", "status"]},
        "types": {"type": "string", "maxLength": 100},
        "pid": {"type": "integer", "minimum": 1},
        "cpu": {"type": "integer", "minimum": 0},
        "min_latency_us": {"type": "number", "minimum": 0},
        "max_events_per_s": {"type": "integer", "minimum": 1, "maximum": 100000},
    }),
    "analyze_waker_wakee": ({"additionalProperties": False}, {
        "duration_s": {"type": "integer", "minimum": 1, "maximum": 30},
        "by": {"type": "string", "enum": ["process", "thread"]},
        "mode": {"type": "string", "enum": ["frequency", "critical", "latency", "bidirectional",
                                           "for_pid", "summary"]},
        "pid": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "offset": {"type": "integer", "minimum": 0},
    }),
    "analyze_softirq": ({"additionalProperties": False}, {
        "duration_s": {"type": "integer", "minimum": 1, "maximum": 30},
        "mode": {"type": "string", "enum": ["summary", "by_type", "by_cpu", "by_process"]},
        "softirq_nr": {"type": "integer", "minimum": 0, "maximum": 9},
        "pid": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "offset": {"type": "integer", "minimum": 0},
    }),
    "query_stats": ({"additionalProperties": False}, {
        "stat_type": {"type": "string",
                      "enum": ["all", "cpu", "llc", "node", "dsq", "process", "scheduler",
                               "system", "topology", "memory", "network", "events", "bpf",
                               "profiling"]},
    }),
    "sample_scheduler_stats": ({"additionalProperties": False}, {
        "duration_s": {"type": "integer", "minimum": 1, "maximum": 300, "default": 10},
        "interval_ms": {"type": "integer", "minimum": 100, "maximum": 60000, "default": 1000},
        "target": {"type": "string", "maxLength": 64, "default": "top"},
        "fields": {"type": "string", "maxLength": 256},
        "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 60},
    }),
    "get_system_stats": ({"additionalProperties": False}, {
        "kind": {"type": "string", "enum": ["cpu", "memory", "network"]},
        "window": {"type": "string", "enum": ["1s", "10s", "60s", "since_start"]},
        "cpus": {"type": "string"},
        "offset": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1, "maximum": 128},
    }),
    "trace_load": ({"required": ["file"], "additionalProperties": False}, {
        "file": {"type": "string", "maxLength": 255},
    }),
    "trace_unload": ({"required": ["file"], "additionalProperties": False}, {
        "file": {"type": "string", "maxLength": 255},
    }),
    "trace_analyze": ({"required": ["file"], "additionalProperties": False}, {
        "file": {"type": "string", "maxLength": 255},
        "analysis": {"type": "string",
                     "enum": ["summary", "states", "latency", "preemptions", "wakeups",
                              "critical_path", "migrations", "timeline", "thread_window",
                              "fairness", "outliers", "dsq", "samples"]},
        "tid": {"type": "integer", "minimum": 1},
        "pid": {"type": "integer", "minimum": 1},
        "cpu": {"type": "integer", "minimum": 0, "maximum": 4095},
        "t1_ns": {"type": "integer", "minimum": 0},
        "t2_ns": {"type": "integer", "minimum": 0},
        "group": {"type": "string", "enum": ["process", "thread", "cpu", "function", "stack"]},
        "cursor": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    }),
    "get_topology": ({"additionalProperties": False}, {
        "detail_level": {"type": "string", "enum": ["summary", "full"]},
        "include_offline": {"type": "boolean"},
        "cpus": {"type": "string"},
        "offset": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1, "maximum": 128},
    }),
}


def compact(x):
    return len(json.dumps(x, separators=(",", ":"), ensure_ascii=False).encode())


def without_descriptions(x):
    if isinstance(x, dict):
        return {k: without_descriptions(v) for k, v in x.items() if k != "description"}
    if isinstance(x, list):
        return [without_descriptions(v) for v in x]
    return x


_listed = None


def listed():
    """The default build's tools/list, as (answer bytes, tools), read once."""
    global _listed
    if _listed is None:
        tools, size, cursor = [], 0, None
        with Daemon(plugin_dir_=os.path.join(BUILD, "plugins"), protocol="2025-11-25") as d:
            while True:
                r = result(d.request("tools/list", {"cursor": cursor} if cursor else {}))
                size += len(d.last_raw.rstrip(b"\r\n"))
                tools += r["tools"]
                cursor = r.get("nextCursor")
                if not cursor:
                    break
        _listed = (size, tools)
    return _listed


@T.case
def test_answer_within_budget():
    size, tools = listed()
    print(f"    tools/list: {size} bytes for {len(tools)} tools (budget {BUDGET})")
    print(f"    {'bytes':>6} {'desc':>5} {'props':>5} {'input':>5} {'output':>6}  tool")
    for t in sorted(tools, key=lambda t: -compact(t)):
        props = t.get("inputSchema", {}).get("properties", {})
        prop_desc = sum(len(p.get("description", "")) for p in props.values())
        print(f"    {compact(t):6} {len(t.get('description', '')):5} {prop_desc:5} "
              f"{compact(t.get('inputSchema', {})):5} {compact(t.get('outputSchema', {})):6}  "
              f"{t['name']}")
    T.check(size <= BUDGET, f"tools/list is {size} bytes, over the budget of {BUDGET}: "
                            "say less in descriptions (or move shared guidance to the "
                            "plugin's instructions), keep the schemas")


@T.case
def test_every_tool_says_what_it_is():
    _, tools = listed()
    for t in tools:
        desc = t.get("description")
        T.check(isinstance(desc, str) and len(desc.strip()) >= 10,
                f"{t['name']}: a description a model can choose by: {desc!r}")


@T.case
def test_constraints_kept():
    _, tools = listed()
    by_name = {t["name"]: t for t in tools}
    missing = sorted(set(RECORDED) - set(by_name))
    T.eq(missing, [], "every recorded tool is in the default build")
    for name, (top, props) in RECORDED.items():
        if name not in by_name:
            continue
        schema = without_descriptions(by_name[name].get("inputSchema", {}))
        T.eq(schema.get("type"), "object", f"{name}: an object schema")
        got_top = {k: v for k, v in schema.items() if k not in ("type", "properties")}
        T.eq(got_top, top, f"{name}: required and additionalProperties")
        got = schema.get("properties", {})
        for prop, want in props.items():
            T.eq(got.get(prop), want, f"{name}.{prop}: its constraints")
    # tools and arguments added since the recording: each at least typed
    for name, t in by_name.items():
        known = RECORDED.get(name, ({}, {}))[1]
        for prop, p in t.get("inputSchema", {}).get("properties", {}).items():
            if prop not in known:
                print(f"    not recorded: {name}.{prop} {json.dumps(p)}")
                T.check("type" in p or "enum" in p, f"{name}.{prop}: a type")


if __name__ == "__main__":
    T.main()
