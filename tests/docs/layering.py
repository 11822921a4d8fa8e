#!/usr/bin/env python3
"""What belongs to plugins stays in plugins (issue 17): no file of core/ or
mcp/ but the wiring at the top (core/main.c) names a plugin, a URI, URI
scheme or tool a plugin registers, or a plugin's config key; code and
comments alike. The names come from the tree and the build, not from a
list here:

- plugin names: the folders of plugins/ (whole words; for the two that are
  English words, "scheduler" and "topology", only as a quoted name, in a
  [plugin ...] section or as "the ... plugin");
- URIs, templates and tools: what `schedmcp --list-surface` says a plugin
  registers, and every URI written in plugins/; a scheme only plugins use
  (stats://, bpf://) in any form;
- config keys: `--help-config`'s [plugin NAME] keys, as NAME.key, and as a
  quoted "key" when it is a multi-word name the core does not use itself.

Also: the workflows' topics (core/prompts_flows.c), the topics plugins file
steps under, and the plugin guide's table of topics agree, so that a step
cannot go to a topic no workflow shows and the guide lists every topic.
"""
import glob
import os
import re
import subprocess
import sys

SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

from smcp_test import Checker  # noqa: E402

ck = Checker("layering")
ALLOWED = {"core/main.c"}  # the wiring at the top may name a plugin
ENGLISH = {"scheduler", "topology"}
URI_RE = re.compile(r"\b([a-z][a-z0-9+.-]*)://[A-Za-z0-9_{}/.-]*")


def schedmcp(*args):
    return subprocess.run([os.path.join(BUILD, "core", "schedmcp"), "--plugin-dir",
                           os.path.join(BUILD, "plugins"), "--log-level", "error"] + list(args),
                          check=True, capture_output=True, text=True).stdout


def layer_files():
    out = {}
    for pat in ("core/*.c", "core/*.h", "mcp/*.c", "mcp/*.h"):
        for path in sorted(glob.glob(os.path.join(SRC, pat))):
            rel = os.path.relpath(path, SRC)
            if rel not in ALLOWED:
                with open(path, errors="replace") as f:
                    out[rel] = f.read().split("\n")
    return out


def plugin_names():
    return sorted(os.path.basename(os.path.dirname(p))
                  for p in glob.glob(os.path.join(SRC, "plugins", "*", "meson.build")))


def surface():
    """URIs/templates and tools of plugins (not the core's), from the build."""
    uris, tools, core_uris = set(), set(), set()
    section = None
    for line in schedmcp("--list-surface").splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[1] == "plugin":
                section = cells[0]
                continue
            name = cells[0].strip("`")
            if section in ("resource", "resource template"):
                (core_uris if cells[1] == "core" else uris).add(name)
            elif section == "tool" and cells[1] != "core":
                tools.add(name)
    for path in glob.glob(os.path.join(SRC, "plugins", "*", "*.[ch]")):
        with open(path, errors="replace") as f:
            for m in URI_RE.finditer(f.read()):
                if "{" in m.group(0) or len(m.group(0)) > len(m.group(1)) + 3:
                    uris.add(m.group(0).rstrip("./"))
    uris -= core_uris
    schemes = {u.split("://")[0] for u in uris} - {u.split("://")[0] for u in core_uris}
    # network URLs, not resource schemes: the core's HTTP transport and the
    # fleet plugin's Prometheus URL both write them, and neither names the
    # other's resources by them
    schemes -= {"http", "https"}
    uris = {u for u in uris if u.split("://")[0] not in ("http", "https")}
    return uris, tools, schemes


def config_keys():
    """{plugin: [keys]} and the core's own keys, from --help-config."""
    keys, core, section = {}, set(), None
    for line in schedmcp("--help-config").splitlines():
        m = re.match(r"\[(?:plugin )?([a-z0-9_]+)\]", line)
        if m:
            section = m.group(1) if line.startswith("[plugin") else "core"
            continue
        m = re.match(r"  ([a-z0-9_]+) ", line)
        if m and section == "core":
            core.add(m.group(1))
        elif m and section and m.group(1) != "enabled":
            keys.setdefault(section, []).append(m.group(1))
    return keys, core


def patterns():
    """(what, compiled regex) for everything that must not appear."""
    out = []
    for name in plugin_names():
        if name in ENGLISH:
            rx = r'"%s"|\[plugin %s\]|\b(?:the|a|an) %s plugin\b' % (name, name, name)
        else:
            rx = r"\b%s\b" % re.escape(name)
        out.append(("plugin name " + name, re.compile(rx)))
    uris, tools, schemes = surface()
    for u in sorted(uris):
        out.append(("plugin URI " + u, re.compile(re.escape(u) + r"(?![A-Za-z0-9_/{])")))
    for s in sorted(schemes):
        out.append(("plugin URI scheme %s://" % s, re.compile(r"\b%s://" % re.escape(s))))
    for t in sorted(tools):
        out.append(("plugin tool " + t, re.compile(r"\b%s\b" % re.escape(t))))
    keys, core = config_keys()
    for plugin, ks in sorted(keys.items()):
        for k in ks:
            out.append(("config key %s.%s" % (plugin, k),
                        re.compile(r"\b%s\.%s\b" % (re.escape(plugin), re.escape(k)))))
            if "_" in k and k not in core:
                out.append(("config key %s (of %s)" % (k, plugin),
                            re.compile(r'"%s"' % re.escape(k))))
    return out


@ck.case
def test_core_and_mcp_name_no_plugin():
    pats = patterns()
    ck.check(len(pats) > 50, "found what plugins register (%d names)" % len(pats))
    hits = 0
    for rel, lines in layer_files().items():
        for n, line in enumerate(lines, 1):
            for what, rx in pats:
                if rx.search(line):
                    hits += 1
                    ck.check(False, "%s:%d names %s: %s" % (rel, n, what, line.strip()[:120]))
    print("%d hits in core/ and mcp/ outside %s" % (hits, ", ".join(sorted(ALLOWED))))


def flow_topics():
    with open(os.path.join(SRC, "core", "prompts_flows.c")) as f:
        text = f.read()
    return set(re.findall(r'\b(?:TOPIC|NOTE)\("([a-z0-9_.]+)"', text)) | \
        set(re.findall(r'\.topic = "([a-z0-9_.]+)"', text))


@ck.case
def test_topics_agree():
    flows = flow_topics()
    ck.check(len(flows) > 30, "found the workflows' topics (%d)" % len(flows))
    with open(os.path.join(SRC, "docs", "plugin-guide.md")) as f:
        guide = f.read()
    table = guide[guide.index("| topic | what its steps are for |"):]
    table = table[:table.index("\n\n")]
    documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", table, re.M))
    ck.eq(sorted(documented - flows), [], "the guide lists only topics workflows use")
    ck.eq(sorted(flows - documented), [], "the guide lists every topic workflows use")
    used = {}
    for path in glob.glob(os.path.join(SRC, "plugins", "*", "*.c")) + \
            glob.glob(os.path.join(SRC, "examples", "*", "*.c")):
        with open(path, errors="replace") as f:
            text = f.read()
        for t in re.findall(r'\.topic = "([^"]+)"|STEP\("([^"]+)"', text):
            used.setdefault(t[0] or t[1], os.path.relpath(path, SRC))
    ck.check(len(used) > 30, "found the plugins' steps (%d topics)" % len(used))
    for topic, where in sorted(used.items()):
        ck.check(topic in flows, "%s files a step under %s, which no workflow shows"
                 % (where, topic))


if __name__ == "__main__":
    ck.main()
