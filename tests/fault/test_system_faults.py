#!/usr/bin/env python3
"""The system says no: the daemon with every plugin built, run
 - without any capability (setpriv: what an unprivileged launch gets),
 - with bpf() refused outright, or only BPF_LINK_CREATE and
   BPF_RAW_TRACEPOINT_OPEN refused (programs load, attaching fails),
 - with perf_event_open refused,
 (tests/fault/denysys.c injects the failures with seccomp), then SIGTERM in
the middle of on-demand work (a latency measurement, a profile, BPF stats
collection, event tracking), and clients that go away mid-request.

In each case: every plugin that cannot work says why in schedmcp://plugins,
every resource read and the tools of degraded plugins answer (an error that
says what is missing, never silence), nothing BPF or perf is left open by a
plugin that failed, the exit is clean (status 0), and every BPF program and
link the daemon held is gone from the kernel afterwards (bpftool).

The capability and seccomp cases need root (77 otherwise)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import smcp_test  # noqa: E402
from smcp_test import BUILD, Checker, Daemon, Skip, is_root, itest_dir, result  # noqa: E402

T = Checker("fault/system-faults")
DENYSYS = os.environ.get("SMCP_DENYSYS") or os.path.join(BUILD, "tests", "fault", "denysys")
PLUGINS = os.path.join(BUILD, "plugins")
BPFTOOL = shutil.which("bpftool") or ("/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool")
                                      else None)
BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN = 28, 17
_wrappers = []


def wrapper(prefix):
    """A script that runs the daemon under prefix (a list of words)."""
    fd, path = tempfile.mkstemp(prefix="smcp-wrap-", suffix=".sh")
    real = smcp_test.daemon_path()
    with os.fdopen(fd, "w") as f:
        f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(prefix), real))
    os.chmod(path, 0o755)
    _wrappers.append(path)
    return path


class Wrapped(Daemon):
    """Daemon started through a wrapper (setpriv, denysys)."""

    def __init__(self, prefix, **kw):
        old = os.environ.get("SMCP_DAEMON")
        os.environ["SMCP_DAEMON"] = wrapper(prefix)
        try:
            super().__init__(**kw)
        finally:
            if old is None:
                del os.environ["SMCP_DAEMON"]
            else:
                os.environ["SMCP_DAEMON"] = old


def fd_kinds(pid):
    """{'bpf-prog': n, 'bpf-map': n, 'bpf_link': n, 'perf_event': n, ...}"""
    out = {}
    d = f"/proc/{pid}/fd"
    for fd in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if t.startswith("anon_inode:"):
            k = t[len("anon_inode:"):].strip("[]")
            out[k] = out.get(k, 0) + 1
    return out


def bpf_ids(pid):
    """(prog ids, link ids) the process holds, from fdinfo."""
    progs, links = set(), set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "prog_id":
                        progs.add(int(v))
                    elif k == "link_id":
                        links.add(int(v))
        except (OSError, ValueError):
            continue
    return progs, links


def bpf_exists(kind, id_):
    r = subprocess.run([BPFTOOL, kind, "show", "id", str(id_)], capture_output=True, timeout=20)
    return r.returncode == 0


def plugin_states(d):
    return {p["name"]: p for p in d.read_json("schedmcp://plugins")["plugins"]}


def read_everything(d, what):
    """Every resource answers: a result, or an error with a message."""
    uris, cursor = [], None
    while True:
        r = result(d.request("resources/list", {"cursor": cursor} if cursor else {}))
        uris += [x["uri"] for x in r["resources"]]
        cursor = r.get("nextCursor")
        if not cursor:
            break
    for uri in uris:
        try:
            r = d.read(uri, timeout=30)
        except TimeoutError:
            T.check(False, f"{what}: read {uri} was never answered")
            continue
        T.check("result" in r or r.get("error", {}).get("message"),
                f"{what}: read {uri}: a result or an error that says why: {str(r)[:200]}")
    return uris


def tool_text(r):
    return " ".join(c.get("text", "") for c in result(r).get("content", []))


def need_root():
    if not is_root():
        raise Skip("needs root (capabilities, seccomp, BPF)")


def have(d, name):
    return name in plugin_states(d)


@T.case
def test_without_capabilities():
    need_root()
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise Skip("no setpriv (util-linux)")
    with Wrapped([setpriv, "--inh-caps=-all", "--bounding-set=-all"], plugin_dir_=PLUGINS) as d:
        st = plugin_states(d)
        for name, needs in [("sched_latency", ("CAP_BPF", "refused")),
                            ("bpf_inventory", ("CAP_SYS_ADMIN",)),
                            ("perf_profiler", ("CAP_PERFMON",))]:
            if name not in st:
                continue
            T.check(st[name]["state"] in ("degraded", "failed"),
                    f"{name} is degraded without capabilities: {st[name]}")
            T.check(any(n in (st[name]["reason"] or "") for n in needs),
                    f"{name} says what it lacks ({needs}): {st[name]['reason']}")
        for name in ("topology", "sysstat", "scheduler"):
            if name in st:
                T.eq(st[name]["state"], "loaded", f"{name} needs no privilege")
        read_everything(d, "no capabilities")
        for tool, args, plugin in [("measure_latency", {"duration_s": 1}, "sched_latency"),
                                   ("control_event_tracking", {"action": "enable"}, "sched_latency"),
                                   ("analyze_waker_wakee", {"duration_s": 1}, "sched_latency"),
                                   ("analyze_softirq", {"duration_s": 1}, "sched_latency"),
                                   ("start_perf_profiling", {}, "perf_profiler"),
                                   ("control_stats_collection", {"action": "sample"},
                                    "bpf_inventory")]:
            if plugin not in st:
                continue
            r = d.call_tool(tool, args, timeout=30)
            T.check(result(r).get("isError") and len(tool_text(r)) > 20,
                    f"{tool} without privilege: an error that says why: {tool_text(r)[:200]}")
        kinds = fd_kinds(d.pid)
        T.eq({k: v for k, v in kinds.items() if k.startswith("bpf") or k == "perf_event"}, {},
             "no BPF or perf fd open")
        d.proc.stdin.close()
        T.eq(d.wait_exit(10), 0, "clean exit")


def denied(rules, check):
    need_root()
    with Wrapped([DENYSYS] + rules + ["--"], plugin_dir_=PLUGINS) as d:
        check(d, plugin_states(d))
        read_everything(d, " ".join(rules))
        progs, links = bpf_ids(d.pid)
        d.proc.stdin.close()
        T.eq(d.wait_exit(10), 0, f"{rules}: clean exit")
    return progs, links


@T.case
def test_bpf_refused():
    def check(d, st):
        if "sched_latency" in st:
            T.check(st["sched_latency"]["state"] in ("degraded", "failed")
                    and "Operation not permitted" in (st["sched_latency"]["reason"] or ""),
                    f"sched_latency says bpf() was refused: {st['sched_latency']}")
            r = d.call_tool("measure_latency", {"duration_s": 1}, timeout=30)
            T.check(result(r).get("isError"), f"measure_latency: an error: {tool_text(r)[:200]}")
        if "bpf_inventory" in st:
            T.eq(st["bpf_inventory"]["state"], "degraded", "bpf_inventory degraded")
        kinds = fd_kinds(d.pid)
        T.eq([k for k in kinds if k.startswith("bpf")], [], "no BPF fd")
    denied(["bpf=EPERM"], check)


@T.case
def test_bpf_attach_refused():
    """Programs load, attaching them fails: what was loaded must be freed."""
    def check(d, st):
        if "sched_latency" not in st:
            raise Skip("sched_latency not built")
        sl = st["sched_latency"]
        T.check(sl["state"] in ("degraded", "failed") and "attach" in (sl["reason"] or ""),
                f"sched_latency says attaching failed: {sl}")
        kinds = fd_kinds(d.pid)
        T.eq([k for k in kinds if k in ("bpf-prog", "bpf_link", "bpf-map")], [],
             f"the loaded but unattached programs and maps were released: {kinds}")
        r = d.call_tool("control_event_tracking", {"action": "enable"}, timeout=30)
        T.check(result(r).get("isError"), f"event tracking: an error: {tool_text(r)[:200]}")
    denied([f"bpf:{BPF_LINK_CREATE}=EPERM", f"bpf:{BPF_RAW_TRACEPOINT_OPEN}=EPERM"], check)


@T.case
def test_perf_refused():
    def check(d, st):
        if "perf_profiler" not in st:
            raise Skip("perf_profiler not built")
        r = d.call_tool("start_perf_profiling", {}, timeout=30)
        T.check(result(r).get("isError") and "perf_event_open" in tool_text(r),
                f"start_perf_profiling says perf_event_open failed: {tool_text(r)[:300]}")
        status = d.read_json("profiling://perf/status")
        T.check(not status.get("capabilities", {}).get("perf_event_open", True),
                f"the status resource says perf_event_open is unavailable: "
                f"{status.get('capabilities')}")
        T.eq(fd_kinds(d.pid).get("perf_event", 0), 0, "no perf fd")
    denied(["perf_event_open=EACCES"], check)


@T.case
def test_sigterm_during_work():
    """SIGTERM while a measurement, a profile, stats collection and event
    tracking run: a prompt, clean exit, and every BPF program and link the
    daemon held is gone from the kernel."""
    need_root()
    if not BPFTOOL:
        raise Skip("no bpftool")
    with Daemon(plugin_dir_=PLUGINS) as d:
        st = plugin_states(d)
        started = []
        if st.get("sched_latency", {}).get("state") == "loaded":
            d.send({"jsonrpc": "2.0", "id": "measure", "method": "tools/call",
                    "params": {"name": "measure_latency", "arguments": {"duration_s": 30}}})
            r = d.call_tool("control_event_tracking", {"action": "enable"}, timeout=30)
            T.check(not result(r).get("isError"), f"event tracking on: {tool_text(r)[:200]}")
            started.append("sched_latency")
        if st.get("perf_profiler", {}).get("state") == "loaded":
            r = d.call_tool("start_perf_profiling", {}, timeout=30)
            T.check(not result(r).get("isError"), f"profile started: {tool_text(r)[:200]}")
            started.append("perf_profiler")
        if st.get("bpf_inventory", {}).get("state") == "loaded":
            r = d.call_tool("control_stats_collection", {"action": "start"}, timeout=30)
            T.check(not result(r).get("isError"), f"stats collection: {tool_text(r)[:200]}")
            started.append("bpf_inventory")
        if not started:
            raise Skip("no BPF or perf plugin could work here")
        time.sleep(1.0)
        progs, links = bpf_ids(d.pid)
        kinds = fd_kinds(d.pid)
        if "sched_latency" in started:
            T.check(progs and links, f"BPF programs and links held while working: {kinds}")
        if "perf_profiler" in started:
            T.check(kinds.get("perf_event", 0) > 0, f"perf fds held while profiling: {kinds}")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(15)
        T.eq(rc, 0, f"SIGTERM during {started}: exit 0")
        T.check(time.monotonic() - t0 < 10, f"within 10 s ({time.monotonic() - t0:.1f} s)")
        T.check("shutting down" in d.stderr_text(), "says it is shutting down")
        # the kernel frees a program after an RCU grace period, not at close()
        deadline = time.monotonic() + 5
        while (any(bpf_exists("prog", i) for i in progs) and time.monotonic() < deadline):
            time.sleep(0.1)
        T.eq(sorted(i for i in progs if bpf_exists("prog", i)), [],
             "none of the daemon's BPF programs is left in the kernel")
        T.eq(sorted(i for i in links if bpf_exists("link", i)), [],
             "none of its BPF links is left")
        answered = [m for m in d.messages if m.get("id") == "measure"]
        T.eq(answered, [], "the interrupted measurement was not answered with a half result")


@T.case
def test_profile_sees_a_fifo():
    """An unprivileged user runs a program from a private mount namespace
    (user namespaces need no privilege) at a path that, in the daemon's
    namespace, is a FIFO the user made. A system-wide profile samples it and
    symbolises the path: opening a FIFO without O_NONBLOCK would block the
    daemon's only thread forever, SIGTERM included."""
    need_root()
    setpriv, unshare = shutil.which("setpriv"), shutil.which("unshare")
    if not setpriv or not unshare:
        raise Skip("no setpriv/unshare")
    if not os.path.exists(os.path.join(PLUGINS, "perf_profiler")):
        raise Skip("perf_profiler not built")
    work = tempfile.mkdtemp(prefix="smcp-fifo-")
    os.chmod(work, 0o777)
    as_nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    spin = None
    try:
        prog = os.path.join(work, "spin")
        subprocess.run(as_nobody + ["mkfifo", prog], check=True)
        spin = subprocess.Popen(as_nobody + [unshare, "--user", "--map-root-user", "--mount", "sh",
                                             "-c", f"mount -t tmpfs none {work} && "
                                             f"cp /usr/bin/yes {prog} && exec {prog}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not running_from(spin.pid, prog):
            time.sleep(0.1)
        if spin.poll() is not None or not running_from(spin.pid, prog):
            raise Skip("cannot run a program in a private mount namespace here")
        with Daemon(plugin_dir_=PLUGINS, args=["--enable", "perf_profiler"]) as d:
            try:
                r = d.call_tool("start_perf_profiling", {"duration_secs": 1, "wait": True},
                                timeout=20)
                T.check("result" in r, "the profile was answered")
                T.eq(d.request("ping", timeout=5).get("result"), {}, "still serving")
            except TimeoutError:
                T.check(False, "the daemon hung opening a FIFO the profiled program's path "
                               "names (open it with O_NONBLOCK, or through /proc/PID/map_files)")
                d.kill()
    finally:
        if spin:
            spin.kill()
            spin.wait()
        # a writer releases an open() still blocked on the FIFO
        try:
            fd = os.open(os.path.join(work, "spin"), os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        shutil.rmtree(work, ignore_errors=True)


def running_from(pid, path):
    """Whether pid or one of its descendants maps path."""
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/maps") as f:
                if path in f.read():
                    return True
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return False


@T.case
def test_stdin_closed_mid_line():
    """The client closes stdin in the middle of a message while a slow call
    is in flight: the fragment is answered as a parse error, the call is
    dropped, the daemon exits 0."""
    with Daemon(plugin_dir_=itest_dir()) as d:
        d.send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
                "params": {"name": "itest_slow", "arguments": {"delay_ms": 5000}}})
        d.send_raw(b'{"jsonrpc":"2.0","id":"cut","method":"tools/ca')
        d.proc.stdin.close()
        rc = d.wait_exit(10)
        T.eq(rc, 0, "exit 0")
        d.drain(quiet=0.2, timeout=2)
        errs = [m for m in d.messages if m.get("error", {}).get("code") == -32700]
        T.eq(len(errs), 1, "the cut message is answered with one parse error")
        T.eq([m for m in d.messages if m.get("id") == "slow"], [], "the slow call got no answer")


@T.case
def test_client_vanishes_with_full_queue():
    """A client with a full output queue and calls in flight closes both
    pipes: the daemon notices and exits 0 (it neither blocks on the full pipe
nor waits for the calls)."""
    cfg = smcp_test.write_config("[core]\nmax_output_queue_bytes = 65536\n")
    with Daemon(args=["--config", cfg], plugin_dir_=itest_dir()) as d:
        for i in range(50):
            d.send({"jsonrpc": "2.0", "id": f"slow-{i}", "method": "tools/call",
                    "params": {"name": "itest_slow", "arguments": {"delay_ms": 3000}}})
        block = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":'
                         b'"itest_blob","arguments":{"bytes":60000}}}\n' % i for i in range(200))
        fd = d.proc.stdin.fileno()
        os.set_blocking(fd, False)
        try:
            os.write(fd, block)
        except BlockingIOError:
            pass
        time.sleep(0.5)
        d.proc.stdout.close()
        try:
            d.proc.stdin.close()
        except (BrokenPipeError, BlockingIOError):
            pass
        rc = d.wait_exit(10)
        T.eq(rc, 0, "exit 0 when the client is gone")


if __name__ == "__main__":
    try:
        T.main()
    finally:
        for w in _wrappers:
            try:
                os.unlink(w)
            except OSError:
                pass
