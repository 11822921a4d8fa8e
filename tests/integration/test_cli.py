#!/usr/bin/env python3
"""The command line and the config file: --help, --version, --list-plugins,
--enable/--disable, --check-config reporting every error as file:line: key,
and a bad config stopping the server before it answers anything."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test  # noqa: E402
from smcp_test import (Checker, Daemon, daemon_path, empty_dir, itest_dir, result,  # noqa: E402
                       run_cli, write_config)

T = Checker("integration/cli-config")


@T.case
def test_help_and_version():
    for flag in ["--help", "-h"]:
        r = run_cli([flag])
        T.eq(r.returncode, 0, f"{flag} exit code")
        T.check("Usage:" in r.stdout, f"{flag} prints usage on stdout")
        for opt in ["--config", "--plugin-dir", "--enable", "--disable", "--list-plugins",
                    "--check-config", "--version", "report"]:
            T.check(opt in r.stdout, f"{flag} mentions {opt}")
    for flag in ["--version", "-V"]:
        r = run_cli([flag])
        T.eq(r.returncode, 0, f"{flag} exit code")
        T.check(re.match(r"^schedmcp \d+\.\d+\.\d+\b", r.stdout),
                f"{flag} starts with 'schedmcp X.Y.Z': {r.stdout!r}")
        T.check("plugin ABI 1." in r.stdout, f"{flag} names the plugin ABI: {r.stdout!r}")
        T.check("2025-11-25" in r.stdout, f"{flag} names the MCP revision")


@T.case
def test_usage_errors():
    for args in [["--bogus"], ["unexpected"], ["--config"], ["--log-level", "loud"],
                 ["report", "--interval", "-1"], ["report", "--interval", "abc"]]:
        r = subprocess.run([daemon_path()] + args + ["--plugin-dir", empty_dir(),
                                                     "--no-default-plugins"],
                           capture_output=True, text=True, timeout=20, input="")
        T.check(r.returncode not in (0, None), f"{args}: non-zero exit, got {r.returncode}")
        T.eq(r.stdout, "", f"{args}: nothing on stdout (stdout is the protocol)")
        T.check(r.stderr.strip() != "", f"{args}: says why on stderr")


@T.case
def test_daemon_flag_accepted():
    with Daemon(args=["--daemon"]) as d:
        T.check("result" in d.request("ping"), "--daemon is accepted and still serves stdio")


@T.case
def test_list_plugins():
    r = run_cli(["--list-plugins"], itest_dir())
    T.eq(r.returncode, 0, "--list-plugins exit code")
    rows = [ln.split() for ln in r.stdout.splitlines()]
    T.check(rows and rows[0][:3] == ["NAME", "VERSION", "STATE"], f"header: {rows[:1]}")
    itest = [x for x in rows if x and x[0] == "itest"]
    T.check(len(itest) == 1 and itest[0][1] == "0.0.1" and itest[0][2] == "loaded",
            f"itest row: {itest}")
    r = run_cli(["--list-plugins"], empty_dir())
    T.eq(r.returncode, 0, "--list-plugins on an empty dir")
    r = run_cli(["--list-plugins", "--json"], itest_dir())
    data = json.loads(r.stdout)
    names = {p["name"]: p for p in data["plugins"]}
    T.check("core" in names and "itest" in names, f"--json lists core and itest: {list(names)}")
    T.eq(names["itest"]["state"], "loaded", "--json state")
    T.check(names["itest"]["tools"] >= 5 and names["itest"]["resources"] >= 5,
            f"--json counts what itest registered: {names['itest']}")


@T.case
def test_enable_disable():
    r = run_cli(["--list-plugins", "--json", "--disable", "itest"], itest_dir())
    T.eq(r.returncode, 0, "--disable exit code")
    st = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    T.eq(st["itest"]["state"], "disabled", "--disable itest")
    T.check("command line" in (st["itest"].get("reason") or ""), "reason names the command line")
    r = run_cli(["--list-plugins", "--json", "--enable", "itest"], itest_dir())
    st = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    T.eq(st["itest"]["state"], "loaded", "--enable itest")
    # --disable wins over --enable for the same name
    r = run_cli(["--list-plugins", "--json", "--enable", "itest", "--disable", "itest"], itest_dir())
    st = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    T.eq(st["itest"]["state"], "disabled", "--disable beats --enable")

    with Daemon(args=["--disable", "itest"], plugin_dir_=itest_dir()) as d:
        tools = [t["name"] for t in result(d.request("tools/list"))["tools"]]
        T.check(not any(t.startswith("itest_") for t in tools), f"disabled plugin's tools gone: {tools}")

    for args in [["--enable", "nosuch"], ["--disable", "nosuch"], ["--enable", "itest,nosuch"]]:
        r = run_cli(["--list-plugins"] + args, itest_dir())
        T.check(r.returncode != 0, f"{args}: an unknown name is an error (rc {r.returncode})")
        T.check("nosuch" in r.stderr, f"{args}: the error names it: {r.stderr[-400:]!r}")
        # and the server refuses to start with it
        r = run_cli(args, itest_dir(), input_='{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        T.check(r.returncode != 0, f"serve {args}: refuses to start (rc {r.returncode})")
        T.eq(r.stdout, "", f"serve {args}: answers nothing")


@T.case
def test_bad_plugin_dir():
    r = run_cli(["--list-plugins"], "/nonexistent/schedmcp-plugins")
    T.check(r.returncode != 0, f"a missing plugin dir is an error (rc {r.returncode})")
    T.check("/nonexistent/schedmcp-plugins" in r.stderr, "the error names the directory")


CONFIG_ERRORS = (
    "[core]\n"                   # 1
    "page_size = 0\n"            # 2  out of range
    "max_line_bytes = lots\n"    # 3  not an integer
    "colour = blue\n"            # 4  unknown key
    "log_level = loud\n"         # 5  unknown level
    "page_size = 5\n"            # 6  set twice
    "[plugin itest]\n"           # 7
    "bogus = 1\n"                # 8  itest declares no keys
    "enabled = sometimes\n"      # 9  not a bool
    "[nonsense]\n"               # 10 unknown section
    "key without equals\n"       # 11 malformed (outside a known section)
    "plugin_dir = relative/dir\n"  # 12 key outside a section (the bad header cleared it)
)


@T.case
def test_check_config_reports_every_error():
    path = write_config(CONFIG_ERRORS)
    r = run_cli(["--config", path, "--check-config"], itest_dir())
    T.check(r.returncode != 0, f"--check-config fails (rc {r.returncode})")
    T.eq(r.stdout, "", "errors go to stderr")
    for line, key in [(2, "page_size"), (3, "max_line_bytes"), (4, "colour"), (5, "log_level"),
                      (6, "page_size"), (8, "bogus"), (9, "enabled"), (12, "plugin_dir")]:
        T.check(f"{path}:{line}: {key}:" in r.stderr,
                f"error '{path}:{line}: {key}:' reported; stderr:\n{r.stderr}")
    for line in [10, 11]:
        T.check(f"{path}:{line}:" in r.stderr, f"error at line {line} reported")
    T.check(re.search(r"\b1[01] configuration errors\b", r.stderr) is not None,
            f"a count of all the errors: {r.stderr[-300:]!r}")


@T.case
def test_check_config_ok():
    path = write_config("# comment\n[core]\npage_size = 5\nlog_level = warning\n"
                        "max_output_queue_bytes = 65536\n[plugin itest]\nenabled = yes\n")
    r = run_cli(["--config", path, "--check-config"], itest_dir())
    T.eq(r.returncode, 0, f"a good config passes: {r.stderr}")
    T.check(path in r.stdout and "OK" in r.stdout, f"and says so: {r.stdout!r}")
    # the same file runs the server
    with Daemon(args=["--config", path], plugin_dir_=itest_dir()) as d:
        T.check("result" in d.request("ping"), "server runs with it")
    # a section for a plugin that is not installed is not an error
    path2 = write_config("[plugin not_installed]\nenabled = false\n")
    r = run_cli(["--config", path2, "--check-config"], itest_dir())
    T.eq(r.returncode, 0, "a section for an absent plugin is only a warning")


@T.case
def test_bad_config_stops_the_server():
    for text, key in [("[core]\npage_size = 0\n", "page_size"),
                      ("[core]\ncolour = blue\n", "colour"),
                      ("[core]\nmax_pending_requests = x\n", "max_pending_requests")]:
        path = write_config(text)
        r = run_cli(["--config", path], itest_dir(),
                    input_='{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        T.check(r.returncode != 0, f"{text!r}: server exits non-zero (rc {r.returncode})")
        T.eq(r.stdout, "", f"{text!r}: nothing answered")
        T.check(f"{path}:2: {key}:" in r.stderr, f"{text!r}: file:line: key in {r.stderr!r}")


@T.case
def test_set_overrides_the_file():
    path = write_config("[core]\npage_size = 5\n")
    with Daemon(args=["--config", path, "--set", "core.page_size=1"],
                plugin_dir_=itest_dir()) as d:
        r = result(d.request("tools/list"))
        T.eq(len(r["tools"]), 1, "--set core.page_size=1 beats the file's 5")
        T.check("nextCursor" in r, "and pages")
    for args, want in [(["--set", "core.page_size=0"], "command line: page_size:"),
                       (["--set", "core.colour=blue"], "command line: colour: unknown key"),
                       (["--set", "itest.enabled=maybe"], "command line: enabled:")]:
        r = run_cli(args + ["--check-config"], itest_dir())
        T.check(r.returncode != 0, f"{args}: refused (rc {r.returncode})")
        T.check(want in r.stderr, f"{args}: says '{want}': {r.stderr!r}")
    for bad in ["page_size=1", "core.page_size", "core=1.x", "Core.page_size=1"]:
        r = run_cli(["--set", bad, "--check-config"], itest_dir())
        T.check(r.returncode != 0 and bad.split("=")[0] in r.stderr,
                f"--set {bad}: refused, named: {r.stderr!r}")
    r = run_cli(sum([["--set", "core.page_size=2"] for _ in range(65)], []) + ["--check-config"],
                itest_dir())
    T.check(r.returncode != 0 and "at most 64" in r.stderr, f"--set is bounded: {r.stderr!r}")


@T.case
def test_stats_socket_path():
    plugins = smcp_test.build_plugins("scx_stats")
    sock = "/nonexistent-schedmcp-test/stats"
    with Daemon(args=["--enable", "scx_stats", "--stats-socket-path", sock],
                plugin_dir_=plugins) as d:
        r = d.request("resources/read", {"uri": "stats://scheduler/raw"}, timeout=30)
        T.check(sock in json.dumps(r), f"scxtop's --stats-socket-path is honoured: {r}")
    r = run_cli(["--stats-socket-path", "relative/stats", "--check-config"], plugins)
    T.check(r.returncode != 0 and "socket_path: expected an absolute path" in r.stderr,
            f"a relative socket path is refused: {r.stderr!r}")


@T.case
def test_missing_explicit_config():
    r = run_cli(["--config", "/nonexistent/schedmcp.conf", "--check-config"], empty_dir())
    T.check(r.returncode != 0, "an explicit --config that does not exist is an error")
    T.check("/nonexistent/schedmcp.conf" in r.stderr, "naming the file")


@T.case
def test_report_json():
    # "report" must be the first argument
    r = subprocess.run([daemon_path(), "report", "--json", "--interval", "0", "--plugin-dir",
                        itest_dir(), "--no-default-plugins"], capture_output=True, text=True,
                       timeout=20)
    T.eq(r.returncode, 0, f"report --json exit code: {r.stderr[-500:]}")
    try:
        data = json.loads(r.stdout)
        T.check(isinstance(data, dict), "report --json is a JSON object")
    except ValueError as e:
        T.check(False, f"report --json is JSON: {e}: {r.stdout[:300]!r}")


if __name__ == "__main__":
    T.main()
