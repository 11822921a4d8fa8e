"""trace_record against the kernel's own ftrace buffer of the same window
(root). A private tracefs instance (boot clock, the same events) records
while trace_record does, under a workload of switches, wakeups, forks, execs
and exits; its per-CPU buffers are read as text (see trtest.instance_events
for why not trace-cmd extract). Then:
- protoc decodes our file against tests/traces/perfetto.proto;
- within the window our two ClockSnapshots bound, the per-CPU count of every
  event type is the same in both, apart from losses each side counted (ours
  include the irq and softirq episodes the kernel ran no BPF program for,
  kernel_ran_no_bpf, and that count must be ftrace's shortfall), events
  within 100 us of the window's edges (where the two probes' clock reads can
  fall on either side), and the wakeups and migrations ftrace records while
  a thread of pid 1 is current: the sandbox kernel of our development VM runs
  no BPF program then, even in an interrupt that lands on that thread, and
  nothing counts those (docs/plugins/trace_record.md, "Events the kernel runs
  no BPF program for");
- each CPU's events are in time order across the whole file;
- the per-CPU sequence of switched-in pids and prev_state values is ftrace's.
"""
import collections
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trtest  # noqa: E402

EDGE_NS = 100000


def init_threads():
    """Thread ids of pid 1 now (an empty set where /proc/1/task is unreadable)."""
    try:
        return {int(t) for t in os.listdir("/proc/1/task") if t.isdigit()}
    except OSError:
        return set()


def workload():
    """Switches and wakeups (hackbench, or a pipe ping-pong), and forks,
    execs and exits (a shell running /bin/true)."""
    procs = []
    if trtest.shutil.which("hackbench"):
        # few tasks: a loaded machine starves the daemon's workers less
        procs.append(subprocess.Popen(["hackbench", "-p", "-g", "1", "-f", "2", "-l", "2000000"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    # until killed: loading the programs may take seconds on a loaded machine
    procs.append(subprocess.Popen(["sh", "-c", "while :; do /bin/true; done"]))
    return procs


def main():
    trtest.need_root()
    ck = trtest.smcp_test.Checker("plugins/trace_record/compare")
    tdir = trtest.trace_dir()
    work = tempfile.mkdtemp(prefix="smcp-trcmp-")
    inst = trtest.FtraceInstance(f"smcp_trace_record_{os.getpid()}")
    t_start = time.monotonic()
    d = trtest.start_loaded(tdir)
    procs = []

    def phase(what):
        print(f"{time.monotonic() - t_start:6.1f} s: {what}")
    phase("daemon up")
    try:
        init_tids = init_threads()
        inst.on(True)
        procs = workload()
        time.sleep(0.3)
        r = d.structured("trace_record", {"duration_s": 2}, timeout=90)
        phase("recorded")
        for p in procs:
            p.kill()
            p.wait()
        procs = []
        inst.on(False)
        init_tids |= init_threads()
        ck.check(r["state"] == "done", f"the recording ended: {r}")
        path = os.path.join(tdir, r["file"])
        lost_ftrace = inst.lost()

        text = trtest.protoc_decode(path)
        ck.check("compact_sched" in text and "clock_snapshot" in text and
                 "process_tree" in text and "ftrace_stats" in text,
                 "protoc reads the packets we write")

        ours = trtest.parse_trace(path)
        ck.check(len(ours["clocks"]) == 2, f"a ClockSnapshot at each end: {ours['clocks']}")
        t0, t1 = ours["clocks"][0], ours["clocks"][-1]
        ck.check(t0 == r["start_ns"] and t1 == r["end_ns"],
                 "the snapshots are the window the tool reports")
        ck.check(ours["threads"], "the process tree names threads")

        # every CPU in time order, across bundles
        last = {}
        disorder = 0
        for cpu, _, evs in ours["bundles"]:
            for ts, _, _ in sorted(evs, key=lambda e: e[0]):
                if ts < last.get(cpu, 0):
                    disorder += 1
                last[cpu] = max(last.get(cpu, 0), ts)
        ck.eq(disorder, 0, "each CPU's bundles follow each other in time")
        ck.eq(r["reordered_late"], 0, "no record came after later ones were written")

        phase("decoded")
        ftrace = trtest.instance_events(inst)
        phase("ftrace read")
        ck.check(ftrace, "the instance's buffers hold events")
        kinds = set(inst.events)
        ours_ev = [(cpu, ts, name, body) for cpu, _, evs in ours["bundles"]
                   for ts, name, body in evs if name in kinds]

        def counts(evs):
            c, edge = collections.Counter(), collections.Counter()
            for cpu, ts, name, _ in evs:
                if t0 <= ts <= t1:
                    c[(cpu, name)] += 1
                if abs(ts - t0) < EDGE_NS or abs(ts - t1) < EDGE_NS:
                    edge[(cpu, name)] += 1
            return c, edge

        mine, my_edge = counts(ours_ev)
        theirs, their_edge = counts(ftrace)
        lost_ours = sum(r["lost"][k] for k in ("ring_buffer_full", "pending_buffer_full",
                                               "kernel_skipped_recursion"))
        # Events ftrace records while a thread of pid 1 is current, by
        # (cpu, type). The sandbox kernel of our development VM runs no BPF
        # program then (docs/plugins/trace_record.md, "Events the kernel runs
        # no BPF program for"): in task context ftrace drops them too, but in
        # an interrupt or softirq that lands on such a thread ftrace records
        # the irq and softirq entries and exits and the wakeups (now and then
        # a migration) made in them. The plugin counts the irq and softirq
        # ones from the kernel's /proc/interrupts and /proc/softirqs
        # (kernel_ran_no_bpf); the wakeups and migrations in them nobody
        # counts, so for those types the events ftrace saw in such a context
        # are what ours may lack. Where the kernel runs BPF there (any other
        # machine) ours has them all and nothing is counted.
        irq_types = ("irq_handler_entry", "irq_handler_exit", "softirq_entry", "softirq_exit")
        # absent when the irq lines or CPUs changed during the recording, or
        # a CPU took interrupts through every read: then only what ftrace saw
        # in a pid-1 context may be missing, and the count is not checked
        counted = r.get("kernel_ran_no_bpf")
        if counted is None:
            print(f"no count of interrupts run without BPF in this recording: {r['lost']}")
        hidden, hidden_later = collections.Counter(), collections.Counter()
        for cpu, ts, name, body in ftrace:
            if body.get("common_pid") in init_tids and ts >= t0 - EDGE_NS:
                hidden_later[name] += 1
                if ts <= t1:
                    hidden[(cpu, name)] += 1
        bad, unexplained, short = [], 0, {}
        short_by_type, edges_by_type = collections.Counter(), collections.Counter()
        for key in sorted(set(mine) | set(theirs)):
            edges = my_edge[key] + their_edge[key]
            allowed = edges + lost_ours + lost_ftrace.get(key[0], 0)
            if theirs[key] > mine[key]:
                allowed += (counted or {}).get(key[1], 0) \
                    if key[1] in irq_types and counted is not None else hidden[key]
            short_by_type[key[1]] += theirs[key] - mine[key]
            edges_by_type[key[1]] += edges
            diff = abs(mine[key] - theirs[key])
            if diff > allowed:
                unexplained += diff - allowed
                short[f"{key[1]}@{key[0]}"] = theirs[key] - mine[key]
                bad.append((key, mine[key], theirs[key], allowed))
        # the count is the shortfall: at least what our window lacks, at most
        # what ftrace saw in that context from the window's start on (the
        # plugin's count ends at the detach, after the window)
        if lost_ours == 0 and sum(lost_ftrace.values()) == 0 and counted is not None:
            ck.eq(r["lost"].get("kernel_ran_no_bpf"), sum(counted.values()),
                  "lost.kernel_ran_no_bpf is the total of the types")
            for t in irq_types:
                ck.check(short_by_type[t] - edges_by_type[t] <= counted.get(t, 0) <=
                         hidden_later[t] + edges_by_type[t],
                         f"{t}: counted {counted.get(t, 0)} as run without BPF; ftrace has "
                         f"{short_by_type[t]} more in the window (edges {edges_by_type[t]}), "
                         f"{hidden_later[t]} with a thread of pid 1 current")
        # the switches away from such a thread that nobody saw: the plugin
        # counts the breaks in each CPU's switch sequence, ftrace's has as many
        gaps_in, gaps_later, last_next = 0, 0, {}
        for cpu, ts, name, body in sorted((e for e in ftrace if e[2] == "sched_switch"),
                                          key=lambda e: (e[0], e[1])):
            prev, nxt = int(body["prev_pid"]), int(body["next_pid"])
            if cpu in last_next and prev != last_next[cpu]:
                gaps_in += t0 + EDGE_NS <= ts <= t1 - EDGE_NS
                gaps_later += ts >= t0 - EDGE_NS
            last_next[cpu] = nxt
        if lost_ours == 0 and sum(lost_ftrace.values()) == 0:
            ck.check(gaps_in <= r["switch_gaps"] <= gaps_later,
                     f"switch gaps: {r['switch_gaps']}, ftrace's switch "
                     f"sequences break {gaps_in} times in the window, {gaps_later} from its "
                     "start on")
        total = sum(mine.values())
        exact = sum(1 for k in set(mine) | set(theirs) if mine[k] == theirs[k])
        print(f"window {(t1 - t0) / 1e9:.3f} s: {total} events ours, {sum(theirs.values())} "
              f"ftrace; {exact}/{len(set(mine) | set(theirs))} (cpu, type) counts equal; "
              f"lost ours {lost_ours} ftrace {sum(lost_ftrace.values())}; counted as run "
              f"without BPF {counted}, switch gaps {r.get('switch_gaps')} "
              f"(ftrace's breaks {gaps_in}); ftrace's with a thread of pid 1 current "
              f"{sum(hidden.values())} {dict(hidden)}; unexplained "
              f"{unexplained}; BPF saw {r['events_seen_by_bpf']}, wrote {r['events_total']}")
        if short:
            print(f"ftrace minus ours beyond what is explained, per type@cpu: {short}")
        ck.check(not bad, f"per-CPU counts match ftrace's: {bad}")
        ck.check(mine[(0, "sched_switch")] + mine[(1, "sched_switch")] > 1000,
                 f"the workload switched: {dict(mine)}")
        for k in ("sched_process_fork", "sched_process_exec", "sched_process_exit"):
            ck.check(sum(v for (c, n), v in mine.items() if n == k) > 10, f"{k} recorded")

        # the switch sequences themselves: ftrace's, away from the edges, is a
        # run of ours taken over a slightly wider window
        def switches(evs, pid_key, state_key, edge):
            out = collections.defaultdict(list)
            for cpu, ts, name, body in evs:
                if name == "sched_switch" and t0 + edge < ts < t1 - edge:
                    out[cpu].append((int(body[pid_key]), int(body[state_key])))
            return out
        a = switches(ours_ev, "next_pid", "prev_state", EDGE_NS // 2)
        b = switches(ftrace, "next_pid", "prev_state", EDGE_NS)
        if lost_ours == 0 and sum(lost_ftrace.values()) == 0:
            for cpu in sorted(set(a) | set(b)):
                mine_, theirs_ = a[cpu], b[cpu]
                starts = [i for i in range(min(len(mine_), 50)) if mine_[i:i + 8] == theirs_[:8]]
                same = any(mine_[i:i + len(theirs_)] == theirs_ for i in starts)
                if not same:
                    i = starts[0] if starts else 0
                    first = next((k for k, (x, y) in enumerate(zip(mine_[i:], theirs_)) if x != y),
                                 None)
                    print(f"cpu {cpu}: offset {i}, first difference at {first}")
                    if first is not None:
                        print(f"  ours   {mine_[i + max(first - 3, 0):i + first + 4]}\n"
                              f"  ftrace {theirs_[max(first - 3, 0):first + 4]}")
                ck.check(same, f"cpu {cpu}: the switched-in pids and prev_state are ftrace's "
                         f"({len(theirs_)} switches)")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        inst.close()
        d.close()
        trtest.smcp_test.remove_dir(work)
        trtest.smcp_test.remove_dir(tdir)
    sys.exit(ck.done())


if __name__ == "__main__":
    main()
