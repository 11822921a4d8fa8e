"""The live event stream (root): events are filtered in the kernel by pid,
type and minimum wait; the rate limit holds and what it drops is counted
and published as sched.stream_loss; disable stops the flow; poll_events
reads everything with a cursor. Suite 'bpf'."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402


def poll_all(d, cursor, prefix="sched."):
    events = []
    while True:
        r = d.structured("poll_events", {"cursor": cursor, "limit": 100, "type": prefix})
        events += r["events"]
        cursor = r["next_cursor"]
        if not r["has_more"]:
            return events, cursor


def main():
    sltest.need_root()
    ck = sltest.Checker()
    d = sltest.start_loaded(ck)
    st = d.structured("control_event_tracking", {"action": "status"})
    ck.check(st["enabled"] is False, f"off by default: {st}")
    _, cursor = poll_all(d, 0)

    pp = sltest.Workload("pingpong", 20)
    try:
        st = d.structured("control_event_tracking", {
            "action": "enable", "types": "switch,wakeup", "pid": str(pp.pids[0]),
            "max_events_per_s": 1000})
        ck.check(st["enabled"] and st["filter"]["pid"] == pp.pids[0] and
                 st["filter"]["types"] == ["switch", "wakeup"], f"enabled: {st}")
        time.sleep(2)
        events, cursor = poll_all(d, cursor)
        kinds = {e["type"] for e in events if e["type"] != "sched.stream_loss"}
        ck.check(len(events) > 100, f"events arrive: {len(events)}")
        ck.check(kinds <= {"sched.switch", "sched.wakeup"}, f"only the types asked: {kinds}")
        bad = [e for e in events if e["type"] in ("sched.switch", "sched.wakeup") and
               pp.pids[0] not in (e.get("pid"), e.get("tgid"), e.get("prev_pid"),
                                  e.get("prev_tgid"), e.get("waker_pid"), e.get("waker_tgid"))]
        ck.check(not bad, f"every event involves pid {pp.pids[0]}: {bad[:2]}")
        sw = [e for e in events if e["type"] == "sched.switch"]
        ck.check(sw and all({"cpu", "pid", "comm", "prev_pid", "prev_state", "wait_us"} <= set(e)
                            for e in sw), f"switch events carry their fields: {sw[:1]}")
        # DSQ fields only while a BPF scheduler runs (never on a kernel without sched_ext)
        if not st["dsq_fields"]:
            with_dsq = [e for e in events if "dsq" in e or "dsq_id" in e]
            ck.check(not with_dsq, f"no DSQ fields without sched_ext hooks: {with_dsq[:1]}")

        # minimum wait: switches with shorter waits are dropped in BPF
        d.structured("control_event_tracking", {"action": "enable", "types": "switch",
                                                "min_latency_us": 20,
                                                "max_events_per_s": 1000})
        _, cursor = poll_all(d, cursor)
        time.sleep(2)
        events, cursor = poll_all(d, cursor)
        sw = [e for e in events if e["type"] == "sched.switch"]
        ck.check(all(e["wait_us"] is not None and e["wait_us"] >= 20 for e in sw),
                 f"min_latency_us holds: {[e['wait_us'] for e in sw][:10]}")

        # the rate limit, with the losses counted and published
        d.structured("control_event_tracking", {"action": "enable", "max_events_per_s": 20})
        _, cursor = poll_all(d, cursor)
        t0 = time.monotonic()
        time.sleep(3)
        events, cursor = poll_all(d, cursor)
        elapsed = time.monotonic() - t0
        real = [e for e in events if e["type"] != "sched.stream_loss"]
        loss = [e for e in events if e["type"] == "sched.stream_loss"]
        ck.check(len(real) <= 20 * (elapsed + 1.5), f"at most ~20/s: {len(real)} in {elapsed:.1f} s")
        ck.check(loss and sum(e["rate_limited_in_bpf"] + e["over_events_per_s"]
                              for e in loss) > 0, f"losses published: {loss[:1]}")
        st = d.structured("control_event_tracking", {"action": "status"})
        cnt = st["counters_since_start"]
        ck.check(cnt["lost_rate_limited_in_bpf"] + cnt["lost_over_events_per_s"] > 0,
                 f"losses counted: {cnt}")

        # disable stops the flow
        d.structured("control_event_tracking", {"action": "disable"})
        time.sleep(0.5)
        _, cursor = poll_all(d, cursor)
        time.sleep(1.5)
        events, cursor = poll_all(d, cursor)
        ck.check(not [e for e in events if e["type"] != "sched.stream_loss"],
                 f"nothing after disable: {events[:2]}")

        # events://stream shows the recent ones
        body = d.read_json("events://stream")
        ck.check("events" in body and body["published_total"] > 0, "events://stream answers")

        r = d.tool("control_event_tracking", {"action": "enable", "types": "switch,bogus"})
        ck.check(r.get("isError") and "bogus" in r["content"][0]["text"],
                 f"unknown type refused: {r}")

        # the sched_ext type is accepted anywhere (events come only under sched_ext)
        st = d.structured("control_event_tracking", {"action": "enable",
                                                     "types": "dsq_insert,switch"})
        ck.check(st["filter"]["types"] == ["switch", "dsq_insert"] and
                 isinstance(st.get("dsq_fields"), bool), f"dsq_insert accepted: {st}")
        d.structured("control_event_tracking", {"action": "disable"})
    finally:
        pp.kill()
        d.close()
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
