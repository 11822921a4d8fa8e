"""bpf_inventory without privileges: the plugin loads degraded and says why
(CAP_SYS_ADMIN), every read and the stats tool answer with that reason, and
nothing crashes. Run as root, the daemon is started as nobody (setpriv);
run unprivileged, as the current user. Also checks that the plugin exports
only its entry symbol. Suite 'plugins'."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ["SMCP_SOURCE_DIR"], "tests", "lib"))
import mcp_client  # noqa: E402
from smcp_test import Checker  # noqa: E402

C = Checker("bpf_inventory/unprivileged")
check = C.check


def main():
    C.entry_only(os.path.join(mcp_client.plugin_dir(), "bpf_inventory", "bpf_inventory.so"))
    with mcp_client.unprivileged():
        r = run()
    if r is not None:
        return r
    return C.done()


def run():
    try:
        c = mcp_client.Client(["--enable", "bpf_inventory", "--log-level", "error"])
    except (TimeoutError, OSError, json.JSONDecodeError) as e:
        print(f"SKIP: the daemon does not start unprivileged here ({e})")
        return 77
    with c:
        if not c.init_result or "result" not in c.init_result:
            print("SKIP: the daemon does not start unprivileged here")
            return 77
        st = c.plugin_state("bpf_inventory")
        check(st["state"] == "degraded" and "CAP_SYS_ADMIN" in (st["reason"] or ""),
              f"degraded with the capability named: {st}")
        for uri in ("bpf://programs", "bpf://maps", "bpf://programs/1"):
            r = c.read(uri)
            check("error" in r and "CAP_SYS_ADMIN" in r["error"]["message"], f"{uri} says why: {r}")
        r = c.call_tool("control_stats_collection", {"action": "sample"})["result"]
        check(r["isError"] and "BPF_ENABLE_STATS" in r["content"][0]["text"],
              f"sample explains: {r['content'][0]['text']}")
        r = c.call_tool("control_stats_collection", {"action": "status"})["result"]
        s = r["structuredContent"]
        check(not r["isError"] and not s["stats"]["collecting"] and "snapshot_error" in s,
              f"status still answers: {s}")
        r = c.call_tool("control_stats_collection", {"action": "bogus"})["result"]
        check(r["isError"] and "action" in r["content"][0]["text"], "unknown action refused by the schema")
        r = c.call_tool("control_stats_collection", {"action": "start", "interval_ms": 5})["result"]
        check(r["isError"] and "interval_ms" in r["content"][0]["text"], "interval bound enforced")
        tl = c.request("tools/list")["result"]["tools"]
        check("control_stats_collection" in [t["name"] for t in tl] and st["tools"] == 1,
              f"one tool: {st['tools']}")
        tpl = c.request("resources/templates/list")["result"]["resourceTemplates"]
        check(any(t["uriTemplate"] == "bpf://programs/{id}" for t in tpl), "template listed")
    return None


sys.exit(main())
