#!/usr/bin/env python3
"""Least privilege (core/privs.c): once the plugins are up, the daemon keeps
only the capabilities their on-demand work needs (the table in SECURITY.md),
with empty inheritable and ambient sets, a matching bounding set and
no_new_privs; and everything those plugins do on demand still works after
the drop (reading BPF programs, BPF stats, attaching programs for event
tracking, latency measurements, system-wide and per-process profiles, the
tracepoint lists). With only the /proc and /sys plugins it keeps nothing.
Needs root (77 otherwise)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Daemon, Skip, is_root, result  # noqa: E402

T = Checker("fault/privileges")
PLUGINS = os.path.join(BUILD, "plugins")

CAP = {"chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "kill": 5,
       "setgid": 6, "setuid": 7, "setpcap": 8, "net_admin": 12, "net_raw": 13, "ipc_lock": 14,
       "sys_module": 16, "sys_rawio": 17, "sys_ptrace": 19, "sys_admin": 21, "sys_boot": 22,
       "sys_nice": 23, "sys_resource": 24, "sys_time": 25, "mknod": 27, "syslog": 34,
       "perfmon": 38, "bpf": 39, "checkpoint_restore": 40}
# what each plugin keeps after start-up (core/privs.c, SECURITY.md)
KEEPS = {
    "bpf_inventory": ["sys_admin", "sys_ptrace", "dac_read_search"],
    "event_lister": ["sys_admin"],
    "perf_profiler": ["perfmon", "ipc_lock", "sys_ptrace", "dac_read_search",
                      "checkpoint_restore", "syslog"],
    "sched_latency": ["bpf"],
    "scheduler": [], "scx_stats": [], "sysstat": [], "topology": [],
}
NEVER = ["dac_override", "chown", "fowner", "kill", "setuid", "setgid", "setpcap", "net_admin",
         "net_raw", "sys_module", "sys_rawio", "sys_boot", "sys_time", "mknod"]


def mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m


def names(m):
    return sorted(n for n, b in CAP.items() if m & (1 << b)) + \
        [f"cap_{b}" for b in range(64) if m & (1 << b) and b not in CAP.values()]


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.startswith("Cap"):
                out[k] = int(v.strip(), 16)
            elif k == "NoNewPrivs":
                out[k] = int(v.strip())
    return out


def own_caps():
    return status(os.getpid())


def states(d):
    return {p["name"]: p["state"] for p in d.read_json("schedmcp://plugins")["plugins"]}


def tool(d, name, args, **kw):
    r = d.call_tool(name, args, **kw)
    res = result(r)
    text = " ".join(c.get("text", "") for c in res.get("content", []))
    return bool(res.get("isError")), res.get("structuredContent"), text


def need_root():
    if not is_root():
        raise Skip("needs root")


@T.case
def test_capabilities_after_start():
    need_root()
    before = own_caps()
    with Daemon(plugin_dir_=PLUGINS) as d:
        st = states(d)
        want = 0
        for p, s in st.items():
            if s in ("loaded", "degraded") and p in KEEPS:
                want |= mask(KEEPS[p])
        want &= before["CapPrm"]
        caps = status(d.pid)
        T.eq(names(caps["CapEff"]), names(want), "effective: what the loaded plugins need")
        T.eq(caps["CapPrm"], caps["CapEff"], "permitted = effective")
        T.eq(caps["CapInh"], 0, "inheritable empty")
        T.eq(caps.get("CapAmb", 0), 0, "ambient empty")
        T.eq(caps.get("NoNewPrivs"), 1, "no_new_privs set")
        if before["CapEff"] & (1 << CAP["setpcap"]):
            T.eq(names(caps["CapBnd"]), names(want), "bounding set cut to the same")
        for n in NEVER:
            T.check(not caps["CapEff"] & (1 << CAP[n]), f"cap_{n} dropped")
        T.check("capabilities kept after start-up" in d.stderr_text(),
                "the log says what was kept")


@T.case
def test_on_demand_work_after_the_drop():
    """What the kept capabilities are for, exercised after the drop."""
    need_root()
    with Daemon(plugin_dir_=PLUGINS) as d:
        st = states(d)
        did = []
        if st.get("bpf_inventory") == "loaded":
            progs = d.read_json("bpf://programs")
            names_ = json.dumps(progs)
            T.check("sl_switch" in names_ or st.get("sched_latency") != "loaded",
                    "bpf://programs lists programs (ours among them) after the drop")
            err, _, text = tool(d, "control_stats_collection", {"action": "sample"}, timeout=30)
            T.check(not err, f"BPF_ENABLE_STATS after the drop: {text[:200]}")
            did.append("bpf_inventory")
        if st.get("sched_latency") == "loaded":
            err, sc, text = tool(d, "control_event_tracking", {"action": "enable"}, timeout=30)
            T.check(not err, f"event tracking attaches programs after the drop: {text[:200]}")
            time.sleep(1.2)
            err, sc, text = tool(d, "poll_events", {"limit": 5}, timeout=30)
            T.check(not err and '"sched.' in text, f"events flow: {text[:200]}")
            tool(d, "control_event_tracking", {"action": "disable"}, timeout=30)
            err, sc, text = tool(d, "measure_latency", {"duration_s": 1}, timeout=30)
            T.check(not err, f"measure_latency after the drop: {text[:200]}")
            err, sc, text = tool(d, "analyze_waker_wakee", {"duration_s": 1}, timeout=30)
            T.check(not err, f"analyze_waker_wakee after the drop: {text[:200]}")
            err, sc, text = tool(d, "analyze_softirq", {"duration_s": 1}, timeout=30)
            T.check(not err and sc and sc["total"]["count"] > 0,
                    f"analyze_softirq attaches its programs after the drop: {text[:200]}")
            did.append("sched_latency")
        if st.get("perf_profiler") == "loaded":
            # 19 Hz keeps the symbolisation of every process cheap (sanitizer builds)
            err, sc, text = tool(d, "start_perf_profiling",
                                 {"duration_secs": 1, "wait": True, "frequency_hz": 19},
                                 timeout=180)
            T.check(not err, f"a system-wide profile after the drop: {text[:200]}")
            err, sc, text = tool(d, "get_perf_results", {"limit": 5}, timeout=30)
            T.check(not err and "symbol" in text, f"with symbols: {text[:200]}")
            # a process of another user: ptrace access and its binaries
            other = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups", "sh", "-c",
                                      "while :; do :; done"])
            try:
                time.sleep(0.2)
                err, sc, text = tool(d, "start_perf_profiling",
                                     {"pid": other.pid, "duration_secs": 1, "wait": True},
                                     timeout=180)
                T.check(not err, f"profiling another user's process after the drop: {text[:200]}")
                err, sc, text = tool(d, "get_perf_results", {"group_by": "process"}, timeout=30)
                T.check(not err and ("sh" in text or str(other.pid) in text),
                        f"its samples: {text[:200]}")
            finally:
                other.kill()
                other.wait()
            did.append("perf_profiler")
        if st.get("event_lister") == "loaded":
            err, sc, text = tool(d, "list_events", {"subsystem": "sched", "limit": 5}, timeout=30)
            T.check(not err and "sched:" in text, f"tracepoints after the drop: {text[:200]}")
            did.append("event_lister")
        if not did:
            raise Skip("no privileged plugin loaded here")
        d.proc.stdin.close()
        T.eq(d.wait_exit(10), 0, "clean exit")


@T.case
def test_file_plugins_keep_nothing():
    need_root()
    with Daemon(plugin_dir_=PLUGINS, args=["--enable", "topology,sysstat,scheduler"]) as d:
        caps = status(d.pid)
        T.eq(names(caps["CapEff"]), [], "no capability left")
        T.eq(caps["CapPrm"], 0, "none permitted either")
        if own_caps()["CapEff"] & (1 << CAP["setpcap"]):
            T.eq(caps["CapBnd"], 0, "and none in the bounding set")
        for uri in ["topology://info", "stats://system/cpu", "scheduler://current"]:
            r = d.read(uri)
            T.check("result" in r, f"{uri} still reads: {str(r)[:200]}")


@T.case
def test_started_without_privileges():
    """Started with nothing to drop: no complaint, nothing breaks."""
    need_root()
    setpriv = "/usr/bin/setpriv"
    if not os.path.exists(setpriv):
        raise Skip("no setpriv")
    import smcp_test
    import tempfile
    fd, wrapper = tempfile.mkstemp(prefix="smcp-wrap-", suffix=".sh")
    os.write(fd, f"#!/bin/sh\nexec {setpriv} --inh-caps=-all --bounding-set=-all "
             f"{smcp_test.daemon_path()} \"$@\"\n".encode())
    os.close(fd)
    os.chmod(wrapper, 0o755)
    os.environ["SMCP_DAEMON"] = wrapper
    try:
        with Daemon(plugin_dir_=PLUGINS) as d:
            caps = status(d.pid)
            T.eq(caps["CapEff"], 0, "no capabilities to begin with")
            T.eq(caps.get("NoNewPrivs"), 1, "no_new_privs still set")
            T.check("cannot drop" not in d.stderr_text(), "no complaint about dropping")
            r = d.read("topology://info")
            T.check("result" in r, "serving")
    finally:
        del os.environ["SMCP_DAEMON"]
        os.unlink(wrapper)


if __name__ == "__main__":
    T.main()
