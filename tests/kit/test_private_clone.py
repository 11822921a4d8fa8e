#!/usr/bin/env python3
"""The tests that drop privileges, from a checkout only root can enter.

A newcomer who clones as root into /root (0700 on Debian) and runs
scripts/test used to get two failures: the tests that start the daemon as
nobody ran it from the build tree, which nobody cannot reach (issue 20).
Those tests now copy what the dropped user needs into a directory it can
reach (tests/lib/mcp_client.py, unprivileged()). This test proves it the
way the newcomer would meet it: the working tree (tracked files and new
ones not ignored) is copied into a fresh 0700 directory, configured and
built there as scripts/build does, and the privilege-dropping tests run
from that build. Needs root, git and meson (77 otherwise).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from smcp_test import SKIP, Checker  # noqa: E402

T = Checker("kit/private-clone")
# every test that starts the daemon as another user
DROPPING = ["event-lister-unprivileged", "bpf-inventory-unprivileged",
            "sched-latency-unprivileged", "plugin_sysstat_metrics", "perf_profiler_root",
            "privileges"]


def run(cmd, timeout, cwd=None):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if p.returncode != 0:
        print(f"$ {' '.join(cmd)}\n{p.stdout[-4000:]}{p.stderr[-4000:]}", file=sys.stderr)
    return p, time.monotonic() - t0


@T.case
def test_privilege_dropping_tests_from_a_0700_home():
    home = tempfile.mkdtemp(prefix="smcp-home-")
    try:
        os.chmod(home, 0o700)
        tree = os.path.join(home, "schedmcp")
        files = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], capture_output=True, check=True).stdout
        for rel in filter(None, files.decode().split("\0")):
            src = os.path.join(SRC, rel)
            if not os.path.lexists(src):
                continue  # deleted in the working tree
            dst = os.path.join(tree, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
        build = os.path.join(tree, "build")
        p, dt = run(["meson", "setup", build, "-Dwerror=true", "--buildtype=debugoptimized"],
                    300, cwd=tree)
        if not T.eq(p.returncode, 0, "meson setup in the 0700 checkout"):
            return
        p, dt = run(["ninja", "-C", build], 1200)
        print(f"  built in {dt:.0f} s under {home} (mode 0700)")
        if not T.eq(p.returncode, 0, "ninja in the 0700 checkout"):
            return
        p, dt = run(["meson", "test", "-C", build, "--no-rebuild", "--print-errorlogs"] +
                    DROPPING, 900)
        summary = [ln for ln in p.stdout.splitlines() if "/" in ln and "schedmcp:" in ln]
        for ln in summary:
            print("  " + ln.strip())
        T.eq(p.returncode, 0, "the privilege-dropping tests pass from a checkout nobody can enter")
        for name in DROPPING:
            line = [ln for ln in summary if ln.split("/")[-1].split()[0] == name]
            T.check(line and " OK " in line[0], f"{name} ran and passed: {line}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("kit/private-clone: not root; the tests it runs drop root's privileges")
        sys.exit(SKIP)
    if not shutil.which("git") or not shutil.which("meson") or \
            not os.path.isdir(os.path.join(SRC, ".git")):
        print("kit/private-clone: needs git, meson and a git checkout")
        sys.exit(SKIP)
    T.main()
