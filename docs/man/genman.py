#!/usr/bin/env python3
"""Write a manual page or the bash completion from what the built schedmcp
prints, so that they cannot drift from it (issue 19):

  genman.py EXE KIND TEMPLATE OUTPUT

KIND is man1, man5, man7 or bash. The options come from `EXE --help`, the
configuration keys (core and every plugin found) from `EXE --help-config`,
the versions from `EXE --version`. The templates hold what the binary does
not say: prose, and per option or key a longer note (`.\\" @note --config`
or `.\\" @note core.state_dir` up to the next `.\\" @`); a note for an option
or key the binary does not have is an error, so prose cannot outlive what it
describes. tests/docs/cli_docs.py runs this again and compares."""
import re
import subprocess
import sys

TYPES = {"bool", "int", "string", "path"}


def run(exe, *args):
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True,
                          env={"LC_ALL": "C"}).stdout


def parse_help(text):
    """[(short, long, arg, help text)] from --help's Options: block, and the
    commands named in its Usage: lines."""
    usage, opts_text = text.split("\nOptions:\n", 1)
    commands = re.findall(r"^\s+schedmcp ([a-z]+) ", usage, re.M)
    options = []
    for line in opts_text.splitlines():
        m = re.match(r"^  (?:-(\w), |    )--([a-z][a-z-]*)(?: ([A-Z][A-Z.=]*))?(?:\s{2,}(.*))?$",
                     line)
        if m:
            options.append([m.group(1), m.group(2), m.group(3), m.group(4) or ""])
        elif re.match(r"^ {25}\S", line) and options:
            options[-1][3] = (options[-1][3] + " " + line.strip()).strip()
        elif line.strip():
            sys.exit(f"genman: cannot read this --help line: {line!r}")
    if len(options) < 10 or not commands:
        sys.exit("genman: --help has fewer options or commands than expected")
    return commands, [tuple(o) for o in options]


def parse_help_config(text):
    """[(section, [(key, type, default, description)])] from --help-config."""
    sections = []
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1], []))
        elif line.startswith("  ") and sections:
            parts = line.split(None, 3)
            if len(parts) < 4 or parts[1] not in TYPES:
                sys.exit(f"genman: cannot read this --help-config line: {line!r}")
            sections[-1][1].append(tuple(parts))
    if not sections or sections[0][0] != "core":
        sys.exit("genman: --help-config has no [core] section")
    return sections


def roff(text):
    """Plain text as roff: backslashes and hyphens escaped, no line starting
    with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def notes_of(template):
    """The template without its note blocks, and the notes by name."""
    notes, out, name = {}, [], None
    for line in template.splitlines(keepends=True):
        m = re.match(r'^\.\\" @(note (\S+)|end)\s*$', line)
        if m:
            name = m.group(2)
            if name:
                notes[name] = ""
            continue
        if name:
            notes[name] += line
        else:
            out.append(line)
    return "".join(out), notes


def option_syntax(short, long, arg):
    s = (f"\\fB\\-{short}\\fR, " if short else "") + f"\\fB\\-\\-{long}\\fR"
    return s + (f" \\fI{roff(arg)}\\fR" if arg else "")


def man1(exe, template):
    commands, options = parse_help(run(exe, "--help"))
    body, notes = notes_of(template)
    names = {"--" + o[1] for o in options}
    for n in notes:
        if n not in names:
            sys.exit(f"genman: schedmcp.1 has a note for {n}, which --help does not offer")
    out = []
    for short, long, arg, text in options:
        out.append(".TP\n" + option_syntax(short, long, arg) + "\n")
        out.append(roff(text[0].upper() + text[1:]).rstrip(".") + ".\n" if text else "")
        out.append(notes.get("--" + long, ""))
    for cmd in commands:
        if not re.search(r"^\.B schedmcp " + cmd + r"$", body, re.M):
            sys.exit(f"genman: schedmcp.1's SYNOPSIS lacks the command {cmd} that --help has")
    return body.replace("@OPTIONS@\n", "".join(out))


def man5(exe, template):
    sections = parse_help_config(run(exe, "--help-config"))
    body, notes = notes_of(template)
    known = {f"{s.split()[-1]}.{k[0]}" for s, keys in sections for k in keys}
    for n in notes:
        if n not in known:
            sys.exit(f"genman: schedmcp.conf.5 has a note for {n}, which --help-config lacks")
    out = []
    for section, keys in sections:
        out.append(f".SS [{roff(section)}]\n")
        for key, typ, default, text in keys:
            shown = "unset" if default == "(unset)" else f"\\fB{roff(default)}\\fR"
            out.append(f".TP\n\\fB{roff(key)}\\fR = \\fI{typ}\\fR (default {shown})\n")
            out.append(roff(text[0].upper() + text[1:]).rstrip(".") + ".\n")
            out.append(notes.get(f"{section.split()[-1]}.{key}", ""))
    return body.replace("@KEYS@\n", "".join(out))


def subst_common(exe, text):
    version = run(exe, "--version")
    m = re.match(r"schedmcp (\S+) \(plugin ABI (\d+)\.(\d+)", version)
    if not m:
        sys.exit(f"genman: cannot read --version: {version!r}")
    core = dict((k[0], k[2]) for k in parse_help_config(run(exe, "--help-config"))[0][1])
    for name, value in (("VERSION", m.group(1)), ("ABI_MAJOR", m.group(2)),
                        ("ABI_MINOR", m.group(3)), ("PLUGINDIR", core["plugin_dir"])):
        text = text.replace("@" + name + "@", roff(value))
    return text


def bash(exe, template):
    commands, options = parse_help(run(exe, "--help"))
    sections = parse_help_config(run(exe, "--help-config"))
    core = dict((k[0], k) for k in sections[0][1])
    levels = re.findall(r"[a-z]+", core["log_level"][3].split(":", 1)[1])
    with_arg = " ".join("--" + o[1] for o in options if o[2])
    plain = " ".join(("-" + o[0] + " " if o[0] else "") + "--" + o[1]
                     for o in options if not o[2])
    case_arg = " | ".join([("-" + o[0]) for o in options if o[0] and o[2]] +
                          ["--" + o[1] for o in options if o[2]])
    keys = " ".join(f"{s.split()[-1]}.{k[0]}=" for s, ks in sections for k in ks)
    text = template
    for name, value in (("COMMANDS", " ".join(commands)), ("OPTS_ARG", with_arg),
                        ("CASE_ARG", case_arg), ("OPTS_PLAIN", plain),
                        ("KEYS", keys), ("LEVELS", " ".join(levels)),
                        ("PLUGINDIR", core["plugin_dir"][2])):
        text = text.replace("@" + name + "@", value)
    return text


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    exe, kind, template_path, output = sys.argv[1:]
    with open(template_path) as f:
        template = f.read()
    gen = {"man1": man1, "man5": man5, "man7": lambda e, t: t, "bash": bash}.get(kind)
    if not gen:
        sys.exit(f"genman: unknown kind {kind}")
    text = gen(exe, template)
    if kind != "bash":
        text = subst_common(exe, text)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        sys.exit(f"genman: {template_path}: unknown placeholders {left}")
    with open(output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
