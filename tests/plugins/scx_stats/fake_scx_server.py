#!/usr/bin/env python3
"""A stats server speaking the scx_stats protocol, written from its description:

- a unix stream socket; each request and each reply is one JSON object on one line;
- request  {"req": "stats" | "stats_meta", "args": {"target": NAME, ...}}
  (args is a map of strings; target defaults to "top");
- reply    {"errno": 0, "args": {"resp": <json>}}; on error errno is non-zero
  (EINVAL for an unknown request or target, or a request that is not JSON) and resp
  holds a message;
- stats_meta maps every stats struct name to {name, desc?, top?, user?, fields}, each
  field {"datum"|"array": KIND} or {"dict": {"key": KIND, "datum": KIND}} plus desc?
  and user?, where KIND is "i64", "u64", "float", "string" or {"struct": NAME}.

Shapes (--shape):
  cluster  a ClusterStats top struct with a dict of DomainStats; cumulative counters
           that grow with time (events, nr_dispatched), gauges that move (pressure).
  layered  scx_layered-like SysStats (top) with a dict of LayerStats per layer name;
           like scx_layered, values are per period: each connection's read reports the
           counts and percentages since that connection's previous read.
  wide     a top struct with many domains (for answers that must be cut).

Hostile shapes (raw text: duplicate keys and bad bytes json.dumps cannot write):
  dup-deep   structs S0 (top) .. S{depth-1}, each with the field "n" repeated
             --dup-repeat times (8) pointing at the next, the last at B; stats hold
             one B --dup-depth (20) levels down. Picking B out of top once cost
             repeat^depth steps.
  dup-wide   a top struct with the field "b" repeated --dup-repeat (1000) times, all
             of struct B; stats hold one B of about 12 KB (6000 numbers), which was
             copied once per repeat.
  badutf8    the cluster shape whose stats reply has a byte that is not UTF-8 in
             doms_dict.1.name ("dom\\xff1").
  longpaths  the cluster shape with domains keyed by long names: two of 300
             characters that differ only in their last one (sampled paths that
             differ only after 255 characters), and one of 1500; and two values
             with one path: "dot.ted" (1) beside "dot": {"ted": 2}.
  many-doms  the cluster shape with --domains (250000) empty domains: more values
             than a reply may hold by default, and than a walk looks at.

Faults (--mode):
  normal      serve as above
  slow        wait --delay-ms before every reply
  silent      read requests, never answer
  close-mid   send half of each reply, then close the connection
  oversize    answer stats with a reply of --oversize-bytes (one line)
  garbage     answer with a line that is not JSON
  noaccept    listen but never accept connections
  errno       answer every request with errno 5 (EIO)

Prints "ready" on stdout once listening. Standard library only.
"""
import argparse
import errno
import json
import os
import socket
import sys
import threading
import time

EINVAL = errno.EINVAL


def cluster_meta():
    return {
        "ClusterStats": {
            "name": "ClusterStats", "desc": "cluster statistics", "top": "true",
            "fields": {
                "name": {"datum": "string"},
                "at": {"datum": "u64", "desc": "update timestamp", "user": {"_om_skip": "true"}},
                "events": {"datum": "u64", "desc": "events handled since start"},
                "nr_dispatched": {"datum": "u64", "desc": "tasks dispatched since start"},
                "busy": {"datum": "float", "desc": "CPU busy % (100% means all CPUs)"},
                "nr_tasks": {"datum": "i64", "desc": "runnable tasks now"},
                "bitmap": {"array": "u64", "desc": "a bitmap", "user": {"_om_skip": "true"}},
                "doms_dict": {"dict": {"key": "u64", "datum": {"struct": "DomainStats"}},
                              "desc": "domain statistics"},
            },
        },
        "DomainStats": {
            "name": "DomainStats", "desc": "domain statistics",
            "user": {"_om_prefix": "d_", "_om_label": "domain_name"},
            "fields": {
                "name": {"datum": "string"},
                "events": {"datum": "u64", "desc": "an event counter"},
                "pressure": {"datum": "float", "desc": "a gauge number"},
            },
        },
    }


LAYER_FIELDS = {
    "index": ("u64", "index", True),
    "util": ("float", "Total CPU utilization (100% means one full CPU)", False),
    "util_frac": ("float", "fraction of total CPU utilization", False),
    "tasks": ("u64", "number of tasks", False),
    "total": ("u64", "count of sched events during the period", False),
    "sel_local": ("float", "% dispatched into idle CPU from select_cpu", False),
    "enq_wakeup": ("float", "% enqueued after wakeup", False),
    "preempt": ("float", "% preempted other tasks", False),
    "migration": ("float", "% migrated across CPUs", False),
    "xllc_migration": ("float", "% migrated across LLCs", False),
    "affn_viol": ("float", "% violated config due to CPU affinity", False),
    "keep": ("float", "% continued executing after slice expiration", False),
    "cur_nr_cpus": ("u64", "count of CPUs assigned", False),
    "min_nr_cpus": ("u64", "minimum # of CPUs assigned", False),
    "max_nr_cpus": ("u64", "maximum # of CPUs assigned", False),
    "slice_us": ("u64", "slice duration config", False),
}
SYS_FIELDS = {
    "at": ("float", "timestamp", True),
    "nr_nodes": ("u64", "# of NUMA nodes", False),
    "total": ("u64", "# sched events during the period", False),
    "local_sel": ("float", "% dispatched directly into an idle CPU from select_cpu", False),
    "busy": ("float", "CPU busy % (100% means all CPU)", False),
    "util": ("float", "CPU util % (100% means one CPU)", False),
    "antistall": ("u64", "Number of tasks dispatched via antistall", False),
    "proc_ms": ("u64", "CPU time this binary consumed during the period", False),
}
LAYERS = [("batch", 0, 190.0), ("interactive", 1, 90.0), ("normal", 2, 25.0)]


def _fields(spec):
    out = {}
    for name, (kind, desc, skip) in spec.items():
        f = {"datum": kind, "desc": desc}
        if skip:
            f["user"] = {"_om_skip": "true"}
        out[name] = f
    return out


def layered_meta():
    sys_fields = _fields(SYS_FIELDS)
    sys_fields["layers"] = {"dict": {"key": "string", "datum": {"struct": "LayerStats"}},
                            "desc": "per-layer statistics"}
    lf = _fields(LAYER_FIELDS)
    lf["cpus"] = {"array": "u64", "desc": "mask of allocated CPUs", "user": {"_om_skip": "true"}}
    lf["llc_lats"] = {"array": "float", "desc": "Per-LLC average latency"}
    return {
        "LayerStats": {"name": "LayerStats", "user": {"_om_prefix": "l_",
                                                      "_om_label": "layer_name"},
                       "fields": lf},
        "SysStats": {"name": "SysStats", "top": "true", "fields": sys_fields},
    }


class State:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        if args.shape == "many-doms":  # made once, before "ready": replies come at once
            doms = ",".join('"%d":{}' % i for i in range(args.domains))
            self.many = RawJSON(('{"name":"many","doms_dict":{%s}}' % doms).encode())

    # -- cluster ----------------------------------------------------------
    def cluster(self):
        el = time.monotonic() - self.t0
        doms = {}
        for d in range(self.args.domains):
            doms[str(d)] = {"name": f"domain {d}", "events": int(el * 100 * (d + 1)),
                            "pressure": round(1.0 + d + (el * 7) % 3, 3)}
        return {"name": self.args.name, "at": int(time.time()),
                "events": int(el * 1000), "nr_dispatched": int(el * 250),
                "busy": round(40 + 20 * ((el * 3) % 1), 2), "nr_tasks": 7,
                "bitmap": [3735928559, 3203391149], "doms_dict": doms}

    def meta(self):
        if self.args.shape == "layered":
            return layered_meta()
        if self.args.shape in ("dup-deep", "dup-wide"):
            return dup_meta_text(self.args)
        return cluster_meta()  # cluster, wide, badutf8, longpaths, many-doms

    def top(self, conn):
        shape = self.args.shape
        if shape == "layered":
            return conn.layered()
        if shape in ("dup-deep", "dup-wide"):
            return dup_stats_text(self.args)
        if shape == "badutf8":
            st = self.cluster()
            st["doms_dict"]["1"]["name"] = "@BAD@"
            text = json.dumps(st, separators=(",", ":")).encode()
            return RawJSON(text.replace(b"@BAD@", b"dom\xff1"))
        if shape == "longpaths":
            st = self.cluster()
            el = time.monotonic() - self.t0
            # events differ per domain: one merged series would go up and down
            st["doms_dict"] = {k: {"name": "d%d" % i, "events": int(el * 100 * (i + 1)),
                                   "pressure": float(i)} for i, k in enumerate(LONG_KEYS)}
            st["dot.ted"] = 1
            st["dot"] = {"ted": 2}
            return st
        if shape == "many-doms":
            return self.many
        return self.cluster()


LONG_KEYS = ["k" * 299 + "A", "k" * 299 + "B", "L" * 1500]


class RawJSON:
    """JSON text sent as it is (bytes), for what json.dumps cannot write."""

    def __init__(self, text):
        self.text = text


def dup_meta_text(args):
    """stats_meta with a field name repeated (see the shapes in the docstring)."""
    rep = args.dup_repeat
    structs = []
    if args.shape == "dup-deep":
        for i in range(args.dup_depth):
            nxt = "S%d" % (i + 1) if i + 1 < args.dup_depth else "B"
            field = '"n":{"datum":{"struct":"%s"}}' % nxt
            top = '"top":"true",' if i == 0 else ""
            structs.append('"S%d":{"name":"S%d",%s"fields":{%s}}'
                           % (i, i, top, ",".join([field] * rep)))
    else:
        field = '"b":{"datum":{"struct":"B"}}'
        structs.append('"T":{"name":"T","top":"true","fields":{%s}}'
                       % ",".join([field] * rep))
    structs.append('"B":{"name":"B","fields":{"x":{"datum":"u64"},"v":{"array":"u64"}}}')
    return RawJSON(("{%s}" % ",".join(structs)).encode())


def dup_stats_text(args):
    if args.shape == "dup-deep":
        inner = '{"x":1,"v":[1,2,3]}'
        for _ in range(args.dup_depth):
            inner = '{"n":%s}' % inner
        return RawJSON(inner.encode())
    return RawJSON(('{"b":{"x":1,"v":[%s]}}' % ",".join(["0"] * 6000)).encode())


class Conn:
    """Per-connection state: layered stats are deltas since this connection's last read."""

    def __init__(self, st):
        self.st = st
        self.last = time.monotonic()

    def layered(self):
        now = time.monotonic()
        period = max(now - self.last, 1e-3)
        self.last = now
        layers = {}
        tot = 0
        for name, idx, util in LAYERS:
            events = int(period * 1000 * (idx + 1))
            tot += events
            layers[name] = {
                "index": idx, "util": util, "util_frac": round(util / 305.0 * 100, 2),
                "tasks": 10 * (idx + 1), "total": events,
                "sel_local": 30.0 + idx, "enq_wakeup": 50.0 - idx, "preempt": 1.5 * idx,
                "migration": 4.0 + idx, "xllc_migration": 0.5 * idx, "affn_viol": 0.0,
                "keep": 12.0, "cur_nr_cpus": 2 + idx, "min_nr_cpus": 1, "max_nr_cpus": 2 + 3 * idx,
                "slice_us": 20000, "cpus": [(1 << (2 + idx)) - 1], "llc_lats": [0.0001 * (idx + 1)],
            }
        return {"at": time.time(), "nr_nodes": 1, "total": tot, "local_sel": 33.3,
                "busy": 62.5, "util": 305.0, "antistall": 0, "proc_ms": int(period * 3),
                "layers": layers}

    def handle(self, line):
        st = self.st
        try:
            req = json.loads(line)
            if not isinstance(req, dict) or not isinstance(req.get("req"), str):
                raise ValueError("not a request object")
            args = req.get("args") or {}
        except ValueError as e:
            return {"errno": EINVAL, "args": {"resp": f"Error(bad request: {e})"}}
        if st.args.mode == "errno":
            return {"errno": errno.EIO, "args": {"resp": "Error(the stats thread is gone)"}}
        if req["req"] == "stats_meta":
            return {"errno": 0, "args": {"resp": st.meta()}}
        if req["req"] == "stats":
            target = args.get("target", "top")
            if target == "top":
                return {"errno": 0, "args": {"resp": st.top(self)}}
            if target == "sched_samples" and st.args.shape == "cluster":
                return {"errno": 0, "args": {"resp": {"samples": [1, 2, 3]}}}
            return {"errno": EINVAL,
                    "args": {"resp": f"unknown stat target {json.dumps(req)}"}}
        return {"errno": EINVAL, "args": {"resp": f"unknown command {req['req']!r}"}}


def encode(reply):
    """One reply line; a RawJSON resp goes in as the bytes it holds."""
    resp = reply["args"]["resp"]
    if not isinstance(resp, RawJSON):
        return (json.dumps(reply, separators=(",", ":")) + "\n").encode()
    return b'{"errno":%d,"args":{"resp":%s}}\n' % (reply["errno"], resp.text)


def serve_conn(st, sock):
    c = Conn(st)
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with st.lock:
                    st.requests += 1
                mode = st.args.mode
                if mode == "silent":
                    continue
                if mode == "slow":
                    time.sleep(st.args.delay_ms / 1000.0)
                if mode == "garbage":
                    sock.sendall(b"this is not json\n")
                    continue
                if mode == "oversize" and b'"stats_meta"' not in line:
                    n = st.args.oversize_bytes
                    blob = b'{"errno":0,"args":{"resp":{"pad":"' + b"x" * n + b'"}}}\n'
                    sock.sendall(blob)
                    continue
                out = encode(c.handle(line.decode("utf-8", "replace")))
                if mode == "close-mid" and b'"stats_meta"' not in line:
                    sock.sendall(out[:len(out) // 2])
                    sock.shutdown(socket.SHUT_RDWR)
                    return
                sock.sendall(out)
    except OSError:
        return
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--shape", default="cluster",
                    choices=["cluster", "layered", "wide", "dup-deep", "dup-wide", "badutf8",
                             "longpaths", "many-doms"])
    ap.add_argument("--dup-repeat", type=int, default=None)
    ap.add_argument("--dup-depth", type=int, default=20)
    ap.add_argument("--mode", default="normal",
                    choices=["normal", "slow", "silent", "close-mid", "oversize", "garbage",
                             "noaccept", "errno"])
    ap.add_argument("--delay-ms", type=int, default=500)
    ap.add_argument("--oversize-bytes", type=int, default=2 << 20)
    ap.add_argument("--name", default="test cluster")
    ap.add_argument("--domains", type=int, default=None)
    args = ap.parse_args()
    if args.domains is None:
        args.domains = 250000 if args.shape == "many-doms" else 2
    if args.dup_repeat is None:
        args.dup_repeat = 1000 if args.shape == "dup-wide" else 8
    if args.shape == "wide":
        args.shape = "cluster"
        args.domains = max(args.domains, 3000)
    try:
        os.unlink(args.path)
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(args.path)), exist_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.path)
    srv.listen(1 if args.mode == "noaccept" else 16)
    st = State(args)
    print("ready", flush=True)
    if args.mode == "noaccept":
        while True:
            time.sleep(3600)
    while True:
        sock, _ = srv.accept()
        st.connections += 1
        threading.Thread(target=serve_conn, args=(st, sock), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
