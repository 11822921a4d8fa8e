"""Minimal MCP stdio client for schedmcp's tests.

Spawns the daemon, speaks newline-delimited JSON-RPC, and keeps every message
the server sent (responses, notifications, server->client requests) so a test
can assert on them. Standard library only.
"""
import json
import os
import select
import subprocess
import time

BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def daemon_path():
    return os.environ.get("SMCP_DAEMON", os.path.join(BUILD, "core", "schedmcp"))


def plugin_dir():
    return os.environ.get("SMCP_PLUGIN_DIR", os.path.join(BUILD, "plugins"))


class Client:
    def __init__(self, args=None, env=None, plugin_dir_=None, stderr=None, initialize=True,
                 protocol="2025-11-25", capabilities=None):
        cmd = [daemon_path(), "--plugin-dir", plugin_dir_ or plugin_dir()] + list(args or [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr if stderr is not None else subprocess.PIPE,
                                     env=env)
        self.buf = b""
        self.messages = []  # everything received, in order
        self.next_id = 1
        self.init_result = None
        if initialize:
            self.init_result = self.initialize(protocol, capabilities or {})

    # -- raw I/O -----------------------------------------------------------
    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout=10.0):
        """Next message from the server, or None on timeout/EOF."""
        line = self.recv_line(timeout)
        if line is None:
            return None
        msg = self.parse(line)
        self.messages.append(msg)
        return msg

    def parse(self, line: bytes):
        return json.loads(line)

    def recv_line(self, timeout=10.0):
        """Next raw line from the server (without its newline), or None on
        timeout/EOF."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    # -- requests ----------------------------------------------------------
    def request(self, method, params=None, id_=None, timeout=10.0, on_message=None):
        """Send a request and return its response; other messages are kept
        in self.messages (and passed to on_message)."""
        if id_ is None:
            id_ = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.wait_response(id_, timeout, on_message)

    def wait_response(self, id_, timeout=10.0, on_message=None):
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                raise TimeoutError(f"no response to id {id_!r}")
            if on_message:
                on_message(m)
            if "id" in m and m.get("id") == id_ and type(m.get("id")) is type(id_) \
                    and ("result" in m or "error" in m):
                return m

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def initialize(self, protocol="2025-11-25", capabilities=None, timeout=10.0):
        r = self.request("initialize", {"protocolVersion": protocol,
                                        "capabilities": capabilities or {},
                                        "clientInfo": {"name": "schedmcp-tests", "version": "1"}},
                         timeout=timeout)
        self.notify("notifications/initialized")
        return r

    def call_tool(self, name, arguments=None, **kw):
        return self.request("tools/call", {"name": name, "arguments": arguments or {}}, **kw)

    def read(self, uri, **kw):
        return self.request("resources/read", {"uri": uri}, **kw)

    def read_json(self, uri):
        r = self.read(uri)
        if "error" in r:
            raise RuntimeError(f"read {uri}: {r['error']}")
        return json.loads(r["result"]["contents"][0]["text"])

    def close(self, timeout=10.0):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.close()
