"""sched_latency without privileges: the plugin loads degraded, says why in
words a user can act on, every resource answers with that reason, every
tool is an isError result with it, and the DSQ view still says whether the
kernel has sched_ext. Run as root, the daemon is started as nobody
(setpriv); run unprivileged, as the current user. Also checks that the
plugin exports only its entry symbol. Suite 'plugins'."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import mcp_client  # noqa: E402

RESOURCES = ["stats://aggregated/cpu", "stats://aggregated/llc", "stats://aggregated/node",
             "stats://aggregated/process", "stats://aggregated/thread",
             "stats://aggregated/cgroup"]


def main():
    ck = sltest.Checker()
    ck.entry_only(os.path.join(mcp_client.plugin_dir(), "sched_latency", "sched_latency.so"))
    with mcp_client.unprivileged():
        check_degraded(ck)
    return ck.done()


def check_degraded(ck):
    try:
        c = sltest.Daemon(["--log-level", "error"])
    except (TimeoutError, OSError, json.JSONDecodeError) as e:
        sltest.skip(f"the daemon does not start unprivileged here ({e})")
    with c:
        st = c.plugin_state()
        ck.check(st and st["state"] == "degraded", f"degraded: {st}")
        reason = (st or {}).get("reason") or ""
        ck.check("root" in reason and "CAP_BPF" in reason, f"the reason says what to do: {reason}")
        for uri in RESOURCES:
            body = c.read_json(uri)
            ck.check(body.get("available") is False and body.get("reason") == reason,
                     f"{uri} answers with the reason: {body}")
        r = c.read("stats://process/1")
        ck.check("result" in r and "available" in r["result"]["contents"][0]["text"],
                 f"template answers: {r}")
        dsq = c.read_json("stats://aggregated/dsq")
        ck.check(dsq.get("available") is False and dsq.get("reason"),
                 f"dsq says why: {dsq}")
        if not dsq.get("sched_ext", {}).get("in_kernel"):
            ck.check("sched_ext is not available on this kernel" in dsq["reason"],
                     f"dsq names the missing kernel feature: {dsq['reason']}")
        for name, args in (("measure_latency", {"duration_s": 1}),
                           ("control_event_tracking", {"action": "status"}),
                           ("analyze_waker_wakee", {"duration_s": 1})):
            res = c.tool(name, args)
            ck.check(res.get("isError") and reason in res["content"][0]["text"],
                     f"{name} is an isError result with the reason: {res}")
        tools = {t["name"] for t in c.request("tools/list")["result"]["tools"]}
        ck.check({"measure_latency", "control_event_tracking",
                  "analyze_waker_wakee"} <= tools, f"tools listed: {tools}")
        tpl = c.request("resources/templates/list")["result"]["resourceTemplates"]
        ck.check(any(t["uriTemplate"] == "stats://process/{pid}" for t in tpl),
                 "the per-process template is listed")
        ck.check(c.request("ping").get("result") == {}, "still serving")


if __name__ == "__main__":
    sys.exit(main())
