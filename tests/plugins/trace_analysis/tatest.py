"""Shared pieces of the trace_analysis tests: a trace directory, synthetic
Perfetto traces encoded by protoc (Debian protobuf-compiler) from text
against tests/traces/perfetto.proto (so the reader is proven on bytes
another encoder wrote), and a daemon loading only trace_analysis.
Standard library only."""
import os
import shutil
import subprocess
import sys

SRC = os.environ.get("SMCP_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import smcp_test as T  # noqa: E402

PROTO_DIR = os.path.join(SRC, "tests", "traces")


def protoc_or_skip():
    if not shutil.which("protoc"):
        raise T.Skip("no protoc (Debian protobuf-compiler): synthetic traces cannot be encoded")


def encode(text):
    """The bytes of a perfetto.protos.Trace written as protobuf text."""
    protoc_or_skip()
    r = subprocess.run(["protoc", "-I" + PROTO_DIR, "--encode=perfetto.protos.Trace",
                        "perfetto.proto"], input=text.encode(), capture_output=True, timeout=30)
    if r.returncode:
        raise RuntimeError("protoc: " + r.stderr.decode())
    return r.stdout


def trace_dir():
    d = T.temp_dir("smcp-traces-")
    os.chmod(d, 0o755)
    return d


def write(d, name, data):
    p = os.path.join(d, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    return p


def daemon(d, extra=""):
    """A daemon (smcp_test.Daemon) with only trace_analysis, reading dir d."""
    so = os.path.join(T.BUILD, "plugins", "trace_analysis", "trace_analysis.so")
    if not os.path.isfile(so):
        raise T.Skip("the trace_analysis plugin is not built")
    cfg = T.write_config(f"[plugin trace_analysis]\ndir = {d}\n{extra}")
    return T.Daemon(["--enable", "trace_analysis", "--log-level", "error", "--config", cfg],
                    plugin_dir_=T.plugin_dir(nested=[so]))


def load(c, name):
    return c.tool("trace_load", {"file": name}, timeout=60)


def analyze(c, name, analysis, **kw):
    """trace_analyze's structuredContent (raises on a failed call)."""
    args = {"file": name, "analysis": analysis}
    args.update(kw)
    return c.structured("trace_analyze", args, timeout=60)


def all_rows(c, name, analysis, **kw):
    """Every row, following next_cursor."""
    rows, cursor = [], 0
    while True:
        r = analyze(c, name, analysis, cursor=cursor, **kw)
        rows += r["rows"]
        nxt = r["page"].get("next_cursor")
        if nxt is None:
            return rows, r
        cursor = nxt


def ev(ts, cpu_pid, body):
    """One FtraceEvent as text."""
    return f"event {{ timestamp: {ts} pid: {cpu_pid} {body} }}\n"


def switch(ts, prev, state, nxt, prev_comm="", next_comm="", cur=0, prio=120):
    return ev(ts, cur, f'sched_switch {{ prev_comm: "{prev_comm}" prev_pid: {prev} '
                       f'prev_prio: 120 prev_state: {state} next_comm: "{next_comm}" '
                       f"next_pid: {nxt} next_prio: {prio} }}")


def waking(ts, pid, comm, target, cur=0):
    return ev(ts, cur, f'sched_waking {{ comm: "{comm}" pid: {pid} prio: 120 success: 1 '
                       f"target_cpu: {target} }}")


def bundle(cpu, body):
    return f"packet {{ ftrace_events {{ cpu: {cpu}\n{body} }} }}\n"
