#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""analyze_softirq against libbpf-tools `softirqs`, attached together in the
same run under the same loopback UDP load (NET_RX softirqs).

Reports, for each tool, the cost of its programs per softirq (the kernel's
BPF run-time statistics, kernel.bpf_stats_enabled=1: run_time_ns / run_cnt
of the entry and exit programs) and the NET_RX time per second each one
measured; prints the ratios ours / softirqs.

  bench/sched_latency/softirq.py [--seconds S] [--rounds N] [--json]

Needs root, bpftool and softirqs (libbpf-tools). Exits 77 with the reason
when something is missing; it is a benchmark, so it exits 0 whatever the
ratios are.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "plugins", "sched_latency"))
os.environ.setdefault("SMCP_BUILD_DIR", os.path.join(SRC, "build"))
import sltest  # noqa: E402
from test_softirq import Traffic  # noqa: E402


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def prog_stats(pid):
    """{name: (run_cnt, run_time_ns)} of the programs process pid holds."""
    ids = sltest.program_ids(pid)
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True,
                         check=True).stdout
    return {p["name"]: (p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in json.loads(out) if p["id"] in ids}


def per_call(stats, names):
    cnt = sum(stats.get(n, (0, 0))[0] for n in names)
    ns = sum(stats.get(n, (0, 0))[1] for n in names)
    return ns / cnt if cnt else float("nan"), cnt


def one_round(d, peer_tool, seconds):
    peer = subprocess.Popen([peer_tool, "-N", str(seconds + 1), "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.5)  # the peer attached
    d.send({"jsonrpc": "2.0", "id": "bench", "method": "tools/call",
            "params": {"name": "analyze_softirq",
                       "arguments": {"duration_s": seconds, "softirq_nr": 3}}})
    time.sleep(seconds - 0.3)  # read the statistics while both are attached
    ours = prog_stats(d.proc.pid)
    theirs = prog_stats(peer.pid)
    r = d.wait_response("bench", timeout=seconds + 20)
    out = peer.communicate(timeout=seconds + 20)[0]
    sc = r["result"]["structuredContent"]
    ours_ms = sc["softirqs"][0]["time_ms"] / seconds if sc["softirqs"] else 0.0
    theirs_ms = next((int(p[1]) / 1e6 / (seconds + 1) for p in
                      (line.split() for line in out.splitlines())
                      if len(p) == 2 and p[0] == "net_rx" and p[1].isdigit()), float("nan"))
    o_ns, o_n = per_call(ours, ("sl_sirq_entry", "sl_sirq_exit", "sl_sirq_entry_r",
                                "sl_sirq_exit_ra"))
    t_ns, t_n = per_call(theirs, [n for n in theirs if "softirq" in n])
    return {"ours_ns_per_call": o_ns, "softirqs_ns_per_call": t_ns, "ours_calls": o_n,
            "softirqs_calls": t_n, "ours_net_rx_ms_per_s": ours_ms,
            "softirqs_net_rx_ms_per_s": theirs_ms}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        skip("needs root")
    peer_tool = shutil.which("softirqs") or (
        "/usr/sbin/softirqs" if os.path.exists("/usr/sbin/softirqs") else None)
    if not peer_tool:
        skip("libbpf-tools softirqs is missing (apt-get install libbpf-tools)")
    if not shutil.which("bpftool"):
        skip("bpftool is missing")
    ck = sltest.Checker()
    d = sltest.start_loaded(ck)
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old = f.read().strip()
    rounds = []
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        traffic = Traffic(a.rounds * (a.seconds + 3) + 2)
        for _ in range(a.rounds):
            rounds.append(one_round(d, peer_tool, a.seconds))
        traffic.join()
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
        d.close()
    if a.json:
        print(json.dumps(rounds, indent=1))
        return 0
    print("analyze_softirq vs libbpf-tools softirqs, attached together, loopback UDP load")
    print(f"{'round':>5} {'ns/call ours':>13} {'softirqs':>9} {'ratio':>6}   "
          f"{'NET_RX ms/s ours':>16} {'softirqs':>9} {'ratio':>6}")
    for i, r in enumerate(rounds):
        print(f"{i:>5} {r['ours_ns_per_call']:>13.0f} {r['softirqs_ns_per_call']:>9.0f} "
              f"{r['ours_ns_per_call'] / r['softirqs_ns_per_call']:>6.2f}   "
              f"{r['ours_net_rx_ms_per_s']:>16.1f} {r['softirqs_net_rx_ms_per_s']:>9.1f} "
              f"{r['ours_net_rx_ms_per_s'] / r['softirqs_net_rx_ms_per_s']:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
