#!/usr/bin/env python3
"""perf_profiler.so exports exactly the ABI entry point, and loads."""
import subprocess
import sys

from pptest import BUILD, PLUGIN_SO, Checker

ck = Checker()
ck.entry_only(PLUGIN_SO)
out = subprocess.run([BUILD + "/core/schedmcp", "--plugin-dir", BUILD + "/plugins",
                      "--enable", "perf_profiler", "--list-plugins"],
                     capture_output=True, text=True).stdout
line = [x for x in out.splitlines() if x.startswith("perf_profiler")]
ck.check(line and " loaded " in line[0], f"listed as loaded: {out}")
sys.exit(ck.done())
