"""bpf_inventory on the live kernel (root; exit 77 otherwise).

Loads a tp_btf sched_switch counter and a struct_ops map (inv-fixture), then
checks that bpf://programs finds them with the right type, attach point,
owner and struct_ops grouping; that ids, names and types agree with
`bpftool prog show --json` for every program in the same run; that
control_stats_collection gives the counter a non-zero run count under load
and holds the BPF_ENABLE_STATS fd only while sampling; and, when the
sched_latency plugin is built, that the daemon's own programs appear with
their cost."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["SMCP_SOURCE_DIR"], "tests", "lib"))
import mcp_client  # noqa: E402
from smcp_test import Checker, bpftool_programs  # noqa: E402

C = Checker("bpf_inventory/live")
check = C.check


def read(c, uri):
    r = c.read(uri)
    if "error" in r:
        check(False, f"{uri}: {r['error']}")
        return None
    C.small(r, uri)
    return json.loads(r["result"]["contents"][0]["text"])


def stats(c, args, timeout=30):
    r = c.call_tool("control_stats_collection", args, timeout=timeout)
    C.small(r, "control_stats_collection answer")
    res = r["result"]
    check(not res["isError"], f"control_stats_collection {args}: {res['content'][0]['text'][:300]}")
    return res.get("structuredContent", {})


def stats_fds(pid):
    """The daemon's BPF_ENABLE_STATS fds (anon inode "bpf-stats")."""
    n = 0
    d = f"/proc/{pid}/fd"
    for fd in os.listdir(d):
        try:
            n += os.readlink(os.path.join(d, fd)) == "anon_inode:bpf-stats"
        except OSError:
            pass
    return n


class Load:
    """Context switches on demand: a thread that sleeps 1 ms in a loop."""

    def __init__(self):
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            time.sleep(0.001)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()


def wait_fds(pid, want, timeout=5.0):
    """Whether the daemon holds `want` stats fds within timeout (it acts on
    the request from its event loop, not before we look)."""
    deadline = time.monotonic() + timeout
    while stats_fds(pid) != want:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def bpftool_progs():
    progs = bpftool_programs()
    if progs is None:
        raise RuntimeError("bpftool prog show failed")
    return progs


def compare_with_bpftool(c):
    """Same ids, names and types as bpftool. Programs other tests load may
    come and go between the two reads (and the kernel frees a program's id
    only after an RCU grace period), so a mismatch is retried."""
    diffs = ["the set of programs kept changing under other tests"]
    for attempt in range(10):
        if attempt:
            time.sleep(0.2)
        before = bpftool_progs()
        d = read(c, "bpf://programs")
        after = bpftool_progs()
        if before.keys() != after.keys():
            continue
        ours = {p["id"]: p for p in d["programs"]}
        for i in d.get("more_ids", []):
            ours[i] = read(c, f"bpf://programs/{i}")
        diffs = []
        if ours.keys() != before.keys():
            diffs.append(f"ids differ: only ours {sorted(ours.keys() - before.keys())}, "
                         f"only bpftool {sorted(before.keys() - ours.keys())}")
        for i in ours.keys() & before.keys():
            b, o = before[i], ours[i]
            btype = b["type"] if isinstance(b["type"], str) else f"type_{b['type']}"
            if o["name"] != b.get("name", "") or (o["type"] != btype and o["type_id"] != b["type"]):
                diffs.append(f"id {i}: ours {o['name']}/{o['type']} bpftool {b.get('name')}/{b['type']}")
        if not diffs:
            check(True, "ids, names and types agree with bpftool")
            print(f"agrees with bpftool prog show --json on {len(ours)} programs")
            return
    check(False, f"bpftool comparison: {diffs}")


def main():
    fixture = os.environ.get("SMCP_INV_FIXTURE")
    if os.geteuid() != 0:
        print("SKIP: BPF needs root")
        return 77
    if not fixture:
        print("SKIP: the BPF test programs were not built (bpf option off)")
        return 77
    fx = subprocess.Popen([fixture], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(fx.stdout.readline())
    if "skip" in info:
        print("SKIP:", info["skip"])
        return 77
    cid = info["counter"]["id"]
    plugins = "bpf_inventory"
    have_sl = os.path.exists(os.path.join(mcp_client.plugin_dir(), "sched_latency", "sched_latency.so"))
    if have_sl:
        plugins += ",sched_latency"
    try:
        with mcp_client.Client(["--enable", plugins, "--log-level", "error"]) as c:
            run(c, info, cid, have_sl)
            pid = c.proc.pid
            stats(c, {"action": "start", "interval_ms": 200})
            check(stats_fds(pid) == 1, "collecting when the daemon exits")
        check(c.proc.returncode == 0, "daemon exits cleanly while collecting")
        check(not os.path.exists(f"/proc/{pid}"), "daemon gone, and its stats fd with it")
        # a small max_rows: the rest are listed by id and still reachable
        conf = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"inv-{os.getpid()}.conf")
        with open(conf, "w") as f:
            f.write("[plugin bpf_inventory]\nmax_rows = 10\n")
        fx2 = subprocess.Popen([fixture], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        fx2.stdout.readline()  # a second counter: more programs than max_rows
        with mcp_client.Client(["--enable", plugins, "--log-level", "error", "--config", conf]) as c:
            d = read(c, "bpf://programs")
            check(d["shown"] <= 10 and d["shown"] + len(d.get("more_ids", [])) == d["total_programs"]
                  and d["has_more"] == (d["total_programs"] > 10), "max_rows cuts into more_ids")
            compare_with_bpftool(c)
        fx2.stdin.close()
        fx2.wait()
        os.unlink(conf)
    finally:
        fx.stdin.close()
        fx.wait()
    return C.done()


def run(c, info, cid, have_sl):
    t0 = time.monotonic()
    d = read(c, "bpf://programs")
    first_ms = (time.monotonic() - t0) * 1000
    rows = {p["id"]: p for p in d["programs"]}
    check(cid in rows or cid in d.get("more_ids", []), "the test's tp_btf program is listed")
    p = rows.get(cid) or read(c, f"bpf://programs/{cid}")
    want_type = "tracing" if info["counter"]["how"] == "tp_btf" else "raw_tracepoint"
    check(p["name"] == info["counter"]["name"] and p["type"] == want_type,
          f"name and type: {p['name']} {p['type']}")
    check(any("sched_switch" in a for a in p["attach"]), f"attach point {p['attach']}")
    check(info["counter"]["map_id"] in p["map_ids"], "maps used")
    check(any(o["pid"] == info["pid"] for o in p["owners"]), f"owner is the loader: {p['owners']}")
    check(len(p["tag"]) == 16 and p["verified_insns"] > 0 and p["xlated_bytes"] > 0, "tag, sizes")
    check(d["total_programs"] == len(d["programs"]) + len(d.get("more_ids", [])), "every program reachable")
    print(f"bpf://programs: {d['total_programs']} programs, first read {first_ms:.0f} ms "
          f"(scan {d['scan_ms']:.1f} ms)")
    t0 = time.monotonic()
    d2 = read(c, "bpf://programs")
    print(f"second read {(time.monotonic() - t0) * 1000:.1f} ms (scan {d2['scan_ms']:.1f} ms, BTF cached)")

    if "cc" in info:
        groups = [g for g in d.get("struct_ops", []) if g["map_id"] == info["cc"]["map_id"]]
        check(len(groups) == 1, "struct_ops map listed as a group")
        if groups:
            g = groups[0]
            check(g["kind"] == "tcp_congestion_ops" and g["name"] == "smcp_test_cc" and g["state"] == "inuse",
                  f"group kind/name/state {g}")
            check({o["op"]: o["prog_id"] for o in g["ops"]} == info["cc"]["ops"], f"ops {g['ops']}")
        for op, pid_ in info["cc"]["ops"].items():
            row = rows.get(pid_) or read(c, f"bpf://programs/{pid_}")
            check(row["type"] == "struct_ops" and row["struct_ops"]["op"] == op
                  and row["struct_ops"]["name"] == "smcp_test_cc", f"ops program {pid_} grouped as {op}")
    else:
        print("struct_ops not checked:", info.get("cc_error"))

    det = read(c, f"bpf://programs/{cid}")
    check(any(l["target"].endswith("sched_switch") for l in det["links"]), f"link target {det['links']}")
    check(any(m["name"] == "smcp_switches" and m["type"] == "percpu_array" for m in det["maps"]), "map detail")
    check(read_error(c, "bpf://programs/4294967295") == -32002, "unknown id is resource-not-found")
    r = c.request("completion/complete", {"ref": {"type": "ref/resource", "uri": "bpf://programs/{id}"},
                                           "argument": {"name": "id", "value": str(cid)}})
    check(str(cid) in r["result"]["completion"]["values"], "program ids complete")
    maps = read(c, "bpf://maps")
    mrow = [m for m in maps["maps"] if m["id"] == info["counter"]["map_id"]]
    check(mrow and mrow[0]["name"] == "smcp_switches" and mrow[0]["memlock_bytes"] > 0
          and mrow[0]["used_by_programs"] == 1, f"bpf://maps row {mrow}")

    compare_with_bpftool(c)

    # stats: off until asked, real counts under load, fd held only while sampling
    pid = c.proc.pid
    s = stats(c, {"action": "status"})
    check(not s["stats"]["collecting"] and stats_fds(pid) == 0, "not collecting at start")
    with Load():
        t0 = time.monotonic()
        s = stats(c, {"action": "sample", "interval_ms": 500, "limit": 50})
        sample_ms = (time.monotonic() - t0) * 1000
    top = {t["id"]: t for t in s.get("top", [])}
    check(cid in top and top[cid]["calls"] > 0 and top[cid]["ns_per_call"] > 0,
          f"the counter ran in the window: {top.get(cid)}")
    check(s["window"]["all_programs"]["calls"] > 0, "window totals")
    check(not s["stats"]["collecting"] and stats_fds(pid) == 0, "stats fd released after a one-window sample")
    print(f"sample of 500 ms answered in {sample_ms:.0f} ms; counter {top.get(cid)}")

    # a cancelled sample gets no answer and gives the fd back
    c.send({"jsonrpc": "2.0", "id": "cancel-me", "method": "tools/call",
            "params": {"name": "control_stats_collection",
                       "arguments": {"action": "sample", "interval_ms": 3000}}})
    check(wait_fds(pid, 1), "a pending sample holds the fd")
    c.notify("notifications/cancelled", {"requestId": "cancel-me", "reason": "test"})
    check(wait_fds(pid, 0), "cancelling the sample releases the fd")
    s = stats(c, {"action": "status"})
    check(not s["stats"]["collecting"] and "cancelled" in s["stats"].get("last_stop", ""),
          f"status says the sample was cancelled: {s['stats']}")
    check(not any(m.get("id") == "cancel-me" for m in c.messages), "no answer to a cancelled call")

    s = stats(c, {"action": "start", "interval_ms": 200, "duration_s": 60})
    check(s["stats"]["collecting"] and stats_fds(pid) == 1, "start holds one stats fd")
    with Load():
        time.sleep(0.7)
    d = read(c, "bpf://programs")
    row = {p["id"]: p for p in d["programs"]}.get(cid)
    check(row and row["run_cnt"] > 0 and row.get("window", {}).get("calls", 0) > 0,
          f"bpf://programs shows run_cnt and a window while collecting: {row and row.get('window')}")
    check("cost" in d and d["cost"]["all_programs"]["calls"] > 0, "cost summary while collecting")
    if have_sl and d["this_daemon_program_ids"]:
        check(d["cost"]["this_daemon"]["calls"] > 0, f"this daemon's own programs cost: {d['cost']['this_daemon']}")
        own = [p for p in d["programs"] if p.get("this_daemon")]
        check(own and all(any(o["pid"] == pid for o in p["owners"]) for p in own), "own programs owned by us")
        print(f"this daemon: {len(own)} programs, {d['cost']['this_daemon']['cpu_pct']:.3f}% of one CPU, "
              f"{d['cost']['this_daemon']['ns_per_call']:.0f} ns per call")
    else:
        print("own-program cost not checked: sched_latency not built or not loaded")
    s = stats(c, {"action": "status"})
    check(s["stats"]["windows"] >= 2 and s["since_start"]["calls"] > 0, "status: windows and since_start")
    s = stats(c, {"action": "sample"})
    check(s["stats"]["collecting"] and stats_fds(pid) == 1, "a sample during start leaves collection running")
    s = stats(c, {"action": "stop"})
    check(not s["stats"]["collecting"] and stats_fds(pid) == 0, "stop releases the stats fd")
    check("window" in s, "the last window stays readable after stop")
    s = stats(c, {"action": "stop"})
    check("was not collecting" in s.get("message", ""), "stop twice is harmless")
    s = stats(c, {"action": "start", "interval_ms": 200, "duration_s": 1})
    check(s["stats"]["auto_stop_in_s"] <= 1, "duration_s sets the automatic stop")
    time.sleep(1.6)
    s = stats(c, {"action": "status"})
    check(not s["stats"]["collecting"] and stats_fds(pid) == 0 and "duration_s" in s["stats"]["last_stop"],
          f"stops by itself after duration_s: {s['stats']}")


def read_error(c, uri):
    r = c.read(uri)
    return r.get("error", {}).get("code")


sys.exit(main())
