#!/usr/bin/env python3
"""Each plugin .so exports exactly one symbol, the ABI entry point.
Arguments: the plugin names this build has."""
import os
import subprocess
import sys

from plugtest import Checker, plugin_so

ck = Checker()
for name in sys.argv[1:]:
    path = plugin_so(name)
    if not os.path.exists(path):
        continue  # a plugin of another engineer's folder layout: its own test checks it
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                         text=True, check=True).stdout
    syms = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
    ck.eq(syms, ["schedmcp_plugin_entry"], name + " exports")
sys.exit(ck.done())
