"""Helpers of the trace_record tests: a daemon with only trace_record and a
private trace directory, a reader of our Perfetto files (the protobuf wire
format, by hand: the tests must not trust the encoder they check), protoc,
and a tracefs instance recording the same events."""
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
import mcp_client  # noqa: E402
import smcp_test  # noqa: E402

SOURCE = os.environ.get("SMCP_SOURCE_DIR", os.path.join(HERE, "..", "..", ".."))
PROTO_DIR = os.path.join(SOURCE, "tests", "traces")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def need_root():
    if os.geteuid() != 0:
        skip("needs root (loads BPF programs)")


def trace_dir():
    """A directory the daemon's account may write (it leaves uid 0)."""
    d = tempfile.mkdtemp(prefix="smcp-trace-")
    try:
        pw = pwd.getpwnam("schedmcp")
        os.chown(d, pw.pw_uid, pw.pw_gid)
    except KeyError:
        pass
    os.chmod(d, 0o750)
    return d


class Daemon(mcp_client.Client):
    def __init__(self, tdir, extra_config="", **kw):
        cfg = smcp_test.write_config(f"[plugin trace_record]\ndir = {tdir}\n{extra_config}")
        os.chmod(cfg, 0o644)  # also for a daemon run as nobody
        kw.setdefault("plugin_dir_", mcp_client.plugin_dir())
        super().__init__(args=["--enable", "trace_record", "--config", cfg], **kw)
        self.tdir = tdir


def start_loaded(tdir, **kw):
    d = Daemon(tdir, **kw)
    st = d.plugin_state("trace_record")
    if not st or st["state"] != "loaded":
        d.close()
        skip(f"trace_record did not load here: {st}")
    return d


def protoc_decode(path):
    """protoc's text of the file, or raise: it must parse."""
    if not shutil.which("protoc"):
        skip("protoc is not installed (Debian protobuf-compiler)")
    with open(path, "rb") as f:
        p = subprocess.run(["protoc", "--decode=perfetto.protos.Trace", f"-I{PROTO_DIR}",
                            "perfetto.proto"], stdin=f, capture_output=True, timeout=60)
    if p.returncode:
        raise AssertionError(f"protoc cannot decode {path}: {p.stderr.decode()[:500]}")
    return p.stdout.decode()


# ---------------------------------------------------------------- the wire

def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def fields(b):
    """(field, wire type, value) of a message: ints for varints, bytes else."""
    i, n = 0, len(b)
    while i < n:
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 2:
            ln, i = varint(b, i)
            v, i = b[i:i + ln], i + ln
            if i > n:
                raise ValueError("length past the end")
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {w}")
        yield f, w, v


def packed(b):
    out, i = [], 0
    while i < len(b):
        v, i = varint(b, i)
        out.append(v)
    return out


def s32(v):
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


# FtraceEvent fields we write, by number
EVENT_NAMES = {4: "sched_switch", 20: "sched_waking", 11: "cpu_frequency", 13: "cpu_idle",
               24: "softirq_entry", 25: "softirq_exit", 36: "irq_handler_entry",
               37: "irq_handler_exit", 114: "sched_wakeup_new", 237: "sched_process_exec",
               238: "sched_process_exit", 239: "sched_process_fork", 491: "sched_migrate_task"}


def parse_compact(b):
    cols = {}
    names = []
    for f, w, v in fields(b):
        if f == 5:
            names.append(v.decode())
        else:
            cols.setdefault(f, []).extend(packed(v) if w == 2 else [v])
    out = []
    for tsf, kind, rest in ((1, "sched_switch", (2, 3, 4, 6)), (7, "sched_waking", (8, 9, 10, 11))):
        ts = 0
        for k, d in enumerate(cols.get(tsf, [])):
            ts += d
            a, b_, c, comm = (cols[x][k] for x in rest)
            if kind == "sched_switch":
                out.append((ts, kind, {"prev_state": s32(a), "next_pid": s32(b_),
                                       "next_prio": s32(c), "next_comm": names[comm]}))
            else:
                out.append((ts, kind, {"pid": s32(a), "target_cpu": s32(b_), "prio": s32(c),
                                       "comm": names[comm]}))
    return out


def parse_trace(path):
    """{'clocks': [boot ns of each ClockSnapshot], 'bundles': [(cpu, lost,
    [(ts, name, fields)] in file order)], 'cpu_stats': {cpu: {..}},
    'threads': {tid: name}, 'packets': n}"""
    with open(path, "rb") as f:
        data = f.read()
    out = {"clocks": [], "bundles": [], "cpu_stats": {}, "threads": {}, "packets": 0,
           "system_info": False, "trace_stats": False}
    for f, w, pkt in fields(data):
        assert f == 1 and w == 2, f"Trace holds only packets: field {f}"
        out["packets"] += 1
        for pf, pw, pv in fields(pkt):
            if pf == 1:  # ftrace_events
                cpu, lost, evs = None, False, []
                for bf, bw, bv in fields(pv):
                    if bf == 1:
                        cpu = bv
                    elif bf == 3:
                        lost = bool(bv)
                    elif bf == 2:
                        ts, name, body = 0, None, {}
                        for ef, ew, ev in fields(bv):
                            if ef == 1:
                                ts = ev
                            elif ef in EVENT_NAMES:
                                name = EVENT_NAMES[ef]
                                body = {k: v for k, _, v in fields(ev)}
                        evs.append((ts, name, body))
                    elif bf == 4:
                        evs.extend(parse_compact(bv))
                out["bundles"].append((cpu, lost, evs))
            elif pf == 6:  # clock_snapshot
                for cf, cw, cv in fields(pv):
                    if cf == 1:
                        c = {k: v for k, _, v in fields(cv)}
                        if c.get(1) == 6:
                            out["clocks"].append(c[2])
            elif pf == 2:  # process_tree
                for tf, tw, tv in fields(pv):
                    if tf == 2:
                        t = {k: v for k, _, v in fields(tv)}
                        out["threads"][t.get(1)] = t.get(2, b"").decode()
            elif pf == 34:  # ftrace_stats
                for sf, sw, sv in fields(pv):
                    if sf == 2:
                        c = {k: v for k, _, v in fields(sv)}
                        out["cpu_stats"][c.get(1, 0)] = c
            elif pf == 45:
                out["system_info"] = True
            elif pf == 35:
                out["trace_stats"] = True
    return out


# ------------------------------------------------------------- tracefs side

TRACEFS = "/sys/kernel/tracing"
FTRACE_EVENTS = ["sched/sched_switch", "sched/sched_waking", "sched/sched_wakeup_new",
                 "sched/sched_migrate_task", "sched/sched_process_fork",
                 "sched/sched_process_exec", "sched/sched_process_exit",
                 "irq/irq_handler_entry", "irq/irq_handler_exit", "irq/softirq_entry",
                 "irq/softirq_exit", "power/cpu_idle", "power/cpu_frequency"]


class FtraceInstance:
    """A private tracefs instance recording our events with the boot clock,
    so nothing else's tracing is disturbed."""

    def __init__(self, name, buffer_kb=16384):
        if not os.path.isdir(TRACEFS + "/instances"):
            subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], capture_output=True)
        if not os.path.isdir(TRACEFS + "/instances"):
            skip("tracefs instances are not available")
        # instances of earlier runs that were killed before cleaning up
        for old in os.listdir(TRACEFS + "/instances"):
            pid = old.rsplit("_", 1)[-1]
            if old.startswith("smcp_trace_record_") and pid.isdigit() and \
                    not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(f"{TRACEFS}/instances/{old}")
                except OSError:
                    pass
        self.name = name
        self.path = f"{TRACEFS}/instances/{name}"
        if os.path.isdir(self.path):
            os.rmdir(self.path)
        os.mkdir(self.path)
        self.write("trace_clock", "boot")
        self.write("buffer_size_kb", str(buffer_kb))
        self.events = []
        for e in FTRACE_EVENTS:
            if os.path.exists(f"{self.path}/events/{e}/enable"):
                self.write(f"events/{e}/enable", "1")
                self.events.append(e.split("/")[1])

    def write(self, f, v):
        with open(f"{self.path}/{f}", "w") as fh:
            fh.write(v)

    def on(self, yes):
        self.write("tracing_on", "1" if yes else "0")

    def lost(self):
        """Per CPU, events the instance lost (overrun + dropped)."""
        out = {}
        for d in os.listdir(f"{self.path}/per_cpu"):
            st = open(f"{self.path}/per_cpu/{d}/stats").read()
            n = 0
            for key in ("overrun", "dropped events", "commit overrun"):
                m = re.search(rf"^{key}: (\d+)", st, re.M)
                n += int(m.group(1)) if m else 0
            out[int(d[3:])] = n
        return out

    def close(self):
        try:
            self.on(False)
            for e in FTRACE_EVENTS:
                if os.path.exists(f"{self.path}/events/{e}/enable"):
                    self.write(f"events/{e}/enable", "0")
            os.rmdir(self.path)
        except OSError:
            pass


TEXT_LINE = re.compile(r"^\s*(.*?)-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+): (\w+):\s*(.*)$")
STATES = {"R": 0, "S": 1, "D": 2, "T": 4, "t": 8, "X": 16, "Z": 32, "P": 64, "I": 128, "R+": 256}


def instance_events(inst):
    """[(cpu, ts_ns, event, {field: value})] from the instance's per-CPU
    text buffers (reading them consumes nothing; trace-cmd extract would,
    and it fails whenever /proc/kallsyms changes size, as it does while
    anything loads BPF). Timestamps have microseconds; prev_state letters
    become ftrace's numbers; "common_pid" is the current thread's id."""
    out = []
    for d in sorted(os.listdir(f"{inst.path}/per_cpu")):
        cpu = int(d[3:])
        with open(f"{inst.path}/per_cpu/{d}/trace", errors="replace") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                m = TEXT_LINE.match(line)
                if not m:
                    continue
                ts = int(m.group(4)) * 1000000000 + int(m.group(5).ljust(9, "0")[:9])
                body = dict(kv.split("=", 1) for kv in m.group(7).split() if "=" in kv)
                if "prev_state" in body:
                    body["prev_state"] = STATES.get(body["prev_state"], -1)
                body["common_pid"] = int(m.group(2))
                out.append((cpu, ts, m.group(6), body))
    return out
