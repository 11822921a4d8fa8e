#!/usr/bin/env python3
"""perf_profiler.so exports exactly the ABI entry point, and loads."""
import subprocess

from pptest import BUILD, PLUGIN_SO, Checker

ck = Checker()
out = subprocess.run(["nm", "-D", "--defined-only", PLUGIN_SO], capture_output=True, text=True,
                     check=True).stdout
syms = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
ck.eq("exported symbols", syms, ["schedmcp_plugin_entry"])
out = subprocess.run([BUILD + "/core/schedmcp", "--plugin-dir", BUILD + "/plugins",
                      "--enable", "perf_profiler", "--list-plugins"],
                     capture_output=True, text=True).stdout
line = [x for x in out.splitlines() if x.startswith("perf_profiler")]
ck.ok("listed as loaded", line and " loaded " in line[0], out)
ck.done()
