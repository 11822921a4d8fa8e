#!/usr/bin/env python3
"""Every plugin exports exactly one dynamic symbol: schedmcp_plugin_entry.

argv: plugin modules (the built plugins and the ABI fixtures). Also scans
$SMCP_BUILD_DIR/plugins and tests/integration for any .so the list missed. abi_no_entry.so is the
deliberate exception: it must export no schedmcp_plugin_entry at all.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, SKIP, Checker  # noqa: E402

T = Checker("abi/exported-symbols")
ENTRY = "schedmcp_plugin_entry"
NM = shutil.which("nm")


def defined_dynamic(path):
    r = subprocess.run([NM, "-D", "--defined-only", path], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"nm failed on {path}: {r.stderr}")
    syms = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            syms.append((parts[1], parts[2]))
        elif len(parts) == 2:
            syms.append((parts[0], parts[1]))
    return syms


def all_modules():
    mods = {os.path.realpath(p) for p in sys.argv[1:] if p.endswith(".so")}
    # the built plugins, and the integration suite's test plugin
    for root in [os.path.join(BUILD, "plugins"), os.path.join(BUILD, "tests", "integration")]:
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f.endswith(".so"):
                    mods.add(os.path.realpath(os.path.join(dirpath, f)))
    return sorted(mods)


@T.case
def test_one_symbol_each():
    mods = all_modules()
    T.check(len(mods) >= 2, f"found plugin modules to check: {mods}")
    T.check(any("/plugins/" in m for m in mods), f"the built plugins are among them: {mods}")
    for m in mods:
        syms = defined_dynamic(m)
        names = [n for _, n in syms]
        if os.path.basename(m) == "abi_no_entry.so":
            T.check(ENTRY not in names, f"{m}: the no-entry fixture really has no entry: {names}")
            continue
        T.eq(names, [ENTRY], f"{os.path.relpath(m, BUILD)} exports")
        T.check(all(t == "T" for t, _ in syms), f"{m}: the entry is a text symbol: {syms}")


if __name__ == "__main__":
    if not NM:
        print("nm not found")
        sys.exit(SKIP)
    T.main()
