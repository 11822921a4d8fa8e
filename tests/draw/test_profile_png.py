#!/usr/bin/env python3
"""get_perf_results {"format": "png"} (perf_profiler, results_png.c): a flame
graph of a real profile of about 100k samples comes back as a text summary
and a bounded PNG image block, drawn on a worker: pings on the same session
are answered meanwhile and the loop thread spends under 50 ms of CPU on it
(tests/lib/loopstall.py). Needs root and perf_event_open (exit 77)."""
import base64
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "plugins", "perf_profiler"))
import loopstall  # noqa: E402
import pptest  # noqa: E402
from smcp_test import SANITIZED, Checker, Skip, is_root  # noqa: E402

C = Checker("draw/profile-png")
SPIN = "import time\nt = time.time()\nwhile time.time() - t < 10: pass\n"


@C.case
def test_flame_png_of_100k_samples():
    if not is_root():
        raise Skip("needs root (a system-wide profile)")
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)]
    try:
        # rings of 4 MiB a CPU: a loaded machine drains late, and 20 kHz of
        # samples must not be lost meanwhile
        with pptest.daemon("[plugin perf_profiler]\nring_pages = 1024\n") as d:
            st = d.read_json("profiling://perf/status")
            if not st.get("capabilities", {}).get("system_wide"):
                raise Skip(f"no system-wide profile here: {st.get('capabilities')}")
            # frame pointers keep each sample small: 20 kHz on every CPU
            # for 6 s is over 100k samples without the ring buffers filling
            err, r = pptest.tool(d, "start_perf_profiling",
                                 {"frequency_hz": 20000, "duration_secs": 6, "wait": True,
                                  "unwind": "fp"}, timeout=60)
            C.check(not err, f"start: {str(r)[:300]}")
            t0 = time.monotonic()
            res = loopstall.check_heavy(C, d, "get_perf_results png", "tools/call",
                                        {"name": "get_perf_results",
                                         "arguments": {"format": "png"}}, SANITIZED)
            print(f"  answered in {time.monotonic() - t0:.2f} s", flush=True)
            content = res.get("content", [])
            if res.get("isError") and "cairo" in content[0].get("text", ""):
                raise Skip(content[0]["text"])
            C.eq([c["type"] for c in content], ["text", "image"], "summary, then picture")
            text = content[0]["text"]
            samples = int(text.split("Flame graph of ")[1].split(" ")[0])
            print(f"  {samples} samples: {text[:200]}", flush=True)
            # 2 CPUs x 20 kHz x 6 s, less what a loaded machine loses
            C.check(samples >= 50000, f"a large profile: {samples} samples")
            png = base64.b64decode(content[1]["data"], validate=True)
            C.check(png[:8] == b"\x89PNG\r\n\x1a\n", "a PNG")
            w, h = struct.unpack(">II", png[16:24])
            C.check(w <= 1200 and h <= 700 and len(png) <= 64 * 1024,
                    f"{w}x{h}, {len(png)} bytes")
            C.eq(content[1]["mimeType"], "image/png", "mime type")
            # the same profile as folded text still answers as before
            t = pptest.texts(d, "get_perf_results", {"format": "folded", "limit": 5})
            C.check(any(x.startswith("# folded stacks 1-5") for x in t), str(t)[-200:])
            # a pid with no samples: an error that says why
            err, r = pptest.tool(d, "get_perf_results", {"format": "png", "pid": 999999})
            C.check(err and "no samples" in str(r), str(r)[:200])
    finally:
        for p in spinners:
            p.kill()
            p.wait()


C.main()
