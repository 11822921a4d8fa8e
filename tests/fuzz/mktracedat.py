#!/usr/bin/env python3
"""Make a small trace.dat seed for the tracedat fuzz target from a big one.

  mktracedat.py IN OUT [PAGES]

IN is a version 6 trace.dat (`trace-cmd convert --file-version 6`) whose
events sit in a buffer instance (`trace-cmd extract -B NAME`). OUT keeps
its header page and event header, only the formats of the sched events,
no ftrace formats, kallsyms or printk formats, and as the top buffer's
data the first PAGES (default 1) ring-buffer pages of each CPU of the
instance: a few KiB that libtracecmd reads like the original. The
layout is trace-cmd.dat(5)'s.
"""
import struct
import sys

KEEP = {"sched_switch", "sched_waking", "sched_wakeup_new", "sched_migrate_task"}


class R:
    def __init__(self, b, at=0):
        self.b, self.at = b, at

    def take(self, n):
        v = self.b[self.at:self.at + n]
        self.at += n
        return v

    def u(self, n):
        return int.from_bytes(self.take(n), "little")

    def cstr(self):
        e = self.b.index(b"\0", self.at)
        v = self.b[self.at:e]
        self.at = e + 1
        return v


def main():
    src, dst = sys.argv[1], sys.argv[2]
    pages = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    b = open(src, "rb").read()
    r = R(b)
    out = bytearray(r.take(10))
    ver = r.cstr()
    assert ver == b"6", f"version {ver}: convert to 6 first"
    out += ver + b"\0" + r.take(2)
    page_size = r.u(4)
    out += struct.pack("<I", page_size)
    for name in (b"header_page", b"header_event"):
        assert r.cstr() == name
        n = r.u(8)
        out += name + b"\0" + struct.pack("<Q", n) + r.take(n)
    for _ in range(r.u(4)):  # ftrace formats: dropped
        r.take(r.u(8))
    out += struct.pack("<I", 0)
    systems = []
    for _ in range(r.u(4)):
        sysname = r.cstr()
        evs = []
        for _ in range(r.u(4)):
            f = r.take(r.u(8))
            name = f.split(b"\n", 1)[0].split(b":", 1)[1].strip().decode()
            if sysname == b"sched" and name in KEEP:
                evs.append(f)
        if evs:
            systems.append((sysname, evs))
    out += struct.pack("<I", len(systems))
    for sysname, evs in systems:
        out += sysname + b"\0" + struct.pack("<I", len(evs))
        for f in evs:
            out += struct.pack("<Q", len(f)) + f
    r.take(r.u(4))  # kallsyms
    r.take(r.u(4))  # printk formats
    cmd = r.take(r.u(8))
    cmd = b"".join(line + b"\n" for line in cmd.split(b"\n")[:32] if line)
    out += struct.pack("<I", 0) + struct.pack("<I", 0) + struct.pack("<Q", len(cmd)) + cmd
    cpus = r.u(4)
    out += struct.pack("<I", cpus)
    assert r.cstr() == b"options  "
    buf_at = None
    while True:
        oid = r.u(2)
        if oid == 0:
            break
        data = r.take(r.u(4))
        if oid == 3 and buf_at is None:  # TRACECMD_OPTION_BUFFER: offset, name
            buf_at = int.from_bytes(data[:8], "little")
    assert buf_at, "no buffer instance in the input"
    out += b"options  \0" + struct.pack("<H", 0)
    br = R(b, buf_at)
    assert br.cstr() == b"flyrecord"
    spans = [(br.u(8), br.u(8)) for _ in range(cpus)]
    out += b"flyrecord\0"
    table_at = len(out)
    out += b"\0" * (16 * cpus)
    for cpu, (off, size) in enumerate(spans):
        keep = min(size, pages * page_size)
        pad = (-len(out)) % page_size
        out += b"\0" * pad
        at = len(out)
        out += b[off:off + keep]
        struct.pack_into("<QQ", out, table_at + 16 * cpu, at, keep)
    open(dst, "wb").write(bytes(out))


if __name__ == "__main__":
    main()
