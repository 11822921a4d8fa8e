#!/usr/bin/env python3
"""The plugin directory symlink race (issue 20, finding 1).

An unprivileged user owns att/ and swaps att/plugins, in a loop, between a
symlink to a trusted plugin directory and one to att/evil/, which holds a
library whose constructor creates a marker file. A loader that checks one
resolution of the path and loads another runs that constructor as root.
The loader must open every directory and the file once, down a checked
chain, and map the fd it checked: the marker must never appear, however
the race falls.

argv: the ABI fixture .so files (abi_good.so and abi_evil.so are used).
Needs root (to play both users); exits 77 otherwise.
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import SKIP, Checker, daemon_path, is_root  # noqa: E402

import subprocess  # noqa: E402

T = Checker("abi/plugin-race")
FIX = {os.path.basename(p)[:-3]: p for p in sys.argv[1:] if p.endswith(".so")}
NOBODY = 65534
# under ASan+UBSan each daemon start costs ten times more, and that pass
# looks for memory errors in the loader, not for the race: 50 runs there
RUNS = int(os.environ.get("SMCP_RACE_RUNS",
                          "50" if os.environ.get("SMCP_SANITIZED") == "1" else "200"))


class Scene:
    """top/ (root 0755): trusted/abi_good.so (root), att/ (nobody) with
    evil/abi_good.so (nobody's copy of the evil library), and the marker
    path the evil constructor creates."""

    def __init__(self):
        self.top = tempfile.mkdtemp(prefix="smcp-race-")
        os.chmod(self.top, 0o755)
        self.trusted = os.path.join(self.top, "trusted")
        os.mkdir(self.trusted, 0o755)
        shutil.copyfile(FIX["abi_good"], os.path.join(self.trusted, "abi_good.so"))
        os.chmod(os.path.join(self.trusted, "abi_good.so"), 0o755)
        self.att = os.path.join(self.top, "att")
        os.mkdir(self.att, 0o755)
        self.evil = os.path.join(self.att, "evil")
        os.mkdir(self.evil, 0o755)
        evil_so = os.path.join(self.evil, "abi_good.so")
        shutil.copyfile(FIX["abi_evil"], evil_so)
        os.chmod(evil_so, 0o755)
        for p in (self.att, self.evil, evil_so):
            os.chown(p, NOBODY, NOBODY)
        self.plugins = os.path.join(self.att, "plugins")
        self.mark = os.path.join(self.top, "evil-ran")

    def list_plugins(self, plugin_dir):
        env = dict(os.environ, SMCP_EVIL_MARK=self.mark)
        r = subprocess.run([daemon_path(), "--plugin-dir", plugin_dir, "--no-default-plugins",
                            "--list-plugins", "--json"], capture_output=True, text=True, env=env, timeout=30)
        try:
            plugins = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
        except (ValueError, KeyError):
            plugins = {}
        return r, plugins.get("abi_good", {})

    def close(self):
        shutil.rmtree(self.top, ignore_errors=True)


def swapper(scene):
    """Fork a process that, as nobody, swaps att/plugins between the two
    directories as fast as it can. Returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        tmp = scene.plugins + ".new"
        while True:
            for target in (scene.trusted, scene.evil):
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                os.symlink(target, tmp)
                os.rename(tmp, scene.plugins)
    finally:
        os._exit(0)


@T.case
def test_attacker_owned_directory_on_the_path():
    """No race needed: the path runs through a directory nobody owns, even
    though the symlink in it points at a trusted directory. A check of the
    resolved path alone (the old loader) never sees att/."""
    s = Scene()
    try:
        os.symlink(s.trusted, s.plugins)
        os.lchown(s.plugins, NOBODY, NOBODY)
        r, p = s.list_plugins(s.plugins)
        T.eq(r.returncode, 0, f"--list-plugins runs: {r.stderr[-500:]}")
        T.eq(p.get("state"), "refused", f"refused through att/ (reason {p.get('reason')!r})")
        T.check(f"uid {NOBODY}" in (p.get("reason") or ""),
                f"the reason names the owner: {p.get('reason')!r}")
    finally:
        s.close()


@T.case
def test_trusted_symlinks_are_followed():
    """A root-owned symlink in a root-owned directory (as /lib -> usr/lib on
    Debian) is part of a trusted path."""
    s = Scene()
    try:
        link = os.path.join(s.top, "link")
        os.symlink("trusted", link)
        r, p = s.list_plugins(link)
        T.eq(p.get("state"), "loaded", f"loaded through a root-owned link: {p.get('reason')!r}")
        r, p = s.list_plugins(os.path.join(link, "..", "trusted", ".", ""))
        T.eq(p.get("state"), "loaded", f"'..' and '.' in the path: {p.get('reason')!r}")
    finally:
        s.close()


@T.case
def test_swapped_symlink_never_loads_the_evil_library():
    s = Scene()
    pid = None
    try:
        os.symlink(s.trusted, s.plugins)
        os.lchown(s.plugins, NOBODY, NOBODY)
        pid = swapper(s)
        time.sleep(0.05)
        states = {}
        t0 = time.monotonic()
        runs = 0
        for i in range(RUNS):
            runs += 1
            r, p = s.list_plugins(s.plugins)
            states[p.get("state")] = states.get(p.get("state"), 0) + 1
            if os.path.exists(s.mark):
                T.check(False, f"run {i + 1}: the evil constructor ran as root")
                break
        dt = time.monotonic() - t0
        print(f"  {runs} runs in {dt:.1f} s against a swapping symlink: {states}")
        T.check(not os.path.exists(s.mark), "the evil library was never mapped")
        T.eq(states.get("loaded", 0), 0, "nothing loaded through the attacker's directory")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        s.close()


if __name__ == "__main__":
    if not is_root():
        print("abi/plugin-race: not root; playing the attacker and root needs root")
        sys.exit(SKIP)
    if "abi_good" not in FIX or "abi_evil" not in FIX:
        print("abi/plugin-race: abi_good.so and abi_evil.so are needed")
        sys.exit(SKIP)
    T.main()
