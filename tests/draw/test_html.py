#!/usr/bin/env python3
"""`schedmcp report --html FILE` (core/report_html.c) opened in a real
headless Chromium (Debian's chromium): the page is self-contained (nothing
fetched: no remote URL, no external script, style or image), Chromium
builds a DOM with the flame graph (as root, where perf_event_open works)
and heat map SVGs in it, logs no console message (a script error would be
one), and its screenshot is not blank. The page and the screenshot are kept
in the build folder (tests/draw/report.html, report-screenshot.png).
Exit 77 where chromium is missing."""
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from smcp_test import BUILD, Checker, Skip, daemon_path, is_root  # noqa: E402

C = Checker("draw/html")
OUT = os.path.join(BUILD, "tests", "draw")
PAGE = os.path.join(OUT, "report.html")
SHOT = os.path.join(OUT, "report-screenshot.png")


def png_pixels(data):
    """(width, height, [(r, g, b)]) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and not interlace, (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, px = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        px.extend(tuple(line[i:i + 3]) for i in range(0, stride, bpp * 4))  # every 4th pixel
        prev = line
    return w, h, px


@C.case
def test_report_page_in_chromium():
    chromium = shutil.which("chromium")
    if not chromium:
        raise Skip("chromium is not installed (apt-get install chromium)")
    os.makedirs(OUT, exist_ok=True)
    for f in (PAGE, SHOT):
        if os.path.exists(f):
            os.unlink(f)
    p = subprocess.run([daemon_path(), "report", "--html", PAGE, "--interval", "5",
                        "--plugin-dir", os.path.join(BUILD, "plugins"), "--config", "/dev/null"],
                       capture_output=True, text=True, timeout=120)
    C.check(p.returncode == 0, f"report: {p.stderr[-500:]}")
    html = open(PAGE, encoding="utf-8").read()
    # self-contained: the only URL is the SVG namespace
    urls = set(re.findall(r"(?:https?|ftp)://[^\s\"'<>)]+", html)) - {"http://www.w3.org/2000/svg"}
    C.check(not urls, f"no remote URL: {sorted(urls)[:5]}")
    C.check(not re.search(r"<(?:link|img|iframe)\b|<script[^>]*\bsrc=", html),
            "no external resource element")
    C.check('class="heatmap"' in html, "a heat map is on the page")
    if is_root():
        C.check('class="flamegraph"' in html, "a flame graph is on the page (root)")
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-extensions", "--disable-background-networking",
                        "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
                        "--window-size=1280,1800", "--force-device-scale-factor=0.5",
                        f"--screenshot={SHOT}", "--dump-dom",
                        "file://" + PAGE],
                       capture_output=True, text=True, timeout=120, cwd=OUT)
    dom = p.stdout
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l]
    C.check(not console, f"console messages: {console[:3]}")
    n_svg = dom.count("<svg")
    C.check(n_svg >= (3 if is_root() else 1), f"{n_svg} SVG elements in the DOM")
    C.check(dom.count('class="f"') > 10 or not is_root(), "flame graph frames in the DOM")
    C.check(os.path.exists(SHOT), f"screenshot taken: {p.stderr[-300:]}")
    w, h, px = png_pixels(open(SHOT, "rb").read())
    ink = sum(1 for r, g, b in px if (r, g, b) != (255, 255, 255))  # half scale: 640x900
    warm = sum(1 for r, g, b in px if r > 180 and b < 80 and r - g > 40)
    print(f"  screenshot {w}x{h}: {100 * ink / len(px):.1f}% not white, "
          f"{100 * warm / len(px):.1f}% warm; kept at {SHOT}", flush=True)
    C.check(ink > len(px) * 0.05, "the screenshot is not blank")
    C.check(warm > len(px) * 0.005, "flame or heat colours are drawn")


C.main()
