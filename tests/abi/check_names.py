#!/usr/bin/env python3
"""Every function or variable a core file or a plugin file shares with other
files carries its file's prefix (STYLE.md: <file>_<verb> in the core), so a
reader who meets qacc_add or round_sig knows where to look. Plugins may use
their plugin's prefix instead (pp_, sl_, sx_, inv_, el_), which their files
share.

Reads the global symbols of the objects meson built: the core library's and
each plugin's. PENDING lists the names not renamed yet because their files
are being rewritten elsewhere; a new bare name fails.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Skip  # noqa: E402

T = Checker("abi/names")
NM = shutil.which("nm")

# the prefix every file of a plugin may use
PLUGIN_PREFIX = {
    "perf_profiler": "pp_",
    "sched_latency": "sl_",
    "scx_stats": "sx_",
    "bpf_inventory": "inv_",
    "event_lister": "el_",
}

# Not renamed yet: their files are being rewritten on other branches (issue
# 17). Whoever finishes there renames them and empties the entry.
PENDING = {
    # used by core/prompts.c, mcp/server.c
    "host.c": {"plugin_state_name"},
    "util.c": {"utf8_valid"},
    "result.c": {"json_string_node"} | {"api_" + n for n in (
        "arg_bool arg_double arg_int arg_string json_array json_bool json_double json_end "
        "json_int json_null json_object json_raw json_string json_uint result_audio "
        "result_blob result_description result_embedded_blob result_embedded_text "
        "result_error result_image result_json result_resource_link result_role "
        "result_text result_textf").split()},
    "prompts.c": {"pb_add", "pb_free", "pb_missing", "pb_missing_list", "pb_step", "pr_prompt",
                  "pr_res", "pr_sched_ext", "pr_tool", "pr_tpl"},
    "prompts_flows.c": {"flow_imbalance", "flow_latency", "flow_performance", "flow_profile",
                        "flow_regression", "flow_scheduler", "flow_summary"},
    "server.c": {"mcp_session_count_dropped", "mcp_session_free", "mcp_session_handle_line",
                 "mcp_session_line_too_long", "mcp_session_new", "mcp_session_no",
                 "mcp_session_observe", "mcp_session_stats"},
    # plugins/event_lister (workers moving its long work)
    "el_util.c": {"strtab_add", "strtab_free"},
    "kfuncs.c": {"kf_list_free", "kf_list_read", "kf_module_index", "kf_source_name"},
    "tracefs.c": {"ev_catalog_free", "ev_catalog_read", "ev_catalog_subsys", "ev_event_part",
                  "ev_format_free", "ev_format_read"},
    # sched_latency's private history window (issue 17: one history engine)
    "sl_window.c": {"slw_free", "slw_init", "slw_result_alloc", "slw_result_find",
                    "slw_result_fold", "slw_result_free", "slw_result_from_inputs",
                    "slw_result_sort", "slw_tick", "slw_visit_since", "slw_window_last",
                    "slw_window_since"},
}


def globals_of(obj):
    r = subprocess.run([NM, "--defined-only", "-g", obj], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"nm failed on {obj}: {r.stderr}")
    return [p[2] for p in (line.split() for line in r.stdout.splitlines())
            if len(p) == 3 and p[1] in "TDBRCVW"]


def source_of(obj):
    """core/libsmcp-core.a.p/.._mcp_server.c.o -> server.c"""
    name = os.path.basename(obj)[:-len(".o")]
    return re.sub(r"^(\.\._)+(\w+_)?", "", name) if name.startswith(".._") else name


def check(obj, allowed):
    src = source_of(obj)
    stem = src[:-len(".c")]
    for sym in globals_of(obj):
        if sym == "schedmcp_plugin_entry" or sym.startswith(stem + "_") or sym == stem:
            continue
        if any(sym.startswith(p) for p in allowed):
            continue
        T.check(sym in PENDING.get(src, ()), f"{obj}: '{sym}' does not start with '{stem}_'"
                + (f" or {' '.join(allowed)}" if allowed else ""))


@T.case
def test_core():
    if not NM:
        raise Skip("nm not found")
    objs = sorted(glob.glob(os.path.join(BUILD, "core", "libsmcp-core.a.p", "*.o")))
    T.check(len(objs) > 30, f"found the core's objects ({len(objs)})")
    for o in objs:
        # mcp/ is its own layer: mcp_<file>_, or the file's own name
        allowed = ["mcp_server_"] if source_of(o) == "server.c" else []
        check(o, allowed)


@T.case
def test_plugins():
    if not NM:
        raise Skip("nm not found")
    n = 0
    for d in sorted(glob.glob(os.path.join(BUILD, "plugins", "*"))):
        plugin = os.path.basename(d)
        objs = [o for o in glob.glob(os.path.join(d, "*.p", "*.o"))
                if not os.path.basename(os.path.dirname(o)).startswith("perf-")]  # benches
        prefix = PLUGIN_PREFIX.get(plugin)
        for o in sorted(objs):
            n += 1
            check(o, [prefix] if prefix else [])
    T.check(n > 20, f"found the plugins' objects ({n})")


if __name__ == "__main__":
    T.main()
