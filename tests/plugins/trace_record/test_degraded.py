"""trace_record without privilege (as root: a copy of the daemon run as
nobody with no capabilities; otherwise as the user running the test): the
plugin loads degraded with a reason that says what it needs, the tool
answers an error naming it, and traces://recordings says available: false."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trtest  # noqa: E402
from trtest import mcp_client  # noqa: E402


def check(ck):
    tdir = tempfile.mkdtemp(prefix="smcp-trace-unpriv-")
    if os.geteuid() == 0:
        os.chown(tdir, mcp_client.NOBODY, mcp_client.NOBODY)
    os.chmod(tdir, 0o750)
    d = trtest.Daemon(tdir)
    try:
        st = d.plugin_state("trace_record")
        ck.check(st and st["state"] == "degraded", f"degraded: {st}")
        ck.check(st and "CAP_BPF" in (st["reason"] or ""), f"says what it needs: {st}")
        r = d.tool("trace_record", {"duration_s": 1})
        ck.check(r.get("isError") and "not available" in r["content"][0]["text"],
                 f"the tool says why: {r}")
        lst = d.read_json("traces://recordings")
        ck.check(lst["available"] is False and "CAP_BPF" in lst["reason"],
                 f"the resource says why: {lst}")
        ck.eq(os.listdir(tdir), [], "nothing written")
    finally:
        d.close()
        trtest.smcp_test.remove_dir(tdir)


def main():
    ck = trtest.smcp_test.Checker("plugins/trace_record/degraded")
    with mcp_client.unprivileged() as tmp:
        if tmp is None and os.geteuid() == 0:
            trtest.skip("setpriv is missing: cannot drop privileges")
        check(ck)
    sys.exit(ck.done())


if __name__ == "__main__":
    main()
