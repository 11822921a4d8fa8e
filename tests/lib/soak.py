"""The memory soak load (issue 20), shared by bench/soak/soak.py (an hour, on
request) and tests/fault/test_soak.py (two minutes, in the default suite).

One MCP session that has event tracking on and, five times a second, reads
every resource in resources/list, one instance of every resource template
(rotating through all the instances it can name: every metric, every BPF
program, every tracefs subsystem and event, its own and hackbench's
processes) and calls poll_events with its cursor; hackbench runs in a loop
beside it. Samples give the daemon's RSS, its heap in use and fd count.
Standard library only.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import smcp_test

MiB = 1024  # in KiB, as /proc counts


def daemon_pid(c):
    """The process serving client c: the daemon itself, or with
    SMCP_VIA_SERVICE=1 the service behind the stdio bridge."""
    svc = getattr(c, "service", None)
    return svc.pid if svc is not None else c.proc.pid


def proc_sample(pid):
    """{rss_kb, anon_kb, fds} of a process from /proc."""
    return {"rss_kb": smcp_test.rss_kb(pid),
            "anon_kb": smcp_test.status_kb(pid, "RssAnon"),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def malloc_stats(pid, stderr_path):
    """glibc's own account of the daemon's heap, through gdb calling
    malloc_stats() in it (it prints to the daemon's stderr, which must be
    the file stderr_path): {arena_kb: the brk heap's size, arena_used_kb,
    mmap_kb: blocks mmap()ed on their own, used_kb: all in use}. Arena
    size growing while in-use stays flat is fragmentation; in-use growing
    is live memory. None when gdb is missing or the call failed. Stops the
    daemon for about a second, and is not safe: if gdb stops it inside
    malloc(), malloc_stats() waits for the lock it holds (under the
    test's heavier churn, on the old code, every call timed out). A
    diagnostic for a person, not for tests."""
    gdb = shutil.which("gdb")
    if not gdb:
        return None
    with open(stderr_path, "rb") as f:
        off = f.seek(0, 2)
    try:
        subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-iex", "set debuginfod enabled off",
                        "-ex", "call (void)malloc_stats()"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    with open(stderr_path, "rb") as f:
        f.seek(off)
        t = f.read().decode(errors="replace")
    sysb = [int(x) for x in re.findall(r"system bytes\s*=\s*(\d+)", t)]
    used = [int(x) for x in re.findall(r"in use bytes\s*=\s*(\d+)", t)]
    if len(sysb) < 2 or len(used) < 2:
        return None
    # one arena (the daemon has one thread): Arena 0, then the total
    return {"arena_kb": sysb[0] // 1024, "arena_used_kb": used[0] // 1024,
            "mmap_kb": (sysb[-1] - sysb[0]) // 1024, "used_kb": used[-1] // 1024}


class Hackbench:
    """hackbench (rt-tests) in a loop on a thread until stop()."""

    def __init__(self, groups=4, loops=2000):
        self.path = shutil.which("hackbench")
        self.args = [self.path, "-g", str(groups), "-l", str(loops)] if self.path else None
        self.stopping = False
        self.paused = threading.Event()
        self.proc = None
        self.runs = 0
        self.t = None

    def start(self):
        if not self.args:
            return False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        return True

    def run(self):
        while not self.stopping:
            while self.paused.is_set() and not self.stopping:
                time.sleep(0.05)
            # a group of its own: stop() ends its children with it
            self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            self.proc.wait()
            self.runs += 1

    def pause(self):
        """Stop the running hackbench (SIGSTOP to its group), e.g. while gdb
        attaches: with hundreds of runnable processes on two CPUs, gdb
        would take a minute to read the daemon's symbols."""
        self.paused.set()
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)
        self.paused.clear()

    def _signal(self, sig):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    def pid(self):
        p = self.proc
        return p.pid if p is not None and p.poll() is None else None

    def stop(self):
        self.stopping = True
        self._signal(signal.SIGKILL)
        self._signal(signal.SIGCONT)
        if self.t:
            self.t.join(10)


def text_of(resp):
    try:
        return resp["result"]["contents"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None


class Load:
    """The reader side of the soak on an initialized client (mcp_client.Client
    or smcp_test.Daemon)."""

    def __init__(self, client, hackbench=None, rate_hz=5.0, poll_limit=None):
        self.c = client
        self.hb = hackbench
        self.period = 1.0 / rate_hz
        self.poll_limit = poll_limit
        self.cursor = None
        self.rounds = 0
        self.reads = 0
        self.errors = 0
        self.error_uris = {}  # URI (or tool) -> errors, for the report
        self.events = 0
        self.bytes = 0
        self.static = []
        self.instances = {}  # template -> list of URIs, read one per round in turn
        self.next_instance = {}

    def call(self, method, params, timeout=30.0):
        r = self.c.request(method, params, timeout=timeout)
        # the client keeps every message for tests to look at; an hour of
        # them would be the client's own leak
        self.c.messages.clear()
        return r

    def list_all(self, method, key):
        out, cursor = [], None
        while True:
            r = self.call(method, {"cursor": cursor} if cursor else {})
            out += r["result"][key]
            cursor = r["result"].get("nextCursor")
            if not cursor:
                return out

    def discover(self):
        """Names every resource and template instance to read."""
        self.static = [r["uri"] for r in self.list_all("resources/list", "resources")]
        templates = [t["uriTemplate"] for t in
                     self.list_all("resources/templates/list", "resourceTemplates")]
        inst = {}
        for t in templates:
            inst[t] = self.instances_of(t)
        self.instances = {t: u for t, u in inst.items() if u}
        self.next_instance = {t: 0 for t in self.instances}

    def read_json(self, uri):
        t = text_of(self.call("resources/read", {"uri": uri}))
        try:
            return json.loads(t) if t else None
        except ValueError:
            return None

    def instances_of(self, template):
        """Concrete URIs for a template, from what the daemon lists."""
        if template == "history://{metric}":
            cat = self.read_json("metrics://catalog") or {}
            return [f"history://{m['name']}" for m in cat.get("metrics", [])]
        if template == "bpf://programs/{id}":
            progs = self.read_json("bpf://programs") or {}
            return [f"bpf://programs/{p['id']}" for p in progs.get("programs", [])]
        if template == "events://perf/{subsystem}":
            ev = self.read_json("events://perf") or {}
            return [f"events://perf/{s['subsystem']}" for s in ev.get("subsystems", [])]
        if template == "events://perf/{subsystem}/{event}":
            out = []
            for sub in ("sched", "irq", "timer", "syscalls"):
                ev = self.read_json(f"events://perf/{sub}") or {}
                for e in ev.get("events", [])[:32]:
                    name = e.get("name") if isinstance(e, dict) else e
                    if isinstance(name, str):  # listed as "subsystem:event"
                        out.append(f"events://perf/{sub}/{name.split(':')[-1]}")
            return out
        if template == "stats://process/{pid}":
            # the daemon and 1 change per round: hackbench's pid is added live
            return [f"stats://process/{daemon_pid(self.c)}", "stats://process/1", "hackbench"]
        if template == "stats://scheduler/raw/{target}":
            return ["stats://scheduler/raw/top"]
        return []

    def enable_tracking(self):
        r = self.call("tools/call", {"name": "control_event_tracking",
                                     "arguments": {"action": "enable"}})
        return "result" in r and not r["result"].get("isError")

    def uris_this_round(self):
        out = list(self.static)
        for t, lst in self.instances.items():
            i = self.next_instance[t]
            self.next_instance[t] = (i + 1) % len(lst)
            u = lst[i]
            if u == "hackbench":
                pid = self.hb.pid() if self.hb else None
                if pid is None:
                    continue
                u = f"stats://process/{pid}"
            out.append(u)
        return out

    def round(self):
        """One round: every URI once and one poll_events."""
        for u in self.uris_this_round():
            r = self.call("resources/read", {"uri": u})
            self.reads += 1
            t = text_of(r)
            if t is None:
                self.error(u)
                if u.startswith("bpf://programs/"):  # its program was unloaded
                    self.instances["bpf://programs/{id}"] = \
                        self.instances_of("bpf://programs/{id}") or [u]
                    self.next_instance["bpf://programs/{id}"] = 0
            else:
                self.bytes += len(t)
        args = {"limit": self.poll_limit} if self.poll_limit else {}
        if self.cursor is not None:
            args["cursor"] = self.cursor
        r = self.call("tools/call", {"name": "poll_events", "arguments": args})
        sc = r.get("result", {}).get("structuredContent") if isinstance(r, dict) else None
        if isinstance(sc, dict) and "next_cursor" in sc:
            self.cursor = sc["next_cursor"]
            self.events += len(sc.get("events", []))
        else:
            self.error("poll_events")
        self.rounds += 1

    def error(self, what):
        self.errors += 1
        if what.startswith("stats://process/") and what != f"stats://process/{daemon_pid(self.c)}":
            what = "stats://process/{hackbench}"  # one that may have just exited
        self.error_uris[what] = self.error_uris.get(what, 0) + 1

    def run(self, seconds, every_s, on_sample):
        """Rounds at rate_hz for `seconds`; on_sample(elapsed_s) every every_s
        seconds (and at 0)."""
        t0 = time.monotonic()
        next_sample = t0
        next_round = t0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                on_sample(now - t0)
                next_sample += every_s
            if now - t0 >= seconds:
                return
            if now < next_round:
                time.sleep(min(next_round, next_sample) - now)
                continue
            # a round slower than the period runs the next one at once
            next_round = max(next_round + self.period, now)
            self.round()


def linear_slope(xs, ys):
    """Least-squares slope of ys over xs."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def median_slope(xs, ys):
    """Theil-Sen: the median of the slopes between every two samples, which
    one sample taken while a large transient block was mapped cannot move."""
    sl = sorted((ys[j] - ys[i]) / (xs[j] - xs[i])
                for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i])
    if not sl:
        return 0.0
    m = len(sl) // 2
    return sl[m] if len(sl) % 2 else (sl[m - 1] + sl[m]) / 2
