#!/usr/bin/env python3
"""Plugins are loaded only from root-owned paths that others cannot write.

argv: the ABI fixture .so files (abi_good.so is used). Needs root (the
daemon's own rule: the plugin and every directory above it owned by root
or the daemon's user); exits 77 otherwise.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (SKIP, Checker, Daemon, Skip, is_root, plugin_dir,  # noqa: E402
                       run_cli)

T = Checker("abi/permissions")
FIX = {os.path.basename(p)[:-3]: p for p in sys.argv[1:] if p.endswith(".so")}
NOBODY = 65534


def state_of(d, name="abi_good"):
    r = run_cli(["--list-plugins", "--json"], d)
    T.eq(r.returncode, 0, f"--list-plugins still works: {r.stderr[-800:]}")
    for p in json.loads(r.stdout)["plugins"]:
        if p["name"] == name:
            return p["state"], p.get("reason") or ""
    return None, ""


def expect_refused(d, needles, what):
    state, reason = state_of(d)
    T.eq(state, "refused", f"{what}: state (reason {reason!r})")
    for n in needles:
        T.check(n in reason, f"{what}: reason mentions {n!r}: {reason!r}")


@T.case
def test_baseline_loads():
    d = plugin_dir([FIX["abi_good"]])
    T.eq(state_of(d)[0], "loaded", "a root-owned 0755 dir and file load")


@T.case
def test_group_writable_dir():
    d = plugin_dir([FIX["abi_good"]])
    os.chmod(d, 0o775)
    expect_refused(d, ["writable by its group", d], "group-writable directory")
    # and the daemon still serves, with the refusal in the status resource
    with Daemon(plugin_dir_=d) as c:
        st = {p["name"]: p for p in c.read_json("schedmcp://plugins")["plugins"]}
        T.eq(st.get("abi_good", {}).get("state"), "refused", "schedmcp://plugins shows refused")
        T.check("writable" in (st.get("abi_good", {}).get("reason") or ""), "with the reason")
        T.check("result" in c.request("ping"), "still serves")


@T.case
def test_other_writable_dir():
    d = plugin_dir([FIX["abi_good"]])
    os.chmod(d, 0o757)
    expect_refused(d, ["writable by others"], "other-writable directory")
    os.chmod(d, 0o1777)  # sticky, but not owned... it is root's: /tmp-like is allowed
    state, reason = state_of(d)
    T.eq(state, "loaded", f"a root-owned sticky directory is like /tmp: {reason}")


@T.case
def test_writable_file():
    d = plugin_dir([FIX["abi_good"]])
    so = os.path.join(d, "abi_good.so")
    os.chmod(so, 0o757)
    expect_refused(d, ["writable by others", "abi_good.so"], "other-writable file")
    os.chmod(so, 0o775)
    expect_refused(d, ["writable by its group"], "group-writable file")


@T.case
def test_not_owned_by_root():
    if not is_root():
        raise Skip("needs root to chown")
    d = plugin_dir([FIX["abi_good"]])
    so = os.path.join(d, "abi_good.so")
    os.chown(so, NOBODY, NOBODY)
    expect_refused(d, [f"uid {NOBODY}", "not root"], "file owned by nobody")
    os.chown(so, 0, 0)
    os.chown(d, NOBODY, NOBODY)
    expect_refused(d, [f"uid {NOBODY}"], "directory owned by nobody")


@T.case
def test_symlink_into_untrusted_dir():
    trusted = plugin_dir()
    untrusted = plugin_dir([FIX["abi_good"]])
    os.chmod(untrusted, 0o777)
    os.symlink(os.path.join(untrusted, "abi_good.so"), os.path.join(trusted, "abi_good.so"))
    expect_refused(trusted, ["writable by others", untrusted], "symlink to an untrusted file")


@T.case
def test_nested_layout_checked_too():
    d = plugin_dir(nested=[FIX["abi_nested"]])
    os.chmod(os.path.join(d, "abi_nested"), 0o777)
    state, reason = state_of(d, "abi_nested")
    T.eq(state, "refused", f"DIR/x/x.so under a world-writable x/: {reason}")


if __name__ == "__main__":
    if not is_root():
        print("abi/permissions: not root; the loader's ownership rules need root to test")
        sys.exit(SKIP)
    T.main()
