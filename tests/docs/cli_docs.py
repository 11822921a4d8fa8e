#!/usr/bin/env python3
"""What `schedmcp --help` and `--help-config` offer is what the man page
documents, and the default config path is the same in --help, the man page,
the README, the example config and the plugin guide: this fails when they
drift apart."""
import os
import re
import subprocess
import sys

build = os.environ["SMCP_BUILD_DIR"]
src = os.environ["SMCP_SOURCE_DIR"]
exe = os.path.join(build, "core", "schedmcp")
failed = passed = 0


def check(cond, msg):
    global failed, passed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + msg)


def read(*path):
    with open(os.path.join(src, *path)) as f:
        return f.read()


help_text = subprocess.run([exe, "--help"], check=True, capture_output=True,
                           text=True).stdout
config_text = subprocess.run([exe, "--help-config"], check=True, capture_output=True,
                             text=True).stdout
# the man page as text: roff's \- is a -, \fB..\fR are fonts
man = read("docs", "schedmcp.1").replace("\\-", "-")
man = re.sub(r"\\f[BIRP]", "", man)

options = sorted(set(re.findall(r"(--[a-z][a-z-]+)", help_text)))
check(len(options) >= 15, f"found the options in --help: {options}")
for opt in options:
    check(re.search(re.escape(opt) + r"\b", man), f"docs/schedmcp.1 documents {opt}")

usage = help_text[:help_text.index("Options:")]
commands = sorted(set(re.findall(r"^\s+schedmcp ([a-z]+)", usage, re.M)))
check(set(commands) >= {"mcp", "serve", "status", "report"}, f"commands in --help: {commands}")
synopsis = man[man.index(".SH SYNOPSIS"):man.index(".SH DESCRIPTION")]
for cmd in commands:
    check(re.search(r"^\.B schedmcp " + cmd + r"\b", synopsis, re.M),
          f"the man page's SYNOPSIS has schedmcp {cmd}")

core = config_text[config_text.index("[core]\n"):]
core = core[:core.index("\n\n")] if "\n\n" in core else core
keys = [line.split()[0] for line in core.splitlines()[1:] if line.strip()]
check(len(keys) > 20, f"found the [core] keys in --help-config: {keys}")
section = man[man.index(".SH CONFIGURATION"):man.index(".SH EXIT STATUS")]
wild = re.findall(r"\b([a-z]+)_\*", section)
for k in keys:
    check(re.search(r"\b" + k + r"\b", section) or any(k.startswith(w + "_") for w in wild),
          f"the man page's CONFIGURATION names [core] {k}")

m = re.search(r"default (/\S+) if it exists", help_text)
check(m, "--help names the default config path")
if m:
    path = m.group(1)
    for doc in [("docs", "schedmcp.1"), ("README.md",), ("docs", "schedmcp.conf.example"),
                ("docs", "plugin-guide.md"), ("docs", "architecture.md")]:
        text = read(*doc)
        check(path in text, f"{'/'.join(doc)} names the default config path {path}")
        others = set(re.findall(r"(?<![\w.])(/[\w./-]*schedmcp\.conf)(?![\w.])", text)) - {path}
        check(not others, f"{'/'.join(doc)} names no other config path: {sorted(others)}")

print(f"docs/cli: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
