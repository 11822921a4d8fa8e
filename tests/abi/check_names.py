#!/usr/bin/env python3
"""Every function or variable a core file or a plugin file shares with other
files carries its file's prefix (STYLE.md: <file>_<verb> in the core), so a
reader who meets qacc_add or round_sig knows where to look. Plugins may use
their plugin's prefix instead (pp_, sl_, sx_, inv_, el_, tr_, ta_), which their files
share.

Reads the global symbols of the objects meson built: the core library's and
each plugin's. A bare name fails.
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
    "trace_record": "tr_",
    "trace_analysis": "ta_",
}

# Names waiting for a rename, by file: empty since issue 17's renames; a
# name put here must say why it cannot carry its file's prefix yet.
PENDING = {}


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
