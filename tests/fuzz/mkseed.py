#!/usr/bin/env python3
"""Make a seed for the plugin fuzz targets (format: tests/fuzz/fstree.h) from
a real or fixture /proc and /sys tree.

  mkseed.py OUT ROOT PATH... [--phase ROOT PATH...] [--param NAME=VALUE]
            [--only REGEX]

Every regular file under ROOT/PATH (a file or a directory, recursively) is
written as a record "PATH\\0CONTENT\\0". --phase starts the next phase (a
"--" record) with files of another (or the same) root. --only keeps the
files whose path matches REGEX (re.search): the files the plugin reads,
so that each fuzz input stays small and fast to write. Files that cannot
be read (EPERM, EIO in /sys) are left out; the seed is cut at 60 KiB, the
length scripts/fuzz gives libFuzzer.
  e.g. mkseed.py corpus/sysstat/live / /proc/stat /proc/loadavg
"""
import os
import re
import sys

LIMIT = 60 * 1024


def records(root, paths, only):
    out = []
    for p in paths:
        full = os.path.join(root, p.lstrip("/"))
        walk = [(full, [], [])] if os.path.isfile(full) else os.walk(full)
        for d, _, files in walk:
            names = [""] if os.path.isfile(d) else sorted(files)
            for f in names:
                path = os.path.join(d, f) if f else d
                try:
                    with open(path, "rb") as fh:
                        data = fh.read(16384)
                except OSError:
                    continue
                rel = "/" + os.path.relpath(path, root)
                if only and not re.search(only, rel):
                    continue
                out.append(rel.encode() + b"\0" + data.replace(b"\0", b"") + b"\0")
    return out


def main(argv):
    out, rest = argv[0], argv[1:]
    blob = b""
    params = []
    only = None
    phases, cur = [], None
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--only":
            only = rest[i + 1]
            i += 2
            continue
        if a == "--param":
            params.append(rest[i + 1])
            i += 2
            continue
        if a == "--phase" or cur is None:
            if a == "--phase":
                i += 1
            cur = [rest[i], []]
            phases.append(cur)
            i += 1
            continue
        cur[1].append(a)
        i += 1
    for n, (root, paths) in enumerate(phases):
        if n:
            blob += b"--\0"
        for r in records(root, paths, only):
            if len(blob) + len(r) > LIMIT:
                break
            blob += r
    for p in params:
        name, value = p.split("=", 1)
        blob += b"@" + name.encode() + b"\0" + value.encode() + b"\0"
    with open(out, "wb") as f:
        f.write(blob)


if __name__ == "__main__":
    main(sys.argv[1:])
