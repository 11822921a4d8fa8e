"""event_lister against fixture trees (--fs-root): tracepoint catalog,
pagination, filters, formats, completion, both kernel-function sources and
the degraded state. Runs unprivileged; suite 'plugins'."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ["SMCP_SOURCE_DIR"], "tests", "lib"))
import mcp_client  # noqa: E402
from smcp_test import Checker  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
C = Checker("event_lister/fixture")
check = C.check


def client(fixture):
    return mcp_client.Client(["--enable", "event_lister", "--fs-root", os.path.join(FIX, fixture),
                              "--log-level", "error"])


def tool(c, name, args):
    r = c.call_tool(name, args)
    res = r["result"]
    C.small(r, f"{name} {args} answer")
    return res


def read(c, uri):
    r = c.read(uri)
    if "error" in r:
        return None, r["error"]
    C.small(r, uri)
    return json.loads(r["result"]["contents"][0]["text"]), None


def plugin_state(c):
    d, _ = read(c, "schedmcp://plugins")
    for p in d["plugins"]:
        if p["name"] == "event_lister":
            return p
    return None


def fixture_events():
    """What available_events holds: unique subsystem:event lines."""
    seen = set()
    for line in open(os.path.join(FIX, "ftrace/sys/kernel/tracing/available_events")):
        line = line.strip()
        if ":" in line and not line.startswith(":") and not line.endswith(":"):
            seen.add(line)
    return seen


def test_tracepoints():
    expected = fixture_events()
    with client("ftrace") as c:
        st = plugin_state(c)
        check(st and st["state"] == "loaded", f"plugin loaded: {st}")
        d, err = read(c, "events://perf")
        check(err is None, f"events://perf read: {err}")
        check(d["total_events"] == len(expected), f"total_events {d['total_events']} == {len(expected)}")
        check(d["source"]["lines"] == len(expected) + 2, "lines counts the duplicate and malformed lines")
        check(d["source"]["duplicate_lines"] == 1 and d["source"]["malformed_lines"] == 1,
              "duplicate and malformed lines reported")
        check(d["source"]["file"] == "/sys/kernel/tracing/available_events", "source file named")
        subs = {s["subsystem"]: s["count"] for s in d["subsystems"]}
        check(subs == {"a1": 1, "irq": 5, "sched": 8, "sched_ext": 1, "syscalls": 30, "timer": 4},
              f"subsystem counts {subs}")
        check(sum(subs.values()) == d["total_events"], "subsystem counts add up to the total")
        check([s["subsystem"] for s in d["subsystems"]] == sorted(subs), "subsystems sorted by name")
        check("sched:sched_switch" in d["sched_events"], "sched events inline")

        # every event exactly once across pages, in name order
        got, offset, pages = [], 0, 0
        while True:
            res = tool(c, "list_events", {"event_type": "perf", "limit": 7, "offset": offset})
            s = res["structuredContent"]
            check(not res["isError"], "page ok")
            got += s["events"]
            pages += 1
            check(s["total_count"] == len(expected), "total_count stable across pages")
            if not s["has_more"]:
                check("next_offset" not in s, "no next_offset on the last page")
                break
            check(s["next_offset"] == offset + 7 and "offset" in s["note"], "next_offset and a note say how to go on")
            offset = s["next_offset"]
        check(len(got) == len(set(got)) and set(got) == expected, "pagination returns every event exactly once")
        check(got == sorted(got), "events sorted")
        check(pages == (len(expected) + 6) // 7, f"{pages} pages")

        res = tool(c, "list_events", {"subsystem": "sched", "filter": "SWITCH|wakeup$"})
        check(res["structuredContent"]["events"] == ["sched:sched_switch", "sched:sched_wakeup"],
              f"case-insensitive regex within a subsystem: {res['structuredContent']['events']}")
        res = tool(c, "list_events", {"filter": "^sched:"})
        check(res["structuredContent"]["total_count"] == 8, "filter also matches subsystem:event")
        res = tool(c, "list_events", {"filter": "exit_group", "limit": "5"})
        check(res["structuredContent"]["events"] == ["syscalls:sys_enter_exit_group", "syscalls:sys_exit_exit_group"],
              "literal filter, numeric string limit")
        res = tool(c, "list_events", {"offset": 1000})
        s = res["structuredContent"]
        check(s["returned_count"] == 0 and not s["has_more"] and "past the last" in s["note"], "offset past the end")

        # PCRE2's words and the position where it noticed the problem
        res = tool(c, "list_events", {"filter": "abc(def"})
        text = res["content"][0]["text"]
        check(res["isError"] and "missing closing parenthesis" in text and "end of the pattern (position 7" in text,
              f"invalid regex names the problem and position: {text}")
        res = tool(c, "list_events", {"filter": "ab)cd"})
        text = res["content"][0]["text"]
        check(res["isError"] and "unmatched closing parenthesis" in text and 'position 2 (0-based), where ")cd" begins' in text,
              f"error inside the pattern: {text}")
        res = tool(c, "list_events", {"filter": "a[b"})
        check(res["isError"] and "missing terminating ]" in res["content"][0]["text"], "bracket error")
        res = tool(c, "list_events", {"subsystem": "schedule"})
        text = res["content"][0]["text"]
        check(res["isError"] and "sched" in text and "Similar" in text, f"unknown subsystem suggests: {text}")
        res = tool(c, "list_events", {"limit": 5000})
        check(res["isError"] and "limit" in res["content"][0]["text"], "limit bound enforced by the schema")

        res = tool(c, "list_events", {"subsystem": "sched", "include_format": True, "limit": 50})
        s = res["structuredContent"]
        check(s["limit"] == 10 and s["returned_count"] == 8, "include_format caps the page at 10")
        fm = {f["event"]: f for f in s["formats"]}
        sw = fm["sched:sched_switch"]
        check(sw["id"] == 372 and sw["bpftrace"] == "tracepoint:sched:sched_switch", "format id and probe")
        check([(f["name"], f["type"], f["offset"], f["size"], f["signed"]) for f in sw["fields"]] ==
              [("prev_comm", "char[16]", 8, 16, False), ("prev_pid", "pid_t", 24, 4, True),
               ("prev_prio", "int", 28, 4, True), ("prev_state", "long", 32, 8, True),
               ("next_comm", "char[16]", 40, 16, False), ("next_pid", "pid_t", 56, 4, True),
               ("next_prio", "int", 60, 4, True)], f"sched_switch fields {sw['fields']}")
        check(sw["common_fields"] == ["common_type", "common_flags", "common_preempt_count", "common_pid"],
              "common fields listed apart")
        check("error" in fm["sched:sched_waking"], "missing format file is reported per event")

        d, err = read(c, "events://perf/irq/irq_handler_entry")
        f = d["format"]
        check(f["fields"][1] == {"name": "name", "type": "__data_loc char[]", "offset": 12, "size": 4,
                                 "signed": False}, f"__data_loc field {f['fields']}")
        check(f["print_fmt"].startswith('"irq=%d'), "print_fmt in the single-event resource")
        d, err = read(c, "events://perf/syscalls")
        check(d["count"] == 30 and len(d["events"]) == 30 and not d["has_more"], "one subsystem's events")
        d, err = read(c, "events://perf/nosuch")
        check(d is None and err["code"] == -32002, f"unknown subsystem is resource-not-found: {err}")
        d, err = read(c, "events://perf/sched/nosuch")
        check(d is None and err["code"] == -32002, "unknown event is resource-not-found")
        d, err = read(c, "events://perf/sched/..")
        check(d is None, "path components are refused")

        r = c.request("completion/complete", {"ref": {"type": "ref/resource", "uri": "events://perf/{subsystem}"},
                                               "argument": {"name": "subsystem", "value": "s"}})
        check(r["result"]["completion"]["values"] == ["sched", "sched_ext", "syscalls"], f"subsystem completion {r}")
        r = c.request("completion/complete", {"ref": {"type": "ref/resource", "uri": "events://perf/{subsystem}/{event}"},
                                               "argument": {"name": "event", "value": "sched_wak"},
                                               "context": {"arguments": {"subsystem": "sched"}}})
        check(r["result"]["completion"]["values"] == ["sched_wakeup", "sched_wakeup_new", "sched_waking"],
              f"event completion uses the subsystem in context: {r}")

        res = tool(c, "list_event_subsystems", {"event_type": "perf"})
        s = res["structuredContent"]
        check(s["perf_subsystems"]["count"] == 6 and s["perf_subsystems"]["event_counts"]["syscalls"] == 30
              and "kprobe_info" not in s, "list_event_subsystems perf")


def test_kprobes_from_ftrace():
    with client("ftrace") as c:
        d, err = read(c, "events://kprobe")
        check(err is None, f"events://kprobe: {err}")
        check(d["source"]["name"] == "available_filter_functions", "ftrace source used when readable")
        check(d["excluded"]["kprobe_blacklist"] == 2 and "applied" in d["source"]["blacklist"],
              f"blacklist subtracted: {d['excluded']} {d['source']['blacklist']}")
        check(d["excluded"]["invalid_addresses"] == 1 and d["excluded"]["duplicate_names"] == 1,
              f"invalid and duplicate entries dropped: {d['excluded']}")
        check(d["total_functions"] == 20, f"total {d['total_functions']}")
        mods = {m["module"]: m["count"] for m in d["modules"]}
        check(mods == {"ext4": 4, "vmlinux": 15, "xfs": 1}, f"modules {mods}")
        check(d["kprobes"]["kernel_has_kprobes"] and d["kprobes"]["tracefs_kprobe_events"], "kprobe support seen")
        check("nmi_handle" not in d["functions"] and "schedule" in d["functions"], "blacklisted names gone")
        check("update_curr [ext4]" in d["functions"] and "update_curr" in d["functions"],
              "same name in two modules kept apart")

        res = tool(c, "list_events", {"event_type": "kprobe", "subsystem": "ext4"})
        s = res["structuredContent"]
        check(s["events"] == ["ext4_file_read_iter [ext4]", "ext4_file_write_iter [ext4]",
                              "ext4_sync_file [ext4]", "update_curr [ext4]"], f"module filter {s['events']}")
        res = tool(c, "list_events", {"event_type": "kprobe", "filter": "^(try_to_wake|wake_up)"})
        check(res["structuredContent"]["events"] == ["try_to_wake_up", "wake_up_process"], "kprobe regex")
        res = tool(c, "list_events", {"event_type": "kprobe", "subsystem": "ext5"})
        check(res["isError"] and "ext4" in res["content"][0]["text"], "unknown module suggests")
        got, offset = [], 0
        while True:
            s = tool(c, "list_events", {"event_type": "kprobe", "limit": 3, "offset": offset})["structuredContent"]
            got += s["events"]
            if not s["has_more"]:
                break
            offset = s["next_offset"]
        check(len(got) == 20 and len(set(got)) == 20, "kprobe pages cover every function once")
        res = tool(c, "list_event_subsystems", {})
        s = res["structuredContent"]
        check(s["kprobe_info"]["function_counts"] == {"ext4": 4, "vmlinux": 15, "xfs": 1}
              and s["perf_subsystems"]["count"] == 6, "list_event_subsystems all")


def test_kallsyms_fallback():
    with client("kallsyms") as c:
        d, err = read(c, "events://perf")
        check(err is None and d["total_events"] == 3, f"tracefs under debugfs: {err}")
        check(d["source"]["file"] == "/sys/kernel/debug/tracing/available_events"
              and "debugfs" in d["source"]["found"], f"found through debugfs: {d and d['source']}")
        d, err = read(c, "events://kprobe")
        check(err is None, f"kallsyms read: {err}")
        check(d["source"]["name"] == "kallsyms" and "available_filter_functions" in d["source"]["detail"],
              f"says which source and why: {d['source']}")
        check(d["functions"] == ["enqueue_task_fair.cold", "ext4_file_read_iter [ext4]", "ext4_sync_file [ext4]",
                                 "register_kprobe", "schedule", "try_to_wake_up", "update_curr"],
              f"kallsyms functions {d['functions']}")
        ex = d["excluded"]
        check((ex["padding_symbols"], ex["non_probeable_sections"], ex["init_text"], ex["not_functions"],
               ex["duplicate_names"]) == (3, 2, 1, 3, 1), f"exclusions {ex}")
        check("not applied" in d["source"]["blacklist"], "blacklist absence said")
        check(d["kprobes"]["kernel_has_kprobes"] and not d["kprobes"]["tracefs_kprobe_events"]
              and "kprobe_events" in d["kprobes"]["note"], f"kprobe support note {d['kprobes']}")


def test_degraded():
    with client("none") as c:
        st = plugin_state(c)
        check(st["state"] == "degraded" and "tracefs" in (st["reason"] or ""), f"degraded with a reason: {st}")
        res = tool(c, "list_events", {})
        check(res["isError"] and "tracepoints unavailable" in res["content"][0]["text"], "tool error says why")
        d, err = read(c, "events://perf")
        check(d is None and "tracefs" in err["message"], f"read error says why: {err}")
        res = tool(c, "list_events", {"event_type": "kprobe"})
        check(res["isError"] and "kallsyms" in res["content"][0]["text"], "no function list: says which files")
        res = tool(c, "list_event_subsystems", {})
        s = res["structuredContent"]
        check("error" in s["perf_subsystems"] and "error" in s["kprobe_info"], "subsystems tool reports both errors")


for t in (test_tracepoints, test_kprobes_from_ftrace, test_kallsyms_fallback, test_degraded):
    t()
sys.exit(C.done())
