#!/usr/bin/env python3
"""Which plugins load, as an operator says it (issue 17):

- --plugin-dir is a search path: repeatable, searched in order before the
  stock directory (kept unless --no-default-plugins); the first plugin of a
  name wins and a later one is refused, unopened, naming the first; a
  directory named twice is searched once; [core] plugin_dir replaces the
  stock directory;
- [core] plugins = a, b loads only those (commas and/or spaces), a plugin's
  own 'enabled' key still has the last word over it, --enable over both;
- a misspelt name in [core] plugins, --enable, --disable or a [plugin NAME]
  section is an error that offers the closest name.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test  # noqa: E402
from smcp_test import (Checker, Daemon, daemon_path, fixture, itest_dir, plugin_dir,  # noqa: E402
                       result, write_config)

T = Checker("integration/plugin-selection")


def cli(args, timeout=30):
    """The daemon with exactly these arguments (no helper adds a plugin
    directory or --no-default-plugins)."""
    return subprocess.run([daemon_path()] + list(args), capture_output=True, text=True,
                          timeout=timeout, input="", errors="replace")


def listed(args):
    r = cli(args + ["--list-plugins", "--json"])
    if r.returncode != 0:
        return r, {}
    out = {}
    for p in json.loads(r.stdout)["plugins"]:
        out.setdefault(p["name"], []).append(p)
    return r, out


def stock_plugin(name):
    """A plugin of this build (DIR/name/name.so), or skip."""
    return os.path.join(smcp_test.build_plugins(name), name, name + ".so")


@T.case
def test_search_path_order_and_first_wins():
    a = itest_dir()
    b = plugin_dir([fixture("itest")])
    r, got = listed(["--plugin-dir", a, "--plugin-dir", b, "--no-default-plugins"])
    T.eq(r.returncode, 0, f"two directories: exit code ({r.stderr[-500:]})")
    it = got.get("itest", [])
    T.eq(len(it), 2, f"both copies listed: {it}")
    if len(it) == 2:
        first = [p for p in it if p["path"].startswith(a + "/")]
        second = [p for p in it if p["path"].startswith(b + "/")]
        T.check(first and first[0]["state"] == "loaded", f"the first directory's wins: {it}")
        reason = second[0].get("reason") or "" if second else ""
        T.check(second and second[0]["state"] == "refused" and
                os.path.join(a, "itest.so") in reason and "already taken" in reason,
                f"the second is refused, naming the first: {second}")
    # the other order: the other copy wins
    r, got = listed(["--plugin-dir", b, "--plugin-dir", a, "--no-default-plugins"])
    win = [p for p in got.get("itest", []) if p["state"] == "loaded"]
    T.check(len(win) == 1 and win[0]["path"].startswith(b + "/"), f"order decides: {win}")
    # the same directory twice is searched once
    r, got = listed(["--plugin-dir", a, "--plugin-dir", a, "--no-default-plugins"])
    T.eq([p["state"] for p in got.get("itest", [])], ["loaded"], "a directory named twice")


@T.case
def test_stock_directory_kept():
    r, stock = listed([])
    T.eq(r.returncode, 0, f"stock directory alone ({r.stderr[-300:]})")
    r, both = listed(["--plugin-dir", itest_dir()])
    T.eq(r.returncode, 0, f"--plugin-dir and the stock directory ({r.stderr[-300:]})")
    T.check("itest" in both, "the --plugin-dir plugin is loaded")
    T.check(set(stock) <= set(both), f"and the stock ones stay: {sorted(stock)} in {sorted(both)}")
    r, only = listed(["--plugin-dir", itest_dir(), "--no-default-plugins"])
    T.eq(sorted(only), ["core", "itest"], "--no-default-plugins: only the --plugin-dir ones")
    r, none = listed(["--no-default-plugins"])
    T.eq((r.returncode, sorted(none)), (0, ["core"]), "no directory at all: the core alone")
    # the config's plugin_dir replaces the stock directory, must exist, and
    # --plugin-dir still goes first
    conf = write_config(f"[core]\nplugin_dir = {itest_dir()}\n")
    r, got = listed(["--config", conf])
    T.eq(sorted(got), ["core", "itest"], f"[core] plugin_dir replaces the stock one ({r.stderr})")
    conf = write_config("[core]\nplugin_dir = /nonexistent/schedmcp-plugins\n")
    r = cli(["--config", conf, "--plugin-dir", itest_dir(), "--check-config"])
    T.check(r.returncode != 0 and "/nonexistent/schedmcp-plugins" in r.stderr,
            f"a missing [core] plugin_dir is an error: {r.stderr!r}")
    r = cli(["--plugin-dir", "/nonexistent/schedmcp-plugins", "--check-config"])
    T.check(r.returncode != 0 and "/nonexistent/schedmcp-plugins" in r.stderr,
            f"a missing --plugin-dir is an error: {r.stderr!r}")
    r = cli(["--plugin-dir", itest_dir(), "--check-config"])
    T.check(r.returncode == 0 and itest_dir() in r.stdout and "search path" in r.stdout,
            f"--check-config names the search path: {r.stdout!r} {r.stderr[-300:]!r}")


@T.case
def test_core_plugins_list():
    d = plugin_dir([fixture("itest"), stock_plugin("topology"), stock_plugin("sysstat")])
    base = ["--plugin-dir", d, "--no-default-plugins"]

    def states(conf, extra=()):
        r, got = listed(base + ["--config", write_config(conf)] + list(extra))
        return r, {n: p[0]["state"] for n, p in got.items() if n != "core"}

    r, st = states("[plugin topology]\nenabled = true\n")
    T.eq(st, {"itest": "loaded", "topology": "loaded", "sysstat": "loaded"},
         "enabled = true alone selects nothing")
    for text in ["topology, sysstat", "topology,sysstat", "  topology   sysstat ",
                 "topology ,\tsysstat"]:
        r, st = states(f"[core]\nplugins = {text}\n")
        T.eq(st, {"itest": "disabled", "topology": "loaded", "sysstat": "loaded"},
             f"plugins = {text!r}")
    r, got = listed(base + ["--config", write_config("[core]\nplugins = topology\n")])
    T.check("[core] plugins" in (got["itest"][0].get("reason") or ""),
            f"the reason names [core] plugins: {got['itest']}")
    r, st = states("[core]\nplugins = topology\n[plugin sysstat]\nenabled = true\n"
                   "[plugin topology]\nenabled = false\n")
    T.eq(st, {"itest": "disabled", "topology": "disabled", "sysstat": "loaded"},
         "a plugin's own enabled has the last word")
    r, st = states("[core]\nplugins = topology\n", ["--enable", "itest sysstat"])
    T.eq(st, {"itest": "loaded", "topology": "disabled", "sysstat": "loaded"},
         "--enable (spaces) over the config")
    r, st = states("[core]\nplugins = topology sysstat\n", ["--disable", "sysstat"])
    T.eq(st, {"itest": "disabled", "topology": "loaded", "sysstat": "disabled"},
         "--disable over the config")
    with Daemon(args=["--config", write_config("[core]\nplugins = itest\n")],
                plugin_dir_=d) as c:
        names = {p["name"]: p["state"] for p in c.read_json("schedmcp://plugins")["plugins"]}
        T.eq((names.get("itest"), names.get("topology")), ("loaded", "disabled"),
             "the server honours it")
        tools = [t["name"] for t in result(c.request("tools/list"))["tools"]]
        T.check(any(t.startswith("itest_") for t in tools), f"the listed plugin serves: {tools}")


@T.case
def test_misspelt_names():
    d = plugin_dir([fixture("itest"), stock_plugin("topology"), stock_plugin("sysstat")])
    base = ["--plugin-dir", d, "--no-default-plugins"]
    cases = [
        ("[core]\nplugins = topolgy, sysstat\n", [], ":2: plugins: no plugin named 'topolgy'",
         "did you mean topology?"),
        ("[plugin topolgy]\nenabled = true\n", [], ":1: [plugin topolgy]: no plugin named",
         "did you mean topology?"),
        ("[plugin sysstats]\ncpu_window = 5\n", [], "[plugin sysstats]", "did you mean sysstat?"),
        ("[core]\n", ["--enable", "itset"], "--enable: no plugin named 'itset'",
         "did you mean itest?"),
        ("[core]\n", ["--disable", "toplogy"], "--disable: no plugin named 'toplogy'",
         "did you mean topology?"),
        ("[plugin nothing_like_it]\nx = 1\n", [], "[plugin nothing_like_it]", "install it"),
    ]
    for conf, extra, want, hint in cases:
        path = write_config(conf)
        r = cli(base + ["--config", path, "--check-config"] + extra)
        T.check(r.returncode != 0, f"{conf!r} {extra}: an error (rc {r.returncode})")
        T.check(want in r.stderr and hint in r.stderr,
                f"{conf!r} {extra}: says {want!r} and {hint!r}: {r.stderr!r}")
        # and nothing is served
        r = cli(base + ["--config", path] + extra)
        T.check(r.returncode != 0 and r.stdout == "", f"{conf!r} {extra}: the server stops")
    # a section that only switches off a plugin that is not there is fine
    r = cli(base + ["--config", write_config("[plugin not_installed]\nenabled = false\n"),
                    "--check-config"])
    T.eq(r.returncode, 0, f"[plugin not_installed] enabled = false: {r.stderr!r}")


if __name__ == "__main__":
    T.main()
