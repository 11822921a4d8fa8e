#!/usr/bin/env python3
"""`schedmcp flamegraph` (core/draw/flame.c, core/cli_draw.c): known folded
stacks give known pictures. A 75/25 split under two callers draws two
boxes of 75 % and 25 % of their parent's width (+-1 px); the picture does
not depend on the input's line order; kernel frames (_[k]) are coloured
apart; a differential graph paints what grew red and what shrank blue; the
PNG is bounded; bad input is refused with a reason. Standard library
only."""
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import Checker, Skip, daemon_path  # noqa: E402

T = Checker("draw/flamegraph")
EXE = daemon_path()
NS = "{http://www.w3.org/2000/svg}"


def run(stdin, *args):
    p = subprocess.run([EXE, "flamegraph", *args], input=stdin, capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


def boxes(svg):
    """{frame label: [(x, width, fill, depth)]} from the SVG's frame groups."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(NS + "g"):
        if g.get("class") != "f":
            continue
        title = g.find(NS + "title").text
        r = g.find(NS + "rect")
        name = title[:title.rindex(" (")]
        out.setdefault(name, []).append((float(r.get("x")), float(r.get("width")),
                                         r.get("fill"), int(g.get("data-d"))))
    return out


def rgb(fill):
    return tuple(int(fill[i:i + 2], 16) for i in (1, 3, 5))


SPLIT = b"main;caller_a;work 75\nmain;caller_b;work 25\n"


@T.case
def split_75_25():
    rc, out, err = run(SPLIT)
    T.check(rc == 0, f"rc {rc}: {err}")
    b = boxes(out)
    parent = b["main"][0]
    a, c = b["caller_a"][0], b["caller_b"][0]
    T.check(abs(a[1] - 0.75 * parent[1]) <= 1, f"caller_a {a[1]} of {parent[1]}")
    T.check(abs(c[1] - 0.25 * parent[1]) <= 1, f"caller_b {c[1]} of {parent[1]}")
    # side by side inside the parent, in name order
    T.check(abs(a[0] - parent[0]) <= 1 and abs(c[0] - (a[0] + a[1])) <= 1, f"{a} {c}")
    T.check(a[3] == c[3] == parent[3] + 1, "callers one level above main")
    # the title on hover says samples and share
    T.check(re.search(rb"<title>caller_a \(75 samples, 75.00%\)</title>", out), "hover title")
    # zoom and search are in the document
    T.check(b"<script" in out and b"Search" in out, "script and search")


@T.case
def order_does_not_matter():
    lines = [f"p;f{i % 17};g{i % 5};h{i} {i + 1}" for i in range(300)]
    one = run(("\n".join(lines) + "\n").encode())[1]
    random.Random(1).shuffle(lines)
    two = run(("\n".join(lines) + "\n").encode())[1]
    T.check(one == two and len(one) > 1000, "the same picture from shuffled lines")


@T.case
def kernel_apart():
    rc, out, _ = run(b"app;read;vfs_read_[k];ext4_read_[k] 10\napp;compute 10\n")
    b = boxes(out)
    T.check("vfs_read [k]" in b and "ext4_read [k]" in b, f"kernel labels: {list(b)}")
    for k in ("vfs_read [k]", "ext4_read [k]"):
        r, g, bl = rgb(b[k][0][2])
        T.check(bl > r and bl >= 200, f"{k} blue-green, got {b[k][0][2]}")
    for u in ("read", "compute", "app"):
        r, g, bl = rgb(b[u][0][2])
        T.check(r >= 200 and bl <= 60, f"{u} warm, got {b[u][0][2]}")


@T.case
def differential():
    old = b"main;grows 10\nmain;shrinks 80\nmain;same 10\n"
    new = b"main;grows 80\nmain;shrinks 10\nmain;same 10\n"
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"fg-old-{os.getpid()}.folded")
    with open(path, "wb") as f:
        f.write(old)
    try:
        rc, out, err = run(new, "--diff", path)
    finally:
        os.unlink(path)
    T.check(rc == 0, err)
    b = boxes(out)
    g, s, same = (rgb(b[n][0][2]) for n in ("grows", "shrinks", "same"))
    T.check(g[0] == 255 and g[2] < 100, f"grew: red, got {g}")
    T.check(s[2] == 255 and s[0] < 100, f"shrank: blue, got {s}")
    T.check(same[0] == same[1] == same[2], f"unchanged: grey, got {same}")
    T.check(abs(b["grows"][0][1] - 0.8 * b["main"][0][1]) <= 1, "widths of the new profile")
    T.check(re.search(rb"grows \(80 samples, 80.00%; before 10, 10.00%: \+70.00 points\)", out),
            "the change on hover")


def png_size(data):
    T.check(data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG")
    return struct.unpack(">II", data[16:24])


@T.case
def png_bounded():
    rc, out, err = run(SPLIT, "--png")
    if rc and "cairo" in err:
        raise Skip(err)
    T.check(rc == 0, err)
    w, h = png_size(out)
    T.check(w <= 1200 and h <= 700 and len(out) <= 200 * 1024, f"{w}x{h} {len(out)} B")
    # 600 levels deep, 20000 distinct frames: still bounded, and the cut said
    deep = ";".join(f"fn{i}" for i in range(600))
    wide = "\n".join(f"root;w{i:05d};x{i} 1" for i in range(20000))
    rc, out, err = run((deep + " 5\n" + wide + "\n").encode(), "--png")
    T.check(rc == 0, err)
    w, h = png_size(out)
    T.check(w <= 1200 and h <= 700 and len(out) <= 200 * 1024, f"{w}x{h} {len(out)} B")
    T.check("depth" in err, f"the cut is said: {err!r}")


# In a page of its own, the SVG's script is driven like a person would:
# click caller_b (zoom: it fills the width, caller_a leaves), Search for
# "work" (prompt answered by the page), then Reset zoom. The state after
# each step is written into the DOM, which Chromium dumps.
DRIVER = """<script>
var out=[];function st(){var r={};document.querySelectorAll('g.f').forEach(function(g){
 var t=g.querySelector('title').textContent;t=t.slice(0,t.lastIndexOf(' ('));
 r[t]=[g.style.display,(+g.querySelector('rect').getAttribute('width')).toFixed(0),
 g.querySelector('rect').getAttribute('fill')];});return r;}
function click(sel){var e=document.querySelector(sel);
 e.dispatchEvent(new MouseEvent('click',{bubbles:true}));}
window.prompt=function(){return 'work';};
var b=[].filter.call(document.querySelectorAll('g.f'),function(g){
 return g.querySelector('title').textContent.indexOf('caller_b ')==0;})[0];
b.querySelector('rect').dispatchEvent(new MouseEvent('click',{bubbles:true}));
out.push(st());click('.search');out.push(st());
out.push(document.querySelector('.matched').textContent);click('.reset');out.push(st());
var pre=document.createElement('pre');pre.id='result';pre.textContent=JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


@T.case
def zoom_and_search_in_chromium():
    chromium = shutil.which("chromium")
    if not chromium:
        raise Skip("chromium is not installed (apt-get install chromium)")
    rc, svg, err = run(SPLIT)
    svg = svg.decode().split("?>", 1)[1]
    page = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"fg-zoom-{os.getpid()}.html")
    with open(page, "w") as f:
        f.write("<!DOCTYPE html><html><body>" + svg + DRIVER + "</body></html>")
    try:
        p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--no-first-run", "--disable-extensions", "--enable-logging=stderr",
                            "--v=0", "--dump-dom", "file://" + page],
                           capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(page)
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l]
    T.check(not console, f"console: {console[:3]}")
    m = re.search(r'<pre id="result">(.*?)</pre>', p.stdout, re.S)
    T.check(m, f"the driver ran: {p.stdout[-300:]}")
    import html as htmlmod
    import json
    zoomed, searched, matched, reset = json.loads(htmlmod.unescape(m.group(1)))
    full = float(zoomed["all"][1])
    T.check(zoomed["caller_a"][0] == "none", "zoom: caller_a hidden")
    T.check(abs(float(zoomed["caller_b"][1]) - full) <= 1, f"zoom: caller_b fills {zoomed}")
    T.check(zoomed["main"][0] == "" and abs(float(zoomed["main"][1]) - full) <= 1,
            "zoom: the ancestors stay, full width")
    T.check(searched["work"][2] == "#e040fb", f"search: work highlighted {searched['work']}")
    T.check(searched["main"][2] != "#e040fb", "search: main not highlighted")
    T.eq(matched, "matched 100.0%", "search: share of samples matched")
    T.check(reset["caller_a"][0] == "" and abs(float(reset["caller_a"][1]) - 0.75 * full) <= 1,
            f"reset: caller_a back at 75% {reset['caller_a']}")


@T.case
def bad_input():
    rc, out, err = run(b"no count here\n# comment\n")
    T.check(rc == 1 and not out and "no samples" in err, f"{rc} {err!r}")
    rc, out, err = run(SPLIT, "--diff", "/nonexistent/old")
    T.check(rc == 1 and "/nonexistent/old" in err, err)
    # counts that would overflow the total are skipped and said
    rc, out, err = run(b"a;b 18446744073709551000\na;c 18446744073709551000\n")
    T.check(rc == 0 and "1 lines skipped" in err and b"(18446744073709551000 samples" in out,
            err)
    # names with markup and bytes outside ASCII stay a valid document
    rc, out, err = run(b"a<b>&\"c;\xff\xfe\x01 3\n")
    ET.fromstring(out)
    T.check(rc == 0, err)


T.main()
