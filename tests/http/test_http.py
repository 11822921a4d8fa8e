#!/usr/bin/env python3
"""The service's Streamable HTTP transport (issue 14), what the conformance
suite cannot check because it sends no token and never misbehaves:

- 401 with WWW-Authenticate: Bearer without a token or with a wrong one;
  a token file others can read is refused at start; no token, path or
  header value reaches the log (at debug level);
- 403 for a foreign Origin or (loopback listener) a foreign Host;
- 413 for a body over http_max_body_bytes, 431 (or a closed connection)
  for headers over http_max_header_bytes;
- the per-address connection limit; a slowloris client dropped after
  http_request_timeout_s;
- DELETE ends the session (404 after it);
- an SSE answer lost mid-way is resumed with Last-Event-ID, replaying what
  was sent before the cut and what came after it;
- an unsupported MCP-Protocol-Version gets 400;
- http_auth = none is refused on a non-loopback address;
- TLS: HTTPS with a self-signed certificate, plain HTTP refused on its port;
- a client that never reads its GET stream: its notifications dropped and
  counted, memory bounded, another session's pings fast.

argv: conformance_fixture.so (its paced tools give SSE answers), itest.so
(its itest_log floods a slow client), then test names to run only those.
"""
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from smcp_test import (Checker, ServiceDir, Skip, daemon_path, free_port,  # noqa: E402
                        plugin_dir, rss_kb, rss_limit_kb, wait_log)

T = Checker("http")
FIXTURE = next((a for a in sys.argv[1:] if a.endswith("conformance_fixture.so")), None)
ITEST = next((a for a in sys.argv[1:] if a.endswith("itest.so")), None)
TOKEN = "tk-" + secrets.token_hex(16)


class Service(ServiceDir):
    """schedmcp serve with HTTP on a free loopback port, stderr in a file."""

    def __init__(self, sets=(), token=True, token_mode=0o600, wait=True, plugins=None):
        super().__init__("smcp-http-")
        self.port = free_port()
        args = ["--set", f"core.http_port={self.port}"]
        if token:
            tf = os.path.join(self.dir, "token")
            with open(tf, "w") as f:
                f.write("# the service's tokens\n" + TOKEN + "\n")
            os.chmod(tf, token_mode)
            args += ["--set", f"core.http_token_file={tf}"]
        for s in sets:
            args += ["--set", s]
        self.proc = subprocess.Popen(
            [daemon_path(), "serve", "--config", "/dev/null",
             "--socket", os.path.join(self.dir, "run", "mcp.sock"),
             "--state-dir", os.path.join(self.dir, "state"),
             "--plugin-dir", plugin_dir(plugins or [FIXTURE]), "--no-default-plugins",
             "--log-level", "debug"] + args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
        if wait:
            wait_log(self.proc, self.log, "serving MCP over HTTP")

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def post(self, body, session=None, token=TOKEN, headers=None, conn=None):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if token:
            h["Authorization"] = "Bearer " + token
        if session:
            h["Mcp-Session-Id"] = session
        h.update(headers or {})
        c = conn or self.conn()
        c.request("POST", "/mcp", body=json.dumps(body) if not isinstance(body, (bytes, str))
                  else body, headers=h)
        return c.getresponse()

    def initialize(self):
        r = self.post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                  "clientInfo": {"name": "test", "version": "1"}}})
        body = json.loads(r.read())
        sid = r.getheader("Mcp-Session-Id")
        T.check(r.status == 200 and "result" in body and sid, f"initialize: {r.status} {body}")
        r = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session=sid)
        r.read()
        T.eq(r.status, 202, "notifications/initialized accepted")
        return sid


def raw(port, data, wait=2.0):
    """Send bytes on a fresh connection; what came back before the close or
    the wait."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def sse_events(resp, n, timeout=10):
    """Read n SSE events (dicts of their fields) from an http.client
    response."""
    events, cur = [], {}
    deadline = time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        line = resp.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line == "":
            if cur:
                events.append(cur)
            cur = {}
        elif line.startswith(":"):
            continue
        else:
            k, _, v = line.partition(":")
            cur[k] = v[1:] if v.startswith(" ") else v
    return events


@T.case
def test_auth():
    with Service() as svc:
        for tok, what in ((None, "no token"), ("wrong-" + TOKEN[6:], "a wrong token"),
                          (TOKEN[:-1], "a prefix of the token"), (TOKEN + "x", "a longer one")):
            r = svc.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, token=tok)
            r.read()
            T.eq(r.status, 401, f"{what}: 401")
            T.check((r.getheader("WWW-Authenticate") or "").startswith("Bearer"),
                    f"{what}: WWW-Authenticate: Bearer")
        c = svc.conn()
        c.request("GET", "/mcp", headers={"Authorization": "Basic " + TOKEN})
        r = c.getresponse()
        r.read()
        T.eq(r.status, 401, "another scheme: 401")
        sid = svc.initialize()
        r = svc.post({"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=sid)
        T.eq((r.status, json.loads(r.read()).get("result")), (200, {}), "ping with the token")
        # what a client sent never reaches the log, even at debug level
        secret_path = "/secret-path-" + secrets.token_hex(4)
        c = svc.conn()
        c.request("GET", secret_path, headers={"Authorization": "Bearer " + TOKEN,
                                               "X-Secret": "hdr-" + TOKEN})
        r = c.getresponse()
        r.read()
        T.eq(r.status, 404, "another path: 404")
        log = svc.log()
        T.check(TOKEN[6:] not in log, "no token in the log")
        T.check(secret_path not in log and "hdr-" not in log, "no path or header in the log")


def start_refused(**kw):
    """A Service with a configuration it must refuse: its exit status (after
    at most 30 s) and its log."""
    svc = Service(wait=False, **kw)
    try:
        svc.proc.wait(30)
        return svc.proc.returncode, svc.log()
    finally:
        svc.close()


@T.case
def test_token_file_mode():
    rc, log = start_refused(token_mode=0o644)
    T.check(rc != 0, "a token file others can read: the service stops")
    T.check("mode 0600 or 0400" in log, "and says what to do")
    T.check(TOKEN[6:] not in log, "without printing the token")
    rc, log = start_refused(token=False)
    T.check(rc != 0 and "http_token_file is not set" in log,
            "no token file and auth on: refused with the reason")
    rc, log = start_refused(token=False,
                            sets=["core.http_auth=none", "core.http_address=0.0.0.0"])
    T.check(rc != 0 and "loopback address only" in log, "http_auth = none on 0.0.0.0: refused")


@T.case
def test_origin_and_host():
    with Service() as svc:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "1"}}}
        for hdr, what in (({"Origin": "http://evil.example.com"}, "a foreign Origin"),
                          ({"Origin": "null"}, "Origin null"),
                          ({"Origin": "http://localhost.evil.com"}, "a localhost-lookalike"),
                          ({"Host": "evil.example.com"}, "a foreign Host")):
            r = svc.post(init, headers=hdr)
            r.read()
            T.eq(r.status, 403, f"{what}: 403")
        r = svc.post(init, token=None, headers={"Origin": "http://evil.example.com"})
        r.read()
        T.eq(r.status, 403, "the Origin check comes before the token's")
        for origin in ("http://localhost:3000", "http://127.0.0.1", "https://[::1]:8443"):
            r = svc.post(init, headers={"Origin": origin})
            r.read()
            T.eq(r.status, 200, f"Origin {origin}: served")
    with Service(sets=["core.http_allowed_origins=https://app.example.com"]) as svc:
        r = svc.post(init, headers={"Origin": "https://app.example.com"})
        r.read()
        T.eq(r.status, 200, "an allowed Origin: served")


@T.case
def test_size_limits():
    with Service(sets=["core.http_max_body_bytes=4096", "core.http_max_header_bytes=4096"]) as svc:
        sid = svc.initialize()
        big = {"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"pad": "x" * 8000}}
        r = svc.post(big, session=sid)
        r.read()
        T.eq(r.status, 413, "a body over http_max_body_bytes: 413")
        # the same without Content-Length (chunked): refused once over
        req = (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
               + TOKEN.encode() + b"\r\nMcp-Session-Id: " + sid.encode()
               + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n")
        body = json.dumps(big).encode()
        out = raw(svc.port, req + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        T.check(out.startswith(b"HTTP/1.1 413"), f"chunked body over the limit: 413 ({out[:40]!r})")
        r = svc.post({"jsonrpc": "2.0", "id": 6, "method": "ping"}, session=sid,
                     headers={"X-Pad": "y" * 8000})
        try:
            r.read()
            status = r.status
        except (ConnectionError, http.client.HTTPException):
            status = "closed"
        T.check(status in (431, 413, 400, "closed"), f"headers over the limit: refused ({status})")
        r = svc.post({"jsonrpc": "2.0", "id": 7, "method": "ping"}, session=sid)
        T.eq((r.status, json.loads(r.read()).get("result")), (200, {}), "still serving")


@T.case
def test_connection_limits():
    with Service(sets=["core.http_max_connections_per_address=4",
                       "core.http_request_timeout_s=2"]) as svc:
        held = [socket.create_connection(("127.0.0.1", svc.port)) for _ in range(4)]
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", svc.port), timeout=3)
        extra.sendall(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            got = extra.recv(100)
        except ConnectionResetError:
            got = b""
        T.eq(got, b"", "a fifth connection from one address: closed at once")
        extra.close()
        # slowloris: a header line a second never makes a request
        t0 = time.monotonic()
        s = held[0]
        s.settimeout(0.5)
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed_at = None
        for i in range(12):
            try:
                s.sendall(b"X-Slow-%d: a\r\n" % i)
                if s.recv(100) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except OSError:
                closed_at = time.monotonic() - t0
                break
        T.check(closed_at is not None and closed_at < 4.5,
                f"a trickling request is dropped after http_request_timeout_s (at {closed_at})")
        T.check("no whole request within 2 s" in svc.log(), "and the drop is logged")
        for h in held:
            h.close()
        time.sleep(0.3)
        sid = svc.initialize()
        T.check(sid, "the address may connect again once its connections closed")


@T.case
def test_delete_and_version_header():
    with Service() as svc:
        sid = svc.initialize()
        r = svc.post({"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=sid,
                     headers={"MCP-Protocol-Version": "1999-01-01"})
        r.read()
        T.eq(r.status, 400, "an unsupported MCP-Protocol-Version: 400")
        r = svc.post({"jsonrpc": "2.0", "id": 3, "method": "ping"}, session=sid,
                     headers={"MCP-Protocol-Version": "2025-06-18"})
        r.read()
        T.eq(r.status, 200, "a supported one: served")
        r = svc.post({"jsonrpc": "2.0", "id": 4, "method": "ping"})
        r.read()
        T.eq(r.status, 400, "no Mcp-Session-Id (not initialize): 400")
        r = svc.post({"jsonrpc": "2.0", "id": 4, "method": "ping"}, session="0" * 32)
        r.read()
        T.eq(r.status, 404, "an unknown session: 404")
        c = svc.conn()
        c.request("DELETE", "/mcp", headers={"Authorization": "Bearer " + TOKEN,
                                             "Mcp-Session-Id": sid})
        r = c.getresponse()
        r.read()
        T.check(200 <= r.status < 300, f"DELETE: {r.status}")
        r = svc.post({"jsonrpc": "2.0", "id": 5, "method": "ping"}, session=sid)
        r.read()
        T.eq(r.status, 404, "the deleted session: 404")
        T.check("opened from 127.0.0.1" in svc.log() and "closed" in svc.log(),
                "its start (with the client's address) and end are logged")


@T.case
def test_last_event_id_replay():
    with Service() as svc:
        sid = svc.initialize()
        call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": "test_tool_with_progress", "arguments": {},
                           "_meta": {"progressToken": "p1"}}}
        c = svc.conn()
        r = svc.post(call, session=sid, conn=c)
        T.eq(r.getheader("Content-Type"), "text/event-stream", "progress makes the answer SSE")
        ev = sse_events(r, 2)
        T.check(len(ev) == 2 and ev[0].get("data") == "" and "retry" in ev[0],
                f"a priming event first (id, retry, no data): {ev[:1]}")
        first = json.loads(ev[1]["data"]) if len(ev) == 2 else {}
        T.eq(first.get("method"), "notifications/progress", "then progress")
        # the client loses the stream after the priming event and one progress
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        time.sleep(0.5)  # the tool goes on meanwhile: its answer waits in the stream
        c = svc.conn()
        c.request("GET", "/mcp", headers={"Authorization": "Bearer " + TOKEN,
                                          "Mcp-Session-Id": sid, "Accept": "text/event-stream",
                                          "Last-Event-ID": ev[0]["id"]})
        r = c.getresponse()
        T.eq(r.status, 200, "GET with Last-Event-ID")
        got = []
        for e in sse_events(r, 10, timeout=5):
            if e.get("data"):
                got.append(json.loads(e["data"]))
                if got[-1].get("id") == 9:
                    break
        T.check(got and got[0] == first, "what it had seen after the id is sent again")
        prog = [m["params"]["progress"] for m in got if m.get("method") == "notifications/progress"]
        T.eq(prog, [0, 50, 100], "every progress, none twice")
        T.check(got and got[-1].get("id") == 9 and "result" in got[-1],
                "and the answer that came while it was away")
        # a second resume of the finished stream finds nothing to replay
        c.close()


@T.case
def test_pending_answers_in_time():
    """A call answered later (a paced tool: 150 ms) comes back when it is
    done, as JSON or as SSE, not at the next 1 s tick."""
    with Service() as svc:
        sid = svc.initialize()
        for accept, tool in (("application/json", "test_tool_with_logging"),
                             ("application/json, text/event-stream", "test_tool_with_progress")):
            t0 = time.monotonic()
            r = svc.post({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": tool, "arguments": {},
                                     "_meta": {"progressToken": "t"}}},
                         session=sid, headers={"Accept": accept})
            body = r.read()
            took = time.monotonic() - t0
            T.check(b'"result"' in body and took < 0.6,
                    f"{tool} ({r.getheader('Content-Type')}): answered in {took:.3f} s")


@T.case
def test_slow_client():
    """A client whose GET stream is never read: its notifications are
    dropped past half of max_output_queue_bytes (counted in its session),
    the service's memory stays put, and another session's pings stay
    fast meanwhile."""
    if not ITEST:
        raise Skip("no itest.so given (its itest_log makes the flood)")
    with Service(sets=["core.max_output_queue_bytes=65536"], plugins=[FIXTURE, ITEST]) as svc:
        def get_stream(sid, rcvbuf=None):
            s = socket.socket()
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.connect(("127.0.0.1", svc.port))
            s.sendall(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                      b"Authorization: Bearer " + TOKEN.encode() + b"\r\nMcp-Session-Id: "
                      + sid.encode() + b"\r\n\r\n")
            return s

        def dropped(sid):
            r = svc.post({"jsonrpc": "2.0", "id": "st", "method": "resources/read",
                          "params": {"uri": "schedmcp://plugins"}}, session=sid,
                         headers={"Accept": "application/json"})
            doc = json.loads(json.loads(r.read())["result"]["contents"][0]["text"])
            return doc["session"]["notifications_dropped"]

        sids = {}
        for who in ("slow", "reader"):
            sids[who] = svc.initialize()
            svc.post({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel",
                      "params": {"level": "debug"}}, session=sids[who]).read()
        slow = get_stream(sids["slow"], rcvbuf=4096)
        reader = get_stream(sids["reader"])
        got = [0]

        def read_all():
            try:
                while True:
                    chunk = reader.recv(1 << 16)
                    if not chunk:
                        return
                    got[0] += len(chunk)
            except OSError:
                return
        th = threading.Thread(target=read_all, daemon=True)
        th.start()
        time.sleep(0.2)
        rss0 = rss_kb(svc.proc.pid)
        fast = svc.initialize()
        c = svc.conn()
        lat = []
        # 250 bursts of 80 log lines of 200 characters (7 MB in all), each
        # under half the queue, the loop free between them: a client that
        # reads gets them all; one that does not fills its socket, then its
        # queue, then loses them
        for n in range(250):
            svc.post({"jsonrpc": "2.0", "id": f"f{n}", "method": "tools/call",
                      "params": {"name": "itest_log", "arguments": {
                          "level": "info", "count": 80, "message": "x" * 200}}},
                     session=fast, headers={"Accept": "application/json"}, conn=c).read()
            t0 = time.monotonic()
            svc.post({"jsonrpc": "2.0", "id": f"p{n}", "method": "ping"}, session=fast,
                     conn=c).read()
            lat.append(time.monotonic() - t0)
        time.sleep(0.5)
        d_slow, d_reader = dropped(sids["slow"]), dropped(sids["reader"])
        T.check(d_slow > 1000, f"the slow session's notifications are dropped: {d_slow}")
        T.check(d_reader < d_slow / 10, f"the reading session's are not: {d_reader}, "
                f"{got[0] >> 20} MiB read")
        lat.sort()
        p99 = lat[int(len(lat) * 0.99) - 1]
        T.check(p99 < 0.05, f"the other session's ping p99 stays low: {p99 * 1000:.1f} ms")
        grew = rss_kb(svc.proc.pid) - rss0
        T.check(grew < rss_limit_kb(16384), f"the service's RSS grew {grew} KiB (7 MB of log "
                f"lines, a 64 KiB queue)")
        print(f"  slow client: {d_slow} notifications dropped (the reader's: {d_reader}), "
              f"ping p99 {p99 * 1000:.2f} ms, RSS +{grew} KiB")
        # the slow client reads at last: what it gets and what was dropped
        # are every line, each counted once
        slow.settimeout(1.0)
        data = b""
        try:
            while True:
                chunk = slow.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        lines = dechunk(data).count(b'"data":"' + b"x" * 200)
        T.eq(lines + dropped(sids["slow"]), 250 * 80,
             f"lines read ({lines}) and dropped: all 20000, none counted twice")
        slow.close()
        reader.close()


def dechunk(raw):
    """The body of a chunked HTTP/1.1 response read raw from its socket."""
    body, _, rest = raw.partition(b"\r\n\r\n")
    out = []
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        try:
            n = int(size.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out.append(rest[:n])
        rest = rest[n + 2:]
    return b"".join(out)


@T.case
def test_tls():
    openssl = shutil.which("openssl")
    if not openssl:
        raise Skip("openssl is not installed (it makes the test certificate)")
    d = tempfile.mkdtemp(prefix="smcp-tls-")
    try:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        os.chmod(key, 0o600)
        with Service(sets=[f"core.http_tls_cert={cert}", f"core.http_tls_key={key}"]) as svc:
            T.check("serving MCP over HTTPS" in svc.log(), "the start-up line says HTTPS")
            ctx = ssl.create_default_context(cafile=cert)
            c = http.client.HTTPSConnection("127.0.0.1", svc.port, timeout=10, context=ctx)
            r = svc.post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                          "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                     "clientInfo": {"name": "t", "version": "1"}}}, conn=c)
            T.check(r.status == 200 and "result" in json.loads(r.read()),
                    "initialize over TLS, the certificate verified")
            c = svc.conn()
            try:
                c.request("GET", "/mcp")
                c.getresponse().read()
                plain = "answered"
            except (ConnectionError, http.client.HTTPException, OSError):
                plain = "refused"
            T.eq(plain, "refused", "plain HTTP on the TLS port")
        rc, log = start_refused(sets=[f"core.http_tls_cert={cert}"])
        T.check(rc != 0 and "both http_tls_cert and http_tls_key" in log,
                "a certificate without its key: refused at start")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if not FIXTURE:
        print("usage: test_http.py conformance_fixture.so", file=sys.stderr)
        sys.exit(2)
    out = subprocess.run(["ldd", daemon_path()], capture_output=True, text=True).stdout
    if "libmicrohttpd" not in out:
        print("SKIP: this schedmcp has no HTTP transport", file=sys.stderr)
        sys.exit(77)
    sys.exit(T.run([a for a in sys.argv[1:] if not a.endswith(".so")] or None))
