"""event_lister without privileges on the live system: it loads, says why
tracepoints are unavailable when tracefs is root-only (and does not try to
mount over it), still lists kernel functions from kallsyms and says that
the addresses were hidden. Run as root, the daemon is started as nobody
(setpriv). And as an account with CAP_DAC_READ_SEARCH alone (how the
systemd unit starts it), it reads a root-only tracefs (a fixture copy made
0700 root's, through --fs-root): tracepoints and kprobe_events are found,
which access(), asking for the real uid without capabilities, missed. Also
checks the exported symbols. Suite 'plugins'."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.environ["SMCP_SOURCE_DIR"], "tests", "lib"))
import mcp_client  # noqa: E402
from smcp_test import Checker  # noqa: E402

C = Checker("event_lister/unprivileged")
check = C.check


def main():
    C.entry_only(os.path.join(mcp_client.plugin_dir(), "event_lister", "event_lister.so"))
    with mcp_client.unprivileged():
        run_unprivileged()
    run_with_dac_read_search()
    return C.done()


def run_unprivileged():
    with mcp_client.Client(["--enable", "event_lister", "--log-level", "error"]) as c:
        if not c.init_result or "result" not in c.init_result:
            print("SKIP: the daemon does not start unprivileged here")
            sys.exit(77)
        st = c.plugin_state("event_lister")
        r = c.read("events://perf")
        if "error" in r:
            msg = r["error"]["message"]
            check(st["state"] == "degraded" and st["reason"], f"degraded with a reason: {st}")
            check("root" in msg or "CAP_SYS_ADMIN" in msg, f"the reason names what is missing: {msg}")
        else:
            check(st["state"] == "loaded", "tracefs readable here: loaded")
        r = c.read("events://kprobe")
        if "result" in r:
            d = json.loads(r["result"]["contents"][0]["text"])
            check(d["total_functions"] > 0, "kernel functions listed without privileges")
            check(d["source"]["name"] == "available_filter_functions" or "kallsyms" in d["source"]["detail"],
                  f"source named: {d['source']}")
            if "hidden" in d["source"]["detail"]:
                check(d["excluded"]["init_text"] == 0, "no address-based exclusion without addresses")
        else:
            check("kallsyms" in r["error"]["message"], f"function list error names the files: {r['error']}")


def run_with_dac_read_search():
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        print("skipped: a root-only tracefs read as another account needs root and setpriv")
        return
    fix = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ftrace")
    with mcp_client.unprivileged(drop_caps=False) as tmp:
        root = os.path.join(tmp, "fsroot")
        shutil.copytree(fix, root)
        tracing = os.path.join(root, "sys", "kernel", "tracing")
        for d, dirs, files in os.walk(root):
            for f in files:
                os.chmod(os.path.join(d, f), 0o440 if d.startswith(tracing) else 0o444)
            os.chmod(d, 0o700 if d.startswith(tracing) else 0o755)
        exe = os.environ["SMCP_DAEMON"]
        wrapper = os.path.join(tmp, "with-dac-read-search")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec {setpriv} --reuid={mcp_client.NOBODY} "
                    f"--regid={mcp_client.NOBODY} --clear-groups --inh-caps=-all,+dac_read_search "
                    f"--ambient-caps=-all,+dac_read_search --bounding-set=-all,+dac_read_search "
                    f"{os.path.join(tmp, 'schedmcp')} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        os.environ["SMCP_DAEMON"] = wrapper
        try:
            with mcp_client.Client(["--enable", "event_lister", "--fs-root", root,
                                    "--log-level", "error"]) as c:
                st = c.plugin_state("event_lister")
                check(st["state"] == "loaded", f"root-only tracefs read with CAP_DAC_READ_SEARCH: {st}")
                r = c.read("events://perf")
                check("result" in r, f"events://perf: {str(r)[:300]}")
                d = c.read_json("events://kprobe")
                check(d["kprobes"]["tracefs_kprobe_events"],
                      f"kprobe_events found in the root-only tracefs: {d['kprobes']}")
        finally:
            os.environ["SMCP_DAEMON"] = exe


sys.exit(main())
