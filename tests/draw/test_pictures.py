#!/usr/bin/env python3
"""PNG answers for models (issue 21): query_history with format png gives a
one-paragraph text summary and an MCP image content block (a bounded PNG
of a heat map) from the synth plugin's known history; without format the
answer is the JSON it always was; no data gives a clear error. Then the
official TypeScript SDK's Client calls the same tool and validates the
result with its own schemas (tests/draw/sdk_png.mjs; skipped without npm).

argv: the synth plugin .so (default BUILD/tests/metrics/synth.so)."""
import base64
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "metrics"))
import smcp_test as T  # noqa: E402
from smcp_test import Checker, Daemon, Skip  # noqa: E402
import synthtest  # noqa: E402
from synthtest import wait_collects  # noqa: E402

C = Checker("draw/pictures")
FAST = synthtest.fast_config(40)


def png_dims(data):
    C.check(data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature")
    return struct.unpack(">II", data[16:24])


def call(d, args):
    return T.result(d.request("tools/call", {"name": "query_history", "arguments": args}))


@C.case
def test_query_history_png():
    cfg = T.write_config(FAST)
    with Daemon(args=["--config", cfg, "--enable", "synth"],
                plugin_dir_=synthtest.plugin_dir()) as d:
        T.result(d.request("tools/call", {"name": "synth_set", "arguments": {
            "hist_count": 7, "hist_bucket": 3, "ncpu": 2, "gauge": 40}}))
        wait_collects(d, 30)
        r = call(d, {"metric": "synth_latency_ns", "start": "-5m", "format": "png"})
        if r.get("isError") and "cairo" in r["content"][0]["text"]:
            raise Skip(r["content"][0]["text"])
        C.check(not r.get("isError"), f"answer: {str(r)[:300]}")
        kinds = [c["type"] for c in r["content"]]
        C.eq(kinds, ["text", "image"], "a summary, then the picture")
        text, img = r["content"][0]["text"], r["content"][1]
        C.check(text.startswith("Heat map of synth_latency_ns") and "hottest cell" in text,
                text)
        # 7 observations per step in bucket 3 (<= 8 us) on each of 2 cpus
        C.check("bucket up to 8" in text, text)
        C.eq(img["mimeType"], "image/png", "mime type")
        png = base64.b64decode(img["data"], validate=True)
        w, h = png_dims(png)
        C.check(w <= 1200 and h <= 700 and len(png) <= 64 * 1024, f"{w}x{h}, {len(png)} B")
        C.check("structuredContent" not in r, "no JSON body beside the picture")
        # one CPU, and the per-CPU gauge as rows
        r = call(d, {"metric": "synth_latency_ns", "labels": "cpu=1", "format": "png"})
        C.check(not r.get("isError") and "cpu=1" in r["content"][0]["text"], str(r)[:300])
        r = call(d, {"metric": "synth_gauge_pct", "format": "png"})
        C.check(not r.get("isError") and "one row per series (2 of 2" in r["content"][0]["text"],
                str(r)[:300])
        # clients that do not ask pay nothing
        r = call(d, {"metric": "synth_latency_ns"})
        C.check(all(c["type"] == "text" for c in r["content"]) and "structuredContent" in r,
                "plain answer without format")
        # nothing there: an error that says so
        r = call(d, {"metric": "synth_latency_ns", "labels": "cpu=9", "format": "png"})
        C.check(r.get("isError") and "no series" in r["content"][0]["text"], str(r)[:300])
        r = call(d, {"metric": "synth_latency_ns", "format": "gif"})
        C.check(T.is_error(r) or r.get("isError"), "format outside the enum refused")


@C.case
def test_sdk_validates_png():
    """The official SDK's Client validates the image content block."""
    tools = os.path.join(HERE, "..", "conformance", "node-tools.sh")
    p = subprocess.run(["bash", "-c", f'. "{tools}"; node_tools_setup >&2; '
                        'printf "%s\\n%s\\n" "$NODE" "$NODE_DIR"'],
                       capture_output=True, text=True, timeout=600)
    if p.returncode == 77:
        raise Skip(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "no Node tools")
    C.check(p.returncode == 0, p.stderr[-500:])
    node, node_dir = p.stdout.split("\n")[:2]
    cfg = T.write_config(FAST)
    pdir = synthtest.plugin_dir()
    cmd = [T.daemon_path(), "--standalone", "--config", cfg, "--plugin-dir", pdir,
           "--no-default-plugins", "--enable", "synth"]
    p = subprocess.run([node, os.path.join(HERE, "sdk_png.mjs"), node_dir, *cmd],
                       capture_output=True, text=True, timeout=120)
    print(p.stdout + p.stderr)
    if "SKIP" in p.stdout:
        raise Skip(p.stdout.strip())
    C.check(p.returncode == 0 and "validated" in p.stdout, "the SDK validated the picture")


C.main()
