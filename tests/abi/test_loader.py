#!/usr/bin/env python3
"""The loader against deliberately broken plugins (tests/abi/fixture_*.c).

argv: the fixture .so files meson built. Every fixture goes into one private
plugin directory; the daemon must refuse or fail the bad ones with a reason,
load the good and the old-but-compatible ones, undo everything a failed init
registered, and keep serving.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (Checker, Daemon, is_error, plugin_dir, remove_dir,  # noqa: E402
                       result, run_cli, write_config)

T = Checker("abi/loader")
FIX = {os.path.basename(p)[:-3]: p for p in sys.argv[1:] if p.endswith(".so")}

EEXIST, EINVAL, EPERM, ENOENT = 17, 22, 1, 2


def host_abi():
    """(major, minor) of the daemon under test, from --version."""
    m = re.search(r"plugin ABI (\d+)\.(\d+)", run_cli(["--version"]).stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (1, 0)


def listed_prompts(d):
    """The prompts the daemon lists, by name."""
    return {p["name"]: p for p in result(d.request("prompts/list"))["prompts"]}


def prompt_text(d, name, arguments):
    """The text of prompt name rendered with arguments."""
    return result(d.get_prompt(name, arguments))["messages"][0]["content"]["text"]


MAJOR, MINOR = host_abi()
HOST = f"{MAJOR}.{MINOR}"

# name as listed -> (state, substrings the reason must contain)
EXPECTED = {
    "abi_good": ("loaded", []),
    "abi_nested": ("loaded", []),
    "abi_old": ("loaded", []),
    "abi_probe": ("loaded", []),
    "abi_dup": ("loaded", []),
    "abi_dup_b": ("refused", ["abi_dup", "already taken", "abi_dup_a.so"]),
    "abi_wrong_major": ("refused", [f"{MAJOR + 1}.{MINOR}", HOST, "major"]),
    "abi_zero_major": ("refused", [f"0.{MINOR}", "major"]),
    "abi_newer_minor": ("refused", [f"{MAJOR}.{MINOR + 1}", "newer", HOST]),
    "abi_no_entry": ("refused", ["schedmcp_plugin_entry"]),
    "abi_null_info": ("refused", ["plugin_info"]),
    "abi_no_init": ("refused", ["init"]),
    "abi_core_name": ("refused", ["core", "taken"]),
    "abi_bad_name": ("refused", ["name"]),
    "garbage": ("refused", ["cannot load"]),
    "abi_initfail": ("failed", ["init failed", "fixture: init fails on purpose"]),
    "abi_dupfail": ("failed", ["init failed", "File exists"]),
}

_dir = None


def all_dir():
    """Every fixture in one directory (abi_nested in the DIR/x/x.so layout),
    plus a .so that is not an ELF file at all."""
    global _dir
    if _dir is None:
        flat = [p for n, p in FIX.items() if n not in ("abi_nested", "abi_evil")]
        _dir = plugin_dir(files=flat, nested=[FIX["abi_nested"]])
        with open(os.path.join(_dir, "garbage.so"), "w") as f:
            f.write("this is not a shared object\n")
        os.chmod(os.path.join(_dir, "garbage.so"), 0o755)
        # ignored: not *.so, hidden, a directory without NAME/NAME.so
        open(os.path.join(_dir, "README"), "w").close()
        open(os.path.join(_dir, ".hidden.so"), "w").close()
        os.mkdir(os.path.join(_dir, "empty_subdir"))
    return _dir


def by_name(plugins):
    out = {}
    for p in plugins:
        out.setdefault(p["name"], []).append(p)
    return out


def check_states(plugins, where):
    named = by_name(plugins)
    T.check("core" in named and named["core"][0]["state"] == "loaded", f"{where}: core listed")
    for name, (state, needles) in EXPECTED.items():
        entries = named.get(name)
        if not T.check(entries is not None, f"{where}: {name} is listed"):
            continue
        T.eq(len(entries), 1, f"{where}: {name} listed once")
        p = entries[0]
        T.eq(p["state"], state, f"{where}: state of {name} (reason {p.get('reason')!r})")
        reason = p.get("reason") or ""
        if state == "loaded":
            T.check(not reason, f"{where}: loaded {name} has no reason, got {reason!r}")
        for n in needles:
            T.check(n in reason, f"{where}: reason of {name} mentions {n!r}: {reason!r}")
        if state in ("failed", "refused"):
            T.check(p.get("resources", 0) == 0 and p.get("tools", 0) == 0
                    and p.get("prompts", 0) == 0, f"{where}: {name} owns nothing: {p}")
    unexpected = set(named) - set(EXPECTED) - {"core"}
    T.check(not unexpected, f"{where}: nothing else listed: {sorted(unexpected)}")


@T.case
def test_fixtures_built():
    for n in ["abi_good", "abi_wrong_major", "abi_newer_minor", "abi_no_entry", "abi_old",
              "abi_initfail", "abi_probe", "abi_dupfail", "abi_dup_a", "abi_dup_b"]:
        T.check(n in FIX, f"fixture {n} passed on the command line")


@T.case
def test_list_plugins_json():
    r = run_cli(["--list-plugins", "--json"], all_dir())
    T.eq(r.returncode, 0, f"--list-plugins --json exit code (stderr: {r.stderr[-2000:]})")
    data = json.loads(r.stdout)
    check_states(data["plugins"], "--list-plugins --json")
    # the refusal is logged with the path and the why
    T.check("abi_wrong_major.so" in r.stderr and "major" in r.stderr,
            f"wrong-major refusal is logged: {r.stderr[-3000:]}")


@T.case
def test_list_plugins_text():
    r = run_cli(["--list-plugins"], all_dir())
    T.eq(r.returncode, 0, "--list-plugins exit code")
    lines = r.stdout.splitlines()
    T.check(lines and lines[0].split()[:3] == ["NAME", "VERSION", "STATE"], f"header: {lines[:1]}")
    for name, (state, needles) in EXPECTED.items():
        row = [ln for ln in lines if ln.split() and ln.split()[0] == name]
        if not T.check(len(row) == 1, f"one row for {name}: {row}"):
            continue
        T.check(f" {state} " in row[0], f"{name} row says {state}: {row[0]!r}")
        for n in needles[:2]:
            T.check(n in row[0], f"{name} row gives the reason ({n!r}): {row[0]!r}")


@T.case
def test_init_failure_rolled_back_and_serving():
    with Daemon(plugin_dir_=all_dir()) as d:
        status = d.read_json("schedmcp://plugins")
        check_states(status["plugins"], "schedmcp://plugins")

        tools = [t["name"] for t in result(d.request("tools/list"))["tools"]]
        res = [r["uri"] for r in result(d.request("resources/list"))["resources"]]
        tpls = [t["uriTemplate"] for t in
                result(d.request("resources/templates/list"))["resourceTemplates"]]
        prompts = [p["name"] for p in result(d.request("prompts/list"))["prompts"]]
        for t in ["abi_probe_results", "abi_old_tool", "poll_events"]:
            T.check(t in tools, f"tool {t} listed: {tools}")
        T.eq(tools.count("poll_events"), 1, "poll_events listed once")
        for t in ["abi_initfail_tool", "abi_late_tool", "abi_short_tool", "abi_bad_schema"]:
            T.check(t not in tools, f"tool {t} not listed")
        for u in ["abi://abi_good", "abi://abi_nested", "abi://abi_dup", "abi://old",
                  "schedmcp://plugins", "events://stream"]:
            T.check(u in res, f"resource {u} listed: {res}")
        for u in ["abi://initfail", "abi://dupfail", "abi://abi_wrong_major",
                  "abi://abi_newer_minor", "abi://core", "abi://short"]:
            T.check(u not in res, f"resource {u} not listed")
        T.eq(res.count("schedmcp://plugins"), 1, "schedmcp://plugins listed once")
        T.check("abi://old/{x}" in tpls, f"old template listed: {tpls}")
        T.check("abi://initfail/{x}" not in tpls, "failed plugin's template removed")
        T.check("abi_old_prompt" in prompts and "abi_probe_prompt" in prompts, f"prompts: {prompts}")
        T.check("abi_initfail_prompt" not in prompts, "failed plugin's prompt removed")

        T.check(is_error(d.read("abi://initfail"), -32002), "failed plugin's resource unreadable")
        T.check(is_error(d.read("abi://initfail/7"), -32002), "failed plugin's template unreadable")
        T.check(is_error(d.read("abi://dupfail"), -32002), "dupfail's resource removed")
        T.check(is_error(d.call_tool("abi_initfail_tool"), -32602), "failed plugin's tool gone")
        T.check(is_error(d.get_prompt("abi_initfail_prompt"), -32602),
                "failed plugin's prompt gone")
        # its prompt step's render and its completion live in the unloaded
        # library: called, they would crash the daemon
        T.check("ABI-FIXTURE-STEP" not in prompt_text(d, "summarize_system", None),
                "failed plugin's prompt step removed")
        r = result(d.request("completion/complete", {
            "ref": {"type": "ref/prompt", "name": "debug_high_latency"},
            "argument": {"name": "pid", "value": ""}}))
        T.check("ABI-FIXTURE-COMPLETION" not in r["completion"]["values"],
                "failed plugin's completion removed")

        # the core's poll_events survived the impostor's rollback
        r = result(d.call_tool("poll_events", {"limit": 1}))
        T.check(r.get("isError") is False and "impostor" not in json.dumps(r),
                f"poll_events is still the core's: {r}")

        # leftover timers (1 ms repeat) or the eventfd watch would now call
        # into an unloaded library
        time.sleep(0.3)
        T.check("result" in d.request("ping"), "still answers ping")
        T.check(d.proc.poll() is None, "daemon alive")
        err = d.stderr_text()
        T.eq(err.count("ABI-FIXTURE-FINI-CALLED"), 1, "fini called exactly once")
        T.check("ABI-FIXTURE-TIMER-FIRED" not in err, "no timer of the failed plugin fired")
        T.check("ABI-FIXTURE-FD-FIRED" not in err, "no fd watch of the failed plugin fired")
        T.check("abi_initfail" in err and "init fails on purpose" in err,
                "the failure and its reason are logged")
        rc = d.close()
        T.eq(rc, 0, "clean exit")


@T.case
def test_old_minor_plugin_works():
    with Daemon(plugin_dir_=all_dir()) as d:
        r = d.read("abi://old/hello%20there")
        T.eq(result(r)["contents"][0]["text"], "old template hello there", "1.0 template read")
        T.eq(result(d.read("abi://old"))["contents"][0]["text"], "old resource", "1.0 resource")
        r = result(d.call_tool("abi_old_tool"))
        T.eq(r.get("structuredContent"), {"answer": 42, "word": "old"},
             "1.0 tool with 1.0-layout config keys (defaults)")
        # 1.0 prompt arguments have no sz: read in the 1.0 layout, names,
        # descriptions, required and type all in place
        T.eq(listed_prompts(d).get("abi_old_prompt", {}).get("arguments"),
             [{"name": "topic", "description": "what to ask", "required": False},
              {"name": "depth", "description": "how deep", "required": True}],
             "1.0 prompt arguments listed as declared")
        T.eq(prompt_text(d, "abi_old_prompt", {"topic": "x", "depth": "3"}),
             "an old prompt about x, depth 3", "1.0 prompt")
        T.check(is_error(d.get_prompt("abi_old_prompt", {"topic": "x"}), -32602),
                "its required argument is required")
        T.check(is_error(d.get_prompt("abi_old_prompt", {"depth": "deep"}), -32602),
                "its integer argument must be an integer")
        # 1.0's "answer later" was 1: still pending, finished from a timer
        for i in range(2):
            r = result(d.call_tool("abi_old_later"))
            T.eq(r.get("content"), [{"type": "text", "text": "an old answer, later"}],
                 f"1.0 tool answering later ({i})")
        T.check("result" in d.request("ping"), "still serving")
        # a 1.0 plugin returning 1.2's SMCP_PENDING: works, and its author is told
        for i in range(2):
            r = result(d.call_tool("abi_old_later_new"))
            T.eq(r.get("content"), [{"type": "text", "text": "an old answer, later"}],
                 f"1.2's SMCP_PENDING from a 1.0 plugin ({i})")
        err = d.stderr_text()
        T.eq(err.count("returned 1.2's SMCP_PENDING"), 1, "warned once: " + err[-1500:])
        # 1.2-layout arguments under a 1.0 declaration: refused, saying why
        T.check("abi_old_mixed" not in listed_prompts(d),
                "a 1.0 plugin's prompt with 1.2 arguments is refused")
        T.check("prompt 'abi_old_mixed': declares plugin ABI 1.0" in err and
                "smcp_prompt_arg_1_0" in err, "and the log says why")


@T.case
def test_registration_refusals():
    with Daemon(plugin_dir_=all_dir()) as d:
        r = result(d.call_tool("abi_probe_results"))
        T.check(r.get("isError") is False, f"probe tool ran: {r}")
        s = r.get("structuredContent", {})
        T.eq(s.get("errno"), {"EEXIST": EEXIST, "EINVAL": EINVAL, "EPERM": EPERM, "ENOENT": ENOENT},
             "errno values of this platform")
        init = s.get("init", {})
        T.eq(init.get("first"), 0, "first registration")
        T.eq(init.get("dup_own_tool"), -EEXIST, "own tool registered twice")
        T.eq(init.get("dup_core_tool"), -EEXIST, "the core's tool name")
        T.eq(init.get("dup_core_resource"), -EEXIST, "the core's resource URI")
        T.eq(init.get("dup_own_prompt"), -EEXIST, "own prompt registered twice")
        T.eq(init.get("short_tool"), -EINVAL, "tool descriptor smaller than 1.0")
        T.eq(init.get("short_resource"), -EINVAL, "resource descriptor smaller than 1.0")
        T.eq(init.get("bad_schema"), -EINVAL, "input schema that does not parse")
        T.eq(init.get("bad_template"), -EINVAL, "unclosed template variable")
        T.eq(init.get("null_desc"), -EINVAL, "NULL descriptor")
        T.eq(init.get("wide_prompt"), 0, "prompt arguments larger than today's (a later minor)")
        T.eq(init.get("arg_sz_zero"), -EINVAL, "prompt arguments without sz (1.2)")
        T.eq(init.get("arg_sz_uneven"), -EINVAL, "prompt arguments of different sz")
        late = s.get("late", {})
        for k in ["resource", "template", "tool", "prompt"]:
            T.eq(late.get(k), -EPERM, f"registering a {k} outside init()")
        T.eq(s.get("config"), {"greeting": "hi", "level": 1, "undeclared": -ENOENT},
             "config defaults without a file")
        tools = [t["name"] for t in result(d.request("tools/list"))["tools"]]
        T.check("abi_late_tool" not in tools, "late tool not registered")
        T.check(is_error(d.read("abi://late"), -32002), "late resource not registered")
        T.check(is_error(d.read("abi://late/1"), -32002), "late template not registered")
        T.check("abi_late_prompt" not in listed_prompts(d), "late prompt not registered")
        T.check("refused to register" in d.stderr_text(), "late registration logged")
        T.check("args[0].sz is 0" in d.stderr_text(), "a missing argument sz is logged")
        listed = listed_prompts(d)
        T.check("abi_probe_no_sz" not in listed and "abi_probe_uneven" not in listed,
                "refused prompts not listed")
        T.eq(listed.get("abi_probe_wide", {}).get("arguments"),
             [{"name": "first", "description": "a number", "required": True},
              {"name": "second", "description": "a word", "required": False}],
             "stepped by sz: both arguments read")
        T.eq(prompt_text(d, "abi_probe_wide", {"first": "5", "second": "w"}), "wide 5 w",
             "the wide prompt works")
        T.check(is_error(d.get_prompt("abi_probe_wide", {"first": "x"}), -32602),
                "the wide prompt's INT type was read")


@T.case
def test_positive_return_is_success():
    """A 1.2 handler's positive return value is a success, 1 included
    (before 1.2, 1 was SMCP_PENDING: the call waited forever)."""
    with Daemon(plugin_dir_=all_dir()) as d:
        r = d.call_tool("abi_probe_positive", timeout=5)
        T.eq(result(r).get("content") if r else None, [{"type": "text", "text": "one"}],
             f"answered at once: {r}")
        T.check("result" in d.request("ping"), "still serving")


@T.case
def test_plugin_config():
    good = write_config("[plugin abi_probe]\ngreeting = hello\nlevel = 3\n"
                        "[plugin abi_initfail]\nuse_status = false\n"
                        "[plugin abi_good]\nenabled = false\n"
                        "[plugin abi_old]\nanswer = 7\nword = \"new  word\"\n")
    bad = write_config("[plugin abi_probe]\n"
                       "level = 9\n"
                       "colour = red\n"
                       "[plugin abi_old]\n"
                       "answer = many\n"
                       "[plugin abi_good]\n"
                       "enabled = perhaps\n")
    try:
        r = run_cli(["--config", good, "--check-config"], all_dir())
        T.eq(r.returncode, 0, f"good config checks out: {r.stdout} {r.stderr[-1500:]}")
        T.check("OK" in r.stdout, f"--check-config says OK: {r.stdout!r}")
        with Daemon(args=["--config", good], plugin_dir_=all_dir()) as d:
            s = result(d.call_tool("abi_probe_results"))["structuredContent"]
            T.eq(s["config"], {"greeting": "hello", "level": 3, "undeclared": -ENOENT},
                 "config values reach the plugin")
            s = result(d.call_tool("abi_old_tool"))["structuredContent"]
            T.eq(s, {"answer": 7, "word": "new  word"}, "1.0-layout keys read from the file")
            named = by_name(d.read_json("schedmcp://plugins")["plugins"])
            T.eq(named["abi_good"][0]["state"], "disabled", "enabled = false")
            T.check("config" in (named["abi_good"][0].get("reason") or ""),
                    f"disabled reason names the config: {named['abi_good'][0]}")
            fail = named["abi_initfail"][0]
            T.eq(fail["state"], "failed", "initfail still fails")
            T.check("Input/output error" in (fail.get("reason") or ""),
                    f"without set_status the reason is strerror: {fail.get('reason')!r}")
            T.check(is_error(d.read("abi://abi_good"), -32002), "disabled plugin serves nothing")

        r = run_cli(["--config", bad, "--check-config"], all_dir())
        T.check(r.returncode != 0, f"bad plugin config fails --check-config (rc {r.returncode})")
        for needle in [f"{bad}:2: level:", f"{bad}:3: colour:", f"{bad}:5: answer:",
                       f"{bad}:7: enabled:"]:
            T.check(needle in r.stderr, f"error {needle!r} reported: {r.stderr[-2000:]}")
        r = run_cli(["--config", bad, "--list-plugins"], all_dir())
        T.check(r.returncode != 0, "a bad config stops --list-plugins too")
    finally:
        os.unlink(good)
        os.unlink(bad)


@T.case
def test_enable_disable():
    r = run_cli(["--list-plugins", "--json", "--enable", "abi_good,abi_old"], all_dir())
    T.eq(r.returncode, 0, f"--enable exit code: {r.stderr[-1000:]}")
    named = by_name(json.loads(r.stdout)["plugins"])
    T.eq(named["abi_good"][0]["state"], "loaded", "--enable: listed plugin loaded")
    T.eq(named["abi_old"][0]["state"], "loaded", "--enable: second listed plugin loaded")
    T.eq(named["abi_probe"][0]["state"], "disabled", "--enable: others disabled")
    T.eq(named["abi_initfail"][0]["state"], "disabled", "--enable: failing one never initialised")
    T.check("command line" in (named["abi_probe"][0].get("reason") or ""), "reason: command line")
    T.eq(named["abi_wrong_major"][0]["state"], "refused", "refused stays refused")

    r = run_cli(["--list-plugins", "--json", "--disable", "abi_probe,abi_initfail"], all_dir())
    named = by_name(json.loads(r.stdout)["plugins"])
    T.eq(named["abi_probe"][0]["state"], "disabled", "--disable")
    T.eq(named["abi_initfail"][0]["state"], "disabled", "--disable")
    T.eq(named["abi_good"][0]["state"], "loaded", "--disable leaves others")

    r = run_cli(["--list-plugins", "--enable", "abi_wrong_major"], all_dir())
    T.check(r.returncode != 0 and "abi_wrong_major" in r.stderr,
            f"--enable of a refused plugin is an error: rc {r.returncode} {r.stderr[-500:]}")


if __name__ == "__main__":
    try:
        T.main()
    finally:
        if _dir:
            remove_dir(_dir)
