#!/usr/bin/env python3
"""The plugin author's kit, end to end, as an author outside this tree sees it:

0. examples/plugin-hello, copied out of the tree, builds against this *build
   tree* (nothing installed: PKG_CONFIG_PATH=BUILD/meson-uninstalled, as the
   guide says) and the build tree's daemon loads it;
1. `meson install` this build into a temporary DESTDIR;
2. pkg-config finds schedmcp.pc there (PKG_CONFIG_PATH, with
   PKG_CONFIG_SYSROOT_DIR for the DESTDIR) and it tells the truth: version,
   ABI from the header, include path, plugin directory;
3. examples/plugin-hello, copied out of the tree, builds against it with
   -Dwerror=true and exports one symbol;
4. the *installed* daemon loads it: resource, template and completion, tool
   (at once, later with progress, cancelled), prompt, config key, event,
   metric, --help-config and --list-plugins;
5. examples/plugin-scx-layered builds the same way and serves scx_layered's
   layers from the fake stats server (tests/plugins/scx_stats) speaking
   scx_layered-shaped stats: per-layer resources, completion, metrics, no
   server, a restart; and its step appears in the daemon's
   investigate_scheduler_behavior workflow while it serves layers.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

import smcp_test  # noqa: E402
from smcp_test import Checker  # noqa: E402

ck = Checker("kit")
FAKE = os.path.join(SRC, "tests", "plugins", "scx_stats", "fake_scx_server.py")
TMP = tempfile.mkdtemp(prefix="smcp-kit-")
DEST = os.path.join(TMP, "dest")
ST = {}


def run(cmd, env=None, cwd=None, timeout=300):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if p.returncode != 0:
        print("$ %s\n%s%s" % (" ".join(cmd), p.stdout[-3000:], p.stderr[-3000:]),
              file=sys.stderr)
    return p


def pc_env():
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = ST["pcdir"]
    env["PKG_CONFIG_SYSROOT_DIR"] = DEST
    return env


def header_abi():
    with open(os.path.join(SRC, "sdk", "include", "schedmcp", "plugin.h")) as f:
        text = f.read()
    return (re.search(r"#define SMCP_ABI_MAJOR (\d+)", text).group(1),
            re.search(r"#define SMCP_ABI_MINOR (\d+)", text).group(1))


def need(*keys):
    for k in keys:
        if k not in ST:
            raise smcp_test.Skip("an earlier step failed")


def build_example(name, env=None, tag=""):
    src = os.path.join(TMP, name + tag)
    shutil.copytree(os.path.join(SRC, "examples", name), src)  # out of the tree
    b = os.path.join(TMP, name + tag + "-build")
    env = env or pc_env()
    p = run([ST["meson"], "setup", "-Dwerror=true", b, src], env=env)
    if not ck.check(p.returncode == 0, "%s: meson setup against the installed SDK" % name):
        return None
    ck.check("schedmcp found: YES" in p.stdout, "%s: found schedmcp.pc" % name)
    p = run([ST["ninja"], "-C", b], env=env)
    if not ck.check(p.returncode == 0, "%s: builds with -Dwerror=true" % name):
        return None
    so = glob.glob(os.path.join(b, "*.so"))
    ck.eq(len(so), 1, "%s: one module" % name)
    if shutil.which("nm") and so:
        out = run(["nm", "-D", "--defined-only", so[0]]).stdout
        ck.eq([line.split()[-1] for line in out.splitlines() if line.strip()],
              ["schedmcp_plugin_entry"], "%s: exports only the entry" % name)
    return so[0] if so else None


def daemon(plugins, conf=""):
    d = smcp_test.plugin_dir(files=plugins)
    path = smcp_test.write_config(conf or "[core]\n")
    return smcp_test.Daemon(args=["--config", path], plugin_dir_=d)


@ck.case
def test_guide_covers_the_api():
    """docs/plugin-guide.md describes every member of the host API table."""
    with open(os.path.join(SRC, "sdk", "include", "schedmcp", "plugin.h")) as f:
        header = f.read()
    table = header[header.index("struct smcp_host_api {"):]
    table = table[:table.index("\n};")]
    members = re.findall(r"\(\*([a-z_]+)\)\(", table)
    ck.check(len(members) > 40, "found the members (%d)" % len(members))
    with open(os.path.join(SRC, "docs", "plugin-guide.md")) as f:
        guide = f.read()
    for m in members:
        ck.check("| `%s` |" % m in guide, "plugin-guide.md describes %s" % m)


@ck.case
def test_build_tree():
    """The guide's second way: against a build tree, nothing installed."""
    meson, ninja = shutil.which("meson"), shutil.which("ninja")
    if not meson or not ninja or not shutil.which("pkg-config"):
        raise smcp_test.Skip("needs meson, ninja and pkg-config")
    ST["meson"], ST["ninja"] = meson, ninja
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.path.join(BUILD, "meson-uninstalled")
    env.pop("PKG_CONFIG_SYSROOT_DIR", None)

    def pc(*args):
        return run(["pkg-config"] + list(args) + ["schedmcp"], env=env).stdout.strip()
    cflags = pc("--cflags")
    inc = cflags.split()[0][2:] if cflags.startswith("-I") else ""
    ck.eq(os.path.realpath(inc), os.path.realpath(os.path.join(SRC, "sdk", "include")),
          "uninstalled Cflags point at the source tree's SDK headers (%r)" % cflags)
    major, minor = header_abi()
    ck.eq((pc("--variable=abi_major"), pc("--variable=abi_minor")), (major, minor),
          "uninstalled .pc: the header's ABI")
    ck.eq(os.path.realpath(pc("--variable=plugindir")),
          os.path.realpath(os.path.join(BUILD, "plugins")),
          "uninstalled plugindir: the build tree's plugins, where its daemon looks")
    so = build_example("plugin-hello", env=env, tag="-buildtree")
    if not so:
        return
    exe = os.path.join(BUILD, "core", "schedmcp")
    d = smcp_test.plugin_dir(files=[so])
    p = run([exe, "--plugin-dir", d, "--enable", "hello", "--list-plugins", "--json"])
    st = {x["name"]: x for x in json.loads(p.stdout or "{}").get("plugins", [])}
    ck.eq(st.get("hello", {}).get("state"), "loaded",
          "the build tree's daemon loads it (%s)" % p.stderr[-500:])
    saved = os.environ.get("SMCP_DAEMON")
    os.environ["SMCP_DAEMON"] = exe
    try:
        with daemon([so]) as c:
            r = c.call_tool("say_hello", {"name": "ada", "delay_ms": 50})
            ck.eq(r["result"]["content"][0]["text"], "Hello, ada!", "and it answers (later)")
            r = c.request("prompts/get", {"name": "greet", "arguments": {"name": "alan"}})
            ck.check("say_hello" in r["result"]["messages"][0]["content"]["text"],
                     "its prompt (1.0-layout arguments)")
    finally:
        if saved is None:
            os.environ.pop("SMCP_DAEMON", None)
        else:
            os.environ["SMCP_DAEMON"] = saved


@ck.case
def test_install():
    ST["meson"] = shutil.which("meson")
    ST["ninja"] = shutil.which("ninja")
    if not ST["meson"] or not ST["ninja"] or not shutil.which("pkg-config"):
        raise smcp_test.Skip("needs meson, ninja and pkg-config")
    p = run([ST["meson"], "install", "-C", BUILD, "--destdir", DEST, "--no-rebuild", "--quiet"])
    if not ck.check(p.returncode == 0, "meson install into DESTDIR"):
        return
    pcs = glob.glob(os.path.join(DEST, "**", "pkgconfig", "schedmcp.pc"), recursive=True)
    ck.eq(len(pcs), 1, "one schedmcp.pc installed")
    exe = glob.glob(os.path.join(DEST, "**", "bin", "schedmcp"), recursive=True)
    ck.eq(len(exe), 1, "the daemon installed")
    hdr = glob.glob(os.path.join(DEST, "**", "include", "schedmcp", "plugin.h"), recursive=True)
    ck.eq(len(hdr), 1, "the header installed")
    if pcs and exe:
        ST["pcdir"] = os.path.dirname(pcs[0])
        ST["exe"] = exe[0]
        os.environ["SMCP_DAEMON"] = exe[0]  # every daemon below is the installed one


@ck.case
def test_pkgconfig():
    need("pcdir")
    env = pc_env()

    def pc(*args):
        return run(["pkg-config"] + list(args) + ["schedmcp"], env=env).stdout.strip()
    with open(os.path.join(BUILD, "meson-info", "intro-projectinfo.json")) as f:
        version = json.load(f)["version"]
    ck.eq(pc("--modversion"), version, "version")
    major, minor = header_abi()
    ck.eq(pc("--variable=abi_major"), major, "abi_major from the header")
    ck.eq(pc("--variable=abi_minor"), minor, "abi_minor from the header")
    cflags = pc("--cflags")
    inc = cflags.split()[0][2:] if cflags.startswith("-I") else ""
    ck.check(os.path.isfile(os.path.join(inc, "schedmcp", "plugin.h")),
             "Cflags point at the installed header (%r)" % cflags)
    plugindir = pc("--variable=plugindir")
    ck.check(os.path.isfile(os.path.join(plugindir, "scx_stats.so")) or
             glob.glob(os.path.join(plugindir, "*.so")),
             "plugindir holds the installed plugins (%r)" % plugindir)


@ck.case
def test_hello():
    need("pcdir")
    so = build_example("plugin-hello")
    if not so:
        return
    with daemon([so], "[plugin hello]\ngreeting = Howdy\n") as c:
        st = c.read_json("schedmcp://plugins")
        h = [p for p in st["plugins"] if p["name"] == "hello"]
        ck.check(h and h[0]["state"] in ("loaded", "degraded"), "hello loaded: %r" % h)
        ck.eq(h[0]["resources"], 2, "a resource and a template") if h else None
        g = c.read_json("hello://greeting")
        ck.eq((g["greeting"], g["name"]), ("Howdy", "world"), "config key applied")
        ck.eq(c.read_json("hello://greeting/grace")["name"], "grace", "template")
        r = c.request("completion/complete", {
            "ref": {"type": "ref/resource", "uri": "hello://greeting/{name}"},
            "argument": {"name": "name", "value": "g"}})
        ck.eq(r["result"]["completion"]["values"], ["grace"], "template completion")
        r = c.call_tool("say_hello", {"name": "ada"})
        ck.eq(r["result"]["content"][0]["text"], "Howdy, ada!", "tool")
        r = c.call_tool("say_hello", {"name": "nobody"})
        ck.eq(r["result"].get("isError"), True, "tool error result")
        r = c.call_tool("say_hello", {})
        ck.eq(r["result"].get("isError"), True, "schema enforced by the host")
        progress = []
        r = c.request("tools/call", {"name": "say_hello",
                                     "arguments": {"name": "ken", "delay_ms": 300},
                                     "_meta": {"progressToken": 7}},
                      on_message=lambda m: progress.append(m)
                      if m.get("method") == "notifications/progress" else None)
        ck.eq(r["result"]["content"][0]["text"], "Howdy, ken!", "answered later")
        ck.check(progress, "with progress")
        c.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
                "params": {"name": "say_hello", "arguments": {"name": "x", "delay_ms": 500}}})
        c.notify("notifications/cancelled", {"requestId": 99})
        got = c.drain(quiet=0.8)
        ck.check(not any(m.get("id") == 99 for m in got), "cancelled call not answered")
        r = c.request("prompts/get", {"name": "greet", "arguments": {"name": "alan"}})
        ck.check("say_hello" in r["result"]["messages"][0]["content"]["text"], "prompt")
        ev = c.call_tool("poll_events", {"type": "hello."})
        ck.check(len(ev["result"]["structuredContent"]["events"]) >= 2, "events published")
        r = c.read("metrics://catalog")
        if "result" in r:
            ck.check("hello_said_total" in r["result"]["contents"][0]["text"], "metric")
    d = smcp_test.plugin_dir(files=[so])
    bad = smcp_test.write_config("[plugin hello]\ngreting = x\n")
    p = smcp_test.run_cli(["--config", bad, "--check-config"], plugin_dir_=d)
    ck.check(p.returncode != 0 and "greting" in p.stdout + p.stderr,
             "the host validates the plugin's config keys: %r" % (p.stdout + p.stderr))
    out = smcp_test.run_cli(["--list-plugins"], plugin_dir_=d).stdout
    ck.check("hello" in out, "--list-plugins shows it")


class FakeServer:
    def __init__(self, path, *args):
        self.proc = subprocess.Popen([sys.executable, FAKE, path, "--shape", "layered"] +
                                     list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def workflow(c, name="investigate_scheduler_behavior"):
    r = c.request("prompts/get", {"name": name, "arguments": {}})
    return r["result"]["messages"][0]["content"]["text"]


def wait_json(c, uri, pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        v = c.read_json(uri)
        if pred(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


@ck.case
def test_scx_layered():
    need("pcdir")
    so = build_example("plugin-scx-layered")
    if not so:
        return
    sock = os.path.join(TMP, "stats")
    conf = "[plugin scx_layered]\nsocket_path = %s\npoll_ms = 200\ntimeout_ms = 500\n" % sock
    with daemon([so], conf) as c:
        a = c.read_json("layered://layers")
        ck.eq(a["available"], False, "no scheduler yet")
        ck.check("no scx_layered stats" in a["reason"], "reason: %r" % a["reason"])
        ck.check("layered://layers" not in workflow(c), "no layers served: no step")
        with FakeServer(sock):
            a = wait_json(c, "layered://layers", lambda v: v["available"] and v["period_s"])
            ck.eq(a["available"], True, "connected by the next poll")
            ck.eq([x["name"] for x in a["layers"]], ["batch", "interactive", "normal"],
                  "layers, busiest first")
            ck.check(a["period_s"] and 0.02 < a["period_s"] < 2.0,
                     "each snapshot covers about one poll of 0.2 s (%r)" % a["period_s"])
            b = a["layers"][0]
            ck.eq((b["cpus"], b["max_cpus"], b["starved"]), (2, 2, True),
                  "batch is at its ceiling and busy: starved")
            ck.eq(a["layers"][1]["starved"], False, "interactive is not")
            ck.eq(a["system"]["busy_pct"], 62.5, "system stats")
            text = workflow(c)
            ck.check(re.search(r"\n\d+\. scx_layered's layers: read layered://layers "
                               r"\(busiest first; 3 layers, 1 starved", text),
                     "a third-party plugin's step in investigate_scheduler_behavior: %r"
                     % text[-1500:])
            ck.check("layered://layers" not in workflow(c, "summarize_system"),
                     "and only in the workflows of its topic")
            one = c.read_json("layered://layers/batch")
            ck.eq(one["cpu_list"], "0-1", "CPU mask as a list")
            ck.eq(one["fields"]["util"]["value"], 190.0, "field value")
            ck.check("100% means one full CPU" in one["fields"]["util"]["desc"],
                     "field description from stats_meta")
            ck.check("cpus" not in one["fields"], "the mask is not a number")
            r = c.read("layered://layers/nope")
            ck.check(smcp_test.is_error(r), "unknown layer: not found")
            r = c.request("completion/complete", {
                "ref": {"type": "ref/resource", "uri": "layered://layers/{name}"},
                "argument": {"name": "name", "value": ""}})
            ck.eq(r["result"]["completion"]["values"], ["batch", "interactive", "normal"],
                  "layer names offered")
            r = c.read("metrics://catalog")
            if "result" in r:
                ck.check("scx_layered_util_pct" in r["result"]["contents"][0]["text"],
                         "per-layer metrics registered")
                deadline = time.monotonic() + 5  # the first history step is 1 s away
                while True:
                    q = c.call_tool("query_history", {"metric": "scx_layered_util_pct",
                                                      "start": "-1m"})
                    if "batch" in json.dumps(q.get("result", {})) or \
                            time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                ck.check("batch" in json.dumps(q.get("result", {})), "history per layer")
        a = wait_json(c, "layered://layers", lambda v: "last_error" in v)
        ck.check("last_error" in a, "scheduler gone: the last snapshot with the error")
        ck.check("layered://layers" not in workflow(c), "scheduler gone: its step too")
        with FakeServer(sock):
            a = wait_json(c, "layered://layers", lambda v: "last_error" not in v)
            ck.check("last_error" not in a, "reconnected after a restart")


if __name__ == "__main__":
    try:
        ck.main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
