#!/usr/bin/env python3
"""What `schedmcp --help` and `--help-config` offer is what the man pages
and the bash completion document, and the default config path is the same in
--help, the man page, the README, the example config and the plugin guide:
this fails when they drift apart. The pages and the completion are generated
from the binary at build time (docs/man/genman.py): this also generates them
again and requires the built ones to be the same, so a stale page (a build
rule that forgot a dependency) fails too."""
import os
import re
import subprocess
import sys
import tempfile

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

def built(name):
    with open(os.path.join(build, "docs", name)) as f:
        return f.read()


def as_text(roff):
    """roff as text: \\- is a -, \\fB..\\fR are fonts"""
    return re.sub(r"\\f[BIRP]", "", roff.replace("\\-", "-").replace("\\e", "\\"))


GENERATED = [("schedmcp.1", "man1", "schedmcp.1.in"), ("schedmcp.conf.5", "man5", "schedmcp.conf.5.in"),
             ("schedmcp-plugin.7", "man7", "schedmcp-plugin.7.in"), ("schedmcp", "bash", "schedmcp.bash.in")]
with tempfile.TemporaryDirectory() as tmp:
    for out, kind, template in GENERATED:
        again = os.path.join(tmp, out)
        p = subprocess.run([sys.executable, os.path.join(src, "docs", "man", "genman.py"), exe, kind,
                            os.path.join(src, "docs", "man", template), again],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"genman.py {kind} runs: {p.stderr.strip()}")
        if p.returncode == 0:
            with open(again) as f:
                check(f.read() == built(out),
                      f"build/docs/{out} is what the binary prints now (stale? rebuild)")

man = as_text(built("schedmcp.1"))
man5 = as_text(built("schedmcp.conf.5"))
man7 = as_text(built("schedmcp-plugin.7"))
completion = built("schedmcp")

options = sorted(set(re.findall(r"(--[a-z][a-z-]+)", help_text)))
check(len(options) >= 15, f"found the options in --help: {options}")
for opt in options:
    check(re.search(re.escape(opt) + r"\b", man), f"schedmcp(1) documents {opt}")
    check(re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", completion),
          f"the bash completion offers {opt}")
# prose (the templates' notes, the other pages) names no option the binary lacks;
# other programs' options are named where they are used
OTHERS = {"--cflags", "--variable",  # pkg-config, in schedmcp-plugin(7)
          "--stats"}  # scx_* --stats, in scx_stats's socket_path key
for name, text in (("schedmcp(1)", man), ("schedmcp.conf(5)", man5),
                   ("schedmcp-plugin(7)", man7), ("the bash completion", completion)):
    for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text)) - set(options) - OTHERS):
        check(False, f"{name} names {opt}, which --help does not offer")

usage = help_text[:help_text.index("Options:")]
commands = sorted(set(re.findall(r"^\s+schedmcp ([a-z]+)", usage, re.M)))
check(set(commands) >= {"mcp", "serve", "status", "report"}, f"commands in --help: {commands}")
synopsis = man[man.index(".SH SYNOPSIS"):man.index(".SH DESCRIPTION")]
for cmd in commands:
    check(re.search(r"^\.B schedmcp " + cmd + r"\b", synopsis, re.M),
          f"the man page's SYNOPSIS has schedmcp {cmd}")
    check(re.search(r'compgen -W "[^"]*\b' + cmd + r'\b', completion),
          f"the bash completion offers the command {cmd}")

core = config_text[config_text.index("[core]\n"):]
core = core[:core.index("\n\n")] if "\n\n" in core else core
keys = [line.split()[0] for line in core.splitlines()[1:] if line.strip()]
check(len(keys) > 20, f"found the [core] keys in --help-config: {keys}")
section = None
for line in config_text.splitlines():
    if line.startswith("["):
        section = line.strip("[]")
        check(f".SS [{section}]" in man5, f"schedmcp.conf(5) has a [{section}] section")
    elif line.startswith("  ") and section:
        key, typ, default = line.split()[:3]
        check(re.search(r"^" + re.escape(f"{key} = {typ} (default ") + r"(unset|" +
                        re.escape(default) + r")\)$", man5, re.M),
              f"schedmcp.conf(5) documents [{section}] {key} ({typ}, {default})")
        if section == "core" or section.startswith("plugin "):
            check(f"{section.split()[-1]}.{key}=" in completion,
                  f"the bash completion offers --set {section.split()[-1]}.{key}=")

m = re.search(r"default (/\S+) if it exists", help_text)
check(m, "--help names the default config path")
if m:
    path = m.group(1)
    for doc in [("docs", "man", "schedmcp.1.in"), ("docs", "man", "schedmcp.conf.5.in"), ("README.md",), ("docs", "schedmcp.conf.example"),
                ("docs", "plugin-guide.md"), ("docs", "architecture.md")]:
        text = read(*doc)
        check(path in text, f"{'/'.join(doc)} names the default config path {path}")
        others = set(re.findall(r"(?<![\w.])(/[\w./-]*schedmcp\.conf)(?![\w.])", text)) - {path}
        check(not others, f"{'/'.join(doc)} names no other config path: {sorted(others)}")

print(f"docs/cli: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
