#!/usr/bin/env python3
"""Least privilege (core/privs.c): once the plugins are up, the daemon runs
as the schedmcp account, keeps in its permitted set only the capabilities
its plugins declared for their on-demand work (the table in SECURITY.md),
none of them effective while the core idles (each is effective only while
the plugin that declared it runs), with empty inheritable and ambient sets,
a matching bounding set and no_new_privs; code with no capability of its
own cannot open /etc/shadow or create a file in /etc; and everything the
plugins do on demand still works after the drop (reading BPF programs, BPF
stats, attaching programs for event tracking, latency measurements,
system-wide and per-process profiles, the tracepoint lists). With only the
/proc and /sys plugins it keeps nothing. Needs root and the schedmcp
account that scripts/deps creates (77 without root)."""
import pwd
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import BUILD, Checker, Daemon, Skip, is_root, proc_status, result  # noqa: E402

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
    "event_lister": ["sys_admin", "dac_read_search"],
    "perf_profiler": ["perfmon", "ipc_lock", "sys_ptrace", "dac_read_search",
                      "checkpoint_restore", "syslog"],
    "sched_latency": ["bpf", "sys_ptrace"],
    "scheduler": [], "scx_stats": ["dac_override"],
    "sysstat": [], "topology": [],
    # with max_stack_hz > 0 (the default), what names stack samples' frames
    "trace_record": ["bpf", "perfmon", "syslog", "sys_ptrace", "checkpoint_restore",
                     "dac_read_search"],
}
NEVER = ["chown", "fowner", "kill", "setuid", "setgid", "setpcap", "net_admin",
         "net_raw", "sys_module", "sys_rawio", "sys_boot", "sys_time", "mknod"]
ACCOUNT = "schedmcp"


def account():
    try:
        return pwd.getpwnam(ACCOUNT)
    except KeyError:
        T.check(False, f"no {ACCOUNT} account: scripts/deps creates it (useradd --system)")
        raise Skip(f"no {ACCOUNT} account")


def mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m


def names(m):
    return sorted(n for n, b in CAP.items() if m & (1 << b)) + \
        [f"cap_{b}" for b in range(64) if m & (1 << b) and b not in CAP.values()]


def status(pid):
    """The capability sets (as integers) and NoNewPrivs of process pid."""
    st = proc_status(pid)
    out = {k: int(v, 16) for k, v in st.items() if k.startswith("Cap")}
    out["NoNewPrivs"] = int(st["NoNewPrivs"])
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
        T.eq(names(caps["CapPrm"]), names(want), "permitted: what the loaded plugins need")
        T.eq(names(caps["CapEff"]), [], "none effective while the core idles")
        T.eq(caps["CapInh"], 0, "inheritable empty")
        T.eq(caps.get("CapAmb", 0), 0, "ambient empty")
        T.eq(caps.get("NoNewPrivs"), 1, "no_new_privs set")
        if before["CapEff"] & (1 << CAP["setpcap"]):
            T.eq(names(caps["CapBnd"]), names(want), "bounding set cut to the same")
        for n in NEVER:
            T.check(not caps["CapPrm"] & (1 << CAP[n]), f"cap_{n} dropped")
        T.check("capabilities kept after start-up" in d.stderr_text(),
                "the log says what was kept")


def ids(pid):
    st = proc_status(pid)
    return [int(x) for x in st["Uid"].split()], [int(x) for x in st["Gid"].split()], \
        st["Groups"].split()


@T.case
def test_runs_as_its_account():
    """Issue 20: with no capability, uid 0 can still read /etc/shadow and
    write what root owns. The running daemon must not be uid 0, and code in
    it that declared no capability must not open either."""
    need_root()
    acct = account()
    faulty = os.environ.get("SMCP_FAULTY")
    import smcp_test
    d_ = smcp_test.plugin_dir([faulty] if faulty else [])
    with Daemon(plugin_dir_=d_) as d:
        uids, gids, groups = ids(d.pid)
        T.eq(uids, [acct.pw_uid] * 4, f"real, effective, saved and fs uid are {ACCOUNT}'s")
        T.eq(gids, [acct.pw_gid] * 4, "and the gids its group's")
        T.eq(groups, [], "no supplementary groups")
        T.check(f"running as {ACCOUNT} (uid {acct.pw_uid})" in d.stderr_text(),
                "the log says so")
        if faulty:
            for mode, want in (("open_shadow", "open /etc/shadow: Permission denied"),
                               ("write_etc", "Permission denied")):
                err, _, text = tool(d, "fault_tool", {"mode": mode})
                T.check(want in text, f"{mode}: {text}")
        T.check(not os.path.exists("/etc/.schedmcp-fault-probe"), "nothing was created in /etc")
        T.check("result" in d.request("ping"), "still serving")
    # [core] user = root keeps uid 0 (and says nothing about an account)
    with Daemon(plugin_dir_=d_, args=["--set", "core.user=root"]) as d:
        T.eq(ids(d.pid)[0][0], 0, "user = root stays uid 0")
    with Daemon(plugin_dir_=d_, args=["--set", "core.user=no_such_account_x"]) as d:
        T.eq(ids(d.pid)[0][0], 0, "a missing account: uid 0 stays")
        T.check("no account 'no_such_account_x'" in d.stderr_text(), "with a warning that says so")


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
