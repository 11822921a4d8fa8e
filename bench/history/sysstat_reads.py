#!/usr/bin/env python3
"""The sysstat plugin's answer time and history memory, several builds in one run.

Starts one daemon per build (NAME=BUILD_DIR, a meson build directory) with
only the sysstat plugin, all at the same time so they see the same machine,
waits --warm seconds (so the 60 s windows hold 60 steps), then reads every
stats://system/* resource --reads times, the builds taking turns read by
read. Prints the median and p90 per build and the ratio of each build to the
first one, then each daemon's VmRSS and the core's history store (series,
bytes used, from metrics://catalog).

  bench/history/sysstat_reads.py base=/work/old/build new=build [--fake-cpus 256]

--fake-cpus N reads /proc and /sys from a fake machine of N CPUs
(tests/plugins/sysstat_fake.py) whose counters move every 0.2 s, so every
per-CPU series exists. No root needed.
"""
import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "plugins"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))

URIS = ["stats://system/cpu", "stats://system/memory", "stats://system/network"]


class Daemon:
    def __init__(self, build, fs_root):
        exe = os.path.join(build, "core", "schedmcp")
        helptext = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
        cmd = [exe, "--plugin-dir", os.path.join(build, "plugins", "sysstat"),
               "--enable", "sysstat"]
        # builds before the plugin search path replaced the stock directory
        if "--no-default-plugins" in helptext:
            cmd.append("--no-default-plugins")
        # never bridge to a service someone else runs on this machine
        if "--standalone" in helptext:
            cmd.append("--standalone")
        if fs_root:
            cmd += ["--fs-root", fs_root]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buf = b""
        self.rid = 0
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "0"}})
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()

    def request(self, method, params):
        self.rid += 1
        msg = {"jsonrpc": "2.0", "id": self.rid, "method": method, "params": params}
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                r = json.loads(line)
                if r.get("id") == self.rid:
                    if "error" in r:
                        raise RuntimeError("%s: %r" % (method, r["error"]))
                    return r["result"]
                continue
            if not select.select([fd], [], [], 10)[0]:
                raise TimeoutError(method)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError(method)
            self.buf += chunk

    def read_json(self, uri):
        return json.loads(self.request("resources/read", {"uri": uri})["contents"][0]["text"])

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+", metavar="NAME=BUILD_DIR")
    ap.add_argument("--warm", type=float, default=62)
    ap.add_argument("--reads", type=int, default=400)
    ap.add_argument("--fake-cpus", type=int)
    ap.add_argument("--per-step", action="store_true",
                    help="one read of each resource per build every 1.05 s, as a client "
                    "that polls does: every read is the first of its history step")
    a = ap.parse_args()
    names = [b.split("=", 1)[0] for b in a.builds]
    ds = []
    root, stop, ticker = None, threading.Event(), None
    if a.fake_cpus:
        from sysstat_fake import FakeKernel
        root = tempfile.mkdtemp(prefix="smcp-bench-")
        os.chmod(root, 0o755)
        k = FakeKernel(root, a.fake_cpus)
        rates = {"cpu": lambda c: [c % 100, 0, 0, 100 - c % 100, 0, 0, 0, 0], "ctxt": 1000}
        k.tick(rates)
        ticker = threading.Thread(target=lambda: [k.tick(rates) for _ in iter(
            lambda: stop.wait(0.2), True)], daemon=True)
        ticker.start()
    try:
        for b in a.builds:
            ds.append(Daemon(b.split("=", 1)[1], root))
        time.sleep(a.warm)
        times = {uri: [[] for _ in ds] for uri in URIS}
        for _ in range(a.reads):
            for uri in URIS:
                for i, d in enumerate(ds):
                    t = time.perf_counter_ns()
                    d.request("resources/read", {"uri": uri})
                    times[uri][i].append((time.perf_counter_ns() - t) / 1e6)
            if a.per_step:
                time.sleep(1.05)
        for uri in URIS:
            times_u = times[uri]
            med = [statistics.median(t) for t in times_u]
            print("%-24s" % uri + " ".join(
                "%s %.4f ms (p90 %.4f, x%.2f)" % (names[i], med[i],
                                                  sorted(times_u[i])[int(len(times_u[i]) * .9)],
                                                  med[i] / med[0])
                for i in range(len(ds))))
        for i, d in enumerate(ds):
            store = d.read_json("metrics://catalog")["store"]
            print("%-8s VmRSS %d kB, history: %d series, %.2f MiB used of %.0f MiB, "
                  "%d series refused" % (names[i], d.rss_kb(), store["series"],
                                         store["bytes_used"] / 2**20,
                                         store["bytes_max"] / 2**20,
                                         store["series_refused"]))
    finally:
        for d in ds:
            d.close()
        stop.set()
        if ticker:
            ticker.join()
        if root:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
