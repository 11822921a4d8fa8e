"""Shared pieces of the sched_latency tests: smcp_test's Checker and Daemon
for this plugin, skipping (77) with a reason, the workload helper, and
runqlat's output parser. Standard library only."""
import os
import re
import shutil
import subprocess
import sys
import time

SRC = os.environ.get("SMCP_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import mcp_client  # noqa: E402
import smcp_test  # noqa: E402

SKIP = smcp_test.SKIP
OUR_PROGS = {"sl_switch", "sl_waking", "sl_wakeup", "sl_wakeup_new", "sl_migrate", "sl_exit",
             "sl_dump", "sl_switch_raw", "sl_waking_raw", "sl_wakeup_raw", "sl_wakeup_new_r",
             "sl_migrate_raw", "sl_exit_raw", "sl_sirq_entry", "sl_sirq_exit", "sl_sirq_entry_r",
             "sl_sirq_exit_ra", "sl_cg_attach", "sl_cg_transfer", "sl_cg_attach_ra",
             "sl_cg_transfer_"}


# counted checks with meson's exit codes, named after the script
Checker = smcp_test.Checker


def skip(why):
    print("SKIP:", why)
    sys.exit(SKIP)


def need_root():
    if os.geteuid() != 0:
        skip("needs root (loads BPF programs)")


def workload_path():
    p = os.environ.get("SL_WORKLOAD")
    if not p or not os.path.exists(p):
        skip("sl-workload helper not built")
    return p


class Daemon(smcp_test.Daemon):
    """The daemon (smcp_test.Daemon: strict reader, stderr in a file) with
    only sched_latency enabled, from the build's plugins; config, when
    given, is the text of its config file."""

    def __init__(self, extra_args=None, config=None, **kw):
        args = ["--enable", "sched_latency"]
        if config is not None:
            args += ["--config", smcp_test.write_config(config)]
        kw.setdefault("plugin_dir_", mcp_client.plugin_dir())
        super().__init__(args=args + list(extra_args or []), **kw)

    def plugin_state(self):
        return super().plugin_state("sched_latency")


def start_loaded(checker, **kw):
    """A daemon whose plugin loaded (not degraded), or skip."""
    d = Daemon(**kw)
    st = d.plugin_state()
    if not st or st["state"] != "loaded":
        d.close()
        skip(f"sched_latency did not load here: {st}")
    return d


def poll_events(d, cursor, type_=None):
    """Every event after cursor (poll_events, all pages), and the next cursor."""
    events, args = [], {"limit": 100}
    if type_:
        args["type"] = type_
    while True:
        r = d.structured("poll_events", dict(args, cursor=cursor))
        events += r["events"]
        cursor = r["next_cursor"]
        if not r["has_more"]:
            return events, cursor


def _progs():
    progs = smcp_test.bpftool_programs()
    if progs is None:
        return None
    return [p for p in progs.values() if p.get("name", "") in OUR_PROGS]


program_ids = smcp_test.bpf_prog_ids


def our_programs(pid=None):
    """Names of BPF programs of ours loaded now (bpftool), or None; with pid,
    only those that process holds (other daemons may run on the machine)."""
    progs = _progs()
    if progs is None:
        return None
    ids = program_ids(pid) if pid is not None else None
    return sorted(p["name"] for p in progs if ids is None or p["id"] in ids)


def still_loaded(ids):
    """Which of these program ids are still loaded: after the daemon exits,
    none may be, whatever else runs on the machine."""
    return sorted(ids & {p["id"] for p in _progs() or []})


def ctxt():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    raise RuntimeError("no ctxt in /proc/stat")


class Workload:
    def __init__(self, *args):
        self.proc = subprocess.Popen([workload_path()] + [str(a) for a in args],
                                     stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        self.pids = [int(x) for x in first[1:]] if first and first[0] == "pids" else []

    def wait(self, timeout=120):
        out, _ = self.proc.communicate(timeout=timeout)
        return out

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def stop(d, workloads):
    """Kill the workloads, then stop the daemon: the end of a test that
    started both before its try."""
    for w in workloads:
        w.kill()
    d.close()


def runqlat_path():
    return shutil.which("runqlat") or ("/usr/sbin/runqlat"
                                       if os.path.exists("/usr/sbin/runqlat") else None)


def start_runqlat(*args):
    """runqlat ARGS with its stdout piped, returned once it is attached.
    It block-buffers its "Tracing" line when piped: stdbuf line-buffers
    it, so that what is compared with it starts the moment it is
    attached (a second's sleep without stdbuf)."""
    cmd = [runqlat_path(), *map(str, args)]
    stdbuf = shutil.which("stdbuf")
    rq = subprocess.Popen(([stdbuf, "-oL"] if stdbuf else []) + cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if stdbuf:
        while True:
            line = rq.stdout.readline()
            if not line or "Tracing" in line:
                break
    else:
        time.sleep(1.0)
    return rq


def parse_runqlat(text):
    """runqlat's log2 usecs histogram -> {slot: count} (slot = log2 of the
    lower bound, with the 0 -> 1 row as slot 0)."""
    hist = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s*->\s*(\d+)\s*:\s*(\d+)", line)
        if not m:
            continue
        lo, count = int(m.group(1)), int(m.group(3))
        slot = 0 if lo == 0 else lo.bit_length() - 1
        hist[slot] = hist.get(slot, 0) + count
    return hist


def slot_quantile(hist, q):
    """The slot holding rank ceil(q * total)."""
    total = sum(hist.values())
    if not total:
        return None
    rank = max(1, -(-int(q * total * 1000) // 1000))
    cum = 0
    for slot in sorted(hist):
        cum += hist[slot]
        if cum >= rank:
            return slot
    return max(hist)


def our_slot_hist(histogram):
    """measure_latency's histogram ([lo_us, hi_us, count] buckets) folded
    into runqlat's log2 microsecond slots."""
    hist = {}
    for lo, _hi, count in histogram["counts"]:
        slot = 0 if lo < 2 else int(lo).bit_length() - 1
        hist[slot] = hist.get(slot, 0) + count
    return hist


wait_until = smcp_test.wait_until
