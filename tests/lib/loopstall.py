"""How long a request holds the daemon's loop (issue 13: no request may stall
the others for more than 50 ms).

pings_during() sends one request and then, on the same connection, a ping
every few milliseconds until the request's answer is in. A ping is answered
by the loop at once, so its round trip is how long the loop was away: the
worst one is the longest stall the request caused. A request that blocks the
loop shows up as a ping as slow as the request itself; one that hands its
work to the core's workers leaves every ping fast.

Wall time depends on the machine's load: on the shared 2-CPU test VM a ping
can wait for a CPU longer than any stall. So pings_during() also measures
the CPU time the loop thread (the daemon's main thread) spent while the
request ran, which the load does not inflate: work done on the loop shows
there whole, work handed to a worker does not, and answering the pings
costs well under a millisecond each. loop_cpu_limit_ms() bounds it.

stall_limit_ms() is the bound on the worst ping: 50 ms on a machine with a
CPU to spare; on a loaded one (load average above the CPU count) 200 ms or
a quarter of the request's own time, which a blocked loop (pings as slow as
the request) still fails. Standard library only.
"""
import json
import os
import threading
import time

LIMIT_MS = 50


def busy():
    return os.getloadavg()[0] >= (os.cpu_count() or 1)


def stall_limit_ms(took_ms, sanitized=False):
    """The worst ping allowed while a request that took took_ms ran."""
    limit = LIMIT_MS * (5 if sanitized else 1)
    return max(limit, 4 * LIMIT_MS, took_ms / 4) if busy() else limit


def loop_cpu_limit_ms(sanitized=False):
    """The loop thread's CPU time allowed while one request runs."""
    return LIMIT_MS * (5 if sanitized else 1)


def loop_cpu_ms(pid):
    """CPU time of pid's main thread (the loop), in ms."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e6


def loop_stats(client):
    """The daemon's own account of its loop (schedmcp://plugins "loop":
    longest_ms, longest_by, over_50ms, work_submitted...), {} before it had
    one."""
    r = client.request("resources/read", {"uri": "schedmcp://plugins"}, timeout=30)
    if "result" not in r:
        return {}
    return json.loads(r["result"]["contents"][0]["text"]).get("loop", {})


def pings_during(client, method, params, gap_s=0.005, timeout=120.0, tag="heavy", pid=None):
    """(response, took_ms, [ping round trips in ms], loop CPU ms) of one
    request sent on client (an mcp_client.Client or a socket session with
    the same send/recv), with a ping every gap_s until its answer arrived.
    The loop's CPU time is measured when pid (the daemon's) is given,
    else None."""
    rid = f"{tag}-{time.monotonic_ns()}"
    sent = {}
    stop = threading.Event()
    lock = threading.Lock()

    def pinger():
        i = 0
        while not stop.is_set():
            pid = f"{rid}-ping{i}"
            with lock:
                sent[pid] = time.perf_counter()
            client.send({"jsonrpc": "2.0", "id": pid, "method": "ping"})
            i += 1
            stop.wait(gap_s)

    msg = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        msg["params"] = params
    cpu0 = loop_cpu_ms(pid) if pid else None
    t0 = time.perf_counter()
    client.send(msg)
    th = threading.Thread(target=pinger, daemon=True)
    th.start()
    rtts, resp, took, cpu = [], None, None, None
    deadline = time.monotonic() + timeout
    try:
        while True:
            with lock:
                waiting = len(sent) - len(rtts)
            if resp is not None and (stop.is_set() and not waiting):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no answer in {timeout} s")
            m = client.recv(min(left, 1.0))
            now = time.perf_counter()
            if m is None:
                continue
            mid = m.get("id")
            if mid == rid and ("result" in m or "error" in m):
                resp, took = m, (now - t0) * 1000
                cpu = loop_cpu_ms(pid) - cpu0 if pid else None
                stop.set()
                th.join()
            elif isinstance(mid, str) and mid in sent:
                rtts.append((now - sent[mid]) * 1000)
    finally:
        stop.set()
        th.join()
    return resp, took, rtts, cpu


def check_heavy(checker, client, what, method, params, sanitized=False):
    """Send one request with pings_during() on client (an smcp_test.Daemon)
    and check, with checker (an smcp_test.Checker), that pings were
    answered meanwhile, that the worst stayed under stall_limit_ms(), that
    the loop thread's CPU time stayed under loop_cpu_limit_ms(), and that
    the request was answered with a result. Returns that result ({} when
    there is none)."""
    resp, took, rtts, cpu = pings_during(client, method, params, pid=client.pid)
    worst = max(rtts) if rtts else 0.0
    limit = stall_limit_ms(took, sanitized)
    cpu_limit = loop_cpu_limit_ms(sanitized)
    print(f"  {what}: answered in {took:.0f} ms; {len(rtts)} pings meanwhile, worst "
          f"{worst:.1f} ms (limit {limit:.0f} ms); loop CPU {cpu:.1f} ms", flush=True)
    checker.check(rtts, f"{what}: pings were sent while it ran")
    checker.check(worst < limit, f"{what}: the loop stalled {worst:.1f} ms (limit {limit:.0f} ms)")
    checker.check(cpu < cpu_limit, f"{what}: the loop spent {cpu:.1f} ms of CPU on it "
                  f"(limit {cpu_limit} ms)")
    checker.check("result" in resp, f"{what}: {str(resp)[:300]}")
    return resp.get("result", {})


def check_on_workers(checker, client, min_jobs):
    """The daemon's own account (loop_stats()): at least min_jobs jobs went
    to the core's workers."""
    ls = loop_stats(client)
    print(f"  the loop's own account: longest callback {ls.get('longest_ms', 0):.1f} ms by "
          f"{ls.get('longest_by')}, {ls.get('over_50ms')} over 50 ms; "
          f"{ls.get('work_submitted')} jobs on the workers", flush=True)
    checker.check(ls.get("work_submitted", 0) >= min_jobs,
                  f"at least {min_jobs} jobs went to the workers: {ls}")
