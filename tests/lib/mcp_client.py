"""Minimal MCP stdio client for schedmcp's tests.

Spawns the daemon, speaks newline-delimited JSON-RPC, and keeps every message
the server sent (responses, notifications, server->client requests) so a test
can assert on them. Standard library only.
"""
import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("SMCP_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def daemon_path():
    return os.environ.get("SMCP_DAEMON", os.path.join(BUILD, "core", "schedmcp"))


def plugin_dir():
    return os.environ.get("SMCP_PLUGIN_DIR", os.path.join(BUILD, "plugins"))


NOBODY = 65534


@contextlib.contextmanager
def unprivileged(uid=NOBODY, drop_caps=True, extra=()):
    """Daemons started inside this block run as uid (nobody) with no
    capabilities (drop_caps), from copies of the daemon, of the build's
    plugins and of the extra files, in a fresh 0755 directory under /tmp:
    the build tree may sit in a home only root can enter (issue 20), and a
    test that drops privileges must not depend on where it was cloned.
    Yields the copy's directory (extra files are at its top, by base name),
    or None when not root or setpriv is missing (run unprivileged as is)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or not setpriv:
        yield None
        return
    saved = {k: os.environ.get(k) for k in ("SMCP_DAEMON", "SMCP_PLUGIN_DIR")}
    tmp = tempfile.mkdtemp(prefix="smcp-unpriv-")
    try:
        os.chmod(tmp, 0o755)
        exe = os.path.join(tmp, "schedmcp")
        shutil.copy(daemon_path(), exe)
        plugins = os.path.join(tmp, "plugins")
        os.mkdir(plugins, 0o755)
        for name in sorted(os.listdir(plugin_dir())):
            so = os.path.join(plugin_dir(), name, name + ".so")
            if os.path.isfile(so):
                shutil.copy(so, os.path.join(plugins, name + ".so"))
        for f in extra:
            shutil.copy(f, os.path.join(tmp, os.path.basename(f)))
        for d, _, files in os.walk(tmp):
            for f in files:
                os.chmod(os.path.join(d, f), 0o755)
        wrapper = os.path.join(tmp, "run-as-%d" % uid)
        caps = "--inh-caps=-all --bounding-set=-all " if drop_caps else ""
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec {setpriv} --reuid={uid} --regid={uid} --clear-groups "
                    f"{caps}{exe} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        os.environ["SMCP_DAEMON"] = wrapper
        os.environ["SMCP_PLUGIN_DIR"] = plugins
        yield tmp
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def via_service():
    """SMCP_VIA_SERVICE=1: every Client talks to a service (schedmcp serve,
    started with the client's arguments) through the stdio bridge, as an
    MCP client does once a service runs (issue 13)."""
    return os.environ.get("SMCP_VIA_SERVICE") == "1"


def wait_socket(path, proc, timeout=30.0):
    """Until a service on path answers a ping (it listens before its
    plugins are up, and answers once they are), or proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.connect(path)
            s.sendall(b'{"jsonrpc":"2.0","id":"up","method":"ping"}\n')
            if b'"result"' in s.recv(4096):
                return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return False


class Client:
    def __init__(self, args=None, env=None, plugin_dir_=None, stderr=None, initialize=True,
                 protocol="2025-11-25", capabilities=None):
        # exactly this directory's plugins: the stock directory is searched
        # after every --plugin-dir unless told not to
        cmd = [daemon_path(), "--plugin-dir", plugin_dir_ or plugin_dir(),
               "--no-default-plugins"] + list(args or [])
        self.service = None
        if via_service():
            self.service_dir = tempfile.mkdtemp(prefix="smcp-svc-")
            sock = os.path.join(self.service_dir, "run", "mcp.sock")
            self.service = subprocess.Popen([daemon_path(), "serve", "--socket", sock,
                                             "--state-dir",
                                             os.path.join(self.service_dir, "state")] + cmd[1:],
                                            stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL,
                                            stderr=stderr if stderr is not None else None,
                                            env=env)
            if not wait_socket(sock, self.service):
                raise TimeoutError("the service did not start listening")
            cmd = [daemon_path(), "--socket", sock]
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

    def send_raw_in_thread(self, data: bytes):
        """Write a large block from a thread, so that the caller can read
        meanwhile (the daemon may answer while it is still reading).
        Returns (the thread, a list that receives the write's exception: a
        broken pipe there is the daemon dying)."""
        err = []

        def run():
            try:
                self.send_raw(data)
            except Exception as e:
                err.append(e)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, err

    def answers(self, want, timeout):
        """The answers (result or error) to the request ids in want, read
        until each came or timeout seconds passed: ({id: answer}, [the ids
        answered more than once])."""
        want = set(want)
        seen, dups = {}, []
        deadline = time.monotonic() + timeout
        while len(seen) < len(want) and time.monotonic() < deadline:
            m = self.recv(max(0.05, deadline - time.monotonic()))
            if m is None:
                break
            if "id" in m and ("result" in m or "error" in m) and m["id"] in want:
                if m["id"] in seen:
                    dups.append(m["id"])
                seen[m["id"]] = m
        return seen, dups

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

    def input_fd(self):
        """The fd the server's lines arrive on."""
        return self.proc.stdout.fileno()

    def recv_line(self, timeout=10.0):
        """Next raw line from the server (without its newline), or None on
        timeout/EOF."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.input_fd()], [], [], left)
            if not r:
                return None
            chunk = os.read(self.input_fd(), 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def drain(self, quiet=0.3, timeout=10.0):
        """Read until nothing arrives for `quiet` seconds; return what came."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(quiet)
            if m is None:
                break
            got.append(m)
        return got

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

    def call_tool(self, name, arguments=None, meta=None, **kw):
        params = {"name": name, "arguments": arguments or {}}
        if meta:
            params["_meta"] = meta
        return self.request("tools/call", params, **kw)

    def tool(self, name, arguments=None, timeout=30.0, meta=None):
        """A tool's result (a failed call included, isError set); a
        protocol error raises RuntimeError."""
        r = self.call_tool(name, arguments, meta=meta, timeout=timeout)
        if "error" in r:
            raise RuntimeError(f"{name}: protocol error {r['error']}")
        return r["result"]

    def structured(self, name, arguments=None, timeout=30.0):
        """A tool's structuredContent; a failed call raises RuntimeError
        with the tool's text (as does a protocol error)."""
        r = self.tool(name, arguments, timeout)
        if r.get("isError"):
            raise RuntimeError(f"{name}({arguments}) failed: {r['content'][0]['text']}")
        return r["structuredContent"]

    def get_prompt(self, name, arguments=None, **kw):
        params = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        return self.request("prompts/get", params, **kw)

    def read(self, uri, **kw):
        return self.request("resources/read", {"uri": uri}, **kw)

    def read_json(self, uri):
        r = self.read(uri)
        if "error" in r:
            raise RuntimeError(f"read {uri}: {r['error']}")
        return json.loads(r["result"]["contents"][0]["text"])

    def plugin_state(self, name):
        """name's row in schedmcp://plugins (state, reason, tools...), or
        None when the daemon does not list it."""
        rows = [p for p in self.read_json("schedmcp://plugins")["plugins"] if p["name"] == name]
        return rows[0] if rows else None

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
        finally:
            self.stop_service()

    def stop_service(self):
        if self.service is None:
            return
        if self.service.poll() is None:
            self.service.terminate()
            try:
                self.service.wait(10)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait()
        shutil.rmtree(self.service_dir, ignore_errors=True)
        self.service = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.close()
        self.stop_service()


class SocketClient(Client):
    """An MCP session straight on a service's socket at path (schedmcp
    serve), initialized unless told not to. Closing it closes the socket:
    the service is not this client's to stop."""

    def __init__(self, path, initialize=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.messages = []
        self.next_id = 1
        self.proc = None
        self.service = None
        self.init_result = self.initialize() if initialize else None

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def input_fd(self):
        return self.sock.fileno()

    def close(self, timeout=0):
        self.sock.close()

    def __exit__(self, *exc):
        self.close()
